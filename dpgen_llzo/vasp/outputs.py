"""Reading VASP results with dpdata's ``vasp/outcar`` reader, the one DP-GEN's ``post_fp`` uses.

:func:`read_outcar` returns the ionic steps of an OUTCAR whose labels are complete (energy,
forces, virial), each with whether its electronic loop converged; :func:`outcar_failure` says
why an OUTCAR cannot be a label. The ``vasp`` labeler and the fp screen of ``dpgen-llzo run``
(:mod:`dpgen_llzo.loop.fp_faults`) both decide with it::

    from dpgen_llzo.vasp import outcar_failure, read_outcar
    problem = outcar_failure("OUTCAR")       # None, or e.g. "SCF not converged: ... NELM = 200"
    steps = read_outcar("OUTCAR")            # steps.energies[-1], steps.forces[-1], steps.virials[-1]

An OUTCAR is unusable when no ionic step finished (VASP crashed, was killed or did not start:
dpdata reads no step) or when the electronic loop of its last ionic step used all NELM steps.
That SCF decision is dpdata's (its ``convergence_check``): VASP goes on after NELM steps without
reaching EDIFF, and counting the steps is the test that holds for every VASP version. The
"aborting loop because EDIFF is reached" line is no test: VASP 5 prints it after NELM steps too
(``tests/data/vasp/OUTCAR.CH4.nelm``), and ASE's ``Vasp.read_convergence`` trusts it; pymatgen's
``Outcar`` keeps no electronic steps (its ``Vasprun`` does, but DP-GEN fetches OUTCAR).

The format's reader is called directly rather than through ``dpdata.LabeledSystem``, which
rotates every cell to lower-triangular form: DP-GEN does not mind (coordinates rotate too), but a
calculator must return forces and stress in the frame of the atoms it was given, and that is the
frame of the POSCAR, so of the OUTCAR.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Why an OUTCAR without a finished ionic step is unusable.
NO_IONIC_STEP = "OUTCAR has no complete ionic step (VASP crashed, was killed or did not start)"

_NELM = re.compile(r"NELM\s*=\s*(\d+)")  # the expression dpdata reads NELM with; here only for messages


class UnreadableOutcar(ValueError):
    """dpdata cannot read the file as an OUTCAR (no POTCAR names, ion counts or NELM): VASP did not get that far."""


@dataclass(frozen=True)
class OutcarSteps:
    """The ionic steps of one OUTCAR with complete labels, in the OUTCAR's atom order and frame.

    Attributes
    ----------
    symbols
        Element of every atom, in OUTCAR (= POSCAR) order.
    cells
        Lattice vectors as rows, shape (nsteps, 3, 3), Å, as VASP printed them (not rotated).
    coords
        Cartesian positions, shape (nsteps, natoms, 3), Å.
    energies
        Free energy (``free  energy   TOTEN``), shape (nsteps,), eV: what DP-GEN trains on.
    forces
        Shape (nsteps, natoms, 3), eV/Å.
    virials
        Stress times volume, shape (nsteps, 3, 3), eV (positive: the cell pushes outwards), or
        None when VASP computed no stress.
    converged
        Shape (nsteps,): the electronic loop of the step ended before NELM.
    nelm
        NELM of the run, or None if the OUTCAR does not echo it.
    """

    symbols: list[str]
    cells: np.ndarray
    coords: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    virials: np.ndarray | None
    converged: np.ndarray
    nelm: int | None

    def __len__(self) -> int:
        return len(self.energies)

    def stress(self, step: int = -1) -> np.ndarray | None:
        """The stress tensor of ``step`` in ASE's convention (eV/Å³, positive: tensile), i.e. −virial/volume."""
        if self.virials is None:
            return None
        return -self.virials[step] / abs(np.linalg.det(self.cells[step]))

    def failure(self) -> str | None:
        """Why these steps give no label (no step, or the last one stopped at NELM), or None."""
        if len(self) == 0:
            return NO_IONIC_STEP
        if not self.converged[-1]:
            nelm = f" = {self.nelm}" if self.nelm is not None else ""
            return f"SCF not converged: the electronic loop stopped at NELM{nelm}"
        return None


def _read_frames(path: Path, convergence_check: bool) -> dict:
    from dpdata.format import Format

    reader = Format.get_formats()["vasp/outcar"]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unconverged or interrupted steps: reported through OutcarSteps
        try:
            return reader.from_labeled_system(str(path), convergence_check=convergence_check)
        except OSError:
            raise
        except Exception as exc:  # dpdata asserts or raises ValueError/IndexError on a header it cannot read
            raise UnreadableOutcar(f"dpdata cannot read {path}: {exc or type(exc).__name__}") from None


def _nelm(path: Path) -> int | None:
    with open(path, errors="replace") as handle:
        for line in handle:
            match = _NELM.search(line)
            if match:
                return int(match.group(1))
    return None


def read_outcar(path: str | os.PathLike) -> OutcarSteps:
    """Every ionic step of ``path`` with complete labels, and which of them converged.

    dpdata reads the file twice, with and without its convergence check; a step is converged
    when it is among the frames the checked read keeps.

    Raises
    ------
    UnreadableOutcar
        dpdata cannot read the header (an empty or early-crashed OUTCAR).
    OSError
        The file cannot be opened.
    """
    path = Path(path)
    every = _read_frames(path, convergence_check=False)
    kept = _read_frames(path, convergence_check=True)
    energies, coords = np.asarray(every["energies"], dtype=float), np.asarray(every["coords"], dtype=float)
    converged = np.zeros(len(energies), dtype=bool)
    matched = 0
    for index in range(len(energies)):  # the checked read is the unchecked one with the unconverged steps left out
        if matched < len(kept["energies"]) and kept["energies"][matched] == energies[index] \
                and np.array_equal(kept["coords"][matched], coords[index]):
            converged[index] = True
            matched += 1
    if matched != len(kept["energies"]):
        raise RuntimeError(f"{path}: dpdata's checked and unchecked reads disagree")
    names = list(every["atom_names"])
    natoms = int(sum(every["atom_numbs"]))
    return OutcarSteps(
        symbols=[names[t] for t in every["atom_types"]],
        cells=np.asarray(every["cells"], dtype=float).reshape(-1, 3, 3),
        coords=coords.reshape(-1, natoms, 3),
        energies=energies,
        forces=np.asarray(every.get("forces", np.zeros((0, natoms, 3))), dtype=float).reshape(-1, natoms, 3),
        virials=np.asarray(every["virials"], dtype=float).reshape(-1, 3, 3) if "virials" in every else None,
        converged=converged,
        nelm=_nelm(path),
    )


def outcar_failure(path: str | os.PathLike) -> str | None:
    """Why the OUTCAR at ``path`` cannot be used as a label (see :meth:`OutcarSteps.failure`), or None."""
    try:
        steps = read_outcar(path)
    except UnreadableOutcar:
        return NO_IONIC_STEP
    return steps.failure()


__all__ = ["NO_IONIC_STEP", "OutcarSteps", "UnreadableOutcar", "outcar_failure", "read_outcar"]
