"""``dpgen-llzo validate``: energy/force errors of frozen models on labelled datasets."""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="energy/force RMSE and parity plots of DP models on labelled deepmd/npy data",
        description=(
            "Evaluate frozen DeePMD models on labelled deepmd/npy datasets and report energy "
            "(meV/atom) and force (meV/Å) errors per data class and for all data, per model and "
            "for the committee mean. Writes OUT/validation.json and OUT/parity_<class>.png."
        ),
    )
    parser.add_argument("models", nargs="+", help="frozen models (.pb)")
    parser.add_argument("--data", nargs="+", required=True, help="deepmd/npy datasets; CLASS=DIR puts DIR in class CLASS (default class: DIR's name)")
    parser.add_argument("--output", "-o", default="validation", help="output directory (default ./validation)")
    parser.set_defaults(func=run)


def parse_data_classes(specs: list[str]) -> dict[str, list[str]]:
    """``["crystal=a/b", "c/d"]`` → ``{"crystal": ["a/b"], "d": ["c/d"]}``."""
    from pathlib import Path

    classes: dict[str, list[str]] = {}
    for spec in specs:
        name, _, directory = spec.rpartition("=")
        directory = directory or spec
        classes.setdefault(name or Path(directory).name, []).append(directory)
    return classes


def run(args: argparse.Namespace) -> int:
    from dpgen_llzo.validation import validate_classes

    result = validate_classes(args.models, parse_data_classes(args.data), args.output)
    for name, entry in result["classes"].items():
        if name == "all":
            continue
        row = entry["committee"]
        print(f"{name:20s} frames {row['n_frames']:5d}  E RMSE {row['energy_rmse_meV_atom']:8.2f} meV/atom  F RMSE {row['force_rmse_meV_A']:7.1f} meV/Å")
    print(f"written {args.output}/validation.json")
    return 0
