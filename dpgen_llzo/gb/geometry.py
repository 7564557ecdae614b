"""Bicrystal geometry: periodic two-grain cells of a cubic crystal from aimsgb's grains.

The boundary itself (CSL matrix, planes) comes from :mod:`.csl`.

aimsgb's ``Grain.build_grains`` gives grain A (a supercell of the bulk along the orthogonalised
CSL vectors, one CSL period ``L`` thick along the GB normal) and grain B (grain A rotated by
180° about a Cartesian axis). Stacking whole CSL periods makes large cells (Σ5(310) of LLZO:
3 840 atoms), so each grain is cut to the thinnest *lattice* slab that satisfies the plane
separation rule: with in-plane CSL vectors ``t1, t2`` and a bulk lattice vector ``t3`` whose
component along the normal is ``h`` (the smallest multiple of the interplanar spacing above
``min_separation``), the set ``span(t1, t2, t3)`` is a sublattice of the bulk, and the atoms of
aimsgb's grain whose coordinates along ``t3`` fall in [0, 1) are one exact period of it.
Grain B is placed at ``t3_A`` (a lattice vector of A), so both interfaces are coincidence
configurations of the CSL, as in aimsgb's own ``stack_grains``; the cell vector across the
grains is ``t3_A + t3_B`` reduced by in-plane CSL vectors, and ``t3_A``, ``t3_B`` are chosen so
that it is as close to the normal as the lattice allows (exactly normal for Σ3(112) and
Σ5(310)). ``uc_a``/``uc_b`` keep aimsgb's meaning (grain thickness in whole CSL periods).

:func:`stack_grains` also takes the rigid-body degrees of freedom the builder scans: where the
slabs are cut along ``t3`` (which atomic layers terminate them), an in-plane shift of grain B,
and an opening (gap) at each GB. The returned cell has the GB normal along its third lattice
vector and the planes in the middle of the gaps, away from the cell boundary (a quarter and
three quarters of the cell for two equal grains).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.gb.csl import CSLChoice, find_csl

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

__all__ = [
    "Bicrystal",
    "CSLChoice",
    "GrainPair",
    "check_cubic",
    "find_csl",
    "prepare_grains",
    "stack_grains",
]

#: Relative tolerance on a, b, c and absolute (degrees) on the angles of a "cubic" bulk cell.
CUBIC_TOLERANCE = 1e-3
#: Fractional tolerance used to identify coincident sites when cutting a grain.
_FRAC_TOL = 1e-6


@dataclass(frozen=True)
class Bicrystal:
    """A periodic two-grain cell before interface clean-up.

    Attributes
    ----------
    structure
        Grains A and B stacked along the third lattice vector; site property ``grain`` is
        ``"A"`` or ``"B"``.
    plane_fractions
        Fractional coordinates of the GB planes along the third lattice vector.
    grain_thickness_A
        Thickness of grains A and B along the GB normal, Å.
    stacking_vectors
        ``t3`` of grains A and B in units of the cubic bulk lattice vectors (integers).
    """

    structure: Structure
    plane_fractions: tuple[float, ...]
    grain_thickness_A: tuple[float, float]
    stacking_vectors: tuple[tuple[int, int, int], tuple[int, int, int]]


def check_cubic(bulk: Structure) -> float:
    """Return the lattice parameter of a cubic cell; :class:`UserInputError` otherwise."""
    a, b, c = bulk.lattice.abc
    angles = bulk.lattice.angles
    if (
        max(abs(b - a), abs(c - a)) > CUBIC_TOLERANCE * a
        or max(abs(x - 90.0) for x in angles) > CUBIC_TOLERANCE * 90
    ):
        raise UserInputError(
            "the bulk cell must be a cubic conventional cell (a = b = c, 90° angles), got "
            f"a, b, c = {a:.4f}, {b:.4f}, {c:.4f} Å and angles {', '.join(f'{x:.3f}' for x in angles)}"
        )
    return float(a)


def _grain_rotation(grain_a: Structure, grain_b: Structure) -> np.ndarray:
    """The 180° rotation about a Cartesian axis that aimsgb applied to make grain B from A."""
    from scipy.spatial import cKDTree

    if not np.allclose(grain_a.lattice.matrix, np.diag(np.diag(grain_a.lattice.matrix))):
        raise RuntimeError("aimsgb grain lattice is not diagonal")  # pragma: no cover
    species_a = np.array([s.specie.symbol for s in grain_a])
    species_b = np.array([s.specie.symbol for s in grain_b])
    frac_a = _wrap(grain_a.frac_coords)
    frac_b = _wrap(grain_b.frac_coords)
    for axis in range(3):
        signs = -np.ones(3)
        signs[axis] = 1.0
        rotated = _wrap(frac_a * signs)
        matched = True
        for element in np.unique(species_a):
            tree = cKDTree(frac_b[species_b == element], boxsize=1.0)
            distance, _ = tree.query(rotated[species_a == element])
            if distance.max(initial=0.0) > 1e-5:
                matched = False
                break
        if matched:
            return np.diag(signs)
    raise RuntimeError("could not identify the rotation aimsgb used for grain B")


def _wrap(frac: np.ndarray) -> np.ndarray:
    """Fractional coordinates in [0, 1), values within the tolerance of 1 set to 0."""
    wrapped = np.mod(frac, 1.0)
    wrapped[wrapped > 1.0 - _FRAC_TOL * 1e-3] = 0.0
    return wrapped


def _lattice_vectors_with_height(
    basis: np.ndarray, normal: np.ndarray, height: float
) -> np.ndarray:
    """Lattice vectors (integer combinations of ``basis`` rows) with ``height`` along ``normal``.

    Returns the Cartesian vectors (k, 3).
    """
    heights = basis @ normal
    smallest = min(abs(h) for h in heights if abs(h) > 1e-8)
    span = math.ceil(abs(height) / smallest) + 2
    grid = np.array(list(itertools.product(range(-span, span + 1), repeat=3)))
    keep = np.abs(grid @ heights - height) < 1e-6
    return grid[keep] @ basis


def _interplanar_step(basis: np.ndarray, normal: np.ndarray) -> float:
    """Smallest positive component along ``normal`` of a lattice vector of ``basis``, Å."""
    heights = basis @ normal
    grid = np.array(list(itertools.product(range(-12, 13), repeat=3)))
    values = grid @ heights
    return float(values[values > 1e-6].min())


def _in_plane_residue(vector: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """``vector`` minus the nearest lattice vector of the orthogonal in-plane pair (t1, t2)."""
    x = np.dot(vector, t1) / np.dot(t1, t1)
    y = np.dot(vector, t2) / np.dot(t2, t2)
    return vector - np.round(x) * t1 - np.round(y) * t2


def _select_period(
    grain: Structure, cell: np.ndarray, direction: int, expected: int, offset: float = 0.0
) -> tuple[list[str], np.ndarray]:
    """Species and fractional coordinates (in ``cell``) of one period of ``grain``.

    ``cell`` must be a sublattice of the grain's crystal; the sites of ``grain`` are wrapped
    into it (after moving the crystal down by ``offset`` × the stacking vector ``cell[direction]``,
    which moves where the period is cut) and coincident images are dropped.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    frac = grain.cart_coords @ np.linalg.inv(cell)
    frac[:, direction] -= offset
    frac = _wrap(frac)
    tree = cKDTree(frac, boxsize=1.0)
    pairs = tree.query_pairs(_FRAC_TOL, output_type="ndarray")
    n = len(frac)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    first = np.sort(first)
    species = [grain[i].specie.symbol for i in range(n)]
    if any(species[i] != species[j] for i, j in pairs):
        raise RuntimeError("different species at coincident positions")  # pragma: no cover
    if len(first) != expected:
        raise RuntimeError(f"grain period has {len(first)} sites, expected {expected}")
    return [species[i] for i in first], frac[first]


