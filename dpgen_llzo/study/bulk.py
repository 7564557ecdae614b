"""Section 2: Li transport in the bulk cubic cell.

At each temperature an NPT run of the ordered cubic cell (``llzo-cubic`` × ``supercell``)
gives the mean cell; then one NVT run per velocity seed in that cell (same fractional
coordinates, lattice lengths = the NPT averages) writes the production frames. The runs of a
temperature are analysed together by :class:`dpgen_llzo.analysis.diffusion.DiffusionAnalyzer`
(tracer D with a bootstrap-over-ions error, σ_NE, collective σ by the block method over all
seeds' blocks, Haven ratio); temperatures whose MSD is not diffusive in its fit window are
flagged and left out of the Arrhenius fit with the reason (:func:`.science.exclusion_reason`),
which gives Ea ± error, D0 and σ(300 K) with its error band (:func:`.science.arrhenius_summary`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from dargs import Argument

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.study import experiment
from dpgen_llzo.study.section import TYPE_MAP, StudySection, register_section


def npt_name(temperature_K: float) -> str:
    return f"bulk/npt_T{temperature_K:05.0f}"


def nvt_name(temperature_K: float, seed: int) -> str:
    return f"bulk/nvt_T{temperature_K:05.0f}_s{seed}"


def npt_lattice(directory: Path, supercell) -> dict[str, Any]:
    """Mean conventional a, b, c (Å), V (Å³) and their block errors of an NPT run's production rows."""
    from dpgen_llzo.analysis.lattice import lattice_table
    from dpgen_llzo.autotest.md_tasks import npt_thermo_rows

    table = lattice_table([npt_thermo_rows(directory / "log.lammps")], supercell, equilibration_fraction=0.0)
    return {k: float(table.values[k][0]) for k in ("a_A", "b_A", "c_A", "V_A3")} | {
        k.replace("_", "_err_", 1): float(table.errors[k][0]) for k in ("a_A", "b_A", "c_A", "V_A3")} | {
        "T_K": float(table.T_K[0])}


def scaled_cell(structure, lengths: tuple[float, float, float]):
    """``structure`` with its (orthogonal) lattice lengths set to ``lengths``, fractional coordinates kept."""
    from pymatgen.core import Lattice, Structure

    lattice = Lattice.from_parameters(*lengths, 90.0, 90.0, 90.0)
    return Structure(lattice, structure.species, structure.frac_coords)


