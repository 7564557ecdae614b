"""``dpgen-llzo run``: DP-GEN's nine-step loop plus a coverage step and a coverage stop.

The loop mirrors ``dpgen.generator.run.run_iter`` (dpgen 0.14): the same param/machine
normalisation, the same step functions, imported from DP-GEN, and the same ``record.dpgen``
(one ``"<iteration> <step>"`` line per finished step, resumed from its last line), so a work
directory can be driven by ``dpgen run`` and ``dpgen-llzo run`` in turn.

What is added, between step 5 (post_model_devi) and step 6 (make_fp) of every iteration N:

0. **screening** of the exploration (:mod:`.exploration_faults`): frames of tasks that lost
   atoms or blew up, from the first bad step on, are marked failed in ``model_devi.out``
   (original kept as ``model_devi.out.orig``) so make_fp never labels them;
   ``iter.N/01.model_devi/exploration_faults.json``.
1. **coverage** of N's explored environments by N's training data
   (:func:`~dpgen_llzo.coverage.workflow.coverage_step`): ``iter.N/01.model_devi/coverage.json``
   and the history ``coverage.{json,csv}`` + ``coverage_vs_iteration.png``. It writes no
   line to ``record.dpgen``; on resume it is reused when present, recomputed when missing.
2. **stop** when the coverage reached the threshold for K consecutive iterations: the run
   ends with ``record.dpgen`` at ``N 5``; ``dpgen run`` would continue with make_fp of N.
   Re-running ``dpgen-llzo run`` stops there again while the criterion holds.
3. **augmentation** (optional): label a sample of N's explored frames, keep the badly
   predicted ones (:mod:`.augmentation`); copied into ``iter.N/02.fp`` after post_fp.

And from :mod:`.gb_stage` (``_dpgen_llzo.gb``): the **grain-boundary stage** (which
``model_devi_jobs`` entry an iteration runs, a bulk convergence that starts the GB stage
instead of stopping, ``gb_stage.json``) and, right after make_fp, the **carving** of fp
tasks too large for DFT into small cells around their worst-predicted atoms.

The loop also stops, as ``dpgen run`` does, when the exploration schedule
(``model_devi_jobs``) is exhausted; the outcome then says why coverage did not converge.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.record import EXPLORED, RECORD, STEP_NAMES, is_done, read_record

__all__ = ["LoopOutcome", "dpgen_steps", "load_dpgen_inputs", "run_loop"]

log = logging.getLogger(__name__)

Step = Callable[[int, dict, dict], Any]


@dataclass(frozen=True)
class LoopOutcome:
    """Why and where ``run_loop`` stopped.

    Attributes
    ----------
    reason
        ``"converged"`` (coverage criterion met) or ``"schedule_end"`` (no more
        ``model_devi_jobs``).
    iteration
        The last iteration worked on.
    message
        One-line explanation (also logged).
    record
        The last ``record.dpgen`` position.
    """

    reason: str
    iteration: int
    message: str
    record: tuple[int, int]


@contextlib.contextmanager
def working_directory(path: str | os.PathLike) -> Iterator[Path]:
    """``chdir`` into ``path`` for the block (DP-GEN's steps use relative paths)."""
    previous = Path.cwd()
    target = Path(path)
    if not target.is_dir():
        raise UserInputError(f"{target}: work directory not found")
    os.chdir(target)
    try:
        yield target
    finally:
        os.chdir(previous)


def load_dpgen_inputs(param_file: str | os.PathLike, machine_file: str | os.PathLike) -> tuple[dict, dict]:
    """param and machine normalised exactly as ``run_iter`` does.

    ``load_file`` + ``normalize(run_jdata_arginfo(), ...)`` (strict; keys starting with ``_``
    are trimmed, so ``_dpgen_llzo`` is invisible here), ``update_mass_map``, the electron
    temperature setup, and ``convert_mdata`` for the machine.

    Raises
    ------
    UserInputError
        If DP-GEN's schema rejects the param (message on one line).
    """
    from dpgen_llzo.config import check_dpgen_machine
    from dpgen.generator.run import (
        convert_mdata,
        load_file,
        normalize,
        run_jdata_arginfo,
        setup_ele_temp,
        update_mass_map,
    )

    try:
        jdata = normalize(run_jdata_arginfo(), load_file(str(param_file)))
    except (KeyError, ValueError, TypeError) as exc:  # dargs errors derive from these
        raise UserInputError(f"{param_file}: dpgen run schema: {exc}") from None
    if jdata.get("fp_style") == "cp2k":
        # DP-GEN 0.14's make_fp_cp2k reads fp_pp_path/fp_pp_files, which its cp2k schema refuses
        # (deepmodeling/dpgen#1754); CP2K finds its basis and potential files itself.
        jdata.setdefault("fp_pp_path", ".")
        jdata.setdefault("fp_pp_files", [])
    update_mass_map(jdata)
    use_ele_temp = jdata.get("use_ele_temp", 0)
    if use_ele_temp == 1:
        setup_ele_temp(False)
    elif use_ele_temp == 2:
        setup_ele_temp(True)
    for key in ("pretty_print",):
        if jdata.get(key):
            log.warning("%s: %s is ignored by dpgen-llzo run (use dpgen run for it)", param_file, key)
    check_dpgen_machine(machine_file)  # one-line errors for what dpdispatcher would trip on later
    mdata = load_file(str(machine_file))
    if mdata.get("handlers"):
        log.warning("%s: 'handlers' (e-mail notification) is ignored by dpgen-llzo run", machine_file)
    return jdata, convert_mdata(mdata)


def dpgen_steps() -> dict[int, Step]:
    """DP-GEN's nine step functions, by step number (post_fp takes no machine: wrapped)."""
    from dpgen.generator import run as dpgen_run

    return {
        0: dpgen_run.make_train,
        1: dpgen_run.run_train,
        2: dpgen_run.post_train,
        3: dpgen_run.make_model_devi,
        4: dpgen_run.run_model_devi,
        5: dpgen_run.post_model_devi,
        6: dpgen_run.make_fp,
        7: dpgen_run.run_fp,
        8: lambda ii, jdata, mdata: dpgen_run.post_fp(ii, jdata),
    }


def _say(message: str) -> None:
    """Log a loop-level line where DP-GEN logs (console and ``dpgen.log``)."""
    from dpgen import dlog

    dlog.info(message)


@dataclass
class _Context:
    jdata: dict[str, Any]
    coverage: dict[str, Any]
    augmentation: dict[str, Any]
    labeler_section: dict[str, Any]
    labeler: Any = None
    last_coverage: dict[int, dict[str, Any]] | None = None
    gb: dict[str, Any] | None = None
    plan: Any = None  # gb_stage.StagePlan

    def step_jdata(self) -> dict[str, Any]:
        """The param DP-GEN's steps see: ``model_devi_jobs`` in the GB stage plan's order."""
        return self.plan.jdata(self.jdata) if self.plan is not None and self.plan.active else self.jdata


def run_loop(
    param_file: str | os.PathLike,
    machine_file: str | os.PathLike,
    *,
    workdir: str | os.PathLike = ".",
    steps: Mapping[int, Step] | None = None,
    labeler: Any = None,
) -> LoopOutcome:
    """Run DP-GEN's loop with the coverage step, in ``workdir``, until it stops.

    Parameters
    ----------
    param_file, machine_file
        DP-GEN's ``param.json`` (with an optional ``_dpgen_llzo`` section: ``coverage``,
        ``augmentation``, ``labeler``) and ``machine.json``.
    workdir
        The DP-GEN work directory (``dpgen run`` uses the current directory).
    steps
        Replacement step functions by number (tests); default :func:`dpgen_steps`.
    labeler
        Labeler for augmentation; default: ``_dpgen_llzo.labeler`` of the param.

    Returns
    -------
    LoopOutcome
        Why it stopped. Exceptions of DP-GEN's steps propagate (the record then points at
        the last finished step, as with ``dpgen run``).
    """
    from dpgen_llzo.config import load_llzo_settings
    from dpgen_llzo.coverage.iteration import coverage_settings
    from dpgen_llzo.loop.augmentation import augmentation_settings
    from dpgen_llzo.loop.gb_stage import gb_settings

    param_path = Path(param_file).resolve()
    machine_path = Path(machine_file).resolve()
    for path in (param_path, machine_path):
        if not path.is_file():
            raise UserInputError(f"{path}: no such file")
    settings = load_llzo_settings(param_path)
    context = _Context(
        jdata={},
        coverage=coverage_settings(settings.get("coverage")),
        augmentation=augmentation_settings(settings.get("augmentation")),
        labeler_section=dict(settings.get("labeler") or {}),
        labeler=labeler,
        last_coverage={},
        gb=gb_settings(settings.get("gb")),
    )
    with working_directory(workdir):
        from dpgen.generator.lib.utils import log_iter, make_iter_name, record_iter
        from dpgen.util import sepline

        context.jdata, mdata = load_dpgen_inputs(param_path, machine_path)
        context.plan = _gb_plan(context)  # --- GB stage (gb_stage.py)
        step_functions = dict(dpgen_steps())
        step_functions.update(steps or {})
        position = read_record(".")
        if Path(RECORD).is_file():
            _say("continue from iter %03d task %02d" % position)
        ii = -1
        while True:
            ii += 1
            if ii < position[0]:
                continue
            iter_name = make_iter_name(ii)
            sepline(iter_name, "=")
            for jj in range(len(STEP_NAMES)):
                if is_done(position, ii, jj):
                    continue
                if jj == EXPLORED + 1:
                    stop = _after_exploration(ii, context)
                    if stop is not None:
                        return stop
                sepline(f"{iter_name} task {jj:02d}", "-")
                log_iter(STEP_NAMES[jj], ii, jj)
                result = step_functions[jj](ii, context.step_jdata(), mdata)
                if jj == 3 and not result and _gb_stage_starts_at_schedule_end(ii, context):
                    result = step_functions[jj](ii, context.step_jdata(), mdata)
                if jj == 3 and not result:
                    return _schedule_end(ii, context)
                if jj == 6 and context.gb is not None and context.gb["carve"]:
                    _carve(ii, context, mdata)  # --- carving of large fp tasks (carve_fp.py)
                if jj == 7:
                    _screen_fp(ii, context)  # --- unconverged labels set aside (fp_faults.py)
                if jj == 8 and context.augmentation["enabled"]:
                    _attach(ii)
                record_iter(RECORD, ii, jj)
            _say(_summary(ii, context))


def _after_exploration(ii: int, context: _Context) -> LoopOutcome | None:
    """Screening, coverage step, stop decision and augmentation after the exploration of ``ii``."""
    from dpgen_llzo.coverage.workflow import coverage_step

    _screen(ii, context)  # --- lost atoms / blow-ups kept out of make_fp (exploration_faults.py)
    if context.coverage["enabled"]:
        try:
            step = coverage_step(".", ii, context.coverage, param=context.step_jdata(), reuse=True, fill_missing=True)
        except UserInputError as exc:
            _say(f"iter {ii:06d}: coverage step failed, going on without it: {exc}")
        else:
            streak = context.plan.stage_streak(ii, step.streak)  # counted within the GB/bulk stage
            converged = streak >= context.coverage["consecutive"]
            report = dict(step.report)
            report.update(
                threshold=context.coverage["threshold"],
                passes=bool(step.streak > 0),
                streak=streak,
                consecutive=context.coverage["consecutive"],
            )
            assert context.last_coverage is not None
            context.last_coverage[ii] = report
            verb = "computed" if step.computed else "reused"
            _say(
                f"iter {ii:06d}: coverage {step.report['fraction']:.4f} ({verb}, "
                f"{step.report.get('elapsed_s', 0):.0f} s); streak {streak}/{context.coverage['consecutive']}"
            )
            if converged and _gb_stage_goes_on(ii, context):
                converged = False
            if converged:
                _say(_summary(ii, context))
                message = (
                    f"coverage >= {context.coverage['threshold']:g} ({context.coverage['criterion']}) for "
                    f"{streak} consecutive iteration(s) (needed {context.coverage['consecutive']}): "
                    f"stopping after the exploration of iteration {ii}. record.dpgen ends at '{ii} {EXPLORED}'; "
                    "`dpgen run PARAM MACHINE` would continue with make_fp of this iteration."
                )
                _say(message)
                return LoopOutcome("converged", ii, message, read_record("."))
    if context.augmentation["enabled"]:
        _augment(ii, context)
    return None


def _screen(ii: int, context: _Context) -> None:
    from dpgen_llzo.loop.exploration_faults import screen_exploration, summary_line

    try:
        report = screen_exploration(".", ii, context.step_jdata())
    except UserInputError as exc:
        _say(f"iter {ii:06d}: exploration screening failed, going on without it: {exc}")
    else:
        _say(f"exploration faults in iteration {ii}: {summary_line(report)}")


def _screen_fp(ii: int, context: _Context) -> None:
    from dpgen_llzo.loop.fp_faults import screen_fp_outputs

    report = screen_fp_outputs(".", ii, context.jdata.get("fp_style", ""))
    if report["n_set_aside"]:
        _say(f"fp faults in iteration {ii}: {report['n_set_aside']} of {report['n_tasks']} labelling runs set aside "
             f"(e.g. {next(iter(report['tasks'].items()))[0]}: {next(iter(report['tasks'].values()))})")


# --- GB stage and carving hooks (dpgen_llzo.loop.gb_stage) ---------------------------------


def _gb_plan(context: _Context) -> Any:
    from dpgen_llzo.loop.gb_stage import StagePlan, read_stage, write_stage

    assert context.gb is not None
    plan = StagePlan.create(len(context.jdata.get("model_devi_jobs", [])), context.gb["stage_jobs"], context.gb["start_when"])
    plan = read_stage(".", plan)
    if plan.active:
        write_stage(".", plan, "planned" if plan.gb_start is None else "GB stage recorded")
        start = "not started" if plan.gb_start is None else f"starts at iteration {plan.gb_start} ({plan.reason})"
        _say(f"GB stage: jobs {list(plan.stage_jobs)}, start_when {plan.start_when}; {start}")
    return plan


def _start_gb_stage(context: _Context, plan: Any, message: str) -> None:
    from dpgen_llzo.loop.gb_stage import write_stage

    context.plan = plan
    write_stage(".", plan, message)
    _say(message)


def _gb_stage_goes_on(ii: int, context: _Context) -> bool:
    """Coverage converged after iteration ``ii``: True when the GB stage overrides the stop."""
    plan = context.plan.on_converged(ii)
    if plan is None:
        return False
    if plan is not context.plan:
        _start_gb_stage(
            context,
            plan,
            f"iter {ii:06d}: bulk stage converged; not stopping: the GB stage (model_devi_jobs "
            f"{list(plan.stage_jobs)}) starts at iteration {plan.gb_start} (gb_stage.json)",
        )
    else:
        _say(f"iter {ii:06d}: coverage converged before the GB stage (iteration {plan.gb_start}); going on")
    return True


def _gb_stage_starts_at_schedule_end(ii: int, context: _Context) -> bool:
    plan = context.plan.on_schedule_end(ii)
    if plan is None:
        return False
    _start_gb_stage(
        context,
        plan,
        f"iter {ii:06d}: bulk jobs exhausted without coverage convergence; the GB stage "
        f"(model_devi_jobs {list(plan.stage_jobs)}) starts here (gb_stage.json)",
    )
    return True


def _carve(ii: int, context: _Context, mdata: dict) -> None:
    from dpgen_llzo.loop.carve_fp import carve_large_fp_tasks

    assert context.gb is not None
    for item in carve_large_fp_tasks(ii, context.step_jdata(), mdata, context.gb):
        _say(
            f"iter {ii:06d}: fp task {item.parent} ({item.n_atoms} atoms) carved into "
            f"{', '.join(f'{t} ({n} atoms)' for t, n in zip(item.new_tasks, item.new_n_atoms))} "
            f"around atoms {item.centres} (deviation {', '.join(f'{d:.3f}' for d in item.centre_deviations_eV_A)} eV/Å); "
            f"original in 02.fp/carved_from/"
        )


def _augment(ii: int, context: _Context) -> None:
    from dpgen_llzo.loop.augmentation import augment_iteration, read_augmentation

    stored = read_augmentation(".", ii)
    settings = context.augmentation
    if stored is not None and stored.get("settings", {}) == settings:
        _say(f"iter {ii:06d}: augmentation already done ({stored['n_selected']} frames selected)")
        return
    if context.labeler is None:
        from dpgen_llzo.labelers import get_labeler

        section = context.labeler_section
        context.labeler = get_labeler(section.get("name", "chgnet"), device=section.get("device", "cpu"))
    try:
        result = augment_iteration(
            ".",
            ii,
            settings,
            context.labeler,
            context.jdata["type_map"],
            max_force=float(context.labeler_section.get("max_force_eV_A", 20.0)),
        )
    except UserInputError as exc:
        _say(f"iter {ii:06d}: augmentation failed, going on without it: {exc}")
        return
    s = result.summary()
    _say(
        f"iter {ii:06d}: augmentation labelled {s['n_labelled']} frames, relative energy error "
        f"median {100 * s['median_error']:.2f}% max {100 * s['max_error']:.2f}%; "
        f"{s['n_selected']} above {100 * s['threshold']:g}% will join iter.{ii:06d}/02.fp after post_fp"
    )


def _attach(ii: int) -> None:
    from dpgen_llzo.loop.augmentation import attach_augmented_data

    for path in attach_augmented_data(".", ii):
        _say(f"iter {ii:06d}: augmentation data added as {path}")


def _summary(ii: int, context: _Context) -> str:
    from dpgen_llzo.coverage.iteration import read_iteration_report
    from dpgen_llzo.loop.augmentation import read_augmentation
    from dpgen_llzo.loop.exploration import exploration_counts, iteration_summary

    counts = exploration_counts(".", ii, context.jdata)
    assert context.last_coverage is not None
    coverage = context.last_coverage.get(ii)
    if coverage is None and context.coverage["enabled"]:
        coverage = read_iteration_report(".", ii)
    augmentation = read_augmentation(".", ii) if context.augmentation["enabled"] else None
    return iteration_summary(ii, counts, coverage, augmentation)


def _fill_coverage(last: int, context: _Context) -> None:
    """Compute the missing coverage reports up to ``last`` where the trajectories remain."""
    from dpgen_llzo.coverage.workflow import coverage_step

    try:
        coverage_step(".", last, context.coverage, param=context.jdata, reuse=True, fill_missing=True)
    except UserInputError as exc:
        _say(f"iter {last:06d}: coverage not available: {exc}")


def _schedule_end(ii: int, context: _Context) -> LoopOutcome:
    from dpgen_llzo.coverage.history import converged_streak, history_rows

    jobs = len(context.jdata.get("model_devi_jobs", []))
    head = f"the exploration schedule (model_devi_jobs, {jobs} jobs) ended at iteration {ii}"
    if context.coverage["enabled"] and ii > 0:
        _fill_coverage(ii - 1, context)
        rows = history_rows(".", range(ii))
        streak = converged_streak(rows, context.coverage["threshold"], context.coverage["criterion"])
        values = ", ".join(
            f"{r['iteration']}: {r['fraction']:.4f}" if r["fraction"] is not None else f"{r['iteration']}: -" for r in rows
        )
        if streak >= context.coverage["consecutive"]:
            message = (
                f"{head}; coverage had converged (by iteration [{values}], >= {context.coverage['threshold']:g} "
                f"for the last {streak} iteration(s))."
            )
        else:
            message = (
                f"{head} without coverage convergence: coverage by iteration [{values}] reached "
                f"{context.coverage['threshold']:g} for {streak} consecutive iteration(s) at the end, "
                f"{context.coverage['consecutive']} needed. Add model_devi_jobs to go on."
            )
    elif context.coverage["enabled"]:
        message = f"{head} without coverage convergence: no iteration was explored."
    else:
        message = f"{head}; the coverage step is disabled (_dpgen_llzo.coverage.enabled = false)."
    _say(message)
    return LoopOutcome("schedule_end", ii, message, read_record("."))
