"""Tracer diffusion, Nernst–Einstein and collective conductivity, Haven ratio, GB regions.

One analyzer, :class:`DiffusionAnalyzer`, built from one or more independent runs at the
same temperature (``--seeds``), answers all of them; the pure functions below do the work.

Uncertainty
-----------
*Tracer D*: bootstrap over ions. Each ion's whole MSD curve (all time origins) is one sample;
ions of all runs are pooled and resampled with replacement (``n_bootstrap`` times), the mean
MSD refitted in the same window, and the standard deviation of the refitted D is the error.
Resampling whole curves keeps the strong correlation between MSD points at different lags,
which the naive least-squares error ignores. It assumes ions move independently; correlated
(concerted) motion shows up in the collective MSD and the Haven ratio.

*Collective σ*: block method (Gigli et al., Chem. Mater. 2024; seed 002). Every run is cut
into ``n_blocks`` equal consecutive blocks; in each block the MSD of the summed displacement
is computed over all time origins and fitted in the tracer window scaled to the block
length; σ is the mean over all blocks of all runs and its error the standard error of the
mean. Haven ratio ``H = σ_NE / σ_coll`` with relative errors added in quadrature.

Formulas (science.md §4): ``D = slope/6``; ``σ_NE = N q² D / (V k_B T)``;
``σ_coll = q² ⟨|Σ_i Δr_i(t)|²⟩ / (6 t V k_B T)``. Units: Å, ps, K, cm²/s, S/cm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dpgen_llzo.analysis import units
from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.fitting import (WINDOW_FRACTIONS, FitWindow, candidate_lags, choose_fit_window, fit_lags,
                                         line_fit)
from dpgen_llzo.analysis.msd import collective_msd, masked_msd_sums, per_ion_msd
from dpgen_llzo.analysis.regions import DEFAULT_GB_HALF_WIDTH_A, GrainBoundaryPlanes, gb_mask
from dpgen_llzo.analysis.trajectory import Trajectory
from dpgen_llzo.errors import UserInputError

MIN_FRAMES = 20
DEFAULT_BLOCKS = 5
DEFAULT_BOOTSTRAP = 1000


def nernst_einstein_conductivity(D_cm2_s: float, n_ions: float, volume_A3: float, temperature_K: float,
                                 charge: float = 1.0) -> float:
    """Nernst–Einstein conductivity σ = N q² D / (V k_B T), S/cm.

    Parameters
    ----------
    D_cm2_s
        Tracer diffusion coefficient, cm²/s.
    n_ions
        Mobile ions in the cell.
    volume_A3
        Cell volume, Å³.
    temperature_K
        Temperature, K.
    charge
        Ion charge in units of e.
    """
    q = charge * units.E_CHARGE_C
    sigma_S_m = (n_ions * q**2 * D_cm2_s * units.CM2_PER_S_TO_M2_PER_S
                 / (volume_A3 * units.A3_TO_M3 * units.K_B_J_K * temperature_K))
    return sigma_S_m * units.S_PER_M_TO_S_PER_CM


def conductivity_from_collective_slope(slope_A2_ps: float, volume_A3: float, temperature_K: float,
                                       charge: float = 1.0) -> float:
    """σ (S/cm) from the slope (Å²/ps) of the MSD of the summed ion displacement."""
    return nernst_einstein_conductivity(slope_A2_ps / 6.0 * units.A2_PER_PS_TO_CM2_PER_S, 1.0, volume_A3,
                                        temperature_K, charge)


@dataclass
class TracerResult:
    """Tracer diffusion coefficient of one species (or one region)."""

    D_cm2_s: float
    D_err_cm2_s: float
    window: FitWindow
    n_ions: int
    intercept_A2: float
    bootstrap_D_cm2_s: np.ndarray = field(repr=False)
    fraction: float = 1.0  # share of ion-origins in this region


@dataclass
class CollectiveResult:
    """Collective (charge) conductivity from blocks."""

    sigma_S_cm: float
    sigma_err_S_cm: float
    block_sigma_S_cm: np.ndarray
    block_ps: float
    window_ps: tuple[float, float]
    lag_times_ps: np.ndarray = field(repr=False)
    msd_A2: np.ndarray = field(repr=False)


def _check_runs(trajectories: Sequence[Trajectory]) -> tuple[int, float]:
    if not trajectories:
        raise UserInputError("no trajectory given")
    dts = [t.dt_ps for t in trajectories]
    if any(abs(dt - dts[0]) > 1e-9 * max(abs(dts[0]), 1e-30) for dt in dts):
        raise UserInputError(f"runs have different frame spacings ({', '.join(f'{d:g}' for d in dts)} ps)")
    species = {t.species for t in trajectories}
    if len(species) > 1:
        raise UserInputError(f"runs follow different species: {sorted(species)}")
    n_frames = min(t.n_frames for t in trajectories)
    if n_frames < MIN_FRAMES:
        raise UserInputError(f"{trajectories[0].source}: {n_frames} frames; diffusion needs at least {MIN_FRAMES}")
    return n_frames, dts[0]


def _bootstrap_slopes(curves: np.ndarray, t: np.ndarray, n_bootstrap: int, rng: np.random.Generator,
                      counts: np.ndarray | None = None) -> np.ndarray:
    """Slopes of ion-resampled mean MSD curves; ``curves`` is (n_points, n_ions)."""
    n_ions = curves.shape[1]
    picks = rng.multinomial(n_ions, np.full(n_ions, 1.0 / n_ions), size=n_bootstrap).astype(float)
    if counts is None:
        means = picks @ curves.T / n_ions
    else:
        means = (picks @ curves.T) / np.maximum(picks @ counts.T, 1e-300)
    return line_fit(t, means)[0]


def _pooled_msd(trajectories: Sequence[Trajectory], n_frames: int, lags: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Ion-averaged MSD of all runs up to ``max(lags)`` and every ion's MSD at ``lags``."""
    max_lag = int(lags.max())
    msd_sum = np.zeros(max_lag + 1)
    per_ion = []
    n_total = 0
    for traj in trajectories:
        mean, keep = per_ion_msd(traj.positions[:n_frames], lags, max_lag=max_lag)
        msd_sum += mean * traj.n_ions
        per_ion.append(keep)
        n_total += traj.n_ions
    return msd_sum / n_total, np.concatenate(per_ion, axis=1), n_total


