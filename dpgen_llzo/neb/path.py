"""Climbing-image NEB with ASE: end-point relaxation, the initial path, the band, barriers.

Energies are in eV, forces in eV/Å, distances (the reaction coordinate) in Å. The cell is fixed.
One calculator serves every image (``allow_shared_calculator``): images are evaluated one after
another, which is what a single DeePMD model on a CPU does anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError

OPTIMIZERS = ("FIRE", "BFGS", "MDMin")


def neb_class():
    """``ase.mep.NEB`` (ASE ≥ 3.23) or the older ``ase.neb.NEB``."""
    try:
        from ase.mep import NEB
    except ImportError:  # pragma: no cover - older ASE
        from ase.neb import NEB
    return NEB


def _optimizer(name: str):
    import ase.optimize

    if name not in OPTIMIZERS:
        raise UserInputError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    return getattr(ase.optimize, name)


@dataclass
class PathResult:
    """Energies and geometry of a path of images.

    Attributes
    ----------
    images : list of ase.Atoms
        The images, end points included, each with a single-point calculator (energy, forces).
    energies : ndarray
        Total energy of every image, eV.
    coordinate : ndarray
        Reaction coordinate, Å: cumulative minimum-image distance between images (all atoms).
    converged : bool or None
        Whether the band reached ``fmax`` (``None`` for a path only evaluated).
    steps : int
        Optimizer steps taken.
    max_force : float or None
        Largest NEB force on an image at the end, eV/Å.
    """

    images: list
    energies: np.ndarray
    coordinate: np.ndarray
    converged: bool | None = None
    steps: int = 0
    max_force: float | None = None

    def barriers(self) -> dict[str, Any]:
        """Forward and backward barriers (highest image minus each end point), eV."""
        return barriers(self.energies)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: barriers, energies relative to the initial image, coordinate."""
        return {
            **self.barriers(),
            "energies_eV": self.energies.tolist(),
            "relative_energies_eV": (self.energies - self.energies[0]).tolist(),
            "reaction_coordinate_A": self.coordinate.tolist(),
            "converged": self.converged,
            "steps": self.steps,
            "max_force_eV_A": self.max_force,
        }

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """A smooth energy curve through the images (ASE's force-based spline), relative to image 0."""
        try:
            from ase.utils.forcecurve import fit_images

            fit = fit_images(self.images)
            return np.asarray(fit.fit_path), np.asarray(fit.fit_energies)
        except Exception:  # images without forces: straight lines
            return self.coordinate, self.energies - self.energies[0]


def barriers(energies: Sequence[float]) -> dict[str, Any]:
    """Barriers of a discrete path, eV: ``forward`` = max − first, ``backward`` = max − last."""
    energies = np.asarray(energies, float)
    top = int(np.argmax(energies))
    return {
        "barrier_forward_eV": float(energies[top] - energies[0]),
        "barrier_backward_eV": float(energies[top] - energies[-1]),
        "reaction_energy_eV": float(energies[-1] - energies[0]),
        "saddle_image": top,
    }


def reaction_coordinate(images: Sequence) -> np.ndarray:
    """Cumulative path length, Å: the norm of every atom's minimum-image step between images."""
    from ase.geometry import find_mic

    steps = [0.0]
    for before, after in zip(images[:-1], images[1:]):
        delta, _ = find_mic(after.positions - before.positions, before.cell, pbc=before.pbc)
        steps.append(float(np.linalg.norm(delta)))
    return np.cumsum(steps)


def _frozen(atoms, energy: float, forces: np.ndarray):
    from ase.calculators.singlepoint import SinglePointCalculator

    copy = atoms.copy()
    copy.calc = SinglePointCalculator(copy, energy=float(energy), forces=np.array(forces))
    return copy


def relax(atoms, calculator, fmax: float = 0.05, steps: int = 300, optimizer: str = "BFGS", logfile=None):
    """Relax the positions of a copy of ``atoms`` (fixed cell).

    Returns
    -------
    tuple
        ``(relaxed atoms with a single-point calculator, converged, steps)``.
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    opt = _optimizer(optimizer)(atoms, logfile=logfile)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    return _frozen(atoms, atoms.get_potential_energy(), atoms.get_forces()), converged, int(opt.nsteps)


def _polyline(points: np.ndarray, t: float) -> np.ndarray:
    """The point at fraction ``t`` (0 to 1) of the arc length of a polyline."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    target = t * lengths.sum()
    for i, length in enumerate(lengths):
        if target <= length or i == len(lengths) - 1:
            fraction = min(target / length, 1.0) if length > 0 else 0.0
            return points[i] + (points[i + 1] - points[i]) * fraction
        target -= length
    return points[-1]


