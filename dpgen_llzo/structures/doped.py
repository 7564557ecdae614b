"""Doped cubic garnet LLZO: Al/Ga on Li 24d, Ta/Nb on Zr 16a, Li vacancies for charge balance.

Compositions per formula unit (Z = 8 in the conventional Ia-3d cell):

* Al³⁺ or Ga³⁺ on the tetrahedral Li 24d site: Li(7−3x) M(x) La3 Zr2 O12 — each dopant takes
  a 24d site and leaves two more Li vacancies;
* Ta⁵⁺ or Nb⁵⁺ on the Zr 16a site: Li(7−x) La3 Zr(2−x) M(x) O12 — one Li vacancy each;
* co-doping (``dopant2``, ``x2``) adds both: Li(7 − 3·x₂₄d − x₁₆a).

Supercell (automatic, not a parameter): the dopant counts 8·x·N must be integers in the N
conventional cells of the arrangement; the generator takes the smallest of 1x1x1, 2x1x1, 2x2x1,
2x2x2 that makes every count an integer (so x must be a multiple of 1/64; 1/8 for one 192-site
cell) and refuses x otherwise. ``build_structure``'s ``supercell`` (``--supercell``) then repeats
that cell periodically; it does not redraw the arrangement over the bigger cell.

Arrangement: like ``llzo-cubic`` (:mod:`.cubic`), reusing its site network and drawing steps. A
dopant on 24d blocks its four 96h neighbours at 1.67 Å exactly as a 24d Li does, so every Li–Li
and dopant–Li distance stays ≥ 2.3 Å (at a = 12.97 Å). Each candidate draws the number t of
filled 24d sites (Li + dopants) uniformly from the range the exclusions allow, a 24d set with
no more shared cages than the exclusions allow (:func:`.cubic.draw_tetrahedral_set`), which of
those sites hold the dopants, the Li in the cages (:func:`.cubic.fill_cages`) and which 16a
sites hold Ta/Nb. Candidates are ranked by Ewald energy with formal charges (Li+1 La+3 Zr+4 O−2
Al/Ga+3 Ta/Nb+5), a quadratic form over a unit-charge Ewald matrix of all Li-sublattice and
framework sites, computed once per supercell (a build takes ≈1 s for 1x1x1, ≈3 s for 2x2x1, ≈8
s for 2x2x2); the lowest is returned. Al and Ga (Ta and Nb) carry the same formal charge, so
the same seed gives the same arrangement for either. Candidates cost ~1 ms each;
``n_candidates`` trades energy for variety as in ``llzo-cubic``. Ga x = 0.25, 10 seeds (eV per
188-atom cell): the default 40 give a best of −4929.6 on average (median candidate −4906.7,
worst ≈ −4888), 300 give −4937.1; Ta x = 0.5: −5000.1 with 40, −5003.1 with 300. The winners
fill 10–14 (mostly 12–14) of the 24 sites of 24d.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import (
    FORMAL_CHARGES,
    check_positive,
    check_positive_int,
    sort_sites,
)
from dpgen_llzo.structures.cubic import (
    DEFAULT_A,
    cubic_framework,
    draw_tetrahedral_set,
    fill_cages,
    li_site_network,
)

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Dopant -> (host site, formal charge in e). 24d: tetrahedral Li site; 16a: Zr site.
DOPANTS: dict[str, tuple[str, int]] = {
    "Al": ("24d", 3), "Ga": ("24d", 3), "Nb": ("16a", 5), "Ta": ("16a", 5)
}
#: Supercells tried, smallest first, for integer dopant counts.
SUPERCELLS: tuple[tuple[int, int, int], ...] = ((1, 1, 1), (2, 1, 1), (2, 2, 1), (2, 2, 2))
#: Formula units per conventional cell.
FORMULA_UNITS = 8
#: Candidates ranked per structure by default.
DEFAULT_CANDIDATES = 40
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class DopingPlan:
    """Counts of one doped cell.

    Attributes
    ----------
    repeats
        Conventional cells (na, nb, nc) of the arrangement.
    n_li
        Li atoms in the whole cell.
    on_24d, on_16a
        ``(element, count)`` of the dopants on Li 24d and on Zr 16a sites, whole cell.
    """

    repeats: tuple[int, int, int]
    n_li: int
    on_24d: tuple[tuple[str, int], ...]
    on_16a: tuple[tuple[str, int], ...]

    @property
    def n_cells(self) -> int:
        """Number of conventional cells."""
        return int(np.prod(self.repeats))


@dataclass(frozen=True)
class DopedArrangement:
    """One arrangement of Li, vacancies and dopants.

    Attributes
    ----------
    li_sites
        Sorted indices of the Li into ``li_site_network(repeats)`` sites.
    dopants_24d
        ``(site index, element)`` of the dopants on 24d sites (indices into the same network).
    dopants_16a
        ``(framework index, element)`` of the dopants replacing Zr (indices into the framework
        site list of :func:`_frame`).
    n_tetrahedral_li
        Li on 24d sites.
    ewald_energy
        Ewald energy of the whole cell with formal charges, in eV, at the lattice parameter the
        arrangement was ranked for.
    """

    li_sites: tuple[int, ...]
    dopants_24d: tuple[tuple[int, str], ...]
    dopants_16a: tuple[tuple[int, str], ...]
    n_tetrahedral_li: int
    ewald_energy: float


def _amount(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise UserInputError(f"{name} must be a positive number, got {value!r}")
    return check_positive(name, value)


def doping_plan(
    dopant: str, x: float, dopant2: str | None = None, x2: float | None = None
) -> DopingPlan:
    """Check a composition and choose the smallest supercell with integer dopant counts.

    Parameters
    ----------
    dopant, dopant2
        Element symbols from :data:`DOPANTS` (``dopant2`` optional, different from ``dopant``).
    x, x2
        Dopant amounts per formula unit (dimensionless); ``x2`` is required with ``dopant2``.

    Returns
    -------
    DopingPlan

    Raises
    ------
    UserInputError
        One line naming the parameter: unknown dopant, x not positive, negative Li, more
        dopants than host sites, or counts not integer in any supercell up to 2x2x2.
    """
    pairs = [("dopant", "x", dopant, x)]
    if dopant2 is not None or x2 is not None:
        if dopant2 is None or x2 is None:
            given, missing = ("dopant2", "x2") if x2 is None else ("x2", "dopant2")
            raise UserInputError(f"{given} needs {missing} (co-doping takes both)")
        if dopant2 == dopant:
            raise UserInputError(f"dopant2 must differ from dopant, both are {dopant!r}")
        pairs.append(("dopant2", "x2", dopant2, x2))
    amounts: list[tuple[str, str, float]] = []
    for name, amount_name, element, amount in pairs:
        if element not in DOPANTS:
            raise UserInputError(f"{name} must be one of {', '.join(DOPANTS)}, got {element!r}")
        amounts.append((amount_name, element, _amount(amount_name, amount)))
    names = " and ".join(f"{n}={v:g}" for n, _, v in amounts)
    per_fu = {s: sum(v for _, e, v in amounts if DOPANTS[e][0] == s) for s in ("24d", "16a")}
    li_per_fu = 7 - 3 * per_fu["24d"] - per_fu["16a"]
    if li_per_fu < -_TOLERANCE:
        raise UserInputError(
            f"{names}: Li per formula unit 7 − 3·x(Al,Ga) − x(Ta,Nb) = {li_per_fu:g} < 0"
        )
    if per_fu["16a"] > 2 + _TOLERANCE:
        raise UserInputError(
            f"{names}: {per_fu['16a']:g} Ta/Nb per formula unit exceed the 2 Zr 16a sites"
        )
    # 24d holds 3 per formula unit; Li ≥ 0 already limits Al+Ga to 7/3.
    for repeats in SUPERCELLS:
        n_cells = int(np.prod(repeats))
        counts = [FORMULA_UNITS * n_cells * v for _, _, v in amounts]
        if all(abs(c - round(c)) < _TOLERANCE * n_cells for c in counts):
            break
    else:
        for amount_name, element, value in amounts:
            steps = value * FORMULA_UNITS * 8
            if abs(steps - round(steps)) >= _TOLERANCE * 8:
                low, high = np.floor(steps) / 64, np.ceil(steps) / 64
                raise UserInputError(
                    f"{amount_name}={value:g}: {FORMULA_UNITS * value:g} {element} per "
                    "conventional cell is not an integer in any supercell up to 2x2x2; "
                    f"{amount_name} must be a multiple of 1/64 (1/8 for one cell), "
                    f"nearest {low:g} or {high:g}"
                )
        raise AssertionError("unreachable")  # pragma: no cover
    by_site: dict[str, list[tuple[str, int]]] = {"24d": [], "16a": []}
    for (_, element, _), count in zip(amounts, counts):
        by_site[DOPANTS[element][0]].append((element, int(round(count))))
    n_li = 56 * n_cells - sum(3 * c for _, c in by_site["24d"]) - sum(c for _, c in by_site["16a"])
    return DopingPlan(repeats, n_li, tuple(by_site["24d"]), tuple(by_site["16a"]))


@functools.lru_cache(maxsize=2)
def _frame(repeats: tuple[int, int, int]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Framework of ``repeats`` cells and the unit-charge Ewald matrix of all sites, at DEFAULT_A.

    Returns the framework species, their fractional coordinates (in the supercell), and the
    (n, n) matrix Φ in eV over the Li-network sites followed by the framework sites, such that a
    neutral set of charges q (in e, zero on empty sites) has Ewald energy qᵀΦq.
    """
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Structure

    network = li_site_network(repeats)
    framework = cubic_framework(DEFAULT_A).make_supercell(list(repeats), in_place=False)
    coords = np.vstack([network.frac_coords, framework.frac_coords])
    # Every matrix element is q_i q_j times a geometric factor, so unit charges give Φ; the
    # charged-cell term of this all-positive set is not part of total_energy_matrix.
    unit = Structure(framework.lattice, ["Li"] * len(coords), coords)
    unit.add_oxidation_state_by_element({"Li": 1})
    phi = EwaldSummation(unit).total_energy_matrix
    species = tuple(site.specie.symbol for site in framework)
    frac = np.array(framework.frac_coords)
    for array in (phi, frac):
        array.setflags(write=False)
    return species, frac, phi


