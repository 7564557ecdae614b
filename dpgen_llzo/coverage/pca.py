"""PCA coverage of test atomic environments by a training set (You et al., npj Comput. Mater. 2024).

The convention, fixed so that numbers from different runs are comparable:

1. Standardise with the **training** set's mean and standard deviation (population std,
   ``ddof=0``). A feature whose training std is 0 (to rounding: <= 1e-10 |mean|) is divided
   by 1 instead, so constant features never produce NaN; they carry no variance and do not
   steer the PCA.
2. Fit PCA on the standardised training set by an eigendecomposition of its covariance matrix
   (features x features, accumulated in row chunks, so the input is never copied whole).
3. Keep the smallest ``m`` with cumulative explained variance >= ``variance`` (and ``m >= 2``).
4. Project train and test with the same fitted PCA.
5. For every pair ``(i < j)`` of kept components lay a ``bins x bins`` grid over the min-max of
   the **union** of projected train and test on those two components (equal-width cells, both
   edges inclusive: ``cell = floor((x - lo) / (hi - lo) * bins)`` clipped to ``bins - 1``; a
   component with ``hi == lo`` has a single cell).
6. A cell is a *test cell* if it holds at least one test point and *covered* if it also holds
   at least one training point; the pair's coverage is covered / test cells.
7. The coverage is the mean over pairs.

A limit of the convention, worth knowing when reading the numbers: directions along which the
training set does not vary (a feature constant in training, or variance outside the kept
components) are invisible, so test environments differing from training only there count as
covered.

Everything here is pure (arrays in, result out); reading files lives in :mod:`.cli`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_VARIANCE",
    "CoverageResult",
    "StandardisedPCA",
    "check_descriptor_matrices",
    "coverage_fraction",
    "fit_standardised_pca",
    "grid_coverage",
]

DEFAULT_VARIANCE = 0.95
DEFAULT_BINS = 50
MIN_ROWS = 3
# Rows per chunk are chosen so a float64 chunk is about this many bytes (bounded extra memory).
CHUNK_BYTES = 32 * 2**20
# A feature whose training std is <= this times |mean| (0 included) counts as constant.
CONSTANT_RTOL = 1e-10
# BLAS threads inside the chunk loops (see _blas_threads).
BLAS_THREADS = 1


@dataclass(frozen=True, eq=False)
class StandardisedPCA:
    """A PCA fitted on standardised training descriptors.

    Attributes
    ----------
    mean
        Training mean of every feature, shape ``(n_features,)``.
    scale
        Training standard deviation (``ddof=0``) of every feature, with 0 replaced by 1.
    components
        Principal axes in the standardised space as columns, shape ``(n_features, n_features)``,
        sorted by decreasing explained variance.
    explained_variance_ratio
        Fraction of the total standardised variance carried by each axis (sums to 1, or is all
        zeros when every feature is constant in the training set).
    n_components
        ``m``: the number of axes kept.
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    n_components: int

    def transform(self, x: np.ndarray, *, name: str = "matrix") -> np.ndarray:
        """Project rows of ``x`` onto the kept axes.

        Returns an array of shape ``(n_components, n_rows)`` (one contiguous row per component,
        the layout the grid step reads). Computed chunk by chunk: ``x`` is never copied whole.

        Raises
        ------
        UserInputError
            If ``x`` has another number of columns than the training set, or rows with NaN or
            inf (the message counts them, naming ``name``).
        """
        if x.ndim != 2 or x.shape[1] != self.mean.size:
            raise UserInputError(
                f"{name} descriptors have shape {x.shape}; the PCA was fitted on "
                f"{self.mean.size} features"
            )
        weights = self.components[:, : self.n_components] / self.scale[:, None]
        offset = (self.mean / self.scale) @ self.components[:, : self.n_components]
        out = np.empty((self.n_components, x.shape[0]), dtype=np.float64)
        n_bad = 0
        with _blas_threads():
            for start, chunk in _chunks(x):
                projected = chunk @ weights
                if not np.isfinite(projected).all():  # NaN/inf in the chunk: count the rows
                    n_bad += _count_nonfinite_rows(chunk)
                projected -= offset
                out[:, start : start + chunk.shape[0]] = projected.T
        _raise_if_nonfinite(n_bad, name)
        return out


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of a test set by a training set in PCA space.

    Attributes
    ----------
    fraction
        Mean over component pairs of covered / test cells, in [0, 1].
    n_components
        ``m``, the number of principal components kept (0 when no training rows existed).
    pair_fractions
        ``{(i, j): coverage}`` for every pair ``i < j`` of kept components.
    explained_variance_ratio
        Explained variance ratio of every principal component (all of them, not just the kept
        ones), largest first.
    n_train, n_test
        Number of training and test environments (rows).
    bins
        Grid cells per axis.
    variance
        The cumulative explained-variance threshold used to choose ``m``.
    """

    fraction: float
    n_components: int
    pair_fractions: dict[tuple[int, int], float] = field(repr=False)
    explained_variance_ratio: tuple[float, ...] = field(repr=False)
    n_train: int
    n_test: int
    bins: int
    variance: float

    @property
    def worst_pair(self) -> tuple[int, int] | None:
        """The component pair with the lowest coverage (None when there are no pairs)."""
        if not self.pair_fractions:
            return None
        return min(self.pair_fractions, key=self.pair_fractions.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; pair keys are written as ``"i-j"``."""
        ratio = self.explained_variance_ratio
        return {
            "fraction": self.fraction,
            "n_components": self.n_components,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "bins": self.bins,
            "variance": self.variance,
            "explained_variance_ratio": list(ratio),
            "cumulative_explained_variance": float(sum(ratio[: self.n_components])),
            "pair_fractions": {f"{i}-{j}": v for (i, j), v in self.pair_fractions.items()},
        }


