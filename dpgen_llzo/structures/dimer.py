"""Isolated atom pairs in a large periodic box: two-body data that pin short-range repulsion.

The PCA-coverage paper adds isolated pairs of every element pair to the initial data, scanned
from short range to the cutoff, so the potential never meets a closer approach than its
training data without a repulsive wall. ``dimer`` builds one pair; a distance scan is the
``scan`` kind of ``dpgen-llzo init`` (``{"param": "distance_A", "values": [...]}``), and
:func:`dimer_distances` gives the usual grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import SPECIES_ORDER, check_positive, sort_sites

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

def parse_pair(pair: str) -> tuple[str, str]:
    """``"Li-O"`` → ``("Li", "O")``; both must be LLZO elements."""
    parts = [part.strip() for part in str(pair).split("-")]
    if len(parts) != 2 or not all(parts):
        raise UserInputError(f"dimer: pair must look like 'Li-O', got {pair!r}")
    unknown = [p for p in parts if p not in SPECIES_ORDER]
    if unknown:
        raise UserInputError(f"dimer: unknown element {unknown[0]!r} in pair {pair!r}; known: {', '.join(SPECIES_ORDER)}")
    return parts[0], parts[1]


def dimer_distances(start_A: float, stop_A: float, n: int) -> list[float]:
    """``n`` distances from ``start_A`` to ``stop_A``, denser at short range (uniform in 1/r)."""
    if not 0 < start_A < stop_A or n < 2:
        raise UserInputError(f"dimer distances: need 0 < start < stop and n >= 2, got {start_A}, {stop_A}, {n}")
    inverse = np.linspace(1.0 / start_A, 1.0 / stop_A, n)
    return [round(float(1.0 / x), 4) for x in inverse]


@STRUCTURES.register("dimer", summary="two atoms (pair='Li-O', distance_A) in a large cubic box: two-body data")
def build_dimer(*, seed: int = 0, pair: str = "Li-O", distance_A: float = 2.0, box_A: float = 20.0) -> Structure:
    """Two atoms ``distance_A`` apart along x, in a cubic box of edge ``box_A``.

    Parameters
    ----------
    seed
        Unused (no random choice); accepted for the common generator signature.
    pair
        Elements joined by a dash, e.g. ``"Li-O"`` or ``"O-O"``.
    distance_A
        Interatomic distance, Å.
    box_A
        Box edge, Å. The periodic image of the partner must stay farther than any cutoff in
        use (the DP's 6 Å, the teacher's): ``box_A - distance_A`` must exceed 12 Å.

    Raises
    ------
    UserInputError
        Unknown element, non-positive distance, or a box too small for the images to stay out
        of range.
    """
    from pymatgen.core import Lattice, Structure

    first, second = parse_pair(pair)
    distance = check_positive("distance_A", distance_A)
    box = check_positive("box_A", box_A)
    if box - distance <= 12.0:
        raise UserInputError(f"dimer: box_A - distance_A must exceed 12 Å so images stay out of range, got {box} - {distance}")
    centre = box / 2.0
    cart = [[centre - distance / 2.0, centre, centre], [centre + distance / 2.0, centre, centre]]
    return sort_sites(Structure(Lattice.cubic(box), [first, second], cart, coords_are_cartesian=True))
