"""VASP single points as an ASE calculator, the engine of the ``vasp`` labeler.

:class:`VaspSinglePoint` writes POSCAR (atoms grouped by species, as VASP's species line needs),
INCAR and the POTCAR of those species, runs the VASP command, and reads the last ionic step of
OUTCAR with :func:`dpgen_llzo.vasp.outputs.read_outcar` (dpdata's reader). Forces come back in
the input atom order; the stress is VASP's, in ASE's sign convention (−virial/volume), so that
``-volume * stress`` is the virial dpdata and DP-GEN write.

A run whose OUTCAR is missing, has no finished ionic step, stopped its SCF at NELM or holds other
atoms than the POSCAR raises :class:`~dpgen_llzo.labelers.base.LabelingFailure`: the labelling
loop records the frame as rejected and goes on. So does a VASP that exits with an error after
writing an OUTCAR (it started on this frame and failed on it); one that exits with an error and
no OUTCAR (a wrong command, a missing library) stops the labelling with ASE's ``CalculationFailed``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from ase.calculators.calculator import CalculationFailed, FileIOCalculator

from dpgen_llzo.labelers.base import LabelingFailure
from dpgen_llzo.vasp.inputs import format_incar
from dpgen_llzo.vasp.outputs import NO_IONIC_STEP, UnreadableOutcar, outcar_failure, read_outcar
from dpgen_llzo.vasp.potcar import assemble_potcar

#: What a previous run may have left in the directory; removed before each run.
STALE_OUTPUTS = ("OUTCAR", "vasprun.xml", "OSZICAR")


def species_order(symbols: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Species in order of first appearance, and the permutation that groups atoms by species.

    VASP needs the atoms of one species together (the POSCAR species line); ``order`` sorts the
    atoms that way (stable), and ``np.argsort(order)`` puts results back in the input order.
    """
    species = list(dict.fromkeys(symbols))
    rank = {s: i for i, s in enumerate(species)}
    order = np.argsort([rank[s] for s in symbols], kind="stable")
    return species, order


class VaspSinglePoint(FileIOCalculator):
    """VASP single point in ``directory``.

    Parameters
    ----------
    command
        How to run VASP, e.g. ``mpirun -np 32 vasp_std`` (output goes to ``vasp.out``).
    potcar_dir
        PAW directory (``<dataset>/POTCAR`` or ``POTCAR.<dataset>`` files).
    incar
        INCAR tags, e.g. from :func:`dpgen_llzo.vasp.build_incar`.
    directory
        Where VASP runs.
    reasons
        INCAR comments (default: those of the input set).
    potcar_variants
        Element → PAW dataset (default: the production bundle's, Li_sv, La, Zr_sv, O).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]
    discard_results_on_any_change = True

    def __init__(self, command: str, potcar_dir: str | os.PathLike, incar: Mapping[str, Any], directory: str = "vasp",
                 reasons: Mapping[str, str] | None = None, potcar_variants: Mapping[str, str] | None = None) -> None:
        super().__init__(directory=directory, command=f"{command} > vasp.out 2>&1")
        self.potcar_dir = potcar_dir
        self.incar = dict(incar)
        self.reasons = reasons
        self.potcar_variants = potcar_variants
        self._order: np.ndarray | None = None
        self._poscar_symbols: list[str] = []

    def write_input(self, atoms, properties=None, system_changes=None) -> None:
        from ase.io import write

        super().write_input(atoms, properties, system_changes)
        species, self._order = species_order(atoms.get_chemical_symbols())
        folder = Path(self.directory)
        for stale in STALE_OUTPUTS:
            (folder / stale).unlink(missing_ok=True)
        grouped = atoms[self._order]
        self._poscar_symbols = grouped.get_chemical_symbols()
        write(folder / "POSCAR", grouped, format="vasp", direct=True)
        (folder / "INCAR").write_text(format_incar(self.incar, self.reasons))
        (folder / "POTCAR").write_text(assemble_potcar(species, self.potcar_dir, self.potcar_variants))

    def execute(self) -> None:
        try:
            super().execute()
        except CalculationFailed:
            outcar = Path(self.directory) / "OUTCAR"
            if not outcar.is_file():
                raise
            state = outcar_failure(outcar) or "its last ionic step is complete and converged"
            raise LabelingFailure(f"VASP exited with an error in {outcar.parent} (see vasp.out there); {state}") from None

    def read_results(self) -> None:
        outcar = Path(self.directory) / "OUTCAR"
        if not outcar.is_file():
            raise LabelingFailure(f"VASP wrote no OUTCAR in {outcar.parent} (see vasp.out there)")
        try:
            steps = read_outcar(outcar)
        except UnreadableOutcar as exc:
            raise LabelingFailure(f"{outcar}: {NO_IONIC_STEP} ({exc})") from None
        problem = steps.failure()
        if problem:
            raise LabelingFailure(f"{outcar}: {problem}")
        if steps.symbols != self._poscar_symbols:
            raise LabelingFailure(
                f"{outcar}: its atoms ({_formula(steps.symbols)}) are not those of the POSCAR ({_formula(self._poscar_symbols)})"
            )
        stress = steps.stress()
        if stress is None:
            raise LabelingFailure(f"{outcar}: no stress tensor (ISIF = 0?); periodic labels need the virial")
        from ase.stress import full_3x3_to_voigt_6_stress

        back = np.argsort(self._order)
        free = float(steps.energies[-1])
        self.results = {
            "energy": free,  # the free energy (TOTEN), as dpdata reads OUTCAR for DP-GEN
            "free_energy": free,
            "forces": steps.forces[-1][back],
            "stress": full_3x3_to_voigt_6_stress(stress),
        }


def _formula(symbols: Sequence[str]) -> str:
    return " ".join(f"{s}{list(symbols).count(s)}" for s in dict.fromkeys(symbols))


__all__ = ["STALE_OUTPUTS", "VaspSinglePoint", "species_order"]
