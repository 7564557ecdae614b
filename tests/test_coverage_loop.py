"""Coverage of a DP-GEN iteration from a work directory, its history, and error-driven augmentation.

A tiny untrained DeePMD model (TensorFlow ``.pb``, built once per session in ~15 s) stands in
for a trained one: the coverage only needs its descriptors. The work directory is built by
hand with DP-GEN's layout (``iter.N/00.train/000/input.json``, ``graph.000.pb``,
``01.model_devi/task.*/traj/*.lammpstrj``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.coverage.history import converged_streak, history_rows, row_passes
from dpgen_llzo.coverage.iteration import coverage_settings, iteration_coverage
from dpgen_llzo.coverage.sources import explored_frames, sample_indices, training_systems
from dpgen_llzo.coverage.workflow import coverage_step
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.augmentation import (
    attach_augmented_data,
    augment_iteration,
    augmentation_settings,
    relative_energy_errors,
)
from dpgen_llzo.loop.exploration import classify_deviation, exploration_counts, iteration_summary

REPO = Path(__file__).resolve().parents[1]
TYPE_MAP = ["Li", "La", "Zr", "O"]
# fixtures: a tiny model and a hand-made DP-GEN work directory


@pytest.fixture(scope="session")
def llzo_cell():
    """(positions Å, cell Å, types as indices into TYPE_MAP) of tetragonal LLZO (192 atoms)."""
    from dpgen_llzo.structures import build_structure

    structure = build_structure("llzo-tetragonal")
    types = np.array([TYPE_MAP.index(site.specie.symbol) for site in structure])
    order = np.argsort(types, kind="stable")
    return structure.cart_coords[order], structure.lattice.matrix.copy(), types[order]


def displaced(cell_data, n_frames: int, scale: float, seed: int) -> np.ndarray:
    positions, _, _ = cell_data
    rng = np.random.default_rng(seed)
    return positions[None] + rng.normal(scale=scale, size=(n_frames, *positions.shape))


def write_training_system(path: Path, coords: np.ndarray, cell_data, energy: float = -1400.0) -> None:
    import dpdata

    _, cell, types = cell_data
    n = coords.shape[0]
    system = dpdata.LabeledSystem(
        data={
            "atom_names": list(TYPE_MAP),
            "atom_numbs": [int((types == t).sum()) for t in range(len(TYPE_MAP))],
            "atom_types": types,
            "orig": np.zeros(3),
            "cells": np.tile(cell, (n, 1, 1)),
            "coords": coords,
            "energies": np.full(n, energy),
            "forces": np.zeros_like(coords),
        }
    )
    system.to("deepmd/npy", str(path))


def write_dump(path: Path, step: int, coords: np.ndarray, cell: np.ndarray, types: np.ndarray) -> None:
    """One LAMMPS dump frame as DP-GEN's model_devi writes it (orthogonal box)."""
    lines = [
        "ITEM: TIMESTEP",
        str(step),
        "ITEM: NUMBER OF ATOMS",
        str(len(types)),
        "ITEM: BOX BOUNDS xy xz yz pp pp pp",
        *(f"0.0 {cell[k, k]:.10f} 0.0" for k in range(3)),
        "ITEM: ATOMS id type x y z fx fy fz",
        *(f"{i + 1} {t + 1} {x:.8f} {y:.8f} {z:.8f} 0 0 0" for i, (t, (x, y, z)) in enumerate(zip(types, coords))),
    ]
    path.write_text("\n".join(lines) + "\n")


def make_workdir(root: Path, model: Path, cell_data, train: np.ndarray, explored: list[np.ndarray]) -> Path:
    """A DP-GEN work directory after post_model_devi of iteration 0.

    ``explored[k]`` are the frames of model_devi task ``task.000.00000k``.
    """
    _, cell, types = cell_data
    write_training_system(root / "init" / "tet" / "train", train, cell_data)
    it = root / "iter.000000"
    task0 = it / "00.train" / "000"
    task0.mkdir(parents=True)
    os.symlink("../../init", it / "00.train" / "data.init")
    (task0 / "input.json").write_text(
        json.dumps(
            {
                "model": {"type_map": TYPE_MAP},
                "training": {"training_data": {"systems": ["../data.init/tet/train"], "batch_size": [1]}},
            }
        )
    )
    for k in range(2):
        shutil.copy(model, it / "00.train" / f"graph.00{k}.pb")
    for k, frames in enumerate(explored):
        task = it / "01.model_devi" / f"task.000.{k:06d}"
        (task / "traj").mkdir(parents=True)
        rows = []
        for f, coords in enumerate(frames):
            write_dump(task / "traj" / f"{10 * f}.lammpstrj", 10 * f, coords, cell, types)
            rows.append([10 * f, 0.0, 0.0, 0.0, 0.1 + 0.2 * f, 0.0, 0.0])
        np.savetxt(task / "model_devi.out", rows, header="step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f")
    return root


