"""The quick demo end to end: init → stock `dpgen run` (2 iterations) → held-out report."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_demo_report_has_the_promised_keys(quick_demo):
    workdir, report = quick_demo
    on_disk = json.loads((workdir / "report.json").read_text())
    for key in ("iterations", "n_training_frames", "energy_rmse_meV_atom", "force_rmse_meV_A"):
        assert key in on_disk
        assert np.isfinite(on_disk[key])
    assert (workdir / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_ran_two_iterations_that_labelled_frames_and_trained_on_them(quick_demo):
    workdir, report = quick_demo
    assert report["iterations"] >= 2 and report["iterations_with_labels"] >= 2
    fp = report["data"]["fp"]
    assert all(row["labelled_frames"] > 0 for row in fp[:2])
    assert report["n_training_frames"] == report["data"]["init_frames"] + sum(r["labelled_frames"] for r in fp)
    # The frames labelled in iteration 0 are in the training set of iteration 1's models.
    systems = json.loads((workdir / "iter.000001/00.train/000/input.json").read_text())["training"]["training_data"]["systems"]
    assert any("iter.000000/02.fp/data.000" in s for s in systems)
    # Stock dpgen stopped after training the final models: no exploration job was left.
    last = (workdir / "record.dpgen").read_text().split()[-2:]
    assert last == [str(report["final_iteration"]), "2"]


def test_distilled_model_beats_the_trivial_force_predictor(quick_demo):
    _, report = quick_demo
    final = report["history"][-1]["committee"]
    # Predicting zero force has an RMSE equal to the force spread; the DP must do better.
    assert final["force_rmse_meV_A"] < final["force_ref_std_meV_A"]
    # Energy per atom within 50 meV/atom of the teacher on held-out frames.
    assert final["energy_rmse_meV_atom"] < 50


def test_a_carving_gb_stage_runs_through_dpgen_llzo_run_and_the_rest_through_stock_dpgen():
    from dpgen_llzo.config import load_llzo_settings
    from dpgen_llzo.demo.runner import bundled_file, loop_command

    assert loop_command(load_llzo_settings(bundled_file("param/demo/param-quick.json"))) == ["dpgen", "run"]
    assert loop_command(load_llzo_settings(bundled_file("param/demo/param.json"))) == ["dpgen-llzo", "run"]
    assert loop_command({"gb": {"stage_jobs": [2], "carve": False}}) == ["dpgen", "run"]
