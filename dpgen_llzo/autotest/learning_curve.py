"""Learning curve: held-out energy/force errors vs the number of training frames.

The training frames of all ``--train`` systems are pooled and shuffled once with ``seed``;
the subset of size n is the first n frames of that order, so subsets are nested (every
frame of a small set is in the larger ones) and the curve measures the data, not the draw.
Each subset trains one model from the same DeePMD input (``training.numb_steps`` replaced,
every seed set to ``seed``) through dpdispatcher's ``train`` section; each frozen model is
evaluated per held-out data class with :mod:`dpgen_llzo.validation`.

Layout::

    OUT/size_00008/data/000/…      subset of the pool (deepmd/npy, one dir per source system)
    OUT/size_00008/input.json      training input → graph.pb, lcurve.out
    OUT/learning_curve.json        points: n_frames → errors per class (meV/atom, meV/Å)
    OUT/learning_curve.png
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)

DEFAULT_SEED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", nargs="+", required=True, help="deepmd/npy training systems (the pool)")
    parser.add_argument("--test", nargs="+", required=True, help="held-out deepmd/npy data; CLASS=DIR puts DIR in class CLASS")
    parser.add_argument("--input", required=True, help="DeePMD input.json, or a DP-GEN param.json (its default_training_param)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--sizes", help="training-set sizes in frames, e.g. 8,16,32")
    group.add_argument("--fractions", default="0.25,0.5,1", help="sizes as fractions of the pool (default 0.25,0.5,1)")
    parser.add_argument("--numb-steps", type=int, default=2000, help="training steps per model (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"subset and model seed (default {DEFAULT_SEED})")
    parser.add_argument("--machine", help="DP-GEN machine.json; its 'train' section runs dp (default: machine/local.json)")
    parser.add_argument("--output", "-o", default="learning_curve", help="output directory (default ./learning_curve)")
    parser.set_defaults(func=run_cli)


def subset_sizes(pool: int, sizes: str | None, fractions: str | None) -> list[int]:
    """Distinct subset sizes (frames), ascending, each in [1, pool]."""
    try:
        if sizes:
            values = [int(x) for x in sizes.split(",")]
        else:
            values = [max(1, int(round(float(x) * pool))) for x in (fractions or "1").split(",")]
    except ValueError:
        raise UserInputError(f"bad sizes {sizes or fractions!r}: expected comma-separated numbers") from None
    bad = [v for v in values if not 1 <= v <= pool]
    if bad:
        raise UserInputError(f"training-set size {bad[0]} outside 1..{pool} (frames in the pool)")
    return sorted(set(values))


def nested_subsets(frame_counts: Sequence[int], sizes: Sequence[int], seed: int) -> dict[int, list[np.ndarray]]:
    """Size → per-system frame indices of the nested subsets.

    Frames of all systems are pooled and permuted once with ``seed``; the subset of size n
    holds the first n of the permutation.
    """
    owners = np.concatenate([np.full(n, k) for k, n in enumerate(frame_counts)]) if frame_counts else np.array([], int)
    local = np.concatenate([np.arange(n) for n in frame_counts]) if frame_counts else np.array([], int)
    order = np.random.default_rng(seed).permutation(len(owners))
    out = {}
    for n in sizes:
        chosen = order[:n]
        out[n] = [np.sort(local[chosen[owners[chosen] == k]]) for k in range(len(frame_counts))]
    return out


def training_input(template: dict[str, Any], systems: list[str], numb_steps: int, seed: int) -> dict[str, Any]:
    """``template`` with our systems, steps and seeds; validation data removed."""
    data = copy.deepcopy(template)
    try:
        data["model"]["descriptor"]["seed"] = seed
        data["model"]["fitting_net"]["seed"] = seed
        training = data["training"]
    except (KeyError, TypeError):
        raise UserInputError("training input needs model.descriptor, model.fitting_net and training") from None
    training["seed"] = seed
    training["numb_steps"] = numb_steps
    training["save_freq"] = numb_steps
    training["disp_freq"] = max(1, min(training.get("disp_freq", 100), numb_steps))
    training.pop("validation_data", None)
    training["training_data"] = {**training.get("training_data", {}), "systems": systems, "batch_size": "auto"}
    return data


def load_template(path: str | os.PathLike) -> dict[str, Any]:
    """A DeePMD input.json, or the ``default_training_param`` of a DP-GEN param.json."""
    from dpgen_llzo.config import load_json

    data = load_json(path)
    return data.get("default_training_param", data)


def learning_curve(train: Sequence[str], test: dict[str, list[str]], template: dict[str, Any], sizes: Sequence[int],
                   numb_steps: int, seed: int, output: str | os.PathLike, machine_entry: dict[str, Any],
                   dp_command: str = "dp") -> dict[str, Any]:
    """Train one model per subset size and evaluate each on the held-out classes.

    Returns the content of ``learning_curve.json``.
    """
    import dpdata

    from dpgen_llzo.dispatch import ShellTask, ensure_interpreter_on_path, relative_to_cwd, run_shell_tasks
    from dpgen_llzo.validation import error_summary, predict_datasets
    from dpgen_llzo.autotest.properties import write_json

    output = Path(output)
    systems = [dpdata.LabeledSystem(str(d), fmt="deepmd/npy") for d in train]
    subsets = nested_subsets([len(s) for s in systems], sizes, seed)
    tasks = []
    for n, indices in subsets.items():
        work = output / f"size_{n:05d}"
        if (work / "graph.pb").is_file():
            continue
        names = []
        for k, (system, idx) in enumerate(zip(systems, indices)):
            if len(idx):
                system.sub_system(idx).to_deepmd_npy(str(work / "data" / f"{k:03d}"))
                names.append(f"data/{k:03d}")
        write_json(work / "input.json", training_input(template, names, numb_steps, seed))
        tasks.append(ShellTask(directory=work.name, command=f"{dp_command} train input.json --skip-neighbor-stat && "
                               f"{dp_command} freeze -o graph.pb", forward_files=("input.json", "data"),
                               backward_files=("graph.pb", "lcurve.out")))
    ensure_interpreter_on_path()
    run_shell_tasks(tasks, relative_to_cwd(output.resolve()), machine_entry, log_name="train.log")
    points = []
    for n in subsets:
        graph = output / f"size_{n:05d}" / "graph.pb"
        if not graph.is_file():
            raise UserInputError(f"{graph}: training did not produce a model; see {graph.parent}/train.log")
        errors = {name: error_summary(predict_datasets(graph, dirs)) for name, dirs in test.items()}
        points.append({"n_frames": n, "model": str(graph), "errors": errors})
        log.info("%d frames: %s", n, ", ".join(f"{k} E {v['energy_rmse_meV_atom']:.1f} meV/atom F {v['force_rmse_meV_A']:.0f} meV/Å"
                                              for k, v in errors.items()))
    result = {"seed": seed, "numb_steps": numb_steps, "pool_frames": int(sum(len(s) for s in systems)),
              "train": list(train), "test": test, "points": points}
    write_json(output / "learning_curve.json", result)
    plot_learning_curve(result, output / "learning_curve.png")
    return result


def plot_learning_curve(result: dict[str, Any], path: Path) -> None:
    """Energy and force RMSE vs training frames, one line per data class (log-log)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from dpgen_llzo.analysis._io import save_figure_atomic

    fig, (ax_e, ax_f) = plt.subplots(1, 2, figsize=(9, 3.8))
    n = [p["n_frames"] for p in result["points"]]
    for name in result["test"]:
        ax_e.plot(n, [p["errors"][name]["energy_rmse_meV_atom"] for p in result["points"]], "o-", label=name)
        ax_f.plot(n, [p["errors"][name]["force_rmse_meV_A"] for p in result["points"]], "o-", label=name)
    for ax, label in ((ax_e, "energy RMSE (meV/atom)"), (ax_f, "force RMSE (meV/Å)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training frames")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(f"learning curve (seed {result['seed']}, {result['numb_steps']} steps)")
    fig.tight_layout()
    save_figure_atomic(fig, path)


def run_cli(args: argparse.Namespace) -> int:
    from dpgen_llzo.autotest.workflow import load_machine
    from dpgen_llzo.dispatch import machine_section
    from dpgen_llzo.validate_cli import parse_data_classes

    for directory in [*args.train, *[spec.rpartition("=")[2] for spec in args.test]]:
        if not Path(directory, "type.raw").is_file():
            raise UserInputError(f"{directory}: not a deepmd/npy dataset (no type.raw)")
    if args.numb_steps < 1:
        raise UserInputError(f"--numb-steps must be positive, got {args.numb_steps}")
    import dpdata

    pool = sum(len(dpdata.LabeledSystem(d, fmt="deepmd/npy")) for d in args.train)
    sizes = subset_sizes(pool, args.sizes, None if args.sizes else args.fractions)
    mdata, machine_path = load_machine(args.machine)
    entry = machine_section(mdata, "train", machine_path)
    result = learning_curve(args.train, parse_data_classes(args.test), load_template(args.input), sizes,
                            args.numb_steps, args.seed, args.output, entry, dp_command=entry.get("command", "dp"))
    for point in result["points"]:
        print(f"{point['n_frames']:6d} frames  " + "  ".join(
            f"{k}: E {v['energy_rmse_meV_atom']:.2f} meV/atom, F {v['force_rmse_meV_A']:.0f} meV/Å" for k, v in point["errors"].items()))
    print(f"written {args.output}/learning_curve.json and learning_curve.png")
    return 0
