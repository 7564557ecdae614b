"""Carving of large fp tasks in ``dpgen-llzo run`` (the grain-boundary stage's hook after make_fp).

Settings: ``_dpgen_llzo.gb`` of param.json (:func:`dpgen_llzo.loop.gb_stage.gb_settings`).

Carving (``carve``, ``carve_min_atoms``, ``centres_per_frame``, ``radius_A``, ``mode``)
----------------------------------------------------------------------------------------
:func:`carve_large_fp_tasks` runs right after DP-GEN's make_fp (step 6), before the step
is recorded. For every ``02.fp/task.SSS.FFFFFF`` whose POSCAR has more than
``carve_min_atoms`` atoms:

1. **Source frame.** make_fp links ``conf.dump`` to the candidate frame
   ``01.model_devi/task.SSS.TTTTTT/traj/<step>.lammpstrj``; the link gives the exploration
   task and the MD step. Without the link (``model_devi_merge_traj``) the task counter
   FFFFFF is the line of ``candidate.shuffled.SSS.out`` (``<task path> <step>``) that make_fp
   took it from. The frame is read from the dump (atoms in LAMMPS id order).
2. **Worst atoms.** The row of that step in the exploration's ``model_devi.out``, when it
   was written with ``atomic`` (``templates/lammps/README.md``), holds the per-atom force
   deviation in id order. Otherwise (or when the dump is gone and the frame is read from
   the task's POSCAR, whose atom order may differ) the deviation is recomputed on the frame with DeePMD's
   ``DeepPot`` and the exploration's models (``01.model_devi/graph.*.pb``), with the same
   definition (per atom: sqrt of the sum over x, y, z of the variance across models);
   slower, same numbers up to float precision.
3. **Carve** ``centres_per_frame`` cells around the atoms of largest deviation, centres at
   least ``2·radius_A`` apart (:func:`~dpgen_llzo.gb.carving.carve_frame`; stoichiometric,
   periodic by default), and write them as new fp tasks of the same system index with the
   next free counters (:func:`~dpgen_llzo.gb.fp_tasks.write_fp_tasks`: POSCAR,
   ``carve.json`` provenance, ``atom_pref.npy``; ``job.json`` copied from the parent).
4. Move the large task to ``02.fp/carved_from/`` (DP-GEN globs ``02.fp/task.*`` only).
5. Let DP-GEN's fp-style writer (``make_fp_calculation``: INCAR/POTCAR/KPOINTS for vasp,
   the input file for custom, ...) process the new tasks, the other tasks parked meanwhile
   in ``02.fp/.carving_hold`` so that their inputs are not written twice.

run_fp and post_fp then treat the carved cells as ordinary tasks; post_fp's MultiSystems
keeps cells of different sizes apart. ``02.fp/carving.json`` lists what was done. A second
call finds no large task and changes nothing; on resume, step 6 recorded means done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

__all__ = ["CARVED_FROM", "CARVING_REPORT", "CarvedTask", "carve_large_fp_tasks", "per_atom_deviation", "source_frame"]

log = logging.getLogger(__name__)

CARVED_FROM = "carved_from"
HOLD = ".carving_hold"
CARVING_REPORT = "carving.json"


@dataclass(frozen=True)
class CarvedTask:
    """One large fp task and what replaced it."""

    parent: str
    source: dict[str, Any]
    n_atoms: int
    centres: list[int]
    centre_deviations_eV_A: list[float]
    new_tasks: list[str]
    new_n_atoms: list[int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def poscar_atom_count(path: str | os.PathLike) -> int:
    """Number of atoms of a POSCAR (VASP 5 layout: counts on line 7)."""
    lines = Path(path).read_text().splitlines()
    try:
        return int(sum(int(x) for x in lines[6].split()))
    except (IndexError, ValueError):
        raise UserInputError(f"{path}: cannot read the atom counts of a VASP 5 POSCAR") from None


def source_frame(task: str | os.PathLike) -> dict[str, Any]:
    """Where DP-GEN took fp task ``task`` from: ``{"model_devi_task", "step", "frame"}``.

    The ``conf.dump`` link first (``.../traj/<step>.lammpstrj``); else the line of
    ``candidate.shuffled.SSS.out`` whose number is the task counter. Paths are absolute;
    ``frame`` is None when the trajectory file is gone.

    Raises
    ------
    UserInputError
        Neither source is available.
    """
    task = Path(task).absolute()
    link = task / "conf.dump"
    if link.is_symlink():
        target = Path(os.path.normpath(task / os.readlink(link)))
        if target.parent.name == "traj" and target.stem.isdigit():
            return {"model_devi_task": str(target.parent.parent), "step": int(target.stem), "frame": str(target) if target.is_file() else None}
    _, system, counter = task.name.split(".")
    listing = task.parent / f"candidate.shuffled.{system}.out"
    if listing.is_file():
        lines = [line.split() for line in listing.read_text().splitlines() if line.strip()]
        if int(counter) < len(lines):
            path, step = lines[int(counter)][:2]
            workdir = task.parent.parent.parent  # iter.N/02.fp/task -> work directory
            modd = (workdir / path).resolve() if not os.path.isabs(path) else Path(path)
            frame = modd / "traj" / f"{int(step)}.lammpstrj"
            return {"model_devi_task": str(modd), "step": int(step), "frame": str(frame) if frame.is_file() else None}
    raise UserInputError(f"{task}: no conf.dump link and no candidate.shuffled.{system}.out line {int(counter)}")


def per_atom_deviation(
    structure: Any,
    model_devi_task: str | os.PathLike,
    step: int,
    type_map: Sequence[str],
    *,
    id_order: bool = True,
) -> tuple[np.ndarray, str]:
    """Per-atom force deviation of a frame, eV/Å, and where it came from.

    From the ``atomic`` columns of ``model_devi.out`` (row of ``step``) when present and
    the frame's atoms are in LAMMPS id order (``id_order``: read from the dump), otherwise
    computed with ``DeepPot`` and the exploration's ``graph.*.pb`` (the parent directory of
    ``model_devi_task``).
    """
    from dpgen_llzo.gb.carving import atomic_model_devi_row

    out = Path(model_devi_task) / "model_devi.out"
    try:
        row = atomic_model_devi_row(str(out), step)  # streamed: one row in memory, not the table
    except UserInputError:
        row = None
    if id_order and row is not None and len(row) == len(structure):
        return row, f"{out} (atomic, step {step})"
    graphs = sorted(Path(model_devi_task).parent.glob("graph.*.pb"))
    if len(graphs) < 2:
        raise UserInputError(f"{out}: no per-atom deviations for step {step} and fewer than two models to compute them")
    return deepmd_force_deviation(structure, graphs, type_map), f"DeepPot with {len(graphs)} models"


def deepmd_force_deviation(structure: Any, graphs: Sequence[str | os.PathLike], type_map: Sequence[str]) -> np.ndarray:
    """Per-atom force deviation of several DeePMD models on one frame, eV/Å.

    ``sqrt(sum_xyz var_models F)``, the definition of ``model_devi.out``'s atomic columns.
    """
    from deepmd.infer import DeepPot

    coords = np.asarray(structure.cart_coords).reshape(1, -1)
    cell = np.asarray(structure.lattice.matrix).reshape(1, 9)
    atype = [list(type_map).index(site.specie.symbol) for site in structure]
    forces = []
    for graph in graphs:
        model = DeepPot(str(graph))
        model_map = model.get_type_map()
        types = [model_map.index(type_map[t]) for t in atype]
        forces.append(model.eval(coords, cell, types)[1].reshape(-1, 3))
    stack = np.asarray(forces)
    return np.sqrt(np.mean(np.square(stack - stack.mean(0)), axis=0).sum(-1))


def _read_dump(path: str, type_map: Sequence[str]) -> Any:
    import dpdata

    return dpdata.System(path, fmt="lammps/dump", type_map=list(type_map)).to("pymatgen/structure")[0]


def _frame_of(task: Path, source: dict[str, Any], type_map: Sequence[str]) -> tuple[Any, str]:
    """The candidate frame in LAMMPS id order (dump), or the task's POSCAR when the dump is gone."""
    if source.get("frame"):
        return _read_dump(source["frame"], type_map), "dump"
    from pymatgen.core import Structure

    return Structure.from_file(str(task / "POSCAR")), "POSCAR"


