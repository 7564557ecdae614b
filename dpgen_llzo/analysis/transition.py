"""Tetragonal → cubic transition temperature from c/a(T), and the melting volume jump.

Tc: the tetragonal distortion ``η(T) = s (c/a − 1)`` (``s`` makes the low-T distortion
positive; c is the lattice vector most unlike the other two at the lowest T, a the mean of
those two) is fitted with the order-parameter form

    η(T) = A (Tc − T)^β  for T < Tc,   0 above,

minimising the squared residuals (weighted by 1/err² when errors are given) over Tc and β
(A follows in closed form) on a grid refined by Nelder–Mead. The error on Tc is the standard
deviation over a residual bootstrap (refit with resampled residuals added to the fitted
curve), which copes with the kink that makes the covariance error meaningless.

Melting: the largest relative volume jump between consecutive temperatures; it is called
significant when it exceeds five times the median jump.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.errors import UserInputError

BETA_RANGE = (0.05, 2.0)


@dataclass(frozen=True)
class TransitionResult:
    """Fitted t→c transition.

    Attributes
    ----------
    Tc_K, Tc_err_K
        Transition temperature and its bootstrap standard error, K.
    beta, amplitude
        Exponent and amplitude of η = A (Tc − T)^β.
    c_axis
        Index of the unique (c) axis.
    """

    Tc_K: float
    Tc_err_K: float
    beta: float
    amplitude: float
    c_axis: int

    def eta(self, T_K: np.ndarray) -> np.ndarray:
        return self.amplitude * np.clip(self.Tc_K - np.asarray(T_K, float), 0, None) ** self.beta


def unique_axis(lengths: np.ndarray) -> int:
    """Index (0–2) of the length most unlike the other two."""
    lengths = np.asarray(lengths, dtype=float)
    spread = [abs(lengths[i] - np.mean(np.delete(lengths, i))) for i in range(3)]
    return int(np.argmax(spread))


def c_over_a(a: np.ndarray, b: np.ndarray, c: np.ndarray, c_axis: int | None = None) -> tuple[np.ndarray, int]:
    """c/a per temperature with c the unique axis (found at the first row, the lowest T, if None)."""
    stack = np.vstack([a, b, c]).astype(float)
    axis = unique_axis(stack[:, 0]) if c_axis is None else c_axis
    others = [i for i in range(3) if i != axis]
    return stack[axis] / stack[others].mean(axis=0), axis


def _sse(T, eta, w, tc, beta):
    x = np.clip(tc - T, 0, None) ** beta
    denom = np.sum(w * x * x)
    amp = np.sum(w * x * eta) / denom if denom > 0 else 0.0
    return float(np.sum(w * (eta - amp * x) ** 2)), float(amp)


def _fit(T: np.ndarray, eta: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    from scipy.optimize import minimize

    span = T.max() - T.min()
    tcs = np.linspace(T.min(), T.max() + 0.25 * span, 121)
    betas = np.linspace(*BETA_RANGE, 40)
    x = np.clip(tcs[:, None, None] - T, 0, None) ** betas[None, :, None]  # (tc, beta, point)
    denom = np.einsum("ijk,k,ijk->ij", x, w, x)
    amp = np.where(denom > 0, np.einsum("ijk,k,k->ij", x, w, eta) / np.where(denom > 0, denom, 1), 0.0)
    sse = np.einsum("k,ijk->ij", w, (eta - amp[:, :, None] * x) ** 2)
    i, j = np.unravel_index(np.argmin(sse), sse.shape)
    best = (float(sse[i, j]), float(tcs[i]), float(betas[j]))
    res = minimize(lambda p: _sse(T, eta, w, p[0], float(np.clip(p[1], *BETA_RANGE)))[0],
                   x0=[best[1], best[2]], method="Nelder-Mead",
                   options={"xatol": 1e-3 * span, "fatol": 1e-14, "maxiter": 400})
    tc, beta = float(res.x[0]), float(np.clip(res.x[1], *BETA_RANGE))
    if res.fun > best[0]:
        tc, beta = best[1], best[2]
    return tc, beta, _sse(T, eta, w, tc, beta)[1]


def transition_temperature(T_K: np.ndarray, ratio: np.ndarray, ratio_err: np.ndarray | None = None, *,
                           c_axis: int = 2, n_bootstrap: int = 200, seed: int = 0) -> TransitionResult:
    """Tc (K) ± error from c/a(T) (see module docstring).

    Parameters
    ----------
    T_K
        Temperatures, K (≥ 4 points, spanning both phases).
    ratio
        c/a at those temperatures.
    ratio_err
        Standard errors of c/a, or None (unweighted).
    c_axis
        Recorded in the result.
    """
    T = np.asarray(T_K, dtype=float)
    r = np.asarray(ratio, dtype=float)
    if len(T) < 4:
        raise UserInputError(f"a transition fit needs at least 4 temperatures, got {len(T)}")
    order = np.argsort(T)
    T, r = T[order], r[order]
    eta = r - 1.0
    sign = np.sign(np.mean(eta[: max(2, len(eta) // 4)])) or 1.0
    eta = sign * eta
    if ratio_err is not None and np.all(np.isfinite(ratio_err)) and np.all(np.asarray(ratio_err) > 0):
        w = 1.0 / np.asarray(ratio_err, dtype=float)[order] ** 2
    else:
        w = np.ones_like(T)
    tc, beta, amp = _fit(T, eta, w)
    fitted = amp * np.clip(tc - T, 0, None) ** beta
    resid = eta - fitted
    rng = np.random.default_rng(seed)
    tcs = [_fit(T, fitted + rng.choice(resid, size=len(resid), replace=True), w)[0] for _ in range(n_bootstrap)]
    return TransitionResult(tc, float(np.std(tcs, ddof=1)), beta, amp * 1.0, c_axis)


ANALYSES.register("transition", summary="tetragonal→cubic Tc from c/a(T) → 1, melting volume jump")(
    transition_temperature)


def melting_signature(T_K: np.ndarray, volume: np.ndarray) -> dict:
    """Largest relative volume jump between consecutive temperatures.

    Returns
    -------
    dict with ``T_melt_K`` (midpoint of the jump), ``jump_percent`` and ``significant``.
    """
    T = np.asarray(T_K, dtype=float)
    V = np.asarray(volume, dtype=float)
    if len(T) < 3:
        return {"T_melt_K": None, "jump_percent": None, "significant": False}
    order = np.argsort(T)
    T, V = T[order], V[order]
    rel = np.diff(V) / V[:-1]
    i = int(np.argmax(rel))
    med = float(np.median(np.abs(rel)))
    return {"T_melt_K": float(0.5 * (T[i] + T[i + 1])), "jump_percent": float(100 * rel[i]),
            "significant": bool(rel[i] > 5 * med and rel[i] > 0)}
