"""``dpgen-llzo run PARAM MACHINE``: DP-GEN's loop with the coverage step and stop criterion."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_subparser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run",
        help="the DP-GEN loop (as `dpgen run`) plus PCA coverage and a coverage stop",
        description=(
            "Run DP-GEN's nine-step loop (make_train ... post_fp, DP-GEN's own step functions and "
            "record.dpgen, so `dpgen run` can take over the same work directory at any point). "
            "After each exploration it computes the PCA coverage of the explored environments by "
            "the training data (iter.N/01.model_devi/coverage.json, coverage.csv, "
            "coverage_vs_iteration.png) and stops once the coverage reached "
            "_dpgen_llzo.coverage.threshold (default 0.995) for `consecutive` (default 2) "
            "iterations in a row, or when model_devi_jobs run out. Optional error-driven "
            "augmentation: _dpgen_llzo.augmentation."
        ),
    )
    parser.add_argument("param", metavar="PARAM", type=Path, help="DP-GEN param.json (with an optional _dpgen_llzo section)")
    parser.add_argument("machine", metavar="MACHINE", type=Path, help="DP-GEN machine.json")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="DP-GEN work directory (default: the current directory, as `dpgen run`)",
    )
    parser.set_defaults(func=handler)
    return parser


def handler(args: argparse.Namespace) -> int:
    """Run the loop; exit code 0 when it stopped by itself (converged or schedule ended)."""
    from dpgen_llzo.loop.runner import run_loop

    outcome = run_loop(args.param, args.machine, workdir=args.workdir)
    print(f"dpgen-llzo run: {outcome.reason} at iteration {outcome.iteration}: {outcome.message}")
    return 0
