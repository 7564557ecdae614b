"""How close each teacher (embedded labeler) is to DFT on a directory of DFT-labelled LLZO frames.

Issue #12, item 1. Every requested labeler of the package's registry
(:func:`dpgen_llzo.labelers.get_labeler`: ``chgnet``, ``diep``, ``sevennet`` when the
``sevenn`` package is installed, ``deepmd`` with ``--model PATH``) labels every frame on one
thread; the labels are compared with the DFT ones.

Run::

    python benchmarks/teachers.py FRAMES [--fmt deepmd/npy] [--labelers chgnet diep]
        [--model graph.pb] [--max-frames N] [--out DIR]

``FRAMES`` is anything dpdata reads as labelled frames with ``--fmt``: a deepmd/npy system
(or a directory of them), an OUTCAR, a vasprun.xml, an extxyz file (``--fmt extxyz``: all
its frames), ... The frames are never modified.

Metrics, per teacher (``t``) against DFT (``d``), over all frames:

* force RMSE, meV/Å: over every Cartesian component of every atom.
* energy RMSE after the best constant per-atom offset, meV/atom: with ``e = E/N``,
  ``offset = mean(e_t - e_d)`` (eV/atom, reported: it absorbs the different energy zeros of
  the teacher's training data and of the DFT code, pseudopotentials included) and
  ``RMSE = sqrt(mean((e_t - e_d - offset)^2))``. On a set whose energies span only a few
  meV/atom (a relaxation) this number is small whatever the teacher: read it with the
  span printed beside it.
* stress RMSE, GPa, over the six independent components (xx, yy, zz, yz, xz, xy), raw and
  after removing the mean pressure offset ``dP = mean(P_t - P_d)`` with ``P = -tr(σ)/3``
  (the teacher's stress becomes ``σ_t + dP·I``). ``dP`` is reported: ``dP > 0`` means the
  teacher feels the DFT cells compressed, i.e. its equilibrium volume is larger than DFT's.
* CPU seconds per frame (``time.process_time`` of this process around the labeler's
  calculation; with one thread about the wall time on an idle core) and wall seconds; the
  model load and a warm-up (the stress check below, run before the timed frames) are timed
  apart. The machine's load average is recorded: another job on the
  same cores slows the wall time, less so the CPU time.

Units and signs: dpdata's virial is in eV with ``σ = -virial / V`` (ASE's convention:
``σ = (1/V) ∂E/∂ε``, positive under tension, so a compressed cell has ``σ < 0`` and ``P > 0``);
eV/Å³ → GPa is × 160.21766208. The teacher's stress is ASE's ``get_stress`` (eV/Å³, same
convention). The script checks both: the teacher's ``σ_xx`` on the first frame against a
central finite difference of its energy under a ±0.2 % strain, and the sign of the DFT
stresses through their correlation with the teacher's over the set (a flipped sign shows as
a negative correlation); both results are printed and written.

Measured (2026-12, 12 frames: the QE 7.0 PBE vc-relax of 192-atom t-LLZO in
dftfeDevelopers/dftfe-benchmarks@ec1c760, accuracyBenchmarks/LLZO/qe/study3, ONCV, 85 Ry,
Γ only; near-equilibrium, |F| ≤ 0.41 eV/Å, P from -0.3 to 1.5 GPa, energy span 2.1 meV/atom):
force RMSE chgnet 87, diep 52, sevennet (7net-0) 102 meV/Å; dP +1.9, -1.7, +1.9 GPa; stress
RMSE after dP 0.26, 0.12, 0.06 GPa. The 25 "public PBE frames" of earlier notes
(zhyan0603/SourceFiles, NEP-ZBL/NEP_train/NEP25-ZBL_train/train.xyz) are labelled by the
authors' NEP model (their nep_std.txt reproduces them to 1e-8 eV/Å), not by DFT.

Outputs: a table on stdout, and under ``--out`` (default ``teachers-bench/``)
``teachers.json`` (summary, per-frame values, provenance, load) and ``teachers.csv``
(one row per teacher). Progress goes to stderr as ``name: done/total``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

#: eV/Å³ → GPa.
EV_A3_TO_GPA = 160.21766208
#: The six independent components of a symmetric 3x3 tensor, Voigt order xx yy zz yz xz xy.
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: Strain of the finite-difference stress check.
SIGN_CHECK_STRAIN = 2e-3


def _one_thread(threads: int) -> None:
    """Pin the math libraries to ``threads`` threads; must run before torch/numpy threads start."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def load_frames(path: str, fmt: str):
    """Read labelled frames with dpdata.

    Parameters
    ----------
    path : str
        A file or directory dpdata reads with ``fmt``. For ``deepmd/npy`` (or ``deepmd/raw``,
        ``deepmd/hdf5``) a directory without ``type.raw`` is searched for systems below it.
    fmt : str
        A dpdata format name.

    Returns
    -------
    list of dpdata.LabeledSystem
        One or more systems; every one has energies and forces.
    """
    import dpdata

    p = Path(path)
    if fmt.startswith("deepmd") and p.is_dir() and not (p / "type.raw").exists():
        systems = list(dpdata.MultiSystems.from_dir(str(p), "type.raw", fmt=fmt).systems.values())
    elif fmt in ("extxyz", "quip/gap/xyz", "xyz", "mace/xyz", "nequip/xyz"):
        systems = list(dpdata.MultiSystems.from_file(str(p), fmt=fmt).systems.values())
    else:
        systems = [dpdata.LabeledSystem(str(p), fmt=fmt)]
    systems = [s for s in systems if s.get_nframes()]
    if not systems:
        raise SystemExit(f"{path}: no labelled frames read with --fmt {fmt}")
    for s in systems:
        if "energies" not in s.data or "forces" not in s.data:
            raise SystemExit(f"{path}: frames read with --fmt {fmt} carry no energies/forces")
    return systems


