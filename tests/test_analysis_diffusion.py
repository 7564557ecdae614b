"""Diffusion: known-D random walks, honest error bars, conductivity, Haven ratio, GB regions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpgen_llzo.analysis import (DiffusionAnalyzer, GrainBoundaryPlanes, Trajectory, choose_fit_window,
                                 load_trajectory, nernst_einstein_conductivity, per_ion_msd, tracer_diffusion)
from dpgen_llzo.analysis.msd import collective_msd, direct_msd, masked_msd_sums
from dpgen_llzo.analysis.synthetic import random_walk_positions, random_walk_system, write_lammps_dump
from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError

TYPE_MAP = ["Li", "La", "O"]


def _traj(pos, dt=0.1, box=30.0):
    n = len(pos)
    return Trajectory(pos, np.arange(n) * dt, np.tile(np.eye(3) * box, (n, 1, 1)), "Li", pos.shape[1])


def test_fft_msd_matches_direct_average_over_origins():
    x = np.cumsum(np.random.default_rng(0).normal(size=(257, 5, 3)), axis=0) + 100.0
    direct = direct_msd(x)
    mean, per_ion = per_ion_msd(x, np.array([1, 7, 100]), chunk_bytes=10_000, fft_dtype=np.float64)  # chunked
    np.testing.assert_allclose(mean[1:], direct[1:], rtol=1e-9)
    np.testing.assert_allclose(per_ion[:, 2], [direct_msd(x[:, 2:3])[m] for m in (1, 7, 100)], rtol=1e-9)
    np.testing.assert_allclose(collective_msd(x[:, :1])[1:], direct_msd(x[:, :1])[1:], rtol=1e-9)
    # default float32 FFT: tiny error where the fits live; both ion-major memory layouts (the
    # readers' (ions, 3, frames) and (ions, frames, 3)) give the same numbers
    fast, _ = per_ion_msd(x, max_lag=128)
    np.testing.assert_allclose(fast[10:], direct[10:129], rtol=1e-4)
    for ion_major in (np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2),
                      np.ascontiguousarray(x.transpose(1, 2, 0)).transpose(2, 0, 1)):
        np.testing.assert_allclose(per_ion_msd(ion_major, max_lag=128)[0][1:], fast[1:], rtol=1e-5)
    assert fast[0] == 0.0


def test_masked_msd_equals_brute_force():
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=(120, 4, 3)), axis=0)
    w = rng.random((120, 4)) < 0.4
    for lag in (1, 9, 50):
        num, cnt = masked_msd_sums(x, w, np.array([lag]))
        sq = ((x[lag:] - x[:-lag]) ** 2).sum(axis=2)
        assert num.sum() / cnt.sum() == pytest.approx((sq * w[:-lag]).sum() / w[:-lag].sum(), rel=1e-9)


@pytest.mark.parametrize("images,drift", [(False, False), (True, False), (False, True), (True, True)])
def test_random_walk_dump_recovers_D(tmp_path, images, drift):
    D = 0.05  # Å²/ps = 5e-6 cm²/s
    system = random_walk_system(n_frames=1500, n_ions=48, D_A2_ps=D, dt_ps=0.1, seed=11,
                                drift_velocity_A_ps=(2.0, 0.0, -1.0) if drift else (0, 0, 0),
                                drift_walk_A2_ps=0.5 if drift else 0.0)
    path = write_lammps_dump(tmp_path / "rw.dump", system, images=images, type_map=TYPE_MAP)
    traj = load_trajectory(path, "Li", 10.0, type_map=TYPE_MAP)
    res, _, _ = tracer_diffusion([traj], n_bootstrap=300)
    assert res.D_cm2_s == pytest.approx(D * 1e-4, rel=0.08)  # "a few percent": 48 ions × 150 ps
    assert abs(res.D_cm2_s - D * 1e-4) < 3 * res.D_err_cm2_s
    assert res.D_err_cm2_s < 0.06 * D * 1e-4 and res.window.diffusive
    if drift:  # without drift removal the framework motion swamps D
        raw = load_trajectory(path, "Li", 10.0, type_map=TYPE_MAP, remove_drift=False)
        assert tracer_diffusion([raw], n_bootstrap=50)[0].D_cm2_s > 3 * D * 1e-4


def test_error_bar_covers_truth_most_of_the_time():
    D, hits1, hits2, rel = 0.05, 0, 0, []
    n_trials = 30
    for seed in range(n_trials):
        pos = random_walk_positions(800, 24, D, 0.1, seed=seed)
        res, _, _ = tracer_diffusion([_traj(pos)], n_bootstrap=300, seed=seed)
        dev = abs(res.D_cm2_s - D * 1e-4) / res.D_err_cm2_s
        hits1 += dev < 1
        hits2 += dev < 2
        rel.append(res.D_cm2_s / (D * 1e-4) - 1)
    assert hits2 / n_trials >= 0.8          # ~95 % expected
    assert 0.45 <= hits1 / n_trials <= 0.95  # ~68 % expected: not inflated either
    assert abs(np.mean(rel)) < 0.05          # unbiased


def test_naive_least_squares_error_would_be_too_small():
    pos = random_walk_positions(800, 24, 0.05, 0.1, seed=4)
    res, lag_t, msd = tracer_diffusion([_traj(pos)], n_bootstrap=300)
    sel = (lag_t >= res.window.start_ps) & (lag_t <= res.window.end_ps)
    _, cov = np.polyfit(lag_t[sel], msd[sel], 1, cov=True)
    naive = np.sqrt(cov[0, 0]) / 6 * 1e-4
    assert res.D_err_cm2_s > 5 * naive


def test_nernst_einstein_by_hand():
    # 56 Li, D = 1e-6 cm²/s, V = 13³ Å³, T = 1000 K
    sigma = nernst_einstein_conductivity(1e-6, 56, 13.0**3, 1000.0)
    expected = 56 * (1.602176634e-19) ** 2 * 1e-10 / (2197e-30 * 1.380649e-23 * 1000) / 100
    assert sigma == pytest.approx(expected, rel=1e-12)
    assert nernst_einstein_conductivity(1e-6, 56, 13.0**3, 1000.0, charge=2) == pytest.approx(4 * sigma)


def test_haven_ratio_independent_and_concerted():
    D = 0.05
    indep = DiffusionAnalyzer([_traj(random_walk_positions(2000, 32, D, 0.1, seed=5))], 800.0, n_bootstrap=200)
    h, h_err = indep.haven_ratio
    assert abs(h - 1.0) < 3 * h_err and h_err < 0.6
    assert indep.collective.sigma_S_cm == pytest.approx(indep.sigma_NE_S_cm, rel=0.6)
    concerted = DiffusionAnalyzer([_traj(random_walk_positions(2000, 32, D, 0.1, seed=6, correlated=True))],
                                  800.0, n_bootstrap=200)
    # all ions hop together: collective σ = N × Nernst–Einstein, H = 1/N
    assert concerted.haven_ratio[0] == pytest.approx(1 / 32, rel=0.5)


def test_seeds_are_pooled():
    runs = [_traj(random_walk_positions(800, 24, 0.05, 0.1, seed=s)) for s in (1, 2, 3, 4)]
    one = DiffusionAnalyzer(runs[:1], 900.0, n_bootstrap=300)
    four = DiffusionAnalyzer(runs, 900.0, n_bootstrap=300)
    assert four.to_dict()["n_runs"] == 4
    assert four.tracer.D_err_cm2_s < 0.75 * one.tracer.D_err_cm2_s  # ~1/2 expected
    assert len(four.collective.block_sigma_S_cm) == 4 * 5
    assert four.tracer.D_cm2_s == pytest.approx(5e-6, rel=0.15)


def test_fit_window_rule_skips_caged_and_ballistic_regimes():
    t = np.arange(0, 1000.0)
    plain = choose_fit_window(t, 0.3 * t, 999.0)
    assert (plain.start_ps, plain.end_ps, plain.diffusive) == (pytest.approx(19.98), pytest.approx(99.9), True)
    rattling = choose_fit_window(t, 5 * (1 - np.exp(-t / 20.0)) + 0.3 * t, 999.0)  # cage plateau first
    assert rattling.start_ps == pytest.approx(99.9) and rattling.loglog_slope >= 0.9 and rattling.diffusive
    ballistic = choose_fit_window(t, np.minimum(t**2, 40 * t), 999.0)  # MSD ∝ t² up to 40 ps
    assert ballistic.start_ps > 40 and ballistic.loglog_slope == pytest.approx(1.0)
    caged = choose_fit_window(t, 5 * (1 - np.exp(-t / 10)) + 1e-4 * t, 999.0)
    assert not caged.diffusive and "sub-diffusive" in caged.warnings()[0]
    user = choose_fit_window(t, 0.3 * t, 999.0, (10.0, 20.0))
    assert (user.start_ps, user.end_ps, user.rule) == (10.0, 20.0, "user")


def test_regions_separate_fast_gb_from_slow_bulk():
    rng = np.random.default_rng(7)
    n, box = 1500, 30.0
    d_gb, d_bulk = 0.2, 0.02
    fast = random_walk_positions(n, 20, d_gb, 0.1, seed=8)
    slow = random_walk_positions(n, 20, d_bulk, 0.1, seed=9)
    fast[:, :, 2] = 15.0 + rng.normal(scale=0.2, size=(n, 20))   # confined to the plane z = 15
    slow[:, :, 2] = 5.0 + rng.normal(scale=0.2, size=(n, 20))    # 10 Å away from it
    traj = _traj(np.concatenate([fast, slow], axis=1), box=box)
    planes = GrainBoundaryPlanes.from_dict({"sigma": 3, "normal_axis": 2, "plane_positions_A": [15.0],
                                           "cell_length_A": box})
    an = DiffusionAnalyzer([traj], 1000.0, regions=planes, gb_half_width_A=3.0, n_bootstrap=200)
    report = an.to_dict()["regions"]
    # motion is 2-D: MSD = 4 D t, reported D = MSD/6t = 2/3 D
    assert report["gb"]["D_cm2_s"] == pytest.approx(2 / 3 * d_gb * 1e-4, rel=0.2)
    assert report["bulk"]["D_cm2_s"] == pytest.approx(2 / 3 * d_bulk * 1e-4, rel=0.2)
    assert report["gb"]["fraction"] == pytest.approx(0.5, abs=0.01)
    assert report["D_gb_over_bulk"] > 5


def test_too_few_frames_is_an_error():
    with pytest.raises(UserInputError, match="at least"):
        tracer_diffusion([_traj(random_walk_positions(5, 3, 0.1, 0.1))])


def test_cli_diffusion_end_to_end(tmp_path, capsys):
    system = random_walk_system(n_frames=600, n_ions=24, D_A2_ps=0.05, dt_ps=0.1, seed=2)
    path = write_lammps_dump(tmp_path / "run1.dump", system, type_map=TYPE_MAP, images=True)
    system2 = random_walk_system(n_frames=600, n_ions=24, D_A2_ps=0.05, dt_ps=0.1, seed=3)
    path2 = write_lammps_dump(tmp_path / "run2.dump", system2, type_map=TYPE_MAP)
    gb = tmp_path / "gb.json"
    gb.write_text(json.dumps({"sigma": 5, "normal_axis": 2, "plane_positions_A": [3.0, 9.0], "cell_length_A": 12.0}))
    out = tmp_path / "res" / "d1000.json"
    rc = main(["analyze", "diffusion", str(path), "--seeds", str(path2), "--timestep-fs", "10", "--temperature",
               "1000", "--type-map", "Li,La,O", "--regions", str(gb), "--bootstrap", "100", "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    for key in ("D_cm2_s", "D_err_cm2_s", "sigma_NE_S_cm", "sigma_collective_S_cm", "haven_ratio", "temperature_K",
                "n_ions", "fit_window_ps"):
        assert key in data
    assert data["n_ions"] == 24 and data["n_runs"] == 2 and data["temperature_K"] == 1000
    assert set(data["regions"]) >= {"gb", "bulk"}
    assert (tmp_path / "res" / "d1000-msd.png").stat().st_size > 1000
    assert (tmp_path / "res" / "d1000-msd-loglog.png").is_file()
    rc = main(["analyze", "diffusion", str(path), "--species", "Na", "--timestep-fs", "10", "--temperature",
               "1000", "--type-map", "Li,La,O", "--json", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("dpgen-llzo: error:") and "'Na'" in err and "\n" not in err
