"""`dpgen-llzo export`: a DP-GEN work directory's training set as extended XYZ (ASE/MACE/NEP keys)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.cli import main

TYPE_MAP = ["Li", "La", "Zr", "O"]


def _system(rng, symbols_types: list[int], nframes: int, with_virial: bool = True, atom_names=TYPE_MAP):
    import dpdata

    natoms = len(symbols_types)
    cells = np.array([np.diag([5.0, 5.5, 6.0]) + rng.normal(0, 0.1, (3, 3)) for _ in range(nframes)])
    data = {
        "atom_names": list(atom_names),
        "atom_numbs": [symbols_types.count(i) for i in range(len(atom_names))],
        "atom_types": np.array(symbols_types),
        "orig": np.zeros(3),
        "nopbc": False,
        "cells": cells,
        "coords": rng.uniform(0, 5, (nframes, natoms, 3)),
        "energies": rng.normal(-50, 3, nframes),
        "forces": rng.normal(0, 1, (nframes, natoms, 3)),
    }
    if with_virial:
        data["virials"] = rng.normal(0, 2, (nframes, 3, 3))  # not symmetric: pins the orders down
    return dpdata.LabeledSystem(data=data)


@pytest.fixture
def workdir(tmp_path):
    """A DP-GEN work directory: one init system (with type_map.raw), one iteration's fp data (without)."""
    rng = np.random.default_rng(7)
    wd = tmp_path / "work"
    init = _system(rng, [0, 0, 1, 3, 3], 3)
    init.to("deepmd/npy", str(wd / "init" / "cubic" / "perturbed"))
    (wd / "init" / "cubic" / "perturbed" / "type_map.raw").write_text("\n".join(TYPE_MAP) + "\n")
    loop = _system(rng, [0, 2, 3], 2)
    loop.to("deepmd/npy", str(wd / "iter.000001" / "02.fp" / "data.000"))
    (wd / "iter.000001" / "02.fp" / "data.000" / "type_map.raw").unlink(missing_ok=True)
    (wd / "iter.000000" / "02.fp" / "data.000").mkdir(parents=True)  # no frames: not listed
    param = {"type_map": TYPE_MAP, "init_data_prefix": "init", "init_data_sys": ["cubic/perturbed", "tetragonal/md"]}
    (wd / "param.json").write_text(json.dumps(param))
    expected = [("init/cubic/perturbed", init), ("iter.000001/02.fp/data.000", loop)]
    return wd, expected


def _expected_frames(expected):
    for tag, system in expected:
        for i in range(len(system)):
            yield tag, system, i


