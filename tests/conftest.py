"""Shared fixtures. The expensive ones are session-scoped and built on first use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


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
