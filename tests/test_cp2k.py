"""CP2K from Debian as DP-GEN's fp code, end to end (issue #7: an open-source DFT route that runs here).

``scripts/install-cp2k.sh`` installs Debian's ``cp2k`` (skipped with its one-line reason when it
cannot). The fast tests check that ``templates/cp2k/input.inp`` (production) resolves every basis
set and pseudopotential of Li, La, Zr and O in Debian's data (CP2K ``RUN_TYPE NONE`` reads them
without an SCF) and that ``templates/cp2k/input-test.inp`` differs from it only in the cheap
settings. The slow test runs DP-GEN's own fp steps on a Li2O cell: ``make_fp_calculation`` (the
cp2k part of ``make_fp``) from candidate frames laid out as ``make_fp`` does, ``run_fp`` with
``machine/local-cp2k.json`` (dpdispatcher Shell, real ``cp2k``), ``post_fp`` (dpdata
``cp2kdata/e_f``), and checks physics and units on the labelled ``data.000``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install-cp2k.sh"
PRODUCTION_INPUT = REPO / "templates" / "cp2k" / "input.inp"
TEST_INPUT = REPO / "templates" / "cp2k" / "input-test.inp"
CP2K_PARAM = REPO / "param" / "cp2k" / "param.json"
CP2K_MACHINE = REPO / "machine" / "local-cp2k.json"

HARTREE_EV = 27.211386245988  # CODATA 2018, as dpdata
BOHR_A = 0.529177210903
EV_A3_GPA = 160.21766208  # 1 eV/Å^3 in GPa
LI2O_A = 4.61  # experimental lattice constant of antifluorite Li2O (Å)
DISPLACEMENTS_A = (0.0, 0.075, 0.15)  # the three frames: one Li moved this far along +x (0: ideal)

# production kinds: element -> (basis set, pseudopotential), as templates/cp2k/README.md states
PRODUCTION_KINDS = {
    "Li": ("DZVP-MOLOPT-SR-GTH-q3", "GTH-PBE-q3"),
    "La": ("DZVP-MOLOPT-SR-GTH-q11", "GTH-PBE-q11"),
    "Zr": ("DZVP-MOLOPT-SR-GTH-q12", "GTH-PBE-q12"),
    "O": ("DZVP-MOLOPT-SR-GTH-q6", "GTH-PBE-q6"),
}


@pytest.fixture(scope="module")
def cp2k() -> dict[str, str]:
    """Install CP2K if needed; ``{"cp2k": binary, "cp2k-data": data directory}``, or skip."""
    try:
        result = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=1500)
    except subprocess.TimeoutExpired:
        pytest.skip("scripts/install-cp2k.sh did not finish in 25 min")
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        pytest.skip(lines[-1] if lines else f"scripts/install-cp2k.sh exited {result.returncode}")
    info = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert Path(info["cp2k"]).is_file() and (Path(info["cp2k-data"]) / "BASIS_MOLOPT").is_file()
    return info


def _keyword_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("!")]


def _write_task_input(task: Path, input_path: Path, symbols: list[str], positions: np.ndarray, cell: np.ndarray) -> None:
    """input.inp and coord.xyz of one task, written by DP-GEN's own cp2k helpers."""
    from dpgen.generator.lib.cp2k import make_cp2k_input_from_external, make_cp2k_xyz

    names = list(dict.fromkeys(symbols))
    sys_data = {
        "atom_names": names,
        "atom_types": np.array([names.index(s) for s in symbols]),
        "coords": positions[None],
        "cells": cell[None],
    }
    task.mkdir(parents=True, exist_ok=True)
    (task / "input.inp").write_text(make_cp2k_input_from_external(sys_data, str(input_path)))
    (task / "coord.xyz").write_text(make_cp2k_xyz(sys_data))


# --------------------------------------------------------------------------- templates (fast)


def test_install_script_reports_binary_and_data(cp2k):
    assert os.access(cp2k["cp2k"], os.X_OK)
    for name in ("BASIS_MOLOPT", "BASIS_MOLOPT_UCL", "GTH_POTENTIALS"):
        assert (Path(cp2k["cp2k-data"]) / name).is_file(), name


