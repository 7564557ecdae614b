"""The study's own figures (the analyzers' MSD, lattice, XRD and density plots are reused as they are)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.analysis._io import save_figure_atomic


def _figure(width: float = 5.0, height: float = 3.8):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def plot_c_over_a(result: dict[str, Any], experiment_tc: dict[str, Any], path: str | os.PathLike) -> None:
    """c/a vs T with its error bars, the fitted order-parameter curve, Tc ± error and the experimental Tc."""
    T = np.asarray(result["T_K"], float)
    ratio = np.asarray(result["c_over_a"], float)
    err = result.get("c_over_a_err")
    fig, ax = _figure()
    ax.errorbar(T, ratio, yerr=None if err is None else np.asarray(err, float), fmt="o", capsize=3, label="DP MD")
    if result.get("Tc_K") is not None:
        grid = np.linspace(T.min(), T.max(), 300)
        sign = np.sign(np.mean(ratio[: max(2, len(ratio) // 4)] - 1)) or 1.0
        eta = result["amplitude"] * np.clip(result["Tc_K"] - grid, 0, None) ** result["beta"]
        ax.plot(grid, 1 + sign * eta, "k--", lw=1, label="fit")
        ax.axvspan(result["Tc_K"] - result["Tc_err_K"], result["Tc_K"] + result["Tc_err_K"], color="C3", alpha=0.15)
        ax.axvline(result["Tc_K"], color="C3", lw=1, label=f"Tc = {result['Tc_K']:.0f} ± {result['Tc_err_K']:.0f} K")
    lo, hi = experiment_tc["range"]
    ax.axvspan(lo, hi, color="grey", alpha=0.2)
    ax.axvline(experiment_tc["value"], color="grey", ls=":", label=f"experiment {experiment_tc['value']:g} K ({lo:g}–{hi:g})")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("c/a")
    ax.legend(fontsize=8)
    save_figure_atomic(fig, path)


def plot_arrhenius_points(points: Sequence[dict[str, Any]], fit: dict[str, Any], path: str | os.PathLike) -> None:
    """D vs 1000/T: used points filled, excluded ones open, the fit and its extrapolation with the error band."""
    from dpgen_llzo.analysis.units import K_B_EV_K

    fig, ax = _figure()
    for used, style, label in ((True, "o", "used in the fit"), (False, "o", "excluded (sub-diffusive / untrusted)")):
        rows = [p for p in points if bool(p.get("included")) == used and p.get("D_cm2_s") and p["D_cm2_s"] > 0]
        if rows:
            T = np.array([p["temperature_K"] for p in rows], float)
            ax.errorbar(1000 / T, [p["D_cm2_s"] for p in rows], yerr=[p.get("D_err_cm2_s") or 0 for p in rows],
                        fmt=style, mfc=None if used else "none", capsize=3, label=label)
    if fit.get("Ea_eV") is not None:
        t_lo = min(fit["temperatures_used_K"] + [fit["extrapolate_K"]])
        t_hi = max(fit["temperatures_used_K"])
        grid = np.linspace(1000 / t_hi, 1000 / t_lo, 100)
        D = fit["D0_cm2_s"] * np.exp(-fit["Ea_eV"] / (K_B_EV_K * 1000 / grid))
        ax.plot(grid, D, "k--", lw=1, label=f"Ea = {fit['Ea_eV']:.3f} ± {fit['Ea_err_eV']:.3f} eV")
        key = f"{fit['extrapolate_K']:g}K"
        d_x, d_e = fit.get(f"D_{key}_cm2_s"), fit.get(f"D_{key}_err_cm2_s")
        if d_x and d_e is not None:
            ax.errorbar([1000 / fit["extrapolate_K"]], [d_x], yerr=[[min(d_e, 0.99 * d_x)], [d_e]], fmt="s", color="C3",
                        capsize=3, label=f"extrapolated to {fit['extrapolate_K']:g} K")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("D (cm²/s)")
    ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def plot_gb_regions(systems: dict[str, Any], path: str | os.PathLike) -> None:
    """D of the GB slab and of the grain interior vs 1000/T, one colour per GB system."""
    fig, ax = _figure()
    for colour, (name, entry) in enumerate(systems.items()):
        for key, marker, label in (("D_gb_cm2_s", "o", "GB"), ("D_interior_cm2_s", "s", "interior")):
            rows = [p for p in entry["points"] if p.get(key) and p[key] > 0]
            if rows:
                T = np.array([p["temperature_K"] for p in rows], float)
                ax.errorbar(1000 / T, [p[key] for p in rows], yerr=[p.get(key.replace("_cm2", "_err_cm2")) or 0 for p in rows],
                            fmt=marker + ("-" if key == "D_gb_cm2_s" else ":"), color=f"C{colour}", capsize=3,
                            mfc=None if key == "D_gb_cm2_s" else "none", label=f"{name} {label}")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("D (cm²/s)")
    ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def plot_rdfs(rdfs: dict[float, Any], path: str | os.PathLike) -> None:
    """One panel per pair, one line per temperature."""
    from dpgen_llzo.analysis.plots import plot_rdf_curves

    plot_rdf_curves([(f"{T:g} K", rdf, "-") for T, rdf in sorted(rdfs.items())], path, max_columns=2, panel_width=4.5)
