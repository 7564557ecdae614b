"""``rdf``: NVT MD at given temperatures with the DP and the reference; partial RDFs compared.

Layout (one task per temperature)::

    confs/<name>/rdf_00/task.000000/       DP NVT in LAMMPS (dump.rdf) → rdf.json
    confs/<name>/rdf_00/reference.000000/  teacher NVT through ASE (traj.extxyz) → rdf.json
    confs/<name>/rdf_00/crystal_rdf.json   RDF of the conf's POSCAR (0 K crystal)
    confs/<name>/rdf_00/result.json        per temperature and pair: first peak position and
                                           height (DP, reference, crystal), similarity

Pairs default to Li–O, La–O, Zr–O, O–O, Li–Li; pairs with an element the conf lacks are left
out. The similarity per pair and overall is :func:`dpgen_llzo.analysis.rdf.rdf_similarity`
(1 = identical). With ``reference.type: files`` each temperature's reference is a trajectory
(AIMD XDATCAR, extxyz, LAMMPS dump, deepmd/npy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from dargs import Argument

from dpgen_llzo.autotest import teacher
from dpgen_llzo.autotest.md_tasks import (
    check_reference_files,
    make_dp_task,
    make_reference_task,
    md_arguments,
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

DEFAULT_PAIRS = ["Li-O", "La-O", "Zr-O", "O-O", "Li-Li"]


def structure_frame(path: Path):
    """The structure in ``path`` (POSCAR) as one analysis :class:`Frame`."""
    from pymatgen.core import Structure

    from dpgen_llzo.analysis.trajectory import Frame

    structure = Structure.from_file(str(path))
    return Frame(step=None, cell=structure.lattice.matrix.copy(),
                 symbols=np.array([site.specie.symbol for site in structure]), positions=structure.cart_coords.copy())


def present_pairs(pairs: list[str], elements: set[str]) -> list[tuple[str, str]]:
    """Parsed ``pairs`` whose two elements are both in ``elements``."""
    from dpgen_llzo.analysis.rdf import parse_pairs

    return [p for p in parse_pairs(",".join(pairs)) if p[0] in elements and p[1] in elements]


def rdf_summary(result) -> dict[str, dict[str, Any]]:
    """Pair → first peak position/height, first minimum, coordination."""
    return {pair: result.summary(pair) for pair in result.g}


@register_property("rdf", summary="NVT MD at given temperatures, DP and reference: partial RDFs, first peaks, similarity")
class RadialDistribution(AutotestProperty):
    """Partial RDFs at finite temperature, DP vs reference."""

    @classmethod
    def arguments(cls):
        return [
            *md_arguments("nvt"),
            Argument("pairs", list[str], optional=True, default=list(DEFAULT_PAIRS), doc="Element pairs A-B."),
            Argument("r_max_A", float, optional=True, default=6.0, doc="RDF range, Å."),
            Argument("dr_A", float, optional=True, default=0.05, doc="RDF bin width, Å."),
            reference_argument("nvt"),
        ]

    @property
    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.parameters.items() if k not in ("type", "skip", "reference")}

    def make(self, conf_dir: Path, work_dir: Path, equi_dir: Path) -> None:
        from dpgen_llzo.analysis.rdf import parse_pairs

        parse_pairs(",".join(self.parameters["pairs"]))  # a malformed pair fails here, not after the MD
        reference = self.parameters["reference"]
        temperatures = self.parameters["temperatures_K"]
        check_reference_files(self.kind, reference, temperatures, conf_dir)
        for index, temperature in enumerate(temperatures):
            make_dp_task(work_dir / f"task.{index:06d}", conf_dir, self.interaction, type_map_list(self.interaction),
                         self.settings, temperature, "nvt")
            if reference["type"] == "teacher":
                make_reference_task(work_dir / f"reference.{index:06d}", conf_dir, self.settings, reference,
                                    temperature, "nvt")

    def pending_tasks(self, work_dir: Path, root: Path, lammps_command: str) -> list[PendingTask]:
        tasks = [lammps_task(t, root, self.interaction, lammps_command, ("log.lammps", "dump.rdf"))
                 for t in task_dirs(work_dir) if not lammps_finished(t)]
        tasks += [p for p in (teacher.pending(r, root) for r in task_dirs(work_dir, "reference")) if p]
        return tasks

    def post(self, conf_dir: Path, work_dir: Path) -> dict[str, Any]:
        from dpgen_llzo.analysis.rdf import partial_rdf, rdf_similarity
        from dpgen_llzo.analysis.readers import iter_frames

        settings, reference = self.settings, self.parameters["reference"]
        type_map = type_map_list(self.interaction)
        crystal_frame = structure_frame(conf_dir / "POSCAR")
        pairs = present_pairs(settings["pairs"], set(crystal_frame.symbols.tolist()))
        if not pairs:
            raise UserInputError(f"{conf_dir}: none of the pairs {settings['pairs']} has both elements in the structure")

        def rdf(frames):
            return partial_rdf(frames, pairs, r_max_A=settings["r_max_A"], dr_A=settings["dr_A"])

        crystal = rdf([crystal_frame])
        write_json(work_dir / "crystal_rdf.json", crystal.to_dict())
        rows = []
        for index, temperature in enumerate(settings["temperatures_K"]):
            task = work_dir / f"task.{index:06d}"
            if not lammps_finished(task):
                raise UserInputError(f"{task}: LAMMPS has not finished; run `dpgen-llzo autotest run` first")
            dp = rdf(iter_frames(task / "dump.rdf", "lammps-dump", type_map))
            write_json(task / "rdf.json", dp.to_dict())
            row: dict[str, Any] = {"T_target_K": temperature, "n_frames_dp": dp.n_frames, "dp": rdf_summary(dp),
                                   "crystal": rdf_summary(crystal), "dp_rdf": str(task.relative_to(work_dir) / "rdf.json")}
            ref = None
            if reference["type"] == "teacher":
                ref_dir = work_dir / f"reference.{index:06d}"
                if not teacher.finished(ref_dir):
                    raise UserInputError(f"{ref_dir}: teacher task has not finished; run `dpgen-llzo autotest run` first")
                ref = rdf(iter_frames(ref_dir / "traj.extxyz", "extxyz"))
                ref_path = ref_dir / "rdf.json"
            elif reference["type"] == "files":
                ref = rdf(iter_frames(reference_file(reference["files"][index], conf_dir), reference.get("format"), type_map))
                ref_path = work_dir / f"reference_rdf.{index:06d}.json"
            if ref is not None:
                write_json(ref_path, ref.to_dict())
                total, per_pair = rdf_similarity(dp, ref)
                row.update({"n_frames_reference": ref.n_frames, "reference": rdf_summary(ref),
                            "reference_rdf": str(ref_path.relative_to(work_dir)),
                            "similarity": per_pair, "similarity_total": total})
            rows.append(row)
        result = {"property": self.kind, "reference_type": reference["type"], "pairs": [f"{a}-{b}" for a, b in pairs],
                  "crystal_rdf": "crystal_rdf.json", "rows": rows}
        write_json(work_dir / "result.json", result)
        write_text_atomic(work_dir / "result.out", format_rows(conf_dir, rows))
        return result


def format_rows(conf_dir: Path, rows: list[dict[str, Any]]) -> str:
    """Plain-text table of an ``rdf`` result (as dpgen's ``result.out``)."""
    lines = [f"conf_dir: {conf_dir}", " T(K)  pair    peak DP(Å)  peak ref(Å)  g DP    g ref   similarity"]

    def fmt(value, spec):
        return format(value, spec) if value is not None else "—"

    for row in rows:
        for pair, dp in row["dp"].items():
            ref = row.get("reference", {}).get(pair, {})
            lines.append(f"{row['T_target_K']:5.0f}  {pair:6s}  {fmt(dp['first_peak_A'], '10.3f')}  "
                         f"{fmt(ref.get('first_peak_A'), '11.3f')}  {fmt(dp['first_peak_g'], '6.2f')}  "
                         f"{fmt(ref.get('first_peak_g'), '6.2f')}  {fmt(row.get('similarity', {}).get(pair), '.3f')}")
    return "\n".join(lines) + "\n"
