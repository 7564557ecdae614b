"""Effect of carving on the next model: whole GB frames vs carved cells, same starting model.

A demonstration of the mechanism at tiny scale (two CPU cores, minutes), not a converged
study. Steps (each cached under ``--workdir``; delete a sub-directory to redo it):

1. **Exploration** of the committed Σ3(112) cell (1152 atoms) with DP-MD (NVT, LAMMPS,
   ``templates/lammps/gb-nvt.lmp``) at ``--temp`` K driven by the two starting models
   (``--models``, default the quick demo's iteration-2 models), per-atom force deviation
   written with ``atomic``.
2. **Candidates**: the earliest frames (step > 0) whose max force deviation is in DP-GEN's
   candidate window ``--trust`` and whose whole-frame teacher labels pass the bundles'
   screening (max force 20 eV/Å), ``--frames`` of them (later frames of a 1200 K run with a
   model trained on bulk only hold contacts the teacher rejects; those are listed).
3. **Additions**, labelled by the teacher (CHGNet):
   (A) the candidate frames whole (``frames × 1152`` atoms);
   (B) cells carved (:func:`dpgen_llzo.gb.carving.carve_frame`, periodic, radius 7 Å) around
   the atoms of largest deviation of the same frames, as many cells per frame as make the
   labelled atom count comparable to (A) (at most ``--cells-per-frame``; centres ≥ 14 Å apart).
   The comparison is at a *comparable number of labelled atoms*; the DFT cost of (B) is far
   lower (cost ∝ N³: a 350-atom cell costs ~1/30 of a 1152-atom frame).
4. **Training**: from the same frozen model (``dp train --init-frz-model graph.000.pb``),
   same seed, same steps, on the starting model's data (init + iterations 0-1 of the demo)
   plus (A), plus (B), or plus nothing (control C: the effect of the extra steps alone);
   the new data get half the sampling probability.
5. **Test**: held-out GB frames from a second exploration at ``--test-temp`` K (another
   temperature; the earliest frames that pass the teacher's screening), teacher-labelled; force RMSE per component over all
   atoms and over the atoms within 5 Å of the two GB planes, and energy RMSE per atom.

Run: ``python benchmarks/carving_effect.py --workdir /tmp/carving_effect``; results in
``results.json`` and printed as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TYPE_MAP = ["Li", "La", "Zr", "O"]
GB_DIR = REPO / "gb_systems" / "sigma3-112"
ENV = {"OMP_NUM_THREADS": "2", "DP_INTRA_OP_PARALLELISM_THREADS": "2", "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def explore(workdir: Path, models: list[Path], temp: float, nsteps: int, every: int) -> Path:
    """DP-MD of the Σ3 cell with the GB NVT template; returns the run directory."""
    import dpdata

    run = workdir / f"explore-{int(temp)}K"
    if (run / "done").is_file():
        return run
    shutil.rmtree(run, ignore_errors=True)
    (run / "traj").mkdir(parents=True)
    for k, model in enumerate(models):
        shutil.copyfile(model, run / f"graph.{k:03d}.pb")
    dpdata.System(str(GB_DIR / "POSCAR"), fmt="vasp/poscar", type_map=TYPE_MAP).to("lammps/lmp", str(run / "conf.lmp"))
    text = (REPO / "templates" / "lammps" / "gb-nvt.lmp").read_text()
    graphs = " ".join(f"graph.{k:03d}.pb" for k in range(len(models)))
    text = re.sub(r"^pair_style\s+deepmd.*$", f"pair_style      deepmd {graphs} out_freq {every} out_file model_devi.out atomic", text, flags=re.M)
    text = re.sub(r"^dump\s+dpgen_dump.*$", f"dump            dpgen_dump all custom {every} traj/*.lammpstrj id type x y z", text, flags=re.M)
    text = text.replace("V_NSTEPS", str(nsteps)).replace("V_TEMP", str(temp))
    (run / "input.lammps").write_text(text)
    say(f"LAMMPS NVT {temp} K, {nsteps} steps, 1152 atoms")
    subprocess.run(["lmp", "-i", "input.lammps", "-v", "restart", "0", "-log", "log.lammps"], cwd=run, check=True, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL)
    (run / "done").write_text("")
    return run


def frames_of(run: Path) -> tuple[np.ndarray, np.ndarray, dict[int, object]]:
    """Steps, per-atom deviations (id order) and the dpdata frames of an exploration."""
    import dpdata

    from dpgen_llzo.gb.carving import read_atomic_model_devi

    steps, deviations = read_atomic_model_devi(str(run / "model_devi.out"))
    frames = {int(s): dpdata.System(str(run / "traj" / f"{int(s)}.lammpstrj"), fmt="lammps/dump", type_map=TYPE_MAP) for s in steps}
    return steps, deviations, frames


def label(systems: list, labeler, out: Path) -> list[Path]:
    """Teacher labels of dpdata systems, written as deepmd/npy under ``out/NNN``."""
    from dpgen_llzo.labelers.labelling import label_system

    if (out / "done").is_file():
        return sorted(p for p in out.iterdir() if p.is_dir())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    paths = []
    for k, system in enumerate(systems):
        labeled, rejected = label_system(system, labeler, TYPE_MAP, max_force=20.0, progress=False)
        if labeled is None:
            say(f"  {out.name}/{k:03d}: rejected by the teacher ({rejected})")
            continue
        labeled.to("deepmd/npy", str(out / f"{k:03d}"))
        paths.append(out / f"{k:03d}")
    (out / "done").write_text("")
    return paths


def labelled_atoms(paths: list[Path]) -> int:
    """Atoms labelled in deepmd/npy systems (frames × atoms)."""
    import dpdata

    return sum(s.get_nframes() * s.get_natoms() for s in (dpdata.LabeledSystem(str(p), fmt="deepmd/npy") for p in paths))


def carved_systems(frame, deviation: np.ndarray, n: int) -> tuple[list, list[dict]]:
    """Carved cells (dpdata systems) around the ``n`` worst atoms of one frame."""
    import dpdata

    from dpgen_llzo.gb.carving import carve_frame

    structure = frame.to("pymatgen/structure")[0]
    cells = carve_frame(structure, deviation, n, 7.0, "periodic", rcut=6.0)
    systems, infos = [], []
    for cell, info in cells:
        systems.append(dpdata.System(cell, fmt="pymatgen/structure", type_map=TYPE_MAP))
        infos.append({"centre": info.parent_centre_index, "deviation_eV_A": float(deviation[info.parent_centre_index]), "n_atoms": len(cell)})
    return systems, infos


def train(workdir: Path, name: str, base_input: dict, base_systems: list[str], extra: list[Path], init_model: Path, steps: int) -> Path:
    """``dp train --init-frz-model`` on base + extra systems; returns the frozen model."""
    run = workdir / f"train-{name}"
    if (run / "frozen.pb").is_file():
        return run / "frozen.pb"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    config = json.loads(json.dumps(base_input))
    systems = list(base_systems) + [str(p) for p in extra]
    training = config["training"]
    training["training_data"] = {"systems": systems, "batch_size": 1}
    if extra:
        n_old = len(base_systems)
        training["training_data"]["auto_prob"] = f"prob_sys_size; 0:{n_old}:0.5; {n_old}:{len(systems)}:0.5"
    training.update(numb_steps=steps, seed=2024, disp_freq=max(steps // 4, 1), save_freq=steps)
    training.pop("validation_data", None)
    config["learning_rate"].update(start_lr=5e-4, stop_lr=3e-5, decay_steps=max(steps // 20, 1))
    config["loss"].update(start_pref_e=0.1, start_pref_f=100)
    config["model"]["fitting_net"]["seed"] = 1
    config["model"]["descriptor"]["seed"] = 1
    (run / "input.json").write_text(json.dumps(config, indent=1))
    say(f"dp train {name}: {len(systems)} systems ({len(extra)} added), {steps} steps")
    env = {**os.environ, **ENV}
    t0 = time.time()
    subprocess.run(["dp", "train", "input.json", "--init-frz-model", str(init_model), "--skip-neighbor-stat"], cwd=run, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["dp", "freeze", "-o", "frozen.pb"], cwd=run, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    say(f"  trained in {time.time() - t0:.0f} s")
    return run / "frozen.pb"


def errors(model: Path, test_dirs: list[Path], gb_planes: list[float], half_width: float = 5.0) -> dict[str, float]:
    """Force RMSE per component (all atoms, GB atoms) and energy RMSE per atom on the test frames."""
    import dpdata
    from deepmd.infer import DeepPot

    dp = DeepPot(str(model))
    df_all, df_gb, de = [], [], []
    for path in test_dirs:
        system = dpdata.LabeledSystem(str(path), fmt="deepmd/npy")
        types = system["atom_types"]
        for k in range(system.get_nframes()):
            coords, cell = system["coords"][k], system["cells"][k]
            e, f, _ = dp.eval(coords.reshape(1, -1), cell.reshape(1, 9), types)
            diff = f.reshape(-1, 3) - system["forces"][k]
            z = coords @ np.linalg.inv(cell)[:, 2] * np.linalg.norm(cell[2])  # along c, Å
            near = np.zeros(len(z), dtype=bool)
            for plane in gb_planes:
                d = np.abs(z - plane)
                d = np.minimum(d, np.linalg.norm(cell[2]) - d)
                near |= d < half_width
            df_all.append(diff.ravel())
            df_gb.append(diff[near].ravel())
            de.append((float(e.ravel()[0]) - float(system["energies"][k])) / len(types))
    de_arr = np.array(de)
    return {
        "force_rmse_meV_A": 1000 * float(np.sqrt(np.mean(np.concatenate(df_all) ** 2))),
        "force_rmse_gb_meV_A": 1000 * float(np.sqrt(np.mean(np.concatenate(df_gb) ** 2))),
        "energy_rmse_meV_atom": 1000 * float(np.sqrt(np.mean(de_arr**2))),
        "energy_rmse_offset_removed_meV_atom": 1000 * float(np.std(de_arr)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/carving_effect"))
    parser.add_argument("--models", type=Path, nargs=2, default=[Path("/tmp/w1/iter.000002/00.train/graph.000.pb"), Path("/tmp/w1/iter.000002/00.train/graph.001.pb")])
    parser.add_argument("--train-dir", type=Path, default=Path("/tmp/w1/iter.000002/00.train/000"), help="training run of the starting model (input.json, data links)")
    parser.add_argument("--temp", type=float, default=1200.0)
    parser.add_argument("--test-temp", type=float, default=800.0)
    parser.add_argument("--nsteps", type=int, default=300)
    parser.add_argument("--every", type=int, default=30)
    parser.add_argument("--frames", type=int, default=2, help="candidate frames (the earliest in the trust window)")
    parser.add_argument("--trust", type=float, nargs=2, default=[0.3, 1.5], help="force trust levels lo hi, eV/Å (the quick demo's)")
    parser.add_argument("--test-frames", type=int, default=3)
    parser.add_argument("--cells-per-frame", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--no-control", action="store_true", help="skip control C (extra steps on the old data only)")
    args = parser.parse_args(argv)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    planes = json.loads((GB_DIR / "POSCAR.json").read_text())["plane_positions_A"]

    run = explore(work, args.models, args.temp, args.nsteps, args.every)
    steps, deviations, frames = frames_of(run)
    # DP-GEN's candidate window; the earliest such frames (later 1200 K frames of a model
    # trained on bulk only hold contacts the teacher rejects, > 20 eV/Å).
    window = (deviations.max(axis=1) >= args.trust[0]) & (deviations.max(axis=1) < args.trust[1])
    pool = [int(i) for i in np.flatnonzero(window & (steps > 0))]

    test_run = explore(work, args.models, args.test_temp, args.nsteps, args.every)
    test_steps, _, test_frames = frames_of(test_run)

    from dpgen_llzo.labelers import get_labeler

    teacher = get_labeler("chgnet", device="cpu")
    t0 = time.time()
    # (A): the earliest window frames whose whole-frame labels pass the teacher's screening
    # (max force 20 eV/Å, the bundles' setting), so that (A) and (B) share the same frames.
    chosen, data_a, rejected = [], [], []
    for i in pool:
        paths = label([frames[int(steps[i])]], teacher, work / "data-A-whole" / f"step-{int(steps[i]):05d}")
        if paths:
            chosen.append(i)
            data_a += paths
        else:
            rejected.append(int(steps[i]))
        if len(chosen) == args.frames:
            break
    say(f"candidates: steps {[int(steps[i]) for i in chosen]} (rejected by the teacher: {rejected}), "
        f"max deviation {[round(float(deviations[i].max()), 3) for i in chosen]} eV/Å")
    n_whole = sum(frames[int(steps[i])].get_natoms() for i in chosen)
    carved, carve_info = [], []
    for i in chosen:
        systems, infos = carved_systems(frames[int(steps[i])], deviations[i], args.cells_per_frame)
        carved += systems
        carve_info.append({"step": int(steps[i]), "cells": infos})
    # Comparable labelled atoms: drop carved cells from the end while B would still hold 90 % of A.
    while len(carved) > 1 and sum(s.get_natoms() for s in carved) - carved[-1].get_natoms() >= n_whole * 0.9:
        carved.pop()
    say(f"(A) {len(chosen)} whole frames, {n_whole} atoms; (B) {len(carved)} carved cells, {sum(s.get_natoms() for s in carved)} atoms")
    data_b = label(carved, teacher, work / "data-B-carved")
    # Test: the earliest frames of the second exploration that pass the teacher's screening.
    data_test, test_used = [], []
    for i in range(1, len(test_steps)):
        paths = label([test_frames[int(test_steps[i])]], teacher, work / "data-test" / f"step-{int(test_steps[i]):05d}")
        if paths:
            data_test += paths
            test_used.append(int(test_steps[i]))
        if len(data_test) == args.test_frames:
            break
    say(f"teacher labels in {time.time() - t0:.0f} s")
    n_whole, n_carved = labelled_atoms(data_a), labelled_atoms(data_b)  # after the teacher's screening

    base_input = json.loads((args.train_dir / "input.json").read_text())
    base_systems = [str((args.train_dir / s).resolve()) for s in base_input["training"]["training_data"]["systems"]]
    init_model = args.models[0].resolve()
    models = {"start (no training)": init_model}
    models["A: + whole frames"] = train(work, "A", base_input, base_systems, data_a, init_model, args.train_steps)
    models["B: + carved cells"] = train(work, "B", base_input, base_systems, data_b, init_model, args.train_steps)
    if not args.no_control:
        models["C: control, old data only"] = train(work, "C", base_input, base_systems, [], init_model, args.train_steps)
    results = {
        "setup": {
            "exploration": {"cell": "sigma3-112 (1152 atoms)", "temp_K": args.temp, "nsteps": args.nsteps, "every": args.every},
            "candidate_steps": [int(steps[i]) for i in chosen],
            "rejected_whole_frames_steps": rejected,
            "carving": carve_info,
            "labelled_atoms": {"A": n_whole, "B": n_carved},
            "labelled_cells": {"A": len(data_a), "B": len(data_b)},
            "test": {"temp_K": args.test_temp, "steps": test_used, "frames": len(data_test), "atoms_per_frame": 1152},
            "train_steps": args.train_steps,
            "init_model": str(init_model),
        },
        "errors": {name: errors(path, data_test, planes) for name, path in models.items()},
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'model':28s} {'F RMSE all':>11s} {'F RMSE GB':>10s} {'E RMSE':>8s}  (meV/Å, meV/Å, meV/atom)")
    for name, e in results["errors"].items():
        print(f"{name:28s} {e['force_rmse_meV_A']:11.1f} {e['force_rmse_gb_meV_A']:10.1f} {e['energy_rmse_meV_atom']:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
