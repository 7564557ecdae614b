"""Curves of a student beside its teacher: E–V of LLZO, two-body curves, 0 K cell parameters.

Every function takes ASE calculators (student and teacher) and returns plain numbers; the
report module plots and writes them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: Lattice scale factors of the E–V curves (volume 0.83–1.19 of the generator's cell).
EV_SCALES = (0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06)


def _atoms(generator: str, seed: int = 0, **params: Any):
    from pymatgen.io.ase import AseAtomsAdaptor

    from dpgen_llzo.structures import build_structure

    return AseAtomsAdaptor.get_atoms(build_structure(generator, seed=seed, **params))


def energy_volume(generator: str, calculators: dict[str, Any], scales: Sequence[float] = EV_SCALES) -> dict[str, Any]:
    """Energy per atom (eV) of the generator's cell at each isotropic scale, for each calculator.

    Returns
    -------
    dict
        ``{"volume_A3_atom": [...], "<name>": [energies eV/atom], ...}``; each calculator's
        curve is shifted so that its minimum over the scales is 0 (the teacher's and the
        student's energy zeros are compared separately, in the held-out errors).
    """
    base = _atoms(generator)
    n = len(base)
    result: dict[str, Any] = {"scales": list(scales), "volume_A3_atom": []}
    energies: dict[str, list[float]] = {name: [] for name in calculators}
    for scale in scales:
        atoms = base.copy()
        atoms.set_cell(np.array(base.get_cell()) * scale, scale_atoms=True)
        result["volume_A3_atom"].append(atoms.get_volume() / n)
        for name, calculator in calculators.items():
            atoms.calc = calculator
            energies[name].append(float(atoms.get_potential_energy()) / n)
    for name, values in energies.items():
        result[f"{name}_raw"] = values
        result[name] = list(np.asarray(values) - min(values))
    return result


def dimer_curve(pair: str, distances: Sequence[float], calculators: dict[str, Any], box_A: float = 20.0) -> dict[str, Any]:
    """Energy (eV) of an isolated pair at each distance (Å), each relative to its value at the longest distance."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from dpgen_llzo.structures import build_structure

    result: dict[str, Any] = {"distance_A": list(map(float, distances))}
    for name, calculator in calculators.items():
        values = []
        for distance in distances:
            atoms = AseAtomsAdaptor.get_atoms(build_structure("dimer", pair=pair, distance_A=float(distance), box_A=box_A))
            atoms.calc = calculator
            values.append(float(atoms.get_potential_energy()))
        far = values[int(np.argmax(distances))]
        result[name] = [v - far for v in values]
    return result


def relaxed_cell(generator: str, calculator, fmax_eV_A: float = 0.02, max_steps: int = 300, **params: Any) -> dict[str, Any]:
    """Relax positions and cell (FIRE on ASE's FrechetCellFilter) and return a, b, c (Å), angles, volume."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    from dpgen_llzo.autotest.cells import cell_parameters

    atoms = _atoms(generator, **params)
    atoms.calc = calculator
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    converged = bool(optimizer.run(fmax=fmax_eV_A, steps=max_steps))
    return {"converged": converged, "steps": int(optimizer.nsteps), "fmax_eV_A": fmax_eV_A,
            "volume_A3": float(atoms.get_volume()), **cell_parameters(np.array(atoms.get_cell()))}


def dimer_plot_distances(r_min: float = 0.4, r_max: float = 6.0, n: int = 40) -> list[float]:
    """Distances of the two-body curves, Å: dense at short range (uniform in 1/r)."""
    return list(1.0 / np.linspace(1.0 / r_min, 1.0 / r_max, n))
