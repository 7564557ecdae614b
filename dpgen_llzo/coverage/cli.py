"""``dpgen-llzo coverage``: PCA coverage of a test descriptor matrix by a training one.

Two modes:

* ``dpgen-llzo coverage TRAIN.npy TEST.npy``: reads the ``.npy`` files, calls
  :func:`coverage_fraction` (or :func:`coverage_by_element` when atom types are given) and
  prints or writes the result;
* ``dpgen-llzo coverage --workdir DIR --iter N``: coverage of iteration ``N``'s explored
  environments by its training data (:func:`~dpgen_llzo.coverage.iteration.iteration_coverage`),
  writing ``iter.N/01.model_devi/coverage.json`` + the projection PNG and the history
  ``coverage.{json,csv}`` + ``coverage_vs_iteration.png`` under DIR (or ``--output-dir``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.coverage.pca import DEFAULT_BINS, DEFAULT_VARIANCE, coverage_fraction
from dpgen_llzo.coverage.species import ALL, coverage_by_element
from dpgen_llzo.errors import UserInputError

DEFAULT_TYPE_MAP = ("Li", "La", "Zr", "O")


def add_subparser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``coverage`` sub-command."""
    parser = subparsers.add_parser(
        "coverage",
        help="PCA coverage of test (MD) environments by the training set",
        description=(
            "Coverage of TEST descriptor rows by TRAIN descriptor rows (You et al. 2024): "
            "standardise with the training mean/std, PCA fitted on train, keep the smallest m "
            "(>= 2) components reaching --variance, and for every pair of components count the "
            "grid cells holding test points that also hold training points. Prints the mean "
            "over pairs."
        ),
    )
    parser.add_argument(
        "train",
        metavar="TRAIN.npy",
        type=Path,
        nargs="?",
        help="training descriptors, rows = environments",
    )
    parser.add_argument(
        "test",
        metavar="TEST.npy",
        type=Path,
        nargs="?",
        help="test descriptors, same number of columns",
    )
    parser.add_argument(
        "--variance",
        type=float,
        default=None,
        help="cumulative explained variance that sets the number of components "
        f"(default {DEFAULT_VARIANCE}, or the param's _dpgen_llzo.coverage)",
    )
    parser.add_argument(
        "--bins",
        type=int,
        default=None,
        help=f"grid cells per axis (default {DEFAULT_BINS}, or the param's _dpgen_llzo.coverage)",
    )
    loop = parser.add_argument_group(
        "DP-GEN work directory (instead of TRAIN.npy TEST.npy)",
        "Descriptors of iteration N's training frames and explored (model_devi) frames, "
        "computed with iteration N's model iter.N/00.train/graph.000.",
    )
    loop.add_argument("--workdir", type=Path, metavar="DIR", help="DP-GEN work directory")
    loop.add_argument(
        "--iter",
        type=int,
        metavar="N",
        dest="iteration",
        help="iteration (default: the last one with exploration trajectories)",
    )
    loop.add_argument(
        "--param",
        type=Path,
        metavar="PARAM",
        help="DP-GEN param.json: its _dpgen_llzo.coverage settings and type_map",
    )
    loop.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the reports here (same layout) instead of into the work directory",
    )
    loop.add_argument("--max-train-frames", type=int, help="training frames sampled (default 100)")
    loop.add_argument("--max-test-frames", type=int, help="explored frames sampled (default 100)")
    loop.add_argument("--seed", type=int, help="seed of the frame sampling (default 2024)")
    loop.add_argument("--threshold", type=float, help="converged coverage (default 0.995)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument(
        "--train-types",
        metavar="TYPES.npy",
        type=Path,
        help="integer type of each TRAIN row (index into --type-map); "
        "with --test-types adds per-element coverage",
    )
    parser.add_argument(
        "--test-types", metavar="TYPES.npy", type=Path, help="integer type of each TEST row"
    )
    parser.add_argument(
        "--type-map",
        nargs="+",
        default=list(DEFAULT_TYPE_MAP),
        metavar="ELEMENT",
        help=f"element names of the types (default {' '.join(DEFAULT_TYPE_MAP)})",
    )
    parser.add_argument("-o", "--output", type=Path, help="also write the JSON result to this file")
    parser.set_defaults(func=handler)
    return parser


