"""Structure generators for garnet LLZO (Li7La3Zr2O12).

Each generator is a function ``generator(*, seed=0, **params) -> pymatgen Structure`` that
registers itself in :data:`STRUCTURES`; :func:`build_structure` looks one up by name, checks
the parameters and makes a supercell::

    from dpgen_llzo.structures import build_structure
    cell = build_structure("llzo-cubic", seed=3, supercell=(2, 2, 2), a=13.1)

Generators shipped here:

``llzo-cubic``
    An ordered Li arrangement in the Ia-3d garnet framework (:mod:`.cubic`).
``llzo-tetragonal``
    The fully ordered I4_1/acd phase (:mod:`.tetragonal`).
``llzo-doped``
    Cubic LLZO with Al/Ga on Li 24d or Ta/Nb on Zr 16a and compensating Li vacancies (:mod:`.doped`).
``dimer``
    Two atoms in a large box, for two-body scans (:mod:`.dimer`).
``file``
    A cell read from a structure file: your own doped or defective cells (:mod:`.from_file`).

The reference crystals of the building blocks are in :mod:`.references`, the grain-boundary
cells in :mod:`.gb_cells`.

Lattice-scaling and perturbation helpers for initial data are in :mod:`.perturb`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Sequence

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

STRUCTURES: Registry[Callable[..., "Structure"]] = Registry("structure generator")


def generator_parameters(name: str) -> dict[str, Any]:
    """Keyword parameters (other than ``seed``) of a registered generator, with their defaults."""
    signature = inspect.signature(STRUCTURES.get(name))
    return {
        key: parameter.default
        for key, parameter in signature.parameters.items()
        if key != "seed" and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


def build_structure(
    name: str, seed: int = 0, supercell: Sequence[int] = (1, 1, 1), **params: Any
) -> Structure:
    """Build a registered structure and repeat it into a supercell.

    Parameters
    ----------
    name
        Registered generator name, e.g. ``"llzo-cubic"`` or ``"llzo-tetragonal"``.
    seed
        Random seed for generators that make random choices (the cubic Li ordering); the same
        seed gives the same structure.
    supercell
        Repetitions (na, nb, nc) of the conventional cell along its lattice vectors; positive
        integers.
    **params
        Generator parameters, e.g. ``a`` and ``c`` lattice parameters in Å.

    Returns
    -------
    Structure
        Sites sorted Li, La, Zr, O, then by fractional coordinates.

    Raises
    ------
    UserInputError
        Unknown generator or parameter, non-positive supercell entries or lattice parameters.
    """
    from dpgen_llzo.structures.common import check_positive_int, is_integer, sort_sites

    generator = STRUCTURES.get(name)
    known = generator_parameters(name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UserInputError(
            f"structure generator {name!r} takes no parameter {unknown[0]!r}; "
            f"known: {', '.join(known) or '(none)'}"
        )
    if isinstance(supercell, (str, bytes)) or len(supercell) != 3:
        raise UserInputError(f"supercell must be three positive integers, got {supercell!r}")
    repeats = [check_positive_int("supercell entry", n) for n in supercell]
    if not is_integer(seed) or seed < 0:
        raise UserInputError(f"seed must be a non-negative integer, got {seed!r}")
    structure = generator(seed=seed, **params)
    if repeats != [1, 1, 1]:
        structure = sort_sites(structure.make_supercell(repeats, in_place=False))
    return structure


# Importing the generator modules fills the registry (they import STRUCTURES from here).
from dpgen_llzo.structures import cubic, dimer, doped, from_file, gb_cells, references, tetragonal  # noqa: E402,F401

__all__ = ["STRUCTURES", "build_structure", "generator_parameters"]