def test_production_input_has_the_documented_settings():
    lines = _keyword_lines(PRODUCTION_INPUT)
    text = "\n".join(lines)
    # DP-GEN replaces the (last) line containing "ABC" with the task's cell: there must be exactly one
    assert sum("ABC" in line for line in PRODUCTION_INPUT.read_text().splitlines()) == 1
    for expected in (
        "RUN_TYPE ENERGY_FORCE", "STRESS_TENSOR ANALYTICAL", "&XC_FUNCTIONAL PBE", "CUTOFF 800", "REL_CUTOFF 60",
        "UKS F", "CHARGE 0", "EPS_SCF 1.0E-7", "@include coord.xyz", "&FORCES ON", "&STRESS_TENSOR ON",
        "BASIS_SET_FILE_NAME BASIS_MOLOPT", "BASIS_SET_FILE_NAME BASIS_MOLOPT_UCL", "POTENTIAL_FILE_NAME GTH_POTENTIALS",
    ):
        assert expected in lines, expected
    for element, (basis, potential) in PRODUCTION_KINDS.items():
        assert re.search(rf"&KIND {element}\nBASIS_SET {basis}\nPOTENTIAL {potential}\n&END KIND", text), element


def test_test_input_differs_only_in_the_cheap_settings():
    cheap = {"CUTOFF", "REL_CUTOFF", "NGRIDS", "EPS_DEFAULT", "EPS_SCF", "PRECONDITIONER", "BASIS_SET"}
    production, test = _keyword_lines(PRODUCTION_INPUT), _keyword_lines(TEST_INPUT)
    assert len(production) == len(test)
    changed = {a.split()[0] for a, b in zip(production, test) if a != b}
    assert changed <= cheap, changed - cheap
    assert "CUTOFF 400" in test and "BASIS_SET SZV-MOLOPT-SR-GTH-q3" in test


def test_production_input_resolves_every_basis_and_potential(cp2k, tmp_path):
    """CP2K reads the production input with Li, La, Zr and O (RUN_TYPE NONE: setup only, no SCF)."""
    symbols = ["Li", "La", "Zr", "O"]
    positions = np.array([[0.0, 0.0, 0.0], [2.6, 0.0, 0.0], [0.0, 2.6, 0.0], [0.0, 0.0, 2.6]])
    _write_task_input(tmp_path, PRODUCTION_INPUT, symbols, positions, np.eye(3) * 7.0)
    text = (tmp_path / "input.inp").read_text().replace("RUN_TYPE ENERGY_FORCE", "RUN_TYPE NONE")
    (tmp_path / "input.inp").write_text(text)
    result = subprocess.run(
        [cp2k["cp2k"], "-i", "input.inp"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    output = result.stdout
    assert result.returncode == 0, (output + result.stderr)[-2000:]
    assert "PROGRAM ENDED AT" in output
    for element, (basis, potential) in PRODUCTION_KINDS.items():
        assert re.search(rf"Orbital Basis Set\s+{re.escape(basis)}\b", output), (element, basis)
        assert re.search(rf"GTH Potential information for\s+{re.escape(potential)}\b", output), (element, potential)


# --------------------------------------------------------------------------- DP-GEN fp route (slow)


def _li2o_frames() -> tuple[list[str], list[np.ndarray], int]:
    """Conventional antifluorite Li2O (4 O on fcc sites, 8 Li on the tetrahedral sites): symbols,
    cartesian positions of each frame (DISPLACEMENTS_A), and the index of the moved Li."""
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    tetra = np.array([[x, y, z] for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75)])
    symbols = ["O"] * 4 + ["Li"] * 8
    ideal = np.vstack([fcc, tetra]) * LI2O_A
    moved = 4  # the Li at (1/4, 1/4, 1/4) a
    frames = []
    for displacement in DISPLACEMENTS_A:
        positions = ideal.copy()
        positions[moved, 0] += displacement
        frames.append(positions)
    return symbols, frames, moved


def _write_candidate(task: Path, symbols: list[str], positions: np.ndarray, type_map: list[str]) -> None:
    """A candidate frame as make_fp leaves it: conf.dump (LAMMPS dump) -> POSCAR via dpdata, with
    the same call as dpgen's ``_make_fp_vasp_inner`` (``lammps/dump`` read with the type_map)."""
    import dpdata

    task.mkdir(parents=True)
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(len(symbols)), "ITEM: BOX BOUNDS pp pp pp"]
    lines += [f"0.0 {LI2O_A}"] * 3
    lines.append("ITEM: ATOMS id type x y z")
    lines += [f"{i + 1} {type_map.index(s) + 1} {x:.10f} {y:.10f} {z:.10f}" for i, (s, (x, y, z)) in enumerate(zip(symbols, positions))]
    (task / "conf.dump").write_text("\n".join(lines) + "\n")
    cwd = os.getcwd()
    os.chdir(task)
    try:
        dpdata.System("conf.dump", fmt="lammps/dump", type_map=type_map).to_vasp_poscar("POSCAR")
    finally:
        os.chdir(cwd)


