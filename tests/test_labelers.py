"""The embedded labeler: registry, physical screening of frames, and the `label` command."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.labelers import LABELERS, get_labeler, screen_frame
from dpgen_llzo.labelers.cli import EXIT_REJECTED

TYPE_MAP = ["Li", "La", "Zr", "O"]


def test_registry_lists_chgnet_and_refuses_unknown_names():
    assert "chgnet" in LABELERS.names()
    with pytest.raises(ValueError, match="unknown labeler 'vasp-magic'; known: .*chgnet"):
        get_labeler("vasp-magic")


@pytest.mark.parametrize(
    "energy, forces, virial, reason",
    [
        (math.nan, np.zeros((2, 3)), np.zeros((3, 3)), "non-finite energy"),
        (-1.0, np.array([[0.0, np.inf, 0.0], [0.0, 0.0, 0.0]]), np.zeros((3, 3)), "non-finite forces on 1 atoms"),
        (-1.0, np.zeros((2, 3)), np.full((3, 3), np.nan), "non-finite virial"),
        (-1.0, np.array([[0.0, 0.0, 0.0], [12.0, 16.0, 0.0]]), None, "force 20.0 eV/Å on atom 1"),
    ],
)
def test_screen_frame_rejects_unphysical_labels(energy, forces, virial, reason):
    forces = forces.copy()
    if "force 20.0" in reason:
        forces[1] *= 1.0001  # |F| = 20.002 eV/Å, just above the default 20 eV/Å
    assert reason in screen_frame(energy, forces, virial)


def test_screen_frame_accepts_a_force_at_the_limit():
    forces = np.array([[12.0, 16.0, 0.0]])  # |F| = 20 eV/Å exactly
    assert screen_frame(-3.0, forces, np.eye(3), max_force=20.0) is None


def test_label_writes_deepmd_npy_in_type_map_order(tetragonal_poscar, tmp_path):
    import dpdata

    out = tmp_path / "labeled"
    code = main(["label", str(tetragonal_poscar), "--output", str(out), "--type-map", "O,Zr,La,Li"])
    assert code == 0
    system = dpdata.LabeledSystem(str(out), fmt="deepmd/npy")
    assert system["atom_names"] == ["O", "Zr", "La", "Li"]
    assert system["atom_numbs"] == [96, 16, 24, 56]
    assert system["energies"].shape == (1,)
    assert system["forces"].shape == (1, 192, 3)
    assert system["virials"].shape == (1, 3, 3)
    assert (out / "type_map.raw").read_text().split() == ["O", "Zr", "La", "Li"]
    # A crystal at its experimental cell: small, finite forces that sum to ~zero (Newton's third law).
    forces = system["forces"][0]
    assert np.all(np.isfinite(forces)) and np.abs(forces).max() < 2.0
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-3)
    # Energy per atom of an oxide near -7.4 eV/atom in the MP-compatible scale of the teacher.
    assert -9.0 < system["energies"][0] / 192 < -6.0
    # The virial is symmetric.
    np.testing.assert_allclose(system["virials"][0], system["virials"][0].T, atol=1e-4)


def test_label_rejects_frames_above_the_force_limit_and_writes_nothing(tetragonal_poscar, tmp_path, capsys):
    out = tmp_path / "labeled"
    code = main(["label", str(tetragonal_poscar), "--output", str(out), "--max-force", "1e-6"])
    assert code == EXIT_REJECTED
    assert not out.exists()
    assert "rejected frame 0: force" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["label", "missing-POSCAR", "--output", "x"], "missing-POSCAR: no such file or directory"),
        (["label", "POSCAR", "--output", "x", "--labeler", "nope"], "unknown labeler 'nope'"),
        (["label", "POSCAR", "--output", "x", "--max-force", "-1"], "--max-force must be a positive number"),
    ],
)
def test_label_bad_arguments_give_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "POSCAR").write_text("not a poscar\n")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
