"""The shipped distilled potential (models/llzo-diep-se2a): its errors on a committed held-out subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = REPO / "models" / "llzo-diep-se2a"


@pytest.mark.skipif(not (MODEL_DIR / "report.json").is_file(), reason="no shipped model in this checkout")
def test_shipped_model_reproduces_its_report_on_the_committed_heldout_frames():
    """Frames labelled by the teacher (DIEP) that the model never trained on: the errors are the report's."""
    from dpgen_llzo.distill.workflow import heldout_errors

    report = json.loads((MODEL_DIR / "report.json").read_text())
    assert report["teacher"] == "diep"
    subset = report["committed_subset"]
    errors = heldout_errors(MODEL_DIR / "graph.pb", REPO / subset["path"], report["type_map"])
    for klass, expected in subset["per_class"].items():
        got = errors["per_class"][klass]
        assert got["n_frames"] == expected["n_frames"]
        for key in ("force_rmse_meV_A", "energy_rmse_meV_atom", "pressure_rmse_GPa"):
            assert got[key] == pytest.approx(expected[key], rel=1e-3, abs=1e-6), (klass, key)
    # and the subset is representative of the full held-out set the report gives
    full = report["heldout"]["condensed"]["force_rmse_meV_A"]
    assert errors["condensed"]["force_rmse_meV_A"] < 1.5 * full


@pytest.mark.skipif(not (MODEL_DIR / "report.json").is_file(), reason="no shipped model in this checkout")
def test_shipped_model_is_small_and_carries_its_zbl_baseline():
    from deepmd.infer import DeepPot
    import numpy as np

    assert (MODEL_DIR / "graph.pb").stat().st_size <= 10 * 1024 * 1024
    model = DeepPot(str(MODEL_DIR / "graph.pb"))
    assert model.get_type_map() == ["Li", "La", "Zr", "O"]
    box = np.eye(3).reshape(1, 9) * 20.0
    energies = [float(model.eval(np.array([[5.0, 5, 5, 5 + d, 5, 5]]), box, [0, 3])[0][0, 0]) for d in (0.4, 0.7, 1.0)]
    assert energies[0] > energies[1] > energies[2]  # Li-O repulsive at contact
