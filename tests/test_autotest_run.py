"""Autotest runs with LAMMPS and the teacher (slow): layout, perfect-crystal RDF, 1 % lattice check, learning curve.

The model is the final one of a quick demo: ``DPGEN_LLZO_AUTOTEST_MODEL`` (a ``.pb`` with
type map Li, La, Zr, O) if set, else the session's ``quick_demo`` fixture (set
``DPGEN_LLZO_DEMO_DIR`` to reuse a demo directory). Settings are kept short (seconds of
LAMMPS, a handful of CHGNet steps at ~1 s each).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from dpgen_llzo.autotest import load_autotest_param, make, post, run

pytestmark = pytest.mark.slow

TYPE_MAP = {"Li": 0, "La": 1, "Zr": 2, "O": 3}


@pytest.fixture(scope="session")
def demo_model(request) -> Path:
    """A trained DP of LLZO (see the module docstring)."""
    path = os.environ.get("DPGEN_LLZO_AUTOTEST_MODEL")
    if path:
        return Path(path).resolve()
    workdir, _ = request.getfixturevalue("quick_demo")
    models = sorted(Path(workdir).glob("iter.*/00.train/graph.000.pb"))
    assert models, f"{workdir}: the demo left no model"
    return models[-1]


def work_root(tmp_path: Path, model: Path, **param) -> Path:
    shutil.copy(model, tmp_path / "graph.pb")
    base = {"interaction": {"type": "deepmd", "model": "graph.pb", "type_map": TYPE_MAP, "deepmd_version": "3.2"}}
    (tmp_path / "autotest.json").write_text(json.dumps({**base, **param}))
    return tmp_path / "autotest.json"


def test_quick_run_writes_dpgen_layout_and_a_filled_report(tmp_path, demo_model, fast_job_polls):
    path = work_root(tmp_path, demo_model, structures=["confs/llzo-cubic"], relaxation={
        "cal_setting": {"ftol": 1e-4, "maxiter": 300, "maxeval": 3000}, "reference": {"type": "none"}}, properties=[
        {"type": "eos", "vol_start": 0.97, "vol_end": 1.04, "vol_step": 0.02,
         "cal_setting": {"ftol": 1e-3, "maxiter": 100, "maxeval": 1000}},
        {"type": "lattice_T", "temperatures_K": [600], "n_steps": 200, "equilibration_steps": 100, "thermo_every": 10,
         "reference": {"type": "none"}},
        {"type": "rdf", "temperatures_K": [600], "n_steps": 200, "equilibration_steps": 50, "dump_every": 50,
         "reference": {"type": "teacher", "n_steps": 6, "equilibration_steps": 2, "sample_every": 2, "timestep_fs": 1.0}},
    ])
    param = load_autotest_param(path, root=tmp_path)
    made = make(param)
    assert made["relaxation"] == ["confs/llzo-cubic"] and len(made["waiting"]) == 3
    conf = tmp_path / "confs" / "llzo-cubic"
    for name in ("POSCAR", "relaxation/in.lammps", "relaxation/relax_task/in.lammps", "relaxation/relax_task/conf.lmp",
                 "relaxation/relax_task/graph.pb", "relaxation/relax_task/task.json"):
        assert (conf / name).exists(), name
    counts = run(param)
    assert counts == {"relaxation_tasks": 1, "property_tasks": 4 + 1 + 1 + 1}  # eos, lattice_T, rdf DP + teacher
    for name in ("relaxation/relax_task/CONTCAR", "relaxation/relax_task/result.json", "eos_00/task.000003/log.lammps",
                 "lattice_T_00/task.000000/log.lammps", "rdf_00/task.000000/dump.rdf", "rdf_00/reference.000000/traj.extxyz"):
        assert (conf / name).is_file(), name
    assert run(param) == {"relaxation_tasks": 0, "property_tasks": 0}  # resumes: nothing left

    report = post(param, "report")
    out = tmp_path / "report"
    for name in ("result.json", "report.md", "eos_llzo-cubic.png", "lattice_T_llzo-cubic.png", "rdf_llzo-cubic_600K.png"):
        assert (out / name).is_file(), name
    for name in ("eos_00/result.json", "eos_00/eos_fit.json", "lattice_T_00/result.json", "rdf_00/result.json", "rdf_00/result.out"):
        assert (conf / name).is_file(), name
    rows = report["rows"]
    sections = {r["section"] for r in rows}
    assert sections == {"lattice_0K", "lattice_T", "rdf"}
    for row in rows:
        assert row["dp"] is not None and math.isfinite(row["dp"]), row
        if row["section"] == "rdf":
            assert row["reference"] is not None and 0.0 < row["similarity"] <= 1.0, row
    methods = {r["method"] for r in rows if r["section"] == "lattice_0K"}
    assert "relaxation" in methods
    assert "EOS minimum" in methods or any("EOS row left out" in note for note in report["notes"])  # a poor model's E(V)
    assert {r["pair"] for r in rows if r["section"] == "rdf"} == {"Li-O", "La-O", "Zr-O", "O-O", "Li-Li"}
    li_o = next(r for r in rows if r["section"] == "rdf" and r["pair"] == "Li-O" and r["quantity"] == "first_peak_A")
    assert 1.7 < li_o["dp"] < 2.3 and li_o["experiment"] == 1.95


def test_type_map_disagreeing_with_the_model_is_a_one_line_error(tmp_path, demo_model):
    from dpgen_llzo.autotest.param import check_model
    from dpgen_llzo.errors import UserInputError

    path = work_root(tmp_path, demo_model, structures=["confs/li2o"])
    data = json.loads(path.read_text())
    data["interaction"]["type_map"] = {"La": 0, "Li": 1, "Zr": 2, "O": 3}
    path.write_text(json.dumps(data))
    with pytest.raises(UserInputError, match=r"La → 0, but the model graph.pb has type map \['Li', 'La', 'Zr', 'O'\]"):
        check_model(load_autotest_param(path, root=tmp_path))


def test_rdf_of_a_perfect_crystal_through_lammps(tmp_path, demo_model):
    """Li2O at 1 K for a few steps (symmetry keeps every force zero): analytic first peaks."""
    path = work_root(tmp_path, demo_model, structures=["confs/li2o"], relaxation={
        "cal_setting": {"relax_pos": False, "relax_shape": False, "relax_vol": False}, "reference": {"type": "none"}},
        properties=[{"type": "rdf", "temperatures_K": [1], "n_steps": 20, "equilibration_steps": 0, "dump_every": 10,
                     "supercell": [3, 3, 3], "pairs": ["Li-O", "O-O", "Li-Li"], "dr_A": 0.02, "r_max_A": 5.0,
                     "reference": {"type": "none"}}])
    param = load_autotest_param(path, root=tmp_path)
    make(param)
    run(param)
    result = post(param, "report")["results"]["confs/li2o"]["rdf"]
    a = 4.6114
    row = result["rows"][0]
    assert row["n_frames_dp"] == 3
    for pair, distance in {"Li-O": math.sqrt(3) / 4 * a, "O-O": a / math.sqrt(2), "Li-Li": a / 2}.items():
        assert row["dp"][pair]["first_peak_A"] == pytest.approx(distance, abs=0.02), pair


def test_dp_relaxation_of_cubic_llzo_within_one_percent_of_the_teacher(tmp_path, demo_model, fast_job_polls):
    """dpgen's relaxation with the DP vs CHGNet (FrechetCellFilter + FIRE) on the same cubic cell."""
    path = work_root(tmp_path, demo_model, structures=["confs/llzo-cubic"], relaxation={
        "cal_setting": {"ftol": 1e-4, "maxiter": 500, "maxeval": 5000},
        "reference": {"type": "teacher", "fmax_eV_A": 0.1, "max_steps": 40}})
    param = load_autotest_param(path, root=tmp_path)
    make(param)
    run(param)
    report = post(param, "report")
    row = next(r for r in report["rows"] if r["section"] == "lattice_0K" and r["quantity"] == "a_A")
    print(f"cubic a: DP {row['dp']:.4f} Å, teacher {row['reference']:.4f} Å, experiment {row['experiment']:.3f} Å, "
          f"DP vs teacher {row['dp_vs_reference_pct']:+.2f} %")
    assert abs(row["dp_vs_reference_pct"]) < 1.0


