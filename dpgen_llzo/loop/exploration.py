"""How an exploration went: candidate / accurate / failed frames, and the one-line summary.

DP-GEN sorts every explored frame by its largest force deviation ``max_devi_f`` (and
virial deviation ``max_devi_v``): *accurate* below the trust level ``lo``, *candidate* in
``[lo, hi)`` (sent to labelling), *failed* at or above ``hi``. After make_fp the counts are
read from DP-GEN's own lists (``02.fp/candidate.shuffled.SSS.out``, ``rest_accurate...``,
``rest_failed...``); before it (when the loop stops right after exploration) they are
recomputed from ``model_devi.out`` with the same rule (:func:`classify_deviation`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

__all__ = ["ExplorationCounts", "classify_deviation", "exploration_counts", "iteration_summary"]

_TASK = re.compile(r"task\.(\d+)\.\d+$")


@dataclass(frozen=True)
class ExplorationCounts:
    """Frames of one exploration by class.

    Attributes
    ----------
    accurate, candidate, failed
        Frame counts.
    source
        ``"02.fp"`` (DP-GEN's lists) or ``"model_devi.out"`` (recomputed).
    fp_tasks
        Labelling tasks DP-GEN made (``None`` before make_fp).
    """

    accurate: int
    candidate: int
    failed: int
    source: str
    fp_tasks: int | None = None

    @property
    def total(self) -> int:
        return self.accurate + self.candidate + self.failed

    def ratios(self) -> dict[str, float]:
        """Fractions of the explored frames in each class (0 when nothing was explored)."""
        n = max(self.total, 1)
        return {"candidate": self.candidate / n, "accurate": self.accurate / n, "failed": self.failed / n}


def classify_deviation(
    max_devi_f: np.ndarray,
    max_devi_v: np.ndarray | None,
    f_trust: tuple[float, float],
    v_trust: tuple[float, float] = (1e10, 1e10),
) -> tuple[int, int, int]:
    """``(accurate, candidate, failed)`` counts by DP-GEN's standard rule.

    Candidate if ``lo <= devi < hi`` for the force or the virial deviation; else failed if
    either is ``>= hi``; else accurate. Deviations in eV/Å (force) and eV (virial per atom,
    as ``model_devi.out`` writes it).
    """
    f = np.asarray(max_devi_f, float)
    v = np.zeros_like(f) if max_devi_v is None else np.asarray(max_devi_v, float)
    (f_lo, f_hi), (v_lo, v_hi) = f_trust, v_trust
    candidate = ((f >= f_lo) & (f < f_hi)) | ((v >= v_lo) & (v < v_hi))
    failed = ~candidate & ((f >= f_hi) | (v >= v_hi))
    accurate = ~candidate & ~failed
    return int(accurate.sum()), int(candidate.sum()), int(failed.sum())


def _per_system(value: Any, system: int) -> float:
    if isinstance(value, list):
        return float(value[system])
    if isinstance(value, dict):
        return float(value[str(system)])
    return float(value)


def trust_levels(job: Mapping[str, Any], jdata: Mapping[str, Any], system: int) -> dict[str, float]:
    """Trust levels of system ``system``: ``cur_job.json`` values over the param's (as DP-GEN does)."""

    def level(key: str, default: Any = None) -> float:
        value = job.get(key)
        value = value if value is not None else jdata.get(key, default)
        if value is None:
            raise UserInputError(f"param: {key}: missing (needed to screen the exploration)")
        try:
            return _per_system(value, system)
        except (IndexError, KeyError, TypeError, ValueError):
            raise UserInputError(f"param: {key}: no level for system {system} in {value!r}") from None

    return {
        "f_lo": level("model_devi_f_trust_lo"),
        "f_hi": level("model_devi_f_trust_hi"),
        "v_lo": level("model_devi_v_trust_lo", 1e10),
        "v_hi": level("model_devi_v_trust_hi", 1e10),
    }


def _count_lines(path: Path) -> int:
    with open(path) as handle:
        return sum(1 for line in handle if line.strip())


def exploration_counts(workdir: str | os.PathLike, iteration: int, jdata: dict[str, Any]) -> ExplorationCounts | None:
    """Counts of iteration ``N``'s explored frames, or ``None`` if nothing was explored.

    Parameters
    ----------
    jdata
        The normalised DP-GEN param (trust levels, ``model_devi_skip``); iteration-dependent
        trust levels in ``01.model_devi/cur_job.json`` take precedence, as in DP-GEN.
    """
    it = Path(workdir) / f"iter.{iteration:06d}"
    fp = it / "02.fp"
    lists = {k: sorted(fp.glob(f"{k}.shuffled.*.out")) for k in ("candidate", "rest_accurate", "rest_failed")}
    if lists["candidate"]:
        n = {k: sum(_count_lines(p) for p in v) for k, v in lists.items()}
        tasks = len([p for p in fp.glob("task.*") if p.is_dir()])
        return ExplorationCounts(n["rest_accurate"], n["candidate"], n["rest_failed"], "02.fp", tasks)

    modd = it / "01.model_devi"
    job: dict[str, Any] = {}
    if (modd / "cur_job.json").is_file():
        job = json.loads((modd / "cur_job.json").read_text())

    skip = int(jdata.get("model_devi_skip", 0))
    totals = np.zeros(3, dtype=int)
    found = False
    for task in sorted(modd.glob("task.*")):
        match = _TASK.search(task.name)
        out = task / "model_devi.out"
        if not match or not out.is_file():
            continue
        data = np.loadtxt(out, ndmin=2)
        if data.size == 0:
            continue
        found = True
        # LAMMPS may write a step twice; DP-GEN keeps the last row of each step.
        _, reverse = np.unique(data[::-1, 0], return_index=True)
        data = data[np.sort(data.shape[0] - 1 - reverse)]
        data = data[data[:, 0] >= skip]
        levels = trust_levels(job, jdata, int(match.group(1)))
        totals += classify_deviation(data[:, 4], data[:, 1], (levels["f_lo"], levels["f_hi"]), (levels["v_lo"], levels["v_hi"]))
    if not found:
        return None
    return ExplorationCounts(int(totals[0]), int(totals[1]), int(totals[2]), "model_devi.out")


def iteration_summary(
    iteration: int,
    counts: ExplorationCounts | None,
    coverage: dict[str, Any] | None = None,
    augmentation: dict[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> str:
    """The one-line summary logged per iteration.

    ``coverage`` is a coverage report (``per_element`` values as reports or as fractions),
    optionally with ``threshold``, ``passes``, ``streak`` and ``consecutive``;
    ``augmentation`` an augmentation summary.

    Example: ``iter 000001: explored 44 frames: candidate 11.4% accurate 0.0% failed 88.6%,
    fp tasks 5 | coverage 0.9712 (Li 0.95 La 0.99 Zr 0.98 O 0.97) < 0.995, streak 0/2``.
    """
    parts = [f"iter {iteration:06d}:"]
    if counts is None:
        parts.append("no exploration counts")
    else:
        r = counts.ratios()
        text = (
            f"explored {counts.total} frames: candidate {100 * r['candidate']:.1f}% "
            f"accurate {100 * r['accurate']:.1f}% failed {100 * r['failed']:.1f}%"
        )
        if counts.fp_tasks is not None:
            text += f", fp tasks {counts.fp_tasks}"
        parts.append(text)
    if coverage is not None:
        elements = " ".join(
            f"{el} {v['fraction'] if isinstance(v, dict) else v:.3f}" for el, v in coverage.get("per_element", {}).items()
        )
        text = f"| coverage {coverage['fraction']:.4f}"
        if elements:
            text += f" ({elements})"
        if "threshold" in coverage:
            sign = ">=" if coverage.get("passes") else "<"
            text += f" {sign} {coverage['threshold']:g}"
        if "streak" in coverage:
            text += f", streak {coverage['streak']}/{coverage['consecutive']}"
        parts.append(text)
    if augmentation is not None:
        parts.append(
            f"| augmentation: {augmentation['n_selected']}/{augmentation['n_labelled']} frames with "
            f"energy error > {100 * augmentation['threshold']:g}% (median {100 * augmentation['median_error']:.2f}%)"
        )
    parts += list(extra)
    return " ".join(parts)
