"""Lattice scaling and random perturbations for initial training data.

The same idea as DP-GEN ``init_bulk`` (scale the relaxed cell) and dpdata ``perturb`` (strain
the cell and displace the atoms at random), written as pure functions on pymatgen structures.
Every random choice comes from ``numpy.random.default_rng(seed)``: the same seed gives the
same frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures.common import check_positive, is_integer

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

Seed = int | np.random.SeedSequence
DisplacementStyle = Literal["uniform", "normal"]


def scale_lattice(structure: Structure, factor: float) -> Structure:
    """Scale all lattice lengths by ``factor`` (isotropic); fractional coordinates are kept.

    Parameters
    ----------
    structure
        Input cell (not modified).
    factor
        Factor on the lattice lengths; the volume changes by ``factor**3``. Must be > 0.

    Returns
    -------
    Structure
        A new structure.
    """
    from pymatgen.core import Lattice, Structure

    factor = check_positive("lattice scale factor", factor)
    lattice = Lattice(structure.lattice.matrix * factor)
    return Structure(
        lattice,
        structure.species_and_occu,
        structure.frac_coords,
        site_properties=structure.site_properties or None,
    )


def random_strain(cell_strain: float, rng: np.random.Generator) -> np.ndarray:
    """A random symmetric 3×3 strain tensor, every entry uniform in [−cell_strain, cell_strain]."""
    upper = np.triu(rng.uniform(-cell_strain, cell_strain, size=(3, 3)))
    return upper + np.triu(upper, k=1).T


def random_displacements(
    n_atoms: int, amplitude: float, rng: np.random.Generator, style: DisplacementStyle = "uniform"
) -> np.ndarray:
    """Random Cartesian displacement vectors, in Å, shape (n_atoms, 3).

    ``"uniform"``: uniformly distributed inside a ball of radius ``amplitude`` (random direction,
    length ``amplitude * u**(1/3)``), so no atom moves more than ``amplitude``.
    ``"normal"``: each Cartesian component normal with standard deviation ``amplitude / √3``
    (root-mean-square length ``amplitude``; not bounded).
    """
    if style == "uniform":
        direction = rng.normal(size=(n_atoms, 3))
        norms = np.linalg.norm(direction, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        length = amplitude * rng.uniform(0.0, 1.0, size=(n_atoms, 1)) ** (1 / 3)
        return direction / norms * length
    if style == "normal":
        return rng.normal(scale=amplitude / np.sqrt(3), size=(n_atoms, 3))
    raise UserInputError(f"displacement style must be 'uniform' or 'normal', got {style!r}")


def _check_amplitudes(atom_displacement: float, cell_strain: float) -> tuple[float, float]:
    values = []
    for name, value, upper in (
        ("atom_displacement", atom_displacement, np.inf),
        ("cell_strain", cell_strain, 1.0),
    ):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserInputError(f"{name} must be a number, got {value!r}") from None
        if not np.isfinite(number) or number < 0 or number >= upper:
            bound = "≥ 0" if upper == np.inf else f"in [0, {upper:g})"
            raise UserInputError(f"{name} must be {bound}, got {value!r}")
        values.append(number)
    return values[0], values[1]


def perturb_structure(
    structure: Structure,
    atom_displacement: float,
    cell_strain: float,
    seed: Seed = 0,
    style: DisplacementStyle = "uniform",
) -> Structure:
    """Strain the cell and displace every atom at random.

    The cell becomes ``L (I + ε)`` (rows of ``L`` are lattice vectors) with ``ε`` a random
    symmetric strain whose entries are uniform in [−cell_strain, cell_strain]; atoms keep their
    fractional coordinates in the strained cell, then move by a random Cartesian displacement
    (see :func:`random_displacements`).

    Parameters
    ----------
    structure
        Input cell (not modified).
    atom_displacement
        Displacement amplitude in Å (maximum length for ``style="uniform"``, RMS length for
        ``style="normal"``); 0 leaves atoms on their strained positions.
    cell_strain
        Maximum absolute strain component (fraction, e.g. 0.03 for 3 %), in [0, 1).
    seed
        Seed of ``numpy.random.default_rng`` (an int or a ``SeedSequence``).
    style
        ``"uniform"`` (bounded, default) or ``"normal"``.

    Returns
    -------
    Structure
        A new structure with the same species and site order.
    """
    from pymatgen.core import Lattice, Structure

    atom_displacement, cell_strain = _check_amplitudes(atom_displacement, cell_strain)
    rng = np.random.default_rng(seed)
    strain = random_strain(cell_strain, rng)
    lattice = Lattice(structure.lattice.matrix @ (np.eye(3) + strain))
    cart = lattice.get_cartesian_coords(structure.frac_coords)
    cart = cart + random_displacements(len(structure), atom_displacement, rng, style)
    return Structure(
        lattice,
        structure.species_and_occu,
        cart,
        coords_are_cartesian=True,
        site_properties=structure.site_properties or None,
    )


def perturbed_frames(
    structure: Structure,
    scales: Sequence[float],
    n_perturbed: int,
    atom_displacement: float,
    cell_strain: float,
    seed: int = 0,
    *,
    include_unperturbed: bool = True,
    style: DisplacementStyle = "uniform",
) -> list[Structure]:
    """Scaled and perturbed copies of a cell, as in DP-GEN ``init_bulk``.

    Parameters
    ----------
    structure
        Relaxed (or reference) cell.
    scales
        Factors on the lattice lengths, e.g. ``(0.98, 1.0, 1.02)``; each > 0.
    n_perturbed
        Perturbed copies per scale (≥ 0).
    atom_displacement, cell_strain, style
        As in :func:`perturb_structure` (Å; fraction).
    seed
        Master seed; each perturbed frame gets its own child of ``SeedSequence(seed)``.
    include_unperturbed
        Put the scaled, unperturbed cell before the perturbed copies of each scale.

    Returns
    -------
    list of Structure
        For each scale in order: the scaled cell (if ``include_unperturbed``) then
        ``n_perturbed`` perturbed copies; ``len(scales) * (n_perturbed + include_unperturbed)``
        frames.
    """
    if not is_integer(n_perturbed) or n_perturbed < 0:
        raise UserInputError(f"n_perturbed must be a non-negative integer, got {n_perturbed!r}")
    if len(scales) == 0:
        raise UserInputError("scales must hold at least one lattice scale factor")
    _check_amplitudes(atom_displacement, cell_strain)
    children = iter(np.random.SeedSequence(seed).spawn(len(scales) * int(n_perturbed)))
    frames = []
    for factor in scales:
        scaled = scale_lattice(structure, factor)
        if include_unperturbed:
            frames.append(scaled)
        for _ in range(int(n_perturbed)):
            child = next(children)
            frames.append(perturb_structure(scaled, atom_displacement, cell_strain, child, style))
    return frames