def _cp2k_output_numbers(output: str) -> tuple[float, np.ndarray]:
    """Total energy (Hartree) and forces (Hartree/Bohr) as CP2K prints them, read independently of dpdata."""
    energy = float(re.search(r"ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+(\S+)", output).group(1))
    block = output.split("ATOMIC FORCES in [a.u.]", 1)[1].split("SUM OF ATOMIC FORCES", 1)[0]
    rows = [line.split() for line in block.splitlines() if re.match(r"\s+\d+\s+\d+\s+[A-Z][a-z]?\s", line)]
    return energy, np.array([[float(v) for v in row[3:6]] for row in rows])


@pytest.mark.slow
def test_dpgen_cp2k_fp_labels_li2o(cp2k, tmp_path, monkeypatch, capsys):
    """make_fp (cp2k) -> run_fp (real CP2K through dpdispatcher) -> post_fp on a 12-atom Li2O cell."""
    import dpdata
    from dpgen.generator.arginfo import run_jdata_arginfo
    from dpgen.generator.run import make_fp_calculation, post_fp, run_fp
    from dpgen.remote.decide_machine import convert_mdata
    from dpgen.util import normalize

    monkeypatch.chdir(tmp_path)
    # the shipped bundle, with the cheap input, normalised and checked as `dpgen run` does
    param = json.loads(CP2K_PARAM.read_text())
    param["external_input_path"] = str(TEST_INPUT)
    jdata = normalize(run_jdata_arginfo(), param)
    # DP-GEN 0.14 bug (deepmodeling/dpgen#1754): make_fp_cp2k ends with _link_fp_vasp_pp, which reads
    # fp_pp_path/fp_pp_files although the cp2k schema refuses both keys; CP2K finds its basis and
    # potential files by name in its data directory, so nothing needs linking.
    jdata.update(fp_pp_path=".", fp_pp_files=[])
    mdata = convert_mdata(json.loads(CP2K_MACHINE.read_text()))
    type_map = jdata["type_map"]

    symbols, frames, moved = _li2o_frames()
    work = tmp_path / "iter.000000" / "02.fp"
    for index, positions in enumerate(frames):
        _write_candidate(work / f"task.000.{index:06d}", symbols, positions, type_map)

    make_fp_calculation(0, jdata, mdata)
    tasks = sorted(work.glob("task.*"))
    for task in tasks:
        text = (task / "input.inp").read_text()
        assert "ABC" not in text and re.search(rf"A\s+{LI2O_A}\s+0\.?\s+0\.?\s*\n", text), text
        assert len((task / "coord.xyz").read_text().split("\n")) >= 13

    start = time.perf_counter()
    run_fp(0, jdata, copy.deepcopy(mdata))
    run_seconds = time.perf_counter() - start
    outputs = [(task / "output").read_text() for task in tasks]
    for output in outputs:
        assert "SCF run converged" in output and "PROGRAM ENDED AT" in output

    post_fp(0, jdata)  # also DP-GEN's failed-task ratio check
    data_dirs = sorted({p.parent for p in (work / "data.000").glob("**/type.raw")})
    assert len(data_dirs) == 1
    data = dpdata.LabeledSystem(str(data_dirs[0]), fmt="deepmd/npy")
    assert len(data) == len(frames) and data.get_natoms() == 12
    assert sorted(data["atom_names"][t] for t in data["atom_types"]) == sorted(symbols)
    energies, forces, coords = data["energies"], data["forces"], data["coords"]
    assert np.all(np.isfinite(energies)) and np.all(np.isfinite(forces))

    # frames in task order; atoms are reordered by type (POSCAR): map ours to theirs by position
    orders = [[int(np.argmin(np.linalg.norm(coords[f] - p, axis=1))) for p in frames[f]] for f in range(len(frames))]
    for f, order in enumerate(orders):
        assert np.allclose(coords[f][order], frames[f], atol=1e-6), f
    assert np.allclose(data["cells"], np.eye(3) * LI2O_A)

    # units: dpdata's eV and eV/Å are CP2K's Hartree and Hartree/Bohr times the CODATA factors
    for frame, (task, output) in enumerate(zip(tasks, outputs)):
        energy_ha, forces_au = _cp2k_output_numbers(output)
        assert energies[frame] == pytest.approx(energy_ha * HARTREE_EV, rel=1e-9)
        xyz = np.array([[float(v) for v in line.split()[1:4]] for line in (task / "coord.xyz").read_text().split("\n") if line.strip()])
        cp2k_order = [int(np.argmin(np.linalg.norm(coords[frame] - p, axis=1))) for p in xyz]  # CP2K prints coord.xyz order
        assert np.allclose(forces[frame][cp2k_order], forces_au * HARTREE_EV / BOHR_A, atol=1e-5)
    # a total energy of a 12-atom cell with these pseudopotentials: about -123 Hartree, in eV
    assert -4000 < energies[0] < -3000

    # Newton's third law: the forces of each frame sum to ~0. Not to 1e-6: the real-space grid of the
    # cheap 400 Ry setting breaks translation invariance (egg-box effect): measured 0.022 eV/Å for the
    # 0.075 Å frame (0.068 eV/Å at 300 Ry, 0.007 eV/Å at 800 Ry), 3e-4 eV/Å for the others
    assert np.abs(forces.sum(axis=1)).max() < 0.05
    # ideal antifluorite: every atom sits on a site whose symmetry forbids a force
    assert np.abs(forces[0]).max() < 1e-3
    # displaced: the moved Li feels a restoring force along -x, growing with the displacement, none across
    f_moved = np.array([forces[f][orders[f][moved]] for f in range(len(frames))])
    assert f_moved[2, 0] < f_moved[1, 0] < -0.02, f_moved
    assert np.abs(f_moved[1:, 1:]).max() < 0.05 * abs(f_moved[2, 0]) + 1e-3, f_moved
    # and the energy rises with it
    rise = energies - energies[0]
    assert 0 < rise[1] < rise[2] < 0.1, rise
    # virials (from STRESS_TENSOR ANALYTICAL): present, finite, cubic in the ideal frame
    virial = data["virials"][0]
    assert np.all(np.isfinite(virial)) and np.allclose(np.diag(virial), virial[0, 0], rtol=1e-3)
    assert np.abs(virial - np.diag(np.diag(virial))).max() < 1e-3 * abs(virial[0, 0])
    # virial = stress x volume in eV: CP2K's pressure (GPa, 1/3 trace of its stress tensor) converted
    pressure_gpa = float(re.search(r"STRESS\| 1/3 Trace\s+(\S+)", outputs[0]).group(1))
    assert np.trace(virial) / 3 == pytest.approx(pressure_gpa * LI2O_A**3 / EV_A3_GPA, rel=1e-6)

    with capsys.disabled():
        print(
            f"\nCP2K Li2O: run_fp {run_seconds:.1f} s for {len(tasks)} tasks; E0 {energies[0]:.4f} eV, "
            f"dE {rise.round(5).tolist()} eV, F_x(moved Li) {f_moved[:, 0].round(4).tolist()} eV/A, "
            f"max |sum F| {np.abs(forces.sum(axis=1)).max():.1e} eV/A"
        )


def test_dpgen_llzo_run_supplies_the_pp_keys_dpgen_014_cp2k_needs():
    """make_fp_cp2k reads fp_pp_path/fp_pp_files, which DP-GEN 0.14's cp2k schema refuses: our loop adds them."""
    from dpgen_llzo.loop.runner import load_dpgen_inputs

    repo = Path(__file__).resolve().parents[1]
    jdata, _ = load_dpgen_inputs(repo / "param" / "cp2k" / "param.json", repo / "machine" / "local-cp2k.json")
    assert jdata["fp_style"] == "cp2k" and jdata["fp_pp_path"] == "." and jdata["fp_pp_files"] == []
