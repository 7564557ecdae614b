"""Peak memory of the selection step on large grain-boundary explorations: ours vs stock DP-GEN.

Issue #7, item 5. The benchmark builds a synthetic DP-GEN work directory whose iteration 0
explored a ~2300-atom grain-boundary cell (the committed Σ3(112) cell, ``--atoms-scale``
copies along a, in the boundary plane), then measures, each phase in a fresh subprocess and
on a fresh copy of that directory:

* **stock**: ``dpgen.generator.run.make_fp(0, jdata, mdata)`` (step 6 of ``dpgen run``):
  ``np.loadtxt`` of every task's ``model_devi.out`` (frames × (7 + atoms) with ``atomic``),
  the candidate frames' dumps, ``02.fp/task.*`` (fp_style custom).
* **ours** (``dpgen-llzo run``, the same steps in the loop's order, one copy):
  ``screen_exploration`` (:mod:`dpgen_llzo.loop.exploration_faults`), ``coverage_step``
  (:mod:`dpgen_llzo.coverage.workflow`: descriptors of a sample of explored frames, with a
  real frozen DeePMD model of the param's descriptor shape trained here for one step),
  stock ``make_fp`` on the screened directory, ``carve_large_fp_tasks``
  (:mod:`dpgen_llzo.loop.carve_fp`).

"peak RSS" is the phase's own peak: the child imports the same libraries in every phase
(dpgen, dpgen_llzo, dpdata, pymatgen, ase; for the coverage step also DeePMD/TensorFlow with
iteration 0's frozen model loaded, handed to ``coverage_step(model=...)``), notes its RSS
("after imports"), resets the kernel's high-water mark (``/proc/self/clear_refs``) and reads
``VmHWM`` when the phase is done; ``data MB = peak - after imports`` is what the data cost. "process peak" is the child's ``ru_maxrss`` from ``os.wait4`` (its whole life,
the imports' transient included). Two import-only children give the baselines. "dump frames"
counts frames parsed from LAMMPS dumps (through dpdata or the screening's own reader),
"md.out rows" the ``model_devi.out`` rows parsed into numbers (a row of a 2300-atom
``atomic`` file is 2300 numbers), "read MB" the bytes the phase read (``/proc/self/io``
rchar).

The synthetic exploration: ``--tasks`` LAMMPS tasks of system 002 (the Σ3 cell's index in
``param/demo/param.json``), ``--frames`` frames each every ``trj_freq`` steps, positions =
cell + Gaussian displacements (``--sigma``), dump ``ITEM: ATOMS id type x y z`` with a
triclinic box header (the GB template's ``change_box all triclinic``) and atoms in a shuffled
id order, ``model_devi.out`` with the 7 standard columns plus per-atom ``atomic`` columns
(deviations larger near the two boundary planes), drawn so that ``--candidate-fraction`` of
the frames fall in the GB job's trust window (``model_devi_jobs[2]``: 0.4 ≤ max < 1.2 eV/Å),
``--accurate-fraction`` below it and the rest above (failed, below the screening's blow-up
level). Plus ``input.lammps`` (the GB template with DP-GEN's substitutions), ``conf.lmp``,
``job.json``, ``log.lammps`` (thermo), ``cur_job.json``, ``graph.00x.pb`` links, and
``00.train`` (a one-step training of the param's model on a few perturbed Σ3 frames) for the
coverage step. jdata is ``param/demo/param.json`` through ``load_dpgen_inputs`` with
``model_devi_jobs`` in the GB stage's order (job 2 first), ``fp_task_max`` as in the param.

``--merge-traj`` writes DP-GEN's other layout instead (one ``all.lammpstrj`` per task,
``model_devi_merge_traj`` true), where stock make_fp loads every task's whole trajectory.

Run: ``python benchmarks/selection_memory.py [--frames 500 --tasks 4 --atoms-scale 2]
[--merge-traj] [--json OUT] [--keep]`` (defaults: ~2 minutes on 2 cores, ~1.3 GB peak). Everything is written under a temporary directory, removed at the
end unless ``--keep``. The target is the ratio ours/stock measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PARAM = REPO / "param" / "demo" / "param.json"
MACHINE = REPO / "machine" / "local.json"
TEMPLATE = REPO / "templates" / "lammps" / "gb-nvt.lmp"
TYPE_MAP = ["Li", "La", "Zr", "O"]
GB_JOB = 2  # model_devi_jobs index of the grain-boundary stage in param/demo/param.json
SYSTEM = 2  # sys_configs index of gb-sigma3 (the GB job's first sys_idx)
ITER = 0
ENV = {"OMP_NUM_THREADS": "1", "DP_INTRA_OP_PARALLELISM_THREADS": "1", "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# the synthetic work directory


def gb_cell(scale: int):
    """The committed Σ3(112) cell, ``scale`` copies along a (in the boundary plane; GB normal is c)."""
    from dpgen_llzo.structures import build_structure

    structure = build_structure("llzo-gb-sigma3-112")
    if scale > 1:
        structure.make_supercell([scale, 1, 1])
    return structure


def gb_planes() -> list[float]:
    info = json.loads((REPO / "gb_systems" / "sigma3-112" / "POSCAR.json").read_text())
    return [float(z) for z in info["plane_positions_A"]]  # c is the GB normal; a supercell along a keeps them


def write_lammps_data(path: Path, cell: np.ndarray, coords: np.ndarray, types: np.ndarray) -> None:
    masses = {1: 6.941, 2: 138.90547, 3: 91.224, 4: 15.9994}
    lines = [
        "",
        f"{len(coords)} atoms",
        "4 atom types",
        f"   0.0000000000 {cell[0, 0]:15.10f} xlo xhi",
        f"   0.0000000000 {cell[1, 1]:15.10f} ylo yhi",
        f"   0.0000000000 {cell[2, 2]:15.10f} zlo zhi",
        "   0.0000000000    0.0000000000    0.0000000000 xy xz yz",
        "",
        "Masses",
        "",
        *[f"     {t} {m:15.10f} # {TYPE_MAP[t - 1]}" for t, m in masses.items()],
        "",
        "Atoms # atomic",
        "",
    ]
    body = "".join(f"{i + 1:6d} {t:6d} {x:15.10f} {y:15.10f} {z:15.10f}\n" for i, (t, (x, y, z)) in enumerate(zip(types, coords)))
    path.write_text("\n".join(lines) + "\n" + body)


def dump_text(step: int, cell: np.ndarray, ids: np.ndarray, types: np.ndarray, coords: np.ndarray) -> str:
    head = (
        f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(ids)}\nITEM: BOX BOUNDS xy xz yz pp pp pp\n"
        f"0.0000000000000000e+00 {cell[0, 0]:.16e} 0.0000000000000000e+00\n"
        f"0.0000000000000000e+00 {cell[1, 1]:.16e} 0.0000000000000000e+00\n"
        f"0.0000000000000000e+00 {cell[2, 2]:.16e} 0.0000000000000000e+00\n"
        "ITEM: ATOMS id type x y z\n"
    )
    table = np.empty((len(ids), 5), dtype=object)
    table[:, 0] = ids
    table[:, 1] = types
    table[:, 2:] = coords
    return head + ("%d %d %.6g %.6g %.6g\n" * len(ids)) % tuple(table.ravel())


def frame_maxima(n: int, candidate: float, accurate: float, lo: float, hi: float, rng) -> np.ndarray:
    """max_devi_f of ``n`` frames: exactly round(candidate*n) in [lo, hi), round(accurate*n) below lo, the rest failed."""
    n_cand = int(round(candidate * n))
    n_acc = min(int(round(accurate * n)), n - n_cand)
    values = np.concatenate(
        [
            rng.uniform(lo, hi * 0.999, n_cand),
            rng.uniform(0.3 * lo, lo * 0.999, n_acc),
            rng.uniform(hi, 2.5 * hi, n - n_cand - n_acc),  # failed, below the 10 x trust_hi blow-up level
        ]
    )
    rng.shuffle(values)
    return values


def build_workdir(root: Path, args: argparse.Namespace, jdata: dict[str, Any]) -> dict[str, Any]:
    """The synthetic iteration 0 (see the module docstring); returns its description."""
    rng = np.random.default_rng(args.seed)
    structure = gb_cell(args.atoms_scale)
    n_atoms = len(structure)
    cell = np.asarray(structure.lattice.matrix)
    base = np.asarray(structure.cart_coords)
    types = np.array([TYPE_MAP.index(site.specie.symbol) + 1 for site in structure])
    job = jdata["model_devi_jobs"][ITER]
    lo, hi = float(job["model_devi_f_trust_lo"]), float(job["model_devi_f_trust_hi"])
    trj_freq = int(job["trj_freq"])
    planes = gb_planes()
    z = base[:, 2]
    dz = np.min([np.abs((z - p + cell[2, 2] / 2) % cell[2, 2] - cell[2, 2] / 2) for p in planes], axis=0)
    gb_boost = np.exp(-dz / 3.0)  # 1 at the planes, small in the grains

    it = root / f"iter.{ITER:06d}"
    modd = it / "01.model_devi"
    (modd / "confs").mkdir(parents=True)
    write_lammps_data(modd / "confs" / f"{SYSTEM:03d}.0000.lmp", cell, base, types)
    structure.to(filename=str(modd / "confs" / f"{SYSTEM:03d}.0000.poscar"), fmt="poscar")
    (modd / "cur_job.json").write_text(json.dumps(job, indent=4))
    temps = list(job.get("rev_mat", {}).get("lmp", {}).get("V_TEMP", [600]))
    nsteps = (args.frames - 1) * trj_freq
    template = TEMPLATE.read_text()
    header = "#       step         max_devi_v         min_devi_v         avg_devi_v         max_devi_f         min_devi_f         avg_devi_f" + "".join(
        f"  atm_devi_f({i})" for i in range(n_atoms)
    )
    frames_total = 0
    for k in range(args.tasks):
        task = modd / f"task.{SYSTEM:03d}.{k:06d}"
        (task / "traj").mkdir(parents=True)
        merged = open(task / "all.lammpstrj", "w") if args.merge_traj else None
        os.symlink(f"../confs/{SYSTEM:03d}.0000.lmp", task / "conf.lmp")
        temp = temps[k % len(temps)]
        values = {"V_NSTEPS": nsteps, "V_TEMP": temp}
        text = template
        for key, value in values.items():
            text = text.replace(key, str(value))
        text = text.replace("out_file model_devi.out", "out_file model_devi.out atomic")  # rev_mat, as dpgen does
        graphs = " ".join(f"../graph.{i:03d}.pb" for i in range(int(jdata["numb_models"])))
        text = "\n".join(  # dpgen's own rewrite of the pair_style and dump lines
            f"pair_style      deepmd {graphs} out_freq {trj_freq} out_file model_devi.out atomic "
            if line.startswith("pair_style")
            else f"dump            dpgen_dump all custom {trj_freq} traj/*.lammpstrj id type x y z"
            if line.startswith("dump") and not args.merge_traj
            else line
            for line in text.splitlines()
        ) + "\n"
        (task / "input.lammps").write_text(text)
        (task / "job.json").write_text(json.dumps({**values, "out_file model_devi.out": "out_file model_devi.out atomic"}, indent=4))
        order = rng.permutation(n_atoms)  # LAMMPS dumps atoms in processor order, not id order
        maxima = frame_maxima(args.frames, args.candidate_fraction, args.accurate_fraction, lo, hi, rng)
        rows = np.empty((args.frames, 7 + n_atoms))
        for f in range(args.frames):
            step = f * trj_freq
            coords = base + rng.normal(0.0, args.sigma, base.shape)
            coords = coords - np.floor(coords / np.diag(cell)) * np.diag(cell)
            text = dump_text(step, cell, order + 1, types[order], coords[order])
            if merged is not None:
                merged.write(text)
            else:
                (task / "traj" / f"{step}.lammpstrj").write_text(text)
            atomic = (0.05 * rng.lognormal(0.0, 0.5, n_atoms) + gb_boost * rng.uniform(0.0, 1.0, n_atoms)).astype(float)
            atomic *= maxima[f] / atomic.max()
            v = rng.uniform(0.005, 0.05, 3)
            rows[f, :7] = [step, v.max(), v.min(), v.mean(), atomic.max(), atomic.min(), atomic.mean()]
            rows[f, 7:] = atomic
        if merged is not None:
            merged.close()
        np.savetxt(task / "model_devi.out", rows, fmt=["%12d"] + ["%19.6e"] * (rows.shape[1] - 1), header=header[1:], comments="#")
        thermo = ["   Step          Temp          PotEng         KinEng         TotEng         Press          Volume"]
        for step in range(0, nsteps + 1, 100):
            thermo.append(f"{step:8d} {temp * rng.uniform(0.9, 1.1):14.6f} {-9000.0:14.4f} {100.0:14.4f} {-8900.0:14.4f} {1000.0:14.4f} {np.linalg.det(cell):14.4f}")
        (task / "log.lammps").write_text(
            "LAMMPS (22 Jul 2025 - Update 2)\n" + "\n".join(thermo) + f"\nLoop time of 48.5 on 1 procs for {nsteps} steps with {n_atoms} atoms\n"
        )
        (task / "model_devi.log").write_text("")
        frames_total += args.frames
        say(f"  task {task.name}: {args.frames} frames at {temp} K, {sum(1 for m in maxima if lo <= m < hi)} candidates")
    return {
        "n_atoms": n_atoms,
        "tasks": args.tasks,
        "frames_per_task": args.frames,
        "frames_total": frames_total,
        "trust_lo_hi": [lo, hi],
        "candidates_total": None,
        "model_devi_out_MB": round(sum(p.stat().st_size for p in modd.glob("task.*/model_devi.out")) / 2**20, 1),
        "dumps_MB": round(sum(p.stat().st_size for p in modd.glob("task.*/**/*.lammpstrj")) / 2**20, 1),
        "merge_traj": bool(args.merge_traj),
    }


def build_model(root: Path, args: argparse.Namespace, jdata: dict[str, Any]) -> None:
    """``iter.000000/00.train``: the param's model trained for one step on perturbed Σ3 frames, frozen; graph links."""
    import dpdata

    it = root / f"iter.{ITER:06d}"
    train = it / "00.train"
    task = train / "000"
    task.mkdir(parents=True)
    structure = gb_cell(1)
    rng = np.random.default_rng(args.seed + 1)
    n, natoms = 6, len(structure)
    cell = np.asarray(structure.lattice.matrix)
    coords = np.asarray(structure.cart_coords)[None] + rng.normal(0.0, 0.05, (n, natoms, 3))
    names = TYPE_MAP
    atom_types = np.array([names.index(site.specie.symbol) for site in structure])
    data = {
        "atom_names": names,
        "atom_numbs": [int((atom_types == i).sum()) for i in range(4)],
        "atom_types": atom_types,
        "orig": np.zeros(3),
        "cells": np.repeat(cell[None], n, 0),
        "coords": coords,
        "energies": -7.5 * natoms + rng.normal(0.0, 1.0, n),
        "forces": rng.normal(0.0, 0.5, (n, natoms, 3)),
        "virials": rng.normal(0.0, 1.0, (n, 3, 3)),
    }
    system_dir = root / "init" / "gb-sigma3" / "perturbed"
    dpdata.LabeledSystem(data=data).to("deepmd/npy", str(system_dir))
    if args.model:
        shutil.copyfile(args.model, train / "graph.000.pb")
        (task / "input.json").write_text(json.dumps({"training": {"training_data": {"systems": [os.path.relpath(system_dir, task)]}}}))
    else:
        params = json.loads(json.dumps(jdata["default_training_param"]))
        params["training"].update(numb_steps=1, save_freq=1, disp_freq=1)
        params["training"]["training_data"] = {"systems": [os.path.relpath(system_dir, task)], "batch_size": 1}
        params["learning_rate"]["decay_steps"] = 1
        (task / "input.json").write_text(json.dumps(params, indent=2))
        env = {**os.environ, **ENV}
        t0 = time.time()
        for command in (["dp", "train", "input.json", "--skip-neighbor-stat"], ["dp", "freeze", "-o", "../graph.000.pb"]):
            done = subprocess.run(command, cwd=task, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        say(f"  model: {len(params['model']['descriptor']['neuron'])}-layer se_e2_a trained 1 step, frozen ({time.time() - t0:.0f} s)")
    for i in range(1, int(jdata["numb_models"])):
        os.symlink("graph.000.pb", train / f"graph.{i:03d}.pb")
    for i in range(int(jdata["numb_models"])):
        os.symlink(f"../00.train/graph.{i:03d}.pb", it / "01.model_devi" / f"graph.{i:03d}.pb")
    (root / "record.dpgen").write_text("".join(f"{ITER} {j}\n" for j in range(6)))


def fresh_copy(source: Path, target: Path) -> Path:
    """A copy of the work directory; trajectory files (never written by any phase) hard-linked."""

    def copy(src: str, dst: str) -> None:
        if src.endswith("lammpstrj"):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=copy)
    return target


