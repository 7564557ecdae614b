"""Section 1: the tetragonal → cubic transition by stepwise NPT heating.

One run heats the ordered tetragonal cell (``llzo-tetragonal`` × ``supercell``) through
``temperatures_K`` (anisotropic NPT: a, b, c free, angles fixed), equilibrating and then
averaging at every step (:func:`dpgen_llzo.study.tasks.ramp_input`; a killed ramp resumes at
its last finished step). a, b, c, V per step are block averages of the production rows
(:func:`dpgen_llzo.analysis.lattice.lattice_table`); c/a(T) → Tc ± error
(:func:`dpgen_llzo.analysis.transition.transition_temperature`, bootstrap error), thermal
expansion of the cubic phase above Tc (:func:`dpgen_llzo.analysis.lattice.thermal_expansion`),
and with ``xrd_dump_every`` the powder XRD of each step's time-averaged structure
(:mod:`dpgen_llzo.analysis.xrd`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dargs import Argument

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.study import experiment, tasks
from dpgen_llzo.study.section import TYPE_MAP, StudySection, register_section

RAMP = "transition/ramp"


@register_section("transition", summary="tetragonal cell, stepwise NPT heating: a, b, c, V(T), c/a → Tc ± error, expansion, XRD", order=10)
class TransitionSection(StudySection):
    title = "Tetragonal → cubic transition"

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("supercell", list[int], optional=True, default=[1, 1, 1], doc="Repetitions of the 192-atom tetragonal cell."),
            Argument("temperatures_K", list[float], optional=True,
                     default=[600.0, 700.0, 750.0, 800.0, 850.0, 900.0, 950.0, 1000.0, 1100.0, 1200.0],
                     doc="Heating steps in order, K (≥ 4, spanning both phases)."),
            Argument("equilibration_steps", int, optional=True, default=2000, doc="Steps at each temperature before averaging."),
            Argument("n_steps", int, optional=True, default=6000, doc="Averaged steps at each temperature."),
            Argument("thermo_every", int, optional=True, default=20, doc="Steps between averaged thermo rows."),
            Argument("xrd_dump_every", int, optional=True, default=500, doc="Steps between frames for the XRD of each step (0: no XRD)."),
            Argument("seed", int, optional=True, default=1, doc="Velocity seed."),
            Argument("n_blocks", int, optional=True, default=5, doc="Blocks of the block-average errors of a, b, c, V."),
            Argument("n_bootstrap", int, optional=True, default=200, doc="Residual-bootstrap draws of the Tc error."),
            Argument("expansion_range_K", list[float], optional=True, default=[],
                     doc="(lo, hi) of the thermal-expansion fit, K; [] = the steps above the fitted Tc."),
        ]

    @classmethod
    def check(cls, settings: dict[str, Any], plan: dict[str, Any], where: str) -> None:
        temps = settings["temperatures_K"]
        if len(temps) < 4:
            raise UserInputError(f"{where}/temperatures_K: the Tc fit needs at least 4 temperatures, got {len(temps)}")
        if any(b <= a for a, b in zip(temps, temps[1:])):
            raise UserInputError(f"{where}/temperatures_K: heating steps must increase, got {temps}")
        if settings["expansion_range_K"] and len(settings["expansion_range_K"]) != 2:
            raise UserInputError(f"{where}/expansion_range_K: give [lo, hi] or []")

    # ------------------------------------------------------------------ runs

    def runs(self) -> list[tasks.Run]:
        s, ctx = self.settings, self.context
        directory = ctx.run_dir(RAMP)
        temps = s["temperatures_K"]
        committee = ctx.committee
        out_freq = ctx.plan["trust"]["out_freq"]

        outputs = ["log.lammps"]
        for index in range(len(temps)):
            log, dump, data = tasks.ramp_step_files(index)
            outputs += [log, data] + ([dump] if s["xrd_dump_every"] else [])
        n_atoms = 192 * int(np.prod(s["supercell"]))
        run = tasks.Run(RAMP, self.name, lambda: (), lambda: tasks.ramp_done_steps(directory, len(temps)) == len(temps),
                        outputs=tuple(outputs), cost=float(n_atoms) * len(temps) * (s["equilibration_steps"] + s["n_steps"]))

        def prepare() -> tuple[str, ...]:
            from dpgen_llzo.structures import build_structure

            if not (directory / "conf.lmp").is_file():
                tasks.write_cell(build_structure("llzo-tetragonal", seed=s["seed"], supercell=s["supercell"]), directory)
            start = tasks.ramp_done_steps(directory, len(temps))
            text = tasks.ramp_input(committee, temps, tasks.velocity_seed(s["seed"], temps[0]), ctx.md,
                                    equilibration_steps=s["equilibration_steps"], n_steps=s["n_steps"],
                                    thermo_every=s["thermo_every"], dump_every=s["xrd_dump_every"],
                                    out_freq=out_freq, start=start, devi_file=devi_file(start))
            tasks.write_run_files(directory, text, {"section": self.name, "temperatures_K": temps, "start_step": start,
                                                    **{k: s[k] for k in ("equilibration_steps", "n_steps", "thermo_every")},
                                                    **ctx.md}, ctx.root / "models", committee)
            forward = ["conf.lmp", "in.lammps", *committee]
            if start:
                forward.append(tasks.ramp_step_files(start - 1)[2])
            if len(committee) > 1:
                run.outputs = tuple(outputs) + (devi_file(start),)
            return tuple(forward)

        run.prepare = prepare
        return [run]

    # ------------------------------------------------------------------ analysis

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        from dpgen_llzo.analysis.lattice import cell_lengths_from_thermo, lattice_table, read_lammps_thermo
        from dpgen_llzo.study.science import transition_from_lattice
        from dpgen_llzo.study.trust import trust_levels, trust_of_runs

        s, ctx = self.settings, self.context
        directory = ctx.run_dir(RAMP)
        series = [cell_lengths_from_thermo(read_lammps_thermo(directory / tasks.ramp_step_files(i)[0]))
                  for i in range(len(s["temperatures_K"]))]
        table = lattice_table(series, s["supercell"], equilibration_fraction=0.0, n_blocks=s["n_blocks"])
        errors = {k: table.errors[k] for k in ("a_A", "b_A", "c_A")}
        out: dict[str, Any] = {"lattice": table.to_dict(), "target_temperatures_K": s["temperatures_K"],
                               "trust": trust_of_runs([directory], trust_levels(ctx.plan), len(ctx.committee))}
        try:
            fit = transition_from_lattice(table.T_K, table.values["a_A"], table.values["b_A"], table.values["c_A"],
                                          table.values["V_A3"], errors, n_bootstrap=s["n_bootstrap"],
                                          expansion_range_K=s["expansion_range_K"] or None)
            out.update(fit)
        except UserInputError as exc:
            out["error"] = str(exc)
        out["experiment"] = {"Tc_K": experiment.TC_K, "alpha_linear_per_K": experiment.ALPHA_LINEAR_PER_K,
                             "tetragonal_RT": experiment.tetragonal_cell()}
        if s["xrd_dump_every"]:
            out["xrd"] = self._xrd(directory, table.T_K)
        self._plots(out)
        return out

    def _xrd(self, directory, temperatures) -> list[dict[str, Any]]:
        from dpgen_llzo.analysis.plots import plot_xrd
        from dpgen_llzo.analysis.readers import iter_frames
        from dpgen_llzo.analysis.xrd import average_structure, xrd_pattern

        patterns, rows = [], []
        for index, temperature in enumerate(self.settings["temperatures_K"]):
            dump = directory / tasks.ramp_step_files(index)[1]
            try:
                pattern = xrd_pattern(average_structure(iter_frames(dump, "lammps-dump", TYPE_MAP)))
            except UserInputError as exc:
                rows.append({"temperature_K": temperature, "error": str(exc)})
                continue
            top = np.argsort(pattern["peaks_intensity"])[::-1][:8]
            rows.append({"temperature_K": temperature, "peaks_two_theta_deg": np.asarray(pattern["peaks_two_theta_deg"])[top],
                         "peaks_intensity": np.asarray(pattern["peaks_intensity"])[top]})
            patterns.append((pattern, f"{temperature:g} K"))
        if patterns:
            plot_xrd([p for p, _ in patterns], [label for _, label in patterns], self.context.plot_path("transition_xrd.png"))
        return rows

    def _plots(self, out: dict[str, Any]) -> None:
        from dpgen_llzo.analysis.plots import plot_lattice
        from dpgen_llzo.study.plots import plot_c_over_a

        plot_lattice(out["lattice"], self.context.plot_path("transition_lattice.png"))
        if "c_over_a" in out:
            plot_c_over_a(out, experiment.TC_K, self.context.plot_path("transition_c_over_a.png"))

    def report(self, result: dict[str, Any]) -> list[str]:
        from dpgen_llzo.study.report import fmt, pm

        lines = []
        if "error" in result:
            lines.append(f"Tc fit failed: {result['error']}")
        else:
            tc = f"{pm(result['Tc_K'], result['Tc_err_K'], '.0f')} K" if result["Tc_bracketed"] else (
                f"not bracketed by the heating range (the fit gave {fmt(result['Tc_fit_K'], '.3g')} K): extend the range")
            lines.append(f"- Tc = {tc}; experiment "
                         f"{experiment.describe(experiment.TC_K)} ({experiment.TC_K['source']}).")
            lines.append(f"- Linear expansion (V^1/3, {result['expansion_range_K'][0]:.0f}–{result['expansion_range_K'][1]:.0f} K): "
                         f"{pm(result.get('alpha_linear_per_K'), result.get('alpha_linear_err_per_K'), '.3g')} 1/K; "
                         f"experiment {experiment.describe(experiment.ALPHA_LINEAR_PER_K)}.")
        lat = result["lattice"]
        lines += ["", "| T (K) | a (Å) | b (Å) | c (Å) | V (Å³) | c/a |", "|---|---|---|---|---|---|"]
        ratios = result.get("c_over_a")
        for i, T in enumerate(lat["T_K"]):
            ratio = fmt(ratios[i], ".4f") if ratios is not None else "–"
            lines.append(f"| {T:.0f} | {pm(lat['a_A'][i], lat['a_err_A'][i], '.3f')} | {pm(lat['b_A'][i], lat['b_err_A'][i], '.3f')} | "
                         f"{pm(lat['c_A'][i], lat['c_err_A'][i], '.3f')} | {fmt(lat['V_A3'][i], '.1f')} | {ratio} |")
        return lines


def devi_file(start: int) -> str:
    """Deviation file of a ramp started at ``start`` (a resumed ramp keeps the earlier file)."""
    return tasks.MODEL_DEVI if start == 0 else f"model_devi.from_{start:03d}.out"
