"""Frames of one DP-GEN iteration: what its models were trained on, and what they explored.

The coverage step compares two sets of atomic environments of iteration ``N``:

* **training** - the systems iteration ``N``'s models were trained on, read from the
  training input DP-GEN wrote (``iter.N/00.train/000/input.json``: the init data plus every
  earlier ``02.fp/data.*``); when that file is missing, from ``init_data_prefix`` +
  ``init_data_sys`` and ``iter.<N/02.fp/data.*`` of the param;
* **explored** - the frames of iteration ``N``'s exploration,
  ``iter.N/01.model_devi/task.*/traj/*.lammpstrj`` (or ``all.lammpstrj`` when
  ``model_devi_merge_traj`` is on), read as ``lammps/dump`` with the param's type map.

Both are subsampled by seed, so a coverage step costs seconds however long the run. This
module only reads files; the numbers come from :mod:`.pca` and :mod:`.species`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

__all__ = [
    "FrameBlock",
    "ExploredFrame",
    "explored_frames",
    "iteration_model",
    "iteration_path",
    "read_explored_frames",
    "read_training_frames",
    "sample_indices",
    "training_systems",
    "training_type_map",
]

MODEL_DEVI = "01.model_devi"
TRAIN = "00.train"
FP = "02.fp"


@dataclass(frozen=True)
class ExploredFrame:
    """One frame written by a model-deviation (exploration) task.

    Attributes
    ----------
    path
        The ``lammps/dump`` file holding it.
    task
        The task directory, ``iter.N/01.model_devi/task.SSS.TTTTTT``.
    system
        DP-GEN system index ``SSS`` (position in ``sys_configs``).
    step
        MD step of the frame.
    index
        Frame index inside ``path`` (0 for one-frame files).
    """

    path: Path
    task: Path
    system: int
    step: int
    index: int = 0


@dataclass
class FrameBlock:
    """Frames that share one atom list, ready for ``environment_descriptors``.

    Attributes
    ----------
    coords
        Positions, Å, shape ``(n_frames, n_atoms, 3)``.
    cells
        Cell vectors as rows, Å, shape ``(n_frames, 3, 3)``; ``None`` when non-periodic.
    atom_types
        Index into the common type map of every atom, shape ``(n_atoms,)``.
    source
        Where the frames come from (a system directory or a task), for reports.
    frames
        Frame identifiers inside ``source`` (frame indices or MD steps).
    """

    coords: np.ndarray
    cells: np.ndarray | None
    atom_types: np.ndarray
    source: str
    frames: list[int]

    @property
    def n_frames(self) -> int:
        return int(self.coords.shape[0])


def iteration_path(workdir: str | os.PathLike, iteration: int) -> Path:
    """``workdir/iter.NNNNNN`` (DP-GEN's ``make_iter_name``)."""
    return Path(workdir) / f"iter.{iteration:06d}"


def iteration_model(workdir: str | os.PathLike, iteration: int) -> Path:
    """The first frozen model of an iteration, ``iter.N/00.train/graph.000.*``.

    Raises
    ------
    UserInputError
        If the iteration has no frozen model yet.
    """
    train = iteration_path(workdir, iteration) / TRAIN
    found = sorted(p for p in train.glob("graph.000.*") if p.exists())
    if not found:
        raise UserInputError(f"{train}: no frozen model graph.000.* (has iteration {iteration} been trained?)")
    preferred = [p for p in found if p.suffix == ".pb"]
    return (preferred or found)[0]


def _training_input(workdir: str | os.PathLike, iteration: int) -> tuple[Path, dict[str, Any]] | None:
    task = iteration_path(workdir, iteration) / TRAIN / "000"
    path = task / "input.json"
    if not path.is_file():
        return None
    try:
        return task, json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: invalid JSON ({exc.msg})") from None


def training_type_map(workdir: str | os.PathLike, iteration: int) -> list[str] | None:
    """The ``model.type_map`` of iteration ``N``'s training input, or ``None``."""
    found = _training_input(workdir, iteration)
    if found is None:
        return None
    type_map = found[1].get("model", {}).get("type_map")
    return [str(t) for t in type_map] if type_map else None


def training_systems(
    workdir: str | os.PathLike, iteration: int, param: dict[str, Any] | None = None
) -> list[Path]:
    """The deepmd/npy systems iteration ``N``'s models were trained on.

    Parameters
    ----------
    workdir
        The DP-GEN work directory.
    iteration
        ``N``.
    param
        The DP-GEN param (``init_data_prefix``, ``init_data_sys``), used only when the
        training input of iteration ``N`` is missing.

    Raises
    ------
    UserInputError
        If neither the training input nor ``param`` tells, or a listed system is missing.
    """
    found = _training_input(workdir, iteration)
    if found is not None:
        task, data = found
        training = data.get("training", {})
        systems = training.get("training_data", {}).get("systems") or training.get("systems")
        if not systems:
            raise UserInputError(f"{task / 'input.json'}: no training systems listed")
        if isinstance(systems, str):
            systems = [systems]
        paths = [(task / s).resolve() for s in systems]
    elif param is not None:
        workdir = Path(workdir)
        prefix = workdir / param.get("init_data_prefix", ".")
        paths = []
        for name in param.get("init_data_sys", []):
            paths += _expand_systems(prefix / name)
        for earlier in range(iteration):
            for data in sorted((iteration_path(workdir, earlier) / FP).glob("data.*")):
                paths += _expand_systems(data)
    else:
        raise UserInputError(
            f"{iteration_path(workdir, iteration) / TRAIN / '000' / 'input.json'}: not found; "
            "pass the param file to list the training systems"
        )
    missing = [str(p) for p in paths if not (p / "type.raw").is_file()]
    if missing:
        raise UserInputError(f"training system(s) not found or not deepmd/npy: {', '.join(missing[:3])}")
    if not paths:
        raise UserInputError(f"iteration {iteration}: no training systems")
    return paths


def _expand_systems(root: Path) -> list[Path]:
    """System directories under ``root`` (those holding ``type.raw``), as dpgen's expand_sys_str."""
    if (root / "type.raw").is_file():
        return [root]
    return sorted(p.parent for p in root.rglob("type.raw"))


_TASK = re.compile(r"task\.(\d+)\.\d+$")


def explored_frames(workdir: str | os.PathLike, iteration: int) -> list[ExploredFrame]:
    """Every frame iteration ``N``'s exploration wrote, in task and step order.

    Raises
    ------
    UserInputError
        If the exploration directory holds no trajectory (not run yet, or cleaned by
        ``model_devi_clean_traj``).
    """
    modd = iteration_path(workdir, iteration) / MODEL_DEVI
    frames: list[ExploredFrame] = []
    for task in sorted(modd.glob("task.*")):
        match = _TASK.search(task.name)
        if not match or not task.is_dir():
            continue
        system = int(match.group(1))
        frames += [ExploredFrame(path, task, system, step, index) for step, path, index in task_dump_frames(task)]
    if not frames:
        raise UserInputError(
            f"{modd}: no exploration trajectories (task.*/traj/*.lammpstrj); not run yet, "
            "or removed by model_devi_clean_traj"
        )
    return frames


def dump_headers(path: str | os.PathLike) -> list[tuple[int, int]]:
    """``(step, atoms)`` of every frame of a LAMMPS dump, read from its ITEM headers only.

    A frame cut off before its ``NUMBER OF ATOMS`` line is not listed.
    """
    result, step, wanted = [], None, None
    with open(path) as handle:
        for line in handle:
            if wanted is not None:
                value = int(line.split()[0])
                if wanted == "TIMESTEP":
                    step = value
                else:
                    result.append((int(step if step is not None else -1), value))
                wanted = None
            elif line.startswith("ITEM: TIMESTEP"):
                wanted = "TIMESTEP"
            elif line.startswith("ITEM: NUMBER OF ATOMS"):
                wanted = "ATOMS"
    return result


def task_dump_frames(task: str | os.PathLike) -> list[tuple[int, Path, int]]:
    """``(step, file, index in file)`` of one exploration task's dump frames.

    DP-GEN writes ``traj/<step>.lammpstrj`` (one frame each, listed by step) or, with
    ``model_devi_merge_traj``, one ``all.lammpstrj`` (listed in file order).
    """
    task = Path(task)
    per_frame = []
    for path in (task / "traj").glob("*.lammpstrj"):
        step = path.name.split(".")[0]
        if step.isdigit():
            per_frame.append((int(step), path, 0))
    if per_frame:
        return sorted(per_frame)
    merged = task / "all.lammpstrj"
    if merged.is_file():
        return [(step, merged, index) for index, (step, _) in enumerate(dump_headers(merged))]
    return []


def sample_indices(n_total: int, n_max: int, seed: int) -> np.ndarray:
    """Sorted sample of ``min(n_total, n_max)`` distinct indices out of ``range(n_total)``.

    All of them when ``n_total <= n_max``; otherwise drawn by ``numpy.random.default_rng(seed)``.
    """
    if n_max < 1:
        raise UserInputError(f"the number of frames to sample must be >= 1, got {n_max}")
    if n_total <= n_max:
        return np.arange(n_total)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n_max, replace=False))


