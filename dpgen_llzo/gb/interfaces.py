"""Clean up the interfaces of a bicrystal: merge, remove, restore stoichiometry, check.

Two grains cut from a perfect crystal and stacked meet with some atoms too close together.
The rule applied by :func:`resolve_interfaces`, in order:

0. **Bounds.** Any two atoms ≥ 1.5 Å apart, two cations or two anions ≥ 2.2 Å, and every
   element pair ≥ 85 % of its shortest distance in the bulk (La–O ≥ 2.14 Å, La–La ≥ 3.38 Å,
   Zr–O ≥ 1.79 Å, ...): the first two alone let La–La at 2.3 Å and La–O at 1.65 Å through,
   which the teacher answers with 30 eV/Å forces.
1. **Merge coincident atoms.** Two atoms of the same element closer than ``merge_distance``
   (1.0 Å) are the same site seen from both grains: they become one atom at their midpoint.
2. **Remove overlapping atoms.** While any pair violates the bounds, the atom of a violating
   pair whose removal costs the least electrostatic energy is removed. "Cost" is ``−(q_i φ_i + c q_i²)``, the
   change of a damped-shifted-force (DSF) Coulomb energy with formal charges (Li+1 La+3 Zr+4
   O−2; α = 0.2 Å⁻¹, cutoff 10 Å) when ion ``i`` is taken out; potentials are updated after
   each removal.
3. **Restore stoichiometry.** Steps 1–2 removed ``r_X`` ions of element ``X``. The smallest
   number of formula units ``u`` with ``u·ν_X ≥ r_X`` for every element is taken out in total,
   so the remaining ``u·ν_X − r_X`` ions of each element are removed from the GB regions (within
   ``region_half_width`` of a plane), again cheapest electrostatic cost first with potentials
   updated after each removal. Because every removal sees the charge already taken out around
   it, this picks ions next to the charge imbalance and leaves local neutrality, not only the
   cell total. The result is an exact multiple of the bulk formula unit (hence neutral); the
   composition change is reported, never silent.
4. **Check** (:func:`check_cell`): composition ratios, neutrality and all distance bounds.

Everything is local (neighbour lists, sparse matrices): about 0.2 s per candidate cell of
1 000–2 000 atoms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.structures.common import FORMAL_CHARGES

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Formal charges (e) used for neutrality and electrostatics: LLZO ions plus common dopants.
ION_CHARGES: dict[str, int] = {**FORMAL_CHARGES, "Al": 3, "Ga": 3, "Ta": 5, "Nb": 5}
#: Coulomb constant e²/(4πε0) in eV·Å.
COULOMB_EV_A = 14.399645
#: DSF damping parameter (1/Å) and cutoff (Å), Fennell & Gezelter, J. Chem. Phys. 124 (2006).
DSF_ALPHA = 0.2
DSF_CUTOFF = 10.0


@dataclass(frozen=True)
class ContactRules:
    """Distance bounds of a clean cell, Å.

    Attributes
    ----------
    min_distance
        No two atoms closer than this.
    min_like_charge
        No two cations, and no two anions, closer than this (bulk LLZO: Li–Li 2.32 Å,
        O–O 2.88 Å).
    merge_distance
        Two atoms of the same element closer than this are merged into one.
    pair_minimum
        Extra per-element-pair bounds ``(element, element, distance)``, e.g. from
        :func:`bulk_pair_bounds`; the larger bound applies.
    """

    min_distance: float = 1.5
    min_like_charge: float = 2.2
    merge_distance: float = 1.0
    pair_minimum: tuple[tuple[str, str, float], ...] = ()

    def bound(self, first: str, second: str, like_charge: bool) -> float:
        """Smallest allowed distance between two elements, Å."""
        bound = max(self.min_distance, self.min_like_charge if like_charge else 0.0)
        for a, b, distance in self.pair_minimum:
            if sorted((a, b)) == sorted((first, second)):
                bound = max(bound, distance)
        return bound

    @property
    def reach(self) -> float:
        """Largest bound of any pair, Å."""
        return max([self.min_distance, self.min_like_charge] + [d for _, _, d in self.pair_minimum])


def bulk_pair_bounds(
    bulk: Structure, fraction: float, reach: float = 6.0
) -> tuple[tuple[str, str, float], ...]:
    """``fraction`` × the shortest distance of every element pair in ``bulk`` (within ``reach`` Å).

    Rounded to 1e-4 Å; pairs with no distance within ``reach`` get no bound.
    """
    centers, points, _, distances = bulk.get_neighbor_list(reach)
    symbols = [site.specie.symbol for site in bulk]
    shortest: dict[tuple[str, str], float] = {}
    for i, j, d in zip(centers, points, distances):
        key = tuple(sorted((symbols[i], symbols[j])))
        shortest[key] = min(shortest.get(key, np.inf), float(d))  # type: ignore[index]
    return tuple((a, b, round(fraction * d, 4)) for (a, b), d in sorted(shortest.items()))


@dataclass
class ResolutionReport:
    """What :func:`resolve_interfaces` changed; counts per element."""

    merged: dict[str, int] = field(default_factory=dict)
    removed_overlap: dict[str, int] = field(default_factory=dict)
    removed_stoichiometry: dict[str, int] = field(default_factory=dict)
    formula_units_removed: int = 0
    region_half_width_A: float = 0.0
    dsf_energy_eV: float = 0.0

    def as_dict(self) -> dict:
        return {
            "merged": dict(self.merged),
            "removed_overlap": dict(self.removed_overlap),
            "removed_stoichiometry": dict(self.removed_stoichiometry),
            "formula_units_removed": self.formula_units_removed,
            "region_half_width_A": self.region_half_width_A,
        }

    @property
    def n_removed(self) -> int:
        """Sites removed in total (merged pairs count once)."""
        return sum(
            sum(d.values()) for d in (self.merged, self.removed_overlap, self.removed_stoichiometry)
        )


def charges_of(structure: Structure, charges: Mapping[str, int] = ION_CHARGES) -> np.ndarray:
    """Formal charge of every site, e; ``KeyError`` names an element without one."""
    symbols = [site.specie.symbol for site in structure]
    missing = sorted(set(symbols) - set(charges))
    if missing:
        raise KeyError(f"no formal charge for {', '.join(missing)}")
    return np.array([charges[s] for s in symbols], dtype=float)


def formula_unit(counts: Mapping[str, int]) -> dict[str, int]:
    """Element counts divided by their greatest common divisor (Li56La24Zr16O96 → Li7La3Zr2O12)."""
    divisor = reduce(math.gcd, (int(n) for n in counts.values() if n))
    return {element: int(n) // divisor for element, n in counts.items() if n}


def element_counts(structure: Structure) -> dict[str, int]:
    """Number of sites of each element."""
    counts: dict[str, int] = {}
    for site in structure:
        counts[site.specie.symbol] = counts.get(site.specie.symbol, 0) + 1
    return counts


def close_contacts(
    structure: Structure, rules: ContactRules = ContactRules(), charges: np.ndarray | None = None
) -> np.ndarray:
    """Pairs that break the distance bounds.

    Returns
    -------
    numpy.ndarray
        (k, 3) rows ``(i, j, distance)`` with ``i < j`` (one row per periodic image pair).
    """
    q = charges_of(structure) if charges is None else charges
    symbols = [site.specie.symbol for site in structure]
    elements = sorted(set(symbols))
    code = np.array([elements.index(s) for s in symbols])
    sign = {e: np.sign(q[symbols.index(e)]) for e in elements}
    table = np.array([[rules.bound(a, b, sign[a] == sign[b]) for b in elements] for a in elements])
    centers, points, _, distances = structure.get_neighbor_list(float(table.max()))
    keep = centers < points
    i, j, d = centers[keep], points[keep], distances[keep]
    bad = d < table[code[i], code[j]]
    return np.column_stack([i[bad], j[bad], d[bad]])


def dsf_pair_matrix(structure: Structure, alpha: float = DSF_ALPHA, cutoff: float = DSF_CUTOFF):
    """Sparse (N, N) damped-shifted-force kernel ``v_ij`` in eV/e², periodic images summed.

    ``φ = V @ q`` is the DSF electrostatic potential at every site (V), and
    ``E = ½ qᵀVq + c Σ q²`` with :func:`dsf_self_coefficient` ``c``.
    """
    from scipy.sparse import csr_matrix
    from scipy.special import erfc

    n = len(structure)
    centers, points, _, r = structure.get_neighbor_list(cutoff)
    shift = erfc(alpha * cutoff) / cutoff
    slope = (
        erfc(alpha * cutoff) / cutoff**2
        + 2 * alpha / math.sqrt(math.pi) * math.exp(-((alpha * cutoff) ** 2)) / cutoff
    )
    values = COULOMB_EV_A * (erfc(alpha * r) / r - shift + slope * (r - cutoff))
    return csr_matrix((values, (centers, points)), shape=(n, n))


def dsf_self_coefficient(alpha: float = DSF_ALPHA, cutoff: float = DSF_CUTOFF) -> float:
    """Self-energy coefficient ``c`` of the DSF sum (``c q²`` per ion), eV/e²."""
    from scipy.special import erfc

    return -COULOMB_EV_A * (erfc(alpha * cutoff) / (2 * cutoff) + alpha / math.sqrt(math.pi))


class _Electrostatics:
    """DSF potentials of the live ions, updated as ions are removed."""

    def __init__(self, structure: Structure, charges: np.ndarray) -> None:
        self.matrix = dsf_pair_matrix(structure).tocsc()
        self.q = charges.astype(float).copy()
        self.phi = self.matrix @ self.q
        self.self_coefficient = dsf_self_coefficient()

    def removal_gain(self) -> np.ndarray:
        """``q_i φ_i + c q_i²``: minus the energy change of removing each ion (higher = cheaper).

        Rounded to 1 µeV so that symmetry-equivalent ions tie exactly and the lowest index
        wins on every platform.
        """
        return np.round(self.q * self.phi + self.self_coefficient * self.q**2, 6)

    def energy(self) -> float:
        """DSF energy of the live ions, eV."""
        return float(0.5 * self.q @ self.phi + self.self_coefficient * (self.q**2).sum())

    def remove(self, index: int) -> None:
        start, end = self.matrix.indptr[index], self.matrix.indptr[index + 1]
        np.subtract.at(
            self.phi, self.matrix.indices[start:end], self.matrix.data[start:end] * self.q[index]
        )
        self.q[index] = 0.0


def _merge_coincident(
    structure: Structure, rules: ContactRules
) -> tuple[Structure, dict[str, int]]:
    """Merge same-element pairs closer than ``rules.merge_distance`` (midpoint), repeatedly."""
    merged: dict[str, int] = {}
    structure = structure.copy()
    while True:
        centers, points, images, distances = structure.get_neighbor_list(rules.merge_distance)
        symbols = np.array([site.specie.symbol for site in structure])
        keep = (centers < points) & (symbols[centers] == symbols[points])
        if not keep.any():
            return structure, merged
        order = np.lexsort((points[keep], centers[keep], np.round(distances[keep], 8)))
        used: set[int] = set()
        remove: list[int] = []
        for k in order:
            i, j = int(centers[keep][k]), int(points[keep][k])
            if i in used or j in used:
                continue
            used.update((i, j))
            partner = structure[j].frac_coords + images[keep][k]
            midpoint = (structure[i].frac_coords + partner) / 2
            structure.replace(i, structure[i].species, midpoint, properties=structure[i].properties)
            remove.append(j)
            merged[str(symbols[j])] = merged.get(str(symbols[j]), 0) + 1
        structure.remove_sites(sorted(remove))


def _distance_to_planes(structure: Structure, plane_fractions: Sequence[float]) -> np.ndarray:
    """Perpendicular distance (Å) of every site to the nearest plane normal to lattice vector c."""
    lattice = structure.lattice.matrix
    spacing = structure.volume / np.linalg.norm(np.cross(lattice[0], lattice[1]))
    diff = structure.frac_coords[:, 2][:, None] - np.asarray(plane_fractions)[None, :]
    diff -= np.round(diff)
    return np.abs(diff).min(axis=1) * spacing


def resolve_interfaces(
    structure: Structure,
    plane_fractions: Sequence[float],
    unit: Mapping[str, int],
    rules: ContactRules = ContactRules(),
    region_half_width: float = 5.0,
) -> tuple[Structure, ResolutionReport]:
    """Apply the merge / remove / restore rule of the module docstring.

    Parameters
    ----------
    structure
        Bicrystal with the GB planes normal to the third lattice vector.
    plane_fractions
        Fractional positions of the GB planes along the third lattice vector.
    unit
        Formula unit, e.g. ``{"Li": 7, "La": 3, "Zr": 2, "O": 12}``; the input must hold an
        integer number of them.
    rules
        Distance bounds.
    region_half_width
        Ions removed to restore stoichiometry are taken within this distance of a plane, Å
        (doubled until there are enough candidates).

    Returns
    -------
    (Structure, ResolutionReport)
        The clean cell (same site order as the input minus removed sites, merged sites at
        their midpoint) and what was changed.
    """
    report = ResolutionReport(region_half_width_A=float(region_half_width))
    structure, report.merged = _merge_coincident(structure, rules)
    q = charges_of(structure)
    symbols = np.array([site.specie.symbol for site in structure])
    alive = np.ones(len(structure), dtype=bool)
    field_ = _Electrostatics(structure, q)

    contacts = close_contacts(structure, rules, q)
    pairs = contacts[:, :2].astype(int)
    while len(pairs):
        live = alive[pairs[:, 0]] & alive[pairs[:, 1]]
        pairs = pairs[live]
        if not len(pairs):
            break
        candidates = np.unique(pairs)
        gain = field_.removal_gain()[candidates]
        victim = int(candidates[np.argmax(gain)])
        alive[victim] = False
        field_.remove(victim)
        element = str(symbols[victim])
        report.removed_overlap[element] = report.removed_overlap.get(element, 0) + 1

    removed = {e: report.merged.get(e, 0) + report.removed_overlap.get(e, 0) for e in unit}
    units = max(math.ceil(removed[e] / unit[e]) for e in unit)
    elements = sorted(unit)
    code = np.array([elements.index(str(s)) for s in symbols])
    quota = np.array([units * unit[e] - removed[e] for e in elements])
    report.formula_units_removed = int(units)
    distance = _distance_to_planes(structure, plane_fractions)
    width = float(region_half_width)
    while quota.sum():
        open_ = alive & (distance <= width) & (quota[code] > 0)
        if not open_.any():
            if width > structure.lattice.c:
                raise RuntimeError("not enough ions to restore stoichiometry")  # pragma: no cover
            width *= 2
            report.region_half_width_A = width
            continue
        candidates = np.flatnonzero(open_)
        gain = field_.removal_gain()[candidates]
        victim = int(candidates[np.argmax(gain)])
        alive[victim] = False
        field_.remove(victim)
        quota[code[victim]] -= 1
        element = str(symbols[victim])
        report.removed_stoichiometry[element] = report.removed_stoichiometry.get(element, 0) + 1
    report.dsf_energy_eV = field_.energy()
    structure.remove_sites(sorted(int(i) for i in np.flatnonzero(~alive)))
    return structure, report


def dsf_energy(structure: Structure) -> float:
    """DSF electrostatic energy of ``structure`` with formal charges, eV."""
    return _Electrostatics(structure, charges_of(structure)).energy()


@dataclass(frozen=True)
class CellCheck:
    """Facts about a GB cell checked by :func:`check_cell`."""

    n_formula_units: int
    net_charge: float
    min_distance_A: float
    min_cation_cation_A: float
    min_anion_anion_A: float

    def as_dict(self) -> dict:
        return {
            "n_formula_units": self.n_formula_units,
            "net_charge_e": self.net_charge,
            "min_distance_A": round(self.min_distance_A, 6),
            "min_cation_cation_A": round(self.min_cation_cation_A, 6),
            "min_anion_anion_A": round(self.min_anion_anion_A, 6),
        }


def check_cell(
    structure: Structure, unit: Mapping[str, int], rules: ContactRules = ContactRules()
) -> CellCheck:
    """Check stoichiometry, neutrality and distance bounds; ``RuntimeError`` if any fails.

    Returns
    -------
    CellCheck
        Number of formula units, net formal charge and shortest distances (Å) within 4 Å
        (``inf`` if none).
    """
    counts = element_counts(structure)
    if set(counts) != set(unit):
        raise RuntimeError(f"elements {sorted(counts)} differ from the formula unit {sorted(unit)}")
    ratios = {e: counts[e] / unit[e] for e in unit}
    n_units = next(iter(ratios.values()))
    if any(r != n_units for r in ratios.values()) or n_units != int(n_units):
        raise RuntimeError(f"composition {counts} is not a multiple of {dict(unit)}")
    q = charges_of(structure)
    net = float(q.sum())
    if abs(net) > 1e-9:
        raise RuntimeError(f"cell is charged: {net:+g} e")
    centers, points, _, d = structure.get_neighbor_list(4.0)
    cation = q > 0
    pair_min = lambda mask: float(d[mask].min()) if mask.any() else math.inf
    check = CellCheck(
        n_formula_units=int(n_units),
        net_charge=net,
        min_distance_A=pair_min(np.ones_like(d, dtype=bool)),
        min_cation_cation_A=pair_min(cation[centers] & cation[points]),
        min_anion_anion_A=pair_min(~cation[centers] & ~cation[points]),
    )
    if len(close_contacts(structure, rules, q)):
        raise RuntimeError("atoms closer than the contact bounds")
    return check