@pytest.fixture
def workdir(tmp_path, tiny_model, llzo_cell):
    train = displaced(llzo_cell, 4, 0.05, seed=1)
    explored = [displaced(llzo_cell, 3, 0.25, seed=2), displaced(llzo_cell, 3, 0.4, seed=3)]
    return make_workdir(tmp_path / "work", tiny_model, llzo_cell, train, explored)


# --------------------------------------------------------------------------------------------
# coverage of an iteration


def test_workdir_cli_writes_report_history_and_figures(workdir, capsys):
    code = main(["coverage", "--workdir", str(workdir), "--iter", "0", "--bins", "20"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("iteration 0: coverage ")
    report = json.loads((workdir / "iter.000000" / "01.model_devi" / "coverage.json").read_text())
    assert set(report["per_element"]) == set(TYPE_MAP)
    assert 0.0 < report["fraction"] <= 1.0 and report["bins"] == 20
    assert report["n_train"] == 4 * 192 and report["n_test"] == 6 * 192
    assert report["train_frames"] == 4 and report["test_frames"] == 6
    assert report["model"] == "iter.000000/00.train/graph.000.pb"
    assert report["train_sources"] == {"init/tet/train": 4}
    assert (workdir / "iter.000000" / "01.model_devi" / "coverage_projections.png").stat().st_size > 1000
    assert (workdir / "coverage_vs_iteration.png").stat().st_size > 1000
    history = json.loads((workdir / "coverage.json").read_text())
    assert [r["iteration"] for r in history["iterations"]] == [0]
    assert history["iterations"][0]["fraction"] == report["fraction"]
    csv_lines = (workdir / "coverage.csv").read_text().splitlines()
    assert csv_lines[0].startswith("iteration,all,Li,La,Zr,O,")
    assert csv_lines[1].startswith("0,")


def test_training_frames_cover_themselves_exactly(tmp_path, tiny_model, llzo_cell):
    """Explored frames identical to the training frames: coverage 1.0, overall and per element."""
    train = displaced(llzo_cell, 5, 0.1, seed=4)
    work = make_workdir(tmp_path / "w", tiny_model, llzo_cell, train, [train[:3], train[3:]])
    result = iteration_coverage(work, 0, {"bins": 50})
    assert result.results["all"].n_train == result.results["all"].n_test == 5 * 192
    assert result.fraction == 1.0
    assert result.per_element() == {el: 1.0 for el in TYPE_MAP}


def test_subsampling_is_seeded_and_bounded(workdir):
    a = iteration_coverage(workdir, 0, {"max_train_frames": 2, "max_test_frames": 3, "seed": 5, "bins": 10})
    b = iteration_coverage(workdir, 0, {"max_train_frames": 2, "max_test_frames": 3, "seed": 5, "bins": 10})
    assert a.train_frames == 2 and a.test_frames == 3
    assert a.fraction == b.fraction and a.test_sources == b.test_sources
    np.testing.assert_array_equal(sample_indices(10, 4, 1), sample_indices(10, 4, 1))
    assert list(sample_indices(3, 10, 0)) == [0, 1, 2]


def test_step_reuses_its_report_and_recomputes_on_new_settings(workdir):
    first = coverage_step(workdir, 0, {"bins": 10, "threshold": 0.0, "consecutive": 1}, reuse=True)
    assert first.computed and first.converged and first.streak == 1
    again = coverage_step(workdir, 0, {"bins": 10, "threshold": 0.0, "consecutive": 1}, reuse=True)
    assert not again.computed and again.report["fraction"] == first.report["fraction"]
    other = coverage_step(workdir, 0, {"bins": 12, "threshold": 1.0, "consecutive": 1}, reuse=True)
    assert other.computed and other.report["bins"] == 12
    assert other.converged == (other.report["fraction"] >= 1.0)


def test_training_systems_from_input_json_or_param(workdir):
    assert training_systems(workdir, 0) == [(workdir / "init" / "tet" / "train").resolve()]
    (workdir / "iter.000000" / "00.train" / "000" / "input.json").unlink()
    with pytest.raises(UserInputError, match="pass the param"):
        training_systems(workdir, 0)
    param = {"init_data_prefix": "init", "init_data_sys": ["tet/train"]}
    assert training_systems(workdir, 0, param) == [workdir / "init" / "tet" / "train"]


def test_explored_frames_in_task_and_step_order(workdir):
    frames = explored_frames(workdir, 0)
    assert [(f.task.name, f.step) for f in frames][:4] == [
        ("task.000.000000", 0),
        ("task.000.000000", 10),
        ("task.000.000000", 20),
        ("task.000.000001", 0),
    ]
    assert {f.system for f in frames} == {0}


def test_cleaned_trajectories_give_one_line_error(workdir, capsys):
    for traj in (workdir / "iter.000000" / "01.model_devi").glob("task.*/traj"):
        shutil.rmtree(traj)
    assert main(["coverage", "--workdir", str(workdir), "--iter", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "model_devi_clean_traj" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["coverage"], "give TRAIN.npy and TEST.npy, or --workdir"),
        (["coverage", "a.npy", "b.npy", "--iter", "0"], "--iter only apply with --workdir"),
        (["coverage", "--workdir", "/nonexistent/dir"], "work directory not found"),
    ],
)
def test_cli_mode_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"threshold": 1.5}, "threshold must be in"),
        ({"consecutive": 0}, "consecutive must be"),
        ({"criterion": "median"}, "criterion must be one of"),
        ({"bins": 0}, "bins must be"),
        ({"treshold": 0.9}, "treshold"),
    ],
)
def test_bad_coverage_settings(section, message):
    with pytest.raises(UserInputError, match=message):
        coverage_settings(section)