def check_descriptor_matrices(train: np.ndarray, test: np.ndarray) -> None:
    """Check shapes of two descriptor matrices (rows = environments); finiteness is checked later.

    Raises
    ------
    UserInputError
        If a matrix is not 2-D numeric, the feature counts differ, there are fewer than
        2 features, or either matrix has fewer than 3 rows.
    """
    _check_matrix(train, "train")
    _check_matrix(test, "test")
    if train.shape[1] != test.shape[1]:
        raise UserInputError(
            f"feature counts differ: train has {train.shape[1]} columns, test has {test.shape[1]}"
        )


def _check_matrix(x: np.ndarray, name: str) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        shape = getattr(x, "shape", None)
        raise UserInputError(
            f"{name} descriptors must be a 2-D array (rows = environments), got shape {shape}"
        )
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise UserInputError(f"{name} descriptors must be numeric, got dtype {x.dtype}")
    if x.shape[0] < MIN_ROWS:
        raise UserInputError(f"{name} descriptors have {x.shape[0]} rows; need at least {MIN_ROWS}")
    if x.shape[1] < 2:
        raise UserInputError(
            f"{name} descriptors have {x.shape[1]} feature(s); need at least 2 for component pairs"
        )


def _check_bins(bins: int) -> None:
    if not (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool)) or bins < 1:
        raise UserInputError(f"bins must be an integer >= 1, got {bins!r}")


def _check_variance(variance: float) -> None:
    if not isinstance(variance, (int, float, np.floating, np.integer)) or not 0.0 < variance <= 1.0:
        raise UserInputError(f"variance must be in (0, 1], got {variance!r}")


