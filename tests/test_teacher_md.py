"""Teacher MD: short Langevin runs sample the target temperature from the first snapshots."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones

from dpgen_llzo.init_data.teacher_md import teacher_md

ARGON_EPSILON_EV = 0.0104
ARGON_SIGMA_A = 3.40


@pytest.fixture
def argon_crystal():
    """fcc argon at its Lennard-Jones minimum lattice constant (2^(1/6) sigma nearest neighbours)."""
    a = np.sqrt(2.0) * 2 ** (1 / 6) * ARGON_SIGMA_A
    return bulk("Ar", "fcc", a=a, cubic=True).repeat((3, 3, 3))


def _calculator():
    return LennardJones(epsilon=ARGON_EPSILON_EV, sigma=ARGON_SIGMA_A, rc=2.5 * ARGON_SIGMA_A, smooth=True)


def test_snapshots_sit_near_the_thermostat_temperature_from_the_start(argon_crystal):
    """Equipartition: in a weakly damped crystal the potential energy above the minimum averages
    (3/2) N k T when the run samples T; starting velocities at T alone would give about T/2."""
    target_K = 40.0
    frames = teacher_md(
        argon_crystal, _calculator(), temperature_K=target_K, n_steps=120, timestep_fs=5.0,
        sample_every=10, friction_per_fs=0.0005, seed=3, progress=False,
    )
    assert len(frames) == 12
    e_min = _minimum_energy(argon_crystal)
    k_B = 8.617333262e-5
    n_atoms = len(argon_crystal)
    excess = np.array([frame.energy - e_min for frame in frames[2:]]) / n_atoms
    temperatures = excess / (1.5 * k_B)
    assert 0.7 * target_K < temperatures.mean() < 1.3 * target_K


def test_same_seed_same_frames(argon_crystal):
    kwargs = dict(temperature_K=30.0, n_steps=20, timestep_fs=5.0, sample_every=10, friction_per_fs=0.01, progress=False)
    first = teacher_md(argon_crystal, _calculator(), seed=7, **kwargs)
    second = teacher_md(argon_crystal, _calculator(), seed=7, **kwargs)
    third = teacher_md(argon_crystal, _calculator(), seed=8, **kwargs)
    assert np.array_equal(first[-1].positions, second[-1].positions)
    assert not np.allclose(first[-1].positions, third[-1].positions)


def _minimum_energy(atoms):
    relaxed = atoms.copy()
    relaxed.calc = _calculator()
    return relaxed.get_potential_energy()
