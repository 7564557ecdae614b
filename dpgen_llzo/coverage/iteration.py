"""Coverage of one DP-GEN iteration: its explored environments against its training data.

``iteration_coverage(workdir, N, settings)`` samples the training frames of iteration ``N``
and the frames its exploration wrote (:mod:`.sources`), turns every atom of them into a
descriptor row with iteration ``N``'s model ``iter.N/00.train/graph.000.*`` (DeePMD-kit's
``eval_descriptor``), and computes the PCA coverage overall and per element
(:func:`~dpgen_llzo.coverage.species.coverage_by_element`). :func:`write_iteration_report`
writes ``coverage.json`` and the 2-D projection figure beside the exploration.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.coverage.descriptors import environment_descriptors, load_model
from dpgen_llzo.coverage.pca import CoverageResult
from dpgen_llzo.coverage.sources import (
    MODEL_DEVI,
    FrameBlock,
    explored_frames,
    iteration_model,
    iteration_path,
    read_explored_frames,
    read_training_frames,
    training_systems,
    training_type_map,
)
from dpgen_llzo.coverage.species import ALL, coverage_by_element
from dpgen_llzo.errors import UserInputError

__all__ = [
    "REPORT_NAME",
    "IterationCoverage",
    "coverage_settings",
    "descriptor_matrix",
    "iteration_coverage",
    "iteration_report_path",
    "passes",
    "write_iteration_report",
]

log = logging.getLogger(__name__)

#: File name of an iteration's coverage report, in ``iter.N/01.model_devi/``.
REPORT_NAME = "coverage.json"
PROJECTION_PNG = "coverage_projections.png"
CRITERIA = ("overall", "every_element")


def coverage_settings(section: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``_dpgen_llzo.coverage`` settings with defaults filled in and ranges checked.

    Raises
    ------
    UserInputError
        On an unknown key or a value out of range (the message names the key).
    """
    from dpgen_llzo.config import coverage_arginfo

    arginfo = coverage_arginfo()
    try:
        settings = arginfo.normalize_value(dict(section or {}), trim_pattern="_*")
        arginfo.check_value(settings, strict=True)
    except Exception as exc:  # dargs errors
        raise UserInputError(f"_dpgen_llzo.coverage: {exc}") from None
    checks = [
        ("threshold", 0.0 <= settings["threshold"] <= 1.0, "in [0, 1]"),
        ("consecutive", settings["consecutive"] >= 1, ">= 1"),
        ("criterion", settings["criterion"] in CRITERIA, f"one of {', '.join(CRITERIA)}"),
        ("variance", 0.0 < settings["variance"] <= 1.0, "in (0, 1]"),
        ("bins", settings["bins"] >= 1, ">= 1"),
        ("max_train_frames", settings["max_train_frames"] >= 1, ">= 1"),
        ("max_test_frames", settings["max_test_frames"] >= 1, ">= 1"),
    ]
    for key, ok, rule in checks:
        if not ok:
            raise UserInputError(f"_dpgen_llzo.coverage.{key} must be {rule}, got {settings[key]!r}")
    return settings


@dataclass
class IterationCoverage:
    """Coverage of iteration ``N``'s explored environments by its training data.

    Attributes
    ----------
    iteration
        ``N``.
    results
        ``{"all": ..., "Li": ..., ...}`` as :func:`coverage_by_element` returns them (only
        ``"all"`` when ``per_element`` is off).
    settings
        The coverage settings used (variance, bins, sampling, threshold...).
    model
        The frozen model whose descriptors were used.
    type_map
        Element names of the row types.
    train_frames, test_frames
        Frames sampled from the training systems and from the exploration.
    train_sources, test_sources
        ``{source: n_frames}`` of the samples.
    elapsed_s
        Wall time of the computation, s.
    rows
        ``(train, train_types, test, test_types)`` descriptor rows, kept for the figure; not
        written to JSON.
    """

    iteration: int
    results: dict[str, CoverageResult]
    settings: dict[str, Any]
    model: str
    type_map: list[str]
    train_frames: int
    test_frames: int
    train_sources: dict[str, int]
    test_sources: dict[str, int]
    elapsed_s: float
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        """Coverage of all environments."""
        return self.results[ALL].fraction

    def per_element(self) -> dict[str, float]:
        """``{element: coverage}`` in type-map order."""
        return {el: r.fraction for el, r in self.results.items() if el != ALL}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report: the overall result at top level, as ``dpgen-llzo coverage`` prints."""
        payload: dict[str, Any] = {"iteration": self.iteration}
        payload.update(self.results[ALL].to_dict())
        payload["per_element"] = {el: r.to_dict() for el, r in self.results.items() if el != ALL}
        payload["passes"] = passes(payload, self.settings["threshold"], self.settings["criterion"])
        payload.update(
            {
                "threshold": self.settings["threshold"],
                "criterion": self.settings["criterion"],
                "settings": dict(self.settings),
                "model": self.model,
                "type_map": list(self.type_map),
                "train_frames": self.train_frames,
                "test_frames": self.test_frames,
                "train_sources": self.train_sources,
                "test_sources": self.test_sources,
                "elapsed_s": round(self.elapsed_s, 2),
            }
        )
        return payload


def passes(report: dict[str, Any], threshold: float, criterion: str = "overall") -> bool:
    """Whether a coverage report (as :meth:`IterationCoverage.to_dict`) meets the criterion.

    ``overall``: ``fraction >= threshold``; ``every_element``: that, and every element's
    fraction too.
    """
    if report.get("fraction") is None or report["fraction"] < threshold:
        return False
    if criterion == "every_element":
        return all(sub["fraction"] >= threshold for sub in report.get("per_element", {}).values())
    return True


def descriptor_matrix(model: Any, blocks: Sequence[FrameBlock], type_map: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Descriptor rows (float32, half the memory; the grid needs no more) and row types of
    every atom of every frame in ``blocks``."""
    rows, types = [], []
    for block in blocks:
        x, t = environment_descriptors(model, block.coords, block.cells, block.atom_types, type_map)
        rows.append(x.astype(np.float32))
        types.append(t)
    if not rows:
        raise UserInputError("no frames to describe")
    return np.concatenate(rows), np.concatenate(types)


