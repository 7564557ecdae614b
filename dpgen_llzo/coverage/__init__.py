"""PCA coverage of test (MD) atomic environments by the training set.

The convergence test of You et al. (npj Comput. Mater. 2024): standardise descriptors with the
training statistics, PCA, 2-D grids over every pair of kept components, covered / test cells.

>>> from dpgen_llzo.coverage import coverage_fraction, coverage_by_element
"""

from dpgen_llzo.coverage.pca import (
    DEFAULT_BINS,
    DEFAULT_VARIANCE,
    CoverageResult,
    StandardisedPCA,
    coverage_fraction,
    fit_standardised_pca,
    grid_coverage,
)
from dpgen_llzo.coverage.species import ALL, coverage_by_element

__all__ = [
    "ALL",
    "DEFAULT_BINS",
    "DEFAULT_VARIANCE",
    "CoverageResult",
    "StandardisedPCA",
    "coverage_by_element",
    "coverage_fraction",
    "fit_standardised_pca",
    "grid_coverage",
]
