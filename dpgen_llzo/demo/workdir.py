"""Read what a DP-GEN work directory holds: iterations, models, labelled data."""

from __future__ import annotations

import glob
import os
from pathlib import Path


def iteration_dirs(workdir: str | os.PathLike) -> list[Path]:
    """``iter.NNNNNN`` directories, sorted."""
    return sorted(Path(workdir).glob("iter.[0-9][0-9][0-9][0-9][0-9][0-9]"))


def frozen_models(iteration: Path) -> list[Path]:
    """The frozen models DP-GEN trained in ``iteration`` (``00.train/graph.NNN.pb``)."""
    return sorted(Path(p) for p in glob.glob(str(iteration / "00.train" / "graph.[0-9][0-9][0-9].pb")))


def fp_datasets(iteration: Path) -> list[Path]:
    """The labelled systems of ``iteration``: DP-GEN's ``02.fp/data.SSS`` and augmentation's ``data.aug.SSS``."""
    return sorted(Path(p) for p in glob.glob(str(iteration / "02.fp" / "data.*")) if Path(p).is_dir())


def count_frames(dataset: Path) -> int:
    """Labelled frames under a deepmd/npy system or a multi-system directory (all ``set.*/energy.npy``)."""
    import numpy as np

    return int(sum(np.load(f, mmap_mode="r").shape[0] for f in sorted(Path(dataset).rglob("set.*/energy.npy"))))


def fp_task_count(iteration: Path) -> int:
    """Number of fp tasks DP-GEN made in ``iteration``."""
    return len(list((iteration / "02.fp").glob("task.*")))
