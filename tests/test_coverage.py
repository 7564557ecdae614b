"""PCA coverage: the convention of You et al. (2024) pinned on cases counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dpgen_llzo.coverage import (
    ALL,
    CoverageResult,
    coverage_by_element,
    coverage_fraction,
    fit_standardised_pca,
    grid_coverage,
)
from dpgen_llzo.errors import UserInputError

TYPE_MAP = ["Li", "La", "Zr", "O"]
HADAMARD4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0


def correlated(n: int, seed: int = 0, p: int = 5) -> np.ndarray:
    """Gaussian rows with a non-trivial correlation between features."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(p, p)) + 3 * np.eye(p)
    return rng.normal(size=(n, p)) @ mixing + rng.normal(scale=5, size=p)


def with_spectrum(ratios: list[float], n: int = 400, seed: int = 1) -> np.ndarray:
    """4 features whose *standardised* covariance has explained variance ratios ``ratios``.

    Exactly white latent columns (zero mean, unit population variance, uncorrelated) are
    scaled by sqrt(4 * ratio) and rotated by a normalised Hadamard matrix: every feature then
    has variance sum(4 * ratio) / 4 = 1, so standardisation leaves the spectrum as built.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)
    white = q * np.sqrt(n)
    return white * np.sqrt(4 * np.asarray(ratios)) @ HADAMARD4.T + 7.0


def rotated_lattice(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Points (u1, u2) rotated by 45 degrees: two equally scaled, correlated features whose
    principal axes are exactly u1 and u2 (the grid is invariant to the affine map back)."""
    g1, g2 = np.meshgrid(u1, u2, indexing="ij")
    a, b = g1.ravel().astype(float), g2.ravel().astype(float)
    return np.column_stack([(a + b) / np.sqrt(2), (a - b) / np.sqrt(2)])


# ---------------------------------------------------------------------------------------------
# the convention


def test_test_subset_of_train_is_fully_covered():
    train = correlated(2000)
    test = train[np.random.default_rng(3).choice(2000, 300, replace=False)]
    result = coverage_fraction(train, test)
    assert result.fraction == 1.0
    assert all(v == 1.0 for v in result.pair_fractions.values())


def test_disjoint_clusters_are_not_covered():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 2)) @ np.array([[1.0, 0.6], [0.0, 0.5]])
    test = train[:200] + np.array([40.0, -25.0])
    result = coverage_fraction(train, test)
    assert result.fraction == 0.0
    assert result.n_components == 2 and list(result.pair_fractions) == [(0, 1)]


def test_grid_coverage_counted_by_hand():
    # 2 components, bins=4 over [0, 4] on both axes (union min-max): cell = floor(x), 4 -> 3.
    train = np.array([[0.5, 1.5, 3.9, 4.0], [0.5, 0.5, 3.9, 4.0]])  # cells (0,0) (1,0) (3,3)x2
    test = np.array([[0.0, 1.2, 2.5, 3.1, 0.7], [0.0, 0.1, 2.5, 3.5, 0.2]])
    # test cells: (0,0) (1,0) (2,2) (3,3) (0,0) -> 4 distinct, 3 covered
    assert grid_coverage(train, test, bins=4) == {(0, 1): 0.75}


def test_grid_coverage_rejects_nan_projections():
    with pytest.raises(UserInputError, match="component 1 contain NaN"):
        grid_coverage(np.array([[0.0, 1.0], [0.0, np.nan]]), np.zeros((2, 1)), bins=3)


def test_grid_max_edge_inclusive_and_flat_component_is_one_cell():
    train = np.array([[0.0, 1.0], [5.0, 5.0]])  # second component flat: hi == lo
    test = np.array([[1.0, 0.0], [5.0, 5.0]])
    assert grid_coverage(train, test, bins=3) == {(0, 1): 1.0}


def test_known_fraction_on_a_lattice():
    # Train fills u1 in 0..6, test u1 in 0..9, both u2 in 0..4; bins=23 keeps every lattice
    # point inside its own cell, away from cell edges: 50 test cells, 35 covered.
    train = rotated_lattice(np.arange(7), np.arange(5))
    test = rotated_lattice(np.arange(10), np.arange(5))
    result = coverage_fraction(train, test, bins=23)
    assert result.n_components == 2
    assert result.fraction == pytest.approx(35 / 50, abs=1e-12)
    # several test points in one cell count once
    doubled = coverage_fraction(train, np.vstack([test, test[::3]]), bins=23)
    assert doubled.fraction == pytest.approx(0.7, abs=1e-12)