def iteration_coverage(
    workdir: str | os.PathLike,
    iteration: int,
    settings: dict[str, Any] | None = None,
    *,
    type_map: Sequence[str] | None = None,
    param: dict[str, Any] | None = None,
    model: Any = None,
) -> IterationCoverage:
    """Coverage of iteration ``N``'s explored environments by the data its models trained on.

    Parameters
    ----------
    workdir
        The DP-GEN work directory.
    iteration
        ``N``; it must have a frozen model and exploration trajectories.
    settings
        ``_dpgen_llzo.coverage`` settings (partial is fine; defaults fill the rest).
    type_map
        Element names of the LAMMPS types 1, 2, ...; default: iteration ``N``'s training
        input, then ``param["type_map"]``, then the model's own type map.
    param
        The DP-GEN param, used when the training input is missing (see
        :func:`~dpgen_llzo.coverage.sources.training_systems`).
    model
        An already loaded ``DeepPot`` to use instead of ``iter.N/00.train/graph.000.*``.

    Raises
    ------
    UserInputError
        Missing model/trajectories/training data, or too few environments for a PCA.
    """
    start = time.perf_counter()
    settings = coverage_settings(settings)
    model_path = iteration_model(workdir, iteration) if model is None else None
    if model is None:
        model = load_model(model_path)
    if type_map is None:
        type_map = training_type_map(workdir, iteration) or (param or {}).get("type_map") or list(model.get_type_map())
    type_map = [str(t) for t in type_map]

    systems = training_systems(workdir, iteration, param)
    train_blocks = read_training_frames(systems, type_map, settings["max_train_frames"], settings["seed"])
    test_blocks = read_explored_frames(
        explored_frames(workdir, iteration), type_map, settings["max_test_frames"], settings["seed"]
    )
    train, train_types = descriptor_matrix(model, train_blocks, type_map)
    test, test_types = descriptor_matrix(model, test_blocks, type_map)
    if settings["per_element"]:
        results = coverage_by_element(
            train, test, train_types, test_types, type_map, settings["variance"], settings["bins"]
        )
    else:
        from dpgen_llzo.coverage.pca import coverage_fraction

        results = {ALL: coverage_fraction(train, test, settings["variance"], settings["bins"])}
    workdir_path = Path(workdir)
    return IterationCoverage(
        iteration=iteration,
        results=results,
        settings=settings,
        model=_relative(model_path, workdir_path) if model_path else "(given)",
        type_map=type_map,
        train_frames=sum(b.n_frames for b in train_blocks),
        test_frames=sum(b.n_frames for b in test_blocks),
        train_sources={_relative(Path(b.source), workdir_path): b.n_frames for b in train_blocks},
        test_sources=_sum_sources(test_blocks, workdir_path),
        elapsed_s=time.perf_counter() - start,
        rows=(train, train_types, test, test_types),
    )


def _sum_sources(blocks: Sequence[FrameBlock], workdir: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in blocks:
        key = _relative(Path(b.source), workdir)
        out[key] = out.get(key, 0) + b.n_frames
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(os.path.relpath(Path(path).resolve(), root.resolve())))
    except ValueError:  # pragma: no cover - other drive
        return str(path)


def iteration_report_path(report_root: str | os.PathLike, iteration: int) -> Path:
    """``report_root/iter.N/01.model_devi/coverage.json``."""
    return iteration_path(report_root, iteration) / MODEL_DEVI / REPORT_NAME


def write_iteration_report(coverage: IterationCoverage, report_root: str | os.PathLike) -> list[Path]:
    """Write ``iter.N/01.model_devi/coverage.json`` and ``coverage_projections.png`` under ``report_root``.

    Returns the written paths. The JSON is written atomically; the figure shows the first
    component pairs, training vs explored points (overall and per element).
    """
    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.coverage.plots import plot_projections

    path = iteration_report_path(report_root, coverage.iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    if coverage.rows is not None:
        png = path.parent / PROJECTION_PNG
        plot_projections(coverage, png)
        written.append(png)
    payload = coverage.to_dict()
    payload["plots"] = [p.name for p in written]
    write_json_atomic(path, payload)
    return [path, *written]


def read_iteration_report(report_root: str | os.PathLike, iteration: int) -> dict[str, Any] | None:
    """The stored coverage report of an iteration, or ``None`` (missing or unreadable)."""
    path = iteration_report_path(report_root, iteration)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        log.warning("%s: unreadable coverage report, ignored", path)
        return None
