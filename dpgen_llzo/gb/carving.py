"""Carve small, DFT-sized cells around the worst-predicted atoms of a large GB frame.

GB cells hold 1 000–2 000 atoms, too many for a plane-wave DFT label. The model deviation of
DeePMD (``pair_style deepmd ... atomic``) says *which* atoms are uncertain; a cell around each
of them is labelled instead. :func:`select_carving_centres` picks the centres,
:func:`carve_environment` cuts the cell.

Choice: a periodic sub-cell (default, ``mode="periodic"``)
----------------------------------------------------------
The sub-cell is the parallelepiped of the parent cell's shape centred on the atom, with
perpendicular widths ``2·radius + buffer`` (buffer 2.2 Å, the largest contact bound); along a
lattice direction whose parent period is at most 25 % longer than that, the whole parent
period is kept and there is no seam at all. Atoms within ``radius`` of the centre are kept
exactly; a seam contact that the cut creates, and the ions removed to make the cell
stoichiometric (default) or neutral, are always taken from outside ``radius``, nearest the
seam first. Hence every atom within ``radius − rcut`` of the centre has exactly the parent's
neighbours within ``rcut`` (tested), and the carved cell is an ordinary periodic, neutral,
insulating LLZO configuration.

Why not the paper's block in a 40 Å vacuum box (``mode="vacuum"``, also available):

* **Labels.** The carved cell is a legitimate configuration in its own right: the DP is
  trained on the same geometry DFT labelled, so seam atoms have consistent labels and need no
  special weighting. A block in vacuum has a polar, under-coordinated surface — surface
  states, charge transfer, harder SCF — whose environments never occur in bulk or GB MD.
* **Cost.** The number of plane waves grows with the box volume. Carved from the Σ3 cell with
  the default radius 7 Å: periodic, ~350 atoms in 18.3 × 16.2 × 16.2 Å (4 800 Å³); vacuum,
  ~250 atoms (sphere of 9.2 Å) in 64 000 Å³. With cost ∝ N_pw·N_bands², the periodic cell
  is ~7× cheaper at equal k-sampling, still ~2× with the 2×2×2 mesh KSPACING 0.25 Å⁻¹ asks
  for (Γ for the 40 Å box), and its SCF behaves like the bulk tasks'.
* **Weights.** DeePMD's per-atom ``atom_pref`` only enters the separate ``pref_pf`` loss term;
  the ordinary force term still weights all atoms, so down-weighting the outer atoms of only
  the carved systems is not possible in one training without changing the loss for all data.
  Periodic cells do not need it. The writer still stores ``atom_pref.npy`` (1 for atoms whose
  whole ``rcut`` environment equals the parent's, the Jaccard overlap of neighbour sets
  otherwise) for users who switch on ``pref_pf``; it is informational by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.errors import UserInputError

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: DeePMD descriptor cutoff of the bundles, Å (science.md §3).
DEFAULT_RCUT_A = 6.0
#: Carving radius: atoms within it are kept exactly, Å (rcut + 1 Å skin).
DEFAULT_RADIUS_A = 7.0
#: Extra width beyond 2·radius so that seam contacts always involve an atom outside radius, Å.
DEFAULT_BUFFER_A = 2.2
#: Keep the whole parent period along a direction at most this much longer than the box.
KEEP_PERIOD_FACTOR = 1.25
#: Edge of the cubic box of ``mode="vacuum"``, Å (the paper's 40 Å).
DEFAULT_VACUUM_BOX_A = 40.0
MODES = ("periodic", "vacuum")
COMPOSITIONS = ("stoichiometric", "neutral")


@dataclass
class CarveInfo:
    """How a carved cell relates to its parent.

    Attributes
    ----------
    mode, composition
        The options used.
    centre_index
        Index of the centre atom in the carved cell.
    parent_centre_index
        Index of the centre atom in the parent.
    parent_indices
        Parent index of every carved atom.
    distance_from_centre_A
        Distance of every carved atom from the centre in the parent (minimum image), Å.
    radius_A, rcut_A
        Kept sphere and descriptor cutoff, Å; atoms within ``radius_A − rcut_A`` keep their
        whole environment.
    periodic_directions
        Per parent lattice vector: True where the whole parent period was kept (no seam).
    removed
        Ions removed (seam contacts plus composition), per element.
    atom_pref
        Per-atom weight: Jaccard overlap of the atom's neighbour set within ``rcut`` in the
        carved cell and in the parent (1 = identical environment).
    """

    mode: str
    composition: str
    centre_index: int
    parent_centre_index: int
    parent_indices: np.ndarray
    distance_from_centre_A: np.ndarray
    radius_A: float
    rcut_A: float
    periodic_directions: tuple[bool, bool, bool]
    removed: dict[str, int] = field(default_factory=dict)
    atom_pref: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_intact(self) -> int:
        """Atoms whose whole ``rcut`` environment equals the parent's."""
        return int(np.sum(self.atom_pref >= 1.0 - 1e-12))

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "composition": self.composition,
            "centre_index": self.centre_index,
            "parent_centre_index": self.parent_centre_index,
            "parent_indices": self.parent_indices.tolist(),
            "radius_A": self.radius_A,
            "rcut_A": self.rcut_A,
            "periodic_directions": list(self.periodic_directions),
            "removed": dict(self.removed),
            "n_atoms": len(self.parent_indices),
            "n_intact": self.n_intact,
        }


