"""``dpgen-llzo gb``: build grain-boundary cells, regenerate the committed ones, carve fp tasks.

Examples::

    dpgen-llzo gb list --axis 1 -1 0
    dpgen-llzo gb build --sigma 3 --axis 1 -1 0 --plane 1 1 2 -o gb/POSCAR
    dpgen-llzo gb regenerate gb_systems/            # rebuild every committed cell in place
    dpgen-llzo gb regenerate gb_systems/ --check    # compare only; exit 1 on a difference
    dpgen-llzo gb carve traj/5000.lammpstrj --model-devi model_devi.out --step 5000 \\
        -n 4 --fp-dir iter.000003/02.fp --system-index 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dpgen_llzo.cli import show_help
from dpgen_llzo.errors import UserInputError


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gb`` command with its ``list``, ``build``, ``regenerate`` and ``carve`` actions."""
    parser = subparsers.add_parser(
        "gb",
        help="grain-boundary cells: build with aimsgb, regenerate, carve fp tasks",
        description="Build charge-neutral, stoichiometric grain-boundary cells of cubic LLZO "
        "with aimsgb, regenerate the committed ones, and carve small DFT cells from large GB "
        "frames.",
    )
    actions = parser.add_subparsers(dest="gb_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: show_help(parser))

    listing = actions.add_parser(
        "list",
        help="list the sigma values and GB planes aimsgb knows for an axis",
        description="List the sigma values and GB planes aimsgb can build about a rotation axis.",
    )
    listing.add_argument("--axis", type=int, nargs=3, required=True, metavar=("U", "V", "W"))
    listing.add_argument("--max-sigma", type=int, default=30, help="largest sigma (default 30)")
    listing.set_defaults(func=list_handler)

    build = actions.add_parser(
        "build",
        help="build a GB cell and write POSCAR + JSON",
        description="Build a periodic cell with two grain boundaries (charge-neutral, an "
        "integer number of formula units, GB planes more than --min-separation apart) and "
        "write it as a POSCAR with a JSON record next to it (default: POSCAR.json).",
    )
    build.add_argument("--sigma", type=int, required=True, help="sigma (odd, >= 3)")
    build.add_argument(
        "--axis",
        type=int,
        nargs=3,
        required=True,
        metavar=("U", "V", "W"),
        help="rotation axis [uvw]",
    )
    build.add_argument(
        "--plane", type=int, nargs=3, required=True, metavar=("H", "K", "L"), help="GB plane (hkl)"
    )
    build.add_argument(
        "--bulk",
        default=None,
        metavar="POSCAR",
        help="cubic bulk cell to use (default: the llzo-cubic generator)",
    )
    build.add_argument(
        "--seed", type=int, default=0, help="seed of the cubic Li ordering (default 0)"
    )
    build.add_argument(
        "--a", type=float, default=None, help="cubic lattice parameter, Å (default 12.97)"
    )
    build.add_argument("--uc-a", type=int, default=None, help="grain A thickness in CSL periods")
    build.add_argument("--uc-b", type=int, default=None, help="grain B thickness in CSL periods")
    build.add_argument(
        "--vacuum", type=float, default=0.0, help="vacuum above grain B, Å (default 0)"
    )
    build.add_argument(
        "--min-separation",
        type=float,
        default=None,
        help="GB planes must be more than this apart, Å (default 12 = 2 rcut)",
    )
    build.add_argument(
        "--scan-offsets",
        type=int,
        default=None,
        help="cut positions tried along the stacking vector (default 4)",
    )
    build.add_argument(
        "--scan-translations",
        type=int,
        default=None,
        help="in-plane shifts of grain B tried per CSL vector (default 2)",
    )
    build.add_argument(
        "--scan-gaps",
        type=float,
        nargs="+",
        default=None,
        metavar="GAP",
        help="openings tried at each GB, Å (default 0 0.75 1.5)",
    )
    for flag, help_text in (
        ("--min-distance", "no two atoms closer, Å (default 1.5)"),
        ("--min-like-charge", "no two cations / two anions closer, Å (default 2.2)"),
        ("--merge-distance", "same-element pairs closer are merged, Å (default 1.0)"),
        (
            "--bulk-fraction",
            "every element pair stays >= this fraction of its shortest bulk distance (default 0.85; 0: off)",
        ),
        (
            "--region-half-width",
            "stoichiometry restored within this distance of a plane, Å (default 5)",
        ),
    ):
        build.add_argument(flag, type=float, default=None, help=help_text)
    build.add_argument("-o", "--output", required=True, help="POSCAR file to write")
    build.add_argument("--json", default=None, help="JSON record (default: OUTPUT.json)")
    build.set_defaults(func=build_handler)

    regenerate = actions.add_parser(
        "regenerate",
        help="rebuild every GB cell recorded under a directory",
        description="Rebuild every GB cell whose JSON record (with build_parameters) lies under "
        "DIR and rewrite its POSCAR and JSON; with --check, only compare and exit 1 if a "
        "rebuilt cell differs by more than 1e-6 Å.",
    )
    regenerate.add_argument("directory", metavar="DIR")
    regenerate.add_argument("--check", action="store_true", help="compare only, write nothing")
    regenerate.set_defaults(func=regenerate_handler)

    carve = actions.add_parser(
        "carve",
        help="carve DFT-sized cells around the worst atoms of a frame into fp tasks",
        description="Pick the atoms with the largest force model deviation in a frame, cut a "
        "small cell around each (periodic sub-cell by default) and write DP-GEN fp task "
        "directories task.SSS.FFFFFF/POSCAR under --fp-dir.",
    )
    carve.add_argument("frame", metavar="FRAME", help="LAMMPS dump (*.lammpstrj) or POSCAR")
    carve.add_argument(
        "--model-devi",
        required=True,
        help="model_devi.out written with 'atomic' (per-atom columns)",
    )
    carve.add_argument(
        "--step",
        type=int,
        default=None,
        help="MD step of FRAME in model_devi.out (needed if it has several rows)",
    )
    carve.add_argument(
        "--type-map", default="Li,La,Zr,O", help="LAMMPS type order (default Li,La,Zr,O)"
    )
    carve.add_argument("-n", "--number", type=int, default=4, help="cells to carve (default 4)")
    carve.add_argument("--radius", type=float, default=7.0, help="kept sphere, Å (default 7)")
    carve.add_argument("--rcut", type=float, default=6.0, help="descriptor cutoff, Å (default 6)")
    carve.add_argument("--mode", choices=("periodic", "vacuum"), default="periodic")
    carve.add_argument(
        "--composition", choices=("stoichiometric", "neutral"), default="stoichiometric"
    )
    carve.add_argument(
        "--min-deviation",
        type=float,
        default=0.0,
        help="never centre on atoms below this deviation, eV/Å",
    )
    carve.add_argument("--fp-dir", required=True, help="the 02.fp directory")
    carve.add_argument("--system-index", type=int, required=True, help="DP-GEN system index SSS")
    carve.set_defaults(func=carve_handler)


def list_handler(args: argparse.Namespace) -> int:
    """Print sigma, misorientation and GB planes aimsgb knows for the axis."""
    from dpgen_llzo.gb.csl import gb_planes, known_sigmas, miller, reduce_indices

    axis = reduce_indices(args.axis, "axis")
    sigmas = known_sigmas(axis, args.max_sigma)
    if not sigmas:
        print(f"aimsgb knows no grain boundary about [{miller(axis)}] up to sigma {args.max_sigma}")
        return 0
    print(f"axis [{miller(axis)}]: SIGMA  GB PLANES (cubic equivalents keeping the axis work too)")
    for sigma in sigmas:
        planes = "; ".join(
            ", ".join(f"({miller(p)})" for p in group) for group in gb_planes(axis, sigma)
        )
        print(f"  {sigma:>3}  {planes}")
    return 0


def _spec_from_args(args: argparse.Namespace):
    from dpgen_llzo.gb.builder import GBSpec

    values = {
        "sigma": args.sigma,
        "axis": tuple(args.axis),
        "plane": tuple(args.plane),
        "seed": args.seed,
        "bulk": args.bulk,
        "uc_a": args.uc_a,
        "uc_b": args.uc_b,
        "vacuum": args.vacuum,
    }
    optional = {
        "a": args.a,
        "min_separation": args.min_separation,
        "scan_offsets": args.scan_offsets,
        "scan_translations": args.scan_translations,
        "min_distance": args.min_distance,
        "min_like_charge": args.min_like_charge,
        "merge_distance": args.merge_distance,
        "bulk_fraction": args.bulk_fraction,
        "scan_gaps": tuple(args.scan_gaps) if args.scan_gaps else None,
        "region_half_width": args.region_half_width,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    return GBSpec(**values)


def build_handler(args: argparse.Namespace) -> int:
    """Build one GB cell and write POSCAR + JSON."""
    output = Path(args.output)
    if not output.parent.is_dir():
        raise UserInputError(f"{output}: directory {output.parent} does not exist")
    from dpgen_llzo.gb.builder import build_gb
    from dpgen_llzo.gb.records import write_gb_cell

    spec = _spec_from_args(args)
    started = time.perf_counter()
    cell = build_gb(spec)
    poscar, record = write_gb_cell(cell, output, args.json, command=spec.command(args.output))
    _summary(cell.record, poscar, record, time.perf_counter() - started)
    return 0


def _summary(record: dict, poscar: Path, json_path: Path, seconds: float) -> None:
    abc = " x ".join(f"{x:.3f}" for x in record["lattice_abc_A"])
    print(
        f"wrote {poscar} and {json_path}: {record['composition']} ({record['n_atoms']} atoms, "
        f"{record['n_formula_units']} formula units), cell {abc} Å, GB planes at "
        f"{', '.join(f'{z:.3f}' for z in record['plane_positions_A'])} Å "
        f"({record['plane_separation_A']:.2f} Å apart), {seconds:.1f} s"
    )


def regenerate_handler(args: argparse.Namespace) -> int:
    """Rebuild (or with --check compare) every recorded GB cell under the directory."""
    from dpgen_llzo.gb.records import regenerate

    directory = Path(args.directory)
    if not directory.is_dir():
        raise UserInputError(f"{directory}: not a directory")
    results = regenerate(directory, check_only=args.check)
    if not results:
        raise UserInputError(f"{directory}: no GB JSON records with build_parameters found")
    failed = 0
    for result in results:
        status = "ok" if result.matches else "DIFFERS"
        failed += not result.matches
        action = "checked" if args.check else "rebuilt"
        print(
            f"{action} {result.poscar}: {status} (max deviation {result.max_deviation_A:.2e} Å, "
            f"{result.seconds:.1f} s)"
        )
    return 1 if failed and args.check else 0


def carve_handler(args: argparse.Namespace) -> int:
    """Carve cells around the worst atoms of one frame and write fp tasks."""
    import numpy as np

    from dpgen_llzo.gb.carving import carve_frame, read_atomic_model_devi
    from dpgen_llzo.gb.fp_tasks import write_fp_tasks

    type_map = [t.strip() for t in args.type_map.split(",") if t.strip()]
    structure = _read_frame(Path(args.frame), type_map)
    steps, deviations = read_atomic_model_devi(args.model_devi)
    if args.step is None:
        if len(steps) != 1:
            raise UserInputError(f"{args.model_devi} has {len(steps)} rows; give --step")
        row = 0
    else:
        rows = np.flatnonzero(steps == args.step)
        if not len(rows):
            raise UserInputError(f"{args.model_devi}: no row for step {args.step}")
        row = int(rows[-1])
    cells = carve_frame(
        structure,
        deviations[row],
        args.number,
        args.radius,
        args.mode,
        min_deviation=args.min_deviation,
        rcut=args.rcut,
        composition=args.composition,
    )
    source = {"frame": str(args.frame), "model_devi": str(args.model_devi), "step": int(steps[row])}
    tasks = write_fp_tasks(cells, args.fp_dir, args.system_index, type_map=type_map, source=source)
    for task, (cell, info) in zip(tasks, cells):
        print(
            f"wrote {task}: {len(cell)} atoms around parent atom {info.parent_centre_index} "
            f"(deviation {deviations[row][info.parent_centre_index]:.3f} eV/Å), "
            f"{info.n_intact} with intact environments"
        )
    return 0


def _read_frame(path: Path, type_map: list[str]):
    """A pymatgen Structure from a LAMMPS dump (atoms in id order) or any pymatgen format."""
    if not path.is_file():
        raise UserInputError(f"{path}: frame not found")
    if path.suffix in (".lammpstrj", ".dump"):
        import dpdata

        system = dpdata.System(str(path), fmt="lammps/dump", type_map=type_map)
        if system.get_nframes() != 1:
            raise UserInputError(f"{path}: expected one frame, found {system.get_nframes()}")
        return system.to("pymatgen/structure")[0]
    from pymatgen.core import Structure

    try:
        return Structure.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 (pymatgen raises many types for unreadable files)
        raise UserInputError(f"{path}: cannot read a structure ({exc})") from None