TINY_INPUT = {
    "model": {"type_map": ["Li", "La", "Zr", "O"],
              "descriptor": {"type": "se_e2_a", "rcut": 4.0, "rcut_smth": 0.5, "sel": [24, 10, 6, 36], "neuron": [4, 8],
                             "axis_neuron": 2, "type_one_side": True, "seed": 1},
              "fitting_net": {"neuron": [8], "seed": 1}},
    "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-4, "decay_steps": 10},
    "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000, "limit_pref_f": 1},
    "training": {"numb_steps": 1, "disp_file": "lcurve.out", "disp_freq": 10, "training_data": {"systems": []}},
}


def harmonic_frames(directory: Path, n_frames: int, seed: int, k_eV_A2: float = 2.0) -> None:
    """Tetragonal LLZO frames with random displacements d, labelled E = E0 + k Σ d², F = −2k d."""
    import dpdata
    import numpy as np

    from dpgen_llzo.structures import build_structure

    structure = build_structure("llzo-tetragonal")
    names = ["Li", "La", "Zr", "O"]
    types = np.array([names.index(s.specie.symbol) for s in structure])
    rng = np.random.default_rng(seed)
    d = rng.normal(scale=0.05, size=(n_frames, len(structure), 3))
    system = dpdata.LabeledSystem(data={
        "atom_names": names, "atom_numbs": [int((types == i).sum()) for i in range(4)], "atom_types": types,
        "orig": np.zeros(3), "cells": np.repeat(structure.lattice.matrix[None], n_frames, axis=0),
        "coords": structure.cart_coords[None] + d, "energies": -1400.0 + k_eV_A2 * (d**2).sum(axis=(1, 2)),
        "forces": -2 * k_eV_A2 * d, "nopbc": False})
    system.to_deepmd_npy(str(directory))


