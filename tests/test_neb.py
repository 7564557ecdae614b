"""`dpgen-llzo neb`: climbing-image NEB against an analytic double well and ASE's own NEB (EMT Al
vacancy hop), the LLZO hop end points, and a real DeePMD model through the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes

from dpgen_llzo.cli import build_parser, main

EMT = "ase.calculators.emt:EMT"


class DoubleWell(Calculator):
    """E = A (x² − 1)² + c x + B (y² + z²) for atom 0 (eV, x in Å); the other atoms feel nothing."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, A: float = 0.4, c: float = 0.05, B: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.A, self.c, self.B = A, c, B

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x, y, z = self.atoms.positions[0]
        forces = np.zeros((len(self.atoms), 3))
        forces[0] = [-(4 * self.A * x * (x * x - 1) + self.c), -2 * self.B * y, -2 * self.B * z]
        self.results = {"energy": self.A * (x * x - 1) ** 2 + self.c * x + self.B * (y * y + z * z), "forces": forces}

    def exact_barriers(self) -> tuple[float, float]:
        """Forward (from the left minimum) and backward barriers from the stationary points."""
        left, top, right = sorted(np.roots([4 * self.A, 0.0, -4 * self.A, self.c]).real)
        energy = [self.A * (x * x - 1) ** 2 + self.c * x for x in (left, top, right)]
        return energy[1] - energy[0], energy[1] - energy[2]


def _run(argv, calculator):
    """The `neb` command's handler with ``calculator`` in place of the DeePMD model."""
    args = build_parser().parse_args(["neb", "injected-model.pb", *argv])
    assert args.func(args, calculator=calculator) == 0


def test_double_well_barriers_match_the_analytic_ones(tmp_path):
    from ase import Atoms
    from ase.io import write

    well = DoubleWell()
    # the hopping atom starts 0.2 Å off each minimum and off the axis: the end points are relaxed first
    write(tmp_path / "initial.xyz", Atoms("HHe", positions=[[-1.2, 0.1, 0.0], [0.0, 5.0, 0.0]]))
    write(tmp_path / "final.xyz", Atoms("HHe", positions=[[0.8, -0.1, 0.0], [0.0, 5.0, 0.0]]))
    out = tmp_path / "out"
    _run(["--initial", str(tmp_path / "initial.xyz"), "--final", str(tmp_path / "final.xyz"), "--images", "5",
          "--fmax", "0.005", "-o", str(out)], well)
    report = json.loads((out / "neb.json").read_text())
    forward, backward = well.exact_barriers()
    assert report["model"]["converged"]
    assert report["model"]["barrier_forward_eV"] == pytest.approx(forward, abs=2e-3)
    assert report["model"]["barrier_backward_eV"] == pytest.approx(backward, abs=2e-3)
    assert forward - backward == pytest.approx(0.1, abs=1e-2)  # the tilt c·Δx, a real asymmetry
    rows = (out / "neb.csv").read_text().splitlines()
    assert rows[0].startswith("image,coordinate_A,model_eV") and len(rows) == 1 + 7
    assert (out / "neb.png").stat().st_size > 1000 and (out / "path_model.extxyz").is_file()


def _al_vacancy_hop(tmp_path):
    """fcc Al (2x2x2 conventional, 31 atoms): a nearest neighbour jumps into the vacancy."""
    from ase.build import bulk
    from ase.io import write

    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    neighbour = int(np.argsort(atoms.get_distances(0, range(len(atoms)), mic=True))[1])
    initial, final = atoms.copy(), atoms.copy()
    final.positions[neighbour] = atoms.positions[0]
    del initial[0]
    del final[0]
    write(tmp_path / "initial.vasp", initial, format="vasp", direct=True)
    write(tmp_path / "final.vasp", final, format="vasp", direct=True)
    return initial, final