def test_invariant_to_row_order():
    train, test = correlated(1500, seed=1), correlated(400, seed=2) * 1.3
    rng = np.random.default_rng(7)
    a = coverage_fraction(train, test, bins=20)
    b = coverage_fraction(train[rng.permutation(1500)], test[rng.permutation(400)], bins=20)
    assert 0.0 < a.fraction < 1.0
    assert b.fraction == pytest.approx(a.fraction, abs=1e-12)
    assert b.n_components == a.n_components


@pytest.mark.parametrize(
    ("variance", "expected_m"), [(0.3, 2), (0.75, 2), (0.85, 3), (0.95, 4), (1.0, 4)]
)
def test_variance_rule_picks_m(variance, expected_m):
    x = with_spectrum([0.5, 0.3, 0.12, 0.08])
    pca = fit_standardised_pca(x, variance)
    np.testing.assert_allclose(pca.explained_variance_ratio, [0.5, 0.3, 0.12, 0.08], atol=1e-10)
    assert pca.n_components == expected_m
    assert coverage_fraction(x, x[:50], variance=variance).n_components == expected_m


def test_threshold_reached_exactly_counts_as_reached():
    # rank 2: the first two components carry all the variance, up to rounding
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 5))
    assert fit_standardised_pca(x, 1.0).n_components == 2
    y = with_spectrum([0.5, 0.25, 0.125, 0.125])
    assert [fit_standardised_pca(y, v).n_components for v in (0.75, 0.875)] == [2, 3]


def test_standardisation_makes_units_irrelevant():
    train, test = correlated(1000, seed=3), correlated(300, seed=4) * 1.2
    units = np.array([1e3, 1.0, 1e-2, 1.0, 30.0])
    plain = coverage_fraction(train, test, bins=20)
    scaled = coverage_fraction(train * units, test * units + 5.0 * units, bins=20)
    shifted = coverage_fraction(train + 5.0, test + 5.0, bins=20)
    assert scaled.n_components == plain.n_components
    np.testing.assert_allclose(
        scaled.explained_variance_ratio, plain.explained_variance_ratio, atol=1e-10
    )
    assert shifted.fraction == pytest.approx(plain.fraction, abs=1e-12)
    assert scaled.fraction != pytest.approx(1.0)


def test_at_least_two_components_even_if_one_dominates():
    x = with_spectrum([0.97, 0.015, 0.01, 0.005])
    result = coverage_fraction(x, x[:30])
    assert result.explained_variance_ratio[0] == pytest.approx(0.97)
    assert result.n_components == 2
    assert list(result.pair_fractions) == [(0, 1)]


@pytest.mark.parametrize("value", [0.0, 3.0, 0.1])  # 0.1: its mean is off by rounding
def test_zero_variance_feature_gives_no_nan_and_no_effect(value):
    train, test = correlated(800, p=3), correlated(300, seed=5, p=3) * 1.2
    with_const = coverage_fraction(
        np.hstack([train, np.full((800, 1), value)]), np.hstack([test, np.full((300, 1), value)])
    )
    plain = coverage_fraction(train, test)
    assert np.isfinite(with_const.fraction)
    np.testing.assert_allclose(
        with_const.explained_variance_ratio, [*plain.explained_variance_ratio, 0.0], atol=1e-12
    )
    assert with_const.n_components == plain.n_components
    assert with_const.fraction == pytest.approx(plain.fraction, abs=1e-12)


def test_all_features_constant_in_training_is_still_finite():
    train = np.ones((10, 3))
    result = coverage_fraction(train, np.vstack([train[:3], train[:3] + 1.0]))
    assert result.explained_variance_ratio == (0.0, 0.0, 0.0)
    assert result.n_components == 2 and 0.0 <= result.fraction <= 1.0


def test_result_record():
    train, test = correlated(300), correlated(100, seed=9)
    result = coverage_fraction(train, test, variance=0.9, bins=10)
    assert isinstance(result, CoverageResult)
    assert (result.n_train, result.n_test, result.bins, result.variance) == (300, 100, 10, 0.9)
    m = result.n_components
    assert len(result.pair_fractions) == m * (m - 1) // 2
    assert result.fraction == pytest.approx(np.mean(list(result.pair_fractions.values())))
    assert result.worst_pair in result.pair_fractions
    d = result.to_dict()
    assert d["fraction"] == result.fraction and d["n_components"] == m
    assert set(d["pair_fractions"]) == {f"{i}-{j}" for i, j in result.pair_fractions}
    assert d["cumulative_explained_variance"] >= 0.9
    with pytest.raises(AttributeError):
        result.fraction = 0.5  # frozen