# --------------------------------------------------------------------------------------------
# one phase in a child process


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _rchar() -> int:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Counters:
    """Frames parsed, patched into the readers the phases use."""

    def __init__(self) -> None:
        self.dump_frames = 0
        self.model_devi_rows = 0
        self.inside_dpdata = 0

    def install(self) -> None:
        import dpdata
        import dpdata.formats.lammps.dump as lmp_dump

        counters = self
        init = dpdata.System.__init__

        def system_init(self, file_name=None, fmt="auto", *a, **kw):
            counters.inside_dpdata += 1
            try:
                init(self, file_name, fmt, *a, **kw)
            finally:
                counters.inside_dpdata -= 1
            if "dump" in str(fmt) or str(file_name).endswith(".lammpstrj") or str(file_name).endswith("conf.dump"):
                counters.dump_frames += len(self)

        dpdata.System.__init__ = system_init
        split = lmp_dump.split_traj

        def split_traj(lines):  # the screening's own dump reader (dpdata's loader, counted above, uses it too)
            frames = split(lines)
            if not counters.inside_dpdata:
                counters.dump_frames += len(frames or [])
            return frames

        lmp_dump.split_traj = split_traj
        loadtxt = np.loadtxt

        def counting_loadtxt(fname, *a, **kw):
            table = loadtxt(fname, *a, **kw)
            if "model_devi" in str(fname):
                counters.model_devi_rows += 1 if table.ndim == 1 else table.shape[0]
            return table

        np.loadtxt = counting_loadtxt
        from dpgen_llzo.loop import exploration_faults

        parse = exploration_faults.parse_model_devi

        def parse_model_devi(text, source="model_devi.out"):
            comments, rows = parse(text, source)
            counters.model_devi_rows += len(rows)
            return comments, rows

        exploration_faults.parse_model_devi = parse_model_devi
        from dpgen_llzo.gb import carving

        row = carving.atomic_model_devi_row

        def atomic_row(path, step):
            values = row(path, step)
            counters.model_devi_rows += values is not None
            return values

        carving.atomic_model_devi_row = atomic_row


