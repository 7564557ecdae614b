"""Error-driven augmentation (You et al., npj Comput. Mater. 2024).

Besides DP-GEN's deviation-based selection, label a random sample of the explored frames
*whatever their model deviation*, compare the reference energy with the committee-mean DP
energy, and add the frames whose relative energy error ``|E_DP - E_ref| / |E_ref|`` exceeds
a threshold (the paper's 1 %) to the training data.

Files (iteration ``N``)::

    iter.N/01.model_devi/augmentation/augmentation.json   every labelled frame and its error
    iter.N/01.model_devi/augmentation/energy_errors.png   the error distribution
    iter.N/01.model_devi/augmentation/data.aug.SSS/       selected frames of system SSS (deepmd/npy)
    iter.N/02.fp/data.aug.SSS/                            the same, copied after post_fp

Labelling happens right after exploration (the trajectories may be removed by post_fp's
``model_devi_clean_traj``); the selected systems join ``02.fp`` after post_fp (make_fp would
move an existing ``02.fp`` aside). DP-GEN's make_train of iteration ``N + 1`` globs
``iter.*/02.fp/data.*`` and reads the system index from the last dot-field of the name, so
the name must end in digits: ``data.aug.SSS`` (not ``data.aug``). Systems with fewer frames
than ``fp_task_min`` are skipped by make_train, as for DP-GEN's own data.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.coverage.sources import explored_frames, iteration_path, sample_indices
from dpgen_llzo.errors import UserInputError

__all__ = [
    "AUGMENTATION_DIR",
    "AugmentationResult",
    "attach_augmented_data",
    "augment_iteration",
    "augmentation_settings",
    "read_augmentation",
    "relative_energy_errors",
]

log = logging.getLogger(__name__)

AUGMENTATION_DIR = "augmentation"
REPORT = "augmentation.json"
HISTOGRAM = "energy_errors.png"
PREFIX = "data.aug."


def augmentation_settings(section: dict[str, Any] | None = None) -> dict[str, Any]:
    """``_dpgen_llzo.augmentation`` with defaults filled in and ranges checked."""
    from dpgen_llzo.config import augmentation_arginfo

    arginfo = augmentation_arginfo()
    try:
        settings = arginfo.normalize_value(dict(section or {}), trim_pattern="_*")
        arginfo.check_value(settings, strict=True)
    except Exception as exc:  # dargs errors
        raise UserInputError(f"_dpgen_llzo.augmentation: {exc}") from None
    if settings["n_frames"] < 1:
        raise UserInputError(f"_dpgen_llzo.augmentation.n_frames must be >= 1, got {settings['n_frames']}")
    if settings["energy_error_threshold"] < 0:
        raise UserInputError(
            f"_dpgen_llzo.augmentation.energy_error_threshold must be >= 0, got {settings['energy_error_threshold']}"
        )
    return settings


def relative_energy_errors(e_dp: np.ndarray, e_ref: np.ndarray) -> np.ndarray:
    """``|E_DP - E_ref| / |E_ref|`` frame by frame (total or per-atom energies, same ratio).

    A frame with ``E_ref == 0`` gets ``inf`` when the energies differ (always selected).
    """
    e_dp, e_ref = np.asarray(e_dp, float), np.asarray(e_ref, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(e_dp - e_ref) / np.abs(e_ref)
    return np.where(np.abs(e_dp - e_ref) == 0, 0.0, err)


@dataclass
class AugmentationResult:
    """What augmentation did in one iteration.

    Attributes
    ----------
    iteration
        ``N``.
    threshold
        Relative energy error above which a frame is added.
    frames
        One record per labelled (or rejected) frame: task, step, energies (eV/atom), error.
    selected_systems
        ``{system index: frames added}``.
    written
        Files and directories written.
    """

    iteration: int
    threshold: float
    frames: list[dict[str, Any]]
    selected_systems: dict[int, int]
    labeler: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and the error distribution (fractions, not %)."""
        errors = np.array([f["relative_error"] for f in self.frames if f.get("relative_error") is not None])
        quantiles = {}
        if errors.size:
            quantiles = {f"p{q}": float(np.percentile(errors, q)) for q in (10, 50, 90)}
        return {
            "iteration": self.iteration,
            "threshold": self.threshold,
            "n_sampled": len(self.frames),
            "n_labelled": int(errors.size),
            "n_rejected": sum(1 for f in self.frames if f.get("rejected")),
            "n_selected": int(sum(self.selected_systems.values())),
            "median_error": float(np.median(errors)) if errors.size else 0.0,
            "max_error": float(errors.max()) if errors.size else 0.0,
            "quantiles": quantiles,
            "selected_systems": {f"{k:03d}": v for k, v in self.selected_systems.items()},
            "labeler": self.labeler,
            "settings": self.settings,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "frames": self.frames}