@register_section("bulk", summary="cubic cell: NVT at the NPT volume, ≥ 5 T x ≥ 2 seeds: D(T), Ea, D0, σ, Haven ratio, σ(300 K)", order=20)
class BulkSection(StudySection):
    title = "Bulk Li transport"

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("supercell", list[int], optional=True, default=[1, 1, 1], doc="Repetitions of the 192-atom cubic cell."),
            Argument("structure_seed", int, optional=True, default=0, doc="Seed of the cubic cell's Li ordering (`llzo-cubic`)."),
            Argument("temperatures_K", list[float], optional=True, default=[900.0, 1000.0, 1100.0, 1200.0, 1300.0],
                     doc="Temperatures, K (≥ 5 for numbers worth reading; hot enough that Li diffuses within n_steps)."),
            Argument("seeds", list[int], optional=True, default=[1, 2], doc="Velocity seeds: one NVT run each per temperature (≥ 2)."),
            Argument("npt_equilibration_steps", int, optional=True, default=2000, doc="NPT steps before averaging the cell."),
            Argument("npt_steps", int, optional=True, default=3000, doc="NPT steps averaged for the NVT cell."),
            Argument("npt_thermo_every", int, optional=True, default=20, doc="Steps between averaged NPT thermo rows."),
            Argument("equilibration_steps", int, optional=True, default=1000, doc="NVT steps before the production frames."),
            Argument("n_steps", int, optional=True, default=25000, doc="NVT production steps per seed."),
            Argument("dump_every", int, optional=True, default=50, doc="Steps between production frames (≥ 20 frames needed)."),
            Argument("n_blocks", int, optional=True, default=5, doc="Blocks per run for the collective σ."),
            Argument("n_bootstrap", int, optional=True, default=1000, doc="Bootstrap draws over ions for the D errors."),
            Argument("extrapolate_K", float, optional=True, default=300.0, doc="Temperature of the σ and D extrapolation, K."),
        ]

    @classmethod
    def check(cls, settings: dict[str, Any], plan: dict[str, Any], where: str) -> None:
        if settings["n_steps"] // settings["dump_every"] + 1 < 20:
            raise UserInputError(f"{where}/n_steps: {settings['n_steps']} steps with dump_every {settings['dump_every']} "
                                 "give fewer than the 20 frames a diffusion fit needs")
        if len(set(settings["temperatures_K"])) != len(settings["temperatures_K"]):
            raise UserInputError(f"{where}/temperatures_K: repeated temperature in {settings['temperatures_K']}")

    def cubic(self):
        from dpgen_llzo.structures import build_structure

        return build_structure("llzo-cubic", seed=self.settings["structure_seed"], supercell=self.settings["supercell"])

    # ------------------------------------------------------------------ runs

    def runs(self) -> list:
        s, ctx = self.settings, self.context
        n_atoms = 192 * int(np.prod(s["supercell"]))
        runs = []
        for T in s["temperatures_K"]:
            runs.append(self.md_run(npt_name(T), self.cubic, T, s["seeds"][0], "npt",
                                    equilibration_steps=s["npt_equilibration_steps"], n_steps=s["npt_steps"],
                                    thermo_every=s["npt_thermo_every"], n_atoms=n_atoms, salt=1))
            for seed in s["seeds"]:
                runs.append(self.md_run(nvt_name(T, seed), self._nvt_cell(T), T, seed, "nvt",
                                        equilibration_steps=s["equilibration_steps"], n_steps=s["n_steps"],
                                        thermo_every=s["dump_every"], dump_every=s["dump_every"],
                                        depends=(npt_name(T),), n_atoms=n_atoms))
        return runs

    def _nvt_cell(self, temperature_K: float):
        def build():
            lat = npt_lattice(self.context.run_dir(npt_name(temperature_K)), self.settings["supercell"])
            mult = self.settings["supercell"]
            return scaled_cell(self.cubic(), tuple(lat[k] * m for k, m in zip(("a_A", "b_A", "c_A"), mult)))
        return build

    # ------------------------------------------------------------------ analysis

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        from dpgen_llzo.analysis.diffusion import tracer_diffusion
        from dpgen_llzo.analysis.readers import load_trajectory
        from dpgen_llzo.study.science import arrhenius_summary, diffusion_point, exclusion_reason
        from dpgen_llzo.study.trust import trust_levels, trust_of_runs

        s, ctx = self.settings, self.context
        levels = trust_levels(ctx.plan)
        points = []
        for T in s["temperatures_K"]:
            dirs = [ctx.run_dir(nvt_name(T, seed)) for seed in s["seeds"]]
            point: dict[str, Any] = {"temperature_K": T, "label": f"{T:g}K", "seeds": s["seeds"],
                                     "npt_lattice": npt_lattice(ctx.run_dir(npt_name(T)), s["supercell"])}
            try:
                trajs = [load_trajectory(d / "dump.lammpstrj", "Li", ctx.plan["timestep_fs"], fmt="lammps-dump",
                                         type_map=TYPE_MAP) for d in dirs]
                point.update(diffusion_point(trajs, T, n_blocks=s["n_blocks"], n_bootstrap=s["n_bootstrap"]))
                point["D_per_seed_cm2_s"] = [tracer_diffusion([t], n_bootstrap=100)[0].D_cm2_s for t in trajs]
            except UserInputError as exc:
                point["error"] = str(exc)
            point["trust"] = trust_of_runs([ctx.run_dir(npt_name(T)), *dirs], levels, len(ctx.committee))
            reason = exclusion_reason(point, point["trust"], ctx.plan["trust"]["exclude_untrusted"])
            point["included"], point["excluded_reason"] = reason is None, reason
            points.append(point)
        fit = arrhenius_summary(points, s["extrapolate_K"])
        out = {"points": points, "fit": fit, "experiment": {"Ea_eV": experiment.EA_BULK_EV,
                                                             "sigma_300K_S_cm": experiment.SIGMA_300K_S_CM}}
        out["notes"] = self._notes()
        self._plots(out)
        return out

    def _notes(self) -> list[str]:
        s = self.settings
        notes = []
        if len(s["temperatures_K"]) < 5:
            notes.append(f"{len(s['temperatures_K'])} temperatures (the study asks ≥ 5 for numbers worth reading)")
        if len(s["seeds"]) < 2:
            notes.append("one velocity seed (≥ 2 give the collective σ and the Haven ratio a meaning)")
        return notes

    def _plots(self, out: dict[str, Any]) -> None:
        from dpgen_llzo.analysis.plots import plot_msd
        from dpgen_llzo.study.plots import plot_arrhenius_points

        for p in out["points"]:
            if "msd" in p:
                plot_msd(p, self.context.plot_path(f"bulk_msd_T{p['temperature_K']:05.0f}.png"))
        if any("D_cm2_s" in p for p in out["points"]):
            plot_arrhenius_points(out["points"], out["fit"], self.context.plot_path("bulk_arrhenius.png"))

    def report(self, result: dict[str, Any]) -> list[str]:
        from dpgen_llzo.study.report import fmt, pm

        fit = result["fit"]
        lines = [f"- Note: {n}." for n in result["notes"]]
        if fit.get("Ea_eV") is not None:
            key = f"{fit['extrapolate_K']:g}K"
            sig = fit.get("sigma_NE", {})
            lines += [f"- Ea = {pm(fit['Ea_eV'], fit['Ea_err_eV'], '.3f')} eV, D0 = {fmt(fit['D0_cm2_s'], '.3g')} cm²/s "
                      f"(fit over {', '.join(f'{t:g}' for t in fit['temperatures_used_K'])} K, χ²_red = {fmt(fit['chi2_reduced'], '.2f')}).",
                      f"- σ_NE({fit['extrapolate_K']:g} K) = {pm(sig.get(f'sigma_{key}_S_cm'), sig.get(f'sigma_{key}_err_S_cm'), '.3g')} S/cm "
                      "(σT Arrhenius form, extrapolated: the error band is the fit's).",
                      f"- Haven ratio (mean over used T) = {pm(fit.get('haven_ratio'), fit.get('haven_ratio_err'), '.2f')}."]
        else:
            lines.append(f"- No Arrhenius fit: {fit.get('reason')}.")
        lines += ["", "| T (K) | D (cm²/s) | σ_NE (S/cm) | σ_coll (S/cm) | Haven | log-log slope | in fit | frames ≥ hi |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in result["points"]:
            trust = p["trust"]
            share = f"{100 * trust['share_above_hi']:.1f} %" if trust.get("available") else "–"
            used = "yes" if p["included"] else f"no: {p['excluded_reason']}"
            if p["included"] and trust.get("flagged"):
                used = "yes (**untrusted**: trust.exclude_untrusted leaves it out)"
            lines.append(f"| {p['temperature_K']:g} | {pm(p.get('D_cm2_s'), p.get('D_err_cm2_s'), '.3g')} | "
                         f"{pm(p.get('sigma_NE_S_cm'), p.get('sigma_NE_err_S_cm'), '.3g')} | "
                         f"{pm(p.get('sigma_collective_S_cm'), p.get('sigma_collective_err_S_cm'), '.3g')} | "
                         f"{pm(p.get('haven_ratio'), p.get('haven_ratio_err'), '.2f')} | {fmt(p.get('loglog_slope'), '.2f')} | "
                         f"{used} | {share} |")
        return lines
