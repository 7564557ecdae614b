"""Lattice vs T, thermal expansion, t→c transition temperature and melting signature."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpgen_llzo.analysis import (c_over_a, cell_lengths_from_thermo, lattice_table, melting_signature,
                                 read_lammps_thermo, thermal_expansion, transition_temperature)
from dpgen_llzo.analysis.synthetic import SyntheticSystem, write_lammps_dump
from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError

ALPHA = 1.5e-5  # K⁻¹
A0 = 12.97 * 3  # 3×3×3 supercell edge at 300 K, Å


def _edge(T):
    return A0 * (1 + ALPHA * (np.asarray(T) - 300.0))


def _write_log(path, temps, rows=50, seed=0, tetragonal_tc=None):
    rng = np.random.default_rng(seed)
    lines = ["LAMMPS (2 Aug 2023)\n", "units metal\n"]
    for T in temps:
        lines.append("Step Temp Press Lx Ly Lz Volume\n")
        a = _edge(T)
        c = a * (1 - (0.0012 * max(tetragonal_tc - T, 0) ** 0.5 if tetragonal_tc else 0.0))
        for k in range(rows):
            noise = rng.normal(scale=0.01, size=3)
            lx, ly, lz = a + noise[0], a + noise[1], c + noise[2]
            lines.append(f"{k * 100} {T + rng.normal(scale=5):.3f} 1.0 {lx:.6f} {ly:.6f} {lz:.6f} {lx * ly * lz:.4f}\n")
        lines.append("Loop time of 1.0 on 1 procs for 5000 steps with 5184 atoms\n")
    path.write_text("".join(lines))
    return path


def test_thermo_parsing_concatenates_runs(tmp_path):
    log = _write_log(tmp_path / "log.lammps", [600, 700], rows=10)
    thermo = read_lammps_thermo(log)
    assert len(thermo["temp"]) == 20 and set(thermo) >= {"step", "lx", "volume"}
    series = cell_lengths_from_thermo(thermo)
    assert series["a_A"][0] == pytest.approx(_edge(600), abs=0.05)
    bad = tmp_path / "log.bad"
    bad.write_text("Step Temp Press\n0 300 1\n")
    with pytest.raises(UserInputError, match="Lx Ly Lz"):
        cell_lengths_from_thermo(read_lammps_thermo(bad), "log.bad")


def test_thermal_expansion_recovered_from_npt_runs(tmp_path):
    temps = [600, 800, 1000, 1200, 1400]
    series = [cell_lengths_from_thermo(read_lammps_thermo(_write_log(tmp_path / f"log.{T}", [T], seed=T)))
              for T in temps]
    table = lattice_table(series, (3, 3, 3))
    assert table.T_K == pytest.approx(temps, abs=3)
    assert table.values["a_A"] == pytest.approx(_edge(table.T_K) / 3, abs=2e-3)
    alpha, err = thermal_expansion(table.T_K, table.values["a_A"])
    assert alpha == pytest.approx(ALPHA / (1 + ALPHA * 700), rel=0.05)
    assert abs(alpha - ALPHA / (1 + ALPHA * 700)) < 4 * err
    alpha_v, _ = thermal_expansion(table.T_K, table.values["V_A3"])
    assert alpha_v == pytest.approx(3 * alpha, rel=0.05)


def test_ramp_binning(tmp_path):
    log = _write_log(tmp_path / "log.ramp", np.arange(520, 980, 10.0), rows=5)
    series = cell_lengths_from_thermo(read_lammps_thermo(log))
    table = lattice_table([series], (3, 3, 3), ramp_bin_K=100)
    assert len(table.T_K) == 5 and np.all(np.diff(table.values["a_A"]) > 0)


def test_transition_temperature_from_synthetic_c_over_a():
    T = np.arange(300.0, 1501.0, 50.0)
    rng = np.random.default_rng(0)
    ratio = 1 - 0.0012 * np.clip(900 - T, 0, None) ** 0.5 + rng.normal(scale=5e-4, size=len(T))
    res = transition_temperature(T, ratio, n_bootstrap=60)
    assert res.Tc_K == pytest.approx(900, abs=max(25, 3 * res.Tc_err_K))
    assert 0 < res.Tc_err_K < 60
    exact = transition_temperature(T, 1 - 0.0012 * np.clip(900 - T, 0, None) ** 0.5, n_bootstrap=5)
    assert exact.Tc_K == pytest.approx(900, abs=1) and exact.beta == pytest.approx(0.5, abs=0.02)
    with pytest.raises(UserInputError, match="at least 4"):
        transition_temperature(T[:3], ratio[:3])


def test_c_axis_found_whatever_its_position():
    a = np.array([13.13, 13.0, 12.97])
    c = np.array([12.66, 12.9, 12.97])
    ratio, axis = c_over_a(c, a, a)
    assert axis == 0 and ratio[0] == pytest.approx(12.66 / 13.13)


def test_melting_volume_jump():
    T = np.arange(1500.0, 2400.0, 100.0)
    V = 2200 * (1 + 5e-5 * (T - 1500)) * np.where(T >= 2000, 1.06, 1.0)
    sig = melting_signature(T, V)
    assert sig["T_melt_K"] == pytest.approx(1950) and sig["significant"] and sig["jump_percent"] > 5
    assert not melting_signature(T, 2200 * (1 + 5e-5 * (T - 1500)))["significant"]


def test_cli_lattice_and_transition(tmp_path):
    temps = list(range(500, 1301, 100))
    logs = [str(_write_log(tmp_path / f"log.{T}", [T], seed=T, tetragonal_tc=900)) for T in temps]
    lat = tmp_path / "lattice.json"
    assert main(["analyze", "lattice", *logs, "--supercell", "3,3,3", "--alpha-range", "1000,1300",
                 "--json", str(lat)]) == 0
    data = json.loads(lat.read_text())
    assert data["thermal_expansion"]["alpha_L_per_K"] == pytest.approx(ALPHA, rel=0.1)
    assert (tmp_path / "lattice-lattice.png").is_file()
    out = tmp_path / "tc.json"
    assert main(["analyze", "transition", str(lat), "--bootstrap", "30", "--json", str(out)]) == 0
    tc = json.loads(out.read_text())
    assert tc["c_axis"] == 2 and tc["Tc_K"] == pytest.approx(900, abs=40)
    # dumps work too (cell per frame, temperature given)
    cells = np.tile(np.eye(3) * 38.9, (4, 1, 1))
    system = SyntheticSystem(np.zeros((4, 1, 3)) + 1.0, cells, np.array(["Li"]), np.arange(4) * 10, 0.0)
    dump = write_lammps_dump(tmp_path / "npt.dump", system, type_map=("Li",))
    out2 = tmp_path / "lat2.json"
    assert main(["analyze", "lattice", str(dump), "--type-map", "Li", "--temperatures", "800", "--supercell",
                 "3,3,3", "--json", str(out2)]) == 0
    assert json.loads(out2.read_text())["a_A"][0] == pytest.approx(38.9 / 3)
    assert main(["analyze", "lattice", str(dump), "--type-map", "Li", "--json", str(out2)]) == 2