def frame_atoms(system, index: int):
    """The ``index``-th frame of a dpdata system as :class:`ase.Atoms` (no calculator)."""
    import numpy as np
    from ase import Atoms

    names = np.asarray(system["atom_names"])
    nopbc = bool(system.data.get("nopbc", False))
    return Atoms(
        symbols=list(names[system["atom_types"]]),
        positions=system["coords"][index],
        cell=None if nopbc else system["cells"][index],
        pbc=not nopbc,
    )


def dft_stress_gpa(system, index: int):
    """DFT stress of one frame, GPa, 3x3, ASE sign (``σ = -virial/V``); ``None`` without virial."""
    import numpy as np

    if "virials" not in system.data or system.data.get("nopbc", False):
        return None
    volume = abs(float(np.linalg.det(system["cells"][index])))
    return -np.asarray(system["virials"][index], dtype=float) / volume * EV_A3_TO_GPA


def stress_sign_check(calculator, atoms) -> dict:
    """Compare the teacher's ``σ_xx`` with ``(1/V) dE/dε_xx`` by central finite difference.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
        The teacher's calculator.
    atoms : ase.Atoms
        A periodic frame.

    Returns
    -------
    dict
        ``analytic_GPa``, ``finite_difference_GPa`` and ``consistent`` (same sign and within
        10 % + 0.05 GPa).
    """
    import numpy as np

    base = atoms.copy()
    base.calc = calculator
    analytic = float(base.get_stress(voigt=False)[0, 0]) * EV_A3_TO_GPA
    energies = []
    for sign in (+1, -1):
        strained = atoms.copy()
        strain = np.eye(3)
        strain[0, 0] += sign * SIGN_CHECK_STRAIN
        strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        strained.calc = calculator
        energies.append(float(strained.get_potential_energy()))
    fd = (energies[0] - energies[1]) / (2 * SIGN_CHECK_STRAIN) / atoms.get_volume() * EV_A3_TO_GPA
    consistent = bool(np.sign(fd) == np.sign(analytic) and abs(fd - analytic) <= 0.1 * abs(fd) + 0.05)
    return {"analytic_GPa": analytic, "finite_difference_GPa": fd, "consistent": consistent}


