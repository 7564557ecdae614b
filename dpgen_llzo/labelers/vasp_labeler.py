"""VASP as a labeler: the production route of ``dpgen-llzo init`` (single points and AIMD).

The ``vasp`` labeler is an ASE calculator that runs VASP once per frame with the production
input set (:data:`dpgen_llzo.vasp.INPUT_SET`: PBE, spin-polarised, ENCUT 500 eV, KSPACING 0.25,
Gaussian 0.1 eV) and the POTCARs of :func:`dpgen_llzo.vasp.assemble_potcar`, so the initial
data carry the same DFT labels as DP-GEN's ``fp_style: "vasp"`` iterations. Teacher-MD init
tasks become AIMD driven by ASE (Langevin, one VASP single point per step; with
``reuse_wavefunctions`` each step starts its SCF from the previous WAVECAR).

Where VASP is and where the POTCARs are comes from the job's environment, set in the machine
file's fp ``resources.envs``: ``DPGEN_LLZO_VASP_COMMAND`` (e.g. ``"mpirun -np 32 vasp_std"``,
default ``vasp_std``) and ``POTCAR_DIR`` (the PBE 54 PAW directory).

A frame is not labelled (the labeller records a rejection with the reason) when VASP wrote no
OUTCAR, or when the electronic loop stopped at NELM without converging: DP-GEN's own post_fp
would accept such an OUTCAR.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers.base import LABELERS, Labeler, LabelingFailure

VASP_COMMAND_ENV = "DPGEN_LLZO_VASP_COMMAND"
POTCAR_DIR_ENV = "POTCAR_DIR"

_NELM = re.compile(r"^\s*NELM\s*=\s*(\d+)", re.MULTILINE)
_ITERATION = re.compile(r"-+\s*Iteration\s+(\d+)\(\s*(\d+)\)\s*-+")


def electronic_steps(outcar_text: str) -> tuple[int | None, list[int]]:
    """NELM and the number of electronic steps of every ionic step, from OUTCAR text.

    OUTCAR marks each electronic step with ``--- Iteration  I(  E) ---`` (ionic step I,
    electronic step E); the last E of each I is that ionic step's count.
    """
    nelm = _NELM.search(outcar_text)
    counts: dict[int, int] = {}
    for ionic, electronic in _ITERATION.findall(outcar_text):
        counts[int(ionic)] = max(counts.get(int(ionic), 0), int(electronic))
    return (int(nelm.group(1)) if nelm else None), [counts[k] for k in sorted(counts)]


def scf_failure(outcar_text: str) -> str | None:
    """Why the last ionic step of an OUTCAR cannot be used as a label, or None.

    An electronic loop that used all NELM steps did not reach EDIFF (VASP goes on regardless);
    an OUTCAR without any electronic step is a crashed run.
    """
    nelm, counts = electronic_steps(outcar_text)
    if not counts:
        return "OUTCAR has no electronic step (VASP crashed or did not start)"
    if nelm is not None and counts[-1] >= nelm:
        return f"SCF not converged: the electronic loop stopped at NELM = {nelm}"
    return None


def species_order(symbols: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Species in order of first appearance, and the permutation that groups atoms by species.

    VASP needs the atoms of one species together (the POSCAR species line); ``order`` sorts the
    atoms that way (stable), and ``np.argsort(order)`` puts results back in the input order.
    """
    species = list(dict.fromkeys(symbols))
    rank = {s: i for i, s in enumerate(species)}
    order = np.argsort([rank[s] for s in symbols], kind="stable")
    return species, order


