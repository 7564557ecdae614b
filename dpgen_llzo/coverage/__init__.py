"""PCA coverage of test (MD) atomic environments by the training set.

The convergence test of You et al. (npj Comput. Mater. 2024): standardise descriptors with the
training statistics, PCA, 2-D grids over every pair of kept components, covered / test cells.

>>> from dpgen_llzo.coverage import coverage_fraction, coverage_by_element

For a DP-GEN work directory, :func:`iteration_coverage` computes the coverage of iteration N's
explored environments by its training data, and :func:`coverage_step` also writes the reports
and the history that ``dpgen-llzo run`` stops on.
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
from dpgen_llzo.coverage.iteration import IterationCoverage, coverage_settings, iteration_coverage
from dpgen_llzo.coverage.workflow import CoverageStep, coverage_step

__all__ = [
    "ALL",
    "DEFAULT_BINS",
    "DEFAULT_VARIANCE",
    "CoverageResult",
    "CoverageStep",
    "IterationCoverage",
    "StandardisedPCA",
    "coverage_by_element",
    "coverage_fraction",
    "coverage_settings",
    "coverage_step",
    "fit_standardised_pca",
    "grid_coverage",
    "iteration_coverage",
]
