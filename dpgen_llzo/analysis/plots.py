"""Figures of the analyses (matplotlib, Agg backend, written atomically as PNG)."""

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


def plot_msd(report: dict, path: str | os.PathLike, loglog: bool = False) -> None:
    """MSD with the fit window and fitted line (linear axes), or the log–log MSD with a slope-1 guide."""
    t = np.asarray(report["msd"]["t_ps"], float)
    msd = np.asarray(report["msd"]["tracer_A2"], float)
    start, end = report["fit_window_ps"]
    slope = 6.0 * report["D_cm2_s"] / 1e-4
    fig, ax = _figure()
    ax.plot(t, msd, lw=1.2, label=f"{report['species']} tracer MSD")
    fit_t = np.linspace(start, end, 50)
    ax.plot(fit_t, slope * fit_t + report["msd_intercept_A2"], "k--", lw=1,
            label=f"fit: D = {report['D_cm2_s']:.3g} ± {report['D_err_cm2_s']:.2g} cm²/s")
    if loglog:
        ok = (t > 0) & (msd > 0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ref = msd[ok][len(msd[ok]) // 2] if ok.any() else 1.0
        tref = t[ok][len(t[ok]) // 2] if ok.any() else 1.0
        ax.plot(t[ok], ref * t[ok] / tref, ":", color="grey", lw=1, label="slope 1")
    ax.axvspan(start, end, color="C1", alpha=0.15, label="fit window")
    ax.set_xlabel("lag time t (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_title(f"{report['temperature_K']:g} K")
    ax.legend(fontsize=8)
    save_figure_atomic(fig, path)


def plot_arrhenius(report: dict, points: Sequence[dict], path: str | os.PathLike) -> None:
    """ln D vs 1000/T with error bars and the fitted line."""
    from dpgen_llzo.analysis.units import K_B_EV_K

    T = np.array([p["temperature_K"] for p in points], float)
    D = np.array([p["D_cm2_s"] for p in points], float)
    err = np.array([p.get("D_err_cm2_s") or 0.0 for p in points], float)
    fig, ax = _figure()
    ax.errorbar(1000 / T, D, yerr=err, fmt="o", capsize=3, label="MD")
    grid = np.linspace(1000 / max(T.max(), report["extrapolate_K"]), 1000 / min(T.min(), report["extrapolate_K"]), 100)
    ax.plot(grid, report["D0_cm2_s"] * np.exp(-report["Ea_eV"] / (K_B_EV_K * 1000 / grid)), "k--",
            label=f"Ea = {report['Ea_eV']:.3f} ± {report['Ea_err_eV']:.3f} eV")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("D (cm²/s)")
    ax.legend(fontsize=8)
    save_figure_atomic(fig, path)


def plot_rdf_curves(curves: list[tuple[str, Any, str]], path: str | os.PathLike, max_columns: int = 3,
                    panel_width: float = 4.0) -> None:
    """One panel per pair of the first curve; every ``(label, rdf, linestyle)`` curve that has the pair is drawn."""
    import matplotlib.pyplot as plt

    pairs = list(curves[0][1].g)
    ncol = min(max_columns, len(pairs))
    nrow = int(np.ceil(len(pairs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(panel_width * ncol, 2.8 * nrow), squeeze=False)
    for ax, pair in zip(axes.flat, pairs):
        for label, rdf, style in curves:
            if pair in rdf.g:
                ax.plot(rdf.r_A, rdf.g[pair], style, lw=1, label=label)
        ax.set_title(pair)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def plot_rdf(rdf, path: str | os.PathLike, reference=None) -> None:
    """One panel per pair; the reference (dashed) if given."""
    curves = [("this run", rdf, "-")] + ([("reference", reference, "--")] if reference is not None else [])
    plot_rdf_curves(curves, path)


def plot_lattice(table: dict, path: str | os.PathLike) -> None:
    """a, b, c and V^(1/3) vs T."""
    fig, ax = _figure()
    T = np.asarray(table["T_K"], float)
    for key, label in (("a_A", "a"), ("b_A", "b"), ("c_A", "c")):
        err = np.array([np.nan if e is None else e for e in table[key.replace("_", "_err_", 1)]], float)
        ax.errorbar(T, table[key], yerr=np.nan_to_num(err), fmt="o-", ms=3, capsize=2, label=label)
    ax.plot(T, np.asarray(table["V_A3"], float) ** (1 / 3), "k:", label="V^(1/3)")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("lattice parameter (Å)")
    ax.legend(fontsize=8)
    save_figure_atomic(fig, path)


def plot_transition(T: np.ndarray, ratio: np.ndarray, result, path: str | os.PathLike) -> None:
    """c/a vs T with the fitted order-parameter curve and Tc."""
    fig, ax = _figure()
    ax.plot(T, ratio, "o", label="MD")
    grid = np.linspace(min(T), max(T), 300)
    sign = np.sign(np.mean(np.asarray(ratio)[: max(2, len(ratio) // 4)] - 1)) or 1.0
    ax.plot(grid, 1 + sign * result.eta(grid), "k--", label="fit")
    ax.axvline(result.Tc_K, color="C3", lw=1, label=f"Tc = {result.Tc_K:.0f} ± {result.Tc_err_K:.0f} K")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("c/a")
    ax.legend(fontsize=8)
    save_figure_atomic(fig, path)


def plot_xrd(patterns: Sequence[dict], labels: Sequence[str], path: str | os.PathLike) -> None:
    """Stacked XRD profiles."""
    fig, ax = _figure(5.5, 1.0 + 0.8 * len(patterns))
    for i, (pattern, label) in enumerate(zip(patterns, labels)):
        ax.plot(pattern["two_theta_deg"], np.asarray(pattern["profile"]) + 1.1 * i, lw=0.8)
        ax.text(pattern["two_theta_deg"][-1], 1.1 * i + 0.3, label, ha="right", fontsize=8)
    ax.set_xlabel("2θ (deg)")
    ax.set_yticks([])
    save_figure_atomic(fig, path)


def plot_density_map(dmap, species: str, path: str | os.PathLike) -> None:
    """Projected density as an image, axes in Å along the two lattice vectors."""
    fig, ax = _figure(5.0, 4.5)
    (lu, lv), (u, v) = dmap.lengths_A, dmap.axes
    image = ax.imshow(dmap.density.T, origin="lower", extent=(0, lu, 0, lv), cmap="viridis", aspect="equal")
    fig.colorbar(image, ax=ax, label=f"{species} density / mean")
    names = "abc"
    ax.set_xlabel(f"along {names[u]} (Å)")
    ax.set_ylabel(f"along {names[v]} (Å)")
    save_figure_atomic(fig, path)
