"""The long final training of a distillation: every labelled frame of the loop, one long schedule.

DP-GEN trains every iteration's models briefly (``training_reuse_numb_steps``): enough to tell
good frames from bad ones, not to ship. After the loop, the student that is shipped is trained
again on the initial data plus every frame the loop labelled, starting from the last
iteration's frozen model (``dp train --init-frz-model``) with a full learning-rate decay and
energy and virial prefactors ramped up, as the paper's production models were.
"""

from __future__ import annotations

import copy
import glob
import math
import os
from pathlib import Path
from typing import Any, Sequence

from dpgen_llzo.errors import UserInputError

#: Directory of the final training under the work directory.
FINAL_DIR = "final"


def loop_datasets(workdir: str | os.PathLike, param: dict[str, Any]) -> dict[str, list[str]]:
    """Training systems of a finished loop, relative to ``workdir``.

    Returns
    -------
    dict
        ``{"init": [...], "loop": [...]}``: the param's ``init_data_sys`` under
        ``init_data_prefix``, and every ``iter.*/02.fp/data.*`` that holds frames.
    """
    workdir = Path(workdir)
    prefix = param.get("init_data_prefix", "")
    init = [os.path.join(prefix, name) for name in param.get("init_data_sys", [])]
    init = [name for name in init if (workdir / name / "type.raw").is_file()]
    # DP-GEN's post_fp writes each data.NNN as a dpdata MultiSystems: one sub-directory per formula
    candidates = glob.glob(str(workdir / "iter.*" / "02.fp" / "data.*")) + glob.glob(str(workdir / "iter.*" / "02.fp" / "data.*" / "*"))
    loop = sorted(
        os.path.relpath(path, workdir)
        for path in candidates
        if os.path.isfile(os.path.join(path, "type.raw")) and glob.glob(os.path.join(path, "set.*"))
    )
    return {"init": init, "loop": loop}


def last_iteration_models(workdir: str | os.PathLike) -> list[Path]:
    """Frozen models of the last iteration whose training finished (``iter.N/00.train/graph.*.pb``)."""
    workdir = Path(workdir)
    for iteration in sorted(workdir.glob("iter.*"), reverse=True):
        models = sorted((iteration / "00.train").glob("graph.*.pb"))
        if models:
            return models
    return []


def final_training_input(
    param: dict[str, Any],
    systems: Sequence[str],
    numb_steps: int,
    start_lr: float,
    stop_lr: float,
    seed: int,
    decay_steps: int = 500,
) -> dict[str, Any]:
    """The deepmd-kit input of the final training (pure).

    Parameters
    ----------
    param
        The DP-GEN param.json; its ``default_training_param`` gives model and loss.
    systems
        Training systems, paths as the training task will see them.
    numb_steps
        Training steps.
    start_lr, stop_lr
        Learning rate at the first and the last step (exponential decay between).
    seed
        Seed of the descriptor, fitting net and batch order.
    decay_steps
        Steps between learning-rate decays.
    """
    if numb_steps <= 0 or not (0 < stop_lr <= start_lr):
        raise UserInputError(f"final training needs numb_steps > 0 and 0 < stop_lr <= start_lr, got {numb_steps}, {start_lr}, {stop_lr}")
    config = copy.deepcopy(param["default_training_param"])
    config["model"]["descriptor"]["seed"] = seed
    config["model"]["fitting_net"]["seed"] = seed
    config["learning_rate"] = {"type": "exp", "start_lr": start_lr, "stop_lr": stop_lr,
                               "decay_steps": max(1, min(decay_steps, numb_steps // 10 or 1))}
    training = config["training"]
    training.update({"numb_steps": int(numb_steps), "seed": seed, "disp_file": "lcurve.out",
                     "disp_freq": max(1, numb_steps // 50), "save_freq": max(1, numb_steps // 5)})
    training["training_data"] = {"systems": list(systems), "batch_size": "auto"}
    training.pop("validation_data", None)
    return config


def lr_at(step: int, config: dict[str, Any]) -> float:
    """Learning rate of an ``exp`` schedule at ``step`` (deepmd-kit's staircase decay)."""
    lr = config["learning_rate"]
    steps = config["training"]["numb_steps"]
    rate = math.exp(math.log(lr["stop_lr"] / lr["start_lr"]) / (steps / lr["decay_steps"]))
    return lr["start_lr"] * rate ** (step // lr["decay_steps"])