def _make_vasp_calculator(command: str, potcar_dir: str | os.PathLike, incar: dict[str, Any], directory: str,
                          reasons: dict[str, str]):
    from ase.calculators.calculator import FileIOCalculator

    from dpgen_llzo.vasp import assemble_potcar, format_incar

    class VaspSinglePoint(FileIOCalculator):
        """VASP single point in ``directory`` (INCAR of the input set, POTCARs in POSCAR order)."""

        implemented_properties = ["energy", "free_energy", "forces", "stress"]
        discard_results_on_any_change = True

        def __init__(self) -> None:
            super().__init__(directory=directory, command=f"{command} > vasp.out 2>&1")
            self._order: np.ndarray | None = None

        def write_input(self, atoms, properties=None, system_changes=None) -> None:
            from ase.io import write

            super().write_input(atoms, properties, system_changes)
            species, self._order = species_order(atoms.get_chemical_symbols())
            folder = Path(self.directory)
            for stale in ("OUTCAR", "vasprun.xml", "OSZICAR"):
                (folder / stale).unlink(missing_ok=True)
            write(folder / "POSCAR", atoms[self._order], format="vasp", direct=True)
            (folder / "INCAR").write_text(format_incar(incar, reasons))
            (folder / "POTCAR").write_text(assemble_potcar(species, potcar_dir))

        def read_results(self) -> None:
            from ase.io import read

            outcar = Path(self.directory) / "OUTCAR"
            if not outcar.is_file():
                raise LabelingFailure(f"VASP wrote no OUTCAR in {outcar.parent} (see vasp.out there)")
            problem = scf_failure(outcar.read_text(errors="replace"))
            if problem:
                raise LabelingFailure(f"{outcar}: {problem}")
            result = read(outcar, format="vasp-out", index=-1)
            back = np.argsort(self._order)
            free = float(result.get_potential_energy(force_consistent=True))
            self.results = {
                "energy": free,  # the free energy (TOTEN), as dpdata reads OUTCAR for DP-GEN
                "free_energy": free,
                "forces": result.get_forces()[back],
                "stress": result.get_stress(),
            }

    return VaspSinglePoint()


@LABELERS.register("vasp", summary="VASP single points with the production INCAR ($DPGEN_LLZO_VASP_COMMAND, $POTCAR_DIR)")
class VaspLabeler(Labeler):
    """VASP with :data:`dpgen_llzo.vasp.INPUT_SET`.

    Options
    -------
    command : str
        How to run VASP; default ``$DPGEN_LLZO_VASP_COMMAND`` or ``vasp_std``.
    potcar_dir : str
        PAW directory; default ``$POTCAR_DIR``.
    directory : str
        Where VASP runs, relative to the task (default ``vasp``).
    reuse_wavefunctions : bool
        Keep WAVECAR between calls (AIMD: each step starts from the last one's orbitals).
    device : str
        Ignored (accepted because every labeler gets it).
    """

    name = "vasp"
    md_options = {"reuse_wavefunctions": True}

    def _make_calculator(self):
        from dpgen_llzo.vasp import build_incar, incar_reasons

        command = self.options.get("command") or os.environ.get(VASP_COMMAND_ENV) or "vasp_std"
        potcar_dir = self.options.get("potcar_dir") or os.environ.get(POTCAR_DIR_ENV)
        if not potcar_dir:
            raise UserInputError(f"vasp labeler: set ${POTCAR_DIR_ENV} (in the machine file's fp resources.envs) to the PBE PAW directory")
        if not Path(potcar_dir).is_dir():
            raise UserInputError(f"vasp labeler: ${POTCAR_DIR_ENV} = {potcar_dir!r} is not a directory")
        reasons = incar_reasons()
        overrides = {}
        if self.options.get("reuse_wavefunctions"):
            overrides["LWAVE"] = True
            reasons["LWAVE"] = "AIMD: keep WAVECAR, the next step starts its SCF from these orbitals"
        if not shlex.split(command):
            raise UserInputError(f"vasp labeler: empty VASP command in ${VASP_COMMAND_ENV}")
        return _make_vasp_calculator(command, potcar_dir, build_incar(overrides), self.options.get("directory", "vasp"), reasons)

    def describe(self) -> dict[str, Any]:
        return {"labeler": self.name, "command": self.options.get("command") or os.environ.get(VASP_COMMAND_ENV) or "vasp_std"}
