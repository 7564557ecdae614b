"""Readers and unwrapping: every format gives back the true unwrapped, drift-free motion."""

from __future__ import annotations

import numpy as np
import pytest

from dpgen_llzo.analysis import READERS, detect_format, iter_frames, load_trajectory
from dpgen_llzo.analysis.synthetic import (random_walk_system, write_deepmd_npy, write_extxyz,
                                           write_lammps_dump, write_xdatcar)
from dpgen_llzo.errors import UserInputError

TYPE_MAP = ["Li", "La", "O"]
DT_FS = 10.0  # 10 steps/frame × 10 fs = 0.1 ps per frame


def _system(**kw):
    args = dict(n_frames=60, n_ions=8, D_A2_ps=0.5, dt_ps=0.1, seed=3)
    args.update(kw)
    return random_walk_system(**args)


def _truth_displacements(system):
    li = system.symbols == "Li"
    fw = ~li
    masses = np.where(system.symbols[fw] == "La", 138.905, 15.999)
    com = np.einsum("n,tni->ti", masses, system.positions[:, fw]) / masses.sum()
    pos = system.positions[:, li] - (com - com[0])[:, None, :]
    return pos - pos[0]


@pytest.mark.parametrize("kw", [
    dict(),                                   # wrapped x y z, no image flags: minimum image
    dict(images=True),                        # wrapped + ix iy iz
    dict(unwrapped=True),                     # xu yu zu
    dict(scaled=True, images=True),           # xs ys zs + flags
    dict(element_column=True, shuffle_seed=1),  # element column, atoms out of id order
])
def test_lammps_dump_unwraps_to_truth(tmp_path, kw):
    system = _system(drift_velocity_A_ps=(3.0, -2.0, 1.0))
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", system, type_map=TYPE_MAP, **kw)
    traj = load_trajectory(path, "Li", DT_FS, type_map=None if kw.get("element_column") else TYPE_MAP)
    got = traj.positions - traj.positions[0]
    np.testing.assert_allclose(got, _truth_displacements(system), atol=1e-4)
    assert traj.n_ions == 8 and traj.n_frames == 60
    assert traj.dt_ps == pytest.approx(0.1)
    # the framework drifted by ~3.7 Å/ps × 5.9 ps; that drift was measured and removed
    assert np.linalg.norm(traj.framework_drift_A[-1]) > 15


def test_triclinic_box_with_and_without_flags(tmp_path):
    cell = [[11.0, 0.0, 0.0], [3.0, 10.0, 0.0], [-2.0, 2.5, 12.0]]
    system = _system(cell=cell)
    for images in (False, True):
        path = write_lammps_dump(tmp_path / f"tri{images}.dump", system, type_map=TYPE_MAP, images=images)
        traj = load_trajectory(path, "Li", DT_FS, type_map=TYPE_MAP)
        np.testing.assert_allclose(traj.cells[0], cell, atol=1e-8)
        np.testing.assert_allclose(traj.positions - traj.positions[0], _truth_displacements(system), atol=1e-4)


def test_npt_box_keeps_displacements_bounded(tmp_path):
    """Breathing cell: increments use the current cell, so no error accumulates."""
    system = _system(n_frames=200, strain_amplitude=0.01)
    for images in (False, True):
        path = write_lammps_dump(tmp_path / f"npt{images}.dump", system, type_map=TYPE_MAP, images=images)
        traj = load_trajectory(path, "Li", DT_FS, type_map=TYPE_MAP)
        err = traj.positions - traj.positions[0] - _truth_displacements(system)
        assert np.abs(err).max() < 0.5  # bounded by images × strain × L, not growing
        assert traj.volumes_A3.std() > 10


@pytest.mark.parametrize("writer,name", [(write_extxyz, "traj.extxyz"), (write_xdatcar, "XDATCAR"),
                                         (write_deepmd_npy, "system")])
def test_other_formats_unwrap(tmp_path, writer, name):
    system = _system(drift_velocity_A_ps=(0.0, 4.0, 0.0))
    path = writer(tmp_path / name, system)
    assert detect_format(path) in READERS
    traj = load_trajectory(path, "Li", DT_FS, dump_every=10)
    truth = _truth_displacements(system)
    np.testing.assert_allclose(traj.positions - traj.positions[0], truth, atol=1e-4)
    assert traj.dt_ps == pytest.approx(0.1)


def test_streaming_reader_is_lazy(tmp_path):
    system = _system()
    path = write_lammps_dump(tmp_path / "d.dump", system, type_map=TYPE_MAP)
    frames = iter_frames(path, type_map=TYPE_MAP)
    first = next(frames)
    assert first.step == 0 and len(first.positions) == len(system.symbols)


def _dump_text(steps):
    out = []
    for s in steps:
        out.append(f"ITEM: TIMESTEP\n{s}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
                   "ITEM: ATOMS id type x y z\n1 1 1.0 1.0 1.0\n2 2 5.0 5.0 5.0\n")
    return "".join(out)


@pytest.mark.parametrize("steps,fragment", [
    ([0, 10, 5], "non-monotonic timesteps"),
    ([0, 10, 10], "non-monotonic timesteps"),
    ([0, 10, 30], "uneven frame spacing"),
    ([0], "only one frame"),
])
def test_bad_timesteps_are_named(tmp_path, steps, fragment):
    path = tmp_path / "bad.dump"
    path.write_text(_dump_text(steps))
    with pytest.raises(UserInputError, match=fragment):
        load_trajectory(path, "Li", 1.0, type_map=["Li", "O"])


def test_bad_input_messages(tmp_path):
    path = tmp_path / "ok.dump"
    path.write_text(_dump_text([0, 10, 20]))
    with pytest.raises(UserInputError, match="species 'Na' not found"):
        load_trajectory(path, "Na", 1.0, type_map=["Li", "O"])
    with pytest.raises(UserInputError, match="--type-map"):
        load_trajectory(path, "Li", 1.0)
    with pytest.raises(UserInputError, match="unknown trajectory format 'pdb'"):
        load_trajectory(path, "Li", 1.0, fmt="pdb")
    odd = tmp_path / "traj.abc"
    odd.write_text("hello\n")
    with pytest.raises(UserInputError, match="cannot tell the trajectory format"):
        load_trajectory(odd, "Li", 1.0)
    with pytest.raises(UserInputError, match="no such file"):
        load_trajectory(tmp_path / "missing.dump", "Li", 1.0)
    for err in (UserInputError("x"),):
        assert "\n" not in str(err)


def test_cli_lists_registries_and_every_command_has_help(capsys):
    from dpgen_llzo.cli import main

    assert main(["analyze", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("lammps-dump", "extxyz", "vasp-xdatcar", "deepmd-npy", "diffusion", "arrhenius", "rdf",
                 "lattice", "transition", "xrd", "density-map"):
        assert name in out
    for command in ("diffusion", "arrhenius", "rdf", "lattice", "transition", "xrd", "density-map"):
        with pytest.raises(SystemExit) as exc:
            main(["analyze", command, "--help"])
        assert exc.value.code == 0
        assert "usage: dpgen-llzo analyze" in capsys.readouterr().out
