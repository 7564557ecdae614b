"""The study's post-processing as pure functions: arrays and trajectories in, numbers out.

Every number comes from the analyzers of :mod:`dpgen_llzo.analysis` (c/a and Tc from
:mod:`~dpgen_llzo.analysis.transition`, expansion from :mod:`~dpgen_llzo.analysis.lattice`, D,
σ and Haven ratio from :class:`~dpgen_llzo.analysis.diffusion.DiffusionAnalyzer`, Ea from
:mod:`~dpgen_llzo.analysis.arrhenius`); these functions decide which points enter a fit and
combine the errors. Units: K, Å, Å³, cm²/s, S/cm, eV.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(float(x))


def ratio_error(ratio: float, num: float, num_err: float, den: float, den_err: float) -> float:
    """Standard error of ``num/den`` from independent errors (NaN when one is unknown)."""
    if not (_finite(num_err) and _finite(den_err)) or num == 0 or den == 0:
        return float("nan")
    return abs(ratio) * math.hypot(num_err / num, den_err / den)


def weighted_mean(values: Sequence[float], errors: Sequence[float]) -> tuple[float, float]:
    """Inverse-variance mean and its error; the plain mean and standard error when errors are missing."""
    v = np.asarray([x for x in values], dtype=float)
    e = np.asarray([np.nan if x is None else x for x in errors], dtype=float)
    ok = np.isfinite(v)
    v, e = v[ok], e[ok]
    if len(v) == 0:
        return float("nan"), float("nan")
    if np.all(np.isfinite(e)) and np.all(e > 0):
        w = 1.0 / e**2
        return float(np.sum(w * v) / np.sum(w)), float(1.0 / math.sqrt(np.sum(w)))
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


# ---------------------------------------------------------------------------------------------
# transition


def transition_from_lattice(T_K: Sequence[float], a: Sequence[float], b: Sequence[float], c: Sequence[float],
                            V: Sequence[float], errors: dict[str, Sequence[float]] | None = None, *,
                            n_bootstrap: int = 200, seed: int = 0,
                            expansion_range_K: Sequence[float] | None = None) -> dict[str, Any]:
    """Tc ± error from the lattice parameters of a heating run, and the cubic phase's expansion.

    Parameters
    ----------
    T_K, a, b, c, V
        Temperatures and conventional lattice parameters (Å, Å³), one value per heating step.
    errors
        ``a_A``, ``b_A``, ``c_A`` → standard errors (block averages), optional.
    expansion_range_K
        (lo, hi) of the thermal-expansion fit; default: the steps above the fitted Tc.

    Returns
    -------
    dict with ``Tc_K``, ``Tc_err_K``, ``beta``, ``c_axis``, ``c_over_a`` (and ``_err``),
    ``Tc_bracketed`` (the fitted Tc lies inside the temperature range; when it does not,
    ``Tc_K`` and ``Tc_err_K`` are None and the fit's value is kept as ``Tc_fit_K``),
    ``alpha_linear_per_K`` (of V^⅓, with
    ``_err``), ``alpha_volume_per_K`` and ``expansion_range_K``.
    """
    from dpgen_llzo.analysis.lattice import thermal_expansion
    from dpgen_llzo.analysis.transition import c_over_a, transition_temperature

    T = np.asarray(T_K, dtype=float)
    order = np.argsort(T)
    T = T[order]
    arrays = {k: np.asarray(v, dtype=float)[order] for k, v in (("a", a), ("b", b), ("c", c), ("V", V))}
    ratio, axis = c_over_a(arrays["a"], arrays["b"], arrays["c"])
    ratio_err = None
    if errors:
        errs = np.vstack([np.asarray(errors[k], dtype=float)[order] for k in ("a_A", "b_A", "c_A")])
        lengths = np.vstack([arrays["a"], arrays["b"], arrays["c"]])
        others = [i for i in range(3) if i != axis]
        mean = lengths[others].mean(axis=0)
        mean_err = 0.5 * np.sqrt(errs[others[0]] ** 2 + errs[others[1]] ** 2)
        ratio_err = ratio * np.sqrt((errs[axis] / lengths[axis]) ** 2 + (mean_err / mean) ** 2)
        if not np.all(np.isfinite(ratio_err)) or not np.all(ratio_err > 0):
            ratio_err = None
    fit = transition_temperature(T, ratio, ratio_err, c_axis=axis, n_bootstrap=n_bootstrap, seed=seed)
    bracketed = bool(T.min() < fit.Tc_K < T.max())
    out: dict[str, Any] = {
        "T_K": T, "c_over_a": ratio, "c_over_a_err": ratio_err, "c_axis": axis,
        "Tc_K": fit.Tc_K if bracketed else None, "Tc_err_K": fit.Tc_err_K if bracketed else None,
        "Tc_fit_K": fit.Tc_K, "Tc_fit_err_K": fit.Tc_err_K, "beta": fit.beta, "amplitude": fit.amplitude,
        "Tc_bracketed": bracketed,
    }
    lo, hi = (expansion_range_K if expansion_range_K else (fit.Tc_K if bracketed else T.min(), T.max()))
    sel = (T >= lo) & (T <= hi)
    if sel.sum() < 2:  # Tc at the top of the range: fall back to the whole ramp
        lo, hi = float(T.min()), float(T.max())
    out["expansion_range_K"] = [float(lo), float(hi)]
    try:
        out["alpha_linear_per_K"], out["alpha_linear_err_per_K"] = thermal_expansion(T, arrays["V"] ** (1 / 3), (lo, hi))
        out["alpha_volume_per_K"], out["alpha_volume_err_per_K"] = thermal_expansion(T, arrays["V"], (lo, hi))
    except UserInputError as exc:
        out["alpha_linear_per_K"] = None
        out["expansion_error"] = str(exc)
    return out


# ---------------------------------------------------------------------------------------------
# transport


def diffusion_point(trajectories: Sequence, temperature_K: float, *, n_blocks: int = 5, n_bootstrap: int = 1000,
                    seed: int = 0, regions=None, gb_half_width_A: float = 5.0) -> dict[str, Any]:
    """The ``analyze diffusion`` report of the runs (seeds) at one temperature."""
    from dpgen_llzo.analysis.diffusion import DiffusionAnalyzer

    analyzer = DiffusionAnalyzer(trajectories, temperature_K, n_blocks=n_blocks, n_bootstrap=n_bootstrap, seed=seed,
                                 regions=regions, gb_half_width_A=gb_half_width_A)
    return analyzer.to_dict()


def exclusion_reason(point: dict[str, Any], trust: dict[str, Any] | None = None,
                     exclude_untrusted: bool = False) -> str | None:
    """Why a temperature is left out of the Arrhenius fit (None: it is used).

    Left out: no result (the analysis failed), D ≤ 0 or not finite, an MSD that is not
    diffusive in its fit window (the analyzer's log–log test), and — when asked — frames that
    left the trained domain.
    """
    if point.get("error"):
        return f"analysis failed: {point['error']}"
    D = point.get("D_cm2_s")
    if not _finite(D) or D <= 0:
        return f"D = {D} is not positive"
    if not point.get("diffusive", False):
        warnings = point.get("warnings") or []
        slope = point.get("loglog_slope")
        return "sub-diffusive: " + (warnings[0] if warnings else f"log-log slope {slope} outside [0.9, 1.1]")
    if exclude_untrusted and trust and trust.get("flagged"):
        return f"{100 * trust['share_above_hi']:.1f} % of its frames are above the upper trust level"
    return None


def arrhenius_summary(points: Sequence[dict[str, Any]], extrapolate_K: float = 300.0) -> dict[str, Any]:
    """Ea, D0, σ(T_extrapolate) with its error and the Haven ratio from the points marked ``included``.

    Uses :func:`dpgen_llzo.analysis.arrhenius.arrhenius_report` (D with m = 0, σ_NE and
    σ_collective with the σT form m = −1). The Haven ratio is the inverse-variance mean over
    the included temperatures.
    """
    from dpgen_llzo.analysis.arrhenius import arrhenius_report

    used = [p for p in points if p.get("included")]
    temperatures = sorted({float(p["temperature_K"]) for p in used})
    out: dict[str, Any] = {"temperatures_used_K": temperatures, "extrapolate_K": extrapolate_K}
    if len(temperatures) < 2:
        out["reason"] = f"{len(temperatures)} diffusive temperature(s); an Arrhenius fit needs at least 2"
        return out
    report = arrhenius_report(used, extrapolate_K=extrapolate_K, m_sigma=-1.0)
    key = f"{extrapolate_K:g}K"
    out.update({"Ea_eV": report["Ea_eV"], "Ea_err_eV": report["Ea_err_eV"], "D0_cm2_s": report["D0_cm2_s"],
                "D0_err_cm2_s": report["D0_err_cm2_s"], "chi2_reduced": report["chi2_reduced"],
                f"D_{key}_cm2_s": report[f"D_{key}_cm2_s"], f"D_{key}_err_cm2_s": report[f"D_{key}_err_cm2_s"]})
    for label in ("sigma_NE", "sigma_collective"):
        if label in report:
            out[label] = report[label]
    havens = [(p.get("haven_ratio"), p.get("haven_ratio_err")) for p in used if _finite(p.get("haven_ratio"))]
    if havens:
        out["haven_ratio"], out["haven_ratio_err"] = weighted_mean([h for h, _ in havens], [e for _, e in havens])
    return out


def region_arrhenius(points: Sequence[dict[str, Any]], region: str) -> dict[str, Any]:
    """Ea ± error of one GB-cell region (``gb`` or ``bulk``) over the temperatures where its D > 0."""
    from dpgen_llzo.analysis.arrhenius import arrhenius_fit

    rows = [(p["temperature_K"], p["regions"][region]["D_cm2_s"], p["regions"][region]["D_err_cm2_s"])
            for p in points if p.get("regions") and _finite(p["regions"][region]["D_cm2_s"])
            and p["regions"][region]["D_cm2_s"] > 0]
    if len({r[0] for r in rows}) < 2:
        return {"Ea_eV": None, "reason": f"{len(rows)} temperature(s) with D > 0 in the {region} region"}
    errs = [r[2] for r in rows]
    fit = arrhenius_fit([r[0] for r in rows], [r[1] for r in rows],
                        errs if all(_finite(e) and e > 0 for e in errs) else None, 0.0)
    return {"Ea_eV": fit.Ea_eV, "Ea_err_eV": fit.Ea_err_eV, "D0_cm2_s": fit.prefactor,
            "temperatures_K": [r[0] for r in rows]}


def gb_ratios(point: dict[str, Any], bulk_D: tuple[float, float] | None) -> dict[str, Any]:
    """D_GB / D_interior of one GB run and D_GB / D_bulk (the bulk section's D at that T), with errors."""
    gb, interior = point["regions"]["gb"], point["regions"]["bulk"]
    out: dict[str, Any] = {"D_gb_cm2_s": gb["D_cm2_s"], "D_gb_err_cm2_s": gb["D_err_cm2_s"],
                           "D_interior_cm2_s": interior["D_cm2_s"], "D_interior_err_cm2_s": interior["D_err_cm2_s"],
                           "gb_fraction": gb["fraction"]}
    ratio = gb["D_cm2_s"] / interior["D_cm2_s"] if _finite(interior["D_cm2_s"]) and interior["D_cm2_s"] else float("nan")
    out["D_gb_over_interior"] = ratio
    out["D_gb_over_interior_err"] = ratio_error(ratio, gb["D_cm2_s"], gb["D_err_cm2_s"], interior["D_cm2_s"],
                                                interior["D_err_cm2_s"])
    if bulk_D is not None and _finite(bulk_D[0]) and bulk_D[0] > 0:
        r = gb["D_cm2_s"] / bulk_D[0]
        out["D_bulk_cm2_s"], out["D_bulk_err_cm2_s"] = bulk_D
        out["D_gb_over_bulk"] = r
        out["D_gb_over_bulk_err"] = ratio_error(r, gb["D_cm2_s"], gb["D_err_cm2_s"], bulk_D[0], bulk_D[1])
    return out


def bulk_D_at(temperature_K: float, bulk_points: Sequence[dict[str, Any]]) -> tuple[float, float] | None:
    """The bulk section's D (and error) at ``temperature_K``: its own point when it ran there and was
    used, else the Arrhenius fit of its used points evaluated there (error from the fit covariance)."""
    from dpgen_llzo.analysis.arrhenius import arrhenius_fit

    used = [p for p in bulk_points if p.get("included")]
    for p in used:
        if abs(p["temperature_K"] - temperature_K) < 1e-6:
            return p["D_cm2_s"], p["D_err_cm2_s"]
    if len({p["temperature_K"] for p in used}) < 2:
        return None
    errs = [p["D_err_cm2_s"] for p in used]
    fit = arrhenius_fit([p["temperature_K"] for p in used], [p["D_cm2_s"] for p in used],
                        errs if all(_finite(e) and e > 0 for e in errs) else None, 0.0)
    D, err = fit.predict(temperature_K)
    return float(D), float(err)
