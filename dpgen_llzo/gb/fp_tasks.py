"""Write carved cells as DP-GEN first-principles task directories.

DP-GEN's fp step works on ``iter.NNNNNN/02.fp/task.SSS.FFFFFF/`` directories (``SSS`` the
system index in ``sys_configs``, ``FFFFFF`` a counter; :func:`dpgen.generator.run.make_fp_task_name`)
that hold a ``POSCAR``; the fp-style code then adds its inputs (INCAR/POTCAR/KPOINTS for VASP,
the teacher's input for the embedded default) and ``post_fp`` collects the labels with dpdata
into ``data.SSS`` (a ``MultiSystems``, so carved cells of different sizes are fine).

Each task written here holds:

``POSCAR``
    The carved cell, species in ``type_map`` order.
``atom_pref.npy``
    Per-atom environment overlap with the parent (:class:`~.carving.CarveInfo.atom_pref`);
    DeePMD reads it only when the loss uses ``start_pref_pf``/``limit_pref_pf``.
``carve.json``
    Provenance: parent frame, centre, radius, mode, removed ions, parent index of every atom.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpgen_llzo.errors import UserInputError

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from dpgen_llzo.gb.carving import CarveInfo

DEFAULT_TYPE_MAP: tuple[str, ...] = ("Li", "La", "Zr", "O")
_TASK = re.compile(r"^task\.(\d{3,})\.(\d{6,})$")


def fp_task_name(system_index: int, counter: int) -> str:
    """``task.SSS.FFFFFF``, DP-GEN's fp task name (``"task." + "%03d.%06d"``)."""
    return f"task.{system_index:03d}.{counter:06d}"


def next_task_counter(fp_dir: str | os.PathLike, system_index: int) -> int:
    """First counter after the existing ``task.SSS.*`` directories of ``system_index``."""
    fp_dir = Path(fp_dir)
    used = [
        int(m.group(2))
        for p in (fp_dir.iterdir() if fp_dir.is_dir() else [])
        if (m := _TASK.match(p.name)) and int(m.group(1)) == system_index
    ]
    return max(used, default=-1) + 1


def _ordered(structure: Structure, type_map: Sequence[str]) -> tuple[Structure, list[int]]:
    """Sites sorted by ``type_map`` (stable), so the POSCAR species line follows it."""
    symbols = [site.specie.symbol for site in structure]
    unknown = sorted(set(symbols) - set(type_map))
    if unknown:
        raise UserInputError(f"element {unknown[0]} is not in the type map {','.join(type_map)}")
    order = sorted(range(len(structure)), key=lambda i: type_map.index(symbols[i]))
    from pymatgen.core import Structure

    return Structure.from_sites([structure[i] for i in order]), order


def write_fp_tasks(
    cells: Sequence[tuple[Structure, CarveInfo]],
    fp_dir: str | os.PathLike,
    system_index: int,
    start: int | None = None,
    *,
    type_map: Sequence[str] = DEFAULT_TYPE_MAP,
    source: dict[str, Any] | None = None,
) -> list[Path]:
    """Write one DP-GEN fp task per carved cell.

    Parameters
    ----------
    cells
        ``(structure, info)`` pairs from :func:`~.carving.carve_environment`.
    fp_dir
        The ``02.fp`` directory (created if missing).
    system_index
        DP-GEN system index ``SSS`` of the parent GB system.
    start
        First counter; None continues after the existing tasks of ``system_index``.
    type_map
        Element order of the POSCAR species line (DP-GEN's ``type_map``).
    source
        Extra provenance stored in every ``carve.json`` (e.g. the trajectory and step).

    Returns
    -------
    list of Path
        The task directories, in the order of ``cells``.

    Raises
    ------
    UserInputError
        A task directory already exists, or an element is missing from ``type_map``.
    """
    from pymatgen.io.vasp import Poscar

    fp_dir = Path(fp_dir)
    fp_dir.mkdir(parents=True, exist_ok=True)
    counter = next_task_counter(fp_dir, system_index) if start is None else int(start)
    written: list[Path] = []
    for offset, (structure, info) in enumerate(cells):
        task = fp_dir / fp_task_name(system_index, counter + offset)
        if task.exists():
            raise UserInputError(f"{task} already exists; refusing to overwrite an fp task")
        ordered, order = _ordered(structure, list(type_map))
        staging = Path(tempfile.mkdtemp(prefix=f".{task.name}.", dir=fp_dir))
        try:
            formula = ordered.composition.formula.replace(" ", "")
            (staging / "POSCAR").write_text(
                Poscar(
                    ordered,
                    comment=f"{formula} carved around parent atom {info.parent_centre_index}",
                ).get_str()
            )
            np.save(staging / "atom_pref.npy", np.asarray(info.atom_pref)[order])
            record = info.as_dict()
            record["parent_indices"] = np.asarray(info.parent_indices)[order].tolist()
            record["centre_index"] = order.index(info.centre_index)
            record["source"] = source or {}
            (staging / "carve.json").write_text(json.dumps(record, indent=2) + "\n")
            os.chmod(staging, 0o755)
            os.rename(staging, task)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        written.append(task)
    return written
