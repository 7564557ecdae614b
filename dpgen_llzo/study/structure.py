"""Section 4: structure of the cubic cell — partial RDFs and the lattice constant against experiment.

One NPT run per temperature (default 300 and 1200 K) of the ordered cubic cell, with
production frames: partial g(r) and first peaks (:func:`dpgen_llzo.analysis.rdf.partial_rdf`)
against the DFT 0 K peaks, and the NPT-averaged conventional lattice constant (mean of a, b, c)
against the measured cubic a nearest in temperature (12.97 Å at room temperature;
:mod:`dpgen_llzo.autotest.experiment`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dargs import Argument

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.study import experiment
from dpgen_llzo.study.bulk import npt_lattice
from dpgen_llzo.study.section import TYPE_MAP, StudySection, register_section


def run_name(temperature_K: float) -> str:
    return f"structure/npt_T{temperature_K:05.0f}"


@register_section("structure", summary="cubic cell NPT at 300 and 1200 K: partial RDFs, lattice constant vs experiment", order=40)
class StructureSection(StudySection):
    title = "Structure: RDFs and lattice constant"

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("supercell", list[int], optional=True, default=[1, 1, 1], doc="Repetitions of the 192-atom cubic cell."),
            Argument("structure_seed", int, optional=True, default=0, doc="Seed of the cubic cell's Li ordering."),
            Argument("temperatures_K", list[float], optional=True, default=[300.0, 1200.0], doc="Temperatures, K."),
            Argument("seed", int, optional=True, default=1, doc="Velocity seed."),
            Argument("equilibration_steps", int, optional=True, default=2000, doc="NPT steps before sampling."),
            Argument("n_steps", int, optional=True, default=4000, doc="NPT steps averaged."),
            Argument("thermo_every", int, optional=True, default=20, doc="Steps between averaged thermo rows."),
            Argument("dump_every", int, optional=True, default=100, doc="Steps between RDF frames."),
            Argument("pairs", list[str], optional=True, default=["Li-O", "Zr-O", "La-O", "Li-Li"], doc="Element pairs A-B."),
            Argument("r_max_A", float, optional=True, default=6.0, doc="RDF range, Å."),
            Argument("dr_A", float, optional=True, default=0.02, doc="RDF bin width, Å."),
        ]

    @classmethod
    def check(cls, settings: dict[str, Any], plan: dict[str, Any], where: str) -> None:
        from dpgen_llzo.analysis.rdf import parse_pairs

        for a, b in parse_pairs(",".join(settings["pairs"])):
            if a not in TYPE_MAP or b not in TYPE_MAP:
                raise UserInputError(f"{where}/pairs: {a}-{b}: elements must be among {', '.join(TYPE_MAP)}")

    def runs(self) -> list:
        from dpgen_llzo.structures import build_structure

        s = self.settings
        n_atoms = 192 * int(np.prod(s["supercell"]))

        def cell():
            return build_structure("llzo-cubic", seed=s["structure_seed"], supercell=s["supercell"])

        return [self.md_run(run_name(T), cell, T, s["seed"], "npt", equilibration_steps=s["equilibration_steps"],
                            n_steps=s["n_steps"], thermo_every=s["thermo_every"], dump_every=s["dump_every"],
                            n_atoms=n_atoms, salt=2) for T in s["temperatures_K"]]

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        from dpgen_llzo.analysis.rdf import parse_pairs, partial_rdf
        from dpgen_llzo.analysis.readers import iter_frames
        from dpgen_llzo.study.trust import trust_levels, trust_of_runs

        s, ctx = self.settings, self.context
        pairs = parse_pairs(",".join(s["pairs"]))
        points, rdfs = [], {}
        for T in s["temperatures_K"]:
            directory = ctx.run_dir(run_name(T))
            lat = npt_lattice(directory, s["supercell"])
            a_mean = float(np.mean([lat["a_A"], lat["b_A"], lat["c_A"]]))
            point: dict[str, Any] = {"temperature_K": T, "label": f"{T:g}K", "lattice": lat, "a_A": a_mean,
                                     "a_experiment": experiment.cubic_lattice_at(T)}
            if point["a_experiment"]:
                point["a_deviation_percent"] = 100 * (a_mean / point["a_experiment"]["value"] - 1)
            try:
                rdf = partial_rdf(iter_frames(directory / "dump.lammpstrj", "lammps-dump", TYPE_MAP), pairs,
                                  s["r_max_A"], s["dr_A"])
                rdfs[T] = rdf
                point["rdf"] = {p: {**rdf.summary(p), "experiment": experiment.rdf_peak(p)} for p in rdf.g}
                point["rdf_frames"] = rdf.n_frames
            except UserInputError as exc:
                point["rdf_error"] = str(exc)
            point["trust"] = trust_of_runs([directory], trust_levels(ctx.plan), len(ctx.committee))
            points.append(point)
        if rdfs:
            from dpgen_llzo.study.plots import plot_rdfs

            plot_rdfs(rdfs, ctx.plot_path("structure_rdf.png"))
        return {"points": points, "lattice_constant_300K_A": next((p["a_A"] for p in points if abs(p["temperature_K"] - 300) < 1), None)}

    def report(self, result: dict[str, Any]) -> list[str]:
        from dpgen_llzo.study.report import fmt

        lines = ["| T (K) | a DP (Å) | a experiment (Å) | deviation |", "|---|---|---|---|"]
        for p in result["points"]:
            exp = p["a_experiment"]
            measured = f"{exp['value']:g} at {exp['T_K']:g} K" if exp else "–"
            lines.append(f"| {p['temperature_K']:g} | {p['a_A']:.3f} | {measured} | "
                         f"{fmt(p.get('a_deviation_percent'), '+.2f')} % |")
        lines += ["", "| T (K) | pair | first peak DP (Å) | DFT 0 K (Å) | coordination |", "|---|---|---|---|---|"]
        for p in result["points"]:
            for pair, row in p.get("rdf", {}).items():
                exp = row["experiment"]
                lines.append(f"| {p['temperature_K']:g} | {pair} | {fmt(row['first_peak_A'], '.2f')} | "
                             f"{fmt(exp['value'], '.2f') if exp else '–'} | {fmt(row['coordination'], '.1f')} |")
        return lines
