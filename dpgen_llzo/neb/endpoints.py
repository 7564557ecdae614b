"""End points of elementary Li hops in garnet LLZO, with a guess of the path of the moving Li.

Cubic (Ia-3d; site geometry in :mod:`dpgen_llzo.structures.cubic`): each octahedral 48g cage
holds two off-centre 96h positions 0.68 Å apart and shares a face with two 24d tetrahedra; a
96h position is 1.67 Å from the 24d site on its own side (and excludes it) and 2.32 Å from the
one on the far side.

``cubic-24d-24d``
    The whole hop 24d → 96h → 48g → 96h → 24d (≈ 4 Å) through the shared faces. In an ordered
    Li56 cell every cage with an empty 24d end holds a Li, so the hop needs a vacancy: the Li of
    the filled 24d site B is removed (Li55: the cell is one Li short; the machine-learned
    potentials carry no charge) and the Li of 24d site A crosses the empty cage joining A and B.
``cubic-24d-96h``
    Its first half without a vacancy (Li56): the Li of A moves into that empty cage, onto the 96h
    position on A's side (1.67 Å away; 2.32 Å from the filled B, an allowed distance).
``cubic-vacancy``
    A Li vacancy: the Li of a filled 24d site B is removed (Li55, the cell is one Li short; the
    machine-learned potentials carry no charge) and the Li of a cage next to B, on its 96h
    position far from B, hops into the vacancy: 96h → 48g → 96h → 24d.
``tetragonal``, ``tetragonal-16f-32g``
    Tetragonal LLZO (I4_1/acd) fills every Li site, so a hop needs a vacancy: a 32g Li is
    removed (Li55) and its nearest tetrahedral 8a Li (2.54 Å) or octahedral 16f Li (2.59 Å)
    moves into it (straight-line guess).

Each builder returns unrelaxed end points (ASE ``Atoms``, same atom order) and the waypoints of
the moving Li (Cartesian, Å, a continuous path across the periodic boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

HOPS = ("cubic-24d-24d", "cubic-24d-96h", "cubic-vacancy", "tetragonal", "tetragonal-16f-32g")


@dataclass
class Hop:
    """Two end points of one hop and the path guess of the moving atom.

    Attributes
    ----------
    name : str
        Hop kind (one of :data:`HOPS`, or ``custom``).
    initial, final : ase.Atoms
        End points, same atoms in the same order.
    moving_atom : int
        Index of the atom that hops.
    waypoints : ndarray, shape (n, 3)
        Path guess of the moving atom, Å, from its initial to its final position (unwrapped:
        consecutive points are nearest images).
    description : str
        One line saying which sites are involved.
    sites : dict
        Site labels and indices for the report.
    """

    name: str
    initial: Any
    final: Any
    moving_atom: int
    waypoints: np.ndarray
    description: str
    sites: dict = field(default_factory=dict)


def _atoms(structure):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(structure)


def _unwrapped(cell: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    """Cartesian points made continuous: each one the nearest periodic image to the one before."""
    from ase.geometry import find_mic

    path = [np.asarray(points[0], float)]
    for point in points[1:]:
        step, _ = find_mic(np.asarray(point, float) - path[-1], cell, pbc=True)
        path.append(path[-1] + step)
    return np.array(path)


def _cubic_occupancy(atoms):
    """Map every Li of a cubic cell onto the 120 sites of :func:`li_site_network`.

    Returns
    -------
    tuple
        ``(network, site_xyz, atom_of_site)``: the network, Cartesian positions of the sites (Å)
        and ``{site index: atom index}`` for the occupied ones.
    """
    from dpgen_llzo.structures.cubic import li_site_network

    network = li_site_network()
    cell = np.array(atoms.cell)
    site_xyz = network.frac_coords @ cell
    li = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Li"]
    frac = atoms.get_scaled_positions()[li]
    delta = frac[:, None, :] - network.frac_coords[None]
    delta -= np.round(delta)
    distance = np.linalg.norm(delta @ cell, axis=-1)
    nearest = distance.argmin(axis=1)
    if distance.min(axis=1).max() > 0.3:
        raise UserInputError("cubic cell: a Li is more than 0.3 Å from every 24d/96h site")
    return network, site_xyz, {int(site): atom for site, atom in zip(nearest, li)}


def _cages_with_ends(network) -> list[tuple[int, int, int, int]]:
    """Every cage as ``(position blocked by A, position blocked by B, A, B)``, both orientations."""
    n_tet = network.n_tetrahedral_sites
    out = []
    for p, q in network.cages:
        a = int(np.flatnonzero(network.conflicts[p, :n_tet])[0])
        b = int(np.flatnonzero(network.conflicts[q, :n_tet])[0])
        out += [(int(p), int(q), a, b), (int(q), int(p), b, a)]
    return sorted(out, key=lambda c: (c[2], c[3], c[0]))


def _pick(candidates: list, choice: int, what: str):
    if not candidates:
        raise UserInputError(f"{what}: this cell has no such hop; try another --seed")
    if not 0 <= choice < len(candidates):
        raise UserInputError(f"{what}: --choice {choice} is out of range; this cell has {len(candidates)} candidates (0..{len(candidates) - 1})")
    return candidates[choice]


def _empty_cages_between_filled(network, atom_of) -> list[tuple[int, int, int, int]]:
    """Cages ``(pa, pb, A, B)`` with both 24d ends filled and no Li inside (an ordered cell's empty cages)."""
    return [(pa, pb, a, b) for pa, pb, a, b in _cages_with_ends(network)
            if a in atom_of and b in atom_of and pa not in atom_of and pb not in atom_of]


def _cubic_cell(seed: int, a: float | None):
    from dpgen_llzo.structures import build_structure

    atoms = _atoms(build_structure("llzo-cubic", seed=seed, **({"a": a} if a else {})))
    return (atoms, *_cubic_occupancy(atoms))


def cubic_24d_24d_hop(seed: int = 0, a: float | None = None, choice: int = 0) -> Hop:
    """A Li vacancy on 24d site B, filled by the Li of 24d site A through the empty cage joining them.

    In a full Li56 cell every cage with an empty 24d end holds a Li, so the whole
    24d → 96h → 48g → 96h → 24d hop needs a vacancy: the Li of B is removed (Li55).

    Parameters
    ----------
    seed
        Seed of the cubic cell's Li ordering (``llzo-cubic``).
    a
        Lattice parameter, Å (default the generator's, 12.97 Å).
    choice
        Which of the candidate hops of the cell (sorted by site indices).
    """
    atoms, network, xyz, atom_of = _cubic_cell(seed, a)
    candidates = _empty_cages_between_filled(network, atom_of)
    pa, pb, site_a, site_b = _pick(candidates, choice, "cubic-24d-24d")
    mover, vacancy_atom = atom_of[site_a], atom_of[site_b]
    cell = np.array(atoms.cell)
    cage_centre = 0.5 * (xyz[pa] + _unwrapped(cell, [xyz[pa], xyz[pb]])[1])
    waypoints = _unwrapped(cell, [atoms.positions[mover], xyz[pa], cage_centre, xyz[pb], xyz[site_b]])
    final = atoms.copy()
    final.positions[mover] = xyz[site_b]
    del atoms[vacancy_atom]
    del final[vacancy_atom]
    mover -= int(vacancy_atom < mover)
    return Hop(
        "cubic-24d-24d", atoms, final, mover, waypoints,
        f"Li vacancy on 24d site {site_b} (Li55); Li {mover}: 24d site {site_a} -> 96h {pa} -> 48g -> 96h {pb} -> 24d site {site_b} (cubic seed {seed})",
        {"from_24d": site_a, "via_96h": [pa, pb], "vacancy_24d": site_b, "candidates": len(candidates), "seed": seed},
    )


def cubic_24d_96h_hop(seed: int = 0, a: float | None = None, choice: int = 0) -> Hop:
    """A Li of a filled 24d site A into the empty cage next to it, on its 96h position on A's side (Li56).

    The first half of the 24d–24d hop without a vacancy: the 96h position is 2.32 Å from the
    filled 24d site B at the cage's other end, so the final state obeys the Li–Li exclusions.
    """
    atoms, network, xyz, atom_of = _cubic_cell(seed, a)
    candidates = _empty_cages_between_filled(network, atom_of)
    pa, pb, site_a, site_b = _pick(candidates, choice, "cubic-24d-96h")
    mover = atom_of[site_a]
    waypoints = _unwrapped(np.array(atoms.cell), [atoms.positions[mover], xyz[pa]])
    final = atoms.copy()
    final.positions[mover] = xyz[pa]
    return Hop(
        "cubic-24d-96h", atoms, final, mover, waypoints,
        f"Li {mover}: 24d site {site_a} -> 96h {pa} of the empty cage towards the filled 24d site {site_b} (Li56, cubic seed {seed})",
        {"from_24d": site_a, "to_96h": pa, "cage_far_24d": site_b, "candidates": len(candidates), "seed": seed},
    )


def cubic_vacancy_hop(seed: int = 0, a: float | None = None, choice: int = 0) -> Hop:
    """A Li vacancy on a 24d site, filled by the Li of a neighbouring cage (96h → 48g → 96h → 24d)."""
    atoms, network, xyz, atom_of = _cubic_cell(seed, a)
    candidates = [(pa, pb, site_a, site_b) for pa, pb, site_a, site_b in _cages_with_ends(network)
                  if site_b in atom_of and pa in atom_of]  # a Li in the cage, on the side away from the filled 24d B
    pa, pb, site_a, site_b = _pick(candidates, choice, "cubic-vacancy")
    vacancy_atom, mover = atom_of[site_b], atom_of[pa]
    cell = np.array(atoms.cell)
    cage_centre = 0.5 * (xyz[pa] + _unwrapped(cell, [xyz[pa], xyz[pb]])[1])
    waypoints = _unwrapped(cell, [atoms.positions[mover], cage_centre, xyz[pb], xyz[site_b]])
    final = atoms.copy()
    final.positions[mover] = xyz[site_b]
    del atoms[vacancy_atom]
    del final[vacancy_atom]
    mover -= int(vacancy_atom < mover)
    return Hop(
        "cubic-vacancy", atoms, final, mover, waypoints,
        f"Li vacancy on 24d site {site_b} (Li55); Li {mover} of 96h {pa} -> 48g -> 96h {pb} -> 24d site {site_b} (cubic seed {seed})",
        {"vacancy_24d": site_b, "from_96h": pa, "via_96h": pb, "candidates": len(candidates), "seed": seed},
    )


def tetragonal_hop(a: float | None = None, c: float | None = None, choice: int = 0,
                   from_site: str = "8a", to_site: str = "32g") -> Hop:
    """A tetragonal-LLZO Li moving into a vacant neighbouring site: 8a → 32g (2.54 Å) or 16f → 32g (2.59 Å).

    Parameters
    ----------
    a, c
        Lattice parameters, Å (default the generator's experimental ones).
    choice
        Which of the equivalent nearest (from, to) pairs, sorted by atom index.
    from_site, to_site
        Wyckoff labels of the moving Li and of the vacancy (``8a``, ``16f``, ``32g``).
    """
    from pymatgen.core import Lattice, Structure

    from dpgen_llzo.structures import build_structure
    from dpgen_llzo.structures.tetragonal import ASYMMETRIC_UNIT

    params = {k: v for k, v in (("a", a), ("c", c)) if v}
    atoms = _atoms(build_structure("llzo-tetragonal", **params))
    cell = np.array(atoms.cell)
    orbits = {label: Structure.from_spacegroup("I4_1/acd", Lattice(cell), [element], [coords]).frac_coords
              for element, label, coords in ASYMMETRIC_UNIT if element == "Li"}
    if from_site not in orbits or to_site not in orbits:
        raise UserInputError(f"tetragonal Li sites are {', '.join(orbits)}; got {from_site} -> {to_site}")
    frac = atoms.get_scaled_positions()
    li = np.array([i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Li"])

    def atoms_on(label):
        delta = frac[li][:, None, :] - orbits[label][None]
        delta -= np.round(delta)
        return [int(i) for i in li[np.linalg.norm(delta @ cell, axis=-1).min(axis=1) < 0.1]]

    movers, targets = atoms_on(from_site), atoms_on(to_site)
    pairs = [(m, t, d) for m in movers for t, d in zip(targets, atoms.get_distances(m, targets, mic=True)) if t != m]
    shortest = min(d for _, _, d in pairs)
    candidates = sorted((m, t) for m, t, d in pairs if d < shortest + 0.05)
    mover, vacancy_atom = _pick(candidates, choice, f"tetragonal {from_site} -> {to_site}")
    waypoints = _unwrapped(cell, [atoms.positions[mover], atoms.positions[vacancy_atom]])
    final = atoms.copy()
    final.positions[mover] = atoms.positions[vacancy_atom]
    del atoms[vacancy_atom]
    del final[vacancy_atom]
    mover -= int(vacancy_atom < mover)
    return Hop(
        "tetragonal", atoms, final, mover, waypoints,
        f"tetragonal: vacancy on a {to_site} site (Li55); Li {mover} of {from_site} -> {to_site}, {shortest:.2f} Å",
        {"from": from_site, "to_vacant": to_site, "hop_length_A": float(shortest), "candidates": len(candidates)},
    )


def custom_hop(initial, final) -> Hop:
    """User-given end points; the moving atom is the one displaced most (minimum image).

    Raises
    ------
    UserInputError
        If the two cells differ in atoms, order or cell.
    """
    from ase.geometry import find_mic

    if len(initial) != len(final) or initial.get_chemical_symbols() != final.get_chemical_symbols():
        raise UserInputError("--initial and --final must hold the same atoms in the same order")
    if not np.allclose(initial.cell, final.cell, atol=1e-3):
        raise UserInputError("--initial and --final must have the same cell (a fixed-cell NEB)")
    delta, lengths = find_mic(final.positions - initial.positions, initial.cell, pbc=initial.pbc)
    mover = int(np.argmax(lengths))
    if lengths[mover] < 0.1:
        raise UserInputError("--initial and --final are the same structure (no atom moves by 0.1 Å or more)")
    waypoints = np.array([initial.positions[mover], initial.positions[mover] + delta[mover]])
    return Hop("custom", initial, final, mover, waypoints,
               f"custom end points: atom {mover} ({initial.get_chemical_symbols()[mover]}) moves {lengths[mover]:.2f} Å",
               {"moving_distance_A": float(lengths[mover])})


def build_hop(name: str, seed: int = 0, choice: int = 0, a: float | None = None, c: float | None = None) -> Hop:
    """The hop ``name`` (one of :data:`HOPS`) of a generated LLZO cell."""
    if name == "cubic-24d-24d":
        return cubic_24d_24d_hop(seed, a, choice)
    if name == "cubic-24d-96h":
        return cubic_24d_96h_hop(seed, a, choice)
    if name == "cubic-vacancy":
        return cubic_vacancy_hop(seed, a, choice)
    if name == "tetragonal":
        return tetragonal_hop(a, c, choice)
    if name == "tetragonal-16f-32g":
        return tetragonal_hop(a, c, choice, "16f", "32g")
    raise UserInputError(f"unknown hop {name!r}; known: {', '.join(HOPS)} (or --initial/--final)")