def select_carving_centres(
    per_atom_deviation: Sequence[float] | np.ndarray,
    n: int,
    min_separation: float,
    structure: Structure,
    min_deviation: float = 0.0,
) -> list[int]:
    """Atoms with the largest force deviation, no two closer than ``min_separation``.

    Parameters
    ----------
    per_atom_deviation
        Force model deviation of every atom of ``structure`` (same order), eV/Å.
    n
        Largest number of centres returned.
    min_separation
        Smallest distance between two centres (minimum image), Å; ``2·radius`` gives carved
        cells that do not overlap.
    structure
        The frame.
    min_deviation
        Atoms below this deviation are never chosen, eV/Å.

    Returns
    -------
    list of int
        Indices, largest deviation first (ties: lower index first).
    """
    deviation = np.asarray(per_atom_deviation, dtype=float)
    if deviation.shape != (len(structure),):
        raise UserInputError(
            f"{len(deviation)} per-atom deviations for a frame of {len(structure)} atoms"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UserInputError(f"number of centres must be a positive integer, got {n!r}")
    order = np.lexsort((np.arange(len(deviation)), -deviation))
    chosen: list[int] = []
    for index in order:
        if deviation[index] < min_deviation or len(chosen) == n:
            break
        if chosen:
            distances = structure.lattice.get_all_distances(
                structure.frac_coords[index], structure.frac_coords[chosen]
            )[0]
            if distances.min() < min_separation:
                continue
        chosen.append(int(index))
    return chosen


def carve_frame(
    structure: Structure,
    per_atom_deviation: Sequence[float] | np.ndarray,
    n: int,
    radius: float = DEFAULT_RADIUS_A,
    mode: str = "periodic",
    *,
    min_deviation: float = 0.0,
    **options: object,
) -> list[tuple[Structure, CarveInfo]]:
    """Carve cells around the ``n`` worst atoms of a frame, centres at least ``2·radius`` apart.

    ``options`` go to :func:`carve_environment` (``rcut``, ``buffer``, ``composition``, ...).
    """
    centres = select_carving_centres(per_atom_deviation, n, 2 * radius, structure, min_deviation)
    return [carve_environment(structure, c, radius, mode, **options) for c in centres]  # type: ignore[arg-type]


def _minimum_image(frac: np.ndarray) -> np.ndarray:
    return frac - np.round(frac)


def carve_environment(
    structure: Structure,
    center_index: int,
    radius: float = DEFAULT_RADIUS_A,
    mode: str = "periodic",
    *,
    rcut: float = DEFAULT_RCUT_A,
    buffer: float = DEFAULT_BUFFER_A,
    composition: str = "stoichiometric",
    vacuum_box: float = DEFAULT_VACUUM_BOX_A,
    unit: Mapping[str, int] | None = None,
) -> tuple[Structure, CarveInfo]:
    """Cut the environment of one atom into a small cell (see the module docstring).

    Parameters
    ----------
    structure
        Parent frame (periodic).
    center_index
        Atom to centre on.
    radius
        Atoms within this distance of the centre are kept exactly, Å; must exceed ``rcut``.
    mode
        ``"periodic"`` (sub-cell) or ``"vacuum"`` (block in a cubic vacuum box).
    rcut
        Descriptor cutoff, Å.
    buffer
        Periodic: width added to ``2·radius``; vacuum: shell beyond ``radius`` that ions may be
        removed from, Å. Must be at least the like-charge contact bound (2.2 Å).
    composition
        ``"stoichiometric"``: an integer number of formula units (hence neutral);
        ``"neutral"``: formal-charge neutral with the fewest removals.
    vacuum_box
        Edge of the cubic box in vacuum mode, Å.
    unit
        Formula unit; default: the parent's composition divided by its gcd.

    Returns
    -------
    (Structure, CarveInfo)
        Sites sorted Li, La, Zr, O; the info maps them back to the parent.

    Raises
    ------
    UserInputError
        Unknown mode/composition, radius ≤ rcut, buffer too small, or not enough atoms outside
        ``radius`` to fix the composition.
    """
    from dpgen_llzo.gb.interfaces import ContactRules, element_counts, formula_unit

    if mode not in MODES:
        raise UserInputError(f"unknown carving mode {mode!r}; known: {', '.join(MODES)}")
    if composition not in COMPOSITIONS:
        raise UserInputError(
            f"unknown carving composition {composition!r}; known: {', '.join(COMPOSITIONS)}"
        )
    if not 0 <= center_index < len(structure):
        raise UserInputError(f"centre index {center_index} outside 0..{len(structure) - 1}")
    if not radius > rcut > 0:
        raise UserInputError(f"radius ({radius} Å) must exceed rcut ({rcut} Å)")
    rules = ContactRules()
    if buffer < rules.min_like_charge:
        raise UserInputError(f"buffer must be >= {rules.min_like_charge} Å, got {buffer}")
    unit = dict(unit) if unit is not None else formula_unit(element_counts(structure))

    if mode == "periodic":
        carved, parent_idx, seam_distance, periodic = _periodic_cut(
            structure, center_index, radius, buffer
        )
    else:
        carved, parent_idx, seam_distance = _vacuum_cut(
            structure, center_index, radius, buffer, vacuum_box
        )
        periodic = (False, False, False)
    delta = _minimum_image(structure.frac_coords[parent_idx] - structure.frac_coords[center_index])
    distance = np.linalg.norm(delta @ structure.lattice.matrix, axis=1)
    removable = distance > radius + 1e-9

    remove, removed = _seam_contacts(structure, carved, parent_idx, distance, removable, rules)
    keep = np.ones(len(carved), dtype=bool)
    keep[remove] = False
    extra = _composition_removals(carved, keep, removable, seam_distance, composition, unit)
    for i in extra:
        keep[i] = False
        element = carved[i].specie.symbol
        removed[element] = removed.get(element, 0) + 1
    carved.remove_sites(sorted(int(i) for i in np.flatnonzero(~keep)))
    parent_idx, distance = parent_idx[keep], distance[keep]

    from dpgen_llzo.structures.common import sort_sites

    carved.add_site_property("parent_index", [int(i) for i in parent_idx])
    carved = sort_sites(carved)
    parent_idx = np.array(carved.site_properties["parent_index"], dtype=int)
    carved.remove_site_property("parent_index")
    order = {int(p): k for k, p in enumerate(parent_idx)}
    delta = _minimum_image(structure.frac_coords[parent_idx] - structure.frac_coords[center_index])
    info = CarveInfo(
        mode=mode,
        composition=composition,
        centre_index=order[int(center_index)],
        parent_centre_index=int(center_index),
        parent_indices=parent_idx,
        distance_from_centre_A=np.linalg.norm(delta @ structure.lattice.matrix, axis=1),
        radius_A=float(radius),
        rcut_A=float(rcut),
        periodic_directions=periodic,  # type: ignore[arg-type]
        removed=removed,
    )
    info.atom_pref = environment_overlap(structure, carved, parent_idx, rcut)
    return carved, info


def _periodic_cut(
    structure: Structure, center: int, radius: float, buffer: float
) -> tuple[Structure, np.ndarray, np.ndarray, tuple[bool, bool, bool]]:
    """Parallelepiped sub-cell around ``center``; returns cell, parent indices, seam distances."""
    from pymatgen.core import Lattice, Structure

    matrix = structure.lattice.matrix
    widths = structure.volume / np.linalg.norm(
        np.cross(matrix[[1, 2, 0]], matrix[[2, 0, 1]]), axis=1
    )
    target = 2 * radius + buffer
    scale = np.where(widths <= KEEP_PERIOD_FACTOR * target, 1.0, target / widths)
    periodic = tuple(bool(s == 1.0) for s in scale)
    delta = structure.frac_coords - structure.frac_coords[center]
    delta -= np.floor(delta + 0.5)  # [-0.5, 0.5)
    inside = np.all((delta >= -scale / 2) & (delta < scale / 2), axis=1)
    parent_idx = np.flatnonzero(inside)
    local = delta[parent_idx] / scale
    # Distance to the nearest seam (Å); inf along directions without one.
    to_seam = np.where(scale < 1.0, (0.5 - np.abs(local)) * scale * widths, np.inf).min(axis=1)
    carved = Structure(
        Lattice(matrix * scale[:, None]),
        [structure[i].species for i in parent_idx],
        np.mod(local + 0.5, 1.0),
    )
    return carved, parent_idx, to_seam, periodic  # type: ignore[return-value]


def _vacuum_cut(
    structure: Structure, center: int, radius: float, buffer: float, box: float
) -> tuple[Structure, np.ndarray, np.ndarray]:
    """Sphere of ``radius + buffer`` around ``center`` in a cubic vacuum box."""
    from pymatgen.core import Lattice, Structure

    outer = radius + buffer
    if box < 2 * outer + 10.0:
        raise UserInputError(f"vacuum box of {box} Å leaves < 10 Å of vacuum around the block")
    delta = _minimum_image(structure.frac_coords - structure.frac_coords[center])
    cart = delta @ structure.lattice.matrix
    distance = np.linalg.norm(cart, axis=1)
    parent_idx = np.flatnonzero(distance <= outer)
    carved = Structure(
        Lattice.cubic(box),
        [structure[i].species for i in parent_idx],
        cart[parent_idx] + box / 2,
        coords_are_cartesian=True,
    )
    return carved, parent_idx, outer - distance[parent_idx]


def _seam_contacts(
    parent: Structure,
    carved: Structure,
    parent_idx: np.ndarray,
    distance: np.ndarray,
    removable: np.ndarray,
    rules,
) -> tuple[list[int], dict[str, int]]:
    """Carved-cell contacts closer than in the parent (made by the seam): drop the outer atom."""
    from dpgen_llzo.gb.interfaces import close_contacts

    contacts = close_contacts(carved, rules)
    remove: set[int] = set()
    removed: dict[str, int] = {}
    for i, j, d in contacts:
        i, j = int(i), int(j)
        if i in remove or j in remove:
            continue
        before = parent.get_distance(int(parent_idx[i]), int(parent_idx[j]))
        if d >= before - 1e-6:
            continue  # the parent frame has this contact too
        victim = i if (distance[i], i) > (distance[j], j) else j
        if not removable[victim]:
            raise UserInputError("buffer too small: a seam contact reaches inside the radius")
        remove.add(victim)
        element = carved[victim].specie.symbol
        removed[element] = removed.get(element, 0) + 1
    return sorted(remove), removed


def _composition_removals(
    carved: Structure,
    keep: np.ndarray,
    removable: np.ndarray,
    seam_distance: np.ndarray,
    composition: str,
    unit: Mapping[str, int],
) -> list[int]:
    """Indices to remove (outside the radius, nearest the seam first) to fix the composition."""
    from dpgen_llzo.gb.interfaces import ION_CHARGES

    symbols = np.array([site.specie.symbol for site in carved])
    order = [
        int(i)
        for i in np.lexsort((np.arange(len(carved)), seam_distance))
        if keep[i] and removable[i]
    ]
    chosen: list[int] = []
    if composition == "stoichiometric":
        counts = {e: int(np.sum(symbols[keep] == e)) for e in unit}
        units = min(counts[e] // unit[e] for e in unit)
        quota = {e: counts[e] - units * unit[e] for e in unit}
        for i in order:
            if quota.get(str(symbols[i]), 0) > 0:
                chosen.append(i)
                quota[str(symbols[i])] -= 1
        if any(quota.values()):
            raise UserInputError(
                "not enough atoms outside the radius to make the cell stoichiometric"
            )
        return chosen
    charge = sum(ION_CHARGES[str(s)] for s in symbols[keep])
    for i in order:
        if charge == 0:
            break
        q = ION_CHARGES[str(symbols[i])]
        if (charge > 0 and 0 < q <= charge) or (charge < 0 and q < 0):
            chosen.append(i)
            charge -= q
    if charge != 0:
        raise UserInputError("not enough atoms outside the radius to make the cell neutral")
    return chosen


def environment_overlap(
    parent: Structure, carved: Structure, parent_idx: np.ndarray, rcut: float, tol: float = 1e-3
) -> np.ndarray:
    """Per carved atom: Jaccard overlap of its neighbours within ``rcut`` in both cells.

    A neighbour is the pair (parent index, relative vector); two are the same when the index
    agrees and the vectors differ by less than ``tol`` Å, so a periodic image in another
    place, a missing atom and a new atom all count as different.
    """
    carved_sets = _neighbour_vectors(carved, rcut, parent_idx)
    parent_sets = _neighbour_vectors(parent, rcut, np.arange(len(parent)))
    overlap = np.empty(len(parent_idx))
    for k, p in enumerate(parent_idx):
        mine, theirs = carved_sets.get(int(p), []), parent_sets.get(int(p), [])
        common = 0
        for name, vector in mine:
            common += any(n == name and np.abs(v - vector).max() < tol for n, v in theirs)
        union = len(mine) + len(theirs) - common
        overlap[k] = 1.0 if union == 0 else common / union
    return overlap


def _neighbour_vectors(
    structure: Structure, rcut: float, names: np.ndarray
) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Neighbours within ``rcut`` of every site as (name, relative vector) lists, keyed by name."""
    centers, points, images, _ = structure.get_neighbor_list(rcut)
    frac = structure.frac_coords
    vectors = (frac[points] + images - frac[centers]) @ structure.lattice.matrix
    table: dict[int, list[tuple[int, np.ndarray]]] = {}
    for c, p, vector in zip(names[centers], names[points], vectors):
        table.setdefault(int(c), []).append((int(p), vector))
    return table


def atomic_model_devi_row(path: str, step: int) -> np.ndarray | None:
    """Per-atom force deviations (eV/Å) of one ``step`` of an ``atomic`` ``model_devi.out``, streamed.

    Reads line by line and parses only the row of ``step`` (the last one, if a restart wrote it
    twice), so a long exploration of a 2000-atom cell never sits in memory as a table.

    Returns
    -------
    numpy.ndarray or None
        ``(n_atoms,)`` in LAMMPS id order; None when the step is not in the file.

    Raises
    ------
    UserInputError
        Missing file, or a row without per-atom columns.
    """
    found = None
    try:
        with open(path) as handle:
            for line in handle:
                head = line.split(None, 1)
                if not head or head[0].startswith("#"):
                    continue
                try:
                    if int(float(head[0])) == step:  # DeePMD writes integers; tables saved by hand may not
                        found = line
                except ValueError:
                    continue
    except OSError:
        raise UserInputError(f"{path}: cannot read the model deviation file") from None
    if found is None:
        return None
    values = np.array(found.split()[7:], dtype=float)
    if values.size == 0:
        raise UserInputError(f"{path}: no per-atom deviations; the pair_style deepmd line needs the 'atomic' keyword")
    return values


def read_atomic_model_devi(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and per-atom force deviations from a ``model_devi.out`` written with ``atomic``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Steps (n_frames,) and deviations (n_frames, n_atoms), eV/Å, atoms in LAMMPS id order.

    Raises
    ------
    UserInputError
        Missing file, or a file without per-atom columns (``pair_style deepmd`` lacked
        ``atomic``).
    """
    try:
        data = np.loadtxt(path, ndmin=2)
    except OSError:
        raise UserInputError(f"{path}: cannot read the model deviation file") from None
    except ValueError as exc:
        raise UserInputError(f"{path}: not a model deviation table ({exc})") from None
    if data.shape[1] <= 7:
        raise UserInputError(
            f"{path}: no per-atom deviations; the pair_style deepmd line needs the 'atomic' keyword"
        )
    return data[:, 0].astype(int), data[:, 7:]
