"""Ion density ("superposition") maps projected on a lattice plane.

All positions of one species over the run are wrapped into the cell and histogrammed in the
fractional coordinates of the two lattice vectors spanning the plane normal to lattice
vector ``axis``, optionally keeping only a slab ``lo ≤ s_axis < hi`` (fractions). The map is
normalised to a mean of 1 over the plane, so values read as "times the average density".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.trajectory import Frame
from dpgen_llzo.errors import UserInputError


@dataclass
class DensityMap:
    """Projected density of one species.

    Attributes
    ----------
    density
        ``(bins_u, bins_v)`` relative density (mean 1).
    axes
        Lattice-vector indices (u, v) spanning the plane.
    lengths_A
        Mean lengths of those lattice vectors, Å (for plot extents).
    n_frames, n_positions
        Frames and ion positions accumulated.
    """

    density: np.ndarray
    axes: tuple[int, int]
    lengths_A: tuple[float, float]
    n_frames: int
    n_positions: int


def density_map(frames: Iterable[Frame], species: str, axis: int = 2, bins: int = 100,
                slab: tuple[float, float] | None = None) -> DensityMap:
    """Accumulate the projected density of ``species`` (see module docstring)."""
    if axis not in (0, 1, 2):
        raise UserInputError(f"--axis must be 0, 1 or 2, got {axis}")
    if bins < 2:
        raise UserInputError(f"--bins must be ≥ 2, got {bins}")
    u, v = [i for i in range(3) if i != axis]
    hist = np.zeros((bins, bins))
    lengths = np.zeros(2)
    n_frames = n_pos = 0
    for frame in frames:
        sel = np.asarray(frame.symbols) == species
        if not sel.any():
            raise UserInputError(f"species {species!r} not in the frames")
        frac = frame.positions[sel] @ np.linalg.inv(frame.cell)
        frac -= np.floor(frac)
        if slab is not None:
            frac = frac[(frac[:, axis] >= slab[0]) & (frac[:, axis] < slab[1])]
        h, _, _ = np.histogram2d(frac[:, u], frac[:, v], bins=bins, range=[[0, 1], [0, 1]])
        hist += h
        lengths += np.linalg.norm(frame.cell[[u, v]], axis=1)
        n_frames += 1
        n_pos += len(frac)
    if n_frames == 0:
        raise UserInputError("no frames for the density map")
    mean = hist.mean()
    return DensityMap(hist / mean if mean > 0 else hist, (u, v), tuple(lengths / n_frames), n_frames, n_pos)


ANALYSES.register("density-map", summary="Li superposition map projected on a lattice plane")(density_map)