def read_training_frames(
    systems: Sequence[Path], type_map: Sequence[str], max_frames: int, seed: int
) -> list[FrameBlock]:
    """A seeded sample of at most ``max_frames`` frames out of all the training systems.

    Frames are drawn uniformly over the pooled frames of all systems (a system with more
    frames contributes more), so the sample looks like what the training saw.
    """
    import dpdata

    counts = [_count_frames(s) for s in systems]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    chosen = sample_indices(int(offsets[-1]), max_frames, seed)
    blocks = []
    for k, system_dir in enumerate(systems):
        local = chosen[(chosen >= offsets[k]) & (chosen < offsets[k + 1])] - offsets[k]
        if local.size == 0:
            continue
        system = dpdata.System(str(system_dir), fmt="deepmd/npy").sub_system(local)
        blocks.append(_block(system, type_map, str(system_dir), [int(i) for i in local]))
    return blocks


def _count_frames(system_dir: Path) -> int:
    total = 0
    for set_dir in sorted(system_dir.glob("set.*")):
        coord = set_dir / "coord.npy"
        if coord.is_file():
            total += int(np.load(coord, mmap_mode="r").shape[0])
    return total


def read_explored_frames(
    frames: Sequence[ExploredFrame], type_map: Sequence[str], max_frames: int, seed: int
) -> list[FrameBlock]:
    """A seeded sample of at most ``max_frames`` explored frames, grouped by task (only those frames parsed)."""
    chosen = [frames[i] for i in sample_indices(len(frames), max_frames, seed)]
    by_task: dict[Path, list[ExploredFrame]] = {}
    for frame in chosen:
        by_task.setdefault(frame.task, []).append(frame)
    blocks = []
    for task, task_frames in by_task.items():
        wanted: dict[Path, list[int]] = {}
        for frame in task_frames:
            wanted.setdefault(frame.path, []).append(frame.index)
        loaded = {path: _load_dump_frames(path, sorted(set(indices)), type_map) for path, indices in wanted.items()}
        systems = []
        for frame in task_frames:
            positions, system = loaded[frame.path]
            systems.append(system.sub_system([positions[frame.index]]) if len(system) > 1 else system)
        for block in _stack(systems, type_map, str(task), [f.step for f in task_frames]):
            blocks.append(block)
    return blocks


