"""Shared fixtures. The expensive ones are session-scoped and built on first use."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fast_job_polls(monkeypatch):
    """dpdispatcher checks job states every 1 s instead of DP-GEN's 30 s in this process.

    Only the polling interval changes (the submission hash does not depend on it): DP-GEN's
    steps, the jobs and their recovery are the real ones, minus up to 30 s of idle waiting per step.
    """
    from dpdispatcher.submission import Submission

    original = Submission.run_submission

    def run_submission(self, *args, **kwargs):
        kwargs.setdefault("check_interval", 1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Submission, "run_submission", run_submission)


@pytest.fixture(scope="session")
def tetragonal_poscar(tmp_path_factory) -> Path:
    """POSCAR of the ordered tetragonal LLZO cell (192 atoms, experimental a and c)."""
    from dpgen_llzo.structures import build_structure

    path = tmp_path_factory.mktemp("tetragonal") / "POSCAR"
    build_structure("llzo-tetragonal").to(filename=str(path), fmt="poscar")
    return path


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory):
    """Work directory and report of one real ``dpgen-llzo demo --quick`` (several minutes).

    Set ``DPGEN_LLZO_DEMO_DIR`` to reuse (or keep) a demo directory between test runs.
    """
    from dpgen_llzo.demo.runner import run_demo

    workdir = Path(os.environ.get("DPGEN_LLZO_DEMO_DIR") or tmp_path_factory.mktemp("demo"))
    report = run_demo(workdir, quick=True)
    return workdir, report


TINY_MODEL_PARAMS = {
    "type_map": ["Li", "La", "Zr", "O"],
    "descriptor": {
        "type": "se_e2_a",
        "rcut": 4.0,
        "rcut_smth": 0.5,
        "sel": [20, 8, 6, 30],
        "neuron": [4, 8],
        "axis_neuron": 2,
        "type_one_side": True,
        "seed": 1,
    },
    "fitting_net": {"neuron": [8], "seed": 1},
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained se_e2_a TensorFlow model (descriptor width 16) for Li, La, Zr, O (~15 s).

    Built from DeePMD's backend-independent model and converted with ``dp convert-backend``, so
    no training is needed for tests that only evaluate descriptors.
    """
    from deepmd.dpmodel.model.model import get_model
    from deepmd.dpmodel.utils.serialization import save_dp_model

    directory = tmp_path_factory.mktemp("tiny_model")
    model = get_model(json.loads(json.dumps(TINY_MODEL_PARAMS)))
    save_dp_model(
        str(directory / "tiny.dp"),
        {"model": model.serialize(), "model_def_script": TINY_MODEL_PARAMS, "software": "deepmd-kit", "version": "3"},
    )
    subprocess.run(
        ["dp", "convert-backend", "tiny.dp", "tiny.pb"],
        cwd=directory,
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return directory / "tiny.pb"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Collect why a Slurm or CP2K test was skipped (an apt install that failed in CI); printed last."""
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        where = str(getattr(report, "nodeid", ""))
        if "test_slurm" in where or "test_cp2k" in where:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
            reasons.append(f"SKIPPED {where}: {reason}")
    config._skipped_cluster_tests = sorted(set(reasons))


def pytest_unconfigure(config):
    """The very last lines of the run: the skipped Slurm/CP2K tests, so CI's tail shows them."""
    reasons = getattr(config, "_skipped_cluster_tests", [])
    if reasons:
        print("\n=== real-cluster/DFT tests NOT run on this machine ===")
        for line in reasons:
            print(line)
