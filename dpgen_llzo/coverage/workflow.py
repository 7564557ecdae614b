"""The coverage step of the loop: compute (or reuse) an iteration's report, update the history.

Used by ``dpgen-llzo coverage --workdir`` and by ``dpgen-llzo run`` after exploration. The
per-iteration report is reused when it was computed with the same settings, so resuming a run
costs nothing; a missing report of an earlier iteration is recomputed when its trajectories
are still there (``fill_missing``), otherwise that iteration breaks the converged streak.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpgen_llzo.coverage.history import converged_streak, history_rows, write_history
from dpgen_llzo.coverage.iteration import (
    coverage_settings,
    iteration_coverage,
    iteration_report_path,
    read_iteration_report,
    write_iteration_report,
)
from dpgen_llzo.coverage.sources import MODEL_DEVI, iteration_path
from dpgen_llzo.errors import UserInputError

__all__ = ["CoverageStep", "coverage_step", "last_explored_iteration"]

log = logging.getLogger(__name__)

#: Settings that change the numbers; a stored report computed with other values is redone.
COMPUTATION_KEYS = ("variance", "bins", "max_train_frames", "max_test_frames", "seed", "per_element")


@dataclass
class CoverageStep:
    """Outcome of one coverage step.

    Attributes
    ----------
    iteration
        The iteration covered.
    report
        Its report (``iter.N/01.model_devi/coverage.json``).
    history
        The history payload (work-directory ``coverage.json``).
    streak
        Consecutive passing iterations ending at ``iteration``.
    converged
        ``streak >= consecutive``.
    computed
        False when a stored report was reused.
    written
        Files written.
    """

    iteration: int
    report: dict[str, Any]
    history: dict[str, Any]
    streak: int
    converged: bool
    computed: bool
    written: list[Path] = field(default_factory=list)


def _has_trajectories(workdir: str | os.PathLike, iteration: int) -> bool:
    modd = iteration_path(workdir, iteration) / MODEL_DEVI
    return any(modd.glob("task.*/traj/*.lammpstrj")) or any(modd.glob("task.*/all.lammpstrj"))


def last_explored_iteration(workdir: str | os.PathLike) -> int:
    """The highest iteration whose exploration trajectories exist.

    Raises
    ------
    UserInputError
        If no iteration has any.
    """
    iterations = sorted(
        (int(p.name.split(".")[1]) for p in Path(workdir).glob("iter.[0-9]*") if p.name.split(".")[1].isdigit()),
        reverse=True,
    )
    for iteration in iterations:
        if _has_trajectories(workdir, iteration):
            return iteration
    raise UserInputError(f"{workdir}: no iteration with exploration trajectories (iter.*/01.model_devi/task.*/traj)")


def _reusable(report: dict[str, Any] | None, settings: dict[str, Any]) -> bool:
    if report is None:
        return False
    stored = report.get("settings", {})
    return all(stored.get(k) == settings[k] for k in COMPUTATION_KEYS)


def _stored_iterations(report_root: Path) -> list[int]:
    found = []
    for path in report_root.glob(f"iter.[0-9]*/{MODEL_DEVI}/coverage.json"):
        name = path.parent.parent.name.split(".")[1]
        if name.isdigit():
            found.append(int(name))
    return found


def coverage_step(
    workdir: str | os.PathLike,
    iteration: int,
    settings: dict[str, Any] | None = None,
    *,
    param: dict[str, Any] | None = None,
    report_root: str | os.PathLike | None = None,
    reuse: bool = False,
    fill_missing: bool = False,
    model: Any = None,
) -> CoverageStep:
    """Coverage of iteration ``N``, its report and the updated history.

    Parameters
    ----------
    workdir
        DP-GEN work directory.
    iteration
        ``N``.
    settings
        ``_dpgen_llzo.coverage`` (partial is fine).
    param
        DP-GEN param (type map, init data when a training input is missing).
    report_root
        Where reports go (same layout as the work directory); default ``workdir``.
    reuse
        Keep a stored report of ``N`` computed with the same settings instead of recomputing.
    fill_missing
        Also compute missing reports of earlier iterations whose trajectories still exist.
    model
        A loaded ``DeepPot`` for iteration ``N`` (default: ``iter.N/00.train/graph.000.*``).

    Raises
    ------
    UserInputError
        If iteration ``N``'s coverage cannot be computed (no model, no trajectories, too few
        environments...).
    """
    settings = coverage_settings(settings)
    root = Path(report_root) if report_root is not None else Path(workdir)
    written: list[Path] = []
    if fill_missing:
        for earlier in range(iteration):
            stored = read_iteration_report(root, earlier)
            if _reusable(stored, settings) or (stored is not None and not _has_trajectories(workdir, earlier)):
                continue
            if not _has_trajectories(workdir, earlier):
                log.info("coverage of iteration %d: no trajectories left, it counts as not converged", earlier)
                continue
            try:
                written += write_iteration_report(iteration_coverage(workdir, earlier, settings, param=param), root)
            except UserInputError as exc:
                log.warning("coverage of iteration %d not computed: %s", earlier, exc)

    stored = read_iteration_report(root, iteration) if reuse else None
    computed = not _reusable(stored, settings)
    if computed:
        coverage = iteration_coverage(workdir, iteration, settings, param=param, model=model)
        written += write_iteration_report(coverage, root)
        stored = read_iteration_report(root, iteration)
        if stored is None:  # pragma: no cover - just written
            raise UserInputError(f"{iteration_report_path(root, iteration)}: could not be read back")
    assert stored is not None

    last = max([iteration, *_stored_iterations(root)])
    rows = history_rows(root, range(last + 1))
    history = write_history(root, rows, settings)
    written += [root / "coverage.json", root / "coverage.csv"]
    if (root / "coverage_vs_iteration.png").is_file():
        written.append(root / "coverage_vs_iteration.png")
    streak = converged_streak(rows[: iteration + 1], settings["threshold"], settings["criterion"])
    return CoverageStep(
        iteration=iteration,
        report=stored,
        history=history,
        streak=streak,
        converged=streak >= settings["consecutive"],
        computed=computed,
        written=written,
    )