def _ase_reference_barrier(initial, final, n_images: int) -> float:
    """The same hop with ASE alone: BFGS end points, IDPP band, CI-NEB with FIRE."""
    from ase.calculators.emt import EMT as EMTCalculator
    from ase.mep import NEB
    from ase.optimize import BFGS, FIRE

    ends = []
    for atoms in (initial.copy(), final.copy()):
        atoms.calc = EMTCalculator()
        BFGS(atoms, logfile=None).run(fmax=0.02, steps=300)
        ends.append(atoms)
    images = [ends[0]] + [ends[0].copy() for _ in range(n_images)] + [ends[1]]
    for image in images[1:-1]:
        image.calc = EMTCalculator()
    neb = NEB(images, climb=True, method="improvedtangent")
    neb.interpolate(method="idpp", mic=True)
    FIRE(neb, logfile=None).run(fmax=0.02, steps=1000)
    energies = [image.get_potential_energy() for image in images]
    return max(energies) - energies[0]


def test_emt_vacancy_hop_matches_ase_and_the_teacher_error_is_zero(tmp_path):
    from ase.calculators.emt import EMT as EMTCalculator

    initial, final = _al_vacancy_hop(tmp_path)
    out = tmp_path / "out"
    _run(["--initial", str(tmp_path / "initial.vasp"), "--final", str(tmp_path / "final.vasp"), "--images", "3",
          "--fmax", "0.02", "--labeler", "ase", "--calculator", EMT, "--teacher-neb", "-o", str(out)], EMTCalculator())
    report = json.loads((out / "neb.json").read_text())
    reference = _ase_reference_barrier(initial, final, 3)
    assert 0.2 < reference < 0.8  # a vacancy hop in EMT aluminium
    assert report["model"]["converged"]
    assert report["model"]["barrier_forward_eV"] == pytest.approx(reference, abs=0.01)
    assert report["model"]["barrier_backward_eV"] == pytest.approx(reference, abs=0.01)  # symmetric hop
    assert report["teacher"] == "ase"
    assert report["teacher_on_model_path"]["barrier_forward_eV"] == pytest.approx(report["model"]["barrier_forward_eV"], abs=1e-6)
    for value in report["barrier_error_eV"].values():
        assert abs(value) < 0.01
    assert len((out / "neb.csv").read_text().splitlines()[0].split(",")) == 6


@pytest.mark.parametrize("hop, natoms, segments", [
    ("cubic-24d-24d", 191, [1.67, 0.34, 0.34, 1.67]),
    ("cubic-24d-96h", 192, [1.67]),
    ("cubic-vacancy", 191, [0.34, 0.34, 1.67]),
    ("tetragonal", 191, [2.54]),
    ("tetragonal-16f-32g", 191, [2.59]),
])
def test_llzo_hop_end_points(hop, natoms, segments):
    from ase.geometry import find_mic

    from dpgen_llzo.neb.endpoints import build_hop

    h = build_hop(hop, seed=0)
    assert len(h.initial) == len(h.final) == natoms
    assert h.initial.get_chemical_symbols() == h.final.get_chemical_symbols()
    assert h.initial.get_chemical_symbols()[h.moving_atom] == "Li"
    _, moved = find_mic(h.final.positions - h.initial.positions, h.initial.cell)
    assert np.flatnonzero(moved > 1e-6).tolist() == [h.moving_atom]  # one Li moves, nothing else
    np.testing.assert_allclose(np.linalg.norm(np.diff(h.waypoints, axis=0), axis=1), segments, atol=0.01)
    end, _ = find_mic(h.waypoints[-1] - h.final.positions[h.moving_atom], h.final.cell)
    assert np.linalg.norm(end) < 1e-6
    li = [i for i, s in enumerate(h.final.get_chemical_symbols()) if s == "Li"]
    for atoms in (h.initial, h.final):  # both end points obey the Li–Li exclusions (≥ 2.3 Å)
        distances = atoms.get_all_distances(mic=True)[np.ix_(li, li)]
        assert distances[~np.eye(len(li), dtype=bool)].min() > 2.3


