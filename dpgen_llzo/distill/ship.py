"""Build ``models/<name>/``: the frozen student, its held-out validation, curves and report."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.distill import curves
from dpgen_llzo.distill.heldout import dimer_scans_of, heldout_plan
from dpgen_llzo.distill.metrics import repulsive_below
from dpgen_llzo.distill.report import plot_dimers, plot_ev, plot_parity, report_markdown
from dpgen_llzo.distill.workflow import build_heldout_set, frame_errors, heldout_errors, heldout_frames, read_json

log = logging.getLogger(__name__)

MODEL_FILE = "graph.pb"
PHASES = {"cubic": "llzo-cubic", "tetragonal": "llzo-tetragonal"}


def _parity_pairs(frames: dict[str, list]) -> dict[str, tuple]:
    """Per class: teacher and student energies (eV/atom) and force components (eV/Å), flattened."""
    pairs = {}
    for name, systems in frames.items():
        pairs[name] = tuple(np.concatenate(x) for x in zip(*[
            (ref.energies / ref.natoms, pred.energies / ref.natoms, ref.forces.ravel(), pred.forces.ravel())
            for ref, pred in systems]))
    return pairs


def copy_subset(heldout: Path, destination: Path, type_map: list[str], per_class_max: int = 8) -> Path:
    """Copy the first frame of up to ``per_class_max`` systems per class of a held-out set (small, committable)."""
    import dpdata

    from dpgen_llzo.labelers.labelling import write_deepmd_npy

    for class_dir in sorted(p for p in heldout.iterdir() if p.is_dir()):
        systems = sorted(p for p in class_dir.iterdir() if (p / "type.raw").is_file())
        step = max(1, len(systems) // per_class_max)
        for system_dir in systems[::step][:per_class_max]:
            system = dpdata.LabeledSystem(str(system_dir), fmt="deepmd/npy", type_map=type_map)
            write_deepmd_npy(system.sub_system([0]), destination / class_dir.name / system_dir.name)
    return destination


def ship_model(
    model: str | os.PathLike,
    settings: dict[str, Any],
    type_map: list[str],
    output: str | os.PathLike,
    name: str,
    command: str,
    data: dict[str, Any] | None = None,
    quick: bool = False,
    lattice: bool = True,
    subset: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Validate ``model`` against the teacher of ``settings`` and write ``output/`` (model, report, plots).

    Parameters
    ----------
    model
        Frozen student (``.pb``).
    settings
        The checked ``_dpgen_llzo`` section of the bundle (teacher, init dimer scans).
    type_map
        Element order of the model.
    output
        ``models/<name>``; the held-out set goes to ``output/heldout`` (not committed).
    name
        Name of the potential.
    command
        The command that reproduces the model (written into the report).
    data
        Training data counts and wall time for the report.
    quick
        Fewer held-out frames and curve points, no relaxation (tests).
    lattice
        Relax the cells with student and teacher for the 0 K cell parameters.
    subset
        Where to copy a small subset of the held-out frames (for a test of the shipped model);
        its errors go into the report as ``committed_subset``.
    """
    from deepmd.calculator import DP

    from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
    from dpgen_llzo.labelers import get_labeler

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    shipped = output / MODEL_FILE
    if Path(model).resolve() != shipped.resolve():
        shutil.copyfile(model, shipped)
    labeler_settings = settings["labeler"]
    options = {"device": labeler_settings["device"]}
    if labeler_settings.get("model"):
        options["model"] = labeler_settings["model"]
    teacher = get_labeler(labeler_settings["name"], **options)
    teacher_name = labeler_settings["name"]
    started = time.time()

    runs = heldout_plan(dimer_scans_of(settings["init"]), quick=quick)
    kept = build_heldout_set(runs, shipped, teacher, type_map, output / "heldout",
                             min_distances=labeler_settings.get("min_distance_A") or None)
    frames = heldout_frames(shipped, output / "heldout", type_map)
    errors = frame_errors(frames)
    plot_parity(_parity_pairs(frames), output / "parity.png")

    calculators = {"student": DP(model=str(shipped)), teacher_name: teacher.calculator()}
    scales = curves.EV_SCALES[1::2] if quick else curves.EV_SCALES
    ev = {phase: curves.energy_volume(gen, calculators, scales) for phase, gen in PHASES.items()}
    plot_ev(ev, output / "ev.png", "student", teacher_name)

    log.info("held-out set and errors: %.0f s", time.time() - started)
    pairs = sorted(dimer_scans_of(settings["init"]))[: 2 if quick else None]
    distances = curves.dimer_plot_distances(n=6 if quick else 40)
    dimers = {pair: curves.dimer_curve(pair, distances, calculators) for pair in pairs}
    if dimers:
        plot_dimers(dimers, output / "dimers.png", "student", teacher_name)
    log.info("E-V and two-body curves: %.0f s", time.time() - started)
    repulsive = {pair: repulsive_below(np.array(c["distance_A"]), np.array(c["student"]), 1.1) for pair, c in dimers.items()}

    cells = {}
    if lattice and not quick:
        for phase, generator in PHASES.items():
            cells[phase] = {"student": curves.relaxed_cell(generator, calculators["student"]),
                            "teacher": curves.relaxed_cell(generator, calculators[teacher_name], fmax_eV_A=0.03, max_steps=80)}
            log.info("relaxed %s: student a=%.4f, teacher a=%.4f", phase, cells[phase]["student"]["a_A"], cells[phase]["teacher"]["a_A"])

    committed = None
    if subset:
        copy_subset(output / "heldout", Path(subset), type_map)
        committed = {"path": f"tests/data/{Path(subset).name}", **heldout_errors(shipped, subset, type_map)}
    report = {
        "name": name,
        "teacher": teacher_name,
        "teacher_version": teacher.describe().get("version", ""),
        "model": MODEL_FILE,
        "model_bytes": shipped.stat().st_size,
        "type_map": type_map,
        "command": command,
        "heldout": {**errors, "frames_per_class": kept},
        "committed_subset": committed,
        "ev": ev,
        "dimers": dimers,
        "dimers_repulsive_below_1p1A": repulsive,
        "lattice": cells,
        "stability": read_json(output / "stability.json") or {},
        "data": data or {},
        "validation_wall_s": time.time() - started,
    }
    write_json_atomic(output / "report.json", report)
    write_text_atomic(output / "report.md", report_markdown(report))
    return report


def refresh_report(output: str | os.PathLike, wall_time_min: float | None = None) -> dict[str, Any]:
    """Re-read ``stability.json`` into an existing ``report.json`` and rewrite ``report.md`` (nothing recomputed).

    ``wall_time_min``, if given, replaces the run's wall time (minutes) in the report's data.
    """
    from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
    from dpgen_llzo.errors import UserInputError

    output = Path(output)
    report = read_json(output / "report.json")
    if report is None:
        raise UserInputError(f"{output}/report.json: no report to refresh (run dpgen-llzo distill report first)")
    report["stability"] = read_json(output / "stability.json") or {}
    if wall_time_min is not None:
        report.setdefault("data", {})["wall_time_min"] = wall_time_min
    write_json_atomic(output / "report.json", report)
    write_text_atomic(output / "report.md", report_markdown(report))
    return report
