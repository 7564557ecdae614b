"""Arrhenius fits: exact Ea from synthetic D(T), σT form, extrapolation, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpgen_llzo.analysis import arrhenius_fit, arrhenius_report
from dpgen_llzo.analysis.units import K_B_EV_K
from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError

T = np.array([600.0, 700.0, 800.0, 900.0, 1000.0, 1200.0])
EA, D0 = 0.32, 3.0e-3


def _d(temps):
    return D0 * np.exp(-EA / (K_B_EV_K * np.asarray(temps)))


def test_exact_activation_energy_and_prefactor():
    fit = arrhenius_fit(T, _d(T), 0.05 * _d(T))
    assert fit.Ea_eV == pytest.approx(EA, rel=1e-10)
    assert fit.prefactor == pytest.approx(D0, rel=1e-9)
    y, err = fit.predict(300.0)
    assert y == pytest.approx(_d(300.0), rel=1e-9)
    assert err > 0  # extrapolation carries the parameter covariance


def test_sigma_T_form_m_minus_one():
    sigma = 50.0 / T * np.exp(-0.4 / (K_B_EV_K * T))
    fit = arrhenius_fit(T, sigma, m=-1)
    assert fit.Ea_eV == pytest.approx(0.4, rel=1e-10)
    assert fit.prefactor == pytest.approx(50.0, rel=1e-9)
    plain = arrhenius_fit(T, sigma, m=0)  # ignoring the 1/T lowers Ea by ~k<T>
    assert 0.4 - plain.Ea_eV == pytest.approx(K_B_EV_K * np.mean(T), rel=0.2)


def test_noisy_points_error_is_honest():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(100):
        rel = 0.1
        noisy = _d(T) * np.exp(rng.normal(scale=rel, size=len(T)))
        fit = arrhenius_fit(T, noisy, rel * noisy)
        hits += abs(fit.Ea_eV - EA) < 2 * fit.Ea_err_eV
    assert hits >= 85


def test_weights_follow_the_error_bars():
    d = _d(T).copy()
    d[0] *= 3.0  # one bad point with a huge error bar
    err = 0.02 * d
    err[0] = 10 * d[0]
    assert arrhenius_fit(T, d, err).Ea_eV == pytest.approx(EA, abs=0.01)
    assert abs(arrhenius_fit(T, d).Ea_eV - EA) > 0.03


def test_bad_inputs():
    with pytest.raises(UserInputError, match="two temperatures"):
        arrhenius_fit([800.0, 800.0], [1e-6, 2e-6])
    with pytest.raises(UserInputError, match="positive"):
        arrhenius_fit([700.0, 800.0], [1e-6, -1.0])


def test_report_and_cli(tmp_path):
    paths = []
    for temp in T:
        d = float(_d(temp))
        data = {"temperature_K": temp, "D_cm2_s": d, "D_err_cm2_s": 0.05 * d,
                "sigma_NE_S_cm": 7e4 * d / temp, "sigma_NE_err_S_cm": 3.5e3 * d / temp}
        p = tmp_path / f"d{int(temp)}.json"
        p.write_text(json.dumps(data))
        paths.append(str(p))
    out = tmp_path / "arr.json"
    assert main(["analyze", "arrhenius", *paths, "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["Ea_eV"] == pytest.approx(EA, rel=1e-9) and rep["D0_cm2_s"] == pytest.approx(D0, rel=1e-8)
    assert rep["D_300K_cm2_s"] == pytest.approx(float(_d(300.0)), rel=1e-8)
    # σ ∝ D/T exactly, so the m = -1 fit gives the same Ea
    assert rep["sigma_NE"]["Ea_eV"] == pytest.approx(EA, rel=1e-9) and rep["sigma_NE"]["m"] == -1
    assert "sigma_300K_S_cm" in rep["sigma_NE"]
    assert (tmp_path / "arr-arrhenius.png").is_file()
    direct = arrhenius_report([json.loads(open(p).read()) for p in paths])
    assert direct["Ea_eV"] == pytest.approx(rep["Ea_eV"])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"temperature_K": 800}))
    assert main(["analyze", "arrhenius", str(broken), paths[0], "--json", str(out)]) == 2