def test_defaults_of_the_new_sections():
    from dpgen_llzo.config import llzo_arginfo

    settings = coverage_settings({})
    assert settings["threshold"] == 0.995 and settings["consecutive"] == 2
    assert settings["variance"] == 0.95 and settings["bins"] == 50 and settings["per_element"] is True
    assert augmentation_settings({}) == {"enabled": False, "n_frames": 10, "energy_error_threshold": 0.01, "seed": 2024}
    full = llzo_arginfo().normalize_value({}, trim_pattern="_*")
    assert full["coverage"]["threshold"] == 0.995 and full["augmentation"]["enabled"] is False


# --------------------------------------------------------------------------------------------
# history and stop criterion (pure)


def test_streak_counts_consecutive_passing_iterations():
    rows = [
        {"iteration": 0, "fraction": 0.9, "per_element": {}},
        {"iteration": 1, "fraction": 0.996, "per_element": {"Li": 0.99}},
        {"iteration": 2, "fraction": 0.999, "per_element": {"Li": 0.998}},
    ]
    assert converged_streak(rows, 0.995) == 2
    assert converged_streak(rows, 0.995, "every_element") == 1
    assert converged_streak(rows[:2], 0.995) == 1 and converged_streak(rows[:1], 0.995) == 0
    missing = [*rows, {"iteration": 3, "fraction": None, "per_element": {}}]
    assert converged_streak(missing, 0.995) == 0 and not row_passes(missing[-1], 0.0)


def test_history_marks_missing_iterations(workdir):
    coverage_step(workdir, 0, {"bins": 10})
    rows = history_rows(workdir, range(2))
    assert rows[0]["fraction"] is not None and rows[1] == {"iteration": 1, "fraction": None, "per_element": {}}


# --------------------------------------------------------------------------------------------
# exploration counts and the summary line


def test_classify_deviation_is_dpgen_standard_rule():
    f = np.array([0.05, 0.2, 0.35, 0.6, 2.0])
    v = np.array([0.0, 0.0, 0.0, 0.0, 0.0])
    assert classify_deviation(f, v, (0.3, 1.5)) == (2, 2, 1)
    # a virial deviation inside its trust window makes a frame a candidate
    assert classify_deviation(f, np.array([0.5, 0, 0, 0, 0]), (0.3, 1.5), (0.4, 1.0)) == (1, 3, 1)


def test_counts_from_model_devi_and_summary_line(workdir):
    counts = exploration_counts(workdir, 0, {"model_devi_f_trust_lo": 0.2, "model_devi_f_trust_hi": 0.45})
    # max_devi_f per task: 0.1, 0.3, 0.5 (two tasks)
    assert (counts.accurate, counts.candidate, counts.failed) == (2, 2, 2)
    assert counts.source == "model_devi.out" and counts.fp_tasks is None
    line = iteration_summary(
        0,
        counts,
        {"fraction": 0.97, "per_element": {"Li": 0.95}, "threshold": 0.995, "passes": False, "streak": 0, "consecutive": 2},
    )
    assert line == (
        "iter 000000: explored 6 frames: candidate 33.3% accurate 33.3% failed 33.3% "
        "| coverage 0.9700 (Li 0.950) < 0.995, streak 0/2"
    )


def test_counts_prefer_dpgen_lists(workdir):
    fp = workdir / "iter.000000" / "02.fp"
    fp.mkdir()
    (fp / "candidate.shuffled.000.out").write_text("a 1\nb 2\n")
    (fp / "rest_accurate.shuffled.000.out").write_text("")
    (fp / "rest_failed.shuffled.000.out").write_text("c 3\n")
    (fp / "task.000.000000").mkdir()
    counts = exploration_counts(workdir, 0, {})
    assert (counts.accurate, counts.candidate, counts.failed, counts.fp_tasks) == (0, 2, 1, 1)


