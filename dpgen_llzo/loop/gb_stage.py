"""Grain-boundary stage of ``dpgen-llzo run``, and carving of large fp tasks.

Settings: ``_dpgen_llzo.gb`` of param.json (:func:`gb_settings`; stock ``dpgen run`` trims
the ``_``-key, so the file stays valid for it).

The GB stage (``stage_jobs``, ``start_when``)
---------------------------------------------
``stage_jobs`` lists the ``model_devi_jobs`` indices that explore the GB cells; the other
jobs form the bulk stage. :class:`StagePlan` maps iterations to jobs:

``start_when = "bulk_converged"`` (default)
    Iterations run the bulk jobs in order. When the coverage criterion is met after the
    exploration of bulk iteration N, the loop does *not* stop: iteration N goes on (make_fp
    ... post_fp) and iteration N+1 runs the first GB job, N+2 the second, and so on. If
    the bulk jobs run out first, the GB stage starts there (the bulk stage is then recorded
    as not converged). The run stops when the coverage criterion is met within the GB
    stage (the streak counts GB iterations only) or the GB jobs end.
``start_when = "schedule"``
    Iteration i runs ``model_devi_jobs[i]`` as in ``dpgen run``; the GB stage starts at
    iteration ``min(stage_jobs)``; a coverage convergence before it is logged but does
    not stop the run.

The remapping is done by giving DP-GEN's step functions a copy of the param whose
``model_devi_jobs`` lists the jobs in the order the iterations run them (``make_model_devi``
and ``make_train`` index that list by iteration). ``gb_stage.json`` in the work directory
records the plan: the first GB iteration, why it started, and which original job each
iteration runs; a resumed ``dpgen-llzo run`` reads it back.

Stock ``dpgen run`` on the same work directory follows ``model_devi_jobs`` by index and
knows nothing of this file: while the plan is the identity (``schedule``, or bulk jobs that
ran out at their natural end with the GB jobs last in the list) the two agree; after an
early start, ``dpgen run`` taking over at iteration i runs ``model_devi_jobs[i]`` instead of
the job ``gb_stage.json`` lists for i. Iterations already explored are unaffected (make_fp
reads ``01.model_devi/cur_job.json``).

Carving of large fp tasks lives in :mod:`dpgen_llzo.loop.carve_fp`.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dpgen_llzo.errors import UserInputError

__all__ = [
    "STAGE_FILE",
    "StagePlan",
    "gb_settings",
    "read_stage",
    "write_stage",
]


STAGE_FILE = "gb_stage.json"
START_WHEN = ("bulk_converged", "schedule")


def gb_settings(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """``_dpgen_llzo.gb`` with defaults filled in and values checked.

    Raises
    ------
    UserInputError
        Unknown keys or values (one line naming the key).
    """
    from dpgen_llzo.config import llzo_arginfo

    arg = next(a for a in llzo_arginfo().sub_fields.values() if a.name == "gb")
    try:
        value = arg.normalize_value(dict(section or {}), trim_pattern="_*")
        arg.check_value(value, strict=True)
    except Exception as exc:  # dargs errors
        raise UserInputError(f"_dpgen_llzo/gb: {exc}") from None
    if value["start_when"] not in START_WHEN:
        raise UserInputError(f"_dpgen_llzo/gb/start_when: {value['start_when']!r} is not one of {', '.join(START_WHEN)}")
    from dpgen_llzo.gb.carving import MODES

    if value["mode"] not in MODES:
        raise UserInputError(f"_dpgen_llzo/gb/mode: {value['mode']!r} is not one of {', '.join(MODES)}")
    if value["carve_min_atoms"] < 1 or value["centres_per_frame"] < 1:
        raise UserInputError("_dpgen_llzo/gb: carve_min_atoms and centres_per_frame must be positive")
    return value


# --------------------------------------------------------------------------------------------
# the stage plan (pure)


@dataclass(frozen=True)
class StagePlan:
    """Which ``model_devi_jobs`` entry each iteration runs.

    Attributes
    ----------
    n_jobs
        ``len(model_devi_jobs)``.
    stage_jobs
        Job indices of the GB stage, in the order they run.
    start_when
        ``"bulk_converged"`` or ``"schedule"``.
    gb_start
        First iteration of the GB stage; None while it has not started
        (``bulk_converged``). With ``schedule`` it is ``min(stage_jobs)``.
    reason
        Why the GB stage started (``"bulk_converged"``, ``"bulk_jobs_exhausted"``,
        ``"schedule"``), or None.
    """

    n_jobs: int
    stage_jobs: tuple[int, ...] = ()
    start_when: str = "bulk_converged"
    gb_start: int | None = None
    reason: str | None = None

    @classmethod
    def create(cls, n_jobs: int, stage_jobs: Sequence[int], start_when: str = "bulk_converged") -> StagePlan:
        """A plan before any iteration ran (checks the indices)."""
        jobs = tuple(int(j) for j in stage_jobs)
        bad = [j for j in jobs if not 0 <= j < n_jobs]
        if bad:
            raise UserInputError(f"_dpgen_llzo/gb/stage_jobs: index {bad[0]} outside model_devi_jobs (0..{n_jobs - 1})")
        if len(set(jobs)) != len(jobs):
            raise UserInputError("_dpgen_llzo/gb/stage_jobs: repeated index")
        if start_when not in START_WHEN:
            raise UserInputError(f"_dpgen_llzo/gb/start_when: {start_when!r} is not one of {', '.join(START_WHEN)}")
        if start_when == "schedule" and jobs:
            return cls(n_jobs, jobs, start_when, min(jobs), "schedule")
        return cls(n_jobs, jobs, start_when)

    @property
    def active(self) -> bool:
        """Whether there is a GB stage at all."""
        return bool(self.stage_jobs)

    @property
    def bulk_jobs(self) -> tuple[int, ...]:
        """Job indices of the bulk stage, in index order."""
        return tuple(j for j in range(self.n_jobs) if j not in self.stage_jobs)

    def schedule(self) -> list[int]:
        """Original job index run by each iteration, as far as it is decided now."""
        if not self.active or self.start_when == "schedule":
            return list(range(self.n_jobs))
        if self.gb_start is None:
            return list(self.bulk_jobs)
        return list(self.bulk_jobs[: self.gb_start]) + list(self.stage_jobs)

    def job_index(self, iteration: int) -> int | None:
        """The job iteration ``iteration`` runs, or None past the end of the schedule."""
        schedule = self.schedule()
        return schedule[iteration] if 0 <= iteration < len(schedule) else None

    def in_gb_stage(self, iteration: int) -> bool:
        return self.gb_start is not None and iteration >= self.gb_start

    def stage_streak(self, iteration: int, streak: int) -> int:
        """A coverage streak ending at ``iteration``, counted within its stage only."""
        if not self.active:
            return streak
        if self.in_gb_stage(iteration):
            assert self.gb_start is not None
            return min(streak, iteration - self.gb_start + 1)
        return min(streak, iteration + 1)

    def on_converged(self, iteration: int) -> StagePlan | None:
        """Coverage criterion met after exploring ``iteration``: the plan to go on with, or None to stop.

        Bulk iteration with ``bulk_converged``: the GB stage starts at ``iteration + 1``.
        Bulk iteration with ``schedule``: go on unchanged. GB iteration or no stage: stop.
        """
        if not self.active or self.in_gb_stage(iteration):
            return None
        if self.start_when == "schedule" or self.gb_start is not None:
            return self  # already planned (schedule, or a resumed run)
        return replace(self, gb_start=iteration + 1, reason="bulk_converged")

    def on_schedule_end(self, iteration: int) -> StagePlan | None:
        """No job for ``iteration``: the plan that still has one (GB stage starts here), or None."""
        if self.active and self.start_when == "bulk_converged" and self.gb_start is None:
            return replace(self, gb_start=iteration, reason="bulk_jobs_exhausted")
        return None

    def jdata(self, jdata: Mapping[str, Any]) -> dict[str, Any]:
        """A shallow copy of the param whose ``model_devi_jobs`` follow :meth:`schedule`."""
        jobs = list(jdata.get("model_devi_jobs", []))
        if len(jobs) != self.n_jobs:
            raise UserInputError(f"model_devi_jobs has {len(jobs)} entries, the GB stage plan {self.n_jobs}")
        out = dict(jdata)
        out["model_devi_jobs"] = [copy.deepcopy(jobs[j]) for j in self.schedule()]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage_jobs": list(self.stage_jobs),
            "start_when": self.start_when,
            "n_jobs": self.n_jobs,
            "bulk_jobs": list(self.bulk_jobs),
            "gb_start_iteration": self.gb_start,
            "reason": self.reason,
            "job_by_iteration": self.schedule(),
        }


def read_stage(workdir: str | os.PathLike, plan: StagePlan) -> StagePlan:
    """``plan`` with the start recorded in ``gb_stage.json`` (unchanged when there is none).

    Raises
    ------
    UserInputError
        The file records another ``stage_jobs``/``start_when``/job count than the param.
    """
    path = Path(workdir) / STAGE_FILE
    if not path.is_file() or not plan.active:
        return plan
    stored = json.loads(path.read_text())
    mine = plan.as_dict()
    for key in ("stage_jobs", "start_when", "n_jobs"):
        if stored.get(key) != mine[key]:
            raise UserInputError(
                f"{path}: {key} {stored.get(key)!r} differs from the param's {mine[key]!r}; "
                "the GB stage of this work directory was planned with other settings (move the file to re-plan)"
            )
    return replace(plan, gb_start=stored.get("gb_start_iteration"), reason=stored.get("reason"))


def write_stage(workdir: str | os.PathLike, plan: StagePlan, note: str = "") -> Path:
    """Write ``gb_stage.json`` (the plan plus a one-line note)."""
    from dpgen_llzo.atomic_io import write_json_atomic

    path = Path(workdir) / STAGE_FILE
    data = plan.as_dict()
    data["note"] = note
    write_json_atomic(path, data)
    return path
