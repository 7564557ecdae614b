"""The autotest report: DP vs reference vs experiment, as ``result.json``, ``report.md`` and PNGs.

Rows (one per number compared; ``dp_vs_reference_pct`` = 100 (DP − ref) / ref, likewise for
experiment):

``lattice_0K``
    a (and c, or b and c, as the cell's shape asks; see :func:`.cells.report_quantities`) and
    V of every conf: dpgen's relaxation and the EOS minimum with the DP, the teacher's
    relaxation, the experimental room-temperature cell.
``lattice_T``
    time-averaged a, c, V ± block error of the NPT runs, DP and reference; experiment where a
    measurement lies within 60 K.
``rdf``
    first-peak position (Å) and height of every pair and temperature, DP and reference; the
    "experiment" column of positions is the literature value of science.md §2 where there is
    one (Li–O, Zr–O, La–O), else the ideal crystal of the conf's POSCAR; heights have no
    experimental counterpart. The similarity of the two RDFs is given per row.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.atomic_io import write_text_atomic
from dpgen_llzo.autotest.cells import birch_murnaghan, reduce_parameters, report_quantities
from dpgen_llzo.autotest.experiment import RDF_FIRST_PEAK_A, experiment_at, experimental_cell
from dpgen_llzo.autotest.properties import read_json, write_json

LABELS = {"a_A": "a (Å)", "b_A": "b (Å)", "c_A": "c (Å)", "V_A3": "V (Å³)",
          "first_peak_A": "first peak r (Å)", "first_peak_g": "first peak g(r)"}


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or not reference:
        return None
    return 100.0 * (value - reference) / reference


def _row(section: str, structure: str, quantity: str, dp, reference=None, experiment=None, **extra) -> dict[str, Any]:
    """A report row; ``dp``/``reference`` are (value, error) pairs or None, ``experiment`` (value, T, source)."""
    dp_value, dp_err = dp if dp is not None else (None, None)
    ref_value, ref_err = reference if reference is not None else (None, None)
    exp_value, exp_T, exp_source = experiment if experiment is not None else (None, None, None)
    return {"section": section, "structure": structure, "quantity": quantity, **extra,
            "dp": dp_value, "dp_err": dp_err, "reference": ref_value, "reference_err": ref_err,
            "experiment": exp_value, "experiment_T_K": exp_T, "experiment_source": exp_source,
            "dp_vs_reference_pct": _pct(dp_value, ref_value), "dp_vs_experiment_pct": _pct(dp_value, exp_value)}


def lattice_rows(structure: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    """``lattice_0K`` and ``lattice_T`` rows of one conf."""
    relax = results.get("relaxation", {})
    exp_cell = experimental_cell(structure)
    quantities = report_quantities(exp_cell or relax["input"])
    exp = reduce_parameters(exp_cell, quantities) if exp_cell else {}
    ref = reduce_parameters(relax["reference"], quantities) if "reference" in relax else {}
    rows = []
    dp_sources = []
    if "dp" in relax:
        dp_sources.append(("relaxation", reduce_parameters(relax["dp"], quantities)))
    fit = (results.get("eos") or {}).get("fit", {})
    if "a_A" in fit:
        dp_sources.append(("EOS minimum", reduce_parameters({**fit, "V_A3": fit["V0_A3"]}, quantities)))
    for method, dp in dp_sources:
        for q in quantities:
            rows.append(_row("lattice_0K", structure, q, dp[q], ref.get(q),
                             (exp[q][0], exp_cell["T_K"], exp_cell["source"]) if q in exp else None, method=method, T_K=0.0))
    for entry in (results.get("lattice_T") or {}).get("rows", []):
        T = entry["T_target_K"]

        def reduced(who: str):
            if who not in entry:
                return {}
            r = entry[who]
            return reduce_parameters(r, quantities, {k: r[k.replace("_", "_err_", 1)] for k in ("a_A", "b_A", "c_A", "V_A3")})

        dp, reference = reduced("dp"), reduced("reference")
        for q in quantities:
            m = experiment_at(structure, q, T)
            rows.append(_row("lattice_T", structure, q, dp[q], reference.get(q),
                             (m.value, m.T_K, m.source) if m else None, method="NPT MD", T_K=T,
                             T_measured_K=entry["dp"]["T_K"]))
    return rows


def rdf_rows(structure: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    """``rdf`` rows of one conf: first-peak position and height per pair and temperature."""
    rows = []
    for entry in (results.get("rdf") or {}).get("rows", []):
        for pair, dp in entry["dp"].items():
            ref = entry.get("reference", {}).get(pair)
            crystal = entry["crystal"].get(pair, {})
            if pair in RDF_FIRST_PEAK_A:
                exp = (RDF_FIRST_PEAK_A[pair][0], 0.0, RDF_FIRST_PEAK_A[pair][1])
            elif crystal.get("first_peak_A") is not None:
                exp = (crystal["first_peak_A"], 0.0, "ideal crystal of the conf's POSCAR (0 K)")
            else:
                exp = None
            similarity = entry.get("similarity", {}).get(pair)
            for q in ("first_peak_A", "first_peak_g"):
                rows.append(_row("rdf", structure, q, (dp[q], None), (ref[q], None) if ref else None,
                                 exp if q == "first_peak_A" else None, pair=pair, T_K=entry["T_target_K"],
                                 similarity=similarity))
    return rows


# ---------------------------------------------------------------------------------------------
# Markdown


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


def _with_err(value, err, digits: int = 3) -> str:
    text = _num(value, digits)
    return text if err is None or value is None or not np.isfinite(err) else f"{text} ± {err:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    """The Markdown report."""
    rows = report["rows"]
    out = ["# dpgen-llzo autotest report", "", f"Model: `{report['model']}`", ""]
    digits = {"V_A3": 1}
    lattice0 = [r for r in rows if r["section"] == "lattice_0K"]
    if lattice0:
        out += ["## Lattice parameters at 0 K", "",
                "| structure | quantity | DP method | DP | reference (teacher) | experiment | DP vs ref (%) | DP vs exp (%) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in lattice0:
            d = digits.get(r["quantity"], 4)
            out.append(f"| {r['structure']} | {LABELS[r['quantity']]} | {r['method']} | {_num(r['dp'], d)} | "
                       f"{_num(r['reference'], d)} | {_num(r['experiment'], d)} | {_num(r['dp_vs_reference_pct'], 2)} | "
                       f"{_num(r['dp_vs_experiment_pct'], 2)} |")
        out += ["", "Experiment: room-temperature cells (sources below); the DP and teacher values are 0 K.", ""]
    lattice_t = [r for r in rows if r["section"] == "lattice_T"]
    if lattice_t:
        out += ["## Lattice parameters at temperature (NPT MD, block-average errors)", "",
                "| structure | T (K) | quantity | DP | reference | experiment (T) | DP vs ref (%) | DP vs exp (%) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in lattice_t:
            d = digits.get(r["quantity"], 4)
            exp = f"{_num(r['experiment'], d)} ({r['experiment_T_K']:.0f} K)" if r["experiment"] is not None else "— (none within 60 K)"
            out.append(f"| {r['structure']} | {r['T_K']:.0f} | {LABELS[r['quantity']]} | {_with_err(r['dp'], r['dp_err'], d)} | "
                       f"{_with_err(r['reference'], r['reference_err'], d)} | {exp} | {_num(r['dp_vs_reference_pct'], 2)} | "
                       f"{_num(r['dp_vs_experiment_pct'], 2)} |")
        out.append("")
    rdf = [r for r in rows if r["section"] == "rdf"]
    if rdf:
        out += ["## Radial distribution functions (NVT MD)", "",
                "| structure | T (K) | pair | quantity | DP | reference | experiment / crystal | DP vs ref (%) | DP vs exp (%) | similarity |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rdf:
            exp = _num(r["experiment"]) if r["experiment"] is not None else "n/a"
            out.append(f"| {r['structure']} | {r['T_K']:.0f} | {r['pair']} | {LABELS[r['quantity']]} | {_num(r['dp'])} | "
                       f"{_num(r['reference'])} | {exp} | {_num(r['dp_vs_reference_pct'], 2)} | "
                       f"{_num(r['dp_vs_experiment_pct'], 2)} | {_num(r['similarity'])} |")
        out += ["", "Similarity: 1 − Σ∫|g_DP − g_ref| dr / Σ∫(g_DP + g_ref) dr (1 = identical). "
                "Peak heights of a 0 K crystal are δ-like, so heights are compared with the reference only.", ""]
    if report.get("notes"):
        out += ["## Notes on the runs", ""] + [f"- {note}" for note in report["notes"]] + [""]
    out += _validation_markdown(report.get("validation"))
    out += _learning_curve_markdown(report.get("learning_curve"))
    sources = sorted({r["experiment_source"] for r in rows if r.get("experiment_source")})
    if sources:
        out += ["## Sources of the experimental and literature values", ""] + [f"- {s}" for s in sources] + [""]
    if report.get("figures"):
        out += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in report["figures"]] + [""]
    return "\n".join(out)


def _validation_markdown(validation: dict | None) -> list[str]:
    if not validation:
        return []
    out = ["## Energy and force errors on held-out frames", "",
           "| data class | frames | energy RMSE (meV/atom) | force RMSE (meV/Å) | force spread (meV/Å) |", "|---|---|---|---|---|"]
    for name, entry in validation["classes"].items():
        c = entry["committee"]
        out.append(f"| {name} | {c['n_frames']} | {c['energy_rmse_meV_atom']:.2f} | {c['force_rmse_meV_A']:.1f} | "
                   f"{_num(c.get('force_ref_std_meV_A'), 1)} |")
    return out + [""]


def _learning_curve_markdown(curve: dict | None) -> list[str]:
    if not curve:
        return []
    out = ["## Learning curve", "", f"Subsets drawn with seed {curve['seed']}; {curve['numb_steps']} training steps each.", "",
           "| training frames | data class | energy RMSE (meV/atom) | force RMSE (meV/Å) |", "|---|---|---|---|"]
    for point in curve["points"]:
        for name, err in point["errors"].items():
            out.append(f"| {point['n_frames']} | {name} | {err['energy_rmse_meV_atom']:.2f} | {err['force_rmse_meV_A']:.1f} |")
    return out + [""]


# ---------------------------------------------------------------------------------------------
# figures


def _axes(width: float = 5.0, height: float = 3.8):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def plot_lattice_t(structure: str, rows: list[dict[str, Any]], path: Path) -> None:
    """a (, c) vs T: DP with error bars, reference, experiment."""
    from dpgen_llzo.analysis._io import save_figure_atomic

    fig, ax = _axes()
    for i, q in enumerate(sorted({r["quantity"] for r in rows if r["quantity"] != "V_A3"})):
        sel = [r for r in rows if r["quantity"] == q]
        T = [r["T_K"] for r in sel]
        ax.errorbar(T, [r["dp"] for r in sel], yerr=[r["dp_err"] or 0.0 for r in sel], fmt="o-", color=f"C{i}",
                    capsize=3, label=f"{q[0]} DP")
        ref = [(r["T_K"], r["reference"], r["reference_err"] or 0.0) for r in sel if r["reference"] is not None]
        if ref:
            ax.errorbar(*zip(*ref), fmt="s--", mfc="none", color=f"C{i}", capsize=3, label=f"{q[0]} reference")
        exp = [(r["experiment_T_K"], r["experiment"]) for r in sel if r["experiment"] is not None]
        if exp:
            ax.plot(*zip(*exp), "*", ms=10, color=f"C{i}", label=f"{q[0]} experiment")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("lattice parameter (Å)")
    ax.set_title(structure)
    ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def plot_eos(structure: str, fit: dict[str, Any], path: Path) -> None:
    """E(V) points and the Birch–Murnaghan fit."""
    from dpgen_llzo.analysis._io import save_figure_atomic

    fig, ax = _axes()
    V, E = np.asarray(fit["volumes_A3_atom"], float), np.asarray(fit["energies_eV_atom"], float)
    grid = np.linspace(V.min(), V.max(), 100)
    ax.plot(V, E, "o", label="DP (dpgen EOS)")
    if "error" not in fit:
        ax.plot(grid, birch_murnaghan(grid, fit["V0_A3_atom"], fit["E0_eV_atom"], fit["B0_GPa"], fit["B1"]), "k--",
                label=f"BM: V0 = {fit['V0_A3_atom']:.3f} Å³/atom, B0 = {fit['B0_GPa']:.0f} GPa")
    ax.set_xlabel("V (Å³/atom)")
    ax.set_ylabel("E (eV/atom)")
    ax.set_title(structure)
    ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def figures(results: dict[str, dict[str, Any]], rows: list[dict[str, Any]], output: Path) -> list[str]:
    """Write the PNGs into ``output``; returns their names."""
    from dpgen_llzo.analysis.plots import plot_rdf
    from dpgen_llzo.analysis.rdf import RDFResult
    names = []
    for conf, entry in results.items():
        structure = Path(conf).name
        fit = (entry.get("eos") or {}).get("fit")
        if fit:
            plot_eos(structure, fit, output / f"eos_{structure}.png")
            names.append(f"eos_{structure}.png")
        lt = [r for r in rows if r["section"] == "lattice_T" and r["structure"] == structure]
        if lt:
            plot_lattice_t(structure, lt, output / f"lattice_T_{structure}.png")
            names.append(f"lattice_T_{structure}.png")
        for row in (entry.get("rdf") or {}).get("rows", []):
            work = Path(conf) / "rdf_00"
            dp = RDFResult.from_dict(read_json(work / row["dp_rdf"]))
            ref = RDFResult.from_dict(read_json(work / row["reference_rdf"])) if "reference_rdf" in row else None
            name = f"rdf_{structure}_{row['T_target_K']:.0f}K.png"
            plot_rdf(dp, output / name, reference=ref)
            names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# validation (held-out errors per data class) through `dpgen-llzo validate`


def validation_section(block: dict[str, Any], model: str, output: Path) -> dict[str, Any]:
    """Errors per data class (:func:`dpgen_llzo.validation.validate_classes`) into ``output/validation``."""
    from dpgen_llzo.validation import validate_classes

    classes = {name: list(dirs) for name, dirs in block["data"].items()}
    return validate_classes(block.get("models") or [model], classes, output / "validation")


def run_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    """How each relaxation and E(V) fit ended (LAMMPS stopping criteria, teacher FIRE steps), for the reader."""
    notes = []
    for conf, entry in results.items():
        fit = (entry.get("eos") or {}).get("fit", {})
        if "error" in fit:
            notes.append(f"{Path(conf).name}: EOS row left out: {fit['error']}")
        elif fit and not fit.get("minimum_inside_scan", True):
            notes.append(f"{Path(conf).name}: the EOS minimum lies outside the scanned volumes (extrapolated)")
        relax = entry.get("relaxation", {})
        if "dp" in relax and relax["dp"].get("minimize_stopping"):
            notes.append(f"{Path(conf).name}: DP relaxation (LAMMPS minimize) stopped on: "
                         + ", ".join(relax["dp"]["minimize_stopping"]))
        if "reference" in relax:
            r = relax["reference"]
            state = "converged" if r.get("converged") else "NOT converged"
            notes.append(f"{Path(conf).name}: teacher relaxation {state} after {r.get('steps')} FIRE steps "
                         f"(fmax {r.get('fmax_eV_A')} eV/Å)")
        for kind in ("lattice_T", "rdf"):
            result = entry.get(kind) or {}
            for row in result.get("rows", []):
                text = (f"{Path(conf).name}: {kind} at {row['T_target_K']:g} K averaged over "
                        f"{row.get('n_frames_dp', row['dp'].get('n_rows'))} DP samples")
                if "reference" in row:
                    text += (f" and {row.get('n_frames_reference', row['reference'].get('n_rows'))} "
                             f"{result['reference_type']} samples")
                notes.append(text)
    return notes


def write_report(param, results: dict[str, dict[str, Any]], output: str | os.PathLike) -> dict[str, Any]:
    """Build the rows, the figures and the validation section; write ``result.json`` and ``report.md``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    rows = []
    for conf, entry in results.items():
        rows += lattice_rows(Path(conf).name, entry)
        rows += rdf_rows(Path(conf).name, entry)
    report: dict[str, Any] = {"param": str(param.path), "model": param.interaction["model"], "rows": rows,
                              "notes": run_notes(results), "results": results}
    report["figures"] = figures(results, rows, output)
    if param.validation:
        report["validation"] = validation_section(param.validation, param.interaction["model"], output)
        report["figures"] += [f"validation/parity_{name}.png" for name in param.validation["data"]]
        if param.validation.get("learning_curve"):
            curve_path = Path(param.validation["learning_curve"])
            report["learning_curve"] = read_json(curve_path, "learning curve")
            png = curve_path.with_name("learning_curve.png")
            if png.is_file():
                shutil.copyfile(png, output / "learning_curve.png")
                report["figures"].append("learning_curve.png")
    write_json(output / "result.json", report)
    write_text_atomic(output / "report.md", markdown(report))
    return report