def fit_standardised_pca(train: np.ndarray, variance: float = DEFAULT_VARIANCE) -> StandardisedPCA:
    """Standardise ``train`` with its own mean/std and fit PCA on it.

    One chunked pass accumulates the mean and the scatter matrix (chunk-wise centred, merged
    with the parallel-variance update, so large feature means do not cost precision); the
    covariance of the standardised data is the scatter matrix divided by ``n std_a std_b``.

    Parameters
    ----------
    train
        Training descriptors, shape ``(n_rows, n_features)``, ``n_rows >= 3``,
        ``n_features >= 2``.
    variance
        Keep the smallest ``m >= 2`` whose cumulative explained variance ratio is >= this.

    Raises
    ------
    UserInputError
        On a matrix that is not 2-D numeric with >= 3 rows and >= 2 columns, NaN/inf rows
        (counted), or a variance outside (0, 1].
    """
    _check_variance(variance)
    _check_matrix(train, "train")
    n, p = train.shape
    mean = np.zeros(p)
    scatter = np.zeros((p, p))
    seen = 0
    n_bad = 0
    with _blas_threads():
        for _, chunk in _chunks(train):
            k = chunk.shape[0]
            c_mean = chunk.mean(axis=0)
            if not np.isfinite(c_mean).all():  # NaN/inf somewhere in the chunk: count the rows
                n_bad += _count_nonfinite_rows(chunk)
                continue
            centred = chunk - c_mean
            c_scatter = centred.T @ centred  # numpy calls a symmetric rank-k update (syrk) here
            delta = c_mean - mean
            total = seen + k
            scatter += c_scatter + np.outer(delta, delta) * (seen * k / total)
            mean += delta * (k / total)
            seen = total
    _raise_if_nonfinite(n_bad, "train")

    std = np.sqrt(np.clip(np.diag(scatter), 0.0, None) / n)
    # Constant to rounding: the mean of a constant non-representable value (0.1) is off by a
    # few ulp, which would leave a std of ~1e-17 and blow rounding noise up to unit variance.
    constant = std <= CONSTANT_RTOL * np.abs(mean)
    scale = np.where(constant, 1.0, std)
    cov = scatter / n / np.outer(scale, scale)
    cov[constant, :] = 0.0
    cov[:, constant] = 0.0
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval = np.clip(eigval[order], 0.0, None)
    eigvec = eigvec[:, order]
    total_var = eigval.sum()
    ratio = eigval / total_var if total_var > 0 else np.zeros_like(eigval)
    return StandardisedPCA(mean, scale, eigvec, ratio, choose_n_components(ratio, variance))


def choose_n_components(explained_variance_ratio: np.ndarray, variance: float) -> int:
    """Smallest ``m`` with cumulative ratio >= ``variance``, at least 2, at most all axes.

    A tolerance of 1e-12 absorbs rounding so ``variance=1.0`` keeps the axes that carry
    variance, not every axis. With no variance at all (every training feature constant) the
    minimum, 2, is kept.
    """
    cumulative = np.cumsum(explained_variance_ratio)
    if cumulative.size == 0 or cumulative[-1] <= 0.0:
        return int(min(2, explained_variance_ratio.size))
    m = int(np.searchsorted(cumulative, variance - 1e-12, side="left")) + 1
    return int(min(max(m, 2), explained_variance_ratio.size))


def grid_coverage(
    train_proj: np.ndarray, test_proj: np.ndarray, bins: int = DEFAULT_BINS
) -> dict[tuple[int, int], float]:
    """Per-pair grid coverage of projected test points by projected training points.

    Parameters
    ----------
    train_proj, test_proj
        Projections laid out one row per component: shapes ``(m, n_train)`` and
        ``(m, n_test)``; ``n_test >= 1``.
    bins
        Cells per axis; the grid of a pair spans the union min-max on each of its components.

    Returns
    -------
    dict
        ``{(i, j): covered_cells / test_cells}`` for ``0 <= i < j < m``.
    """
    _check_bins(bins)
    m = train_proj.shape[0]
    if test_proj.ndim != 2 or train_proj.ndim != 2 or test_proj.shape[0] != m:
        raise UserInputError(
            "projections must be (m, n) arrays with the same m, "
            f"got {train_proj.shape} and {test_proj.shape}"
        )
    if test_proj.shape[1] == 0:
        raise UserInputError("no test points to cover")
    cell_dtype = np.uint16 if bins <= np.iinfo(np.uint16).max else np.int64
    train_cells = np.empty(train_proj.shape, dtype=cell_dtype)
    test_cells = np.empty(test_proj.shape, dtype=cell_dtype)
    for k in range(m):
        parts = [a for a in (train_proj[k], test_proj[k]) if a.size]
        lo = min(float(a.min()) for a in parts)
        hi = max(float(a.max()) for a in parts)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise UserInputError(f"projections on component {k} contain NaN or inf")
        train_cells[k] = _cell_index(train_proj[k], lo, hi, bins)
        test_cells[k] = _cell_index(test_proj[k], lo, hi, bins)

    n_cells = bins * bins
    result: dict[tuple[int, int], float] = {}
    for i in range(m):
        train_row = train_cells[i].astype(np.intp) * bins
        test_row = test_cells[i].astype(np.intp) * bins
        for j in range(i + 1, m):
            has_test = np.zeros(n_cells, dtype=bool)
            has_test[test_row + test_cells[j]] = True
            has_train = np.zeros(n_cells, dtype=bool)
            has_train[train_row + train_cells[j]] = True
            n_test_cells = int(np.count_nonzero(has_test))
            n_covered = int(np.count_nonzero(has_test & has_train))
            result[(i, j)] = n_covered / n_test_cells
    return result


