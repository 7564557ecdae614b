"""Section 3: Li transport at the committed Σ3(112) and Σ5(310) grain boundaries.

Each cell of ``gb_systems/<name>/POSCAR`` (built from cubic LLZO with a = ``build_parameters.a``
of its ``POSCAR.json``) is scaled isotropically to the bulk section's NPT lattice constant
at the run's temperature (linear in T through the bulk NPT points) and run in NVT, one run
per seed. :class:`dpgen_llzo.analysis.diffusion.DiffusionAnalyzer` with the JSON's GB planes
(:class:`dpgen_llzo.analysis.regions.GrainBoundaryPlanes`) splits every (ion, time origin) into
the GB slab (≤ ``half_width_A`` from a plane) and the grain interior: D per region, Ea per
region, D_GB / D_interior and D_GB / D_bulk (the bulk section's D at that T, or its fit).
The Li density map across the boundary comes from :func:`dpgen_llzo.analysis.density.density_map`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from dargs import Argument

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.study import experiment
from dpgen_llzo.study.bulk import npt_lattice, npt_name
from dpgen_llzo.study.plan import REPO_ROOT
from dpgen_llzo.study.section import TYPE_MAP, StudySection, register_section

GB_DIR = REPO_ROOT / "gb_systems"


def system_dir(name: str) -> Path:
    """``gb_systems/<name>`` of the repository, or ``name`` itself when it is a folder."""
    path = Path(name)
    return path if path.is_dir() else GB_DIR / name


def run_name(system: str, temperature_K: float, seed: int) -> str:
    return f"gb/{Path(system).name}/nvt_T{temperature_K:05.0f}_s{seed}"


def lattice_constant_at(temperature_K: float, temperatures: list[float], constants: list[float]) -> float:
    """Cubic a (Å) at ``temperature_K``: straight line through the bulk NPT points (their value with one point)."""
    if len(temperatures) == 1:
        return float(constants[0])
    slope, intercept = np.polyfit(np.asarray(temperatures, float), np.asarray(constants, float), 1)
    return float(intercept + slope * temperature_K)


@register_section("gb", summary="Σ3/Σ5 GB cells: D in the GB slab and the grain interior, Ea per region, D_GB/D_bulk", order=30)
class GrainBoundarySection(StudySection):
    title = "Grain-boundary Li transport"

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("systems", list[str], optional=True, default=["sigma3-112", "sigma5-310"],
                     doc="Folders of gb_systems/ (or paths) holding POSCAR and POSCAR.json."),
            Argument("temperatures_K", list[float], optional=True, default=[1000.0, 1150.0, 1300.0], doc="Temperatures, K (≥ 3)."),
            Argument("seeds", list[int], optional=True, default=[1], doc="Velocity seeds: one NVT run each."),
            Argument("equilibration_steps", int, optional=True, default=1000, doc="NVT steps before the production frames."),
            Argument("n_steps", int, optional=True, default=6000, doc="NVT production steps."),
            Argument("dump_every", int, optional=True, default=50, doc="Steps between production frames."),
            Argument("half_width_A", float, optional=True, default=5.0, doc="Half-width of the GB slab around each plane, Å."),
            Argument("n_blocks", int, optional=True, default=5, doc="Blocks per run for the collective σ."),
            Argument("n_bootstrap", int, optional=True, default=500, doc="Bootstrap draws over ions."),
            Argument("density_bins", int, optional=True, default=60, doc="Bins per axis of the Li density map."),
            Argument("f_trust_lo", float, optional=True, default=0.25, doc="Lower force trust level of the GB cells, eV/Å (0: the plan's); param/distill uses 0.25."),
            Argument("f_trust_hi", float, optional=True, default=0.9, doc="Upper force trust level of the GB cells, eV/Å (0: the plan's): the largest atomic deviation of 1152 atoms grows with the atom count."),
        ]

    @classmethod
    def check(cls, settings: dict[str, Any], plan: dict[str, Any], where: str) -> None:
        if not plan["bulk"]["enabled"]:
            raise UserInputError(f"{where}: needs the bulk section (its NPT runs give the lattice constant of the GB cells)")
        if not settings["systems"]:
            raise UserInputError(f"{where}/systems: empty list")
        for name in settings["systems"]:
            folder = system_dir(name)
            for required in ("POSCAR", "POSCAR.json"):
                if not (folder / required).is_file():
                    raise UserInputError(f"{where}/systems: {folder / required} not found")
        if settings["n_steps"] // settings["dump_every"] + 1 < 20:
            raise UserInputError(f"{where}/n_steps: fewer than the 20 frames a diffusion fit needs")

    def runs(self) -> list:
        s = self.settings
        bulk_npt = tuple(npt_name(T) for T in self.context.plan["bulk"]["temperatures_K"])
        runs = []
        for system in s["systems"]:
            n_atoms = int(_record(system)["n_atoms"])
            for T in s["temperatures_K"]:
                for seed in s["seeds"]:
                    runs.append(self.md_run(run_name(system, T, seed), self._cell(system, T), T, seed, "nvt",
                                            equilibration_steps=s["equilibration_steps"], n_steps=s["n_steps"],
                                            thermo_every=s["dump_every"], dump_every=s["dump_every"],
                                            depends=bulk_npt, n_atoms=n_atoms))
        return runs

    def _cell(self, system: str, temperature_K: float):
        def build():
            from pymatgen.core import Structure

            bulk = self.context.plan["bulk"]
            temps = bulk["temperatures_K"]
            lats = [npt_lattice(self.context.run_dir(npt_name(T)), bulk["supercell"]) for T in temps]
            a = lattice_constant_at(temperature_K, temps, [np.mean([x["a_A"], x["b_A"], x["c_A"]]) for x in lats])
            structure = Structure.from_file(str(system_dir(system) / "POSCAR"))
            structure.scale_lattice(structure.volume * (a / _record(system)["build_parameters"]["a"]) ** 3)
            return structure
        return build

    # ------------------------------------------------------------------ analysis

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        from dpgen_llzo.analysis.readers import load_trajectory
        from dpgen_llzo.analysis.regions import GrainBoundaryPlanes
        from dpgen_llzo.study.science import bulk_D_at, diffusion_point, gb_ratios, region_arrhenius, weighted_mean
        from dpgen_llzo.study.trust import trust_levels, trust_of_runs

        s, ctx = self.settings, self.context
        levels = trust_levels(ctx.plan, s)
        bulk_points = results.get("bulk", {}).get("points", [])
        systems = {}
        for system in s["systems"]:
            name = Path(system).name
            planes = GrainBoundaryPlanes.from_json(system_dir(system) / "POSCAR.json")
            points = []
            for T in s["temperatures_K"]:
                dirs = [ctx.run_dir(run_name(system, T, seed)) for seed in s["seeds"]]
                point: dict[str, Any] = {"temperature_K": T, "label": f"{T:g}K"}
                try:
                    trajs = [load_trajectory(d / "dump.lammpstrj", "Li", ctx.plan["timestep_fs"], fmt="lammps-dump",
                                             type_map=TYPE_MAP) for d in dirs]
                    report = diffusion_point(trajs, T, n_blocks=s["n_blocks"], n_bootstrap=s["n_bootstrap"],
                                             regions=planes, gb_half_width_A=s["half_width_A"])
                    point.update({k: report[k] for k in ("D_cm2_s", "D_err_cm2_s", "diffusive", "loglog_slope",
                                                          "fit_window_ps", "warnings", "regions", "volume_A3")})
                    point.update(gb_ratios(report, bulk_D_at(T, bulk_points)))
                except UserInputError as exc:
                    point["error"] = str(exc)
                point["trust"] = trust_of_runs(dirs, levels, len(ctx.committee))
                points.append(point)
            entry: dict[str, Any] = {"sigma": planes.sigma, "planes": planes.to_dict(), "points": points,
                                     "Ea_gb": region_arrhenius(points, "gb"), "Ea_interior": region_arrhenius(points, "bulk")}
            for key in ("D_gb_over_bulk", "D_gb_over_interior"):
                pairs = [(p[key], p.get(key + "_err")) for p in points if key in p and np.isfinite(p[key])]
                entry[key], entry[key + "_err"] = weighted_mean([v for v, _ in pairs], [e for _, e in pairs]) if pairs \
                    else (None, None)
            entry["density"] = self._density(system, max(s["temperatures_K"]), s["seeds"][0])
            systems[name] = entry
        out = {"systems": systems, "half_width_A": s["half_width_A"], "trust_levels": levels,
               "experiment": {"D_gb_over_bulk": experiment.GB_SLOWDOWN}}
        from dpgen_llzo.study.plots import plot_gb_regions

        plot_gb_regions(systems, ctx.plot_path("gb_arrhenius.png"))
        return out

    def _density(self, system: str, temperature_K: float, seed: int) -> dict[str, Any]:
        from dpgen_llzo.analysis.density import density_map
        from dpgen_llzo.analysis.plots import plot_density_map
        from dpgen_llzo.analysis.readers import iter_frames

        dump = self.context.run_dir(run_name(system, temperature_K, seed)) / "dump.lammpstrj"
        try:
            dmap = density_map(iter_frames(dump, "lammps-dump", TYPE_MAP), "Li", axis=0, bins=self.settings["density_bins"])
        except UserInputError as exc:
            return {"error": str(exc)}
        plot_density_map(dmap, "Li", self.context.plot_path(f"gb_{Path(system).name}_li_density.png"))
        profile = dmap.density.mean(axis=0)  # along c, the GB normal
        return {"temperature_K": temperature_K, "axes": list(dmap.axes), "lengths_A": list(dmap.lengths_A),
                "profile_along_normal": profile, "n_frames": dmap.n_frames}

    def report(self, result: dict[str, Any]) -> list[str]:
        from dpgen_llzo.study.report import fmt, pm

        lines = [f"GB slab: ≤ {result['half_width_A']:g} Å from a GB plane; trust levels of the GB cells "
                 f"{result['trust_levels']['f_trust_lo']:g}/{result['trust_levels']['f_trust_hi']:g} eV/Å.", ""]
        for name, entry in result["systems"].items():
            ea_gb, ea_in = entry["Ea_gb"], entry["Ea_interior"]
            lines += [f"**{name}** (Σ{entry['sigma']}): Ea(GB) = {pm(ea_gb.get('Ea_eV'), ea_gb.get('Ea_err_eV'), '.3f')} eV, "
                      f"Ea(interior) = {pm(ea_in.get('Ea_eV'), ea_in.get('Ea_err_eV'), '.3f')} eV; "
                      f"D_GB/D_bulk = {pm(entry['D_gb_over_bulk'], entry['D_gb_over_bulk_err'], '.2f')}, "
                      f"D_GB/D_interior = {pm(entry['D_gb_over_interior'], entry['D_gb_over_interior_err'], '.2f')} "
                      f"(experiment/literature: {experiment.describe(experiment.GB_SLOWDOWN)}).", "",
                      "| T (K) | D_GB (cm²/s) | D_interior (cm²/s) | GB share | D_GB/D_bulk | frames ≥ hi |", "|---|---|---|---|---|---|"]
            for p in entry["points"]:
                if "error" in p:
                    lines.append(f"| {p['temperature_K']:g} | {p['error']} | | | | |")
                    continue
                trust = p["trust"]
                share = f"{100 * trust['share_above_hi']:.1f} %" if trust.get("available") else "–"
                lines.append(f"| {p['temperature_K']:g} | {pm(p['D_gb_cm2_s'], p['D_gb_err_cm2_s'], '.3g')} | "
                             f"{pm(p['D_interior_cm2_s'], p['D_interior_err_cm2_s'], '.3g')} | {fmt(p['gb_fraction'], '.2f')} | "
                             f"{pm(p.get('D_gb_over_bulk'), p.get('D_gb_over_bulk_err'), '.2f')} | {share} |")
            lines.append("")
        return lines


def _record(system: str) -> dict[str, Any]:
    from dpgen_llzo.config import load_json

    return load_json(system_dir(system) / "POSCAR.json", "GB JSON")
