"""Reference (teacher) tasks of the autotest: relaxation, NVT and NPT MD through ASE.

A task is a directory holding ``POSCAR`` and ``task.json``; ``dpgen-llzo autotest
reference-task DIR`` (dpdispatcher runs the same as ``python -m dpgen_llzo.autotest
reference-task DIR``) reads them and writes, by ``kind``:

``relax``
    FrechetCellFilter + FIRE; ``CONTCAR`` and ``result.json`` (energy, cell parameters,
    steps, converged).
``nvt``
    Langevin NVT (:func:`dpgen_llzo.init_data.teacher_md.teacher_md`); ``traj.extxyz``
    (frames after ``equilibration_steps``, each with its ``step``) and ``result.json``.
``npt``
    Berendsen NPT with independent a, b, c (ASE ``Inhomogeneous_NPTBerendsen``);
    ``thermo.json`` (step, T, a, b, c, V per sample, all samples) and ``result.json``.

Production runs replace the teacher by AIMD results given as files (``reference.type:
files``); those need no task.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.autotest.cells import cell_parameters
from dpgen_llzo.autotest.properties import REFERENCE_SECTION, PendingTask, write_json
from dpgen_llzo.dispatch import ShellTask
from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)

#: Outputs of each kind of task, fetched back by dpdispatcher.
OUTPUTS = {"relax": ("result.json", "CONTCAR"), "nvt": ("result.json", "traj.extxyz"), "npt": ("result.json", "thermo.json")}
TASK_COMMAND = "python -m dpgen_llzo.autotest reference-task ."


def write_task(directory: Path, kind: str, settings: dict[str, Any], poscar: Path | None = None) -> None:
    """Create a reference task: ``task.json`` (``kind`` + ``settings``), and ``POSCAR`` copied from ``poscar`` if given."""
    if kind not in OUTPUTS:
        raise ValueError(f"unknown reference task kind {kind!r}")
    directory.mkdir(parents=True, exist_ok=True)
    if poscar is not None:
        (directory / "POSCAR").write_text(Path(poscar).read_text())
    write_json(directory / "task.json", {"kind": kind, **settings})


def finished(directory: Path) -> bool:
    return (directory / "result.json").is_file()


def pending(directory: Path, root: Path) -> PendingTask | None:
    """The task in ``directory`` if it has not run yet."""
    if finished(directory) or not (directory / "task.json").is_file():
        return None
    kind = json.loads((directory / "task.json").read_text())["kind"]
    return PendingTask(REFERENCE_SECTION, ShellTask(
        directory=str(directory.relative_to(root)), command=TASK_COMMAND,
        forward_files=("POSCAR", "task.json"), backward_files=OUTPUTS[kind]))


def run_task(directory: str | os.PathLike) -> dict[str, Any]:
    """Run the reference task in ``directory`` and return its ``result.json`` content."""
    from ase.io import read

    directory = Path(directory)
    task_file = directory / "task.json"
    if not task_file.is_file():
        raise UserInputError(f"{directory}: no task.json (not a reference task directory)")
    task = json.loads(task_file.read_text())
    atoms = read(str(directory / "POSCAR"), format="vasp")
    from dpgen_llzo.labelers import get_labeler

    calculator = get_labeler(task.get("labeler", "chgnet"), device=task.get("device", "cpu")).calculator()
    start = time.time()
    runner = {"relax": _relax, "nvt": _nvt, "npt": _npt}.get(task["kind"])
    if runner is None:
        raise UserInputError(f"{task_file}: unknown kind {task['kind']!r} (relax, nvt, npt)")
    result = runner(atoms, calculator, task, directory)
    result.update({"kind": task["kind"], "labeler": task.get("labeler", "chgnet"), "wall_s": time.time() - start})
    write_json(directory / "result.json", result)
    return result


def _relax(atoms, calculator, task: dict[str, Any], directory: Path) -> dict[str, Any]:
    from ase.filters import FrechetCellFilter
    from ase.io import write
    from ase.optimize import FIRE

    atoms.calc = calculator
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=str(directory / "relax.log"))
    converged = bool(optimizer.run(fmax=task["fmax_eV_A"], steps=task["max_steps"]))
    write(str(directory / "CONTCAR"), atoms, format="vasp", direct=True, sort=False)
    return {"converged": converged, "steps": int(optimizer.nsteps), "fmax_eV_A": task["fmax_eV_A"],
            "energy_eV": float(atoms.get_potential_energy()), "n_atoms": len(atoms),
            **cell_parameters(np.array(atoms.get_cell()))}


def _nvt(atoms, calculator, task: dict[str, Any], directory: Path) -> dict[str, Any]:
    from ase import Atoms
    from ase.io import write

    from dpgen_llzo.init_data.teacher_md import teacher_md

    frames = teacher_md(atoms, calculator, temperature_K=task["temperature_K"], n_steps=task["n_steps"],
                        timestep_fs=task["timestep_fs"], sample_every=task["sample_every"],
                        friction_per_fs=task["friction_per_fs"], seed=task["seed"])
    images = []
    for index, frame in enumerate(frames):
        step = (index + 1) * task["sample_every"]
        if step <= task["equilibration_steps"]:
            continue
        image = Atoms(atoms.get_chemical_symbols(), positions=frame.positions, cell=frame.cell, pbc=True)
        image.info["step"] = step
        images.append(image)
    if not images:
        raise UserInputError(f"{directory}: no frame after equilibration_steps={task['equilibration_steps']}; raise n_steps")
    write(str(directory / "traj.extxyz"), images, format="extxyz")
    return {"temperature_K": task["temperature_K"], "n_frames": len(images), "n_steps": task["n_steps"]}


def _npt(atoms, calculator, task: dict[str, Any], directory: Path) -> dict[str, Any]:
    from ase import units
    from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    rng = np.random.default_rng(task["seed"])
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=task["temperature_K"], rng=rng)
    Stationary(atoms)
    dynamics = Inhomogeneous_NPTBerendsen(
        atoms, timestep=task["timestep_fs"] * units.fs, temperature_K=task["temperature_K"],
        pressure_au=task.get("pressure_bar", 0.0) * units.bar, taut=task["tau_t_fs"] * units.fs,
        taup=task["tau_p_fs"] * units.fs, compressibility_au=1.0 / (task["bulk_modulus_GPa"] * units.GPa))
    rows: dict[str, list[float]] = {k: [] for k in ("step", "T_K", "a_A", "b_A", "c_A", "V_A3")}
    for index in range(task["n_steps"] // task["sample_every"]):
        dynamics.run(task["sample_every"])
        params = cell_parameters(np.array(atoms.get_cell()))
        rows["step"].append((index + 1) * task["sample_every"])
        rows["T_K"].append(float(atoms.get_temperature()))
        for key in ("a_A", "b_A", "c_A", "V_A3"):
            rows[key].append(params[key])
        log.info("teacher NPT %.0f K: step %d, T = %.0f K, V = %.1f Å³", task["temperature_K"],
                 rows["step"][-1], rows["T_K"][-1], rows["V_A3"][-1])
    if not rows["step"]:
        raise UserInputError(f"{directory}: n_steps {task['n_steps']} < sample_every {task['sample_every']}")
    write_json(directory / "thermo.json", rows)
    return {"temperature_K": task["temperature_K"], "n_samples": len(rows["step"]), "n_steps": task["n_steps"]}