def arrangement_energy(
    plan: DopingPlan, arrangement: DopedArrangement, a: float = DEFAULT_A
) -> float:
    """Ewald energy (eV per whole cell, formal charges) of ``arrangement`` at lattice ``a`` (Å).

    The energy of a cell with fixed fractional coordinates scales as 1/a.
    """
    species, _, phi = _frame(plan.repeats)
    n_net = len(li_site_network(plan.repeats).frac_coords)
    charges = np.zeros(len(phi))
    charges[list(arrangement.li_sites)] = FORMAL_CHARGES["Li"]
    charges[n_net:] = [FORMAL_CHARGES[s] for s in species]
    for index, element in arrangement.dopants_24d:
        charges[index] = DOPANTS[element][1]
    for index, element in arrangement.dopants_16a:
        charges[n_net + index] = DOPANTS[element][1]
    if abs(charges.sum()) > 1e-9:
        raise RuntimeError("doped arrangement is not charge neutral")  # pragma: no cover
    occupied = np.flatnonzero(charges)
    q = charges[occupied]
    return float(q @ phi[np.ix_(occupied, occupied)] @ q * DEFAULT_A / a)


def _draw(rng: np.random.Generator, plan: DopingPlan) -> DopedArrangement | None:
    """One random arrangement obeying the 24d/96h exclusions (energy not yet set), or None."""
    network = li_site_network(plan.repeats)
    n_cells, n_cages = plan.n_cells, len(network.cages)
    n_24d = sum(c for _, c in plan.on_24d)
    occupants = plan.n_li + n_24d  # Li and dopants on the Li sublattice
    # t filled 24d sites joined by E cages leave n_cages − E usable cages for occupants − t Li.
    low = max(n_24d, occupants - n_cages)
    high = min(network.n_tetrahedral_sites, (96 * n_cells - occupants) // 3, occupants)
    count = int(rng.integers(low, high + 1))
    tetrahedral: list[int] | None = []  # draw_tetrahedral_set needs count ≥ 1
    for _attempt in range(50 if count else 0):
        tetrahedral = draw_tetrahedral_set(rng, network, count, count + n_cages - occupants)
        if tetrahedral is not None:
            break
    if tetrahedral is None:
        return None
    hosts = [int(i) for i in rng.permutation(tetrahedral)[:n_24d]]
    filled = fill_cages(rng, network, tetrahedral, occupants - count)
    occupied = np.flatnonzero(filled)
    if len(occupied) != occupants or network.conflicts[np.ix_(occupied, occupied)].any():
        raise RuntimeError("doped arrangement violates the site exclusions")  # pragma: no cover
    species = _frame(plan.repeats)[0]
    zr = [i for i, s in enumerate(species) if s == "Zr"]
    n_16a = sum(c for _, c in plan.on_16a)
    replaced = [int(zr[i]) for i in rng.choice(len(zr), size=n_16a, replace=False)]
    elements_24d = [e for e, c in plan.on_24d for _ in range(c)]
    elements_16a = [e for e, c in plan.on_16a for _ in range(c)]
    host_set = set(hosts)
    li = tuple(int(i) for i in occupied if i not in host_set)
    return DopedArrangement(
        li,
        tuple(sorted(zip(hosts, elements_24d))),
        tuple(sorted(zip(replaced, elements_16a))),
        sum(1 for i in li if i < network.n_tetrahedral_sites),
        float("nan"),
    )


def doped_arrangements(
    plan: DopingPlan, seed: int = 0, n_candidates: int = DEFAULT_CANDIDATES, a: float = DEFAULT_A
) -> list[DopedArrangement]:
    """Distinct arrangements drawn with ``seed``, lowest Ewald energy first.

    Parameters
    ----------
    plan
        Counts and supercell, from :func:`doping_plan`.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same list.
    n_candidates
        Arrangements drawn (duplicates and failed draws are dropped, so the list can be shorter).
    a
        Lattice parameter in Å at which energies are reported (ranking does not depend on it).

    Returns
    -------
    list of DopedArrangement
        Sorted by Ewald energy (eV per whole cell), ties broken by the site indices.
    """
    n_candidates = check_positive_int("n_candidates", n_candidates)
    a = check_positive("lattice parameter a", a)
    rng = np.random.default_rng(seed)
    seen: dict[tuple, DopedArrangement] = {}
    for _ in range(n_candidates):
        drawn = _draw(rng, plan)
        if drawn is None:
            continue
        key = (drawn.li_sites, drawn.dopants_24d, drawn.dopants_16a)
        if key not in seen:
            energy = arrangement_energy(plan, drawn, a)
            seen[key] = DopedArrangement(*key, drawn.n_tetrahedral_li, energy)
    if not seen:  # pragma: no cover - the count range above is always feasible in practice
        raise RuntimeError(f"could not arrange {plan} under the 24d/96h exclusions")
    return sorted(
        seen.values(), key=lambda o: (o.ewald_energy, o.li_sites, o.dopants_24d, o.dopants_16a)
    )


def doped_structure(
    plan: DopingPlan, arrangement: DopedArrangement, a: float = DEFAULT_A
) -> Structure:
    """The cell of ``arrangement`` at cubic lattice parameter ``a`` (Å).

    Sites are sorted Li, La, Zr, O, then the dopants (:func:`.common.sort_sites`).
    """
    from pymatgen.core import Lattice, Structure

    network = li_site_network(plan.repeats)
    species, frame_frac, _ = _frame(plan.repeats)
    frame_species = list(species)
    for index, element in arrangement.dopants_16a:
        frame_species[index] = element
    sites_24d = [index for index, _ in arrangement.dopants_24d]
    structure = Structure(
        Lattice(np.diag(a * np.array(plan.repeats, dtype=float))),
        ["Li"] * len(arrangement.li_sites)
        + [e for _, e in arrangement.dopants_24d]
        + frame_species,
        np.vstack([network.frac_coords[list(arrangement.li_sites) + sites_24d], frame_frac]),
    )
    return sort_sites(structure)


@STRUCTURES.register(
    "llzo-doped",
    summary="cubic LLZO doped with Al/Ga (Li 24d) or Ta/Nb (Zr 16a), Li vacancies, Ewald-ranked",
)
def build_doped_llzo(
    *,
    seed: int = 0,
    dopant: str = "Ga",
    x: float = 0.25,
    dopant2: str | None = None,
    x2: float | None = None,
    a: float = DEFAULT_A,
    n_candidates: int = DEFAULT_CANDIDATES,
) -> Structure:
    """Doped cubic LLZO with an ordered, lowest-Ewald-energy Li/vacancy/dopant arrangement.

    Parameters
    ----------
    seed
        Seed of the arrangement; the same seed gives the same structure.
    dopant
        Al or Ga (on Li 24d: Li(7−3x) M(x) La3 Zr2 O12) or Ta or Nb (on Zr 16a:
        Li(7−x) La3 Zr(2−x) M(x) O12).
    x
        Dopant per formula unit, a multiple of 1/8 for one conventional cell; multiples of
        1/16, 1/32, 1/64 give a 2x1x1, 2x2x1, 2x2x2 cell (chosen automatically).
    dopant2, x2
        Optional second dopant and its amount (co-doping), e.g. Ga with Ta.
    a
        Cubic lattice parameter in Å (default 12.97 Å as ``llzo-cubic``).
    n_candidates
        Arrangements drawn and ranked by Ewald energy; the lowest is used.

    Returns
    -------
    Structure
        N conventional cells (N = 1, 2, 4 or 8), sites sorted Li, La, Zr, O, then the dopants.
    """
    a = check_positive("lattice parameter a", a)
    plan = doping_plan(dopant, x, dopant2, x2)
    best = doped_arrangements(plan, seed, n_candidates, a)[0]
    return doped_structure(plan, best, a)
