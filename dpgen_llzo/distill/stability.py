"""MD stability of a shipped potential: long NPT at high temperature, checked for collapse.

A run collapses when two atoms come closer than ``min_pair_A`` (1.3 Å: the shortest LLZO bond
is Li–O at ~1.9 Å) in any dumped frame or the volume drifts more than ``max_volume_change``
(10 %) from its first value. LAMMPS runs the frozen model with ``pair_style deepmd`` alone:
the ZBL baseline is inside the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Closest pair distance below which a run counts as collapsed, Å.
MIN_PAIR_A = 1.3
#: Largest relative volume change before a run counts as collapsed.
MAX_VOLUME_CHANGE = 0.10


@dataclass(frozen=True)
class StabilityRun:
    """One NPT run: cell, temperature, length."""

    name: str
    generator: str
    temperature_K: float
    time_ps: float
    seed: int = 0
    dump_every_ps: float = 1.0


def lammps_input(model: str, temperature_K: float, n_steps: int, dump_every: int, seed: int, masses: list[float]) -> str:
    """A LAMMPS NPT input (metal units, 1 fs, Nosé–Hoover thermostat and a per-axis barostat at 1 bar)."""
    mass_lines = "".join(f"mass {i + 1} {m}\n" for i, m in enumerate(masses))
    return (
        "units metal\nboundary p p p\natom_style atomic\nread_data conf.lmp\n" + mass_lines +
        f"pair_style deepmd {model}\npair_coeff * *\n"
        "neighbor 1.0 bin\ntimestep 0.001\n"
        f"velocity all create {2 * temperature_K} {seed} mom yes rot yes dist gaussian\n"
        f"fix npt all npt temp {temperature_K} {temperature_K} 0.1 aniso 1.0 1.0 1.0\n"
        "thermo_style custom step temp pe press vol lx ly lz\nthermo 100\nthermo_modify lost error\n"
        f"dump d all custom {dump_every} traj.dump id type x y z\ndump_modify d sort id\n"
        f"run {n_steps}\n"
    )


def collapse_check(closest_A: np.ndarray, volumes: np.ndarray, min_pair_A: float = MIN_PAIR_A,
                   max_volume_change: float = MAX_VOLUME_CHANGE, equilibration: float = 0.1) -> dict[str, Any]:
    """Judge a run from the closest pair distance of each dumped frame (Å) and the volume series (Å³).

    The volume criterion is the drift after equilibration: the largest |V/V_eq − 1| over the rows
    after the first ``equilibration`` share of the run, V_eq the volume at that point (a crystal
    started at its 0 K cell expands by several % on heating; that is not a collapse). The change
    from the starting cell is reported too (``volume_change_from_start``).
    """
    closest = float(np.min(closest_A)) if len(closest_A) else float("nan")
    volumes = np.asarray(volumes, dtype=float)
    if len(volumes):
        start = int(len(volumes) * equilibration)
        drift = float(np.max(np.abs(volumes[start:] / volumes[start] - 1.0)))
        from_start = float(volumes[-1] / volumes[0] - 1.0)
    else:
        drift = from_start = float("nan")
    return {"closest_pair_A": closest, "volume_change": drift, "volume_change_from_start": from_start,
            "collapsed": bool(not (closest >= min_pair_A) or not (drift <= max_volume_change))}


def closest_pairs(dump: Path) -> np.ndarray:
    """Closest interatomic distance of every frame of a LAMMPS dump (periodic), Å."""
    from ase.io import read
    from ase.neighborlist import neighbor_list

    values = []
    for atoms in read(str(dump), format="lammps-dump-text", index=":"):
        d = neighbor_list("d", atoms, 2.0)
        values.append(float(d.min()) if d.size else 2.0)
    return np.array(values)


def run_stability(model: str | os.PathLike, run: StabilityRun, workdir: str | os.PathLike, type_map: list[str],
                  threads: int = 1) -> dict[str, Any]:
    """Run one stability check with LAMMPS and return its verdict (rerun skipped when ``result`` exists)."""
    from ase.data import atomic_masses, atomic_numbers
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    from dpgen_llzo.analysis.lattice import read_lammps_thermo
    from dpgen_llzo.structures import build_structure

    workdir = Path(workdir) / run.name
    workdir.mkdir(parents=True, exist_ok=True)
    atoms = AseAtomsAdaptor.get_atoms(build_structure(run.generator, seed=run.seed))
    write(str(workdir / "conf.lmp"), atoms, format="lammps-data", specorder=type_map, masses=False)
    n_steps = int(round(run.time_ps * 1000))
    dump_every = max(1, int(round(run.dump_every_ps * 1000)))
    masses = [float(atomic_masses[atomic_numbers[e]]) for e in type_map]
    (workdir / "in.lmp").write_text(lammps_input(os.path.abspath(model), run.temperature_K, n_steps, dump_every, 12345 + run.seed, masses))
    lmp = Path(sys.executable).with_name("lmp")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "DP_INTRA_OP_PARALLELISM_THREADS": str(threads),
           "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([str(lmp if lmp.exists() else "lmp"), "-in", "in.lmp", "-log", "log.lammps"],
                            cwd=workdir, capture_output=True, text=True, env=env)
    verdict: dict[str, Any] = {"natoms": len(atoms), "temperature_K": run.temperature_K, "time_ps": run.time_ps,
                               "lammps_exit": result.returncode}
    try:
        thermo = read_lammps_thermo(workdir / "log.lammps")
        verdict["time_ps"] = float(thermo["step"][-1]) / 1000.0
        verdict.update(collapse_check(closest_pairs(workdir / "traj.dump"), thermo["volume"]))
        verdict["mean_temperature_K"] = float(np.mean(thermo["temp"][len(thermo["temp"]) // 2:]))
    except Exception as exc:  # no log, no dump: LAMMPS died
        verdict.update({"closest_pair_A": float("nan"), "volume_change": float("nan"), "collapsed": True,
                        "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})
    if result.returncode != 0:
        verdict["collapsed"] = True
        verdict["lammps_tail"] = result.stdout[-500:]
    return verdict