@pytest.mark.parametrize("argv, message", [
    (["--initial", "a.vasp"], "--initial and --final go together"),
    (["--labeler", "", "--teacher-neb"], "--teacher-neb needs --labeler"),
    (["--images", "0"], "--images must be at least 1"),
    (["--initial", "missing.vasp", "--final", "missing.vasp"], "missing.vasp: no such structure file"),
    (["--hop", "cubic-24d-24d", "--choice", "99"], "--choice 99 is out of range"),
])
def test_bad_input_is_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pb").write_text("not a model")
    assert main(["neb", "model.pb", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err


def test_missing_model_and_mismatched_end_points(tmp_path, capsys):
    initial, final = _al_vacancy_hop(tmp_path)
    assert main(["neb", str(tmp_path / "none.pb"), "--hop", "tetragonal"]) == 2
    assert "none.pb: model file not found" in capsys.readouterr().err
    from ase.io import write

    write(tmp_path / "short.vasp", final[:-1], format="vasp")
    (tmp_path / "m.pb").write_text("")
    assert main(["neb", str(tmp_path / "m.pb"), "--initial", str(tmp_path / "initial.vasp"), "--final", str(tmp_path / "short.vasp")]) == 2
    assert "same atoms in the same order" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_real_deepmd_model_runs_the_cubic_hop(tiny_model, tmp_path):
    """`dpgen-llzo neb MODEL` end to end with deepmd.calculator.DP (an untrained tiny model: a smoke test)."""
    out = tmp_path / "out"
    assert main(["neb", str(tiny_model), "--hop", "cubic-24d-96h", "--images", "3", "--steps", "4",
                 "--relax-steps", "3", "-o", str(out)]) == 0
    report = json.loads((out / "neb.json").read_text())
    assert report["natoms"] == 192 and report["hop"] == "cubic-24d-96h"
    assert np.isfinite(report["model"]["barrier_forward_eV"]) and len(report["model"]["energies_eV"]) == 5
    assert report["model_file"] == str(tiny_model)


def test_the_band_guess_follows_the_sites_and_never_doubles_back():
    from ase import Atoms

    from dpgen_llzo.neb.path import _guide, interpolate_path

    cell = Atoms("H", cell=[10.0, 10.0, 10.0], pbc=True)
    waypoints = np.array([[1.0, 1, 1], [2.0, 2, 1], [3.0, 2, 1], [4.0, 1, 1]])
    np.testing.assert_allclose(_guide(waypoints, waypoints[0], waypoints[-1], cell), waypoints)
    # the start relaxed onto the third waypoint (into the cage), one cell over: nothing before it is kept
    guide = _guide(waypoints, waypoints[2] + [10.0, 0, 0], waypoints[-1], cell)
    np.testing.assert_allclose(guide, [[13.0, 2, 1], [14.0, 1, 1]])
    initial = Atoms("HHe", positions=[waypoints[0], [5.0, 5, 5]], cell=[10.0] * 3, pbc=True)
    final = initial.copy()
    final.positions[0] = waypoints[-1]
    images = interpolate_path(initial, final, 5, 0, waypoints)
    path = np.array([image.positions[0] for image in images])
    assert np.all(np.diff(path[:, 0]) > 0) and path[3, 1] > 1.5  # through the waypoints, not the straight line
    np.testing.assert_allclose(path[[0, -1]], waypoints[[0, -1]])


def test_results_are_written_after_each_stage():
    from ase import Atoms

    from dpgen_llzo.neb.endpoints import custom_hop
    from dpgen_llzo.neb.workflow import hop_barrier

    hop = custom_hop(Atoms("H", positions=[[-1.0, 0, 0]]), Atoms("H", positions=[[1.0, 0, 0]]))
    stages = []
    report, paths = hop_barrier(hop, DoubleWell(), DoubleWell(c=0.0), "well", n_images=3, fmax=0.01, teacher_neb=True,
                                on_stage=lambda report, paths: stages.append(sorted(paths)))
    assert stages == [["model"], ["model", "teacher_on_model_path"]]  # the last stage is the caller's final write
    assert sorted(paths) == ["model", "teacher_neb", "teacher_on_model_path"]
    # the teacher is the untilted well: its barrier on its own band is A = 0.4 eV
    assert report["teacher_neb"]["barrier_forward_eV"] == pytest.approx(0.4, abs=2e-3)
    assert report["barrier_error_eV"]["model_minus_teacher_neb"] == pytest.approx(
        report["model"]["barrier_forward_eV"] - 0.4, abs=2e-3)
