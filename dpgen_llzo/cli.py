"""The ``dpgen-llzo`` command line.

The CLI only parses arguments and calls library functions. Each sub-command lives in a module
that exposes ``add_subparser(subparsers)``; that function adds its parser and sets
``func=handler`` on it. Modules must keep their top-level imports light (no TensorFlow, torch
or CHGNet at import time) so ``dpgen-llzo --help`` stays fast: import heavy packages inside
the handler.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dpgen_llzo import __version__
from dpgen_llzo.errors import UserInputError

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "dpgen_llzo.structures.cli",
    "dpgen_llzo.labelers.cli",
    "dpgen_llzo.init_data.cli",
    "dpgen_llzo.demo.cli",
    "dpgen_llzo.loop.cli",
    "dpgen_llzo.distill.cli",
    "dpgen_llzo.status_cli",
    "dpgen_llzo.validate_cli",
    "dpgen_llzo.autotest.cli",
    "dpgen_llzo.bundle_cli",
    "dpgen_llzo.export",
    "dpgen_llzo.neb.cli",
    "dpgen_llzo.coverage.cli",
    "dpgen_llzo.gb.cli",
    "dpgen_llzo.analysis.cli",
    "dpgen_llzo.study.cli",
)


def show_help(parser: argparse.ArgumentParser) -> int:
    """Handler of a command group called without an action: print its help, exit code 2."""
    parser.print_help()
    return 2


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="dpgen-llzo",
        description="DP-GEN plugin for garnet LLZO: structures, teacher labels, demo loop, analysis.",
    )
    parser.add_argument("--version", action="version", version=f"dpgen-llzo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_subparser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dpgen-llzo`` console script; returns the exit code."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserInputError as exc:
        print(f"dpgen-llzo: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
