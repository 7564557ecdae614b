"""``dpgen-llzo status WORKDIR``: iterations, frames, failures, coverage, jobs and the resume point."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_subparser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``status`` sub-command."""
    parser = subparsers.add_parser(
        "status",
        help="where a DP-GEN work directory stands (read-only)",
        description=(
            "Summarise a DP-GEN work directory without touching it: initial frames, per iteration "
            "the models, exploration tasks, candidate/accurate/failed frames, fp tasks, carved "
            "tasks, labelled frames, fp tasks that gave no frame and the PCA coverage; dpdispatcher "
            "jobs that have not finished (and whether their local process still runs); the last "
            "step in record.dpgen and where `dpgen run` / `dpgen-llzo run` will resume."
        ),
    )
    parser.add_argument("workdir", metavar="WORKDIR", type=Path, nargs="?", default=Path("."), help="the work directory (default: .)")
    parser.add_argument("--init-output", default="init", metavar="DIR", help="_dpgen_llzo.init.output of the bundle (default: init)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the summary as JSON")
    parser.set_defaults(func=handler)
    return parser


def handler(args: argparse.Namespace) -> int:
    """Print the summary (and write the JSON)."""
    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.status import format_status, workdir_status

    status = workdir_status(args.workdir, args.init_output)
    print(format_status(status))
    if args.json:
        write_json_atomic(args.json, status.to_dict())
    return 0
