"""``dpgen-llzo neb MODEL``: climbing-image NEB of a Li hop with a DeePMD model, and the teacher beside it."""

from __future__ import annotations

import argparse
import os

from dpgen_llzo.errors import UserInputError

#: Hop of ``--hop`` when no end points are given.
DEFAULT_HOP = "cubic-24d-24d"


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    from dpgen_llzo.neb.endpoints import HOPS
    from dpgen_llzo.neb.path import OPTIMIZERS

    parser = subparsers.add_parser(
        "neb",
        help="Li-hop barrier: climbing-image NEB with a DeePMD model (and a teacher on the same path)",
        description=(
            "Build the end points of an elementary Li hop of LLZO (or read --initial/--final), relax them "
            "with MODEL (a frozen DeePMD model), optimise a climbing-image nudged elastic band (ASE) and "
            "report the forward/backward barriers (eV). Hops: cubic-24d-24d (24d -> 96h -> 48g -> 96h -> 24d "
            "into a 24d vacancy, Li55), cubic-24d-96h (into an empty cage, Li56), cubic-vacancy (a cage's "
            "96h Li into a 24d vacancy), tetragonal (8a -> vacant 32g) and tetragonal-16f-32g. With "
            "--labeler the teacher evaluates the model's images (so the model's barrier error is a number); "
            "--teacher-neb re-optimises the band with the teacher. Writes neb.json, neb.csv, neb.png, "
            "path_*.extxyz and the relaxed end points to --output."
        ),
    )
    parser.add_argument("model", help="frozen DeePMD model (.pb, .pth, ...) for deepmd.calculator.DP")
    parser.add_argument("--hop", choices=HOPS, default=None, help=f"hop of a generated cell (default {DEFAULT_HOP})")
    parser.add_argument("--initial", default="", metavar="POSCAR", help="initial end point (any ASE-readable file; with --final)")
    parser.add_argument("--final", default="", metavar="POSCAR", help="final end point, same atoms in the same order")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cubic cell's Li ordering (default 0)")
    parser.add_argument("--choice", type=int, default=0, help="which of the cell's equivalent candidate hops (default 0)")
    parser.add_argument("--a", type=float, default=None, help="lattice parameter a, Å (default the generator's)")
    parser.add_argument("--c", type=float, default=None, help="tetragonal lattice parameter c, Å")
    parser.add_argument("--images", type=int, default=7, help="images between the end points (default 7)")
    parser.add_argument("--fmax", type=float, default=0.05, help="convergence of band and end points, eV/Å (default 0.05)")
    parser.add_argument("--steps", type=int, default=500, help="largest number of band optimizer steps (default 500)")
    parser.add_argument("--relax-steps", type=int, default=300, help="largest number of steps per end-point relaxation (default 300)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="FIRE", help="band optimizer (default FIRE)")
    parser.add_argument("--spring", type=float, default=0.1, help="spring constant between images, eV/Å² (default 0.1)")
    parser.add_argument("--no-climb", action="store_true", help="plain NEB, no climbing image")
    parser.add_argument("--no-relax", action="store_true", help="take the end points as given, unrelaxed")
    parser.add_argument("--interpolation", choices=("auto", "linear", "idpp"), default="auto",
                        help="initial band: the hop's waypoints through the sites (linear), IDPP, or auto (waypoints when the hop has them)")
    parser.add_argument("--labeler", default="", help="teacher that evaluates the same images (a registered labeler: diep, chgnet, ase, ...)")
    parser.add_argument("--labeler-model", default="", help="model of the teacher (as dpgen-llzo label --model)")
    parser.add_argument("--calculator", default="", metavar="MODULE:CLASS", help="--labeler ase: the ASE calculator")
    parser.add_argument("--calc-kwargs", default="", metavar="JSON", help="--labeler ase: its keyword arguments")
    parser.add_argument("--device", default="cpu", help="torch device of the teacher (default cpu)")
    parser.add_argument("--teacher-neb", action="store_true", help="also relax the end points and the band with the teacher")
    parser.add_argument("--teacher-steps", type=int, default=None, help="largest number of the teacher band's steps (default --steps)")
    parser.add_argument("-o", "--output", default="", help="output directory (default neb-HOP)")
    parser.set_defaults(func=run_neb_command)


def load_model(path: str):
    """``deepmd.calculator.DP`` for a model file; a missing or unloadable file is one line."""
    if not os.path.isfile(path):
        raise UserInputError(f"{path}: model file not found")
    from deepmd.calculator import DP

    try:
        return DP(model=str(path))
    except Exception as exc:
        raise UserInputError(f"{path}: cannot load the DeePMD model: {exc}".splitlines()[0]) from None


def _teacher(args: argparse.Namespace):
    from dpgen_llzo.labelers import get_labeler

    options = {"device": args.device}
    if args.labeler_model:
        options["model"] = os.path.abspath(args.labeler_model) if os.path.exists(args.labeler_model) else args.labeler_model
    if args.labeler == "ase":
        options.update(calculator=args.calculator, kwargs=args.calc_kwargs)
    elif args.calculator or args.calc_kwargs:
        raise UserInputError(f"--calculator and --calc-kwargs go with --labeler ase, not --labeler {args.labeler}")
    labeler = get_labeler(args.labeler, **options)
    return labeler, labeler.calculator()


def _check(args: argparse.Namespace) -> None:
    checks = [(args.images >= 1, f"--images must be at least 1, got {args.images}"),
              (args.fmax > 0, f"--fmax must be positive, got {args.fmax}"),
              (args.steps >= 1 and args.relax_steps >= 1, "--steps and --relax-steps must be at least 1"),
              (args.spring > 0, f"--spring must be positive, got {args.spring}"),
              (bool(args.initial) == bool(args.final), "--initial and --final go together"),
              (not (args.initial and args.hop), "give either --hop or --initial/--final"),
              (bool(args.labeler) or not args.teacher_neb, "--teacher-neb needs --labeler")]
    for ok, message in checks:
        if not ok:
            raise UserInputError(message)


def _read(path: str):
    from ase.io import read

    if not os.path.isfile(path):
        raise UserInputError(f"{path}: no such structure file")
    try:
        return read(path)
    except Exception as exc:
        raise UserInputError(f"{path}: cannot read the structure: {exc}".splitlines()[0]) from None


def run_neb_command(args: argparse.Namespace, calculator=None) -> int:
    """Handler of ``dpgen-llzo neb``; ``calculator`` replaces the DeePMD model (tests, other potentials)."""
    from dpgen_llzo.neb.endpoints import build_hop, custom_hop
    from dpgen_llzo.neb.workflow import hop_barrier, write_outputs

    _check(args)
    if calculator is None and not os.path.isfile(args.model):
        raise UserInputError(f"{args.model}: model file not found")
    if args.initial:
        hop = custom_hop(_read(args.initial), _read(args.final))
    else:
        hop = build_hop(args.hop or DEFAULT_HOP, seed=args.seed, choice=args.choice, a=args.a, c=args.c)
    teacher_name, teacher = "", None
    if args.labeler:
        labeler, teacher = _teacher(args)
        teacher_name = labeler.name
    if calculator is None:
        calculator = load_model(args.model)
    output = args.output or f"neb-{hop.name}"
    os.makedirs(output, exist_ok=True)
    print(hop.description)
    model_file = os.path.abspath(args.model) if os.path.exists(args.model) else args.model

    def write(report, paths):  # after every stage: a teacher killed midway leaves the model's barrier
        report["model_file"] = model_file
        write_outputs(report, paths, output)

    report, paths = hop_barrier(
        hop, calculator, teacher, teacher_name, n_images=args.images, fmax=args.fmax, steps=args.steps,
        optimizer=args.optimizer, climb=not args.no_climb, spring=args.spring, relax_end_points=not args.no_relax,
        relax_steps=args.relax_steps, interpolation=args.interpolation, teacher_neb=args.teacher_neb,
        teacher_steps=args.teacher_steps, logfile=os.path.join(output, "neb.log"), on_stage=write,
    )
    write(report, paths)
    for key, label in (("model", "model"), ("teacher_on_model_path", f"{teacher_name} on the model's path"),
                       ("teacher_neb", f"{teacher_name} NEB")):
        if key in report:
            entry = report[key]
            converged = "" if entry["converged"] is None else ("" if entry["converged"] else " (NOT converged)")
            print(f"{label:32s} forward {entry['barrier_forward_eV']:.3f} eV  backward {entry['barrier_backward_eV']:.3f} eV{converged}")
    for name, value in report.get("barrier_error_eV", {}).items():
        print(f"{name:32s} {value:+.3f} eV")
    print(f"-> {output}/neb.json, neb.csv, neb.png")
    return 0
