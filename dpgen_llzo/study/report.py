"""``DIR/study.json`` and ``DIR/study.md``: the headline numbers, DP next to experiment, every table.

``study.json`` keys: ``Tc_K``, ``Tc_err_K``, ``alpha_linear_per_K``, ``Ea_bulk_eV``,
``Ea_bulk_err_eV``, ``D0_bulk_cm2_s``, ``sigma_300K_S_cm``, ``sigma_300K_err_S_cm``,
``haven_ratio``, ``haven_ratio_err``, ``D_gb_over_bulk`` (per GB system: mean over T, error,
per-T rows), ``lattice_constant_300K_A``, ``tables`` (per-temperature rows of each section),
``trust`` (every result's shares and flag, and the flagged results), ``flags`` (every warning
of the study in one list), ``sections`` (the full section results), ``experiment``, ``models``
(compressed or why not), ``plan``, ``wall_time_s``. A number the study could not compute is
``null`` and the reason is in ``flags``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
from dpgen_llzo.study import experiment


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def fmt(x: Any, spec: str = ".3g") -> str:
    """A number for a table (``–`` when missing or not finite)."""
    try:
        return format(float(x), spec) if _num(float(x)) else "–"
    except (TypeError, ValueError):
        return "–"


def pm(value: Any, error: Any, spec: str = ".3g") -> str:
    """``value ± error`` (just the value without a finite error, ``–`` without a value)."""
    text = fmt(value, spec)
    if text == "–":
        return text
    err = fmt(error, spec)
    return text if err == "–" else f"{text} ± {err}"


def summary(sections: dict[str, Any]) -> dict[str, Any]:
    """The headline keys of study.json from the section results (``None`` where a section did not run)."""
    out: dict[str, Any] = {k: None for k in ("Tc_K", "Tc_err_K", "alpha_linear_per_K", "Ea_bulk_eV", "Ea_bulk_err_eV",
                                              "D0_bulk_cm2_s", "sigma_300K_S_cm", "sigma_300K_err_S_cm", "haven_ratio",
                                              "haven_ratio_err", "D_gb_over_bulk", "lattice_constant_300K_A")}
    tr = sections.get("transition")
    if tr and "Tc_K" in tr:
        out.update(Tc_K=tr["Tc_K"], Tc_err_K=tr["Tc_err_K"], alpha_linear_per_K=tr.get("alpha_linear_per_K"))
    bulk = sections.get("bulk")
    if bulk and bulk["fit"].get("Ea_eV") is not None:
        fit = bulk["fit"]
        key = f"{fit['extrapolate_K']:g}K"
        sig = fit.get("sigma_NE", {})
        out.update(Ea_bulk_eV=fit["Ea_eV"], Ea_bulk_err_eV=fit["Ea_err_eV"], D0_bulk_cm2_s=fit["D0_cm2_s"],
                   sigma_300K_S_cm=sig.get(f"sigma_{key}_S_cm"), sigma_300K_err_S_cm=sig.get(f"sigma_{key}_err_S_cm"),
                   haven_ratio=fit.get("haven_ratio"), haven_ratio_err=fit.get("haven_ratio_err"))
    gb = sections.get("gb")
    if gb:
        out["D_gb_over_bulk"] = {name: {"value": e["D_gb_over_bulk"], "err": e["D_gb_over_bulk_err"],
                                        "Ea_gb_eV": e["Ea_gb"].get("Ea_eV"), "Ea_gb_err_eV": e["Ea_gb"].get("Ea_err_eV"),
                                        "per_T": [{"T_K": p["temperature_K"], "ratio": p.get("D_gb_over_bulk"),
                                                   "err": p.get("D_gb_over_bulk_err")} for p in e["points"]]}
                                 for name, e in gb["systems"].items()}
    st = sections.get("structure")
    if st:
        out["lattice_constant_300K_A"] = st.get("lattice_constant_300K_A")
    return out


def tables(sections: dict[str, Any]) -> dict[str, Any]:
    """Per-temperature rows of every section, short (the full results are under ``sections``)."""
    out: dict[str, Any] = {}
    tr = sections.get("transition")
    if tr:
        lat = tr["lattice"]
        ratios = tr.get("c_over_a")
        out["transition"] = [{"T_K": T, "a_A": lat["a_A"][i], "b_A": lat["b_A"][i], "c_A": lat["c_A"][i],
                              "V_A3": lat["V_A3"][i], "c_over_a": None if ratios is None else ratios[i]}
                             for i, T in enumerate(lat["T_K"])]
    if sections.get("bulk"):
        keys = ("temperature_K", "D_cm2_s", "D_err_cm2_s", "sigma_NE_S_cm", "sigma_NE_err_S_cm", "sigma_collective_S_cm",
                "sigma_collective_err_S_cm", "haven_ratio", "haven_ratio_err", "loglog_slope", "diffusive", "included",
                "excluded_reason", "D_per_seed_cm2_s")
        out["bulk"] = [{k: p.get(k) for k in keys} | {"volume_A3": p.get("volume_A3")} for p in sections["bulk"]["points"]]
    if sections.get("gb"):
        keys = ("temperature_K", "D_gb_cm2_s", "D_gb_err_cm2_s", "D_interior_cm2_s", "D_interior_err_cm2_s", "gb_fraction",
                "D_gb_over_interior", "D_gb_over_interior_err", "D_gb_over_bulk", "D_gb_over_bulk_err", "error")
        out["gb"] = {name: [{k: p.get(k) for k in keys} for p in e["points"]] for name, e in sections["gb"]["systems"].items()}
    if sections.get("structure"):
        out["structure"] = [{"T_K": p["temperature_K"], "a_A": p["a_A"], "a_deviation_percent": p.get("a_deviation_percent"),
                             "rdf_first_peaks_A": {k: v["first_peak_A"] for k, v in p.get("rdf", {}).items()}}
                            for p in sections["structure"]["points"]]
    return out


def flags(sections: dict[str, Any], models: list[dict[str, Any]]) -> list[str]:
    """Everything a reader must know before trusting the numbers, one line each."""
    out = [f"{m['source']}: not compressed ({m['compress_error']}); the uncompressed model ran" for m in models
           if not m["compressed"]]
    tr = sections.get("transition")
    if tr:
        if "error" in tr:
            out.append(f"transition: no Tc: {tr['error']}")
        elif not tr["Tc_bracketed"]:
            out.append(f"transition: no Tc: the fit's {tr['Tc_fit_K']:.3g} K is outside the heating range "
                       f"{min(tr['T_K']):.0f}-{max(tr['T_K']):.0f} K")
    bulk = sections.get("bulk")
    if bulk:
        out += [f"bulk {p['temperature_K']:g} K: left out of the fit: {p['excluded_reason']}" for p in bulk["points"]
                if not p["included"]]
        out += [f"bulk: {n}" for n in bulk["notes"]]
        if bulk["fit"].get("Ea_eV") is None:
            out.append(f"bulk: no Ea: {bulk['fit'].get('reason')}")
    for name, e in (sections.get("gb") or {}).get("systems", {}).items():
        out += [f"gb {name} {p['temperature_K']:g} K: {p['error']}" for p in e["points"] if "error" in p]
        out += [f"gb {name} {p['temperature_K']:g} K: GB-cell MSD not diffusive ({'; '.join(p['warnings'])})"
                for p in e["points"] if p.get("diffusive") is False]
    trust = sections.get("trust")
    if trust:
        out += [f"trust: {r}: frames left the trained domain" for r in trust["flagged"]]
    return out


def side_by_side(result: dict[str, Any]) -> list[str]:
    """The study.md table: each headline quantity, DP and experiment."""
    gb = result.get("D_gb_over_bulk") or {}
    rows = [
        ("t→c transition Tc (K)", pm(result["Tc_K"], result["Tc_err_K"], ".0f"), experiment.TC_K),
        ("linear thermal expansion, cubic (1/K)", fmt(result["alpha_linear_per_K"], ".3g"), experiment.ALPHA_LINEAR_PER_K),
        ("Ea bulk (eV)", pm(result["Ea_bulk_eV"], result["Ea_bulk_err_eV"], ".3f"), experiment.EA_BULK_EV),
        ("σ(300 K) (S/cm), extrapolated", pm(result["sigma_300K_S_cm"], result["sigma_300K_err_S_cm"], ".3g"),
         experiment.SIGMA_300K_S_CM),
        ("Haven ratio", pm(result["haven_ratio"], result["haven_ratio_err"], ".2f"), None),
        *[(f"D_GB/D_bulk {name}", pm(v["value"], v["err"], ".2f"), experiment.GB_SLOWDOWN) for name, v in gb.items()],
        ("cubic a at 300 K (Å)", fmt(result["lattice_constant_300K_A"], ".3f"), experiment.cubic_lattice_at(300.0)),
    ]
    lines = ["| quantity | DP (this study) | experiment | source |", "|---|---|---|---|"]
    for name, dp, exp in rows:
        lines.append(f"| {name} | {dp} | {experiment.describe(exp)} | {exp['source'] if exp else '–'} |")
    return lines


def write_report(root: Path, result: dict[str, Any], section_objects: list) -> None:
    """Write ``root/study.json`` and ``root/study.md``."""
    write_json_atomic(root / "study.json", result)
    models = result["models"]
    states = ", ".join(Path(m["source"]).name + (": compressed" if m["compressed"] else ": not compressed") for m in models)
    lines = ["# dpgen-llzo study", "",
             f"Plan `{result['plan']}`; {len(models)} model(s) ({states}); "
             f"{result['n_runs']} MD runs, {result['wall_time_s']:.0f} s wall time in this invocation "
             f"({result['runs_submitted']} run(s) submitted, the others were finished before).", "",
             "These are the numbers of the potential given, no more: a DP distilled from a universal-potential teacher (CHGNet, DIEP) "
             "reproduces the teacher, not DFT (science.md §7), and universal teachers tend to overestimate diffusion.", "",
             "## DP vs experiment", "", *side_by_side(result), ""]
    if result["flags"]:
        lines += ["## Flags", "", *[f"- {f}" for f in result["flags"]], ""]
    for section in section_objects:
        sec = result["sections"].get(section.name)
        if sec is None:
            continue
        lines += [f"## {section.title}", "", *section.report(sec), ""]
    figures = result.get("plots", [])
    if figures:
        lines += ["## Figures", "", *[f"- [{Path(p).name}]({p})" for p in figures], ""]
    write_text_atomic(root / "study.md", "\n".join(lines))