def _committee_energies(models: Sequence[Any], labeled: Any, type_map: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference and committee-mean DP energies per atom, and the committee spread (eV/atom)."""
    from dpgen_llzo.validation import predict_system

    predictions = [predict_system(m, labeled, type_map) for m in models]
    e_dp = np.array([p.energy_pred for p in predictions])
    return predictions[0].energy_ref, e_dp.mean(axis=0), e_dp.std(axis=0)


def augment_iteration(
    workdir: str | os.PathLike,
    iteration: int,
    settings: dict[str, Any],
    labeler: Any,
    type_map: Sequence[str],
    *,
    max_force: float = 20.0,
    models: Sequence[Any] | None = None,
) -> AugmentationResult:
    """Label a seeded sample of iteration ``N``'s explored frames and keep the badly predicted ones.

    Parameters
    ----------
    workdir
        DP-GEN work directory; its ``iter.N/01.model_devi`` trajectories must exist.
    settings
        ``_dpgen_llzo.augmentation`` (``n_frames``, ``energy_error_threshold``, ``seed``).
    labeler
        A :class:`~dpgen_llzo.labelers.Labeler` (the reference).
    type_map
        Element names of the LAMMPS types.
    max_force
        Labelled frames with a force above this (eV/Å) are rejected (not added).
    models
        Loaded ``DeepPot`` committee; default: every ``iter.N/00.train/graph.*.pb``.

    Returns
    -------
    AugmentationResult
        Written to ``iter.N/01.model_devi/augmentation/`` (JSON, histogram, selected systems).
    """
    from dpgen_llzo.labelers.labelling import label_system, write_deepmd_npy

    settings = augmentation_settings(settings)
    threshold = settings["energy_error_threshold"]
    workdir = Path(workdir)
    out_dir = iteration_path(workdir, iteration) / "01.model_devi" / AUGMENTATION_DIR
    if models is None:
        from deepmd.infer import DeepPot

        paths = sorted((iteration_path(workdir, iteration) / "00.train").glob("graph.[0-9][0-9][0-9].pb"))
        if not paths:
            raise UserInputError(f"{iteration_path(workdir, iteration) / '00.train'}: no frozen models graph.*.pb")
        models = [DeepPot(str(p)) for p in paths]

    frames = explored_frames(workdir, iteration)
    chosen = [frames[i] for i in sample_indices(len(frames), settings["n_frames"], settings["seed"])]
    by_system: dict[int, list[Any]] = {}
    for frame in chosen:
        by_system.setdefault(frame.system, []).append(frame)

    records: list[dict[str, Any]] = []
    selected: dict[int, list[Any]] = {}
    for (system_index, _), group in sorted(_groups(chosen, type_map).items(), key=lambda kv: kv[0][0]):
        group_frames = [f for f, _ in group]
        system = group[0][1]
        for _, one in group[1:]:
            system.append(one)
        labeled, rejections = label_system(system, labeler, list(type_map), max_force, progress=False)
        rejected = {r.frame_index: r.reason for r in rejections}
        kept = [k for k in range(len(group_frames)) if k not in rejected]
        if labeled is not None:
            e_ref, e_dp, e_std = _committee_energies(models, labeled, type_map)
            errors = relative_energy_errors(e_dp, e_ref)
            picked = np.flatnonzero(errors > threshold)
            if picked.size:
                selected.setdefault(system_index, []).append(labeled.sub_system(picked))
        for k, frame in enumerate(group_frames):
            record: dict[str, Any] = {
                "task": os.path.relpath(frame.task, workdir),
                "step": frame.step,
                "system": system_index,
            }
            if k in rejected:
                record.update(rejected=rejected[k], relative_error=None, selected=False)
            else:
                j = kept.index(k)
                record.update(
                    energy_ref_eV_atom=float(e_ref[j]),
                    energy_dp_eV_atom=float(e_dp[j]),
                    committee_std_eV_atom=float(e_std[j]),
                    abs_error_meV_atom=float(1000 * abs(e_dp[j] - e_ref[j])),
                    relative_error=float(errors[j]),
                    selected=bool(errors[j] > threshold),
                )
            records.append(record)

    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    result = AugmentationResult(
        iteration=iteration,
        threshold=threshold,
        frames=records,
        selected_systems={k: sum(len(x) for x in v) for k, v in selected.items()},
        labeler=labeler.describe() if hasattr(labeler, "describe") else {"labeler": str(labeler)},
        settings=dict(settings),
    )
    for system_index, parts in selected.items():
        target = out_dir / f"{PREFIX}{system_index:03d}"
        if len(parts) == 1:
            result.written.append(write_deepmd_npy(parts[0], target))
        else:  # several atom lists in one system index: nested systems, as dpgen's MultiSystems
            for k, part in enumerate(parts):
                result.written.append(write_deepmd_npy(part, target / f"{part.formula}.{k}"))
    result.written.append(_plot_errors(result, out_dir / HISTOGRAM))
    from dpgen_llzo.coverage.cli import write_json_atomic

    write_json_atomic(out_dir / REPORT, result.to_dict())
    result.written.append(out_dir / REPORT)
    return result


def _groups(chosen: Sequence[Any], type_map: Sequence[str]) -> dict[tuple[int, bytes], list[tuple[Any, Any]]]:
    """Read the chosen frames and group them by system index and atom list."""
    import dpdata

    groups: dict[tuple[int, bytes], list[tuple[Any, Any]]] = {}
    for frame in chosen:
        one = dpdata.System(str(frame.path), fmt="lammps/dump", type_map=list(type_map))
        one = one.sub_system([frame.index]) if len(one) > 1 else one
        key = (frame.system, np.asarray(one["atom_types"]).tobytes())
        groups.setdefault(key, []).append((frame, one))
    return groups


def read_augmentation(workdir: str | os.PathLike, iteration: int) -> dict[str, Any] | None:
    """The stored augmentation report of iteration ``N`` (``None`` if absent or unreadable)."""
    path = iteration_path(workdir, iteration) / "01.model_devi" / AUGMENTATION_DIR / REPORT
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None


def attach_augmented_data(workdir: str | os.PathLike, iteration: int) -> list[Path]:
    """Copy the selected systems into ``iter.N/02.fp/data.aug.SSS`` (replacing older copies).

    Returns the ``02.fp`` directories written (empty when augmentation selected nothing).
    """
    source = iteration_path(workdir, iteration) / "01.model_devi" / AUGMENTATION_DIR
    fp = iteration_path(workdir, iteration) / "02.fp"
    written = []
    for data in sorted(source.glob(f"{PREFIX}[0-9]*")):
        if not any(data.rglob("type.raw")):
            continue
        target = fp / data.name
        tmp = fp / f".{data.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        fp.mkdir(parents=True, exist_ok=True)
        shutil.copytree(data, tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        written.append(target)
    return written


def _plot_errors(result: AugmentationResult, path: Path) -> Path:
    from dpgen_llzo.coverage.plots import pyplot, save_figure

    plt = pyplot()
    errors = np.array([f["relative_error"] for f in result.frames if f.get("relative_error") is not None])
    fig, ax = plt.subplots(figsize=(5.0, 3.5))
    if errors.size:
        pct = 100 * errors
        ax.hist(pct, bins=max(5, min(40, errors.size)), color="tab:blue", alpha=0.8)
    ax.axvline(100 * result.threshold, color="tab:red", ls="--", lw=1.2, label=f"threshold {100 * result.threshold:g}%")
    summary = result.summary()
    ax.set_xlabel("relative energy error |E_DP - E_ref| / |E_ref| (%)")
    ax.set_ylabel("frames")
    ax.set_title(
        f"iteration {result.iteration}: {summary['n_selected']}/{summary['n_labelled']} frames added",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
