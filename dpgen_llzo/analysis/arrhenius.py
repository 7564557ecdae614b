"""Arrhenius fits of D(T) and σ(T), with extrapolation to room temperature.

Model: ``y(T) = A T^m exp(−Ea / k_B T)``; ``m = 0`` for ``D(T) = D0 exp(−Ea/kT)`` and
``m = −1`` for the modified conductivity form ``σ(T) = σ0 T⁻¹ exp(−Ea/kT)`` (DPA-SSE seed).
Fitted as the straight line ``ln(y T^−m) = ln A − Ea/(k_B T)`` by weighted least squares with
weights ``1/σ_ln²``, ``σ_ln = y_err / y``. The parameter covariance is ``(Xᵀ W X)⁻¹``, scaled
by the reduced χ² when that exceeds 1 (scatter larger than the error bars) — so the error
never claims more precision than the points' spread supports. Without error bars the fit is
unweighted and the covariance comes from the residuals. Extrapolations carry the full
covariance: ``var ln y(T) = var lnA + var Ea/(kT)² − 2 cov(lnA, Ea)/(kT)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.units import K_B_EV_K
from dpgen_llzo.errors import UserInputError


@dataclass(frozen=True)
class ArrheniusFit:
    """Result of :func:`arrhenius_fit`.

    Attributes
    ----------
    Ea_eV, Ea_err_eV
        Activation energy and its standard error, eV.
    prefactor, prefactor_err
        ``A`` (units of y × K^−m) and its (linearised) standard error.
    ln_prefactor, cov
        ``ln A`` and the covariance matrix of (ln A, Ea).
    m
        Temperature exponent.
    chi2_reduced
        Reduced χ² of the weighted fit (NaN with ≤ 2 points or no weights).
    """

    Ea_eV: float
    Ea_err_eV: float
    prefactor: float
    prefactor_err: float
    ln_prefactor: float
    cov: np.ndarray
    m: float
    chi2_reduced: float

    def predict(self, temperature_K: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``y(T)`` and its standard error (linearised from the log), same units as the input y."""
        T = np.asarray(temperature_K, dtype=float)
        inv_kT = 1.0 / (K_B_EV_K * T)
        ln_y = self.ln_prefactor - self.Ea_eV * inv_kT + self.m * np.log(T)
        var = self.cov[0, 0] + self.cov[1, 1] * inv_kT**2 - 2 * self.cov[0, 1] * inv_kT
        y = np.exp(ln_y)
        return y, y * np.sqrt(np.maximum(var, 0.0))


def arrhenius_fit(temperatures_K: Sequence[float], values: Sequence[float],
                  errors: Sequence[float] | None = None, m: float = 0.0) -> ArrheniusFit:
    """Fit ``y = A T^m exp(−Ea/k_B T)`` (see module docstring).

    Parameters
    ----------
    temperatures_K
        Temperatures, K (at least two distinct).
    values
        D (cm²/s) or σ (S/cm) at those temperatures, all > 0.
    errors
        Standard errors of ``values`` (same units), or None.
    m
        Temperature exponent (0 for D, −1 for the σT form).
    """
    T = np.asarray(temperatures_K, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(T) != len(y):
        raise UserInputError("temperatures and values differ in length")
    if len(np.unique(T)) < 2:
        raise UserInputError(f"an Arrhenius fit needs at least two temperatures, got {sorted(set(T.tolist()))}")
    if np.any(T <= 0) or np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise UserInputError("Arrhenius fit needs positive temperatures and positive, finite values")
    ln_y = np.log(y) - m * np.log(T)
    X = np.column_stack([np.ones_like(T), -1.0 / (K_B_EV_K * T)])
    weighted = errors is not None and np.all(np.asarray(errors, dtype=float) > 0)
    w = 1.0 / (np.asarray(errors, dtype=float) / y) ** 2 if weighted else np.ones_like(T)
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    beta = cov @ XtW @ ln_y
    resid = ln_y - X @ beta
    dof = len(T) - 2
    chi2 = float(np.sum(w * resid**2) / dof) if dof > 0 else float("nan")
    if not weighted:
        cov = cov * chi2 if dof > 0 else np.zeros((2, 2))
        chi2_rep = float("nan")
    else:
        if dof > 0 and chi2 > 1.0:
            cov = cov * chi2
        chi2_rep = chi2
    ln_a, ea = float(beta[0]), float(beta[1])
    a = math.exp(ln_a)
    return ArrheniusFit(ea, math.sqrt(max(cov[1, 1], 0.0)), a, a * math.sqrt(max(cov[0, 0], 0.0)), ln_a, cov,
                        float(m), chi2_rep)


ANALYSES.register("arrhenius", summary="Ea and prefactor from D(T) or σ(T) (m = 0 or −1), 300 K extrapolation")(
    arrhenius_fit)


def arrhenius_report(results: Sequence[dict], extrapolate_K: float = 300.0, m_sigma: float = -1.0) -> dict:
    """Fit D(T), σ_NE(T) (and σ_coll(T) when present) from diffusion result dicts.

    Parameters
    ----------
    results
        Dicts with ``temperature_K``, ``D_cm2_s``, ``D_err_cm2_s``, ``sigma_NE_S_cm`` … as written
        by ``analyze diffusion``.
    extrapolate_K
        Temperature of the extrapolation, K.
    m_sigma
        Exponent of T in the σ fit.
    """
    T = [float(r["temperature_K"]) for r in results]
    out: dict = {"temperatures_K": T, "extrapolate_K": extrapolate_K}
    fit = arrhenius_fit(T, [r["D_cm2_s"] for r in results], _errs(results, "D_err_cm2_s"), 0.0)
    y, e = fit.predict(extrapolate_K)
    out.update({"Ea_eV": fit.Ea_eV, "Ea_err_eV": fit.Ea_err_eV, "D0_cm2_s": fit.prefactor,
                "D0_err_cm2_s": fit.prefactor_err, "chi2_reduced": fit.chi2_reduced,
                f"D_{extrapolate_K:g}K_cm2_s": float(y), f"D_{extrapolate_K:g}K_err_cm2_s": float(e)})
    for key, err_key, label in (("sigma_NE_S_cm", "sigma_NE_err_S_cm", "sigma_NE"),
                                ("sigma_collective_S_cm", "sigma_collective_err_S_cm", "sigma_collective")):
        vals = [r.get(key) for r in results]
        if any(v is None or not v > 0 for v in vals):
            continue
        sfit = arrhenius_fit(T, vals, _errs(results, err_key), m_sigma)
        sy, se = sfit.predict(extrapolate_K)
        out[label] = {"m": m_sigma, "Ea_eV": sfit.Ea_eV, "Ea_err_eV": sfit.Ea_err_eV,
                      "sigma0_S_cm_K": sfit.prefactor, "sigma0_err_S_cm_K": sfit.prefactor_err,
                      "chi2_reduced": sfit.chi2_reduced,
                      f"sigma_{extrapolate_K:g}K_S_cm": float(sy), f"sigma_{extrapolate_K:g}K_err_S_cm": float(se)}
    return out


def _errs(results: Sequence[dict], key: str) -> list[float] | None:
    errs = [r.get(key) for r in results]
    return None if any(e is None or not e > 0 for e in errs) else [float(e) for e in errs]
