"""Figures of the coverage step: 2-D projections (train vs explored) and coverage vs iteration."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpgen_llzo.coverage.pca import fit_standardised_pca
from dpgen_llzo.coverage.species import ALL

if TYPE_CHECKING:  # pragma: no cover
    from dpgen_llzo.coverage.iteration import IterationCoverage

__all__ = ["plot_history", "plot_projections", "pyplot", "save_figure"]

#: Component pairs drawn per row of the projection figure (when that many components are kept).
PAIRS = ((0, 1), (0, 2), (1, 2))
#: Points drawn per set and panel (a seeded sample; the coverage uses every point).
MAX_POINTS = 4000


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG atomically and close it."""
    from dpgen_llzo.atomic_io import save_figure_atomic

    return save_figure_atomic(fig, path, dpi=dpi)


def _sample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if x.shape[1] <= n:
        return x
    return x[:, np.sort(rng.choice(x.shape[1], size=n, replace=False))]


def plot_projections(coverage: IterationCoverage, path: str | os.PathLike, seed: int = 0) -> Path:
    """Training (blue, drawn on top) and explored (red) environments on the first principal-component pairs.

    One row per result (all environments, then each element, each with its own PCA fitted on
    its training rows, as the coverage uses), one column per pair in :data:`PAIRS`.
    """
    if coverage.rows is None:
        raise ValueError("the descriptor rows were not kept")
    train, train_types, test, test_types = coverage.rows
    keys = [k for k in coverage.results if coverage.results[k].n_components >= 2]
    plt = pyplot()
    n_cols = len(PAIRS)
    fig, axes = plt.subplots(len(keys), n_cols, figsize=(3.3 * n_cols, 3.0 * len(keys)), squeeze=False)
    rng = np.random.default_rng(seed)
    for row, key in enumerate(keys):
        result = coverage.results[key]
        if key == ALL:
            tr, te = train, test
        else:
            t = coverage.type_map.index(key)
            tr, te = train[train_types == t], test[test_types == t]
        pca = fit_standardised_pca(tr, result.variance)
        p_tr = _sample(pca.transform(tr, name="train"), MAX_POINTS, rng)
        p_te = _sample(pca.transform(te, name="test"), MAX_POINTS, rng)
        for col, (i, j) in enumerate(PAIRS):
            ax = axes[row, col]
            if j >= pca.n_components:
                ax.axis("off")
                continue
            ax.scatter(p_te[i], p_te[j], s=3, c="tab:red", alpha=0.4, lw=0, label="explored", rasterized=True)
            ax.scatter(p_tr[i], p_tr[j], s=2, c="tab:blue", alpha=0.6, lw=0, label="training", rasterized=True)
            label = "all" if key == ALL else key
            ax.set_title(f"{label}: PC{i + 1}-PC{j + 1} coverage {result.pair_fractions[(i, j)]:.3f}", fontsize=8)
            ax.set_xlabel(f"PC{i + 1}", fontsize=8)
            ax.set_ylabel(f"PC{j + 1}", fontsize=8)
            ax.tick_params(labelsize=7)
            if row == 0 and col == 0:
                ax.legend(fontsize=7, markerscale=3, loc="best")
    fig.suptitle(
        f"iteration {coverage.iteration}: coverage {coverage.fraction:.4f} "
        f"({coverage.settings['bins']} bins, {coverage.settings['variance']:.2f} variance)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def plot_history(rows: Sequence[dict[str, Any]], threshold: float, path: str | os.PathLike) -> Path:
    """Coverage (overall and per element) against the iteration, with the threshold line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    done = [r for r in rows if r.get("fraction") is not None]
    its = [r["iteration"] for r in done]
    ax.plot(its, [r["fraction"] for r in done], "o-", color="k", lw=1.6, label="all")
    elements: list[str] = []
    for r in done:
        elements += [e for e in r.get("per_element", {}) if e not in elements]
    for element in elements:
        pts = [(r["iteration"], r["per_element"][element]) for r in done if element in r.get("per_element", {})]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], ".--", lw=1, label=element)
    ax.axhline(threshold, color="tab:green", ls=":", lw=1.2, label=f"threshold {threshold:g}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("PCA coverage")
    if its:
        ax.set_xticks(its)
    lowest = [r["fraction"] for r in done] + [v for r in done for v in r.get("per_element", {}).values()]
    ax.set_ylim(min([0.5, *lowest]) - 0.02, 1.01)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)
