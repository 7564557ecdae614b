"""Grain-boundary regions: which ions are near a GB plane, per time origin.

GB JSON (written by the grain-boundary builder)::

    {"sigma": 3, "normal_axis": 2, "plane_positions_A": [z1, z2], "cell_length_A": L, ...}

``normal_axis`` (0, 1, 2) is the lattice vector the GB planes cut; the planes are the lattice
planes at Cartesian positions ``z_p`` along that vector (for the usual orthogonal GB cell:
``z = z_p``). They are stored as fractions ``s_p = z_p / L`` (``L = cell_length_A``, or the
length of that lattice vector in the first frame if absent), so they follow the cell in NPT.
An ion belongs to the GB region at a time origin when its perpendicular distance to the
nearest plane, ``|s − s_p|`` (periodic) × the interplanar width ``V / |a_i × a_j|``, is ≤ the
half-width ``w`` (default 5 Å); otherwise it is bulk. Positions used are the drift-corrected
ones, i.e. measured in the framework's frame of reference, in which the GBs stay put.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from dpgen_llzo.analysis._io import read_json, require
from dpgen_llzo.errors import UserInputError

DEFAULT_GB_HALF_WIDTH_A = 5.0


@dataclass(frozen=True)
class GrainBoundaryPlanes:
    """GB plane positions along one lattice vector.

    Attributes
    ----------
    normal_axis
        Index (0, 1, 2) of the lattice vector normal to the planes.
    plane_positions_A
        Positions of the planes along that vector, Å.
    cell_length_A
        Cell length along the vector when the positions were written, Å (None: use the trajectory's).
    sigma
        Σ of the boundary, for reports.
    """

    normal_axis: int
    plane_positions_A: tuple[float, ...]
    cell_length_A: float | None = None
    sigma: int | None = None

    @classmethod
    def from_dict(cls, data: dict, source: str = "GB JSON") -> "GrainBoundaryPlanes":
        axis = require(data, "normal_axis", source)
        planes = require(data, "plane_positions_A", source)
        if axis not in (0, 1, 2):
            raise UserInputError(f"{source}: normal_axis must be 0, 1 or 2, got {axis!r}")
        if not isinstance(planes, list) or not planes:
            raise UserInputError(f"{source}: plane_positions_A must be a non-empty list of numbers")
        length = data.get("cell_length_A")
        return cls(int(axis), tuple(float(p) for p in planes), float(length) if length else None,
                   data.get("sigma"))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "GrainBoundaryPlanes":
        return cls.from_dict(read_json(path, "GB JSON"), str(path))

    def fractions(self, cell: np.ndarray) -> np.ndarray:
        """Plane positions as fractions of the normal lattice vector."""
        length = self.cell_length_A or float(np.linalg.norm(cell[self.normal_axis]))
        return np.asarray(self.plane_positions_A) / length

    def to_dict(self) -> dict:
        return {"sigma": self.sigma, "normal_axis": self.normal_axis,
                "plane_positions_A": list(self.plane_positions_A), "cell_length_A": self.cell_length_A}


def distance_to_planes(positions: np.ndarray, cells: np.ndarray, planes: GrainBoundaryPlanes,
                       chunk: int = 4096) -> np.ndarray:
    """Perpendicular distance (Å) of every ion to the nearest GB plane.

    Parameters
    ----------
    positions
        ``(n_frames, n_ions, 3)`` Cartesian positions, Å.
    cells
        ``(n_frames, 3, 3)`` cells, Å.

    Returns
    -------
    ``(n_frames, n_ions)`` distances, Å.
    """
    axis = planes.normal_axis
    s_planes = planes.fractions(cells[0])
    out = np.empty(positions.shape[:2])
    for start in range(0, len(positions), chunk):
        sl = slice(start, start + chunk)
        inv = np.linalg.inv(cells[sl])  # (n, 3, 3)
        s = np.einsum("tij,tj->ti", positions[sl], inv[:, :, axis])
        diff = s[:, :, None] - s_planes[None, None, :]
        diff -= np.round(diff)
        j, k = [i for i in range(3) if i != axis]
        c = cells[sl]
        widths = np.abs(np.linalg.det(c)) / np.linalg.norm(np.cross(c[:, j], c[:, k]), axis=1)  # V / |a_j × a_k|
        out[sl] = np.abs(diff).min(axis=2) * widths[:, None]
    return out


def gb_mask(positions: np.ndarray, cells: np.ndarray, planes: GrainBoundaryPlanes,
            half_width_A: float = DEFAULT_GB_HALF_WIDTH_A) -> np.ndarray:
    """``(n_frames, n_ions)`` True where the ion is within ``half_width_A`` of a GB plane."""
    if half_width_A <= 0:
        raise UserInputError(f"GB half-width must be positive, got {half_width_A}")
    return distance_to_planes(positions, cells, planes) <= half_width_A
