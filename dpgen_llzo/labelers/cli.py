"""``dpgen-llzo label``: the command behind ``fp_style: "custom"``."""

from __future__ import annotations

import argparse
import sys

#: Exit code when frames were rejected as unphysical (the machine file's fp command maps it
#: to "task done, no data" so DP-GEN counts the task as failed instead of aborting).
EXIT_REJECTED = 3

DEFAULT_TYPE_MAP = "Li,La,Zr,O"


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "label",
        help="label frames with an embedded teacher and write deepmd/npy (fp_style: custom)",
        description=(
            "Label the frames of INPUT with a registered labeler and write a dpdata deepmd/npy "
            "LabeledSystem (energies eV, forces eV/Å, virials eV) in type-map order. Frames "
            "with a pair of atoms closer than its physical minimum (default 0.45 x the sum of "
            "covalent radii: Li-O 0.87 Å, Li-Li 1.15 Å, Zr-O 1.09 Å, La-O 1.23 Å; --min-distance), "
            "non-finite labels or a force above --max-force are rejected: nothing is "
            f"written for them and the exit code is {EXIT_REJECTED}."
        ),
    )
    parser.add_argument("input", help="structure file or directory readable by dpdata")
    parser.add_argument("--input-fmt", default="vasp/poscar", help="dpdata format of INPUT (default vasp/poscar)")
    parser.add_argument("--output", "-o", required=True, help="output deepmd/npy directory")
    parser.add_argument("--labeler", default="chgnet", help="registered labeler (see --list)")
    parser.add_argument("--type-map", default=DEFAULT_TYPE_MAP, help=f"comma-separated element order (default {DEFAULT_TYPE_MAP})")
    parser.add_argument("--max-force", type=float, default=20.0, help="reject frames with a force norm above this, eV/Å (default 20)")
    parser.add_argument(
        "--min-distance",
        default="",
        metavar="PAIR=Å,...",
        help="override the closest physical distance of element pairs, e.g. Li-O=1.0,Li-Li=1.2",
    )
    parser.add_argument("--model", default="", help="model of the labeler: a DeePMD model file for --labeler deepmd, a weights name or directory for chgnet/diep")
    parser.add_argument("--head", default="", help="head of a multi-task DeePMD model (--labeler deepmd)")
    parser.add_argument("--device", default="cpu", help="torch device of the labeler (default cpu)")
    parser.add_argument(
        "--calculator",
        default="",
        metavar="MODULE:CLASS",
        help="--labeler ase: import path of the ASE calculator class or factory, e.g. ase.calculators.emt:EMT",
    )
    parser.add_argument(
        "--calc-kwargs",
        default="",
        metavar="JSON",
        help="--labeler ase: keyword arguments of the calculator as a JSON object, e.g. '{\"sigma\": 2.0}'",
    )
    parser.add_argument(
        "--drop-rejected",
        action="store_true",
        help="write the accepted frames of a multi-frame INPUT and drop rejected ones (exit 0 if any was kept)",
    )
    parser.add_argument("--list", action="store_true", help="list the registered labelers and exit")
    parser.set_defaults(func=run_label)


def run_label(args: argparse.Namespace) -> int:
    import os

    from dpgen_llzo.errors import UserInputError
    from dpgen_llzo.labelers import LABELERS, get_labeler
    from dpgen_llzo.labelers.base import check_max_force
    from dpgen_llzo.short_range import parse_min_distances

    if args.list:
        for entry in LABELERS.entries():
            print(f"{entry.name:12s} {entry.summary}")
        return 0
    import dpdata

    from dpgen_llzo.labelers.labelling import label_system, write_deepmd_npy

    type_map = [t.strip() for t in args.type_map.split(",") if t.strip()]
    max_force = check_max_force(args.max_force)
    try:
        min_distances = parse_min_distances(args.min_distance)
    except ValueError as exc:
        raise UserInputError(f"--min-distance: {exc}") from None
    options = {"device": args.device}
    if args.model:
        options["model"] = os.path.abspath(args.model) if os.path.exists(args.model) else args.model
    if args.head:
        options["head"] = args.head
    if args.labeler == "ase":
        options.update(calculator=args.calculator, kwargs=args.calc_kwargs)
    elif args.calculator or args.calc_kwargs:
        raise UserInputError(f"--calculator and --calc-kwargs go with --labeler ase, not --labeler {args.labeler}")
    labeler = get_labeler(args.labeler, **options)
    if hasattr(labeler, "check"):
        labeler.check()  # a bad import path is reported before the input is read
    if not os.path.exists(args.input):
        raise UserInputError(f"{args.input}: no such file or directory")
    try:
        system = dpdata.System(args.input, fmt=args.input_fmt)
    except Exception as exc:  # dpdata raises many kinds of errors for unreadable input
        raise UserInputError(f"{args.input}: cannot read as {args.input_fmt}: {exc}") from exc
    if system.get_nframes() == 0:
        raise UserInputError(f"{args.input}: no frames read as {args.input_fmt}")
    labeled, rejections = label_system(system, labeler, type_map, max_force, min_distances=min_distances)
    for rejection in rejections:
        print(f"rejected frame {rejection.frame_index}: {rejection.reason}", file=sys.stderr)
    if rejections and not (args.drop_rejected and labeled is not None):
        print(
            f"dpgen-llzo label: {len(rejections)} of {system.get_nframes()} frames rejected; nothing written to {args.output}",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    write_deepmd_npy(labeled, args.output)
    print(f"labelled {len(labeled)} frames ({labeler.name}) -> {args.output}; rejected {len(rejections)}")
    return 0