def test_float32_and_integer_inputs_work():
    train = correlated(400)
    a = coverage_fraction(train.astype(np.float32), train[:100].astype(np.float32))
    b = coverage_fraction(np.round(train).astype(np.int64), np.round(train[:100]).astype(np.int64))
    assert a.fraction == 1.0 and b.fraction == 1.0


# ---------------------------------------------------------------------------------------------
# per element


def test_one_uncovered_element_shows_per_element_not_in_the_average():
    rng = np.random.default_rng(4)
    li_train, o_train = rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + [10.0, 0.0]
    li_test = li_train[:300]  # Li covered
    o_test = o_train[:30] + [0.0, 30.0]  # O pushed far off: uncovered
    train = np.vstack([li_train, o_train])
    test = np.vstack([li_test, o_test])
    train_types = np.repeat([0, 3], 400)
    test_types = np.repeat([0, 3], [300, 30])
    results = coverage_by_element(train, test, train_types, test_types, TYPE_MAP)
    assert list(results) == [ALL, "Li", "O"]  # La, Zr have no test rows
    assert results["Li"].fraction == 1.0
    assert results["O"].fraction == 0.0
    assert results["O"].n_test == 30 and results["Li"].n_train == 400
    assert 0.0 < results[ALL].fraction < 1.0
    assert results[ALL].fraction > results["O"].fraction


def test_element_missing_from_training_is_uncovered():
    x = correlated(60)
    results = coverage_by_element(
        x[:40], x[40:], np.zeros(40, int), np.repeat([0, 2], 10), TYPE_MAP
    )
    assert results["Zr"].fraction == 0.0 and results["Zr"].n_components == 0
    assert results["Zr"].to_dict()["pair_fractions"] == {}


@pytest.mark.parametrize(
    ("train_types", "test_types", "message"),
    [
        (np.zeros(39, int), np.zeros(20, int), "one entry per row"),
        (np.full(40, 4), np.zeros(20, int), "outside 0..3"),
        (np.zeros(40), np.zeros(20, int), "integers"),
        (np.r_[np.zeros(38, int), 1, 1], np.r_[np.zeros(17, int), 1, 1, 1], "La: train set has 2"),
    ],
)
def test_bad_types_are_one_line_errors(train_types, test_types, message):
    x = correlated(60)
    with pytest.raises(UserInputError, match=message) as info:
        coverage_by_element(x[:40], x[40:], train_types, test_types, TYPE_MAP)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# bad input


def _with(x: np.ndarray, rows: list[int], value: float) -> np.ndarray:
    x = x.copy()
    x[rows, 1] = value
    return x


GOOD = correlated(50)


@pytest.mark.parametrize(
    ("train", "test", "kwargs", "message"),
    [
        (GOOD, GOOD[:, :4], {}, "feature counts differ: train has 5 columns, test has 4"),
        (_with(GOOD, [3, 7], np.nan), GOOD, {}, "train descriptors have 2 row"),
        (GOOD, _with(GOOD, [0], np.inf), {}, "test descriptors have 1 row"),
        (GOOD, _with(GOOD, [0, 1, 2], -np.inf), {}, "test descriptors have 3 row"),
        (GOOD[:2], GOOD, {}, "train descriptors have 2 rows; need at least 3"),
        (GOOD, GOOD[:1], {}, "test descriptors have 1 rows"),
        (GOOD, GOOD, {"bins": 0}, "bins must be an integer >= 1"),
        (GOOD, GOOD, {"variance": 0.0}, r"variance must be in \(0, 1\]"),
        (GOOD, GOOD, {"variance": 1.2}, r"variance must be in \(0, 1\]"),
        (GOOD, GOOD, {"variance": float("nan")}, "variance must be"),
        (GOOD[:, 0], GOOD, {}, "2-D array"),
        (GOOD[:, :1], GOOD[:, :1], {}, "need at least 2"),
        (GOOD, GOOD, {"bins": 2.5}, "bins must be an integer"),
        (GOOD.astype(str), GOOD, {}, "numeric"),
    ],
)
def test_bad_input_is_a_one_line_user_error(train, test, kwargs, message):
    with pytest.raises(UserInputError, match=message) as info:
        coverage_fraction(train, test, **kwargs)
    assert "\n" not in str(info.value)