def tracer_diffusion(trajectories: Sequence[Trajectory], fit_window_ps: tuple[float, float] | None = None,
                     n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0
                     ) -> tuple[TracerResult, np.ndarray, np.ndarray]:
    """Tracer D (cm²/s) from the FFT MSD of all ions of all runs, with a bootstrap error.

    Returns
    -------
    result, lag_times_ps, msd_A2
        The fit and the ion-averaged MSD (Å²) at every lag up to the largest one the fit
        could use (half the run for the automatic rule).
    """
    n_frames, dt = _check_runs(trajectories)
    duration = (n_frames - 1) * dt
    # The automatic rule tries the shortest window first; computing the MSD only up to its end
    # first (FFT length 1.1 T instead of 1.5 T) saves a quarter of the work when it qualifies.
    stages = [WINDOW_FRACTIONS[:1], WINDOW_FRACTIONS] if fit_window_ps is None else [None]
    for windows in stages:
        lags = candidate_lags(n_frames, dt, fit_window_ps, windows=windows or WINDOW_FRACTIONS)
        msd, per_ion_all, n_total = _pooled_msd(trajectories, n_frames, lags)
        lag_times = np.arange(len(msd)) * dt
        window = choose_fit_window(lag_times, msd, duration, fit_window_ps)
        if window.diffusive:
            break
    idx = fit_lags(lags, dt, window)
    t = lags[idx] * dt
    slope, intercept = line_fit(t, msd[lags[idx]])
    boot = _bootstrap_slopes(per_ion_all[idx], t, n_bootstrap, np.random.default_rng(seed))
    to_cm2 = units.A2_PER_PS_TO_CM2_PER_S / 6.0
    result = TracerResult(float(slope) * to_cm2, float(np.std(boot, ddof=1)) * to_cm2, window, n_total,
                          float(intercept), boot * to_cm2)
    return result, lag_times, msd


