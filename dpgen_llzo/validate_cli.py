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
    from pathlib import Path

    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.errors import UserInputError
    from dpgen_llzo.validation import ensemble_mean, error_summary, parity_plot, predict_datasets

    for model in args.models:
        if not Path(model).is_file():
            raise UserInputError(f"{model}: model file not found")
    classes = parse_data_classes(args.data)
    for directories in classes.values():
        for directory in directories:
            if not Path(directory, "type.raw").is_file():
                raise UserInputError(f"{directory}: not a deepmd/npy dataset (no type.raw)")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict] = {}
    pooled = None
    for name, directories in classes.items():
        per_model = [predict_datasets(model, directories) for model in args.models]
        committee = ensemble_mean(per_model)
        pooled = committee if pooled is None else pooled.concat(committee)
        report[name] = {"datasets": directories, "committee": error_summary(committee), "models": [error_summary(p) for p in per_model]}
        parity_plot(committee, out / f"parity_{name}.png", title=f"{name}: committee of {len(args.models)}")
        row = report[name]["committee"]
        print(f"{name:20s} frames {row['n_frames']:5d}  E RMSE {row['energy_rmse_meV_atom']:8.2f} meV/atom  F RMSE {row['force_rmse_meV_A']:7.1f} meV/Å")
    report["all"] = {"committee": error_summary(pooled)}
    write_json_atomic(out / "validation.json", {"models": args.models, "classes": report})
    print(f"written {out / 'validation.json'}")
    return 0
