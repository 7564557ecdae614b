"""Short molecular dynamics driven by the teacher (an ASE calculator), sampling labelled frames."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dpgen_llzo.labelers.base import LabelingFailure
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
    """Run Langevin NVT MD with ``calculator`` at one temperature and return labelled snapshots.

    One stage of :func:`teacher_md_stages`; ``n_steps // sample_every`` frames come back.

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
    if n_steps < sample_every or sample_every < 1:
        raise ValueError(f"need n_steps >= sample_every >= 1, got {n_steps}, {sample_every}")
    return teacher_md_stages(atoms, calculator, [MDStage(temperature_K, n_steps, sample_every)], timestep_fs,
                             friction_per_fs, seed, progress)


@dataclass(frozen=True)
class MDStage:
    """A stretch of Langevin MD at one thermostat temperature.

    Attributes
    ----------
    temperature_K
        Thermostat temperature, K.
    n_steps
        MD steps of this stage.
    sample_every
        Steps between labelled snapshots; 0 samples nothing (equilibration, melting).
    """

    temperature_K: float
    n_steps: int
    sample_every: int = 0

    @property
    def n_samples(self) -> int:
        return self.n_steps // self.sample_every if self.sample_every else 0


def melt_quench_stages(temperatures_K: Sequence[float], melt_steps: int, n_steps: int, sample_every: int) -> list[MDStage]:
    """Stages of a melt-and-quench run: melt at the first temperature, then hold at each one in turn.

    The first temperature (e.g. 3000 K) is held ``melt_steps`` steps without sampling to lose the
    crystal, then every temperature of ``temperatures_K`` (the melt temperature included) is held
    ``n_steps`` steps with a snapshot every ``sample_every``: a stepwise quench whose snapshots
    cover the liquid and the glass it freezes into.

    Parameters
    ----------
    temperatures_K
        Melt temperature first, then the quench temperatures in order (e.g. 3000, 2000, 1000, 500, 300).
    melt_steps
        Unsampled steps at the melt temperature.
    n_steps, sample_every
        Steps held at each temperature and the snapshot interval.
    """
    if not temperatures_K:
        raise ValueError("melt_quench needs at least one temperature")
    if melt_steps < 0 or n_steps < sample_every or sample_every < 1:
        raise ValueError(f"need melt_steps >= 0 and n_steps >= sample_every >= 1, got {melt_steps}, {n_steps}, {sample_every}")
    stages = [MDStage(float(temperatures_K[0]), melt_steps)] if melt_steps else []
    return stages + [MDStage(float(t), n_steps, sample_every) for t in temperatures_K]


def teacher_md_stages(
    atoms,
    calculator,
    stages: Sequence[MDStage],
    timestep_fs: float,
    friction_per_fs: float,
    seed: int,
    progress: bool = True,
    failures: list[str] | None = None,
) -> list[LabelledFrame]:
    """Run Langevin NVT MD through ``stages`` (one continuous trajectory) and return labelled snapshots.

    Velocities start from a Maxwell–Boltzmann distribution at twice the first stage's
    temperature: a crystal started at its energy minimum shares its kinetic energy equally with
    the potential energy (equipartition in the harmonic limit), so short runs sample near the
    target temperature from the first snapshot instead of near half of it. The centre of mass
    is held fixed (momentum removed, ``FixCom``). At each stage the thermostat switches to the
    stage's temperature and the run continues from the current positions and velocities. The
    labels of a snapshot are the ones the integrator already computed for that configuration:
    no extra teacher call.

    Parameters
    ----------
    atoms
        ``ase.Atoms`` of the starting configuration (copied, not modified).
    calculator
        ASE calculator of the teacher.
    stages
        The temperature schedule (see :class:`MDStage`).
    timestep_fs
        Time step, fs.
    friction_per_fs
        Langevin friction coefficient, 1/fs.
    seed
        Seed of the initial velocities and of the Langevin noise.
    progress
        Log one line per snapshot (and one at the end of each unsampled stage).
    failures
        If given, a :class:`~dpgen_llzo.labelers.base.LabelingFailure` of the reference (a VASP
        step without SCF convergence) ends the run: its reason is appended here and the frames
        sampled so far are returned. If None, the failure propagates.
    """
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    if not stages:
        raise ValueError("teacher MD needs at least one stage")
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=2.0 * stages[0].temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * units.fs,
        temperature_K=stages[0].temperature_K,
        friction=friction_per_fs / units.fs,
        fixcm=False,
        rng=rng,
    )
    frames: list[LabelledFrame] = []
    try:
        _run_stages(dynamics, atoms, stages, frames, progress)
    except LabelingFailure as failure:
        if failures is None:
            raise
        failures.append(str(failure))
        log.warning("MD stopped after %d snapshots: %s", len(frames), failure)
    return frames


def _run_stages(dynamics, atoms, stages: Sequence[MDStage], frames: list[LabelledFrame], progress: bool) -> None:
    total = sum(stage.n_samples for stage in stages)
    step = 0
    for stage in stages:
        dynamics.set_temperature(temperature_K=stage.temperature_K)
        if not stage.sample_every:
            dynamics.run(stage.n_steps)
            step += stage.n_steps
            if progress:
                log.info("MD %.0f K: %d unsampled steps done (step %d), T = %.0f K",
                         stage.temperature_K, stage.n_steps, step, atoms.get_temperature())
            continue
        for _ in range(stage.n_samples):
            dynamics.run(stage.sample_every)
            step += stage.sample_every
            frames.append(label_atoms(atoms))
            if progress:
                log.info("MD %.0f K: snapshot %d/%d, step %d, T = %.0f K, E = %.3f eV",
                         stage.temperature_K, len(frames), total, step, atoms.get_temperature(), frames[-1].energy)
        rest = stage.n_steps - stage.n_samples * stage.sample_every
        if rest:
            dynamics.run(rest)
            step += rest
