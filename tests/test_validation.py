"""Error metrics and the `validate` command's input checks."""

from __future__ import annotations

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.validate_cli import parse_data_classes
from dpgen_llzo.validation import Predictions, error_summary, ensemble_mean, rmse


def test_rmse_of_a_constant_offset_is_the_offset():
    assert rmse(np.zeros(5), np.full(5, 0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        rmse(np.zeros(3), np.zeros(4))


def test_error_summary_units_and_committee_mean():
    a = Predictions(np.array([-7.0, -7.1]), np.array([-7.001, -7.099]), np.array([1.0, -1.0]), np.array([1.1, -0.9]))
    b = Predictions(a.energy_ref, np.array([-6.999, -7.101]), a.force_ref, np.array([0.9, -1.1]))
    summary = error_summary(a)
    assert summary["energy_rmse_meV_atom"] == pytest.approx(1.0)
    assert summary["force_rmse_meV_A"] == pytest.approx(100.0)
    assert summary["force_ref_std_meV_A"] == pytest.approx(1000.0)
    # Errors of opposite sign cancel in the committee mean.
    assert error_summary(ensemble_mean([a, b]))["force_rmse_meV_A"] == pytest.approx(0.0, abs=1e-9)


def test_data_classes_default_to_the_directory_name():
    assert parse_data_classes(["crystal=a/b", "c/dimers", "crystal=e"]) == {"crystal": ["a/b", "e"], "dimers": ["c/dimers"]}


def test_validate_refuses_a_missing_model_in_one_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "graph.pb"), "--data", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "graph.pb: model file not found" in err[0]
