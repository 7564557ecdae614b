"""Tetragonal garnet LLZO (I4_1/acd, No. 142): the fully ordered low-temperature phase.

Coordinates are the PBE-relaxed ones in origin choice 1 of I4_1/acd, the setting
``Structure.from_spacegroup("I4_1/acd", ...)`` uses. Li fills 8a (tetrahedral), 16f and 32g
(octahedral) completely, so the cell is Li56La24Zr16O96 with no random choice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import check_positive, sort_sites

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Room-temperature lattice parameters in Å (Awaka et al., J. Solid State Chem. 182 (2009) 2046).
DEFAULT_A = 13.134
DEFAULT_C = 12.663

#: Asymmetric unit, origin choice 1: (element, Wyckoff label, (x, y, z)).
ASYMMETRIC_UNIT: tuple[tuple[str, str, tuple[float, float, float]], ...] = (
    ("Li", "8a", (0.0, 0.0, 0.0)),
    ("Li", "16f", (0.1812, 0.1812, 3 / 4)),
    ("Li", "32g", (0.0805, 0.1625, 0.9309)),
    ("La", "8b", (0.0, 0.0, 1 / 4)),
    ("La", "16e", (0.1274, 1 / 4, 3 / 8)),
    ("Zr", "16c", (0.0, 1 / 4, 1 / 8)),
    ("O", "32g", (0.0346, 0.1945, 0.7787)),
    ("O", "32g", (0.0550, 0.1024, 0.0907)),
    ("O", "32g", (0.1508, 0.2232, 0.5712)),
)


@STRUCTURES.register(
    "llzo-tetragonal", summary="tetragonal LLZO, I4_1/acd, fully ordered Li (Li56La24Zr16O96)"
)
def build_tetragonal_llzo(
    *, seed: int = 0, a: float = DEFAULT_A, c: float = DEFAULT_C
) -> Structure:
    """Conventional cell of tetragonal LLZO, Li56La24Zr16O96 (192 atoms).

    Parameters
    ----------
    seed
        Unused: the tetragonal phase is fully ordered. Accepted so every generator has the same
        call signature.
    a, c
        Tetragonal lattice parameters in Å (defaults: experiment at room temperature; PBE gives
        a = 13.236, c = 12.702 Å).

    Returns
    -------
    Structure
        Sites sorted Li, La, Zr, O then by fractional coordinates.
    """
    from pymatgen.core import Lattice, Structure

    a = check_positive("lattice parameter a", a)
    c = check_positive("lattice parameter c", c)
    structure = Structure.from_spacegroup(
        "I4_1/acd",
        Lattice.tetragonal(a, c),
        [element for element, _, _ in ASYMMETRIC_UNIT],
        [coords for _, _, coords in ASYMMETRIC_UNIT],
    )
    return sort_sites(structure)