PHASES = {
    "imports": "interpreter + dpgen + dpgen_llzo + dpdata imports only",
    "imports+model": "the same + DeePMD-kit/TensorFlow and the frozen model loaded (what the coverage step loads)",
    "stock make_fp": "dpgen make_fp (step 6 of dpgen run)",
    "ours screen": "screen_exploration (exploration_faults)",
    "ours coverage": "coverage_step (descriptors of sampled frames)",
    "ours make_fp": "dpgen make_fp after screening (same function as stock)",
    "ours carve": "carve_large_fp_tasks (carve_fp)",
}


def job_order(jdata: dict[str, Any], merge_traj: bool) -> None:
    """``model_devi_jobs`` in the GB stage plan's order (iteration 0 runs the GB job); the merge_traj switch."""
    jobs = jdata["model_devi_jobs"]
    jdata["model_devi_jobs"] = [jobs[GB_JOB]] + [j for i, j in enumerate(jobs) if i != GB_JOB]
    if merge_traj:
        jdata["model_devi_merge_traj"] = True


def child(phase: str, workdir: str, out: str, merge_traj: str = "0") -> None:
    """Run one phase in this (fresh) process and write what it measured to ``out``."""
    import logging

    logging.disable(logging.INFO)  # dpgen's logger prints a line per system; not part of the cost
    import dpdata  # noqa: F401
    import dpgen.generator.run as dpgen_run

    from dpgen_llzo.config import load_llzo_settings
    from dpgen_llzo.loop.runner import load_dpgen_inputs, working_directory

    # the same libraries in every child (what a phase imports lazily would otherwise count as data)
    import ase.neighborlist  # noqa: F401
    import pymatgen.core  # noqa: F401

    from dpgen_llzo.coverage.iteration import coverage_settings
    from dpgen_llzo.coverage.workflow import coverage_step
    from dpgen_llzo.gb import carving, fp_tasks  # noqa: F401
    from dpgen_llzo.loop.carve_fp import carve_large_fp_tasks
    from dpgen_llzo.loop.exploration_faults import screen_exploration
    from dpgen_llzo.loop.gb_stage import gb_settings

    model = None
    if phase in ("imports+model", "ours coverage"):
        from dpgen_llzo.coverage.descriptors import load_model
        from dpgen_llzo.coverage.sources import iteration_model

        model = load_model(iteration_model(workdir, ITER))  # TensorFlow + the frozen graph: library and model, not data
    jdata, mdata = load_dpgen_inputs(PARAM, MACHINE)
    job_order(jdata, merge_traj == "1")
    settings = load_llzo_settings(PARAM)
    counters = Counters()
    counters.install()
    after_imports = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the peak below is the phase's, not the imports' transient
    rchar0 = _rchar()
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    with working_directory(workdir):
        if phase in ("stock make_fp", "ours make_fp"):
            dpgen_run.make_fp(ITER, jdata, mdata)
            info["fp_tasks"] = len(list(Path(f"iter.{ITER:06d}/02.fp").glob("task.*")))
        elif phase == "ours screen":
            report = screen_exploration(".", ITER, jdata)
            info["faulty_tasks"] = report["n_faulty"]
        elif phase == "ours coverage":
            step = coverage_step(".", ITER, coverage_settings(settings.get("coverage")), param=jdata, reuse=False, model=model)
            info["coverage"] = round(float(step.report["fraction"]), 4)
            info["test_frames"] = step.report.get("test_frames")
        elif phase == "ours carve":
            done = carve_large_fp_tasks(ITER, jdata, mdata, gb_settings(settings.get("gb")))
            info["carved"] = len(done)
            info["new_tasks"] = sum(len(d.new_tasks) for d in done)
    wall = time.perf_counter() - t0
    result = {
        "phase": phase,
        "after_imports_kB": after_imports,
        "phase_peak_kB": _status_kb("VmHWM"),
        "wall_s": wall,
        "dump_frames": counters.dump_frames,
        "model_devi_rows": counters.model_devi_rows,
        "read_MB": (_rchar() - rchar0) / 2**20,
        **info,
    }
    Path(out).write_text(json.dumps(result))


