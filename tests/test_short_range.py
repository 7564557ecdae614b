"""ZBL short-range baseline and the closest physical contacts (issue #12, item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tiny_bundle import write_li2o_fp_candidates

from dpgen_llzo.short_range import (
    ZBLTable,
    closest_contact,
    default_min_distance,
    parse_min_distances,
    smooth_switch,
    type_pairs,
    zbl_energy,
    zbl_force,
    zbl_table_array,
)


def test_zbl_matches_the_universal_formula_at_known_points():
    # Li-O at 1.0 Å, evaluated by hand from ZBL's screening function: a = 0.4685/(3^0.23 + 8^0.23)
    a = 0.46850 / (3**0.23 + 8**0.23)
    x = 1.0 / a
    phi = 0.18175 * np.exp(-3.1998 * x) + 0.50986 * np.exp(-0.94229 * x) + 0.28022 * np.exp(-0.4029 * x) + 0.02817 * np.exp(-0.20162 * x)
    assert zbl_energy(1.0, 3, 8) == pytest.approx(14.399645 * 24 * phi, rel=1e-12)
    # bare Coulomb is the limit at short range: φ(0) = 1
    assert zbl_energy(1e-5, 57, 57) * 1e-5 == pytest.approx(14.399645 * 57 * 57, rel=1e-3)
    r = np.linspace(0.2, 3.0, 50)
    h = 1e-6
    numeric = (zbl_energy(r - h, 40, 8) - zbl_energy(r + h, 40, 8)) / (2 * h)
    np.testing.assert_allclose(zbl_force(r, 40, 8), numeric, rtol=1e-6)
    assert np.all(zbl_force(r, 40, 8) > 0)  # repulsive everywhere


def test_switch_is_smooth_and_the_table_vanishes_at_bonding_distances():
    table = ZBLTable(switch_on=1.3, switch_off=1.7)
    s, ds = smooth_switch(np.array([1.0, 1.3, 1.7, 2.0]), 1.3, 1.7)
    np.testing.assert_allclose(s, [1, 1, 0, 0])
    np.testing.assert_allclose(ds, [0, 0, 0, 0])
    # energy and force continuous across both ends of the switch
    for edge in (1.3, 1.7):
        for fn in (table.pair_energy, table.pair_force):
            below, above = fn(np.array([edge - 1e-7]), 3, 8), fn(np.array([edge + 1e-7]), 3, 8)
            assert below == pytest.approx(above, abs=1e-5)
    r = np.linspace(1.31, 1.69, 39)
    h = 1e-6
    numeric = (table.pair_energy(r - h, 57, 8) - table.pair_energy(r + h, 57, 8)) / (2 * h)
    np.testing.assert_allclose(table.pair_force(r, 57, 8), numeric, rtol=1e-5, atol=1e-8)
    # the table: distance column, then pairs in DeePMD's order, pure ZBL below the switch
    array = zbl_table_array(["Li", "La", "Zr", "O"], table)
    assert array.shape[1] == 1 + 10 and type_pairs(4)[3] == (0, 3)
    close = array[:, 0] < 1.3
    np.testing.assert_allclose(array[close, 4], zbl_energy(array[close, 0], 3, 8))
    assert np.all(array[array[:, 0] >= 1.7, 1:] == 0)
    assert array[0, 0] == pytest.approx(0.05) and np.allclose(np.diff(array[:, 0]), table.dr)


def test_min_distances_defaults_overrides_and_periodic_images():
    assert default_min_distance("Li", "O") == pytest.approx(0.45 * (1.28 + 0.66))
    assert parse_min_distances("O-Li=1.0, Li-Li=1.2") == {"Li-O": 1.0, "Li-Li": 1.2}
    for bad in ("Li=1", "Li-Xx=1", "Li-O=abc", "Li-O=-1"):
        with pytest.raises(ValueError):
            parse_min_distances(bad)
    cell = np.eye(3) * 5.0
    # a Li-O pair 0.1 Å apart through the periodic boundary
    reason = closest_contact(["Li", "O"], np.array([[0.05, 0, 0], [4.95, 0, 0]]), cell)
    assert reason and "Li" in reason and "0.100 Å" in reason and "Li-O" in reason
    assert closest_contact(["Li", "O"], np.array([[0, 0, 0], [1.9, 0, 0]]), cell) is None
    # an override makes 1.9 Å too close; a cluster has no periodic images
    assert "2.00" in closest_contact(["Li", "O"], np.array([[0, 0, 0], [1.9, 0, 0]]), cell, {"Li-O": 2.0})
    assert closest_contact(["Li", "O"], np.array([[0.05, 0, 0], [4.95, 0, 0]]), None) is None


def test_label_refuses_a_short_contact_with_the_pair_and_exit_3(tmp_path):
    """The Li-O pair 0.1 Å apart that CHGNet labelled with an attractive force is refused before any teacher runs."""
    poscar = tmp_path / "POSCAR"
    poscar.write_text("LiO\n1.0\n6 0 0\n0 6 0\n0 0 6\nLi O\n1 1\nCartesian\n0 0 0\n0.1 0 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "dpgen_llzo.cli", "label", str(poscar), "-o", str(tmp_path / "out"), "--labeler", "chgnet"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert "atoms 0 (Li) and 1 (O) are 0.100 Å apart" in result.stderr and "Li-O" in result.stderr
    assert not (tmp_path / "out").exists()


def _train_zbl_model(directory: Path) -> Path:
    """Train a tiny se_e2_a with the ZBL table for 10 steps on 4 frames of a Li-O cell, freeze it."""
    import dpdata

    from dpgen_llzo.short_range import write_zbl_table

    rng = np.random.default_rng(0)
    base = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 2, 0], [0, 0, 2], [2, 0, 2], [0, 2, 2], [2, 2, 2.0]]) + 0.5
    frames = 4
    coords = base[None] + rng.normal(0, 0.05, (frames, 8, 3))
    data = {
        "atom_names": ["Li", "O"], "atom_numbs": [4, 4], "atom_types": np.array([0, 1, 1, 0, 1, 0, 0, 1]),
        "orig": np.zeros(3), "nopbc": False,
        "cells": np.tile(np.eye(3) * 4.0, (frames, 1, 1)), "coords": coords,
        "energies": -5.0 * 8 + rng.normal(0, 0.1, frames), "forces": rng.normal(0, 0.3, (frames, 8, 3)),
        "virials": np.zeros((frames, 3, 3)),
    }
    dpdata.LabeledSystem(data=data).to("deepmd/npy", str(directory / "data"))
    write_zbl_table(directory / "zbl.tab", ["Li", "O"])
    config = {
        "model": {
            "type_map": ["Li", "O"],
            "use_srtab": "zbl.tab", "smin_alpha": 0.1, "sw_rmin": 1.0, "sw_rmax": 1.3,
            "descriptor": {"type": "se_e2_a", "rcut": 3.5, "rcut_smth": 0.5, "sel": [16, 16], "neuron": [4, 8], "axis_neuron": 4, "seed": 1},
            "fitting_net": {"neuron": [8], "seed": 1},
        },
        "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-4, "decay_steps": 5},
        "loss": {"type": "ener", "start_pref_e": 1, "limit_pref_e": 1, "start_pref_f": 1, "limit_pref_f": 1},
        "training": {"numb_steps": 10, "seed": 1, "disp_freq": 5, "save_freq": 10,
                     "training_data": {"systems": ["data"], "batch_size": 1}},
    }
    (directory / "input.json").write_text(json.dumps(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    subprocess.run(["dp", "train", "input.json", "--skip-neighbor-stat"], cwd=directory, check=True, capture_output=True, env=env)
    subprocess.run(["dp", "freeze", "-o", "zbl.pb"], cwd=directory, check=True, capture_output=True, env=env)
    return directory / "zbl.pb"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_frozen_model_carries_zbl_and_lammps_agrees_with_python(tmp_path):
    """A frozen TF model with use_srtab: repulsive at contact, same energy in LAMMPS and in DeePMD's Python API."""
    from deepmd.infer import DeepPot

    model = _train_zbl_model(tmp_path)
    dp = DeepPot(str(model))
    box = np.eye(3).reshape(1, 9) * 12.0
    energies = []
    distances = [0.3, 0.6, 0.9, 1.2]
    for d in distances:  # an isolated Li-O pair closing in: ZBL energy grows monotonically
        e, f, _ = dp.eval(np.array([[1.0, 1.0, 1.0, 1.0 + d, 1.0, 1.0]]), box, [0, 1])
        energies.append(float(e[0, 0]))
        assert f[0, 0, 0] < 0 and f[0, 1, 0] > 0  # pushed apart
    assert all(a > b for a, b in zip(energies, energies[1:]))
    # below sw_rmin the pair is pure ZBL + the per-type bias: the energy difference is ZBL's
    assert energies[0] - energies[1] == pytest.approx(float(zbl_energy(0.3, 3, 8) - zbl_energy(0.6, 3, 8)), rel=1e-6)

    lmp = Path(sys.executable).with_name("lmp")
    if not lmp.exists():
        pytest.skip("no lmp in this environment")
    rng = np.random.default_rng(3)
    positions = np.array([[1, 1, 1], [1.7, 1, 1], [5, 5, 5], [6.9, 5, 5], [3, 8, 2], [8, 3, 9.0]]) + rng.normal(0, 0.02, (6, 3))
    types = [0, 1, 0, 1, 1, 0]
    e_py, f_py, v_py = dp.eval(positions.reshape(1, -1), box, types)
    lines = ["lammps data", "", "6 atoms", "2 atom types", "0 12 xlo xhi", "0 12 ylo yhi", "0 12 zlo zhi", "", "Masses", "", "1 6.94", "2 16.0", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} {t + 1} {x:.10f} {y:.10f} {z:.10f}" for i, (t, (x, y, z)) in enumerate(zip(types, positions))]
    (tmp_path / "conf.lmp").write_text("\n".join(lines) + "\n")
    (tmp_path / "in.lmp").write_text(
        "units metal\nboundary p p p\natom_style atomic\nread_data conf.lmp\n"
        f"pair_style deepmd {model.name}\npair_coeff * *\n"
        "thermo_style custom step pe\nthermo_modify format float %.10f\n"
        "dump d all custom 1 forces.dump id fx fy fz\ndump_modify d sort id format float %.10f\nrun 0\n"
    )
    result = subprocess.run([str(lmp), "-in", "in.lmp"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stdout[-2000:]
    log = result.stdout.splitlines()
    e_lmp = float(log[log.index(next(line for line in log if line.split()[:2] == ["Step", "PotEng"])) + 1].split()[1])
    assert e_lmp == pytest.approx(float(e_py[0, 0]), abs=1e-6)
    forces = np.loadtxt(tmp_path / "forces.dump", skiprows=9)[:, 1:]
    np.testing.assert_allclose(forces, f_py.reshape(6, 3), atol=1e-6)
    # the 0.7 Å Li-O contact is inside sw_rmin: its atoms are pushed apart by ZBL's force
    assert f_py.reshape(6, 3)[0, 0] < -5


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dpgen_custom_fp_task_with_a_short_contact_is_a_failed_task(tmp_path, monkeypatch):
    """DP-GEN's own make_fp (custom) -> run_fp (machine/local.json's `dpgen-llzo label`) -> post_fp:
    the frame with a Li-O pair 0.4 Å apart is counted failed, the two sound frames are labelled."""
    import copy

    import dpdata
    from dpgen.generator.arginfo import run_jdata_arginfo
    from dpgen.generator.run import make_fp_calculation, post_fp, run_fp
    from dpgen.remote.decide_machine import convert_mdata
    from dpgen.util import normalize

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    param = json.loads((repo / "param" / "demo" / "param-quick.json").read_text())
    jdata = normalize(run_jdata_arginfo(), param)
    jdata["ratio_failed"] = 0.5
    mdata = convert_mdata(json.loads((repo / "machine" / "local.json").read_text()))
    type_map = jdata["type_map"]
    work = tmp_path / "iter.000000" / "02.fp"
    write_li2o_fp_candidates(work, type_map)
    make_fp_calculation(0, jdata, mdata)
    run_fp(0, jdata, copy.deepcopy(mdata))
    rejected = (work / "task.000.000002" / "output").read_text()  # the fp log DP-GEN's run_fp keeps
    assert "atoms 0 (Li) and 8 (O) are 0.400 Å apart, closer than the physical minimum 0.87 Å of Li-O" in rejected
    assert not (work / "task.000.000002" / "labeled").exists()
    post_fp(0, jdata)
    data_dirs = sorted({p.parent for p in work.glob("data.*/**/type.raw")})
    labelled = sum(len(dpdata.LabeledSystem(str(d), fmt="deepmd/npy")) for d in data_dirs)
    assert labelled == 2
