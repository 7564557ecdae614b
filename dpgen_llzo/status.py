"""Where a DP-GEN work directory stands: iterations, frames, failures, coverage, jobs, resume point.

Everything here only reads files DP-GEN, dpdispatcher and dpgen-llzo write; nothing is changed,
so ``dpgen-llzo status`` is safe to run beside a live loop.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dpgen_llzo.coverage.iteration import read_iteration_report
from dpgen_llzo.demo.workdir import count_frames, fp_datasets, fp_task_count, frozen_models, iteration_dirs
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.init_data.plan import TRAINING_KINDS
from dpgen_llzo.init_data.runner import SUMMARY_FILE
from dpgen_llzo.loop.carve_fp import CARVED_FROM
from dpgen_llzo.loop.exploration_faults import read_exploration_faults, summary_line
from dpgen_llzo.loop.fp_faults import read_fp_faults
from dpgen_llzo.loop.gb_stage import STAGE_FILE
from dpgen_llzo.loop.record import NOT_STARTED, STEP_NAMES, is_done, read_record

__all__ = ["IterationStatus", "JobStatus", "WorkdirStatus", "next_step", "workdir_status", "format_status"]


@dataclass
class JobStatus:
    """One dpdispatcher job that has no ``_job_tag_finished`` yet."""

    directory: str
    job_id: str
    alive: bool | None


@dataclass
class IterationStatus:
    """What one ``iter.NNNNNN`` holds."""

    iteration: int
    models: int
    exploration_tasks: int
    candidates: int
    accurate: int
    failed_exploration: int  # frames whose force deviation exceeded trust_hi (DP-GEN's "failed")
    fp_tasks: int
    carved_from: int
    labelled_frames: int
    failed_fp_tasks: int | None
    coverage: float | None
    coverage_passes: bool | None
    exploration_faults: dict[str, Any] | None = None  # exploration_faults.json (None: not screened)
    fp_faults: dict[str, Any] | None = None  # fp_faults.json: labelling runs set aside (None: not screened)


@dataclass
class WorkdirStatus:
    """Summary of a work directory; ``resume_at`` is ``(iteration, step)`` of the next step to run."""

    workdir: str
    last_recorded: tuple[int, int] | None
    resume_at: tuple[int, int]
    resume_step: str
    init_datasets: list[dict[str, Any]]
    iterations: list[IterationStatus]
    unfinished_jobs: list[JobStatus] = field(default_factory=list)
    gb_stage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_step(position: tuple[int, int]) -> tuple[int, int]:
    """The (iteration, step) DP-GEN runs next after the recorded ``position``."""
    iteration, step = position
    if step + 1 >= len(STEP_NAMES):
        return iteration + 1, 0
    return iteration, step + 1


def _line_count(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path) as handle:
        return sum(1 for line in handle if line.strip())


def _pid_alive(job_id: str) -> bool | None:
    """Whether ``job_id`` is a live local Shell job (a ``bash *.sub`` process); ``None`` if unknown."""
    if not job_id.isdigit():
        return None
    cmdline = Path("/proc") / job_id / "cmdline"
    try:
        command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return ".sub" in command


def unfinished_jobs(root: Path) -> list[JobStatus]:
    """dpdispatcher jobs under ``root`` with a ``*_job_id`` file and no ``*_job_tag_finished``."""
    jobs = []
    for id_file in sorted(root.rglob("*_job_id")):
        job_hash = id_file.name[: -len("_job_id")]
        if (id_file.parent / f"{job_hash}_job_tag_finished").exists():
            continue
        job_id = id_file.read_text().strip()
        jobs.append(JobStatus(str(id_file.parent.relative_to(root)), job_id, _pid_alive(job_id)))
    return jobs


def iteration_status(iteration_dir: Path, position: tuple[int, int]) -> IterationStatus:
    """Counts of one iteration; ``position`` (the recorded one) says whether post_fp ran.

    fp tasks that gave no frame are counted once post_fp has collected them (one frame per task).
    """
    index = int(iteration_dir.name.split(".")[1])
    fp_dir = iteration_dir / "02.fp"
    labelled = sum(count_frames(d) for d in fp_datasets(iteration_dir))
    fp_tasks = fp_task_count(iteration_dir)
    post_fp_done = is_done(position, index, len(STEP_NAMES) - 1)
    report = read_iteration_report(iteration_dir.parent, index) or {}
    return IterationStatus(
        iteration=index,
        models=len(frozen_models(iteration_dir)),
        exploration_tasks=len(list((iteration_dir / "01.model_devi").glob("task.*"))),
        candidates=sum(_line_count(p) for p in fp_dir.glob("candidate.shuffled.*.out")),
        accurate=sum(_line_count(p) for p in fp_dir.glob("rest_accurate.shuffled.*.out")),
        failed_exploration=sum(_line_count(p) for p in fp_dir.glob("rest_failed.shuffled.*.out")),
        fp_tasks=fp_tasks,
        carved_from=len(list((fp_dir / CARVED_FROM).glob("task.*"))),
        labelled_frames=labelled,
        failed_fp_tasks=max(fp_tasks - labelled, 0) if post_fp_done else None,
        coverage=report.get("fraction"),
        coverage_passes=report.get("passes"),
        exploration_faults=read_exploration_faults(iteration_dir.parent, index),
        fp_faults=read_fp_faults(iteration_dir.parent, index),
    )


def workdir_status(workdir: str | os.PathLike, init_output: str = "init") -> WorkdirStatus:
    """Read the state of a DP-GEN work directory.

    Parameters
    ----------
    workdir
        Directory where ``dpgen run`` / ``dpgen-llzo run`` runs (holds ``record.dpgen``).
    init_output
        ``_dpgen_llzo.init.output`` (where ``dpgen-llzo init`` wrote ``summary.json``).

    Raises
    ------
    UserInputError
        If ``workdir`` does not exist or its ``record.dpgen`` is malformed.
    """
    root = Path(workdir)
    if not root.is_dir():
        raise UserInputError(f"{root}: work directory not found")
    position = read_record(root)
    recorded = None if position == NOT_STARTED else position
    resume = next_step(position)
    summary = root / init_output / SUMMARY_FILE
    init_datasets = json.loads(summary.read_text()).get("datasets", []) if summary.is_file() else []
    stage_file = root / STAGE_FILE
    return WorkdirStatus(
        workdir=str(root.resolve()),
        last_recorded=recorded,
        resume_at=resume,
        resume_step=STEP_NAMES[resume[1]],
        init_datasets=init_datasets,
        iterations=[iteration_status(d, position) for d in iteration_dirs(root)],
        unfinished_jobs=unfinished_jobs(root),
        gb_stage=json.loads(stage_file.read_text()) if stage_file.is_file() else None,
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_status(status: WorkdirStatus) -> str:
    """Human-readable summary: init frames, one row per iteration, jobs, the resume point."""
    lines = [f"work directory: {status.workdir}"]
    if status.init_datasets:
        training = sum(row["frames"] for row in status.init_datasets if row.get("kind") in TRAINING_KINDS)
        held_out = sum(row["frames"] for row in status.init_datasets) - training
        rejected = sum(row.get("rejected", 0) for row in status.init_datasets)
        lines.append(
            f"initial data: {training} training + {held_out} held-out frames in {len(status.init_datasets)} "
            f"datasets ({rejected} rejected by the teacher)"
        )
    header = ("iter", "models", "md tasks", "md faults", "candidates", "accurate", "dev>hi", "fp tasks", "carved", "frames", "failed fp", "coverage")
    rows = [header]
    for it in status.iterations:
        faults = it.exploration_faults["n_faulty"] if it.exploration_faults else None
        rows.append((
            it.iteration, it.models, it.exploration_tasks, faults, it.candidates, it.accurate, it.failed_exploration,
            it.fp_tasks, it.carved_from, it.labelled_frames, it.failed_fp_tasks, it.coverage,
        ))
    widths = [max(len(_cell(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(_cell(value).rjust(width) for value, width in zip(row, widths)))
    for it in status.iterations:
        if it.exploration_faults and it.exploration_faults.get("n_faulty"):
            lines.append(f"exploration faults in iteration {it.iteration}: {summary_line(it.exploration_faults)}")
        if it.fp_faults and it.fp_faults.get("n_set_aside"):
            reasons = sorted(set(it.fp_faults["tasks"].values()))
            lines.append(f"fp faults in iteration {it.iteration}: {it.fp_faults['n_set_aside']} labelling runs set aside ({'; '.join(reasons)})")
    if status.gb_stage:
        lines.append(f"GB stage: starts at iteration {status.gb_stage.get('gb_start_iteration')} ({status.gb_stage.get('reason', '')})")
    for job in status.unfinished_jobs:
        state = {True: "running", False: "not running (resubmitted on resume)", None: "state unknown"}[job.alive]
        lines.append(f"unfinished job {job.job_id} in {job.directory}: {state}")
    if status.last_recorded is None:
        lines.append("record.dpgen: none; a run starts at iteration 0, make_train")
    else:
        i, s = status.last_recorded
        lines.append(
            f"last finished step: iteration {i}, {STEP_NAMES[s]} ({i} {s}); "
            f"a resumed run starts at iteration {status.resume_at[0]}, {status.resume_step}"
        )
    return "\n".join(lines)
