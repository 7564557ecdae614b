"""Run the embedded demo end to end and write ``report.json`` with a parity plot."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from dpgen_llzo.demo.workdir import (
    count_frames,
    fp_datasets,
    fp_task_count,
    frozen_models,
    iteration_dirs,
)
from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Lines of the dpgen log worth echoing as progress.
_PROGRESS = re.compile(r"(iter\.\d{6} task \d\d|accurate_ratio|failed tasks|failed frame|system \d+ candidate|finished|coverage|carv|GB stage|Error|error)")


def bundled_file(relative: str) -> Path:
    """A file of the repository's bundles (``param/…``, ``machine/…``)."""
    path = REPO_ROOT / relative
    if not path.is_file():
        raise UserInputError(f"{path}: bundled file not found (install dpgen-llzo editable from its repository, or pass --param/--machine)")
    return path


#: The shipped distilled potential the demo's report compares its own with (models/<name>/).
SHIPPED_MODEL = "models/llzo-diep-se2a"


def shipped_comparison(held_out: list[Path], demo_force_rmse_meV_A: float) -> dict[str, Any] | None:
    """Force errors of the shipped potential on the demo's held-out frames, beside the demo's own.

    The shipped potential was distilled from another teacher (its ``report.json`` names it),
    so only forces are compared: each teacher has its own energy zero.
    """
    from dpgen_llzo.validation import error_summary, predict_datasets

    model = REPO_ROOT / SHIPPED_MODEL / "graph.pb"
    report = REPO_ROOT / SHIPPED_MODEL / "report.json"
    if not model.is_file():
        return None
    shipped = error_summary(predict_datasets(model, held_out))
    own = json.loads(report.read_text()) if report.is_file() else {}
    held = (own.get("heldout") or {}).get("condensed") or {}
    return {
        "model": SHIPPED_MODEL,
        "teacher": own.get("teacher"),
        "force_rmse_meV_A_on_demo_heldout": shipped["force_rmse_meV_A"],
        "demo_force_rmse_meV_A": demo_force_rmse_meV_A,
        "force_rmse_meV_A_against_its_own_teacher": held.get("force_rmse_meV_A"),
        "note": "the demo's held-out frames are labelled by the demo's teacher; the shipped potential learned another, so part of its error here is the difference between the two teachers",
    }


def loop_command(settings: dict[str, Any]) -> list[str]:
    """The loop that runs a bundle: stock ``dpgen run``, or ``dpgen-llzo run`` when it carves.

    Both drive DP-GEN's own step functions. A bundle whose grain-boundary stage carves
    (``_dpgen_llzo.gb.stage_jobs`` with ``carve``) needs ``dpgen-llzo run``: stock DP-GEN would
    label whole 1152-atom GB frames, which the teacher needs ~14 GB and ~50 s each for.
    """
    gb = settings.get("gb") or {}
    if gb.get("stage_jobs") and gb.get("carve"):
        return ["dpgen-llzo", "run"]
    return ["dpgen", "run"]