def coverage_fraction(
    train: np.ndarray,
    test: np.ndarray,
    variance: float = DEFAULT_VARIANCE,
    bins: int = DEFAULT_BINS,
) -> CoverageResult:
    """Coverage of ``test`` environments by ``train`` environments (the module's convention).

    Parameters
    ----------
    train, test
        Descriptor matrices, rows = atomic environments, same number of columns (features).
        Any float or integer dtype; neither is modified nor copied whole.
    variance
        Cumulative explained variance threshold in (0, 1] for the number of components.
    bins
        Grid cells per axis (>= 1).

    Returns
    -------
    CoverageResult
        The mean pair coverage, ``m``, per-pair values and the explained variance ratios.

    Raises
    ------
    UserInputError
        Mismatched feature counts, NaN/inf rows, fewer than 3 rows, ``bins < 1``, or
        ``variance`` outside (0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 4))
    >>> coverage_fraction(x, x[:50]).fraction
    1.0
    """
    _check_variance(variance)
    _check_bins(bins)
    check_descriptor_matrices(train, test)
    pca = fit_standardised_pca(train, variance)
    pairs = grid_coverage(
        pca.transform(train, name="train"), pca.transform(test, name="test"), bins
    )
    return CoverageResult(
        fraction=float(np.mean(list(pairs.values()))),
        n_components=pca.n_components,
        pair_fractions=pairs,
        explained_variance_ratio=tuple(float(r) for r in pca.explained_variance_ratio),
        n_train=int(train.shape[0]),
        n_test=int(test.shape[0]),
        bins=int(bins),
        variance=float(variance),
    )


# --------------------------------------------------------------------------------------------
# helpers


def _cell_index(x: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Equal-width cell (as float, to be cast) of every value in ``[lo, hi]``.

    ``floor((x - lo) / (hi - lo) * bins)`` clipped to ``bins - 1``, so ``hi`` falls in the last
    cell; ``hi == lo`` puts everything in cell 0.
    """
    if not hi > lo:
        return np.zeros(x.shape)
    idx = (x - lo) / (hi - lo) * bins
    np.floor(idx, out=idx)
    np.clip(idx, 0, bins - 1, out=idx)
    return idx


def _chunks(x: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, float64 block of rows)``; a float64 input yields views, not copies."""
    rows = max(1, CHUNK_BYTES // (8 * max(1, x.shape[1])))
    for start in range(0, x.shape[0], rows):
        yield start, np.asarray(x[start : start + rows], dtype=np.float64)


def _count_nonfinite_rows(chunk: np.ndarray) -> int:
    """Rows of ``chunk`` holding NaN or inf.

    Called only for a chunk whose column means or projections came out non-finite, which a
    NaN/inf always causes; if the count is 0 the culprit was overflow of huge finite values.
    """
    n_bad = int(np.count_nonzero(~np.isfinite(chunk).all(axis=1)))
    if n_bad == 0:
        raise UserInputError("descriptor values are too large (overflow to inf); rescale them")
    return n_bad


def _raise_if_nonfinite(n_bad: int, name: str) -> None:
    if n_bad:
        raise UserInputError(f"{name} descriptors have {n_bad} row(s) with NaN or inf values")


def _blas_threads() -> contextlib.AbstractContextManager[Any]:
    """Run the chunk loops on one BLAS thread.

    Their products are thin (``chunk x features`` by ``features x features``) and nearly
    memory-bound, so extra threads gain little, while on an oversubscribed node (shared CI, a
    login node, the DP-GEN loop running MD beside us) multithreaded OpenBLAS slowed the
    benchmark's covariance step from 0.2 s to over 10 s. Uses threadpoolctl (a scikit-learn
    dependency) when present.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=BLAS_THREADS, user_api="blas")
