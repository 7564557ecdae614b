"""Send the study's runs through dpdispatcher and resume after a kill.

``jobs > 0`` (the plan's key): a pool. At most ``jobs`` runs are in flight, each its own
dpdispatcher submission of one task; whenever one ends, the largest run whose dependencies
have all finished starts (runs that others wait for first, then the largest), so a long
heating ramp never holds back the runs that do not need it. ``jobs: 0``: waves. Every unfinished run whose dependencies have finished forms a wave,
sent as one submission grouped by the machine file's ``resources.group_size``
(:func:`dpgen_llzo.dispatch.run_shell_tasks`). Either way a finished run is never submitted
again: the study checks each run's own outputs (:attr:`.tasks.Run.finished`) before starting
it, and dpdispatcher's task tags skip a finished task inside a recovered job.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from dpgen_llzo.dispatch import ShellTask, run_shell_tasks
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.study.tasks import Run

log = logging.getLogger(__name__)


def _submission(tasks: Sequence[ShellTask], work_base: str, entry: dict[str, Any], group_size: int | None = None):
    """The dpdispatcher submission of ``tasks`` that :func:`dpgen_llzo.dispatch.run_shell_tasks` builds
    (``group_size``: the machine entry's unless given)."""
    from dpdispatcher import Machine, Resources, Submission, Task

    machine_dict = dict(entry["machine"])
    machine_dict["local_root"] = os.path.abspath(".")
    resources = copy.deepcopy(entry["resources"])
    if group_size is not None:
        resources["group_size"] = group_size
    return Submission(work_base=work_base, machine=Machine.load_from_dict(machine_dict),
                      resources=Resources.load_from_dict(resources),
                      task_list=[Task(command=t.command, task_work_path=t.directory, forward_files=list(t.forward_files),
                                      backward_files=list(t.backward_files), outlog="task.log", errlog="task.log")
                                 for t in tasks])


def _forget_finished_tags(submission, work_base: str) -> None:
    """Forget dpdispatcher's record that a job of these (unfinished) runs finished: their outputs were removed to redo them.

    dpdispatcher would otherwise recover the old job from ``<submission hash>.json`` and its
    tags as finished and skip the runs. A job recorded as running or killed is left alone, so
    a resumed study recovers it instead of starting a second one. Local tags only (Shell with
    a lazy-local or local context, where ``work_base`` is the job's root).
    """
    import json

    from dpdispatcher.utils.job_status import JobStatus

    submission.generate_jobs()
    base = Path(work_base)
    record = base / f"{submission.submission_hash}.json"
    job_tags = [base / f"{job.job_hash}_job_tag_finished" for job in submission.belonging_jobs]
    finished = any(tag.is_file() for tag in job_tags)
    if record.is_file():
        try:
            jobs = json.loads(record.read_text()).get("belonging_jobs", [])
            finished = finished or any(v.get("job_state") == JobStatus.finished.value for job in jobs for v in job.values())
        except (ValueError, AttributeError):
            finished = True
    if not finished:
        return
    tags = job_tags + [base / task.task_work_path / f"{task.task_hash}_task_tag_finished"
                       for job in submission.belonging_jobs for task in job.job_task_list]
    for path in [record, *tags]:
        if path.is_file():
            path.unlink()


def _shell_task(run: Run, lammps: str) -> ShellTask:
    forward = run.prepare()
    return ShellTask(directory=run.name, command=f"{lammps} -i in.lammps", forward_files=tuple(forward),
                     backward_files=tuple(run.outputs))


def failure_reason(directory: Path) -> str:
    """The first ``ERROR`` line of a run's LAMMPS output (log.lammps or task.log), or where to look."""
    for name in ("log.lammps", "task.log"):
        path = directory / name
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("ERROR") or "ERROR:" in line:
                    return f"{path}: {line.strip()[:200]}"
    return f"see {directory}/task.log"


def _check(runs: Sequence[Run]) -> dict[str, Run]:
    by_name = {run.name: run for run in runs}
    for run in runs:
        missing = [d for d in run.depends if d not in by_name]
        if missing:
            raise RuntimeError(f"run {run.name} depends on unknown run {missing[0]}")
    return by_name


def _failed(runs: Sequence[Run], runs_dir: Path, exc: Exception | None = None) -> UserInputError:
    failed = [run for run in runs if not run.finished()]
    where = failure_reason(runs_dir / failed[0].name) if failed else str(exc)
    names = ", ".join(r.name for r in failed[:3]) + (", ..." if len(failed) > 3 else "")
    return UserInputError(f"{len(failed)} run(s) failed ({names}): {where}")


def run_all(runs: Sequence[Run], runs_dir: Path, entry: dict[str, Any], lammps: str, jobs: int,
            check_interval: float, progress: Callable[[str], None] = print) -> int:
    """Prepare and run every unfinished run (pool with ``jobs > 0``, waves with 0); returns how many were started.

    Must be called with the study directory as the current directory (``runs_dir`` inside it).

    Raises
    ------
    UserInputError
        A run failed (dpdispatcher gave up on its job, or LAMMPS ended without the run's
        results): one line with its first LAMMPS error.
    """
    _check(runs)
    if jobs <= 0:
        return _run_waves(runs, runs_dir, entry, lammps, check_interval, progress)
    work_base = os.path.relpath(runs_dir, os.getcwd())
    done = {run.name for run in runs if run.finished()}
    print_progress(runs, done, progress)
    dependents = {run.name: sum(run.name in other.depends for other in runs) for run in runs}
    active: dict[str, Any] = {}
    started = 0
    while True:
        for name, submission in list(active.items()):
            try:
                submission.update_submission_state()
                submission.handle_unexpected_submission_state()
                if not submission.check_all_finished():
                    continue
                submission.run_submission(check_interval=check_interval)  # download and clean up
            except RuntimeError as exc:
                raise _failed([r for r in runs if r.name == name], runs_dir, exc) from None
            del active[name]
            run = next(r for r in runs if r.name == name)
            if not run.finished():
                raise _failed([run], runs_dir)
            done.add(name)
            print_progress([r for r in runs if r.section == run.section], done, progress)
        ready = sorted((run for run in runs if run.name not in done and run.name not in active
                        and all(d in done for d in run.depends)), key=lambda r: (-dependents[r.name], -r.cost, r.name))
        for run in ready[: max(0, jobs - len(active))]:
            submission = _submission([_shell_task(run, lammps)], work_base, entry, group_size=1)
            _forget_finished_tags(submission, work_base)
            log.info("starting %s", run.name)
            try:
                submission.run_submission(exit_on_submit=True, check_interval=check_interval)
            except RuntimeError as exc:
                raise _failed([run], runs_dir, exc) from None
            active[run.name] = submission
            started += 1
        if not active:
            if len(done) < len(runs):
                waiting = next(run for run in runs if run.name not in done)
                raise RuntimeError(f"run {waiting.name} waits for runs that cannot finish")
            return started
        time.sleep(check_interval)


def _run_waves(runs: Sequence[Run], runs_dir: Path, entry: dict[str, Any], lammps: str, check_interval: float,
               progress: Callable[[str], None]) -> int:
    submitted = 0
    work_base = os.path.relpath(runs_dir, os.getcwd())
    while True:
        done = {run.name for run in runs if run.finished()}
        print_progress(runs, done, progress)
        wave = [run for run in runs if run.name not in done and all(d in done for d in run.depends)]
        if not wave:
            if len(done) < len(runs):
                waiting = next(run for run in runs if run.name not in done)
                raise RuntimeError(f"run {waiting.name} waits for runs that cannot finish")
            return submitted
        tasks = [_shell_task(run, lammps) for run in wave]
        _forget_finished_tags(_submission(tasks, work_base, entry), work_base)
        log.info("wave of %d run(s): %s", len(wave), ", ".join(run.name for run in wave))
        submitted += len(wave)
        try:
            run_shell_tasks(tasks, work_base, entry, log_name="task.log", check_interval=check_interval)
        except RuntimeError as exc:
            raise _failed(wave, runs_dir, exc) from None
        if any(not run.finished() for run in wave):
            raise _failed(wave, runs_dir)


def print_progress(runs: Sequence[Run], done: set[str], progress: Callable[[str], None]) -> None:
    """One line per section: ``section: done/total runs``."""
    sections: dict[str, list[int]] = {}
    for run in runs:
        counts = sections.setdefault(run.section, [0, 0])
        counts[1] += 1
        counts[0] += run.name in done
    for section, (n_done, total) in sections.items():
        progress(f"{section}: {n_done}/{total} runs")