# --------------------------------------------------------------------------------------------
# error-driven augmentation


def test_relative_energy_errors():
    err = relative_energy_errors([-10.1, -5.0, 0.0, 1.0], [-10.0, -5.0, 0.0, 0.0])
    np.testing.assert_allclose(err[:3], [0.01, 0.0, 0.0], atol=1e-12)
    assert np.isinf(err[3])


class ConstantLabeler:
    """Reference energy: a constant per atom (eV/atom), zero forces; a stand-in for CHGNet."""

    name = "constant"

    def __init__(self, energy_per_atom: float):
        self.energy_per_atom = energy_per_atom

    def calculator(self):
        from ase.calculators.calculator import Calculator, all_changes

        e_atom = self.energy_per_atom

        class _Constant(Calculator):
            implemented_properties = ["energy", "forces", "stress"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                n = len(self.atoms)
                self.results = {"energy": e_atom * n, "forces": np.zeros((n, 3)), "stress": np.zeros(6)}

        return _Constant()

    def describe(self):
        return {"labeler": self.name, "energy_per_atom": self.energy_per_atom}


def test_augmentation_selects_frames_and_dpgen_make_train_uses_them(workdir, tiny_model):
    from deepmd.infer import DeepPot

    model = DeepPot(str(tiny_model))
    settings = {"enabled": True, "n_frames": 4, "energy_error_threshold": 0.01, "seed": 1}
    # The reference sits 5 % away from the untrained model's energy: every frame is "wrong".
    frames = explored_frames(workdir, 0)
    import dpdata

    one = dpdata.System(str(frames[0].path), fmt="lammps/dump", type_map=TYPE_MAP)
    e_dp = float(model.eval(one["coords"].reshape(1, -1), one["cells"].reshape(1, 9), one["atom_types"])[0].ravel()[0]) / 192
    reference = ConstantLabeler(e_dp * 1.05)
    result = augment_iteration(workdir, 0, settings, reference, TYPE_MAP, models=[model])
    summary = result.summary()
    # the explored frames are the crystal with 0.25-0.4 Å of random noise per component: some hold a
    # pair closer than its physical minimum, which labelling refuses before the reference runs
    assert summary["n_labelled"] + summary["n_rejected"] == 4 and summary["n_labelled"] >= 1
    assert summary["n_selected"] == summary["n_labelled"]
    assert 0.03 < summary["median_error"] < 0.07
    aug = workdir / "iter.000000" / "01.model_devi" / "augmentation"
    assert (aug / "energy_errors.png").is_file() and (aug / "data.aug.000" / "type.raw").is_file()
    report = json.loads((aug / "augmentation.json").read_text())
    assert len(report["frames"]) == 4
    assert all(f["selected"] or "closer than the physical minimum" in f["rejected"] for f in report["frames"])
    n_labelled = summary["n_labelled"]

    # A looser threshold keeps nothing, and the old selection is replaced.
    loose = augment_iteration(workdir, 0, {**settings, "energy_error_threshold": 0.5}, reference, TYPE_MAP, models=[model])
    assert loose.summary()["n_selected"] == 0 and not (aug / "data.aug.000").exists()
    augment_iteration(workdir, 0, settings, reference, TYPE_MAP, models=[model])

    written = attach_augmented_data(workdir, 0)
    assert written == [workdir / "iter.000000" / "02.fp" / "data.aug.000"]
    labeled = dpdata.LabeledSystem(str(written[0]), fmt="deepmd/npy")
    assert len(labeled) == n_labelled and labeled["atom_names"] == TYPE_MAP

    # DP-GEN's make_train of iteration 1 globs iter.*/02.fp/data.* and must list the new system.
    from dpgen.generator.run import make_train

    jdata = json.loads((REPO / "param" / "demo" / "param-quick.json").read_text())
    jdata.update(init_data_prefix="init", init_data_sys=["tet/train"], sys_configs=[["tet/POSCAR"]], fp_task_min=1)
    jdata["model_devi_jobs"] = [{"sys_idx": [0], "temps": [600], "press": [1.0], "trj_freq": 10, "nsteps": 20, "ensemble": "nvt"}] * 2
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        make_train(1, jdata, {"deepmd_version": "3.2"})
    finally:
        os.chdir(cwd)
    systems = json.loads((workdir / "iter.000001" / "00.train" / "000" / "input.json").read_text())["training"]["training_data"]["systems"]
    assert "../data.iters/iter.000000/02.fp/data.aug.000" in systems
