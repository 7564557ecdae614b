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

The calculator is :class:`dpgen_llzo.vasp.calculator.VaspSinglePoint`; it reads OUTCAR with
dpdata's reader (:mod:`dpgen_llzo.vasp.outputs`). A frame is not labelled (the labeller records a
rejection with the reason) when VASP wrote no OUTCAR, when no ionic step finished, or when the
electronic loop of the last ionic step stopped at NELM without converging.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers.base import LABELERS, Labeler

VASP_COMMAND_ENV = "DPGEN_LLZO_VASP_COMMAND"
POTCAR_DIR_ENV = "POTCAR_DIR"


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
        from dpgen_llzo.vasp.calculator import VaspSinglePoint

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
        return VaspSinglePoint(command, potcar_dir, build_incar(overrides), self.options.get("directory", "vasp"), reasons)

    def describe(self) -> dict[str, Any]:
        return {"labeler": self.name, "command": self.options.get("command") or os.environ.get(VASP_COMMAND_ENV) or "vasp_std"}