def test_learning_curve_on_harmonic_data(tmp_path, monkeypatch):
    """Two nested subsets, a few dozen training steps each: json, png, one point per size."""
    from dpgen_llzo.autotest.learning_curve import learning_curve
    from dpgen_llzo.autotest.workflow import load_machine
    from dpgen_llzo.dispatch import machine_section

    harmonic_frames(tmp_path / "train", 8, seed=1)
    harmonic_frames(tmp_path / "test", 2, seed=2)
    mdata, machine_path = load_machine(None)
    monkeypatch.chdir(tmp_path)
    result = learning_curve([str(tmp_path / "train")], {"crystal": [str(tmp_path / "test")]}, TINY_INPUT, [2, 8],
                            numb_steps=20, seed=3, output="lc", machine_entry=machine_section(mdata, "train", machine_path))
    assert [p["n_frames"] for p in result["points"]] == [2, 8]
    for point in result["points"]:
        errors = point["errors"]["crystal"]
        assert errors["n_frames"] == 2 and math.isfinite(errors["force_rmse_meV_A"])
    saved = json.loads((tmp_path / "lc" / "learning_curve.json").read_text())
    assert saved["seed"] == 3 and (tmp_path / "lc" / "learning_curve.png").is_file()
    inputs = json.loads((tmp_path / "lc" / "size_00002" / "input.json").read_text())
    assert inputs["training"]["numb_steps"] == 20 and inputs["training"]["training_data"]["systems"] == ["data/000"]