def run_dpgen(param: Path, machine: Path, log_path: Path, command: list[str] | None = None) -> float:
    """Run ``dpgen run PARAM MACHINE`` (or ``command``) in the current directory, echoing progress lines.

    Returns the wall time in seconds. Raises ``RuntimeError`` naming the log on failure.
    """
    from dpgen_llzo.dispatch import ensure_interpreter_on_path

    ensure_interpreter_on_path()
    command = command or ["dpgen", "run"]
    start = time.time()
    with open(log_path, "a") as handle:
        process = subprocess.Popen(
            [*command, str(param), str(machine)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            if _PROGRESS.search(line):
                log.info("%s: %s", command[0], line.rstrip()[-150:])
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {code}; see {log_path}")
    return time.time() - start


def validation_sets(init_dir: Path) -> list[Path]:
    """Held-out teacher-MD datasets written by ``dpgen-llzo init`` (``<system>/validation``)."""
    return sorted(p for p in init_dir.glob("*/validation") if p.is_dir())


def evaluate_iterations(workdir: Path, held_out: list[Path]) -> list[dict[str, Any]]:
    """Held-out errors of every iteration's models: each model, the committee, and per system.

    ``by_system`` splits the committee errors by init system (``cubic``, ``gb-sigma3``, …), so
    the errors on grain-boundary frames before and after the GB stage can be compared.
    """
    from dpgen_llzo.validation import ensemble_mean, error_summary, predict_datasets

    rows = []
    for iteration in iteration_dirs(workdir):
        models = frozen_models(iteration)
        if not models:
            continue
        per_dataset = {d: ensemble_mean([predict_datasets(m, [d]) for m in models]) for d in held_out}
        predictions = [predict_datasets(model, held_out) for model in models]
        row = {
            "iteration": int(iteration.name.split(".")[1]),
            "n_models": len(models),
            "models": [error_summary(p) for p in predictions],
            "committee": error_summary(ensemble_mean(predictions)),
            "by_system": {d.parent.name: error_summary(p) for d, p in per_dataset.items()},
        }
        rows.append(row)
        log.info(
            "iteration %d: held-out force RMSE %.0f meV/Å, energy RMSE %.2f meV/atom (committee of %d); %s",
            row["iteration"], row["committee"]["force_rmse_meV_A"], row["committee"]["energy_rmse_meV_atom"], len(models),
            ", ".join(f"{k} {v['force_rmse_meV_A']:.0f}" for k, v in row["by_system"].items()),
        )
    return rows


def coverage_history(workdir: Path, settings: dict[str, Any], param: dict[str, Any]) -> list[dict[str, Any]]:
    """PCA coverage of each explored iteration by its training data (``dpgen-llzo coverage``).

    Written beside the DP-GEN work (``iter.N/01.model_devi/coverage.json``, ``coverage.csv``,
    PNGs); an iteration whose trajectories were cleaned is skipped with a log line.
    """
    from dpgen_llzo.coverage.workflow import coverage_step

    rows = []
    for iteration in iteration_dirs(workdir):
        index = int(iteration.name.split(".")[1])
        if not list((iteration / "01.model_devi").glob("task.*/traj")):
            continue
        try:
            step = coverage_step(workdir, index, settings, param=param, reuse=True)
        except UserInputError as exc:
            log.warning("coverage of iteration %d not computed: %s", index, exc)
            continue
        report = step.report
        rows.append({"iteration": index, "fraction": report["fraction"], "per_element": {k: v["fraction"] for k, v in report.get("per_element", {}).items()}})
        log.info("iteration %d: coverage %.3f %s", index, report["fraction"], rows[-1]["per_element"])
    return rows


def data_summary(workdir: Path, init_training: list[str], init_dir: Path) -> dict[str, Any]:
    """Frames in the initial set and labelled per iteration."""
    init_frames = sum(count_frames(init_dir / d) for d in init_training)
    per_iteration = []
    for iteration in iteration_dirs(workdir):
        tasks = fp_task_count(iteration)
        if not (iteration / "02.fp").is_dir():
            continue
        labelled = sum(count_frames(d) for d in fp_datasets(iteration))
        per_iteration.append({"iteration": int(iteration.name.split(".")[1]), "fp_tasks": tasks, "labelled_frames": labelled})
    return {
        "init_frames": init_frames,
        "fp": per_iteration,
        "n_training_frames": init_frames + sum(row["labelled_frames"] for row in per_iteration),
    }


def run_demo(workdir: str | os.PathLike, quick: bool = False, param: str | None = None, machine: str | None = None) -> dict[str, Any]:
    """init → ``dpgen run`` → held-out validation, in ``workdir``; returns the report.

    Re-running in the same directory resumes: init skips finished tasks and ``dpgen run``
    continues from ``record.dpgen``.
    """
    from dpgen_llzo.config import load_llzo_settings
    from dpgen_llzo.init_data.plan import plan_init_tasks, training_datasets
    from dpgen_llzo.init_data.runner import build_initial_data, format_table
    from dpgen_llzo.validation import ensemble_mean, parity_plot, predict_datasets

    param_path = Path(param).resolve() if param else bundled_file("param/demo/param-quick.json" if quick else "param/demo/param.json")
    machine_path = Path(machine).resolve() if machine else bundled_file("machine/local.json")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = load_llzo_settings(param_path)
    timings: dict[str, float] = {}
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        log.info("demo in %s with %s and %s", workdir, param_path, machine_path)
        start = time.time()
        log.info("step 1/3: initial data (dpgen-llzo init)")
        counts = build_initial_data(param_path, machine_path)
        print(format_table(counts), flush=True)
        timings["init_s"] = time.time() - start

        loop = loop_command(settings)
        log.info("step 2/3: the DP-GEN loop (%s; log in %s)", " ".join(loop), workdir / "dpgen.log")
        timings["dpgen_run_s"] = run_dpgen(param_path, machine_path, workdir / "dpgen.log", loop)

        log.info("step 3/3: held-out validation against the teacher, and PCA coverage per iteration")
        start = time.time()
        init_dir = workdir / settings["init"]["output"]
        held_out = validation_sets(init_dir)
        if not held_out:
            raise UserInputError(f"{param_path}: no system has a 'validation' block, so there are no held-out frames to report on")
        history = evaluate_iterations(workdir, held_out)
        if not history:
            raise RuntimeError(f"{workdir}: dpgen run left no trained models")
        final_iteration = iteration_dirs(workdir)[history[-1]["iteration"]]
        final = ensemble_mean([predict_datasets(m, held_out) for m in frozen_models(final_iteration)])
        parity_plot(final, workdir / "parity.png", title=f"committee of iteration {history[-1]['iteration']} vs teacher, held-out frames")
        timings["validation_s"] = time.time() - start
        start = time.time()
        coverage = coverage_history(workdir, settings["coverage"], json.loads(param_path.read_text()))
        timings["coverage_s"] = time.time() - start
    finally:
        os.chdir(previous)

    data = data_summary(workdir, training_datasets(plan_init_tasks(settings["init"])), init_dir)
    completed = [row for row in data["fp"] if row["fp_tasks"] > 0 or row["labelled_frames"] > 0]
    report = {
        "param": str(param_path),
        "machine": str(machine_path),
        "quick": quick,
        "loop": " ".join(loop),
        "labeler": settings["labeler"],
        "iterations": len(data["fp"]),
        "iterations_with_labels": sum(1 for row in completed if row["labelled_frames"] > 0),
        "n_training_frames": data["n_training_frames"],
        "data": data,
        "held_out": {"datasets": [str(p.relative_to(workdir)) for p in held_out], "n_frames": history[-1]["committee"]["n_frames"]},
        "final_iteration": history[-1]["iteration"],
        "energy_rmse_meV_atom": history[-1]["committee"]["energy_rmse_meV_atom"],
        "force_rmse_meV_A": history[-1]["committee"]["force_rmse_meV_A"],
        "history": history,
        "coverage": coverage,
        "timings_s": timings,
        "parity_plot": "parity.png",
        "shipped_model": shipped_comparison(held_out, history[-1]["committee"]["force_rmse_meV_A"]),
        "note": "Errors are against the teacher (the embedded labeler), not DFT: a distilled DP reproduces its teacher.",
    }
    from dpgen_llzo.atomic_io import write_json_atomic

    write_json_atomic(workdir / "report.json", report)
    return report
