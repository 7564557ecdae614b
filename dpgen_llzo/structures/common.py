"""Small helpers shared by the structure generators: argument checks, site ordering, sanity of a cell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Species order of every structure this package writes (POSCAR species line ``Li La Zr O``).
SPECIES_ORDER: tuple[str, ...] = ("Li", "La", "Zr", "O")

#: Formal (oxidation-state) charges used for electrostatic ranking, in units of e.
FORMAL_CHARGES: dict[str, int] = {"Li": 1, "La": 3, "Zr": 4, "O": -2}


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float; :class:`UserInputError` unless it is a finite number > 0."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserInputError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise UserInputError(f"{name} must be a positive number, got {value!r}")
    return number


def is_integer(value: object) -> bool:
    """True for Python or numpy integers (bool excluded)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, raising :class:`UserInputError` unless it is an integer ≥ 1."""
    if not is_integer(value) or value < 1:  # type: ignore[operator]
        raise UserInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def sort_sites(structure: Structure) -> Structure:
    """Return a copy with sites in a canonical order: Li, La, Zr, O, then by fractional coordinates.

    Fractional coordinates are wrapped into [0, 1) and rounded to 1e-6 before sorting (x, then
    y, then z), so the order is reproducible and a POSCAR lists the species as ``Li La Zr O``.
    Species not in :data:`SPECIES_ORDER` come last, alphabetically.
    """
    from pymatgen.core import Structure

    symbols = [site.specie.symbol for site in structure]
    known = {symbol: rank for rank, symbol in enumerate(SPECIES_ORDER)}
    others = sorted(set(symbols) - set(known))
    rank = {**known, **{symbol: len(known) + i for i, symbol in enumerate(others)}}
    frac = np.mod(structure.frac_coords, 1.0)
    frac = np.where(np.isclose(frac, 1.0, atol=1e-9), 0.0, frac)
    key = np.round(frac, 6)
    species_rank = np.array([rank[s] for s in symbols])
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0], species_rank))
    return Structure(
        structure.lattice,
        [structure[i].species for i in order],
        frac[order],
        site_properties={k: [v[i] for i in order] for k, v in structure.site_properties.items()}
        or None,
    )


#: Closest approach accepted in an init structure, Å. Real bonds in these oxides are above
#: 1.5 Å and the two-body scans start at 1.0 Å (O–O); two sites closer than this are a
#: duplicated atom or a broken file, and would give the teacher (or DFT) absurd forces.
MIN_SEPARATION_A = 0.5


def closest_pair(structure: Structure, within_A: float = MIN_SEPARATION_A) -> tuple[int, int, float] | None:
    """The closest pair of sites (periodic images included) nearer than ``within_A``, or None.

    Returns
    -------
    tuple or None
        ``(i, j, distance_A)`` with ``i <= j`` (``i == j``: a site close to its own image).
    """
    centres, neighbours, _, distances = structure.get_neighbor_list(within_A)
    if len(distances) == 0:
        return None
    k = int(np.argmin(distances))
    i, j = sorted((int(centres[k]), int(neighbours[k])))
    return i, j, float(distances[k])


def check_init_structure(structure: Structure, type_map: Sequence[str], where: str) -> None:
    """Refuse a structure with an element outside ``type_map`` or overlapping atoms.

    Parameters
    ----------
    structure
        The built cell.
    type_map
        Elements the potential knows (param.json ``type_map``).
    where
        Prefix of the message, e.g. ``"param.json: _dpgen_llzo/init/systems[2] (li2o)"``.

    Raises
    ------
    UserInputError
        One line naming the element, or the two atoms and their distance.
    """
    unknown = sorted({site.specie.symbol for site in structure} - set(type_map))
    if unknown:
        raise UserInputError(f"{where}: element {unknown[0]} is not in type_map {list(type_map)}")
    pair = closest_pair(structure)
    if pair is not None:
        i, j, distance = pair
        what = f"atom {i} ({structure[i].specie.symbol}) is {distance:.3f} Å from its own periodic image" if i == j else \
            f"atoms {i} ({structure[i].specie.symbol}) and {j} ({structure[j].specie.symbol}) are {distance:.3f} Å apart"
        raise UserInputError(f"{where}: {what} (overlapping; closest allowed {MIN_SEPARATION_A} Å)")