def _load_dump_frames(path: Path, indices: list[int], type_map: Sequence[str]) -> tuple[dict[int, int], Any]:
    """Frames ``indices`` (sorted, distinct) of a LAMMPS dump and where each sits in the system read.

    dpdata's ``f_idx`` streams the file and parses only those frames (a merged
    ``all.lammpstrj`` of a long large-cell run never sits in memory whole); a dpdata without
    ``f_idx`` ignores it and returns every frame, then indexed as before.
    """
    import dpdata

    system = dpdata.System(str(path), fmt="lammps/dump", type_map=list(type_map), f_idx=indices)
    if len(system) == len(indices):
        return {index: k for k, index in enumerate(indices)}, system
    return {index: index for index in indices}, system


def _stack(systems: list[Any], type_map: Sequence[str], source: str, frames: list[int]) -> list[FrameBlock]:
    """Group one-frame systems with identical atom lists into blocks."""
    groups: dict[bytes, list[int]] = {}
    types = []
    for k, system in enumerate(systems):
        aligned = _aligned_types(system, type_map)
        types.append(aligned)
        groups.setdefault(aligned.tobytes() + bytes([int(system.nopbc)]), []).append(k)
    blocks = []
    for members in groups.values():
        first = systems[members[0]]
        coords = np.concatenate([systems[k]["coords"] for k in members])
        cells = None if first.nopbc else np.concatenate([systems[k]["cells"] for k in members])
        blocks.append(FrameBlock(coords, cells, types[members[0]], source, [frames[k] for k in members]))
    return blocks


def _block(system: Any, type_map: Sequence[str], source: str, frames: list[int]) -> FrameBlock:
    return FrameBlock(
        coords=np.asarray(system["coords"], dtype=np.float64),
        cells=None if system.nopbc else np.asarray(system["cells"], dtype=np.float64),
        atom_types=_aligned_types(system, type_map),
        source=source,
        frames=frames,
    )


def _aligned_types(system: Any, type_map: Sequence[str]) -> np.ndarray:
    from dpgen_llzo.labelers.labelling import aligned_atom_types

    return np.asarray(aligned_atom_types(system["atom_names"], np.asarray(system["atom_types"]), list(type_map)), dtype=int)
