"""``dpgen-llzo structures``: list the structure generators and write one as a VASP POSCAR.

Examples::

    dpgen-llzo structures list
    dpgen-llzo structures build llzo-cubic --seed 3 --supercell 2 2 2 --a 13.1 -o POSCAR
    dpgen-llzo structures build llzo-tetragonal --param c=12.70 -o POSCAR_tet
    dpgen-llzo structures build llzo-doped --dopant Ga --x 0.25 -o POSCAR_ga
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dpgen_llzo.cli import show_help
from dpgen_llzo.errors import UserInputError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``structures`` command with its ``list`` and ``build`` sub-commands."""
    parser = subparsers.add_parser(
        "structures",
        help="build LLZO crystal structures (cubic, tetragonal, doped)",
        description="List the structure generators or build one and write it as a VASP POSCAR.",
    )
    actions = parser.add_subparsers(dest="structures_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: show_help(parser))

    listing = actions.add_parser(
        "list", help="list the structure generators", description="List the structure generators."
    )
    listing.set_defaults(func=list_handler)

    build = actions.add_parser(
        "build",
        help="build a structure and write a POSCAR",
        description=(
            "Build a registered structure and write it as a VASP POSCAR (species order "
            "Li La Zr O, then any dopant). 'dpgen-llzo structures list' shows the names and "
            "their parameters."
        ),
    )
    build.add_argument("name", metavar="NAME", help="generator name, e.g. llzo-cubic")
    build.add_argument(
        "--seed", type=int, default=0, help="random seed of the Li ordering (default 0)"
    )
    build.add_argument(
        "--supercell",
        type=int,
        nargs=3,
        default=(1, 1, 1),
        metavar=("NA", "NB", "NC"),
        help="repetitions along a, b, c (default 1 1 1); llzo-doped repeats the cell it chose",
    )
    build.add_argument("--a", type=float, default=None, help="lattice parameter a in Å")
    build.add_argument(
        "--c", type=float, default=None, help="lattice parameter c in Å (tetragonal)"
    )
    build.add_argument("--dopant", default=None, help="dopant Al, Ga, Ta or Nb (llzo-doped)")
    build.add_argument(
        "--x", type=float, default=None, help="dopant per formula unit (llzo-doped)"
    )
    build.add_argument("--dopant2", default=None, help="second dopant, co-doping (llzo-doped)")
    build.add_argument("--x2", type=float, default=None, help="second dopant per formula unit")
    build.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator parameter, repeatable (e.g. n_candidates=500)",
    )
    build.add_argument("-o", "--output", required=True, help="POSCAR file to write")
    build.set_defaults(func=build_handler)


def parse_param(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE``; VALUE becomes an int, float, bool (true/false) or None (none) if it
    reads as one, else stays a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserInputError(f"--param expects KEY=VALUE, got {text!r}")
    raw = raw.strip()
    lowered = raw.lower()
    if lowered in ("none", "null"):
        return key, None
    if lowered in ("true", "false"):
        return key, lowered == "true"
    for convert in (int, float):
        try:
            return key, convert(raw)
        except ValueError:
            pass
    return key, raw


def list_handler(args: argparse.Namespace) -> int:
    """Print a table of the registered generators and their parameters."""
    from dpgen_llzo.structures import STRUCTURES, generator_parameters

    entries = list(STRUCTURES.entries())
    width = max([len("NAME")] + [len(entry.name) for entry in entries])
    print(f"{'NAME':<{width}}  SUMMARY")
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.summary}")
        params = ", ".join(f"{k}={v!r}" for k, v in generator_parameters(entry.name).items())
        print(f"{'':<{width}}  parameters: {params or '(none)'}")
    return 0


def build_handler(args: argparse.Namespace) -> int:
    """Build the requested structure and write it atomically as a POSCAR."""
    params: dict[str, Any] = {}
    for text in args.param:
        key, value = parse_param(text)
        if key in params:
            raise UserInputError(f"parameter {key!r} given twice")
        params[key] = value
    for key in ("a", "c", "dopant", "x", "dopant2", "x2"):
        value = getattr(args, key)
        if value is not None:
            if key in params:
                raise UserInputError(f"parameter {key!r} given both as --{key} and --param")
            params[key] = value
    output = Path(args.output)
    if not output.parent.is_dir():
        raise UserInputError(f"{output}: directory {output.parent} does not exist")

    from dpgen_llzo.structures import build_structure

    supercell = tuple(args.supercell)
    structure = build_structure(args.name, seed=args.seed, supercell=supercell, **params)
    formula = structure.composition.formula.replace(" ", "")
    comment = f"{formula} {args.name} seed={args.seed} supercell={'x'.join(map(str, supercell))}"
    write_poscar(structure, output, comment)
    print(f"wrote {output}: {formula}, {len(structure)} atoms, volume {structure.volume:.3f} Å^3")
    return 0


def write_poscar(structure: Any, path: Path, comment: str) -> None:
    """Write ``structure`` as a POSCAR atomically."""
    from pymatgen.io.vasp import Poscar

    from dpgen_llzo.atomic_io import write_text_atomic

    write_text_atomic(path, Poscar(structure, comment=comment).get_str())
