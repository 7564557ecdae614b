"""``dpgen-llzo coverage``: JSON on stdout, exit code 2 and one line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dpgen_llzo.cli import main


@pytest.fixture
def matrices(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.normal(size=(600, 6)) @ rng.normal(size=(6, 6))
    test = train[:200] * 1.4
    np.save(tmp_path / "train.npy", train)
    np.save(tmp_path / "test.npy", test)
    np.save(tmp_path / "train_types.npy", np.repeat([0, 3], 300))
    np.save(tmp_path / "test_types.npy", np.repeat([0, 3], 100))
    return tmp_path


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output(matrices, capsys):
    code, out, err = run(
        [
            "coverage",
            str(matrices / "train.npy"),
            str(matrices / "test.npy"),
            "--json",
            "--bins",
            "20",
        ],
        capsys,
    )
    assert code == 0, err
    payload = json.loads(out)
    assert 0.0 < payload["fraction"] < 1.0
    assert payload["n_components"] >= 2
    assert payload["bins"] == 20 and payload["variance"] == 0.95
    assert payload["n_train"] == 600 and payload["n_test"] == 200


def test_plain_output_and_output_file(matrices, capsys):
    target = matrices / "cov.json"
    code, out, _ = run(
        ["coverage", str(matrices / "train.npy"), str(matrices / "test.npy"), "-o", str(target)],
        capsys,
    )
    assert code == 0
    assert out.startswith("coverage 0.") and "component pairs" in out
    assert json.loads(target.read_text())["fraction"] == pytest.approx(
        float(out.split()[1]), abs=1e-4
    )
    assert [p.name for p in matrices.iterdir() if p.name.startswith(".cov.json")] == []


def test_per_element_output(matrices, capsys):
    code, out, _ = run(
        [
            "coverage",
            str(matrices / "train.npy"),
            str(matrices / "test.npy"),
            "--train-types",
            str(matrices / "train_types.npy"),
            "--test-types",
            str(matrices / "test_types.npy"),
            "--json",
        ],
        capsys,
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload["per_element"]) == {"Li", "O"}
    assert "fraction" in payload and "n_components" in payload


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bins", "0"], "bins must be an integer >= 1"),
        (["--variance", "1.5"], "variance must be in (0, 1]"),
        (["--train-types", "x.npy"], "give both --train-types and --test-types"),
    ],
)
def test_bad_options_exit_2_with_one_line(matrices, capsys, extra, message):
    code, out, err = run(
        ["coverage", str(matrices / "train.npy"), str(matrices / "test.npy"), *extra], capsys
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("dpgen-llzo: error: ") and message in err


def test_bad_files_exit_2_with_one_line(matrices, capsys):
    np.save(matrices / "narrow.npy", np.zeros((10, 3)))
    (matrices / "junk.npy").write_text("not numpy")
    cases = [
        ("narrow.npy", "feature counts differ: train has 6 columns, test has 3"),
        ("junk.npy", "not a readable .npy array"),
        ("missing.npy", "file not found"),
    ]
    for name, message in cases:
        code, _, err = run(["coverage", str(matrices / "train.npy"), str(matrices / name)], capsys)
        assert code == 2
        assert err.count("\n") == 1 and message in err, err


def test_console_script_help_and_json():
    help_text = subprocess.run(
        [sys.executable, "-m", "dpgen_llzo.cli", "coverage", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--variance" in help_text and "--bins" in help_text and "--json" in help_text
