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


def _order_parameter(positions, a):
    """|<exp(i G·r)>|² at the fcc reciprocal-lattice vector G = (2π/a)(2, 0, 0): ~1 in the crystal, ~1/N in a liquid."""
    g = 2.0 * np.pi / a * np.array([2.0, 0.0, 0.0])
    return float(np.abs(np.exp(1j * positions @ g).mean()) ** 2)


def test_melt_quench_loses_the_crystal_and_samples_every_temperature(argon_crystal):
    """Lennard-Jones argon (ε/k = 121 K) melted at 5ε/k and quenched stepwise to 0.1ε/k, as the
    LLZO schedule melts at 3000 K and quenches to 300 K: the melt destroys the fcc order, every
    temperature gives its snapshots, and the quenched frames sit far lower in energy than the liquid
    without finding the crystal again. (At the crystal's volume 3ε/k leaves it partly ordered.)"""
    from dpgen_llzo.init_data.teacher_md import MDStage, melt_quench_stages, teacher_md_stages

    a = argon_crystal.cell[0, 0] / 3
    assert _order_parameter(argon_crystal.positions, a) > 0.99
    stages = melt_quench_stages([600.0, 120.0, 40.0, 12.0], melt_steps=300, n_steps=100, sample_every=50)
    assert stages[0] == MDStage(600.0, 300, 0) and [s.temperature_K for s in stages[1:]] == [600.0, 120.0, 40.0, 12.0]
    frames = teacher_md_stages(argon_crystal, _calculator(), stages, timestep_fs=5.0, friction_per_fs=0.01,
                               seed=5, progress=False)
    assert len(frames) == 4 * 2
    melt, quenched = frames[:2], frames[-2:]
    assert all(_order_parameter(f.positions, a) < 0.15 for f in melt)
    per_atom = [f.energy / len(argon_crystal) for f in frames]
    assert max(per_atom[-2:]) < min(per_atom[:2]) - 0.5 * ARGON_EPSILON_EV
    # the quenched cell is a glass, not the crystal again
    assert all(_order_parameter(f.positions, a) < 0.3 for f in quenched)


def test_melt_quench_refuses_a_schedule_without_temperatures_or_samples():
    from dpgen_llzo.init_data.teacher_md import melt_quench_stages

    with pytest.raises(ValueError, match="at least one temperature"):
        melt_quench_stages([], 10, 10, 5)
    with pytest.raises(ValueError, match="sample_every"):
        melt_quench_stages([3000.0], 10, 10, 0)


def test_a_reference_failure_ends_the_run_and_keeps_the_earlier_snapshots(argon_crystal):
    """A labeller failure mid-run (VASP without SCF convergence) stops the MD: the snapshots taken
    before it are returned and the reason is reported; without a failure list it propagates."""
    from ase.calculators.calculator import Calculator, all_changes

    from dpgen_llzo.init_data.teacher_md import MDStage, teacher_md_stages
    from dpgen_llzo.labelers import LabelingFailure

    class FailsAfter(Calculator):
        implemented_properties = ["energy", "forces", "stress"]

        def __init__(self, calls):
            super().__init__()
            self.left, self.inner = calls, _calculator()

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            self.left -= 1
            if self.left < 0:
                raise LabelingFailure("SCF not converged: the electronic loop stopped at NELM = 60")
            self.inner.calculate(atoms, properties, system_changes)
            self.results = dict(self.inner.results)

    failures: list[str] = []
    frames = teacher_md_stages(argon_crystal, FailsAfter(25), [MDStage(30.0, 40, 10)], timestep_fs=5.0,
                               friction_per_fs=0.01, seed=1, progress=False, failures=failures)
    assert len(frames) == 2 and failures == ["SCF not converged: the electronic loop stopped at NELM = 60"]
    with pytest.raises(LabelingFailure):
        teacher_md_stages(argon_crystal, FailsAfter(25), [MDStage(30.0, 40, 10)], timestep_fs=5.0,
                          friction_per_fs=0.01, seed=1, progress=False)
