"""Coverage against the iteration: the history table and the stop criterion.

The history is rebuilt from the per-iteration reports (``iter.N/01.model_devi/coverage.json``)
every time, so it never disagrees with them, and written at the work-directory level as
``coverage.json``, ``coverage.csv`` and ``coverage_vs_iteration.png``.

Stop criterion (the paper's convergence test, made explicit): the last ``consecutive``
iterations all reached ``threshold``. An iteration without a coverage report breaks the run.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dpgen_llzo.coverage.iteration import read_iteration_report

__all__ = [
    "HISTORY_CSV",
    "HISTORY_JSON",
    "HISTORY_PNG",
    "converged_streak",
    "history_rows",
    "row_passes",
    "write_history",
]

HISTORY_JSON = "coverage.json"
HISTORY_CSV = "coverage.csv"
HISTORY_PNG = "coverage_vs_iteration.png"


def history_rows(report_root: str | os.PathLike, iterations: Iterable[int]) -> list[dict[str, Any]]:
    """One row per iteration: overall and per-element coverage, or ``fraction: None`` if missing."""
    rows = []
    for iteration in iterations:
        report = read_iteration_report(report_root, iteration)
        if report is None:
            rows.append({"iteration": iteration, "fraction": None, "per_element": {}})
            continue
        rows.append(
            {
                "iteration": iteration,
                "fraction": report["fraction"],
                "per_element": {el: sub["fraction"] for el, sub in report.get("per_element", {}).items()},
                "n_train": report.get("n_train"),
                "n_test": report.get("n_test"),
                "train_frames": report.get("train_frames"),
                "test_frames": report.get("test_frames"),
                "n_components": report.get("n_components"),
            }
        )
    return rows


def row_passes(row: dict[str, Any], threshold: float, criterion: str = "overall") -> bool:
    """Whether one history row meets the threshold (see :func:`~.iteration.passes`)."""
    if row.get("fraction") is None or row["fraction"] < threshold:
        return False
    if criterion == "every_element":
        return all(v >= threshold for v in row.get("per_element", {}).values())
    return True


def converged_streak(rows: Sequence[dict[str, Any]], threshold: float, criterion: str = "overall") -> int:
    """Number of consecutive passing iterations ending at the last row.

    Rows must be consecutive iterations in order; a missing report counts as not passing.
    """
    streak = 0
    for row in reversed(rows):
        if not row_passes(row, threshold, criterion):
            break
        streak += 1
    return streak


def write_history(
    report_root: str | os.PathLike, rows: Sequence[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    """Write ``coverage.json``, ``coverage.csv`` and ``coverage_vs_iteration.png``; return the JSON payload."""
    from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
    from dpgen_llzo.coverage.plots import plot_history

    root = Path(report_root)
    threshold, criterion = settings["threshold"], settings["criterion"]
    streak = converged_streak(rows, threshold, criterion)
    payload = {
        "threshold": threshold,
        "consecutive": settings["consecutive"],
        "criterion": criterion,
        "iterations": [dict(r, passes=row_passes(r, threshold, criterion)) for r in rows],
        "streak": streak,
        "converged": streak >= settings["consecutive"],
    }
    write_json_atomic(root / HISTORY_JSON, payload)
    elements: list[str] = []
    for r in rows:
        elements += [e for e in r.get("per_element", {}) if e not in elements]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["iteration", "all", *elements, "n_train_rows", "n_test_rows", "train_frames", "test_frames", "passes"])
    for r in payload["iterations"]:
        writer.writerow(
            [
                r["iteration"],
                "" if r["fraction"] is None else f"{r['fraction']:.6f}",
                *(f"{r['per_element'][e]:.6f}" if e in r.get("per_element", {}) else "" for e in elements),
                r.get("n_train", ""),
                r.get("n_test", ""),
                r.get("train_frames", ""),
                r.get("test_frames", ""),
                int(r["passes"]),
            ]
        )
    write_text_atomic(root / HISTORY_CSV, buffer.getvalue())
    if any(r["fraction"] is not None for r in rows):
        plot_history(rows, threshold, root / HISTORY_PNG)
    return payload
