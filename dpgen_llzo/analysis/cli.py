"""``dpgen-llzo analyze …``: parse arguments, call the analysis library, write JSON and PNG.

Sub-commands: ``list``, ``diffusion``, ``arrhenius``, ``rdf``, ``lattice``, ``transition``,
``xrd``, ``density-map``. Figures go next to the JSON (``OUT_stem-*.png``) unless
``--no-plots``. Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
from itertools import islice
from pathlib import Path
from typing import Iterator

from dpgen_llzo.cli import show_help
from dpgen_llzo.errors import UserInputError

DIFFUSION_KEYS = ("D_cm2_s, D_err_cm2_s, sigma_NE_S_cm(_err), sigma_collective_S_cm(_err), haven_ratio(_err), "
                  "temperature_K, n_ions, fit_window_ps, loglog_slope, diffusive, regions{gb,bulk}")


def _floats(n: int):
    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(x) for x in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {text!r}") from None
        if len(values) != n:
            raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {text!r}")
        return values
    return parse


def _float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated element names, e.g. Li,La,Zr,O")
    return names


def _add_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", dest="fmt", help="trajectory format (default: guessed; see 'analyze list')")
    p.add_argument("--type-map", type=_names, help="elements of LAMMPS/deepmd types 1, 2, …, e.g. Li,La,Zr,O")


def _add_frames(p: argparse.ArgumentParser) -> None:
    p.add_argument("--every", type=int, default=1, help="use every N-th frame (default 1)")
    p.add_argument("--skip", type=int, default=0, help="drop the first N frames (equilibration)")


def _frames(path: str, args) -> Iterator:
    from dpgen_llzo.analysis.readers import iter_frames

    if args.every < 1 or args.skip < 0:
        raise UserInputError("--every must be ≥ 1 and --skip ≥ 0")
    return islice(iter_frames(path, args.fmt, args.type_map), args.skip, None, args.every)


def _png(json_path: str, suffix: str) -> Path:
    p = Path(json_path)
    return p.with_name(f"{p.stem}-{suffix}.png")


def add_subparser(subparsers) -> None:
    """Add ``analyze`` and its sub-commands."""
    top = subparsers.add_parser("analyze", help="analyse MD trajectories: diffusion, conductivity, RDF, lattice, Tc",
                                description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="analysis", metavar="ANALYSIS")
    top.set_defaults(func=lambda args: show_help(top))

    p = sub.add_parser("list", help="list trajectory formats and analyses")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("diffusion", help="tracer D, Nernst-Einstein and collective σ, Haven ratio (+ GB regions)",
                       description="Tracer MSD by FFT over all time origins, D fitted in the diffusive window, "
                                   "bootstrap-over-ions error; collective σ by the block method. JSON keys: "
                                   + DIFFUSION_KEYS)
    p.add_argument("trajectory", help="trajectory file (or deepmd/npy folder)")
    p.add_argument("--species", default="Li", help="mobile element (default Li)")
    p.add_argument("--timestep-fs", type=float, required=True, help="MD time step, fs")
    p.add_argument("--temperature", type=float, required=True, help="temperature, K")
    _add_input(p)
    p.add_argument("--dump-every", type=int, default=1,
                   help="MD steps between frames, for formats without step numbers (extxyz, deepmd-npy)")
    p.add_argument("--seeds", nargs="+", default=[], metavar="RUN",
                   help="further independent runs (other velocity seeds) at the same T, combined")
    p.add_argument("--regions", metavar="GB.json", help="GB planes JSON → D in GB and bulk regions")
    p.add_argument("--gb-width", type=float, default=5.0, help="GB region half-width, Å (default 5)")
    p.add_argument("--fit-window", type=_floats(2), metavar="START,END", help="fit window in ps (default: rule)")
    p.add_argument("--blocks", type=int, default=5, help="blocks per run for the collective σ (default 5)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws over ions (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    p.add_argument("--charge", type=float, default=1.0, help="ion charge in e (default 1)")
    p.add_argument("--no-drift-correction", action="store_true", help="keep the framework centre-of-mass drift")
    p.add_argument("--json", required=True, help="output JSON")
    p.add_argument("--no-plots", action="store_true", help="skip the MSD figures")
    p.set_defaults(func=_cmd_diffusion)

    p = sub.add_parser("arrhenius", help="Ea and D0 from several diffusion results; σT form; 300 K values")
    p.add_argument("results", nargs="+", help="JSON files written by 'analyze diffusion'")
    p.add_argument("--m", type=float, default=-1.0, help="T exponent of the σ fit σ0 T^m exp(-Ea/kT) (default -1)")
    p.add_argument("--extrapolate-K", type=float, default=300.0, help="extrapolation temperature (default 300)")
    p.add_argument("--json", required=True, help="output JSON")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_arrhenius)

    p = sub.add_parser("rdf", help="partial RDFs, coordination numbers, comparison with a reference")
    p.add_argument("trajectory")
    _add_input(p)
    _add_frames(p)
    p.add_argument("--pairs", help="pairs A-B,C-D (default: all)")
    p.add_argument("--r-max", type=float, default=8.0, help="Å (default 8)")
    p.add_argument("--dr", type=float, default=0.02, help="bin width, Å (default 0.02)")
    p.add_argument("--reference", metavar="REF.json", help="RDF JSON to compare with (e.g. AIMD)")
    p.add_argument("--json", required=True)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_rdf)

    p = sub.add_parser("lattice", help="a, b, c, V vs T from NPT logs or dumps; thermal expansion")
    p.add_argument("inputs", nargs="+", help="LAMMPS logs (thermo with Temp, Lx Ly Lz) or trajectories")
    _add_input(p)
    p.add_argument("--temperatures", type=_float_list, help="T of each trajectory input, K (T1,T2,…)")
    p.add_argument("--supercell", type=_floats(3), default=(1, 1, 1), help="e.g. 3,3,3 → conventional cell")
    p.add_argument("--equilibration", type=float, default=0.2, help="leading fraction dropped (default 0.2)")
    p.add_argument("--ramp-bin-K", type=float, help="treat inputs as a heating ramp, bin rows by Temp")
    p.add_argument("--alpha-range", type=_floats(2), metavar="T1,T2", help="range for thermal expansion, K")
    p.add_argument("--json", required=True)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_lattice)

    p = sub.add_parser("transition", help="tetragonal→cubic Tc from c/a → 1, melting volume jump")
    p.add_argument("lattice_json", help="JSON written by 'analyze lattice'")
    p.add_argument("--c-axis", type=int, choices=(0, 1, 2), help="unique axis (default: found at lowest T)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap refits for the Tc error")
    p.add_argument("--json", required=True)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_transition)

    p = sub.add_parser("xrd", help="XRD patterns of time-averaged structures vs T")
    p.add_argument("trajectories", nargs="+")
    _add_input(p)
    _add_frames(p)
    p.add_argument("--temperatures", type=_float_list, help="T of each trajectory, K (labels)")
    p.add_argument("--two-theta", type=_floats(2), default=(10.0, 60.0), help="2θ range, deg (default 10,60)")
    p.add_argument("--wavelength", default="CuKa", help="pymatgen wavelength name (default CuKa)")
    p.add_argument("--json", required=True)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_cmd_xrd)

    p = sub.add_parser("density-map", help="Li superposition (density) map projected on a lattice plane")
    p.add_argument("trajectory")
    p.add_argument("--species", default="Li")
    _add_input(p)
    _add_frames(p)
    p.add_argument("--axis", type=int, default=2, choices=(0, 1, 2), help="lattice vector normal to the plane")
    p.add_argument("--bins", type=int, default=100)
    p.add_argument("--slab", type=_floats(2), metavar="LO,HI", help="keep fractional coordinate LO ≤ s < HI")
    p.add_argument("--png", required=True, help="output figure")
    p.add_argument("--json", help="also write the map as JSON")
    p.set_defaults(func=_cmd_density_map)


def _cmd_list(args) -> int:
    from dpgen_llzo.analysis import ANALYSES, READERS

    print("trajectory formats:")
    for e in READERS.entries():
        print(f"  {e.name:14s} {e.summary}")
    print("analyses:")
    for e in ANALYSES.entries():
        print(f"  {e.name:14s} {e.summary}")
    return 0


def _cmd_diffusion(args) -> int:
    from dpgen_llzo.analysis._io import write_json_atomic
    from dpgen_llzo.analysis.diffusion import DiffusionAnalyzer
    from dpgen_llzo.analysis.regions import GrainBoundaryPlanes

    regions = GrainBoundaryPlanes.from_json(args.regions) if args.regions else None
    analyzer = DiffusionAnalyzer.from_files(
        [args.trajectory, *args.seeds], args.species, args.timestep_fs, args.temperature, fmt=args.fmt,
        type_map=args.type_map, dump_every=args.dump_every, remove_drift=not args.no_drift_correction,
        fit_window_ps=args.fit_window, n_blocks=args.blocks, n_bootstrap=args.bootstrap, seed=args.seed,
        charge=args.charge, regions=regions, gb_half_width_A=args.gb_width)
    report = analyzer.to_dict()
    write_json_atomic(args.json, report)
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_msd

        plot_msd(report, _png(args.json, "msd"))
        plot_msd(report, _png(args.json, "msd-loglog"), loglog=True)
    print(f"D = {report['D_cm2_s']:.4g} ± {report['D_err_cm2_s']:.2g} cm2/s, "
          f"sigma_NE = {report['sigma_NE_S_cm']:.4g} S/cm, Haven = {report['haven_ratio']:.3g} → {args.json}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    return 0


def _cmd_arrhenius(args) -> int:
    from dpgen_llzo.analysis._io import read_json, require, write_json_atomic
    from dpgen_llzo.analysis.arrhenius import arrhenius_report

    points = []
    for path in args.results:
        data = read_json(path, "diffusion result")
        for key in ("temperature_K", "D_cm2_s"):
            require(data, key, path)
        points.append(data)
    report = arrhenius_report(points, args.extrapolate_K, args.m)
    report["inputs"] = list(args.results)
    write_json_atomic(args.json, report)
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_arrhenius

        plot_arrhenius(report, points, _png(args.json, "arrhenius"))
    print(f"Ea = {report['Ea_eV']:.3f} ± {report['Ea_err_eV']:.3f} eV, D0 = {report['D0_cm2_s']:.3g} cm2/s → {args.json}")
    return 0


def _cmd_rdf(args) -> int:
    from dpgen_llzo.analysis._io import read_json, write_json_atomic
    from dpgen_llzo.analysis.rdf import RDFResult, parse_pairs, partial_rdf, rdf_similarity

    pairs = parse_pairs(args.pairs) if args.pairs else None
    result = partial_rdf(_frames(args.trajectory, args), pairs, args.r_max, args.dr)
    out = result.to_dict()
    reference = None
    if args.reference:
        reference = RDFResult.from_dict(read_json(args.reference, "reference RDF"), args.reference)
        score, per_pair = rdf_similarity(result, reference)
        out["comparison"] = {"reference": args.reference, "similarity": score, "per_pair": per_pair}
    write_json_atomic(args.json, out)
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_rdf

        plot_rdf(result, _png(args.json, "rdf"), reference)
    for pair in result.g:
        s = result.summary(pair)
        print(f"{pair:8s} first peak {s['first_peak_A']} Å, CN {s['coordination']}")
    if reference is not None:
        print(f"similarity to {args.reference}: {out['comparison']['similarity']:.4f}")
    return 0


def _is_log(path: str) -> bool:
    p = Path(path)
    if p.is_dir():
        return False
    try:
        with open(p, errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        raise UserInputError(f"{path}: cannot read") from None
    return head.startswith("LAMMPS (") or p.name.startswith("log") or p.suffix == ".log"


def _cmd_lattice(args) -> int:
    import numpy as np

    from dpgen_llzo.analysis._io import write_json_atomic
    from dpgen_llzo.analysis.lattice import (cell_lengths_from_cells, cell_lengths_from_thermo, lattice_table,
                                             read_lammps_thermo, thermal_expansion)
    from dpgen_llzo.analysis.readers import iter_frames

    series = []
    trajectories = [p for p in args.inputs if not _is_log(p)]
    temps = list(args.temperatures or [])
    if trajectories and len(temps) != len(trajectories):
        raise UserInputError(f"--temperatures needs one value per trajectory input ({len(trajectories)})")
    for path in args.inputs:
        if _is_log(path):
            series.append(cell_lengths_from_thermo(read_lammps_thermo(path), path))
        else:
            cells = np.array([f.cell for f in iter_frames(path, args.fmt, args.type_map)])
            s = cell_lengths_from_cells(cells)
            s["T_K"] = np.full(len(cells), temps.pop(0))
            series.append(s)
    table = lattice_table(series, tuple(int(m) for m in args.supercell), equilibration_fraction=args.equilibration,
                          ramp_bin_K=args.ramp_bin_K)
    out = table.to_dict()
    if len(table.T_K) >= 2:
        rng = args.alpha_range
        a_eff = table.values["V_A3"] ** (1 / 3)
        alpha_l, alpha_l_err = thermal_expansion(table.T_K, a_eff, rng)
        alpha_v, alpha_v_err = thermal_expansion(table.T_K, table.values["V_A3"], rng)
        out["thermal_expansion"] = {"T_range_K": list(rng) if rng else [float(table.T_K.min()), float(table.T_K.max())],
                                    "alpha_L_per_K": alpha_l, "alpha_L_err_per_K": alpha_l_err,
                                    "alpha_V_per_K": alpha_v, "alpha_V_err_per_K": alpha_v_err,
                                    "note": "alpha_L from V^(1/3) (mean linear coefficient)"}
    write_json_atomic(args.json, out)
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_lattice

        plot_lattice(out, _png(args.json, "lattice"))
    print(f"{len(table.T_K)} temperatures → {args.json}")
    return 0


def _cmd_transition(args) -> int:
    from dpgen_llzo.analysis._io import read_json, write_json_atomic
    from dpgen_llzo.analysis.lattice import LatticeTable
    from dpgen_llzo.analysis.transition import c_over_a, melting_signature, transition_temperature

    table = LatticeTable.from_dict(read_json(args.lattice_json, "lattice JSON"), args.lattice_json)
    ratio, axis = c_over_a(table.values["a_A"], table.values["b_A"], table.values["c_A"], args.c_axis)
    result = transition_temperature(table.T_K, ratio, c_axis=axis, n_bootstrap=args.bootstrap)
    out = {"Tc_K": result.Tc_K, "Tc_err_K": result.Tc_err_K, "beta": result.beta, "amplitude": result.amplitude,
           "c_axis": axis, "T_K": table.T_K, "c_over_a": ratio,
           "melting": melting_signature(table.T_K, table.values["V_A3"])}
    write_json_atomic(args.json, out)
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_transition

        plot_transition(table.T_K, ratio, result, _png(args.json, "transition"))
    print(f"Tc = {result.Tc_K:.0f} ± {result.Tc_err_K:.0f} K → {args.json}")
    return 0


def _cmd_xrd(args) -> int:
    from dpgen_llzo.analysis._io import write_json_atomic
    from dpgen_llzo.analysis.xrd import average_structure, xrd_pattern

    temps = args.temperatures or [None] * len(args.trajectories)
    if len(temps) != len(args.trajectories):
        raise UserInputError("--temperatures needs one value per trajectory")
    patterns, labels = [], []
    for path, T in zip(args.trajectories, temps):
        structure = average_structure(_frames(path, args))
        pattern = xrd_pattern(structure, tuple(args.two_theta), args.wavelength)
        pattern.update({"source": path, "temperature_K": T, "lattice_abc_A": list(structure.lattice.abc)})
        patterns.append(pattern)
        labels.append(f"{T:g} K" if T is not None else Path(path).name)
    write_json_atomic(args.json, {"wavelength": args.wavelength, "patterns": patterns})
    if not args.no_plots:
        from dpgen_llzo.analysis.plots import plot_xrd

        plot_xrd(patterns, labels, _png(args.json, "xrd"))
    print(f"{len(patterns)} patterns → {args.json}")
    return 0


def _cmd_density_map(args) -> int:
    from dpgen_llzo.analysis._io import write_json_atomic
    from dpgen_llzo.analysis.density import density_map
    from dpgen_llzo.analysis.plots import plot_density_map

    dmap = density_map(_frames(args.trajectory, args), args.species, args.axis, args.bins, args.slab)
    plot_density_map(dmap, args.species, args.png)
    if args.json:
        write_json_atomic(args.json, {"species": args.species, "axes": list(dmap.axes), "lengths_A": list(dmap.lengths_A),
                                      "n_frames": dmap.n_frames, "density": dmap.density})
    print(f"{dmap.n_frames} frames, {dmap.n_positions} positions → {args.png}")
    return 0