def collective_conductivity(trajectories: Sequence[Trajectory], temperature_K: float, window: FitWindow,
                            n_blocks: int = DEFAULT_BLOCKS, charge: float = 1.0) -> CollectiveResult:
    """Collective σ (S/cm) by the block method; ``window`` is the tracer window of the full runs.

    The window is scaled by block length / run length so its fractions of the block match.
    """
    n_frames, dt = _check_runs(trajectories)
    duration = (n_frames - 1) * dt
    blocks = [b for traj in trajectories for b in _blocks(traj, n_frames, n_blocks)]
    block_frames = blocks[0].n_frames
    block_duration = (block_frames - 1) * dt
    scale = block_duration / duration
    bwin = (window.start_ps * scale, window.end_ps * scale)
    lags = np.arange(block_frames)
    t_all = lags * dt
    sel = (t_all >= bwin[0] - 1e-9) & (t_all <= bwin[1] + 1e-9)
    if sel.sum() < 2:
        raise UserInputError(f"blocks of {block_frames} frames are too short for a collective fit;"
                             " use fewer --blocks or a longer run")
    sigmas, curves = [], []
    for block in blocks:
        cmsd = collective_msd(block.positions)
        slope = line_fit(t_all[sel], cmsd[sel])[0]
        sigmas.append(conductivity_from_collective_slope(float(slope), block.mean_volume_A3, temperature_K, charge))
        curves.append(cmsd)
    sigmas = np.array(sigmas)
    err = float(np.std(sigmas, ddof=1) / math.sqrt(len(sigmas))) if len(sigmas) > 1 else float("nan")
    return CollectiveResult(float(sigmas.mean()), err, sigmas, block_duration, bwin, t_all, np.mean(curves, axis=0))


def _blocks(traj: Trajectory, n_frames: int, n_blocks: int) -> list[Trajectory]:
    trimmed = Trajectory(traj.positions[:n_frames], traj.times_ps[:n_frames], traj.cells[:n_frames],
                         traj.species, traj.n_atoms, traj.framework_drift_A[:n_frames], traj.source)
    if n_blocks < 1:
        raise UserInputError(f"--blocks must be ≥ 1, got {n_blocks}")
    return trimmed.split_blocks(n_blocks) if n_blocks > 1 else [trimmed]


