"""Label dpdata systems with a registered labeler and write them as DeePMD training data."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers.base import (
    DEFAULT_MAX_FORCE_EV_A,
    FrameRejection,
    Labeler,
    LabelingFailure,
    screen_frame,
)

log = logging.getLogger(__name__)


def aligned_atom_types(atom_names: Sequence[str], atom_types: np.ndarray, type_map: Sequence[str]) -> np.ndarray:
    """Map a system's atom types onto the indices of ``type_map``.

    Raises
    ------
    UserInputError
        If the system holds an element that ``type_map`` lacks.
    """
    missing = [name for name, count in zip(atom_names, np.bincount(atom_types, minlength=len(atom_names))) if count and name not in type_map]
    if missing:
        raise UserInputError(f"elements {missing} are not in the type map {list(type_map)}")
    lookup = np.array([list(type_map).index(n) if n in type_map else -1 for n in atom_names])
    return lookup[np.asarray(atom_types)]


@dataclass(frozen=True)
class LabelledFrame:
    """One configuration with its reference labels.

    Attributes
    ----------
    cell
        Lattice vectors as rows, shape (3, 3), Å.
    positions
        Cartesian positions, shape (natoms, 3), Å.
    energy
        Total energy, eV.
    forces
        Atomic forces, shape (natoms, 3), eV/Å.
    virial
        Virial tensor (−V·stress), shape (3, 3), eV; ``None`` for non-periodic frames.
    """

    cell: np.ndarray
    positions: np.ndarray
    energy: float
    forces: np.ndarray
    virial: np.ndarray | None


def label_atoms(atoms) -> LabelledFrame:
    """Evaluate the calculator attached to ``atoms`` and return the labelled frame."""
    periodic = bool(np.all(atoms.pbc))
    return LabelledFrame(
        cell=np.array(atoms.get_cell()),
        positions=atoms.get_positions().copy(),
        energy=float(atoms.get_potential_energy()),
        forces=np.array(atoms.get_forces(), dtype=float),
        virial=-atoms.get_volume() * np.array(atoms.get_stress(voigt=False)) if periodic else None,
    )


def labelled_system(
    frames: Sequence[LabelledFrame],
    atom_types: np.ndarray,
    type_map: Sequence[str],
    max_force: float = DEFAULT_MAX_FORCE_EV_A,
):
    """Screen labelled frames and pack the sound ones into a ``dpdata.LabeledSystem``.

    Parameters
    ----------
    frames
        Frames of one system (same atoms in the same order).
    atom_types
        Index into ``type_map`` of every atom.
    type_map
        Element order of the output.
    max_force
        Frames with a force norm above this (eV/Å) or any non-finite label are rejected.

    Returns
    -------
    tuple
        ``(labeled, rejections)``; ``labeled`` is ``None`` when no frame passed.
    """
    import dpdata

    kept: list[LabelledFrame] = []
    rejections: list[FrameRejection] = []
    for index, frame in enumerate(frames):
        reason = screen_frame(frame.energy, frame.forces, frame.virial, max_force)
        if reason:
            rejections.append(FrameRejection(index, reason))
            log.warning("frame %d rejected: %s", index, reason)
        else:
            kept.append(frame)
    if not kept:
        return None, rejections
    atom_types = np.asarray(atom_types, dtype=int)
    nopbc = kept[0].virial is None
    data = {
        "atom_names": list(type_map),
        "atom_numbs": [int((atom_types == i).sum()) for i in range(len(type_map))],
        "atom_types": atom_types,
        "orig": np.zeros(3),
        "nopbc": nopbc,
        "cells": np.array([f.cell for f in kept], dtype=float),
        "coords": np.array([f.positions for f in kept], dtype=float),
        "energies": np.array([f.energy for f in kept], dtype=float),
        "forces": np.array([f.forces for f in kept], dtype=float),
    }
    if not nopbc:
        data["virials"] = np.array([f.virial for f in kept], dtype=float)
    return dpdata.LabeledSystem(data=data), rejections


def label_system(
    system,
    labeler: Labeler,
    type_map: Sequence[str],
    max_force: float = DEFAULT_MAX_FORCE_EV_A,
    progress: bool = True,
    min_distances: dict[str, float] | None = None,
):
    """Label every frame of a dpdata ``System`` with ``labeler``.

    A frame with a pair of atoms closer than its physical minimum
    (:func:`dpgen_llzo.short_range.closest_contact`) is rejected before the teacher sees it:
    universal potentials give meaningless, often attractive, forces there.

    Parameters
    ----------
    system
        ``dpdata.System`` (positions in Å, cells in Å).
    labeler
        The reference model.
    type_map
        Element order of the output (DeePMD type indices).
    max_force
        Frames with a force norm above this (eV/Å), or any non-finite label, are rejected.
    progress
        Show a tqdm bar for multi-frame systems.
    min_distances
        Per-pair overrides of the closest physical distance, Å (``{"Li-O": 1.0}``).

    Returns
    -------
    tuple
        ``(labeled, rejections)`` as :func:`labelled_system` returns them.
    """
    from ase import Atoms
    from tqdm import tqdm

    from dpgen_llzo.short_range import closest_contact

    atom_types = aligned_atom_types(system["atom_names"], system["atom_types"], type_map)
    symbols = [type_map[t] for t in atom_types]
    calculator = labeler.calculator()
    frames, labelled_indices, failures = [], [], []
    indices = range(system.get_nframes())
    for index in tqdm(indices, desc=f"labelling ({labeler.name})", disable=not progress or len(indices) < 2):
        cell = None if system.nopbc else system["cells"][index]
        contact = closest_contact(symbols, system["coords"][index], cell, min_distances)
        if contact:
            log.warning("frame %d not labelled: %s", index, contact)
            failures.append(FrameRejection(index, contact))
            continue
        atoms = Atoms(symbols=symbols, positions=system["coords"][index], cell=system["cells"][index], pbc=not system.nopbc)
        atoms.calc = calculator
        try:
            frames.append(label_atoms(atoms))
        except LabelingFailure as failure:
            log.warning("frame %d not labelled: %s", index, failure)
            failures.append(FrameRejection(index, str(failure)))
            continue
        labelled_indices.append(index)
    labeled, rejections = labelled_system(frames, atom_types, type_map, max_force) if frames else (None, [])
    # rejections count frames of the labelled list: give them their index in the input
    rejections = [FrameRejection(labelled_indices[r.frame_index], r.reason) for r in rejections]
    return labeled, sorted(failures + rejections, key=lambda r: r.frame_index)


def write_deepmd_npy(labeled, output: str | os.PathLike, set_size: int = 5000) -> Path:
    """Write a ``dpdata.LabeledSystem`` as ``deepmd/npy`` atomically.

    The data go to a temporary directory beside ``output`` which is then renamed, so a
    crash never leaves a half-written training system. ``type_map.raw`` is written too
    (DP-GEN reads ``fp_style: custom`` output without a type map). An existing ``output``
    is replaced.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        labeled.to("deepmd/npy", str(tmp), set_size=set_size)
        (tmp / "type_map.raw").write_text("\n".join(labeled["atom_names"]) + "\n")
        if output.exists():
            old = output.with_name(f".{output.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(output, old)
            os.replace(tmp, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output