def rmse(values) -> float:
    """Root mean square of an array (``nan`` if empty)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(np.sqrt(np.mean(values**2))) if values.size else math.nan


def evaluate(name: str, options: dict, systems, max_frames: int | None, sign_check: bool) -> dict:
    """Label every frame with one teacher and compare with DFT.

    Parameters
    ----------
    name : str
        Labeler name in the registry.
    options : dict
        Labeler options (``model``, ``head``, ``device``).
    systems : list of dpdata.LabeledSystem
        The DFT frames.
    max_frames : int or None
        Evaluate at most this many frames (the first ones, in order).
    sign_check : bool
        Run :func:`stress_sign_check` on the first periodic frame.

    Returns
    -------
    dict
        Summary metrics (see the module docstring), per-frame values and provenance.
    """
    import numpy as np

    from dpgen_llzo.labelers import get_labeler

    labeler = get_labeler(name, **options)
    t0, c0 = time.perf_counter(), time.process_time()
    calculator = labeler.calculator()
    load_wall, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    try:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(1)
    except Exception:  # pragma: no cover - torch absent or already configured
        pass
    try:
        describe = labeler.describe()
    except Exception as exc:  # pragma: no cover - a version lookup that fails
        describe = {"labeler": name, "describe_error": str(exc)}

    jobs = [(s, i) for s in systems for i in range(s.get_nframes())]
    if max_frames is not None:
        jobs = jobs[:max_frames]
    total = len(jobs)
    # The sign check (three calls on the first frame) runs first: it also takes the first
    # call's one-off cost (graph set-up, lazy imports) out of the per-frame timings.
    sign = None
    t0 = time.perf_counter()
    if sign_check and jobs and frame_atoms(*jobs[0]).pbc.all():
        sign = stress_sign_check(calculator, frame_atoms(*jobs[0]))
    else:
        warm = frame_atoms(*jobs[0])
        warm.calc = calculator
        warm.get_potential_energy()
    warmup_wall = time.perf_counter() - t0
    df, e_t, e_d, natoms, s_t, s_d, cpu, wall, fmax_d = [], [], [], [], [], [], [], [], []
    for done, (system, index) in enumerate(jobs, start=1):
        atoms = frame_atoms(system, index)
        atoms.calc = calculator
        t0, c0 = time.perf_counter(), time.process_time()
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces(), dtype=float)
        stress = None
        if atoms.pbc.all():
            stress = np.asarray(atoms.get_stress(voigt=False), dtype=float) * EV_A3_TO_GPA
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
        ref_f = np.asarray(system["forces"][index], dtype=float)
        df.append((forces - ref_f).ravel())
        fmax_d.append(float(np.abs(ref_f).max()))
        n = len(atoms)
        natoms.append(n)
        e_t.append(energy / n)
        e_d.append(float(system["energies"][index]) / n)
        ref_s = dft_stress_gpa(system, index)
        if stress is not None and ref_s is not None:
            s_t.append(stress)
            s_d.append(ref_s)
        print(f"{name}: {done}/{total} frames ({wall[-1]:.1f} s)", file=sys.stderr, flush=True)

    e_t, e_d = np.array(e_t), np.array(e_d)
    offset = float(np.mean(e_t - e_d))
    result = {
        "labeler": name,
        "describe": describe,
        "frames": total,
        "force_rmse_meV_A": rmse(np.concatenate(df)) * 1e3,
        "energy_rmse_meV_atom": rmse(e_t - e_d - offset) * 1e3,
        "energy_offset_eV_atom": offset,
        "dft_energy_span_meV_atom": float(np.ptp(e_d)) * 1e3,
        "dft_max_force_component_eV_A": float(max(fmax_d)),
        "cpu_s_per_frame": float(np.mean(cpu)),
        "wall_s_per_frame": float(np.mean(wall)),
        "load_wall_s": load_wall,
        "load_cpu_s": load_cpu,
        "warmup_wall_s": warmup_wall,
        "per_frame": {
            "natoms": natoms,
            "energy_teacher_eV_atom": e_t.tolist(),
            "energy_dft_eV_atom": e_d.tolist(),
            "cpu_s": cpu,
            "wall_s": wall,
        },
    }
    if s_t:
        s_t, s_d = np.array(s_t), np.array(s_d)
        voigt_t = np.array([[s[i, j] for i, j in VOIGT] for s in s_t])
        voigt_d = np.array([[s[i, j] for i, j in VOIGT] for s in s_d])
        p_t = -np.trace(s_t, axis1=1, axis2=2) / 3
        p_d = -np.trace(s_d, axis1=1, axis2=2) / 3
        dp = float(np.mean(p_t - p_d))
        shifted = voigt_t.copy()
        shifted[:, :3] += dp
        corr = (
            float(np.corrcoef(voigt_t.ravel(), voigt_d.ravel())[0, 1])
            if voigt_d.std() > 0 and voigt_t.std() > 0
            else math.nan
        )
        result.update(
            {
                "stress_rmse_GPa_raw": rmse(voigt_t - voigt_d),
                "stress_rmse_GPa_after_pressure_offset": rmse(shifted - voigt_d),
                "pressure_offset_GPa": dp,
                "dft_pressure_range_GPa": [float(p_d.min()), float(p_d.max())],
                "stress_correlation_teacher_vs_dft": corr,
            }
        )
        result["per_frame"]["pressure_teacher_GPa"] = p_t.tolist()
        result["per_frame"]["pressure_dft_GPa"] = p_d.tolist()
    if sign is not None:
        result["stress_sign_check"] = sign
    return result


def describe_frames(path: str, fmt: str, systems) -> dict:
    """Provenance and shape of the frame set: formula, frame count, cell lengths, volume range."""
    import numpy as np

    out = {"path": str(Path(path).resolve()), "fmt": fmt, "systems": []}
    for s in systems:
        cells = np.asarray(s["cells"])
        lengths = np.linalg.norm(cells, axis=2)
        volumes = np.abs(np.linalg.det(cells))
        out["systems"].append(
            {
                "formula": s.formula,
                "frames": s.get_nframes(),
                "natoms": s.get_natoms(),
                "has_virial": "virials" in s.data,
                "cell_lengths_A_min": lengths.min(axis=0).round(4).tolist(),
                "cell_lengths_A_max": lengths.max(axis=0).round(4).tolist(),
                "volume_A3_range": [round(float(volumes.min()), 2), round(float(volumes.max()), 2)],
            }
        )
    out["frames"] = sum(x["frames"] for x in out["systems"])
    return out


def default_labelers() -> list[str]:
    """``chgnet`` and ``diep``, plus ``sevennet`` when ``sevenn`` is importable."""
    import importlib.util

    names = ["chgnet", "diep"]
    if importlib.util.find_spec("sevenn") is not None:
        names.append("sevennet")
    return names


def package_versions() -> dict[str, str]:
    """Installed versions of the packages behind the teachers and the frame reader."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("dpgen-llzo", "chgnet", "diep", "sevenn", "deepmd-kit", "torch", "dpdata", "ase"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def print_table(results: list[dict], frames: dict) -> None:
    """The summary table on stdout."""
    done = max((r.get("frames", 0) for r in results), default=0)
    print(f"\n{done} of {frames['frames']} DFT frames from {frames['path']} (--fmt {frames['fmt']})")
    head = (
        f"{'teacher':<10} {'F RMSE':>8} {'E RMSE':>8} {'E offset':>10} {'σ RMSE raw':>10} "
        f"{'σ RMSE -dP':>10} {'dP':>7} {'CPU s/fr':>8} {'wall s/fr':>9}"
    )
    units = (
        f"{'':<10} {'meV/Å':>8} {'meV/at':>8} {'eV/atom':>10} {'GPa':>10} {'GPa':>10} "
        f"{'GPa':>7} {'':>8} {'':>9}"
    )
    print(head)
    print(units)
    for r in results:
        if "error" in r:
            print(f"{r['labeler']:<10} skipped: {r['error']}")
            continue
        s_raw = r.get("stress_rmse_GPa_raw", math.nan)
        s_off = r.get("stress_rmse_GPa_after_pressure_offset", math.nan)
        dp = r.get("pressure_offset_GPa", math.nan)
        print(
            f"{r['labeler']:<10} {r['force_rmse_meV_A']:8.1f} {r['energy_rmse_meV_atom']:8.2f} "
            f"{r['energy_offset_eV_atom']:10.4f} {s_raw:10.3f} {s_off:10.3f} {dp:7.2f} "
            f"{r['cpu_s_per_frame']:8.2f} {r['wall_s_per_frame']:9.2f}"
        )
    for r in results:
        if "error" in r:
            continue
        line = f"{r['labeler']}: DFT energy span {r['dft_energy_span_meV_atom']:.2f} meV/atom"
        if "stress_correlation_teacher_vs_dft" in r:
            line += f", stress correlation with DFT {r['stress_correlation_teacher_vs_dft']:+.3f}"
        chk = r.get("stress_sign_check")
        if chk:
            line += (
                f", σ_xx check: analytic {chk['analytic_GPa']:+.3f} GPa vs finite difference "
                f"{chk['finite_difference_GPa']:+.3f} GPa ({'ok' if chk['consistent'] else 'MISMATCH'})"
            )
        print(line)


