"""Cubic garnet LLZO (Ia-3d, No. 230) with an ordered, electrostatically ranked Li arrangement.

The La/Zr/O framework is fully occupied. Li is disordered in experiment over the tetrahedral
24d sites and the octahedral 96h sites (two off-centre positions per 48g octahedral cage); an
atomistic cell needs one explicit arrangement of the 56 Li of the conventional cell.

Geometry of the full Li sublattice (standard setting, fractional coordinates below; the
distances scale with ``a`` and are quoted for a = 12.97 Å):

* the two 96h positions of one octahedral cage are 0.68 Å apart (48 cages);
* each cage shares faces with two 24d tetrahedra: each 96h site is 1.67 Å from the 24d site on
  its own side and 2.32 Å from the one on the far side, so every 24d site has four 96h sites at
  1.67 Å and four at 2.32 Å, and the 24d sites form a 4-connected net (24 sites, 48 cages);
* 24d–24d ≥ 3.97 Å, 96h–96h in different cages ≥ 2.52 Å.

An ordered cell therefore puts at most one Li per cage and never a 96h Li at 1.67 Å from a
filled 24d site; every Li–Li distance is then ≥ 2.32 Å. With ``n`` filled 24d sites joined by
``E`` cages, 48 − E cages stay usable, so 56 Li fit only if E ≤ n − 8. Of the 4n cages
touching filled 24d sites at most 4(24 − n) lead to empty ones, so E ≥ 4n − 48, which gives
8 ≤ n ≤ 13 (n = 8 with 48 octahedral Li is the tetragonal-like limit; the Ewald ranking
mostly picks n = 11–12, a 24d occupancy of about 0.5).

Ordering algorithm (:func:`li_orderings`): each of ``n_candidates`` candidates drawn with a
seeded generator picks the number of 24d Li (8–13, or the user's value), fills 24d sites in
random order while the number of cages with both ends filled stays within n − 8 (random
filled/empty swaps repair a set that overshoots), then puts one Li in randomly chosen usable
cages, on the position not blocked by a filled 24d site (either one when neither end is
filled). Candidates are ranked by Ewald energy with formal charges (Li+1 La+3 Zr+4 O−2), a
quadratic form over the occupied sites of an interaction matrix computed once for all 120 Li
positions plus the framework; the lowest one is returned.

Low-energy orderings are few, so ``n_candidates`` trades energy for variety. Over 40 seeds
(best Ewald energy found ≈ −4873.8 eV per cell, median candidate ≈ −4868.9 eV): 300 candidates
give 6 distinct energies (several seeds land on symmetry images of one ordering), the default
100 give 15 distinct energies on average 0.36 eV (≈2 meV/atom) above the best, 30 give 25
distinct. ``n_candidates=1`` gives a random ordering that still obeys the exclusions.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import (
    FORMAL_CHARGES,
    check_positive,
    check_positive_int,
    is_integer,
    sort_sites,
)

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Default cubic lattice parameter in Å (room temperature, Al/Ga-stabilised samples).
DEFAULT_A = 12.97

#: Framework sites in the standard setting of Ia-3d: element -> (Wyckoff label, x, y, z).
FRAMEWORK_SITES: dict[str, tuple[str, tuple[float, float, float]]] = {
    "La": ("24c", (1 / 8, 0.0, 1 / 4)),
    "Zr": ("16a", (0.0, 0.0, 0.0)),
    "O": ("96h", (0.1006, 0.1955, 0.2816)),
}
#: Tetrahedral Li site 24d and off-centre octahedral Li site 96h (fractional x, y, z).
LI_TETRAHEDRAL_24D: tuple[float, float, float] = (3 / 8, 0.0, 1 / 4)
LI_OCTAHEDRAL_96H: tuple[float, float, float] = (0.100, 0.685, 0.577)

#: Li per conventional cell (Li56La24Zr16O96).
LI_PER_CELL = 56
#: Two Li closer than this (Å, at a = DEFAULT_A) exclude each other: the 0.68 Å cage pairs and
#: the 1.67 Å 24d–96h neighbours; the 2.32 Å 24d–96h neighbours are allowed.
EXCLUSION_DISTANCE = 2.0
#: Range of 24d Li compatible with the exclusions (see the module docstring).
MIN_TETRAHEDRAL_LI = 8
MAX_TETRAHEDRAL_LI = 13
#: Candidates ranked per structure by default.
DEFAULT_CANDIDATES = 100


@dataclass(frozen=True)
class LiSiteNetwork:
    """All 120 candidate Li positions of the cubic cell and which of them exclude each other.

    Shapes are for the conventional cell; a supercell of N cells has N times as many sites.

    Attributes
    ----------
    frac_coords
        (120, 3) fractional coordinates; rows 0–23 are the 24d sites, rows 24–119 the 96h sites.
    n_tetrahedral_sites
        Number of 24d sites (24); site ``i`` is tetrahedral when ``i < n_tetrahedral_sites``.
    cages
        (48, 2) indices of the two 96h positions of each octahedral cage.
    conflicts
        (120, 120) bool, True where two sites are closer than :data:`EXCLUSION_DISTANCE`.
    tetrahedral_links
        (24, 24) int, number of cages joining two 24d sites (0 or 1).
    """

    frac_coords: np.ndarray
    n_tetrahedral_sites: int
    cages: np.ndarray
    conflicts: np.ndarray
    tetrahedral_links: np.ndarray


@dataclass(frozen=True)
class LiOrdering:
    """One arrangement of the 56 Li over the sites of :class:`LiSiteNetwork`.

    Attributes
    ----------
    sites
        Sorted indices of the occupied sites.
    n_tetrahedral
        Number of Li on 24d sites.
    ewald_energy
        Ewald energy of the whole conventional cell with formal charges, in eV, at the lattice
        parameter the ordering was ranked for.
    """

    sites: tuple[int, ...]
    n_tetrahedral: int
    ewald_energy: float


def cubic_framework(a: float = DEFAULT_A) -> Structure:
    """The La24Zr16O96 framework of cubic garnet LLZO.

    Parameters
    ----------
    a
        Cubic lattice parameter in Å.
    """
    from pymatgen.core import Lattice, Structure

    a = check_positive("lattice parameter a", a)
    species = list(FRAMEWORK_SITES)
    coords = [FRAMEWORK_SITES[element][1] for element in species]
    return Structure.from_spacegroup(230, Lattice.cubic(a), species, coords)


@functools.lru_cache(maxsize=4)
def li_site_network(repeats: tuple[int, int, int] = (1, 1, 1)) -> LiSiteNetwork:
    """The 24d + 96h Li positions and their exclusions (independent of ``a``; cached).

    Parameters
    ----------
    repeats
        Supercell (na, nb, nc) of the conventional cell the sites fill: coordinates are
        fractional in the supercell, the 24d sites of all cells come first (rows 0 to 24·N − 1).
    """
    from pymatgen.core import Lattice, Structure

    sites = Structure.from_spacegroup(
        230, Lattice.cubic(DEFAULT_A), ["Li", "Li"], [LI_TETRAHEDRAL_24D, LI_OCTAHEDRAL_96H]
    )
    n_cells = int(np.prod(repeats))
    n_tet = 24 * n_cells
    if n_cells > 1:  # tile each orbit over the cells, 24d block first
        shifts = np.array(list(itertools.product(*(range(n) for n in repeats))))[:, None, :]
        unit = sites.frac_coords
        frac = np.vstack([(unit[None, :24] + shifts).reshape(-1, 3),
                          (unit[None, 24:] + shifts).reshape(-1, 3)]) / np.array(repeats)
        lattice = Lattice(np.diag(DEFAULT_A * np.array(repeats, float)))
        sites = Structure(lattice, ["Li"] * len(frac), frac)
    frac = np.array(sites.frac_coords)
    conflicts = sites.distance_matrix < EXCLUSION_DISTANCE
    np.fill_diagonal(conflicts, False)
    # from_spacegroup lists the 24d orbit first; check it instead of assuming: 24d sites have
    # no Li within 1 Å, each 96h site has exactly its cage partner there.
    close = (sites.distance_matrix < 1.0).sum(axis=1) - 1
    if len(sites) != 120 * n_cells or close.tolist() != [0] * n_tet + [1] * (96 * n_cells):
        raise RuntimeError("unexpected Li site list from Structure.from_spacegroup")
    partner = np.argmax(np.triu(sites.distance_matrix < 1.0, k=1), axis=1)
    cages = np.array([(i, partner[i]) for i in range(n_tet, len(sites)) if partner[i] > i])
    # Each cage position is blocked by exactly one 24d site; the cage joins the two blocking sites.
    blockers = [np.flatnonzero(conflicts[site, :n_tet]) for site in cages.ravel()]
    if len(cages) != 48 * n_cells or any(len(b) != 1 for b in blockers):
        raise RuntimeError("Li site geometry does not match the garnet cage picture")
    ends = np.array([b[0] for b in blockers]).reshape(-1, 2)
    links = np.zeros((n_tet, n_tet), dtype=int)
    np.add.at(links, (ends[:, 0], ends[:, 1]), 1)
    np.add.at(links, (ends[:, 1], ends[:, 0]), 1)
    for array in (frac, cages, conflicts, links):
        array.setflags(write=False)
    return LiSiteNetwork(frac, n_tet, cages, conflicts, links)


@functools.lru_cache(maxsize=1)
def _ewald_terms() -> tuple[float, np.ndarray, np.ndarray]:
    """Pieces of the Ewald energy at a = DEFAULT_A, in eV.

    Returns the framework–framework energy, the interaction of a Li on each site with the whole
    framework (120,), and the Li–Li pair matrix (120, 120) including the self term on the
    diagonal, so that E(occupied) = frame + field[occ].sum() + pair[occ][:, occ].sum().
    """
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Lattice, Structure

    network = li_site_network()
    framework = cubic_framework(DEFAULT_A)
    everything = Structure(
        Lattice.cubic(DEFAULT_A),
        ["Li"] * len(network.frac_coords) + [site.specie.symbol for site in framework],
        np.vstack([network.frac_coords, framework.frac_coords]),
    )
    everything.add_oxidation_state_by_element(FORMAL_CHARGES)
    # The full site set is charged (+64 e); the matrix holds pair terms only, and every ordering
    # we evaluate is neutral, so the sums over occupied sites are proper Ewald energies.
    matrix = EwaldSummation(everything).total_energy_matrix
    n_li = len(network.frac_coords)
    pair = matrix[:n_li, :n_li].copy()
    field = matrix[:n_li, n_li:].sum(axis=1) + matrix[n_li:, :n_li].sum(axis=0)
    frame = float(matrix[n_li:, n_li:].sum())
    for array in (pair, field):
        array.setflags(write=False)
    return frame, field, pair


def ordering_energy(sites: tuple[int, ...] | np.ndarray, a: float = DEFAULT_A) -> float:
    """Ewald energy (eV per conventional cell, formal charges) of Li on ``sites`` at lattice ``a``.

    The electrostatic energy of a cell whose fractional coordinates are fixed scales as 1/a, so
    the matrix computed once at :data:`DEFAULT_A` serves every lattice parameter.
    """
    frame, field, pair = _ewald_terms()
    occupied = np.asarray(sites, dtype=int)
    energy = frame + field[occupied].sum() + pair[np.ix_(occupied, occupied)].sum()
    return float(energy * DEFAULT_A / a)


def random_li_ordering(rng: np.random.Generator, n_tetrahedral: int) -> tuple[int, ...]:
    """Draw one arrangement of 56 Li obeying the site exclusions.

    Parameters
    ----------
    rng
        Source of randomness.
    n_tetrahedral
        Number of Li on 24d sites, between 8 and 13.

    Returns
    -------
    tuple of int
        Sorted indices into :func:`li_site_network` sites.
    """
    _check_n_tetrahedral(n_tetrahedral)
    network = li_site_network()
    n_cages = len(network.cages)
    # n filled 24d sites joined by E cages leave 48 - E usable cages for 56 - n Li.
    shared_cage_budget = n_tetrahedral + n_cages - LI_PER_CELL
    for _attempt in range(1000):
        tetrahedral = draw_tetrahedral_set(rng, network, n_tetrahedral, shared_cage_budget)
        if tetrahedral is not None:
            break
    else:  # pragma: no cover - only reachable for counts outside the feasible range
        raise RuntimeError(f"could not place {n_tetrahedral} Li on 24d sites")
    occupied = np.flatnonzero(fill_cages(rng, network, tetrahedral, LI_PER_CELL - n_tetrahedral))
    if len(occupied) != LI_PER_CELL or network.conflicts[np.ix_(occupied, occupied)].any():
        raise RuntimeError("Li ordering violates the site exclusions")  # pragma: no cover
    return tuple(int(i) for i in occupied)


def _check_n_tetrahedral(n_tetrahedral: object) -> None:
    if not is_integer(n_tetrahedral) or not (
        MIN_TETRAHEDRAL_LI <= n_tetrahedral <= MAX_TETRAHEDRAL_LI  # type: ignore[operator]
    ):
        raise UserInputError(
            f"n_tetrahedral must be an integer from {MIN_TETRAHEDRAL_LI} to "
            f"{MAX_TETRAHEDRAL_LI} (more 24d Li cannot coexist with 56 Li), got {n_tetrahedral!r}"
        )


def fill_cages(
    rng: np.random.Generator, network: LiSiteNetwork, tetrahedral: list[int], n_octahedral: int
) -> np.ndarray:
    """Mark ``tetrahedral`` filled and put one Li in each of ``n_octahedral`` random usable cages.

    A cage is usable while one of its positions is not blocked (closer than
    :data:`EXCLUSION_DISTANCE`) by a filled 24d site; the Li goes on an unblocked position.
    Returns the (n_sites,) bool mask of filled sites.
    """
    filled = np.zeros(len(network.frac_coords), dtype=bool)
    filled[tetrahedral] = True
    blocked = network.conflicts[:, filled]
    allowed = ~blocked.any(axis=1)
    usable = [cage for cage in network.cages if allowed[cage].any()]
    for k in rng.choice(len(usable), size=n_octahedral, replace=False):
        options = usable[k][allowed[usable[k]]]
        site = options[0] if len(options) == 1 else options[rng.integers(len(options))]
        filled[site] = True
    return filled


def draw_tetrahedral_set(
    rng: np.random.Generator, network: LiSiteNetwork, count: int, budget: int
) -> list[int] | None:
    """Pick ``count`` 24d sites joined by at most ``budget`` cages, or None if this try failed.

    Sites are added in random order while the budget allows; if that runs short, the remaining
    sites are added anyway and random swaps of a filled and an empty site that lower (or keep)
    the number of shared cages repair the set.
    """
    links = network.tetrahedral_links
    filled = np.zeros(network.n_tetrahedral_sites, dtype=bool)
    shared = 0
    order = rng.permutation(network.n_tetrahedral_sites)
    for site in order:
        extra = int(links[site, filled].sum())
        if shared + extra <= budget:
            filled[site] = True
            shared += extra
            if filled.sum() == count:
                return sorted(int(i) for i in np.flatnonzero(filled))
    for site in order[~filled[order]][: count - int(filled.sum())]:
        filled[site] = True
    shared = int(links[np.ix_(filled, filled)].sum()) // 2
    for _step in range(100):
        if shared <= budget:
            return sorted(int(i) for i in np.flatnonzero(filled))
        full, empty = np.flatnonzero(filled), np.flatnonzero(~filled)
        degree = links[:, filled].sum(axis=1)
        # change of shared cages when site f empties and site e fills
        delta = degree[empty][None, :] - degree[full][:, None] - links[np.ix_(full, empty)]
        moves = np.argwhere(delta < 0)
        if len(moves) == 0:
            moves = np.argwhere(delta == 0)
            if len(moves) == 0:
                return None
        f, e = moves[rng.integers(len(moves))]
        filled[full[f]], filled[empty[e]] = False, True
        shared += int(delta[f, e])
    return None


def li_orderings(
    seed: int = 0,
    n_candidates: int = DEFAULT_CANDIDATES,
    n_tetrahedral: int | None = None,
    a: float = DEFAULT_A,
) -> list[LiOrdering]:
    """Distinct Li orderings drawn with ``seed``, lowest Ewald energy first.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same list.
    n_candidates
        Number of orderings drawn (duplicates are dropped, so the list can be shorter).
    n_tetrahedral
        Li on 24d sites (8–13) for every candidate; None draws it uniformly per candidate.
    a
        Lattice parameter in Å at which energies are reported (ranking does not depend on it).

    Returns
    -------
    list of LiOrdering
        Sorted by Ewald energy (eV per conventional cell), ties broken by site indices.
    """
    n_candidates = check_positive_int("n_candidates", n_candidates)
    a = check_positive("lattice parameter a", a)
    if n_tetrahedral is not None:
        _check_n_tetrahedral(n_tetrahedral)
    rng = np.random.default_rng(seed)
    n_tet_sites = li_site_network().n_tetrahedral_sites
    seen: dict[tuple[int, ...], LiOrdering] = {}
    for _ in range(n_candidates):
        count = (
            int(n_tetrahedral)
            if n_tetrahedral is not None
            else int(rng.integers(MIN_TETRAHEDRAL_LI, MAX_TETRAHEDRAL_LI + 1))
        )
        sites = random_li_ordering(rng, count)
        if sites not in seen:
            n_tet = sum(1 for i in sites if i < n_tet_sites)
            seen[sites] = LiOrdering(sites, n_tet, ordering_energy(sites, a))
    return sorted(seen.values(), key=lambda o: (o.ewald_energy, o.sites))


@STRUCTURES.register(
    "llzo-cubic",
    summary="cubic LLZO, Ia-3d framework with an ordered low-Ewald-energy Li56 arrangement",
)
def build_cubic_llzo(
    *,
    seed: int = 0,
    a: float = DEFAULT_A,
    n_candidates: int = DEFAULT_CANDIDATES,
    n_tetrahedral: int | None = None,
) -> Structure:
    """Conventional cell of cubic LLZO, Li56La24Zr16O96, with an ordered Li arrangement.

    Parameters
    ----------
    seed
        Seed of the Li ordering; different seeds give different arrangements, the same seed the
        same structure.
    a
        Cubic lattice parameter in Å (default 12.97 Å, room temperature; ≈13.10 Å at 900 K).
    n_candidates
        Li orderings drawn and ranked by Ewald energy; the lowest is used.
    n_tetrahedral
        Fix the number of 24d Li (8–13); None lets the ranking choose.

    Returns
    -------
    Structure
        192 atoms, sites sorted Li, La, Zr, O then by fractional coordinates.
    """
    from pymatgen.core import Structure

    a = check_positive("lattice parameter a", a)
    best = li_orderings(seed, n_candidates, n_tetrahedral, a)[0]
    framework = cubic_framework(a)
    network = li_site_network()
    li = network.frac_coords[list(best.sites)]
    structure = Structure(
        framework.lattice,
        ["Li"] * len(li) + [site.specie for site in framework],
        np.vstack([li, framework.frac_coords]),
    )
    return sort_sites(structure)
