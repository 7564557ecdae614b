"""Powder XRD patterns of time-averaged MD structures (pymatgen's ``XRDCalculator``).

The averaged structure of a run: the mean cell, and each atom's mean fractional position
after unwrapping its fractional coordinates between frames (minimum image), wrapped back
into the cell. Thermal motion thus sharpens into the mean structure, as in a diffraction
experiment's average lattice (no Debye–Waller damping is applied).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.trajectory import Frame
from dpgen_llzo.errors import UserInputError


def average_structure(frames: Iterable[Frame]):
    """Mean pymatgen ``Structure`` of a run (mean cell, mean unwrapped fractional positions)."""
    from pymatgen.core import Lattice, Structure

    n = 0
    for frame in frames:
        frac = frame.positions @ np.linalg.inv(frame.cell)
        if n == 0:
            symbols = np.asarray(frame.symbols)
            unwrapped = frac.copy()
            frac_sum = np.zeros_like(frac)
            cell_sum = np.zeros((3, 3))
        else:
            step = frac - previous
            unwrapped += step - np.round(step)
        previous = frac
        frac_sum += unwrapped
        cell_sum += frame.cell
        n += 1
    if n == 0:
        raise UserInputError("no frames to average")
    mean = frac_sum / n
    return Structure(Lattice(cell_sum / n), symbols.tolist(), mean - np.floor(mean))


def xrd_pattern(structure, two_theta_range: tuple[float, float] = (10.0, 60.0), wavelength: str = "CuKa",
                sigma_deg: float = 0.1, step_deg: float = 0.02) -> dict:
    """Peaks and a Gaussian-broadened profile of ``structure``.

    Parameters
    ----------
    two_theta_range
        2θ range, degrees.
    wavelength
        pymatgen wavelength name (``"CuKa"``) or a value in Å.
    sigma_deg
        Gaussian width of the profile, degrees.

    Returns
    -------
    dict with ``peaks_two_theta_deg``, ``peaks_intensity`` (max 100), ``two_theta_deg`` and
    ``profile`` (max 1).
    """
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    pattern = XRDCalculator(wavelength=wavelength).get_pattern(structure, scaled=True,
                                                               two_theta_range=two_theta_range)
    grid = np.arange(two_theta_range[0], two_theta_range[1] + step_deg / 2, step_deg)
    profile = np.zeros_like(grid)
    for x, y in zip(pattern.x, pattern.y):
        profile += y * np.exp(-0.5 * ((grid - x) / sigma_deg) ** 2)
    if profile.max() > 0:
        profile /= profile.max()
    return {"peaks_two_theta_deg": np.asarray(pattern.x), "peaks_intensity": np.asarray(pattern.y),
            "two_theta_deg": grid, "profile": profile}


ANALYSES.register("xrd", summary="powder XRD of time-averaged structures vs T (pymatgen XRDCalculator)")(xrd_pattern)
