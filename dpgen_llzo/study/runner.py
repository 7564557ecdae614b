"""``dpgen-llzo study``: compress the committee, run every section's MD, analyse, report.

Layout of the study directory::

    DIR/plan.json              the checked plan (a resumed study must be given the same plan)
    DIR/models/                model_N.pb (compressed when it could be) and models.json
    DIR/runs/<section>/<run>/  one LAMMPS run each (see :mod:`.tasks`); dpdispatcher's files in DIR/runs
    DIR/plots/*.png            figures
    DIR/study.json, study.md   the results (see :mod:`.report`)

Rerunning the same command after an interruption (a kill, a reboot, a failed job) skips
every finished run and redoes only the rest; the analysis always runs again on all of them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from dpgen_llzo.atomic_io import json_safe, write_json_atomic
from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)


def check_same_plan(root: Path, plan: dict[str, Any]) -> None:
    """Write ``root/plan.json``, or refuse a plan that differs from the one the study started with."""
    path = root / "plan.json"
    current = json_safe(plan)
    if path.is_file():
        started = json.loads(path.read_text())
        if started != current:
            keys = sorted(k for k in set(started) | set(current) if started.get(k) != current.get(k))
            raise UserInputError(f"{path}: this study was started with another plan (differs in: {', '.join(keys)}); "
                                 "give the same plan to resume, or use another -o DIR")
        return
    write_json_atomic(path, current)


def machine_entry(machine: str | os.PathLike | None) -> tuple[dict[str, Any], str, str]:
    """The machine file's ``model_devi`` section, its LAMMPS command and the file's path."""
    from dpgen_llzo.autotest.workflow import lammps_command, load_machine
    from dpgen_llzo.dispatch import machine_section

    mdata, path = load_machine(machine)
    return machine_section(mdata, "model_devi", path), lammps_command(mdata), str(Path(path).resolve())


def run_study(models: Sequence[str | os.PathLike], plan: str | os.PathLike, output: str | os.PathLike,
              machine: str | os.PathLike | None = None, *, jobs: int | None = None, poll_s: float | None = None,
              training_script: str | os.PathLike | None = None,
              progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) a study and write its report; returns the study.json content.

    Parameters
    ----------
    models
        Frozen DeePMD models; the first drives the MD, all of them give the deviation.
    plan
        A shipped plan name (``quick``, ``standard``, ``production``) or a plan file.
    output
        The study directory.
    machine
        DP-GEN machine file whose ``model_devi`` section runs LAMMPS (default machine/local.json).
    jobs
        Overrides the plan's ``jobs``.
    poll_s
        dpdispatcher's polling interval (default 2 s for a Shell batch, 30 s for a queue).
    training_script
        Training ``input.json`` that ``dp compress -t`` needs for models without neighbour
        statistics (default: the one beside each model).
    """
    from dpgen_llzo.autotest.workflow import working_directory
    from dpgen_llzo.dispatch import ensure_interpreter_on_path
    from dpgen_llzo.study.dispatch import run_all
    from dpgen_llzo.study.models import prepare_models
    from dpgen_llzo.study.plan import load_plan
    from dpgen_llzo.study.report import flags, summary, tables, write_report
    from dpgen_llzo.study.section import StudyContext, ordered_sections

    started = time.monotonic()
    if not models:
        raise UserInputError("give at least one model")
    settings, plan_file = load_plan(plan)
    entry, lammps, machine_path = machine_entry(machine)
    root = Path(output).resolve()
    root.mkdir(parents=True, exist_ok=True)
    check_same_plan(root, settings)
    progress(f"models: {'compressing' if settings['compress'] else 'copying'} {len(models)} model(s)")
    records = prepare_models(models, root / "models", settings["compress"], training_script)
    for record in records:
        if not record["compressed"]:
            progress(f"models: {Path(record['source']).name} not compressed: {record['compress_error']}")
    context = StudyContext(root, settings, [r["name"] for r in records])
    sections = [cls(settings[cls.name], context) for cls in ordered_sections() if settings[cls.name]["enabled"]]
    runs = [run for section in sections for run in section.runs()]
    jobs = settings["jobs"] if jobs is None else jobs
    if poll_s is None:
        poll_s = 2.0 if entry["machine"].get("batch_type") == "Shell" else 30.0
    ensure_interpreter_on_path()
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # dpdispatcher's per-poll lines drown the progress
        import dpdispatcher  # noqa: F401  (sets its logger's level on import)

        logging.getLogger("dpdispatcher").setLevel(logging.WARNING)
    with working_directory(root):
        submitted = run_all(runs, context.runs_dir, entry, lammps, jobs, poll_s, progress)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for section in sections:
        progress(f"{section.name}: analysing")
        try:
            results[section.name] = section.analyze(results)
        except UserInputError as exc:
            errors[section.name] = str(exc)
            progress(f"{section.name}: analysis failed: {exc}")
    result = {"plan": str(plan_file), "machine": machine_path, **summary(results),
              "trust": results.get("trust"), "tables": tables(results),
              "flags": [f"{name}: analysis failed: {e}" for name, e in errors.items()] + flags(results, records),
              "experiment": _experiment(), "models": records, "n_runs": len(runs), "runs_submitted": submitted,
              "wall_time_s": time.monotonic() - started, "plots": context.plots, "sections": results,
              "plan_settings": settings}
    write_report(root, result, [s for s in sections if s.name in results])
    progress(f"study: written {root / 'study.json'}, {root / 'study.md'} and {len(context.plots)} figure(s)")
    return json_safe(result)


def _experiment() -> dict[str, Any]:
    from dpgen_llzo.study import experiment

    return {"Tc_K": experiment.TC_K, "Ea_bulk_eV": experiment.EA_BULK_EV, "sigma_300K_S_cm": experiment.SIGMA_300K_S_CM,
            "alpha_linear_per_K": experiment.ALPHA_LINEAR_PER_K, "D_gb_over_bulk": experiment.GB_SLOWDOWN,
            "lattice_constant_300K_A": experiment.cubic_lattice_at(300.0)}