CSV_FIELDS = (
    "labeler",
    "frames",
    "force_rmse_meV_A",
    "energy_rmse_meV_atom",
    "energy_offset_eV_atom",
    "stress_rmse_GPa_raw",
    "stress_rmse_GPa_after_pressure_offset",
    "pressure_offset_GPa",
    "cpu_s_per_frame",
    "wall_s_per_frame",
    "load_wall_s",
    "error",
)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Metrics, units and sign conventions: see the docstring at the head of "
        "benchmarks/teachers.py.",
    )
    parser.add_argument("frames", help="DFT-labelled frames: a file or directory dpdata reads with --fmt")
    parser.add_argument("--fmt", default="deepmd/npy", help="dpdata format of FRAMES (default: deepmd/npy)")
    parser.add_argument(
        "--labelers",
        nargs="+",
        metavar="NAME",
        help="registry names to evaluate (default: chgnet diep, plus sevennet if sevenn is installed; "
        "deepmd needs --model)",
    )
    parser.add_argument("--model", help="model file for the deepmd labeler (adds deepmd to the default list)")
    parser.add_argument("--head", help="head of a multi-task DeePMD model")
    parser.add_argument("--max-frames", type=int, help="evaluate only the first N frames")
    parser.add_argument("--threads", type=int, default=1, help="math-library threads (default 1)")
    parser.add_argument("--no-sign-check", action="store_true", help="skip the finite-difference stress check")
    parser.add_argument("--source", help="provenance of the frames (repository, commit, path, licence), kept in the JSON")
    parser.add_argument("--out", default="teachers-bench", help="directory for teachers.json/.csv (default teachers-bench)")
    args = parser.parse_args(argv)

    _one_thread(args.threads)
    import numpy as np  # noqa: F401  (after the thread pinning)

    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:  # pragma: no cover - every teacher here needs torch, deepmd may not
        pass

    names = args.labelers or default_labelers()
    if args.model and "deepmd" not in names:
        names.append("deepmd")
    systems = load_frames(args.frames, args.fmt)
    frames = describe_frames(args.frames, args.fmt, systems)
    if args.source:
        frames["source"] = args.source
    load_before = os.getloadavg()
    results = []
    for name in names:
        options = {}
        if name == "deepmd":
            if not args.model:
                results.append({"labeler": name, "error": "needs --model PATH"})
                continue
            options["model"] = args.model
            if args.head:
                options["head"] = args.head
        try:
            results.append(evaluate(name, options, systems, args.max_frames, not args.no_sign_check))
        except Exception as exc:  # a missing package or model: report, go on with the others
            results.append({"labeler": name, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
            print(f"{name}: skipped ({results[-1]['error']})", file=sys.stderr)
    load_after = os.getloadavg()

    print_table(results, frames)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "frames": frames,
        "teachers": results,
        "conditions": {
            "threads": args.threads,
            "cpu_count": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "python": platform.python_version(),
            "versions": package_versions(),
            "host": platform.node(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        },
    }
    (out / "teachers.json").write_text(json.dumps(report, indent=2) + "\n")
    with open(out / "teachers.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow({k: r.get(k, "") for k in CSV_FIELDS})
    print(f"\nwrote {out / 'teachers.json'} and {out / 'teachers.csv'}")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")
    return 0 if any("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