def region_diffusion(trajectories: Sequence[Trajectory], planes: GrainBoundaryPlanes, window: FitWindow,
                     half_width_A: float = DEFAULT_GB_HALF_WIDTH_A, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                     seed: int = 0) -> dict[str, TracerResult]:
    """Tracer D in the GB region (≤ ``half_width_A`` from a plane at the time origin) and in the bulk.

    Each (ion, time origin) pair is assigned to a region by the ion's position at the origin;
    the region MSD averages only over those pairs. Errors: bootstrap over ions.
    """
    n_frames, dt = _check_runs(trajectories)
    lags = candidate_lags(n_frames, dt, (window.start_ps, window.end_ps), max_points=200)
    t = lags * dt
    out: dict[str, TracerResult] = {}
    sums = {"gb": ([], []), "bulk": ([], [])}
    fractions = {"gb": [], "bulk": []}
    for traj in trajectories:
        pos = traj.positions[:n_frames]
        in_gb = gb_mask(pos, traj.cells[:n_frames], planes, half_width_A)
        for name, weights in (("gb", in_gb), ("bulk", ~in_gb)):
            num, count = masked_msd_sums(pos, weights, lags)
            sums[name][0].append(num)
            sums[name][1].append(count)
            fractions[name].append(weights.mean())
    rng = np.random.default_rng(seed)
    to_cm2 = units.A2_PER_PS_TO_CM2_PER_S / 6.0
    for name, (nums, counts) in sums.items():
        num, count = np.concatenate(nums, axis=1), np.concatenate(counts, axis=1)
        total = count.sum(axis=1)
        if np.any(total == 0):
            out[name] = TracerResult(float("nan"), float("nan"), window, 0, float("nan"), np.array([]),
                                     float(np.mean(fractions[name])))
            continue
        slope, intercept = line_fit(t, num.sum(axis=1) / total)
        boot = _bootstrap_slopes(num, t, n_bootstrap, rng, counts=count)
        n_ions = int(np.count_nonzero(count[0]))
        out[name] = TracerResult(float(slope) * to_cm2, float(np.std(boot, ddof=1)) * to_cm2, window, n_ions,
                                 float(intercept), boot * to_cm2, float(np.mean(fractions[name])))
    return out


