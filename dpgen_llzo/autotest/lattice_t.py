"""``lattice_T``: NPT MD at given temperatures; time-averaged a, b, c, V with block error bars.

Layout (one task per temperature)::

    confs/<name>/lattice_T_00/task.000000/       DP NPT in LAMMPS (log.lammps)
    confs/<name>/lattice_T_00/reference.000000/  teacher NPT through ASE (thermo.json)
    confs/<name>/lattice_T_00/result.json        per temperature: DP and reference a, b, c, V ± error

Averages drop the equilibration run (and ``equilibration_fraction`` of the sampled rows);
errors are block standard errors (:func:`dpgen_llzo.analysis.lattice.block_mean`). Lengths
are per conf cell (divided by the supercell).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.autotest import teacher
from dpgen_llzo.autotest.md_tasks import (
    check_reference_files,
    make_dp_task,
    make_reference_task,
    md_arguments,
    npt_thermo_rows,
    reference_argument,
    reference_file,
)
from dpgen_llzo.autotest.properties import (
    AutotestProperty,
    PendingTask,
    lammps_finished,
    lammps_task,
    register_property,
    task_dirs,
    type_map_list,
    write_json,
)
from dpgen_llzo.atomic_io import write_text_atomic
from dpgen_llzo.errors import UserInputError

KEYS = ("a_A", "b_A", "c_A", "V_A3")


def run_average(series: dict[str, np.ndarray], supercell, equilibration_fraction: float, n_blocks: int) -> dict[str, float]:
    """Mean T and a, b, c, V (per conf cell) with block errors of one run."""
    from dpgen_llzo.analysis.lattice import lattice_table

    table = lattice_table([series], supercell, equilibration_fraction=equilibration_fraction, n_blocks=n_blocks)
    row: dict[str, float] = {"T_K": float(table.T_K[0]), "n_rows": int(len(series["T_K"]))}
    for key in KEYS:
        row[key] = float(table.values[key][0])
        row[key.replace("_", "_err_", 1)] = float(table.errors[key][0])
    return row


def reference_series(path: Path, fmt: str | None, temperature_K: float, type_map) -> dict[str, np.ndarray]:
    """Cell series of a supplied reference file: a LAMMPS log, or any trajectory with cells."""
    from dpgen_llzo.analysis.lattice import cell_lengths_from_cells, cell_lengths_from_thermo, read_lammps_thermo

    if not path.exists():
        raise UserInputError(f"{path}: reference file not found")
    if fmt == "lammps-log" or (fmt is None and (path.name.startswith("log") or path.suffix == ".log")):
        return cell_lengths_from_thermo(read_lammps_thermo(path), source=str(path))
    from dpgen_llzo.analysis.readers import iter_frames

    cells = np.array([frame.cell for frame in iter_frames(path, fmt, type_map)])
    if len(cells) == 0:
        raise UserInputError(f"{path}: no frames")
    series = cell_lengths_from_cells(cells)
    series["T_K"] = np.full(len(cells), float(temperature_K))
    return series


@register_property("lattice_T", summary="NPT MD at given temperatures: time-averaged a, b, c, V with error bars, DP vs reference")
class LatticeAtTemperature(AutotestProperty):
    """Lattice parameters at finite temperature from NPT MD."""

    @classmethod
    def arguments(cls):
        return [*md_arguments("npt"), reference_argument("npt")]

    @property
    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.parameters.items() if k not in ("type", "skip", "reference")}

    def make(self, conf_dir: Path, work_dir: Path, equi_dir: Path) -> None:
        reference = self.parameters["reference"]
        check_reference_files(self.kind, reference, self.parameters["temperatures_K"], conf_dir)
        type_map = type_map_list(self.interaction)
        for index, temperature in enumerate(self.parameters["temperatures_K"]):
            make_dp_task(work_dir / f"task.{index:06d}", conf_dir, self.interaction, type_map, self.settings,
                         temperature, "npt")
            if reference["type"] == "teacher":
                make_reference_task(work_dir / f"reference.{index:06d}", conf_dir, self.settings, reference,
                                    temperature, "npt")

    def pending_tasks(self, work_dir: Path, root: Path, lammps_command: str) -> list[PendingTask]:
        tasks = [lammps_task(t, root, self.interaction, lammps_command, ("log.lammps",))
                 for t in task_dirs(work_dir) if not lammps_finished(t)]
        tasks += [p for p in (teacher.pending(r, root) for r in task_dirs(work_dir, "reference")) if p]
        return tasks

    def post(self, conf_dir: Path, work_dir: Path) -> dict[str, Any]:
        settings, reference = self.settings, self.parameters["reference"]
        supercell, frac, blocks = settings["supercell"], settings["equilibration_fraction"], settings["n_blocks"]
        rows = []
        type_map = type_map_list(self.interaction)
        for index, temperature in enumerate(settings["temperatures_K"]):
            task = work_dir / f"task.{index:06d}"
            if not lammps_finished(task):
                raise UserInputError(f"{task}: LAMMPS has not finished; run `dpgen-llzo autotest run` first")
            row: dict[str, Any] = {"T_target_K": temperature,
                                   "dp": run_average(npt_thermo_rows(task / "log.lammps"), supercell, frac, blocks)}
            if reference["type"] == "teacher":
                ref_dir = work_dir / f"reference.{index:06d}"
                if not teacher.finished(ref_dir):
                    raise UserInputError(f"{ref_dir}: teacher task has not finished; run `dpgen-llzo autotest run` first")
                thermo = json.loads((ref_dir / "thermo.json").read_text())
                keep = np.asarray(thermo["step"]) > reference["equilibration_steps"]
                if not keep.any():
                    raise UserInputError(f"{ref_dir}: no sample after equilibration_steps; raise reference n_steps")
                series = {k: np.asarray(thermo[k], float)[keep] for k in ("T_K", *KEYS)}
                row["reference"] = run_average(series, supercell, frac, blocks)
            elif reference["type"] == "files":
                path = reference_file(reference["files"][index], conf_dir)
                series = reference_series(path, reference.get("format"), temperature, type_map)
                row["reference"] = run_average(series, supercell, frac, blocks)
            rows.append(row)
        result = {"property": self.kind, "reference_type": reference["type"], "supercell": supercell, "rows": rows}
        write_json(work_dir / "result.json", result)
        write_text_atomic(work_dir / "result.out", format_rows(conf_dir, rows))
        return result


def format_rows(conf_dir: Path, rows: list[dict[str, Any]]) -> str:
    """Plain-text table of a ``lattice_T`` result (as dpgen's ``result.out``)."""
    lines = [f"conf_dir: {conf_dir}", " T(K)    who         a(Å)            b(Å)            c(Å)            V(Å³)"]
    for row in rows:
        for who in ("dp", "reference"):
            if who not in row:
                continue
            r = row[who]
            cells = "  ".join(f"{r[k]:8.4f}±{_err(r[k.replace('_', '_err_', 1)]):<6}" for k in KEYS)
            lines.append(f"{row['T_target_K']:6.0f}  {who:10s}  {cells}")
    return "\n".join(lines) + "\n"


def _err(value: float | None) -> str:
    return "nan" if value is None or not np.isfinite(value) else f"{value:.4f}"
