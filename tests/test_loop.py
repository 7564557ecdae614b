"""``dpgen-llzo run``: DP-GEN's loop with the coverage stop, and hand-over to stock ``dpgen run``.

The fast tests drive the loop with stand-in step functions (the coverage report of an
iteration is written by the stand-in post_model_devi, so no model is needed); the slow test
runs the real thing on a tiny system: init with the teacher, two models trained for a few
steps, one short LAMMPS exploration, the coverage step, and stock DP-GEN taking over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.coverage.iteration import coverage_settings
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.record import STEP_NAMES, is_done, read_record
from tiny_bundle import tiny_init_section
from dpgen_llzo.loop.runner import run_loop

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "param" / "demo" / "param-quick.json"
MACHINE = REPO / "machine" / "local.json"


def write_param(path: Path, coverage: dict | None = None, augmentation: dict | None = None, **changes) -> Path:
    param = json.loads(QUICK.read_text())
    param.update(changes)
    if coverage is not None:
        param["_dpgen_llzo"]["coverage"] = coverage
    if augmentation is not None:
        param["_dpgen_llzo"]["augmentation"] = augmentation
    path.write_text(json.dumps(param, indent=1))
    return path


def record_lines(workdir: Path) -> list[str]:
    return (workdir / "record.dpgen").read_text().splitlines()


# --------------------------------------------------------------------------------------------
# record.dpgen


def test_record_position_and_order_match_dpgen(tmp_path):
    assert read_record(tmp_path) == (0, -1)
    (tmp_path / "record.dpgen").write_text("0 0\n0 1\n0 2\n")
    assert read_record(tmp_path) == (0, 2)
    assert is_done((0, 2), 0, 2) and not is_done((0, 2), 0, 3) and not is_done((0, 2), 1, 0)
    assert is_done((1, 0), 0, 8) and is_done((3, -1), 2, 8) is True
    (tmp_path / "record.dpgen").write_text("0 0\n\n")
    with pytest.raises(UserInputError, match="no blank lines"):
        read_record(tmp_path)
    assert len(STEP_NAMES) == 9 and STEP_NAMES[5] == "post_model_devi"


# --------------------------------------------------------------------------------------------
# the loop with stand-in steps


class FakeSteps:
    """Step functions that log their calls; post_model_devi writes a coverage report."""

    def __init__(self, workdir: Path, fractions: dict[int, float], section: dict, n_jobs: int = 2):
        self.workdir = workdir
        self.fractions = fractions
        self.settings = coverage_settings(section)
        self.n_jobs = n_jobs
        self.calls: list[tuple[int, int]] = []

    def step(self, jj: int):
        def run(ii, jdata, mdata):
            assert Path.cwd() == self.workdir.resolve()  # DP-GEN's steps run in the work directory
            self.calls.append((ii, jj))
            if jj == 3:
                return ii < self.n_jobs
            if jj == 5:
                self.write_report(ii)
            return None

        return run

    def write_report(self, ii: int) -> None:
        modd = Path(f"iter.{ii:06d}") / "01.model_devi"
        modd.mkdir(parents=True, exist_ok=True)
        f = self.fractions[ii]
        report = {
            "iteration": ii,
            "fraction": f,
            "n_components": 3,
            "n_train": 100,
            "n_test": 50,
            "bins": self.settings["bins"],
            "variance": self.settings["variance"],
            "pair_fractions": {"0-1": f},
            "per_element": {"Li": {"fraction": f}, "O": {"fraction": f}},
            "settings": self.settings,
            "elapsed_s": 0.1,
        }
        (modd / "coverage.json").write_text(json.dumps(report))

    def mapping(self):
        return {jj: self.step(jj) for jj in range(9)}


def test_stops_after_exploration_when_converged_and_dpgen_continues(tmp_path, monkeypatch):
    section = {"threshold": 0.9, "consecutive": 1}
    param = write_param(tmp_path / "param.json", coverage=section)
    work = tmp_path / "work"
    work.mkdir()
    fake = FakeSteps(work, {0: 0.95}, section)
    outcome = run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert outcome.reason == "converged" and outcome.iteration == 0 and outcome.record == (0, 5)
    assert fake.calls == [(0, j) for j in range(6)]
    assert record_lines(work) == [f"0 {j}" for j in range(6)]
    history = json.loads((work / "coverage.json").read_text())
    assert history["converged"] and history["iterations"][0]["fraction"] == 0.95
    assert (work / "coverage.csv").is_file() and (work / "coverage_vs_iteration.png").is_file()

    # Re-running stops again at once: the criterion still holds, no step is repeated.
    fake.calls.clear()
    again = run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert again.reason == "converged" and fake.calls == [] and len(record_lines(work)) == 6

    # Stock DP-GEN's own loop continues from this record with make_fp of iteration 0.
    from dpgen.generator import run as dpgen_run

    class Handover(Exception):
        pass

    def make_fp(ii, jdata, mdata):
        raise Handover(ii)

    monkeypatch.setattr(dpgen_run, "make_fp", make_fp)
    monkeypatch.chdir(work)
    with pytest.raises(Handover) as caught:
        dpgen_run.run_iter(str(param), str(MACHINE))
    assert caught.value.args == (0,)


def test_runs_to_the_end_of_the_schedule_and_says_why(tmp_path, capsys):
    section = {"threshold": 0.995, "consecutive": 2}
    param = write_param(tmp_path / "param.json", coverage=section)
    work = tmp_path / "work"
    work.mkdir()
    fake = FakeSteps(work, {0: 0.5, 1: 0.999}, section)
    outcome = run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert outcome.reason == "schedule_end" and outcome.iteration == 2
    assert "0: 0.5000, 1: 0.9990" in outcome.message and "1 consecutive" in outcome.message
    assert fake.calls == [(i, j) for i in range(2) for j in range(9)] + [(2, 0), (2, 1), (2, 2), (2, 3)]
    # The record is what `dpgen run` writes: make_model_devi that found no job is not recorded.
    assert record_lines(work)[-1] == "2 2" and len(record_lines(work)) == 21


def test_resumes_from_the_record(tmp_path):
    section = {"threshold": 0.9, "consecutive": 1}
    param = write_param(tmp_path / "param.json", coverage=section)
    work = tmp_path / "work"
    work.mkdir()
    (work / "record.dpgen").write_text("0 0\n0 1\n0 2\n")
    fake = FakeSteps(work, {0: 0.95}, section)
    run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert fake.calls == [(0, 3), (0, 4), (0, 5)]


def test_coverage_disabled_runs_like_dpgen_and_attaches_augmentation(tmp_path, caplog):
    param = write_param(
        tmp_path / "param.json",
        coverage={"enabled": False},
        augmentation={"enabled": True, "energy_error_threshold": 0.02},
    )
    work = tmp_path / "work"
    work.mkdir()
    # An augmentation already done for iteration 0 (as after a resume): reused, then attached.
    aug = work / "iter.000000" / "01.model_devi" / "augmentation"
    (aug / "data.aug.000" / "set.000").mkdir(parents=True)
    (aug / "data.aug.000" / "type.raw").write_text("0\n")
    (aug / "augmentation.json").write_text(
        json.dumps(
            {
                "threshold": 0.02,
                "n_sampled": 3,
                "n_labelled": 3,
                "n_selected": 1,
                "median_error": 0.01,
                "settings": {"enabled": True, "n_frames": 10, "energy_error_threshold": 0.02, "seed": 2024},
            }
        )
    )
    fake = FakeSteps(work, {0: 0.1, 1: 0.1}, {}, n_jobs=1)
    with caplog.at_level("INFO", logger="dpgen"):
        outcome = run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert "iter 000000: augmentation already done (1 frames selected)" in caplog.text
    assert outcome.reason == "schedule_end" and "disabled" in outcome.message
    assert (work / "iter.000000" / "02.fp" / "data.aug.000" / "type.raw").is_file()
    assert not (work / "coverage.json").exists()


def test_bad_param_is_one_line(tmp_path, capsys):
    param = write_param(tmp_path / "param.json", coverage={"threshold": 2.0})
    assert main(["run", str(param), str(MACHINE), "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "threshold must be in [0, 1]" in err
    assert main(["run", str(tmp_path / "none.json"), str(MACHINE)]) == 2


# --------------------------------------------------------------------------------------------
# the real loop on a tiny system


def tiny_loop_param(path: Path) -> Path:
    """One tetragonal system, 2 models x 10 training steps, one 20-step NVT exploration."""
    param = json.loads(QUICK.read_text())
    param["init_data_sys"] = ["tet/perturbed", "tet/md"]
    param["sys_configs"] = [["tet/POSCAR"]]
    training = param["default_training_param"]["training"]
    training.update(numb_steps=10, disp_freq=5, save_freq=10)
    param["default_training_param"]["learning_rate"]["decay_steps"] = 5
    param["model_devi_jobs"] = [
        {"sys_idx": [0], "temps": [600], "press": [1.0], "trj_freq": 10, "nsteps": 20, "ensemble": "nvt"}
    ]
    param["_dpgen_llzo"]["init"] = tiny_init_section()
    param["_dpgen_llzo"]["coverage"] = {"threshold": 0.0, "consecutive": 1, "bins": 20}
    path.write_text(json.dumps(param, indent=1))
    return path


@pytest.mark.slow
def test_real_loop_stops_on_coverage_and_stock_dpgen_takes_over(tmp_path, monkeypatch, capsys, fast_job_polls):
    param = tiny_loop_param(tmp_path / "param.json")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["init", str(param), str(MACHINE)]) == 0
    capsys.readouterr()

    assert main(["run", str(param), str(MACHINE)]) == 0
    out = capsys.readouterr().out.splitlines()  # dpdispatcher also prints its job lines
    assert [line for line in out if line.startswith("dpgen-llzo run:")] == [
        line for line in out if line.startswith("dpgen-llzo run: converged at iteration 0: coverage >= 0")
    ] != []
    assert record_lines(work) == [f"0 {j}" for j in range(6)]
    report = json.loads((work / "iter.000000" / "01.model_devi" / "coverage.json").read_text())
    assert set(report["per_element"]) == {"Li", "La", "Zr", "O"}
    assert report["test_frames"] == 3 and report["train_frames"] == 4 and 0.0 < report["fraction"] <= 1.0
    assert (work / "iter.000000" / "01.model_devi" / "coverage_projections.png").is_file()
    assert (work / "coverage_vs_iteration.png").is_file()

    # Stock DP-GEN continues from the record: its real make_fp writes the labelling tasks of
    # iteration 0, then we stop it before it labels them.
    from dpgen.generator import run as dpgen_run

    class Handover(Exception):
        pass

    def run_fp(ii, jdata, mdata):
        raise Handover(ii)

    monkeypatch.setattr(dpgen_run, "run_fp", run_fp)
    with pytest.raises(Handover):
        dpgen_run.run_iter(str(param), str(MACHINE))
    assert record_lines(work)[-1] == "0 6"
    assert (work / "iter.000000" / "02.fp").is_dir()
    candidates = list((work / "iter.000000" / "02.fp").glob("*.shuffled.000.out"))
    assert len(candidates) == 3
    lines = sum(len(p.read_text().split("\n")) - 1 for p in candidates)
    assert lines == 3  # every explored frame (steps 0, 10, 20) is in exactly one list
    assert np.isfinite(report["fraction"])


def test_schedule_end_after_a_handover_past_convergence(tmp_path):
    """Converged at iteration 0, continued by stock dpgen to make_fp: the message says so."""
    section = {"threshold": 0.9, "consecutive": 1}
    param = write_param(tmp_path / "param.json", coverage=section)
    work = tmp_path / "work"
    work.mkdir()
    fake = FakeSteps(work, {0: 0.95}, section, n_jobs=1)
    os.chdir(work)
    try:
        fake.write_report(0)
    finally:
        os.chdir(REPO)
    (work / "record.dpgen").write_text("".join(f"0 {j}\n" for j in range(7)))
    outcome = run_loop(param, MACHINE, workdir=work, steps=fake.mapping())
    assert fake.calls == [(0, 7), (0, 8), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert outcome.reason == "schedule_end" and "coverage had converged" in outcome.message