def test_extxyz_reads_back_with_ase(workdir, tmp_path, capsys):
    from ase.io import read

    wd, expected = workdir
    out = tmp_path / "train.xyz"
    assert main(["export", str(wd), "-o", str(out)]) == 0  # the param is WORKDIR/param.json
    assert "5 frames from 2 datasets" in capsys.readouterr().out
    frames = read(str(out), ":")
    assert len(frames) == 5
    for atoms, (tag, system, i) in zip(frames, _expected_frames(expected)):
        assert atoms.info["config_type"] == tag
        assert atoms.get_chemical_symbols() == [system["atom_names"][t] for t in system["atom_types"]]
        np.testing.assert_allclose(atoms.cell[:], system["cells"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.positions, system["coords"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.get_potential_energy(), system["energies"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.get_forces(), system["forces"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.info["virial"], system["virials"][i], atol=1e-9)
        # ASE's stress (Voigt xx yy zz yz xz xy, eV/Å³) is -virial/V (ASE keeps one of each off-diagonal pair)
        stress, voigt = -system["virials"][i] / atoms.get_volume(), atoms.get_stress()
        np.testing.assert_allclose(voigt[:3], np.diag(stress), atol=1e-9)
        for value, (a, b) in zip(voigt[3:], [(1, 2), (0, 2), (0, 1)]):
            assert np.isclose(value, stress[a, b], atol=1e-9) or np.isclose(value, stress[b, a], atol=1e-9)
        assert atoms.pbc.all()


def test_mace_keys_and_renamed_keys(workdir, tmp_path):
    from ase.io import read

    wd, expected = workdir
    out = tmp_path / "mace.xyz"
    assert main(["export", str(wd), "--param", str(wd / "param.json"), "--format", "mace", "-o", str(out)]) == 0
    for atoms, (tag, system, i) in zip(read(str(out), ":"), _expected_frames(expected)):
        assert atoms.info["config_type"] == tag
        np.testing.assert_allclose(atoms.info["REF_energy"], system["energies"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.arrays["REF_forces"], system["forces"][i], atol=1e-9)
        # other names than ASE's stress/virial come back flat, row by row
        np.testing.assert_allclose(atoms.info["REF_virials"].reshape(3, 3), system["virials"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.info["REF_stress"].reshape(3, 3), -system["virials"][i] / atoms.get_volume(), atol=1e-9)
    out = tmp_path / "renamed.xyz"
    assert main(["export", str(wd), "--energy-key", "E_dft", "--tag-key", "dataset", "--only", "loop", "-o", str(out)]) == 0
    frames = read(str(out), ":")
    assert [a.info["dataset"] for a in frames] == ["iter.000001/02.fp/data.000"] * 2
    np.testing.assert_allclose([a.info["E_dft"] for a in frames], expected[1][1]["energies"], atol=1e-9)


def test_nep_train_xyz(workdir, tmp_path):
    from ase.io import read

    wd, expected = workdir
    out = tmp_path / "nep" / "train.xyz"
    assert main(["export", str(wd), "--format", "nep", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    header = lines[1]
    assert "Properties=species:S:1:pos:R:3:force:R:3" in header and "config_type=init/cubic/perturbed" in header
    virial = expected[0][1]["virials"][0]
    written = [float(v) for v in header.split('virial="')[1].split('"')[0].split()]
    np.testing.assert_allclose(written, virial.ravel(), atol=1e-9)  # row by row: xx xy xz yx ...
    assert float(header.split("energy=")[1].split()[0]) == pytest.approx(expected[0][1]["energies"][0], abs=1e-9)
    frames = read(str(out), ":")  # ASE reads it too
    for atoms, (tag, system, i) in zip(frames, _expected_frames(expected)):
        assert atoms.info["config_type"] == tag
        np.testing.assert_allclose(atoms.get_potential_energy(), system["energies"][i], atol=1e-9)
        np.testing.assert_allclose(atoms.arrays["force"], system["forces"][i], atol=1e-9)


def test_fp_data_of_a_real_loop_layout_is_listed_in_order(workdir, tmp_path):
    from dpgen_llzo.export import training_systems

    wd, _ = workdir
    rng = np.random.default_rng(1)
    _system(rng, [0, 3], 1).to("deepmd/npy", str(wd / "iter.000000" / "02.fp" / "data.001"))
    param = json.loads((wd / "param.json").read_text())
    assert training_systems(wd, param) == [
        "init/cubic/perturbed", "iter.000000/02.fp/data.001", "iter.000001/02.fp/data.000"]


@pytest.mark.parametrize("argv, message", [
    (["--format", "nep", "--energy-key", "E"], "--format nep has fixed key names"),
    (["--energy-key", "my energy"], "a key name must be non-empty"),
    (["--param", "missing.json"], "missing.json: param file not found"),
])
def test_bad_input_is_one_line(workdir, tmp_path, capsys, argv, message):
    wd, _ = workdir
    assert main(["export", str(wd), "-o", str(tmp_path / "x.xyz"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "x.xyz").exists()


def test_empty_workdir_and_missing_param(tmp_path, capsys):
    (tmp_path / "param.json").write_text(json.dumps({"type_map": TYPE_MAP}))
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x.xyz")]) == 2
    assert "no training data" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty)]) == 2
    assert "give the work directory's param.json with --param" in capsys.readouterr().err
    assert not (tmp_path / "x.xyz").exists()
