"""Distillation steps with I/O: the final training and the teacher-labelled held-out set.

:mod:`dpgen_llzo.distill.final`, :mod:`.heldout` and :mod:`.metrics` hold the pure parts;
this module runs the programs (``dp train`` through dpdispatcher, the teacher, the student's
MD) and writes files atomically. :mod:`.report` turns the results into the shipped report.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.distill.final import FINAL_DIR, final_training_input, last_iteration_models, loop_datasets
from dpgen_llzo.distill.heldout import HeldoutRun, sample_run
from dpgen_llzo.distill.metrics import FrameSet, error_table

log = logging.getLogger(__name__)

#: Frozen model name inside each final training task.
FINAL_MODEL = "graph.pb"


def run_final_training(
    param_path: str | os.PathLike,
    machine_path: str | os.PathLike,
    numb_steps: int,
    n_models: int = 2,
    start_lr: float = 5e-4,
    stop_lr: float = 2e-5,
    from_last_iteration: bool = True,
) -> list[Path]:
    """Train ``n_models`` final students side by side on every labelled frame (in the work directory).

    Each task ``final/00k`` starts from the last iteration's model ``k`` (``--init-frz-model``)
    unless ``from_last_iteration`` is false, trains ``numb_steps`` and freezes ``graph.pb``.
    Finished tasks are not run again.

    Returns
    -------
    list of Path
        The frozen models, ``final/00k/graph.pb``.
    """
    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.config import check_dpgen_machine, load_json
    from dpgen_llzo.dispatch import ShellTask, ensure_interpreter_on_path, machine_section, run_shell_tasks
    from dpgen_llzo.errors import UserInputError

    ensure_interpreter_on_path()
    param = load_json(param_path, "param file")
    machine = machine_section(check_dpgen_machine(machine_path), "train", machine_path)
    datasets = loop_datasets(".", param)
    systems = datasets["init"] + datasets["loop"]
    if not systems:
        raise UserInputError(f"{param_path}: no labelled data under {os.getcwd()} (run dpgen-llzo init and the loop first)")
    previous = last_iteration_models(".") if from_last_iteration else []
    table = param.get("srtab_file_path")
    tasks, models = [], []
    for index in range(n_models):
        directory = Path(FINAL_DIR) / f"{index:03d}"
        models.append(directory / FINAL_MODEL)
        if (directory / FINAL_MODEL).is_file():
            continue
        directory.mkdir(parents=True, exist_ok=True)
        config = final_training_input(param, [os.path.join("..", "..", s) for s in systems], numb_steps,
                                      start_lr, stop_lr, seed=1000 + index)
        write_json_atomic(directory / "input.json", config)
        forward = ["input.json"]
        if table:
            shutil.copyfile(table, directory / os.path.basename(table))
            forward.append(os.path.basename(table))
        init = ""
        if previous:
            source = previous[index % len(previous)]
            shutil.copyfile(source, directory / "init.pb")
            forward.append("init.pb")
            init = " --init-frz-model init.pb"
        # dp freeze appends .pb to a name without it: freeze to a .pb name, then rename
        command = (f"{{ dp train input.json --skip-neighbor-stat{init} && dp freeze -o frozen.tmp.pb "
                   f"&& mv frozen.tmp.pb {FINAL_MODEL}; }}")
        tasks.append(ShellTask(directory.name, command, tuple(forward), (FINAL_MODEL, "lcurve.out")))
    log.info("final training: %d of %d models to train (%d steps, %d init + %d loop systems)",
             len(tasks), n_models, numb_steps, len(datasets["init"]), len(datasets["loop"]))
    run_shell_tasks(tasks, FINAL_DIR, {**machine, "resources": {**machine["resources"], "group_size": 1}}, log_name="train.log")
    missing = [str(m) for m in models if not m.is_file()]
    if missing:
        raise RuntimeError(f"final training wrote no model in {missing}; see {FINAL_DIR}/*/train.log")
    write_json_atomic(Path(FINAL_DIR) / "datasets.json", datasets)
    return models


def frames_system(frames: Sequence[tuple[np.ndarray, np.ndarray, list[str]]], type_map: Sequence[str]):
    """A dpdata ``System`` of frames of one set of atoms (cells and positions in Å)."""
    import dpdata

    symbols = frames[0][2]
    types = np.array([list(type_map).index(s) for s in symbols])
    nopbc = False
    data = {
        "atom_names": list(type_map), "atom_numbs": [int((types == i).sum()) for i in range(len(type_map))],
        "atom_types": types, "orig": np.zeros(3), "nopbc": nopbc,
        "cells": np.array([f[0] for f in frames]), "coords": np.array([f[1] for f in frames]),
    }
    return dpdata.System(data=data)


def build_heldout_set(runs: Sequence[HeldoutRun], student_model: str | os.PathLike, teacher, type_map: Sequence[str],
                      output: str | os.PathLike, seed: int = 2027, min_distances: dict[str, float] | None = None) -> dict[str, int]:
    """Sample every held-out run with the student and label its frames with the teacher.

    Writes ``output/<class>/<run name>`` (deepmd/npy); a run already written is skipped, so an
    interrupted build resumes. Frames the teacher rejects are dropped (counted in the result).

    Returns
    -------
    dict
        Frames kept per class.
    """
    from deepmd.calculator import DP

    from dpgen_llzo.labelers.labelling import label_system, write_deepmd_npy

    output = Path(output)
    calculator = DP(model=str(student_model))
    kept: dict[str, int] = {}
    for index, run in enumerate(runs):
        target = output / run.klass / run.name
        if not (target / "type.raw").is_file():
            frames = list(sample_run(run, calculator, seed + index))
            labeled, rejections = label_system(frames_system(frames, type_map), teacher, list(type_map),
                                               max_force=1e9, progress=False, min_distances=min_distances)
            for rejection in rejections:
                log.warning("held-out %s frame %d dropped: %s", run.name, rejection.frame_index, rejection.reason)
            if labeled is None:
                continue
            write_deepmd_npy(labeled, target)
        kept[run.klass] = kept.get(run.klass, 0) + len(np.load(next(target.glob("set.*")) / "energy.npy"))
        log.info("held-out %d/%d %s: %s", index + 1, len(runs), run.klass, run.name)
    return kept


def student_frames(model, system) -> FrameSet:
    """The student's labels (``deepmd.infer.DeepPot``) of a dpdata ``LabeledSystem``'s frames."""
    types = np.asarray(system["atom_types"])
    cells = None if system.nopbc else system["cells"].reshape(len(system), 9)
    energy, force, virial = model.eval(system["coords"].reshape(len(system), -1), cells, types)
    return FrameSet(energy.ravel(), force.reshape(len(system), -1, 3), virial.reshape(len(system), 3, 3),
                    np.abs(np.linalg.det(system["cells"])), len(types))


def teacher_frames(system) -> FrameSet:
    """The labels stored in a dpdata ``LabeledSystem``."""
    return FrameSet(np.asarray(system["energies"]), np.asarray(system["forces"]), np.asarray(system["virials"]),
                    np.abs(np.linalg.det(system["cells"])), len(system["atom_types"]))


def heldout_frames(model_path: str | os.PathLike, heldout: str | os.PathLike,
                   type_map: Sequence[str]) -> dict[str, list[tuple[FrameSet, FrameSet]]]:
    """Teacher and student labels of every held-out system, per class: ``{class: [(teacher, student), ...]}``."""
    import dpdata
    from deepmd.infer import DeepPot

    model = DeepPot(str(model_path))
    frames: dict[str, list[tuple[FrameSet, FrameSet]]] = {}
    for class_dir in sorted(p for p in Path(heldout).iterdir() if p.is_dir()):
        for system_dir in sorted(p for p in class_dir.iterdir() if (p / "type.raw").is_file()):
            system = dpdata.LabeledSystem(str(system_dir), fmt="deepmd/npy", type_map=list(type_map))
            frames.setdefault(class_dir.name, []).append((teacher_frames(system), student_frames(model, system)))
    return frames


def frame_errors(frames: dict[str, list[tuple[FrameSet, FrameSet]]]) -> dict[str, Any]:
    """Errors per class, overall, and over every class but the dimers (``condensed``), from :func:`heldout_frames`."""

    def table(pairs: list[tuple[FrameSet, FrameSet]]) -> dict[str, float]:
        return error_table([r for r, _ in pairs], [p for _, p in pairs]) if pairs else {}

    return {
        "per_class": {name: table(pairs) for name, pairs in frames.items()},
        "overall": table([pair for pairs in frames.values() for pair in pairs]),
        "condensed": table([pair for name, pairs in frames.items() if name != "dimers" for pair in pairs]),
    }


def heldout_errors(model_path: str | os.PathLike, heldout: str | os.PathLike, type_map: Sequence[str]) -> dict[str, Any]:
    """Errors of a model on a held-out set, per class and overall (force, energy, virial, pressure)."""
    return frame_errors(heldout_frames(model_path, heldout, type_map))


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file's content, or ``None`` if there is none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None
