"""Which grain boundary: the coincident-site lattice (CSL) of a Σ/axis/plane, from aimsgb.

:func:`find_csl` asks aimsgb's ``GBInformation(axis, sigma)`` for the CSL matrix of a Σ/axis
pair and the GB planes it realises. aimsgb lists one representative of each plane family per
axis (for Σ3 about [1-10] it lists (1 1 -2), not (1 1 2)); a requested plane that a cubic
point-group operation maps onto a listed plane *while keeping the rotation axis* (up to sign)
describes the same boundary, so it is accepted and the listed plane is built. Both are
recorded. Anything else is a :class:`~dpgen_llzo.errors.UserInputError` whose one line names
the Σ values or planes aimsgb knows for that axis.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from dpgen_llzo.errors import UserInputError

#: Largest Σ listed in error messages about an unknown Σ for an axis.
MAX_LISTED_SIGMA = 49


@dataclass(frozen=True)
class CSLChoice:
    """A grain boundary type as aimsgb realises it.

    Attributes
    ----------
    sigma
        Σ, the inverse density of coincident sites.
    axis
        Rotation axis [uvw], reduced to coprime integers.
    plane
        GB plane (hkl) as requested, reduced.
    csl_plane
        The plane aimsgb builds: ``plane`` itself, or its image under a cubic symmetry that
        keeps ``axis`` (same boundary).
    csl
        3×3 integer CSL matrix from aimsgb; its columns are the orthogonal CSL vectors in units
        of the cubic lattice and column ``direction`` is ``csl_plane``.
    direction
        Index of the CSL column normal to the GB plane (aimsgb's stacking direction).
    theta_deg
        Misorientation angle about ``axis``, degrees.
    """

    sigma: int
    axis: tuple[int, int, int]
    plane: tuple[int, int, int]
    csl_plane: tuple[int, int, int]
    csl: np.ndarray
    direction: int
    theta_deg: float


def reduce_indices(values: Sequence[object], name: str) -> tuple[int, int, int]:
    """Three integers, not all zero, divided by their greatest common divisor."""
    try:
        ints = [int(v) for v in values]  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise UserInputError(f"{name} must be three integers, got {values!r}") from None
    if len(ints) != 3 or any(float(v) != i for v, i in zip(values, ints)):  # type: ignore
        raise UserInputError(f"{name} must be three integers, got {list(values)!r}")
    divisor = reduce(math.gcd, (abs(i) for i in ints))
    if divisor == 0:
        raise UserInputError(f"{name} must not be 0 0 0")
    return tuple(i // divisor for i in ints)  # type: ignore[return-value]


def miller(v: Sequence[int]) -> str:
    """``(1 1 -2)``-style text of an index triple."""
    return " ".join(str(int(i)) for i in v)


def cubic_point_group() -> list[np.ndarray]:
    """The 48 signed permutation matrices of the cubic point group m-3m."""
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            op = np.zeros((3, 3), dtype=int)
            for row, (col, sign) in enumerate(zip(perm, signs)):
                op[row, col] = sign
            ops.append(op)
    return ops


def known_sigmas(axis: Sequence[int], max_sigma: int = MAX_LISTED_SIGMA) -> list[int]:
    """Σ values aimsgb can build about ``axis`` up to ``max_sigma``."""
    from aimsgb import GBInformation

    try:
        return sorted(int(s) for s in GBInformation(list(axis), max_sigma))
    except ValueError:
        return []


def gb_planes(axis: Sequence[int], sigma: int) -> list[tuple[tuple[int, int, int], ...]]:
    """GB planes aimsgb lists for Σ ``sigma`` about ``axis``, one tuple per CSL matrix."""
    from aimsgb import GBInformation

    info = GBInformation(list(axis), int(sigma), specific=True)
    return [tuple(tuple(int(i) for i in p) for p in planes) for planes in info[sigma]["GB plane"]]


def find_csl(sigma: int, axis: Sequence[int], plane: Sequence[int]) -> CSLChoice:
    """Look up the CSL of a Σ/axis/plane combination with aimsgb.

    Parameters
    ----------
    sigma
        Σ (odd integer ≥ 3).
    axis
        Rotation axis [uvw].
    plane
        GB plane (hkl); cubic equivalents of aimsgb's planes that keep ``axis`` are accepted.

    Raises
    ------
    UserInputError
        Σ not realisable about ``axis`` (the message lists the Σ values that are, up to
        :data:`MAX_LISTED_SIGMA`), or a plane that is not one of Σ's (the message lists them).
    """
    from aimsgb import GBInformation

    axis_t = reduce_indices(axis, "axis")
    plane_t = reduce_indices(plane, "plane")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, np.integer)):
        raise UserInputError(f"sigma must be an odd integer >= 3, got {sigma!r}")
    sigma = int(sigma)
    axis_text = "".join(str(i) for i in axis_t)
    if sigma < 3 or sigma % 2 == 0:
        options = ", ".join(map(str, known_sigmas(axis_t))) or "none"
        raise UserInputError(
            f"sigma must be an odd integer >= 3, got {sigma}; aimsgb knows for axis "
            f"[{axis_text}]: {options}"
        )
    try:
        info = GBInformation(list(axis_t), sigma, specific=True)
        entry = info[sigma]
    except (ValueError, KeyError):
        options = ", ".join(map(str, known_sigmas(axis_t))) or "none"
        raise UserInputError(
            f"no sigma {sigma} grain boundary about axis [{axis_text}]; aimsgb knows sigma "
            f"{options} for this axis (up to {MAX_LISTED_SIGMA})"
        ) from None
    plane_lists = [[tuple(int(i) for i in p) for p in planes] for planes in entry["GB plane"]]
    axis_v = np.array(axis_t)
    plane_v = np.array(plane_t)
    # Identity first, so a listed plane is always used as is.
    ops = sorted(cubic_point_group(), key=lambda op: not np.array_equal(op, np.eye(3, dtype=int)))
    for op in ops:
        image_axis = op @ axis_v
        if not (np.array_equal(image_axis, axis_v) or np.array_equal(image_axis, -axis_v)):
            continue
        image = op @ plane_v
        for k, planes in enumerate(plane_lists):
            for candidate in (tuple(int(i) for i in image), tuple(int(-i) for i in image)):
                if candidate in planes:
                    csl = np.array(entry["CSL matrix"][k], dtype=int)
                    return CSLChoice(
                        sigma=sigma,
                        axis=axis_t,
                        plane=plane_t,
                        csl_plane=candidate,
                        csl=csl,
                        direction=planes.index(candidate),
                        theta_deg=float(entry["Theta"][k]),
                    )
    listed = ", ".join(f"({miller(p)})" for planes in plane_lists for p in planes)
    raise UserInputError(
        f"sigma {sigma} about axis [{axis_text}] has no GB plane ({miller(plane_t)}); "
        f"aimsgb's planes: {listed} (or cubic equivalents that keep the axis)"
    )