def _rcut(jdata: Mapping[str, Any], default: float) -> float:
    try:
        return float(jdata["default_training_param"]["model"]["descriptor"]["rcut"])
    except (KeyError, TypeError):
        return default


def _restore_held(fp_dir: Path) -> None:
    hold = fp_dir / HOLD
    if hold.is_dir():
        for task in sorted(hold.iterdir()):
            os.rename(task, fp_dir / task.name)
        hold.rmdir()


def _large_tasks(fp_dir: Path, limit: int) -> list[Path]:
    tasks = sorted(p for p in fp_dir.glob("task.*") if p.is_dir() and (p / "POSCAR").is_file())
    return [t for t in tasks if not (t / "carve.json").is_file() and poscar_atom_count(t / "POSCAR") > limit]


def carve_large_fp_tasks(
    iteration: int,
    jdata: Mapping[str, Any],
    mdata: Mapping[str, Any],
    settings: Mapping[str, Any],
    workdir: str | os.PathLike = ".",
    *,
    write_inputs: bool = True,
) -> list[CarvedTask]:
    """Replace the large fp tasks of ``iteration`` by carved cells (see the module docstring).

    Parameters
    ----------
    iteration
        DP-GEN iteration whose ``02.fp`` make_fp just wrote.
    jdata, mdata
        DP-GEN's normalised param and machine (``type_map``, ``fp_style``, descriptor rcut).
    settings
        ``_dpgen_llzo.gb`` (:func:`gb_settings`).
    workdir
        DP-GEN work directory.
    write_inputs
        Run DP-GEN's fp-style input writer on the new tasks (off in unit tests without a
        param).

    Returns
    -------
    list of CarvedTask
        What this call carved (empty when nothing was large: a second call is a no-op).
    """
    from dpgen_llzo.gb.carving import DEFAULT_RCUT_A, carve_frame
    from dpgen_llzo.gb.fp_tasks import next_task_counter, write_fp_tasks

    workdir = Path(workdir).absolute()
    fp_dir = workdir / f"iter.{iteration:06d}" / "02.fp"
    if not fp_dir.is_dir():
        return []
    _restore_held(fp_dir)
    large = _large_tasks(fp_dir, int(settings["carve_min_atoms"]))
    if not large:
        return []
    type_map = list(jdata["type_map"])
    rcut = _rcut(jdata, DEFAULT_RCUT_A)
    aside = fp_dir / CARVED_FROM
    aside.mkdir(exist_ok=True)
    done: list[CarvedTask] = []
    new_dirs: list[Path] = []
    for task in large:
        system = int(task.name.split(".")[1])
        source = source_frame(task)
        structure, frame_kind = _frame_of(task, source, type_map)
        deviation, origin = per_atom_deviation(
            structure, source["model_devi_task"], source["step"], type_map, id_order=frame_kind == "dump"
        )
        cells = carve_frame(
            structure,
            deviation,
            int(settings["centres_per_frame"]),
            float(settings["radius_A"]),
            str(settings["mode"]),
            rcut=rcut,
        )
        start = max(next_task_counter(fp_dir, system), next_task_counter(aside, system))
        provenance = {"parent_task": f"{CARVED_FROM}/{task.name}", "frame_read_from": frame_kind, "deviation_from": origin, **source}
        written = write_fp_tasks(cells, fp_dir, system, start, type_map=type_map, source=provenance)
        job = task / "job.json"
        for new in written:
            if job.exists():
                shutil.copyfile(job, new / "job.json")
        os.rename(task, aside / task.name)
        sizes = [len(cell) for cell, _ in cells]
        for new, size in zip(written, sizes):
            if size > settings["carve_min_atoms"]:
                log.warning("%s: carved cell has %d atoms, more than carve_min_atoms %d", new, size, settings["carve_min_atoms"])
        new_dirs += written
        done.append(
            CarvedTask(
                parent=task.name,
                source=provenance,
                n_atoms=len(structure),
                centres=[info.parent_centre_index for _, info in cells],
                centre_deviations_eV_A=[float(deviation[info.parent_centre_index]) for _, info in cells],
                new_tasks=[p.name for p in written],
                new_n_atoms=sizes,
            )
        )
    if write_inputs:
        _write_fp_inputs(iteration, jdata, mdata, workdir, fp_dir, {p.name for p in new_dirs})
    report_path = fp_dir / CARVING_REPORT
    previous = json.loads(report_path.read_text()) if report_path.is_file() else []
    report_path.write_text(json.dumps(previous + [c.as_dict() for c in done], indent=2) + "\n")
    return done


def _write_fp_inputs(iteration: int, jdata: Mapping[str, Any], mdata: Mapping[str, Any], workdir: Path, fp_dir: Path, new: set[str]) -> None:
    """DP-GEN's fp-style input writer on the ``new`` tasks only (others parked meanwhile)."""
    from dpgen.generator.run import make_fp_calculation

    from dpgen_llzo.loop.runner import working_directory

    hold = fp_dir / HOLD
    hold.mkdir()
    for task in sorted(fp_dir.glob("task.*")):
        if task.name not in new:
            os.rename(task, hold / task.name)
    try:
        with working_directory(workdir):
            make_fp_calculation(iteration, dict(jdata), dict(mdata))
    finally:
        _restore_held(fp_dir)

