"""``dpgen-llzo demo``."""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the embedded demo: init → dpgen run → held-out report",
        description=(
            "Build LLZO initial data with the embedded teacher (CHGNet), run the stock DP-GEN loop "
            "(dpgen run) on the demo bundle, then validate the final models on held-out teacher-MD "
            "frames. Writes WORKDIR/report.json and WORKDIR/parity.png. Re-running resumes."
        ),
    )
    parser.add_argument("--workdir", default="demo-work", help="work directory (default ./demo-work)")
    parser.add_argument("--quick", action="store_true", help="the small bundle param/demo/param-quick.json (~10 min on 2 cores)")
    parser.add_argument("--param", help="use this param.json instead of the bundled one")
    parser.add_argument("--machine", help="use this machine.json instead of machine/local.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from dpgen_llzo.demo.runner import run_demo

    report = run_demo(args.workdir, quick=args.quick, param=args.param, machine=args.machine)
    keys = ("iterations", "iterations_with_labels", "n_training_frames", "energy_rmse_meV_atom", "force_rmse_meV_A", "timings_s")
    print(json.dumps({k: report[k] for k in keys}, indent=2))
    print(f"report: {args.workdir}/report.json, parity plot: {args.workdir}/parity.png")
    return 0