@dataclass(frozen=True)
class GrainPair:
    """aimsgb's two grains and the lattice slabs cut from them (see the module docstring).

    Attributes
    ----------
    choice
        The boundary.
    grain_a, grain_b
        aimsgb's orthogonal grains (whole CSL periods, thick enough to hold one slab).
    cell_a, cell_b
        Lattice rows of the two slabs in the grain frame; row ``choice.direction`` is the
        stacking vector ``t3``, the others the in-plane CSL vectors.
    across
        Cell vector across both grains without vacuum, Å (grain frame).
    thickness_A
        Grain thicknesses along the normal, Å.
    stacking_vectors
        ``t3`` of each grain in units of the bulk cubic lattice vectors (before the rotation of
        grain B).
    n_sites
        Sites per slab.
    """

    choice: CSLChoice
    grain_a: Structure
    grain_b: Structure
    cell_a: np.ndarray
    cell_b: np.ndarray
    across: np.ndarray
    thickness_A: tuple[float, float]
    stacking_vectors: tuple[tuple[int, int, int], tuple[int, int, int]]
    n_sites: tuple[int, int]


def prepare_grains(
    bulk: Structure,
    choice: CSLChoice,
    *,
    min_separation: float = 12.0,
    uc_a: int | None = None,
    uc_b: int | None = None,
) -> GrainPair:
    """Build aimsgb's grains and choose the lattice slab of each.

    Parameters
    ----------
    bulk
        Cubic conventional cell.
    choice
        The boundary, from :func:`find_csl`.
    min_separation
        The GB planes must be more than this far apart, Å. Without ``uc_a``/``uc_b`` each grain
        is the thinnest lattice slab thicker than this.
    uc_a, uc_b
        Grain thickness in whole CSL periods along the normal (aimsgb's meaning); both or
        neither.

    Raises
    ------
    UserInputError
        Non-cubic bulk, only one of ``uc_a``/``uc_b``, or grains not thicker than
        ``min_separation``.
    """
    from aimsgb import Grain

    check_cubic(bulk)
    if (uc_a is None) != (uc_b is None):
        raise UserInputError("give both --uc-a and --uc-b, or neither")
    grain = Grain.from_sites(bulk.sites)
    direction = choice.direction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_a, _ = grain.build_grains(choice.csl, direction, 1, 1)
    period = one_a.lattice.matrix.copy()
    length = float(np.linalg.norm(period[direction]))
    normal = period[direction] / length
    bulk_in_grain = np.linalg.inv(choice.csl.transpose()) @ period  # bulk rows, grain frame
    step = _interplanar_step(bulk_in_grain, normal)
    if uc_a is None:
        layers = math.floor(min_separation / step + 1e-9) + 1
        heights = (layers * step, layers * step)
    else:
        for name, value in (("uc_a", uc_a), ("uc_b", uc_b)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise UserInputError(f"{name} must be a positive integer, got {value!r}")
        heights = (int(uc_a) * length, int(uc_b) * length)  # type: ignore[arg-type]
    if min(heights) <= min_separation:
        raise UserInputError(
            f"grains of {heights[0]:.2f} and {heights[1]:.2f} Å put the GB planes closer than "
            f"{min_separation:g} Å; use more CSL periods (one is {length:.2f} Å) or omit "
            "--uc-a/--uc-b"
        )
    repeats = max(math.ceil(h / length - 1e-9) for h in heights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grain_a, grain_b = grain.build_grains(choice.csl, direction, repeats, repeats)
    rotation = _grain_rotation(grain_a, grain_b)
    in_plane = [i for i in range(3) if i != direction]
    t1, t2 = period[in_plane[0]], period[in_plane[1]]
    basis_b = bulk_in_grain @ rotation

    vectors_a = _lattice_vectors_with_height(bulk_in_grain, normal, heights[0])
    vectors_b = _lattice_vectors_with_height(basis_b, normal, heights[1])
    residue_a = np.array([_in_plane_residue(v - heights[0] * normal, t1, t2) for v in vectors_a])
    residue_b = np.array([_in_plane_residue(v - heights[1] * normal, t1, t2) for v in vectors_b])
    # Distinct in-plane residues only (many stacking vectors differ by in-plane CSL vectors).
    _, keep_a = np.unique(np.round(residue_a, 6), axis=0, return_index=True)
    _, keep_b = np.unique(np.round(residue_b, 6), axis=0, return_index=True)
    best = None
    for i, j in itertools.product(np.sort(keep_a), np.sort(keep_b)):
        tilt = _in_plane_residue(residue_a[i] + residue_b[j], t1, t2)
        key = (
            round(float(np.linalg.norm(tilt)), 6),
            round(float(np.linalg.norm(residue_a[i]) + np.linalg.norm(residue_b[j])), 6),
            tuple(np.round(residue_a[i], 6)),
            tuple(np.round(residue_b[j], 6)),
        )
        if best is None or key < best[0]:
            best = (key, i, j, tilt)
    assert best is not None
    _, ia, ib, tilt = best
    cells = []
    for height, residue in ((heights[0], residue_a[ia]), (heights[1], residue_b[ib])):
        cell = np.array(period)
        cell[direction] = height * normal + residue
        cells.append(cell)
    volume = abs(np.linalg.det(bulk_in_grain))
    n_sites = tuple(round(len(bulk) * abs(np.linalg.det(c)) / volume) for c in cells)
    stacking = tuple(
        tuple(int(x) for x in np.rint(np.linalg.solve(bulk_in_grain.T, t)).astype(int))
        for t in (cells[0][direction], cells[1][direction] @ rotation)
    )
    return GrainPair(
        choice=choice,
        grain_a=grain_a,
        grain_b=grain_b,
        cell_a=cells[0],
        cell_b=cells[1],
        across=(heights[0] + heights[1]) * normal + tilt,
        thickness_A=(float(heights[0]), float(heights[1])),
        stacking_vectors=stacking,  # type: ignore[arg-type]
        n_sites=n_sites,  # type: ignore[arg-type]
    )


def stack_grains(
    pair: GrainPair,
    *,
    cut_offset: float = 0.0,
    translation: tuple[float, float] = (0.0, 0.0),
    vacuum: float = 0.0,
    gap: float = 0.0,
) -> Bicrystal:
    """Cut one slab from each grain and stack them into a periodic bicrystal.

    Parameters
    ----------
    pair
        From :func:`prepare_grains`.
    cut_offset
        Where the slabs are cut, as a fraction of their stacking vector (0: at the origin of
        the bulk cell, aimsgb's choice); the same for both grains.
    translation
        In-plane shift of grain B, in fractions of the two in-plane CSL vectors.
    vacuum
        Vacuum above grain B, Å; 0 gives the periodic cell with two GBs.
    gap
        Extra space added at each GB along the normal, Å (aimsgb's ``add_if_dist``).

    Returns
    -------
    Bicrystal
        GB normal along the third lattice vector, sites of grain A first.
    """
    from pymatgen.core import Lattice, Structure

    if vacuum < 0:
        raise UserInputError(f"vacuum must be >= 0 Å, got {vacuum}")
    direction = pair.choice.direction
    in_plane = [i for i in range(3) if i != direction]
    species_a, frac_a = _select_period(
        pair.grain_a, pair.cell_a, direction, pair.n_sites[0], cut_offset
    )
    species_b, frac_b = _select_period(
        pair.grain_b, pair.cell_b, direction, pair.n_sites[1], cut_offset
    )
    normal = np.cross(pair.cell_a[in_plane[0]], pair.cell_a[in_plane[1]])
    normal /= np.linalg.norm(normal)
    if np.dot(normal, pair.across) < 0:
        normal = -normal
    shift_b = translation[0] * pair.cell_a[in_plane[0]] + translation[1] * pair.cell_a[in_plane[1]]
    offset_b = pair.cell_a[direction] + shift_b + gap * normal
    cart = np.vstack([frac_a @ pair.cell_a, frac_b @ pair.cell_b + offset_b])
    n_gaps = 2 if vacuum == 0 else 1
    lattice = np.array(pair.cell_a)
    lattice[direction] = pair.across + (vacuum + n_gaps * gap) * normal
    frac = cart @ np.linalg.inv(lattice)
    height_total = float(np.dot(lattice[direction], normal))
    h_a, h_b = pair.thickness_A
    planes = [(h_a + gap / 2) / height_total]
    if vacuum == 0:
        shift = (h_b + gap) / 2 / height_total
        frac[:, direction] += shift
        planes = [shift - gap / 2 / height_total, shift + (h_a + gap / 2) / height_total]
    frac = _wrap(frac)

    # Put the GB normal on the third lattice vector (a cyclic permutation keeps handedness).
    order = [(direction + 1) % 3, (direction + 2) % 3, direction]
    lattice = lattice[order]
    frac = frac[:, order]
    lengths = np.linalg.norm(lattice, axis=1)
    cosines = [
        np.dot(lattice[i], lattice[j]) / (lengths[i] * lengths[j])
        for i, j in ((0, 1), (0, 2), (1, 2))
    ]
    if max(abs(c) for c in cosines) < 1e-10:
        new_lattice = Lattice.orthorhombic(*lengths)
    else:
        new_lattice = Lattice.from_parameters(*Lattice(lattice).parameters)
    structure = Structure(
        new_lattice,
        species_a + species_b,
        frac,
        site_properties={"grain": ["A"] * len(species_a) + ["B"] * len(species_b)},
    )
    return Bicrystal(
        structure=structure,
        plane_fractions=tuple(round(float(p), 12) for p in planes),
        grain_thickness_A=pair.thickness_A,
        stacking_vectors=pair.stacking_vectors,
    )