def handler(args: argparse.Namespace) -> int:
    """Run the coverage command; returns the exit code."""
    if args.workdir is not None:
        return workdir_handler(args)
    if args.train is None or args.test is None:
        raise UserInputError("give TRAIN.npy and TEST.npy, or --workdir DIR")
    loop_only = {
        "iteration": "--iter",
        "param": "--param",
        "output_dir": "--output-dir",
        "max_train_frames": "--max-train-frames",
        "max_test_frames": "--max-test-frames",
        "seed": "--seed",
        "threshold": "--threshold",
    }
    given = [flag for key, flag in loop_only.items() if getattr(args, key) is not None]
    if given:
        raise UserInputError(f"{', '.join(given)} only apply with --workdir")
    if (args.train_types is None) != (args.test_types is None):
        raise UserInputError("give both --train-types and --test-types, or neither")
    variance = DEFAULT_VARIANCE if args.variance is None else args.variance
    bins = DEFAULT_BINS if args.bins is None else args.bins
    train = load_matrix(args.train)
    test = load_matrix(args.test)
    if args.train_types is None:
        result = coverage_fraction(train, test, variance=variance, bins=bins)
        payload = result.to_dict()
    else:
        per = coverage_by_element(
            train,
            test,
            load_types(args.train_types),
            load_types(args.test_types),
            args.type_map,
            variance=variance,
            bins=bins,
        )
        payload = per[ALL].to_dict()
        payload["per_element"] = {el: r.to_dict() for el, r in per.items() if el != ALL}
    if args.output is not None:
        write_json_atomic(args.output, payload)
    print(json.dumps(payload, indent=2) if args.json else summary(payload))
    return 0


def workdir_handler(args: argparse.Namespace) -> int:
    """``--workdir DIR [--iter N]``: coverage of one DP-GEN iteration, reports written."""
    from dpgen_llzo.coverage.workflow import coverage_step, last_explored_iteration

    if args.train is not None or args.test is not None:
        raise UserInputError("give either TRAIN.npy TEST.npy or --workdir, not both")
    if args.train_types is not None or args.test_types is not None:
        raise UserInputError("--train-types/--test-types do not apply with --workdir")
    if not args.workdir.is_dir():
        raise UserInputError(f"{args.workdir}: work directory not found")
    param: dict[str, Any] = {}
    section: dict[str, Any] = {}
    if args.param is not None:
        from dpgen_llzo.config import load_json, load_llzo_settings

        param = load_json(args.param)
        section = dict(load_llzo_settings(args.param)["coverage"])
    overrides = {
        "variance": args.variance,
        "bins": args.bins,
        "max_train_frames": args.max_train_frames,
        "max_test_frames": args.max_test_frames,
        "seed": args.seed,
        "threshold": args.threshold,
    }
    section.update({k: v for k, v in overrides.items() if v is not None})
    iteration = args.iteration
    if iteration is None:
        iteration = last_explored_iteration(args.workdir)
    if iteration < 0:
        raise UserInputError(f"--iter must be >= 0, got {iteration}")
    report_root = args.output_dir if args.output_dir is not None else args.workdir
    report_root.mkdir(parents=True, exist_ok=True)
    step = coverage_step(args.workdir, iteration, section, param=param or None, report_root=report_root)
    payload = step.report
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(f"iteration {iteration}: " + summary(payload))
        print(f"written: {', '.join(str(p) for p in step.written)}")
    return 0


def summary(payload: dict[str, Any]) -> str:
    """Short human-readable report of a coverage payload."""
    lines = [
        f"coverage {payload['fraction']:.4f} over {len(payload['pair_fractions'])} component pairs "
        f"(m = {payload['n_components']}, "
        f"{payload['cumulative_explained_variance']:.3f} of the variance, "
        f"bins = {payload['bins']}, {payload['n_train']} train / {payload['n_test']} test rows)"
    ]
    for element, sub in payload.get("per_element", {}).items():
        lines.append(
            f"  {element:<3} {sub['fraction']:.4f} "
            f"(m = {sub['n_components']}, {sub['n_test']} test rows)"
        )
    return "\n".join(lines)


def load_matrix(path: Path) -> np.ndarray:
    """Memory-map a 2-D ``.npy`` descriptor matrix (no copy is made)."""
    x = _load_npy(path)
    if x.ndim != 2:
        raise UserInputError(
            f"{path}: expected a 2-D array (rows = environments), got shape {x.shape}"
        )
    return x


def load_types(path: Path) -> np.ndarray:
    """Read a 1-D integer ``.npy`` array of atom types."""
    return np.asarray(_load_npy(path))


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserInputError(f"{path}: file not found")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UserInputError(f"{path}: not a readable .npy array ({exc})") from None


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically to a user-given ``path`` whose directory must already exist."""
    from dpgen_llzo.atomic_io import write_json_atomic as write_atomic

    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UserInputError(f"{path}: directory {directory} does not exist")
    write_atomic(path, payload)
