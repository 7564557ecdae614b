"""Short molecular dynamics driven by the teacher (an ASE calculator), sampling labelled frames."""

from __future__ import annotations

import logging
import numpy as np

from dpgen_llzo.labelers.labelling import LabelledFrame, label_atoms

log = logging.getLogger(__name__)


def teacher_md(
    atoms,
    calculator,
    temperature_K: float,
    n_steps: int,
    timestep_fs: float,
    sample_every: int,
    friction_per_fs: float,
    seed: int,
    progress: bool = True,
) -> list[LabelledFrame]:
    """Run Langevin NVT MD with ``calculator`` and return labelled snapshots.

    Velocities start from a Maxwell–Boltzmann distribution at twice ``temperature_K``: a
    crystal started at its energy minimum shares its kinetic energy equally with the potential
    energy (equipartition in the harmonic limit), so the short runs used here sample near
    ``temperature_K`` from the first snapshot instead of near half of it. The centre of mass
    is held fixed (momentum removed, ``FixCom``). Snapshots are taken after every ``sample_every`` steps, so
    ``n_steps // sample_every`` frames come back. The labels of a snapshot are the ones the
    integrator already computed for that configuration: no extra teacher call.

    Parameters
    ----------
    atoms
        ``ase.Atoms`` of the starting configuration (copied, not modified).
    calculator
        ASE calculator of the teacher.
    temperature_K
        Thermostat temperature, K.
    n_steps
        Number of MD steps.
    timestep_fs
        Time step, fs.
    sample_every
        Steps between snapshots.
    friction_per_fs
        Langevin friction coefficient, 1/fs.
    seed
        Seed of the initial velocities and of the Langevin noise.
    progress
        Log one line per snapshot.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.constraints import FixCom
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    if n_steps < sample_every or sample_every < 1:
        raise ValueError(f"need n_steps >= sample_every >= 1, got {n_steps}, {sample_every}")
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=2.0 * temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    frames: list[LabelledFrame] = []
    n_samples = n_steps // sample_every
    for index in range(n_samples):
        dynamics.run(sample_every)
        frames.append(label_atoms(atoms))
        if progress:
            log.info(
                "MD %.0f K: snapshot %d/%d, step %d, T = %.0f K, E = %.3f eV",
                temperature_K, index + 1, n_samples, (index + 1) * sample_every,
                atoms.get_temperature(), frames[-1].energy,
            )
    return frames
