"""PCA coverage per chemical element (Li, La, Zr, O environments separately).

One species can be badly covered while the average over all environments looks fine (O and
Li dominate LLZO's 192-atom cell: 96 O and 56 Li against 16 Zr), so the active-learning loop
should watch the per-element values. Each element gets its own PCA fitted on its own training
environments, with the same convention as :func:`~dpgen_llzo.coverage.pca.coverage_fraction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dpgen_llzo.coverage.pca import (
    DEFAULT_BINS,
    DEFAULT_VARIANCE,
    MIN_ROWS,
    CoverageResult,
    check_descriptor_matrices,
    coverage_fraction,
)
from dpgen_llzo.errors import UserInputError

__all__ = ["ALL", "coverage_by_element"]

#: Key of the all-environments result in :func:`coverage_by_element`'s output.
ALL = "all"


def coverage_by_element(
    train: np.ndarray,
    test: np.ndarray,
    train_types: np.ndarray,
    test_types: np.ndarray,
    type_map: Sequence[str],
    variance: float = DEFAULT_VARIANCE,
    bins: int = DEFAULT_BINS,
) -> dict[str, CoverageResult]:
    """Coverage of the test environments by the training ones, overall and per element.

    Parameters
    ----------
    train, test
        Descriptor matrices, rows = atomic environments.
    train_types, test_types
        Integer type of every row's central atom, an index into ``type_map``.
    type_map
        Element names, e.g. ``["Li", "La", "Zr", "O"]``.
    variance, bins
        As in :func:`~dpgen_llzo.coverage.pca.coverage_fraction`.

    Returns
    -------
    dict
        ``{"all": result over every row, element: result for that element's rows, ...}`` in
        ``type_map`` order. Elements without test rows are left out (nothing to cover). An
        element with test rows but no training rows gets ``fraction=0.0`` and
        ``n_components=0`` (nothing covers it).

    Raises
    ------
    UserInputError
        Bad matrices or settings (see ``coverage_fraction``), type arrays whose length differs
        from the row count, types outside ``type_map``, or an element with 1-2 rows in either
        set (too few for a PCA of its own).
    """
    check_descriptor_matrices(train, test)
    names = [str(t) for t in type_map]
    if len(set(names)) != len(names) or not names:
        raise UserInputError(f"type_map must list distinct element names, got {names}")
    train_types = _check_types(train_types, train.shape[0], len(names), "train")
    test_types = _check_types(test_types, test.shape[0], len(names), "test")

    results = {ALL: coverage_fraction(train, test, variance, bins)}
    for t, element in enumerate(names):
        test_rows = np.flatnonzero(test_types == t)
        if test_rows.size == 0:
            continue
        train_rows = np.flatnonzero(train_types == t)
        if train_rows.size == 0:
            results[element] = CoverageResult(
                fraction=0.0,
                n_components=0,
                pair_fractions={},
                explained_variance_ratio=(),
                n_train=0,
                n_test=int(test_rows.size),
                bins=int(bins),
                variance=float(variance),
            )
            continue
        for name, rows in (("train", train_rows), ("test", test_rows)):
            if rows.size < MIN_ROWS:
                raise UserInputError(
                    f"{element}: {name} set has {rows.size} environment(s); "
                    f"need at least {MIN_ROWS}"
                )
        try:
            results[element] = coverage_fraction(train[train_rows], test[test_rows], variance, bins)
        except UserInputError as exc:
            raise UserInputError(f"{element}: {exc}") from None
    return results


def _check_types(types: np.ndarray, n_rows: int, n_names: int, name: str) -> np.ndarray:
    types = np.asarray(types)
    if types.ndim != 1 or types.shape[0] != n_rows:
        raise UserInputError(
            f"{name} types must be a 1-D array with one entry per row ({n_rows}), "
            f"got shape {types.shape}"
        )
    if types.size and not np.issubdtype(types.dtype, np.integer):
        raise UserInputError(
            f"{name} types must be integers (indices into type_map), got dtype {types.dtype}"
        )
    bad = np.count_nonzero((types < 0) | (types >= n_names))
    if bad:
        raise UserInputError(
            f"{name} types: {bad} value(s) outside 0..{n_names - 1} (type_map has {n_names} names)"
        )
    return types
