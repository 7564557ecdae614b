"""Held-out frames of a distilled potential, per class, never trained on.

Each class is sampled where the student will be used, by the student itself (its own MD, so
the frames are the configurations a user's run visits), with seeds and cells the loop never
saw, then labelled by the teacher:

- ``crystal``: cubic (a new Li arrangement, generator seed 11) and tetragonal LLZO, Langevin NVT at
  300, 900 and 1600 K;
- ``amorphous``: cubic LLZO melted at 3000 K and held at 1500 K;
- ``gb``: the committed Σ3(112) and Σ5(310) cells at 1000 K;
- ``references``: the ten building-block crystals, scaled and perturbed with a new seed;
- ``dimers``: every element pair at distances between the grid points of the training scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

#: The building blocks of the production bundle (param/vasp): generator names.
REFERENCE_CRYSTALS = ("li-bcc", "la-dhcp", "la-fcc", "zr-hcp", "li2o", "la2o3", "zro2-monoclinic",
                      "zro2-cubic", "la2zr2o7", "li2zro3")
#: Supercells that make each reference at least ~7 Å across (as the training set).
REFERENCE_SUPERCELLS = {"li-bcc": (2, 2, 2), "la-dhcp": (2, 2, 1), "la-fcc": (2, 2, 2), "zr-hcp": (2, 2, 2),
                        "li2o": (2, 2, 2), "la2o3": (2, 2, 1)}


@dataclass(frozen=True)
class HeldoutRun:
    """One source of held-out frames.

    Attributes
    ----------
    klass
        Report class: ``crystal``, ``amorphous``, ``gb``, ``references`` or ``dimers``.
    name
        Unique name, e.g. ``cubic-1600K``.
    generator, params, seed, supercell
        The starting cell (``dpgen_llzo.structures.build_structure``).
    stages
        ``[(temperature_K, n_steps, sample_every), ...]`` of student MD; empty = the cell itself,
        perturbed by ``displacement_A`` and scaled by ``scale``.
    """

    klass: str
    name: str
    generator: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    supercell: tuple[int, int, int] = (1, 1, 1)
    stages: tuple[tuple[float, int, int], ...] = ()
    displacement_A: float = 0.0
    scale: float = 1.0


def dimer_midpoints(pair: str, start_A: float, stop_A: float, n: int = 12, keep: int = 4) -> list[float]:
    """Distances half-way between the grid points of a training dimer scan (never trained on), Å.

    The training scans (param/vasp) are ``n`` points geometric in 1/r from ``start_A`` to
    ``stop_A``; ``keep`` midpoints are returned, spread over the range.
    """
    from dpgen_llzo.structures.dimer import dimer_distances

    grid = np.array(dimer_distances(start_A, stop_A, n))
    mids = 0.5 * (grid[1:] + grid[:-1])
    picks = np.linspace(0, len(mids) - 1, keep).round().astype(int)
    return [float(mids[i]) for i in sorted(set(picks))]


def heldout_plan(dimer_scans: dict[str, tuple[float, float]], quick: bool = False) -> list[HeldoutRun]:
    """Every held-out source (pure).

    Parameters
    ----------
    dimer_scans
        ``{"Li-O": (shortest, longest distance of its training scan, Å), ...}``.
    quick
        Fewer, shorter runs (tests).
    """
    md_steps, every = (40, 20) if quick else (600, 200)
    runs: list[HeldoutRun] = []
    temperatures = (900.0,) if quick else (300.0, 900.0, 1600.0)
    for phase, seed in (("cubic", 11), ("tetragonal", 0)):
        for temperature in temperatures:
            runs.append(HeldoutRun("crystal", f"{phase}-{int(temperature)}K", f"llzo-{phase}", seed=seed,
                                   stages=((temperature, md_steps, every),)))
    if not quick:
        runs.append(HeldoutRun("amorphous", "melt-3000K", "llzo-cubic", seed=12,
                               stages=((3000.0, 1500, 500), (1500.0, 600, 300))))
        for name in ("llzo-gb-sigma3-112", "llzo-gb-sigma5-310"):
            runs.append(HeldoutRun("gb", name.replace("llzo-gb-", ""), name, stages=((1000.0, 200, 200),)))
    for name in REFERENCE_CRYSTALS[: 2 if quick else None]:
        runs.append(HeldoutRun("references", name, name, seed=0, supercell=REFERENCE_SUPERCELLS.get(name, (1, 1, 1)),
                               displacement_A=0.06, scale=1.01))
    for pair, (start, stop) in sorted(dimer_scans.items())[: 2 if quick else None]:
        for distance in dimer_midpoints(pair, start, stop, keep=2 if quick else 4):
            runs.append(HeldoutRun("dimers", f"{pair}-{distance:.3f}A", "dimer",
                                   params={"pair": pair, "distance_A": round(distance, 4), "box_A": 20.0}))
    return runs


def dimer_scans_of(init_settings: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Shortest and longest distance of each ``dimer`` scan in a checked ``_dpgen_llzo.init``, Å."""
    scans = {}
    for system in init_settings.get("systems", []):
        scan = system.get("scan") or {}
        if system.get("generator") == "dimer" and scan.get("param") == "distance_A" and scan.get("values"):
            scans[system["params"]["pair"]] = (min(scan["values"]), max(scan["values"]))
    return scans


def sample_run(run: HeldoutRun, student_calculator, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Frames of one held-out source: ``(cell Å, positions Å, symbols)`` each.

    MD runs are Langevin NVT with the student (``student_calculator``), continuing through the
    stages; frames are taken every ``sample_every`` steps of each stage.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from dpgen_llzo.init_data.teacher_md import MDStage, teacher_md_stages
    from dpgen_llzo.structures import build_structure
    from dpgen_llzo.structures.perturb import random_displacements, scale_lattice

    structure = build_structure(run.generator, seed=run.seed, supercell=run.supercell, **run.params)
    if run.scale != 1.0:
        structure = scale_lattice(structure, run.scale)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    symbols = atoms.get_chemical_symbols()
    if run.displacement_A:
        rng = np.random.default_rng(seed)
        atoms.positions += random_displacements(len(atoms), run.displacement_A, rng)
    if not run.stages:
        yield np.array(atoms.get_cell()), atoms.get_positions(), symbols
        return
    stages = [MDStage(t, n, every) for t, n, every in run.stages]
    frames = teacher_md_stages(atoms, student_calculator, stages, timestep_fs=1.0, friction_per_fs=0.02, seed=seed,
                               progress=False)
    for frame in frames:
        yield np.array(frame.cell), np.array(frame.positions), symbols


def class_names(runs: Sequence[HeldoutRun]) -> list[str]:
    """Report classes in plan order, each once."""
    return list(dict.fromkeys(run.klass for run in runs))
