"""Choosing the diffusive fit window and fitting straight lines to MSD curves.

Fit-window rule (automatic; ``fit_window_ps`` overrides it)
-----------------------------------------------------------
With ``t_max`` the run length, three windows are tried, shortest first:
``[0.02, 0.10]``, ``[0.05, 0.25]`` and ``[0.10, 0.50] × t_max``. The first whose log–log
slope ``d ln MSD / d ln t`` (least squares over the window) lies in ``[0.9, 1.1]`` is used:
the ballistic (slope 2) and caged/sub-diffusive (slope < 1) parts are thereby excluded.
Short windows are preferred because the MSD at lag t, averaged over the overlapping origins
of one run, has a relative variance growing like t / t_max: for independent random walkers a
[0.02, 0.1] window gives D with ~2.5× less scatter than [0.1, 0.5]. Windows holding fewer
than 5 lags are skipped. If no window qualifies, the one with the slope closest to 1 is used
and flagged ``diffusive = False`` (run longer or hotter). The MSD is then fitted as
``MSD = 6 D t + b`` by ordinary least squares on ≤ 200 evenly spaced lags inside the window;
the intercept absorbs the vibrational offset. The error bar does not come from this fit
(see :mod:`.diffusion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpgen_llzo.errors import UserInputError

WINDOW_FRACTIONS = ((0.02, 0.10), (0.05, 0.25), (0.10, 0.50))
MIN_WINDOW_LAGS = 5
MIN_LOGLOG_SLOPE = 0.9
MAX_LOGLOG_SLOPE = 1.1
MAX_FIT_POINTS = 200


@dataclass(frozen=True)
class FitWindow:
    """Lag-time window of the linear MSD fit.

    Attributes
    ----------
    start_ps, end_ps
        Window bounds, ps.
    loglog_slope
        Slope of ln MSD against ln t over the window (1 = diffusive).
    diffusive
        Whether the slope passed the diffusive test (always True for a user window).
    rule
        ``"auto"`` or ``"user"``.
    """

    start_ps: float
    end_ps: float
    loglog_slope: float
    diffusive: bool
    rule: str

    def warnings(self) -> list[str]:
        out = []
        if self.loglog_slope < MIN_LOGLOG_SLOPE:
            out.append(f"MSD is sub-diffusive in the fit window (log-log slope {self.loglog_slope:.2f} < "
                       f"{MIN_LOGLOG_SLOPE}): D is not converged; run longer or hotter")
        if self.loglog_slope > MAX_LOGLOG_SLOPE:
            out.append(f"MSD is super-diffusive in the fit window (log-log slope {self.loglog_slope:.2f}):"
                       " drift or too few hops")
        return out


def candidate_lags(n_frames: int, dt_ps: float, fit_window_ps: tuple[float, float] | None,
                   max_points: int = 4 * MAX_FIT_POINTS,
                   windows: tuple[tuple[float, float], ...] = WINDOW_FRACTIONS) -> np.ndarray:
    """Frame lags that cover every rule window in ``windows`` (or the user window)."""
    if fit_window_ps is None:
        lo = min(f[0] for f in windows) * (n_frames - 1)
        hi = max(f[1] for f in windows) * (n_frames - 1)
    else:
        lo, hi = fit_window_ps[0] / dt_ps, fit_window_ps[1] / dt_ps
        if not 0 <= lo < hi <= n_frames - 1:
            raise UserInputError(f"fit window {fit_window_ps[0]}–{fit_window_ps[1]} ps is outside the "
                                 f"0–{(n_frames - 1) * dt_ps:g} ps of lag times available")
    lags = np.unique(np.round(np.linspace(lo, hi, max_points)).astype(int))
    lags = lags[lags >= 1] if len(lags[lags >= 1]) >= 2 else lags
    if len(lags) < 2:
        raise UserInputError(f"only {n_frames} frames: too few lag times to fit a diffusion coefficient")
    return lags


def loglog_slope(t: np.ndarray, msd: np.ndarray) -> float:
    """Least-squares slope of ln MSD vs ln t (points with t, MSD > 0)."""
    ok = (t > 0) & (msd > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(t[ok]), np.log(msd[ok]), 1)[0])


def choose_fit_window(lag_times_ps: np.ndarray, msd: np.ndarray, duration_ps: float,
                      fit_window_ps: tuple[float, float] | None = None) -> FitWindow:
    """Apply the module's fit-window rule to an MSD sampled at ``lag_times_ps``.

    Parameters
    ----------
    lag_times_ps, msd
        MSD (Å²) at lag times (ps).
    duration_ps
        Run length ``t_max``, ps.
    fit_window_ps
        User window (start, end) in ps; skips the rule.
    """
    if fit_window_ps is not None:
        sel = (lag_times_ps >= fit_window_ps[0]) & (lag_times_ps <= fit_window_ps[1])
        return FitWindow(float(fit_window_ps[0]), float(fit_window_ps[1]),
                         loglog_slope(lag_times_ps[sel], msd[sel]), True, "user")
    tried = []
    for lo, hi in WINDOW_FRACTIONS:
        start, end = lo * duration_ps, hi * duration_ps
        sel = (lag_times_ps >= start - 1e-9) & (lag_times_ps <= end + 1e-9) & (lag_times_ps > 0)
        if sel.sum() < MIN_WINDOW_LAGS or end > lag_times_ps[-1] * (1 + 1e-9) + 1e-9:
            continue  # too few lags, or the MSD given does not reach the window's end
        slope = loglog_slope(lag_times_ps[sel], msd[sel])
        if MIN_LOGLOG_SLOPE <= slope <= MAX_LOGLOG_SLOPE:
            return FitWindow(start, end, slope, True, "auto")
        tried.append((abs(slope - 1.0) if np.isfinite(slope) else np.inf, start, end, slope))
    if not tried:
        lo, hi = WINDOW_FRACTIONS[-1]
        return FitWindow(lo * duration_ps, hi * duration_ps, float("nan"), False, "auto")
    _, start, end, slope = min(tried)
    return FitWindow(start, end, slope, False, "auto")


def fit_lags(lags: np.ndarray, dt_ps: float, window: FitWindow, max_points: int = MAX_FIT_POINTS) -> np.ndarray:
    """Indices into ``lags`` of ≤ ``max_points`` evenly spread lags inside ``window``."""
    t = lags * dt_ps
    inside = np.flatnonzero((t >= window.start_ps - 1e-9) & (t <= window.end_ps + 1e-9))
    if len(inside) < 2:
        raise UserInputError(f"fit window {window.start_ps:g}–{window.end_ps:g} ps holds fewer than 2 lag times")
    if len(inside) > max_points:
        inside = inside[np.unique(np.round(np.linspace(0, len(inside) - 1, max_points)).astype(int))]
    return inside


def line_fit(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least-squares slope and intercept of ``y`` against ``t``.

    ``y`` may be ``(n_points,)`` or ``(n_curves, n_points)``; the fit is vectorised over curves.
    """
    t = np.asarray(t, dtype=float)
    tc = t - t.mean()
    y = np.asarray(y, dtype=float)
    slope = (y - y.mean(axis=-1, keepdims=True)) @ tc / (tc @ tc)
    intercept = y.mean(axis=-1) - slope * t.mean()
    return slope, intercept