@ANALYSES.register("diffusion", summary="tracer D, Nernst–Einstein and collective σ, Haven ratio, GB regions")
class DiffusionAnalyzer:
    """Everything the ``analyze diffusion`` command reports, for one temperature.

    Parameters
    ----------
    trajectories
        One or more independent runs (same species, frame spacing and temperature).
    temperature_K
        Temperature, K.
    fit_window_ps
        (start, end) of the MSD fit, ps; None applies the rule of :mod:`.fitting`.
    n_blocks
        Blocks per run for the collective conductivity.
    n_bootstrap, seed
        Bootstrap draws over ions and their random seed.
    charge
        Ion charge, e.
    regions, gb_half_width_A
        GB planes and the half-width of the GB region, Å (optional).
    """

    def __init__(self, trajectories: Sequence[Trajectory], temperature_K: float, *,
                 fit_window_ps: tuple[float, float] | None = None, n_blocks: int = DEFAULT_BLOCKS,
                 n_bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, charge: float = 1.0,
                 regions: GrainBoundaryPlanes | None = None,
                 gb_half_width_A: float = DEFAULT_GB_HALF_WIDTH_A) -> None:
        if not temperature_K or temperature_K <= 0:
            raise UserInputError(f"temperature must be positive (K), got {temperature_K}")
        self.trajectories = list(trajectories)
        self.temperature_K = float(temperature_K)
        self.charge = charge
        self.tracer, self.lag_times_ps, self.msd_A2 = tracer_diffusion(
            self.trajectories, fit_window_ps, n_bootstrap, seed)
        self.volume_A3 = float(np.mean([t.mean_volume_A3 for t in self.trajectories]))
        self.n_ions = self.trajectories[0].n_ions
        self.sigma_NE_S_cm = nernst_einstein_conductivity(self.tracer.D_cm2_s, self.n_ions, self.volume_A3,
                                                          self.temperature_K, charge)
        self.sigma_NE_err_S_cm = self.sigma_NE_S_cm * _rel(self.tracer.D_err_cm2_s, self.tracer.D_cm2_s)
        self.collective = collective_conductivity(self.trajectories, self.temperature_K, self.tracer.window,
                                                  n_blocks, charge)
        self.regions = regions
        self.gb_half_width_A = gb_half_width_A
        self.region_results = (region_diffusion(self.trajectories, regions, self.tracer.window, gb_half_width_A,
                                                n_bootstrap, seed) if regions is not None else None)

    @classmethod
    def from_files(cls, paths: Sequence[str], species: str, timestep_fs: float, temperature_K: float, *,
                   fmt: str | None = None, type_map: Sequence[str] | None = None, dump_every: int = 1,
                   remove_drift: bool = True, **kwargs) -> "DiffusionAnalyzer":
        """Read every run (see :func:`.readers.load_trajectory`) and analyse them together."""
        from dpgen_llzo.analysis.readers import load_trajectory

        runs = [load_trajectory(p, species, timestep_fs, fmt=fmt, type_map=type_map, dump_every=dump_every,
                                remove_drift=remove_drift) for p in paths]
        return cls(runs, temperature_K, **kwargs)

    @property
    def haven_ratio(self) -> tuple[float, float]:
        """H = σ_NE / σ_coll and its error."""
        h = self.sigma_NE_S_cm / self.collective.sigma_S_cm if self.collective.sigma_S_cm else float("nan")
        rel = math.hypot(_rel(self.tracer.D_err_cm2_s, self.tracer.D_cm2_s),
                         _rel(self.collective.sigma_err_S_cm, self.collective.sigma_S_cm))
        return h, abs(h) * rel

    def to_dict(self, max_points: int = 400) -> dict:
        """JSON-ready report (keys listed in the ``analyze diffusion`` help)."""
        tr, col = self.tracer, self.collective
        h, h_err = self.haven_ratio
        runs = self.trajectories
        pick = np.unique(np.geomspace(1, len(self.msd_A2) - 1, max_points).astype(int))
        out = {
            "species": runs[0].species, "temperature_K": self.temperature_K, "n_ions": self.n_ions,
            "n_runs": len(runs), "runs": [r.source for r in runs],
            "n_frames": min(r.n_frames for r in runs), "dt_ps": runs[0].dt_ps,
            "duration_ps": min(r.duration_ps for r in runs), "volume_A3": self.volume_A3,
            "D_cm2_s": tr.D_cm2_s, "D_err_cm2_s": tr.D_err_cm2_s,
            "sigma_NE_S_cm": self.sigma_NE_S_cm, "sigma_NE_err_S_cm": self.sigma_NE_err_S_cm,
            "sigma_collective_S_cm": col.sigma_S_cm, "sigma_collective_err_S_cm": col.sigma_err_S_cm,
            "haven_ratio": h, "haven_ratio_err": h_err,
            "fit_window_ps": [tr.window.start_ps, tr.window.end_ps], "fit_window_rule": tr.window.rule,
            "loglog_slope": tr.window.loglog_slope, "diffusive": tr.window.diffusive,
            "msd_intercept_A2": tr.intercept_A2,
            "error_method": {"D": f"bootstrap over {tr.n_ions} ions ({len(tr.bootstrap_D_cm2_s)} draws)",
                             "sigma_collective": f"block method: {len(col.block_sigma_S_cm)} blocks of "
                                                 f"{col.block_ps:g} ps, standard error of the mean"},
            "collective_fit_window_ps": list(col.window_ps), "collective_block_ps": col.block_ps,
            "sigma_collective_blocks_S_cm": col.block_sigma_S_cm.tolist(),
            "framework_drift_removed_A": float(max(np.abs(r.framework_drift_A).max() for r in runs)),
            "warnings": tr.window.warnings(),
            "msd": {"t_ps": self.lag_times_ps[pick], "tracer_A2": self.msd_A2[pick]},
        }
        if self.region_results is not None:
            out["regions"] = {"planes": self.regions.to_dict(), "half_width_A": self.gb_half_width_A}
            for name, res in self.region_results.items():
                out["regions"][name] = {"D_cm2_s": res.D_cm2_s, "D_err_cm2_s": res.D_err_cm2_s,
                                        "fraction": res.fraction, "n_ions_visiting": res.n_ions}
            gb, bulk = self.region_results["gb"].D_cm2_s, self.region_results["bulk"].D_cm2_s
            out["regions"]["D_gb_over_bulk"] = gb / bulk if bulk else float("nan")
        return out


def _rel(err: float, value: float) -> float:
    return abs(err / value) if value else float("nan")