def _guide(waypoints: np.ndarray, start: np.ndarray, end: np.ndarray, atoms) -> np.ndarray:
    """The waypoints between the relaxed end positions ``start`` and ``end`` of the moving atom.

    An end point may relax away from its site (onto a waypoint, e.g. into a cage): the
    waypoints before the one nearest to ``start`` and after the one nearest to ``end`` are dropped,
    so the guess never doubles back.
    """
    from ase.geometry import find_mic

    given_start = np.asarray(start, float)
    offset, _ = find_mic(given_start - waypoints[0], atoms.cell, pbc=atoms.pbc)
    start = waypoints[0] + offset  # the image of start nearest to the path
    first = int(np.argmin(np.linalg.norm(waypoints - start, axis=1)))
    offset, _ = find_mic(end - waypoints[-1], atoms.cell, pbc=atoms.pbc)
    end = waypoints[-1] + offset
    last = int(np.argmin(np.linalg.norm(waypoints - end, axis=1)))
    inner = waypoints[first + 1:last] if last > first + 1 else waypoints[:0]
    return np.vstack([start, inner, end]) + (given_start - start)  # starts exactly at the atom's position


def interpolate_path(initial, final, n_images: int, moving_atom: int | None = None,
                     waypoints: np.ndarray | None = None, method: str = "linear") -> list:
    """Images from ``initial`` to ``final`` (end points included, ``n_images`` between).

    Every atom moves on the straight minimum-image line; the moving atom follows ``waypoints``
    (its path guess through the sites, by arc length) when given. ``method="idpp"`` refines the
    straight-line path with ASE's image-dependent pair potential instead.
    """
    from ase.geometry import find_mic

    if n_images < 1:
        raise UserInputError(f"--images must be at least 1, got {n_images}")
    delta, _ = find_mic(final.positions - initial.positions, initial.cell, pbc=initial.pbc)
    guide = None
    if moving_atom is not None and waypoints is not None and len(waypoints) > 2:
        guide = _guide(np.asarray(waypoints, float), initial.positions[moving_atom], final.positions[moving_atom], initial)
    images = []
    for t in np.linspace(0.0, 1.0, n_images + 2):
        image = initial.copy()
        image.calc = None
        image.positions = initial.positions + t * delta
        if guide is not None:
            image.positions[moving_atom] = _polyline(guide, t)
        images.append(image)
    if method == "idpp":
        neb = neb_class()(images, method="improvedtangent")
        neb.interpolate(method="idpp", mic=True)  # re-interpolates from the two end points
    return images


def run_neb(images: Sequence, calculator, fmax: float = 0.05, steps: int = 500, climb: bool = True,
            optimizer: str = "FIRE", spring: float = 0.1, logfile=None) -> PathResult:
    """Optimise a nudged elastic band; the end points stay fixed.

    Without climbing first down to ``max(3 fmax, 0.3 eV/Å)`` (a third of ``steps`` at most),
    then with the climbing image down to ``fmax``.

    Parameters
    ----------
    images
        End points (already relaxed) and the initial guess of the images between.
    calculator
        ASE calculator of every image.
    fmax
        Convergence threshold of the largest NEB force, eV/Å.
    steps
        Largest total number of optimizer steps.
    climb
        Use the climbing image (the highest image goes to the saddle point).
    optimizer
        ``FIRE``, ``BFGS`` or ``MDMin``.
    spring
        Spring constant between images, eV/Å².
    """
    images = [image.copy() for image in images]
    for image in images:
        image.calc = calculator
    neb = neb_class()(images, k=spring, climb=False, method="improvedtangent", allow_shared_calculator=True)
    optimizer_class = _optimizer(optimizer)
    taken = 0
    converged = False
    if climb:
        opt = optimizer_class(neb, logfile=logfile)
        opt.run(fmax=max(3 * fmax, 0.3), steps=max(1, steps // 3))
        taken = int(opt.nsteps)
        neb.climb = True
    opt = optimizer_class(neb, logfile=logfile)
    converged = bool(opt.run(fmax=fmax, steps=max(1, steps - taken)))
    taken += int(opt.nsteps)
    max_force = float(np.sqrt((neb.get_forces() ** 2).sum(axis=1).max()))
    frozen = [_frozen(image, image.get_potential_energy(), image.get_forces()) for image in images]
    energies = np.array([image.get_potential_energy() for image in frozen])
    return PathResult(frozen, energies, reaction_coordinate(frozen), converged, taken, max_force)


def evaluate_path(images: Sequence, calculator) -> PathResult:
    """Energies and forces of fixed images with another calculator (no optimisation)."""
    frozen = []
    for image in images:
        atoms = image.copy()
        atoms.calc = calculator
        frozen.append(_frozen(atoms, atoms.get_potential_energy(), atoms.get_forces()))
    energies = np.array([image.get_potential_energy() for image in frozen])
    return PathResult(frozen, energies, reaction_coordinate(frozen))