def run_phase(phase: str, workdir: Path, scratch: Path, merge_traj: bool = False) -> dict[str, Any]:
    out = scratch / f"phase-{phase.replace(' ', '_').replace('+', '_')}.json"
    env = {**os.environ, **ENV, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", phase, str(workdir), str(out), "1" if merge_traj else "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    tail = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"phase {phase!r} failed (exit {proc.returncode}):\n{tail[-4000:]}")
    result = json.loads(out.read_text())
    result["process_peak_MB"] = usage.ru_maxrss / 1024  # kB on Linux; the whole child, imports included
    result["peak_MB"] = result.pop("phase_peak_kB") / 1024  # VmHWM from the end of the imports to the end of the phase
    result["after_imports_MB"] = result.pop("after_imports_kB") / 1024
    result["data_MB"] = result["peak_MB"] - result["after_imports_MB"]
    result["process_s"] = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'phase':16s} {'peak RSS MB':>11s} {'process peak':>12s} {'after imports':>13s} {'data MB':>8s} {'wall s':>7s} {'dump frames':>11s} {'md.out rows':>11s} {'read MB':>8s}  notes"
    lines = [head, "-" * len(head)]
    for r in rows:
        notes = ", ".join(f"{k} {r[k]}" for k in ("fp_tasks", "faulty_tasks", "coverage", "carved", "new_tasks") if k in r)
        lines.append(
            f"{r['phase']:16s} {r['peak_MB']:11.0f} {r['process_peak_MB']:12.0f} {r['after_imports_MB']:13.0f} {r['data_MB']:8.0f} {r['wall_s']:7.1f} "
            f"{r['dump_frames']:11d} {r['model_devi_rows']:11d} {r['read_MB']:8.0f}  {notes}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=500, help="frames per exploration task (default 500)")
    parser.add_argument("--tasks", type=int, default=4, help="exploration tasks (default 4)")
    parser.add_argument("--atoms-scale", type=int, default=2, help="copies of the 1152-atom Σ3 cell along a (default 2: 2304 atoms)")
    parser.add_argument("--candidate-fraction", type=float, default=0.3, help="frames in the trust window (default 0.3)")
    parser.add_argument("--accurate-fraction", type=float, default=0.1, help="frames below trust_lo (default 0.1); the rest fail")
    parser.add_argument("--sigma", type=float, default=0.05, help="Gaussian displacement of the atoms, Å (default 0.05)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="a frozen model of the param's type map to use instead of training one for the coverage step")
    parser.add_argument("--tmpdir", help="where the temporary directory goes (default: the system's)")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--merge-traj",
        action="store_true",
        help="one all.lammpstrj per task and model_devi_merge_traj true (DP-GEN's other trajectory layout)",
    )
    parser.add_argument("--child", nargs=4, metavar=("PHASE", "WORKDIR", "OUT", "MERGE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.frames < 2 or args.tasks < 1 or args.atoms_scale < 1:
        parser.error("--frames >= 2, --tasks >= 1, --atoms-scale >= 1")

    import logging

    logging.disable(logging.INFO)
    from dpgen_llzo.loop.runner import load_dpgen_inputs

    jdata, _ = load_dpgen_inputs(PARAM, MACHINE)
    job_order(jdata, args.merge_traj)
    scratch = Path(tempfile.mkdtemp(prefix="selection_memory-", dir=args.tmpdir))
    results: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k not in ("child",)}}
    try:
        source = scratch / "work"
        source.mkdir()
        say(f"building the synthetic work directory in {source}")
        t0 = time.time()
        description = build_workdir(source, args, jdata)
        build_model(source, args, jdata)
        description["fp_task_max"] = int(jdata["fp_task_max"])
        description["candidates_total"] = int(round(args.candidate_fraction * args.frames)) * args.tasks
        say(
            f"  {description['tasks']} tasks x {description['frames_per_task']} frames of {description['n_atoms']} atoms: "
            f"model_devi.out {description['model_devi_out_MB']} MB, dumps {description['dumps_MB']} MB, "
            f"{description['candidates_total']} candidate frames, fp_task_max {description['fp_task_max']} ({time.time() - t0:.0f} s)"
        )
        results["workdir"] = description
        rows = []
        for phase in ("imports", "imports+model"):
            say(f"phase {phase} ...")
            rows.append(run_phase(phase, source, scratch, args.merge_traj))
        stock = fresh_copy(source, scratch / "stock")
        say("phase stock make_fp ...")
        rows.append(run_phase("stock make_fp", stock, scratch, args.merge_traj))
        shutil.rmtree(stock)
        ours = fresh_copy(source, scratch / "ours")
        for phase in ("ours screen", "ours coverage", "ours make_fp", "ours carve"):
            say(f"phase {phase} ...")
            rows.append(run_phase(phase, ours, scratch, args.merge_traj))
            say(f"  peak {rows[-1]['peak_MB']:.0f} MB, {rows[-1]['wall_s']:.1f} s")
        shutil.rmtree(ours)
        results["phases"] = rows
        by = {r["phase"]: r for r in rows}
        ref = by["stock make_fp"]
        ratios = {}
        for name in ("ours screen", "ours coverage", "ours make_fp", "ours carve"):
            r = by[name]
            ratios[name] = {
                "peak": r["peak_MB"] / ref["peak_MB"],
                "data": r["data_MB"] / ref["data_MB"] if ref["data_MB"] > 0 else None,
            }
        ours_peak = max(by[n]["peak_MB"] for n in ratios)
        ours_data = max(by[n]["data_MB"] for n in ratios)
        ratios["ours selection (max over phases)"] = {"peak": ours_peak / ref["peak_MB"], "data": ours_data / ref["data_MB"] if ref["data_MB"] > 0 else None}
        results["ratios_ours_over_stock"] = ratios
        print()
        print(
            f"selection step, {description['tasks']} tasks x {description['frames_per_task']} frames x {description['n_atoms']} atoms "
            f"(model_devi.out {description['model_devi_out_MB']} MB, dumps {description['dumps_MB']} MB); "
            f"peak RSS per phase, each a fresh process"
        )
        print(table(rows))
        print()
        print("ours / stock make_fp        peak RSS   data (peak - after imports)")
        for name, value in ratios.items():
            data = f"{value['data']:.2f}" if value["data"] is not None else "-"
            print(f"  {name:32s} {value['peak']:6.2f}   {data}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
            say(f"results in {args.json_out}")
    finally:
        if args.keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
