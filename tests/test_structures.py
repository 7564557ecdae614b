"""Tests of the LLZO structure generators, perturbation helpers and the ``structures`` CLI.

Physical facts checked with real pymatgen/spglib: compositions, space groups, Li–Li distances
of the ordered cubic cell, Ewald ranking, lattice parameters and perturbation bounds.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES, build_structure
from dpgen_llzo.structures.cubic import li_orderings
from dpgen_llzo.structures.perturb import perturb_structure, perturbed_frames, scale_lattice

CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2}
SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def cubic_cells() -> dict[int, Structure]:
    return {seed: build_structure("llzo-cubic", seed=seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def tetragonal_cell() -> Structure:
    return build_structure("llzo-tetragonal")


def li_indices(structure: Structure) -> list[int]:
    return [i for i, site in enumerate(structure) if site.specie.symbol == "Li"]


def ewald_energy(structure: Structure) -> float:
    charged = structure.copy()
    charged.add_oxidation_state_by_element(CHARGES)
    return EwaldSummation(charged).total_energy


def count_on_24d(structure: Structure) -> int:
    """Li sites that sit on the 24d orbit (3/8, 0, 1/4) of Ia-3d, found independently."""
    orbit = Structure.from_spacegroup(230, structure.lattice, ["Li"], [[3 / 8, 0, 1 / 4]])
    li = structure.frac_coords[li_indices(structure)]
    distances = structure.lattice.get_all_distances(li, orbit.frac_coords)
    return int((distances.min(axis=1) < 0.05).sum())


# ---------------------------------------------------------------- compositions and symmetry


def test_registry_lists_both_phases():
    assert {"llzo-cubic", "llzo-tetragonal"} <= set(STRUCTURES.names())


@pytest.mark.parametrize("name", ["llzo-cubic", "llzo-tetragonal"])
def test_conventional_cell_is_Li56La24Zr16O96(name, cubic_cells, tetragonal_cell):
    cell = cubic_cells[0] if name == "llzo-cubic" else tetragonal_cell
    assert cell.composition.as_dict() == {"Li": 56, "La": 24, "Zr": 16, "O": 96}
    assert sum(CHARGES[el] * n for el, n in cell.composition.as_dict().items()) == 0
    symbols = [site.specie.symbol for site in cell]
    assert symbols == sorted(symbols, key=["Li", "La", "Zr", "O"].index)


def test_cubic_framework_is_Ia3d(cubic_cells):
    framework = cubic_cells[0].copy()
    framework.remove_species(["Li"])
    assert framework.composition.as_dict() == {"La": 24, "Zr": 16, "O": 96}
    assert SpacegroupAnalyzer(framework, symprec=0.1).get_space_group_number() == 230


def test_tetragonal_is_I41acd_with_experimental_cell(tetragonal_cell):
    analyzer = SpacegroupAnalyzer(tetragonal_cell, symprec=0.1)
    assert analyzer.get_space_group_number() == 142
    assert analyzer.get_space_group_symbol() == "I4_1/acd"
    assert tetragonal_cell.lattice.abc == pytest.approx((13.134, 13.134, 12.663))
    distances = tetragonal_cell.distance_matrix[np.triu_indices(len(tetragonal_cell), 1)]
    assert distances.min() > 1.8  # shortest bond, Li–O ≈ 1.88 Å


def test_tetragonal_lattice_parameters_settable():
    cell = build_structure("llzo-tetragonal", a=13.236, c=12.702)
    assert cell.lattice.abc == pytest.approx((13.236, 13.236, 12.702))
    assert SpacegroupAnalyzer(cell, symprec=0.1).get_space_group_number() == 142


# ---------------------------------------------------------------- cubic Li ordering


@pytest.mark.parametrize("seed", SEEDS)
def test_cubic_li_distances_respect_site_exclusions(seed, cubic_cells):
    cell = cubic_cells[seed]
    distances = cell.distance_matrix + np.eye(len(cell)) * 100
    li = li_indices(cell)
    # no cage pair (0.68 Å) and no 24d–96h at 1.67 Å: shortest Li–Li is the allowed 2.32 Å
    assert distances[np.ix_(li, li)].min() >= 2.3
    assert distances.min() > 1.6
    assert 8 <= count_on_24d(cell) <= 24


def test_cubic_seeds_give_different_orderings(cubic_cells):
    li_sets = {np.round(c.frac_coords[li_indices(c)], 4).tobytes() for c in cubic_cells.values()}
    energies = {round(ewald_energy(c), 3) for c in cubic_cells.values()}
    assert len(li_sets) >= 3
    assert len(energies) >= 2  # not just symmetry images of one ordering


def test_cubic_same_seed_is_bit_identical(cubic_cells):
    again = build_structure("llzo-cubic", seed=2)
    reference = cubic_cells[2]
    assert [s.specie.symbol for s in again] == [s.specie.symbol for s in reference]
    assert np.array_equal(again.frac_coords, reference.frac_coords)
    assert np.array_equal(again.lattice.matrix, reference.lattice.matrix)


def test_cubic_returns_lowest_ewald_candidate(cubic_cells):
    candidates = li_orderings(seed=1)
    energies = np.array([c.ewald_energy for c in candidates])
    assert len(candidates) > 50
    assert energies[0] == energies.min() < np.median(energies)
    # the reported energy is the true Ewald energy of the built cell (formal charges)
    assert ewald_energy(cubic_cells[1]) == pytest.approx(energies[0], abs=1e-4)
    # and more candidates never gives a higher energy
    assert li_orderings(seed=1, n_candidates=20)[0].ewald_energy >= energies[0]


@pytest.mark.parametrize("n_tetrahedral", [8, 13])
def test_cubic_number_of_24d_li_settable(n_tetrahedral):
    cell = build_structure("llzo-cubic", seed=5, n_candidates=10, n_tetrahedral=n_tetrahedral)
    assert count_on_24d(cell) == n_tetrahedral
    li = li_indices(cell)
    assert (cell.distance_matrix[np.ix_(li, li)] + np.eye(56) * 100).min() >= 2.3


def test_cubic_impossible_24d_count_rejected():
    with pytest.raises(UserInputError, match="n_tetrahedral"):
        build_structure("llzo-cubic", n_tetrahedral=14)


def test_cubic_lattice_parameter_settable():
    cell = build_structure("llzo-cubic", seed=0, a=13.1)
    assert cell.volume == pytest.approx(13.1**3)
    assert cell.lattice.angles == pytest.approx((90, 90, 90))


def test_supercell_scales_composition():
    cell = build_structure("llzo-tetragonal", supercell=(2, 1, 1))
    assert cell.composition.as_dict() == {"Li": 112, "La": 48, "Zr": 32, "O": 192}
    assert cell.lattice.a == pytest.approx(2 * 13.134)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"supercell": (0, 1, 1)},
        {"supercell": (1, -2, 1)},
        {"supercell": (1, 1.5, 1)},
        {"supercell": (1, 1)},
        {"a": 0.0},
        {"a": -13.0},
        {"c": 3.0},
        {"n_candidates": 0},
    ],
)
def test_bad_cubic_arguments_raise_user_error(kwargs):
    with pytest.raises(UserInputError):
        build_structure("llzo-cubic", **kwargs)


def test_bad_tetragonal_c_and_unknown_name_raise_user_error():
    with pytest.raises(UserInputError, match="lattice parameter c"):
        build_structure("llzo-tetragonal", c=-1)
    with pytest.raises(UserInputError, match="llzo-cubic"):
        build_structure("llzo-hexagonal")


# ---------------------------------------------------------------- perturbations


@pytest.fixture(scope="module")
def small_cell() -> Structure:
    lattice = Lattice([[5.0, 0.2, 0.0], [0.0, 5.5, 0.3], [0.1, 0.0, 6.0]])
    coords = np.random.default_rng(7).random((20, 3))
    return Structure(lattice, ["Li"] * 10 + ["O"] * 10, coords)


def test_scale_lattice_scales_volume(small_cell):
    scaled = scale_lattice(small_cell, 1.03)
    assert scaled.volume == pytest.approx(small_cell.volume * 1.03**3)
    assert np.allclose(scaled.frac_coords, small_cell.frac_coords)
    with pytest.raises(UserInputError):
        scale_lattice(small_cell, 0)


def test_perturbation_is_deterministic_by_seed(small_cell):
    first = perturb_structure(small_cell, 0.1, 0.03, seed=11)
    again = perturb_structure(small_cell, 0.1, 0.03, seed=11)
    other = perturb_structure(small_cell, 0.1, 0.03, seed=12)
    assert np.array_equal(first.cart_coords, again.cart_coords)
    assert np.array_equal(first.lattice.matrix, again.lattice.matrix)
    assert not np.allclose(first.cart_coords, other.cart_coords)


@pytest.mark.parametrize("seed", range(5))
def test_perturbation_is_bounded(small_cell, seed):
    amplitude, max_strain = 0.2, 0.05
    perturbed = perturb_structure(small_cell, amplitude, max_strain, seed=seed)
    strain = np.linalg.solve(small_cell.lattice.matrix, perturbed.lattice.matrix) - np.eye(3)
    assert np.allclose(strain, strain.T)
    assert np.abs(strain).max() <= max_strain + 1e-12
    assert np.abs(strain).max() > 0
    # atoms follow the strained cell, then move by at most ``amplitude``
    unmoved = perturbed.lattice.get_cartesian_coords(small_cell.frac_coords)
    shift = np.linalg.norm(perturbed.cart_coords - unmoved, axis=1)
    assert shift.max() <= amplitude + 1e-12
    assert shift.max() > 0.5 * amplitude


def test_normal_displacements_have_requested_rms():
    cell = Structure(Lattice.cubic(20), ["O"] * 2000, np.random.default_rng(1).random((2000, 3)))
    moved = perturb_structure(cell, 0.1, 0.0, seed=3, style="normal")
    shift = np.linalg.norm(moved.cart_coords - cell.cart_coords, axis=1)
    assert np.sqrt((shift**2).mean()) == pytest.approx(0.1, rel=0.05)


def test_zero_amplitudes_leave_structure_unchanged(small_cell):
    same = perturb_structure(small_cell, 0.0, 0.0, seed=4)
    assert np.allclose(same.cart_coords, small_cell.cart_coords)
    assert np.allclose(same.lattice.matrix, small_cell.lattice.matrix)


@pytest.mark.parametrize(
    "bad", [{"atom_displacement": -0.1}, {"cell_strain": -0.01}, {"cell_strain": 1.0}]
)
def test_bad_perturbation_amplitudes_raise(small_cell, bad):
    kwargs = {"atom_displacement": 0.1, "cell_strain": 0.01, **bad}
    with pytest.raises(UserInputError):
        perturb_structure(small_cell, seed=0, **kwargs)


def test_perturbed_frames_layout_and_determinism(small_cell):
    scales = (0.98, 1.0, 1.02)
    frames = perturbed_frames(small_cell, scales, 2, 0.05, 0.01, seed=9)
    assert len(frames) == 3 * 3
    for k, factor in enumerate(scales):
        reference = frames[3 * k]
        assert reference.volume == pytest.approx(small_cell.volume * factor**3)
        for frame in frames[3 * k + 1 : 3 * k + 3]:
            assert abs(frame.volume / reference.volume - 1) < 3 * 0.01 + 1e-3
            assert not np.allclose(frame.cart_coords, reference.cart_coords)
    again = perturbed_frames(small_cell, scales, 2, 0.05, 0.01, seed=9)
    assert all(np.array_equal(a.cart_coords, b.cart_coords) for a, b in zip(frames, again))
    # every perturbed frame differs from every other
    perturbed = [f.cart_coords for i, f in enumerate(frames) if i % 3]
    assert len({p.tobytes() for p in perturbed}) == len(perturbed)
    only_perturbed = perturbed_frames(
        small_cell, scales, 2, 0.05, 0.01, seed=9, include_unperturbed=False
    )
    assert len(only_perturbed) == 6


# ---------------------------------------------------------------- command line


def test_cli_list_shows_generators(capsys):
    assert main(["structures", "list"]) == 0
    out = capsys.readouterr().out
    assert "llzo-cubic" in out and "llzo-tetragonal" in out


def test_cli_build_writes_readable_poscar(tmp_path, capsys):
    target = tmp_path / "POSCAR"
    code = main(["structures", "build", "llzo-cubic", "--seed", "1", "--supercell", "1", "1", "2",
                 "--a", "13.1", "--param", "n_candidates=50", "-o", str(target)])
    assert code == 0
    structure = Poscar.from_file(target).structure
    assert structure.composition.as_dict() == {"Li": 112, "La": 48, "Zr": 32, "O": 192}
    assert structure.volume == pytest.approx(2 * 13.1**3, rel=1e-6)
    assert target.read_text().splitlines()[5].split() == ["Li", "La", "Zr", "O"]
    assert [p.name for p in tmp_path.iterdir()] == ["POSCAR"]  # no temporary file left behind


@pytest.mark.parametrize(
    "args",
    [
        ["llzo-cubc"],
        ["llzo-cubic", "--supercell", "0", "1", "1"],
        ["llzo-cubic", "--a", "-13"],
        ["llzo-tetragonal", "--c", "0"],
        ["llzo-cubic", "--c", "12.9"],
        ["llzo-cubic", "--param", "colour=red"],
        ["llzo-cubic", "--param", "n_candidates"],
    ],
)
def test_cli_bad_build_arguments_exit_2_with_one_line(args, tmp_path, capsys):
    target = tmp_path / "POSCAR"
    assert main(["structures", "build", *args, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("dpgen-llzo: error:")
    assert not target.exists()


@pytest.mark.parametrize(
    "command", [["structures"], ["structures", "list"], ["structures", "build"]]
)
def test_cli_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_cli_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dpgen_llzo.cli", "structures", "build", "llzo-tetragonal", "-o",
         str(tmp_path / "POSCAR")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert Structure.from_file(tmp_path / "POSCAR").composition.reduced_formula == "Li7La3Zr2O12"
