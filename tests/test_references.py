"""Tests of the reference crystals of LLZO's building blocks (:mod:`dpgen_llzo.structures.references`).

Physical facts checked with real pymatgen/spglib: formula and Z, space group, nearest-neighbour
distances and coordination numbers against known crystal chemistry, and charge neutrality with
formal charges.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

import dpgen_llzo.structures.references  # noqa: F401  (registers the generators until __init__ imports it)
from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES, build_structure, generator_parameters

FORMAL_CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2}

#: name -> (reduced formula, Z in the conventional cell, space-group number)
EXPECTED = {
    "li-bcc": ("Li", 2, 229),
    "la-dhcp": ("La", 4, 194),
    "la-fcc": ("La", 4, 225),
    "zr-hcp": ("Zr", 2, 194),
    "li2o": ("Li2O", 4, 225),
    "la2o3": ("La2O3", 1, 164),
    "zro2-monoclinic": ("ZrO2", 4, 14),
    "zro2-cubic": ("ZrO2", 4, 225),
    "la2zr2o7": ("La2Zr2O7", 8, 227),
    "li2zro3": ("Li2ZrO3", 4, 15),
}

#: (name, centre, neighbour, shortest distance range in Å, coordination-number range within cutoff Å)
NEIGHBOURS = [
    ("li-bcc", "Li", "Li", (3.00, 3.08), (8, 8), 3.2),
    ("la-dhcp", "La", "La", (3.70, 3.80), (12, 12), 3.9),
    ("la-fcc", "La", "La", (3.70, 3.80), (12, 12), 3.9),
    ("zr-hcp", "Zr", "Zr", (3.15, 3.25), (12, 12), 3.3),
    ("li2o", "Li", "O", (1.95, 2.05), (4, 4), 2.5),
    ("la2o3", "La", "O", (2.30, 2.45), (7, 7), 2.9),
    ("zro2-monoclinic", "Zr", "O", (2.00, 2.10), (7, 7), 2.4),
    ("zro2-cubic", "Zr", "O", (2.15, 2.25), (8, 8), 2.4),
    ("la2zr2o7", "Zr", "O", (2.05, 2.15), (6, 6), 2.4),
    ("la2zr2o7", "La", "O", (2.30, 2.40), (8, 8), 2.8),
    ("li2zro3", "Li", "O", (2.00, 2.15), (6, 6), 2.45),
    ("li2zro3", "Zr", "O", (2.00, 2.15), (6, 6), 2.45),
]


@pytest.fixture(scope="module")
def cells() -> dict[str, Structure]:
    return {name: build_structure(name) for name in EXPECTED}


def test_registry_lists_every_reference_crystal():
    assert set(EXPECTED) <= set(STRUCTURES.names())
    for name in EXPECTED:
        assert STRUCTURES._entries[name].summary  # a one-line summary for `structures list`
        assert "a" in generator_parameters(name)  # every crystal has a lattice-parameter option


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_formula_z_and_space_group(cells, name):
    formula, z, number = EXPECTED[name]
    structure = cells[name]
    reduced, factor = structure.composition.get_reduced_formula_and_factor()
    assert reduced == formula
    assert factor == z
    assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_number() == number


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sites_sorted_and_no_close_contacts(cells, name):
    structure = cells[name]
    symbols = [site.specie.symbol for site in structure]
    order = [s for s in ("Li", "La", "Zr", "O") if s in symbols]
    assert symbols == sorted(symbols, key=order.index)
    distances = structure.distance_matrix + np.eye(len(structure)) * 100
    assert distances.min() > 1.9  # shortest real bond here is Li–O ≈ 2.0 Å


@pytest.mark.parametrize("name,centre,neighbour,shortest,cn,cutoff", NEIGHBOURS)
def test_nearest_neighbours(cells, name, centre, neighbour, shortest, cn, cutoff):
    structure = cells[name]
    for site in structure:
        if site.specie.symbol != centre:
            continue
        found = [n.nn_distance for n in structure.get_neighbors(site, cutoff) if n.specie.symbol == neighbour]
        assert shortest[0] <= min(found) <= shortest[1]
        assert cn[0] <= len(found) <= cn[1]


@pytest.mark.parametrize("name", ["li2o", "la2o3", "zro2-monoclinic", "zro2-cubic", "la2zr2o7", "li2zro3"])
def test_oxides_are_charge_neutral_with_formal_charges(cells, name):
    composition = cells[name].composition
    assert sum(FORMAL_CHARGES[el.symbol] * amount for el, amount in composition.items()) == 0


def test_lattice_parameters_are_options():
    assert build_structure("li-bcc", a=3.6).lattice.abc == pytest.approx((3.6, 3.6, 3.6))
    cell = build_structure("zr-hcp", a=3.3, c=5.2)
    assert cell.lattice.abc == pytest.approx((3.3, 3.3, 5.2))
    cell = build_structure("li2zro3", a=5.5, b=9.1, c=5.5, beta=112.0)
    assert cell.lattice.abc == pytest.approx((5.5, 9.1, 5.5))
    assert cell.lattice.beta == pytest.approx(112.0)
    scaled = build_structure("zro2-monoclinic", a=5.1505 * 1.02, b=5.2116 * 1.02, c=5.3173 * 1.02)
    assert scaled.volume == pytest.approx(build_structure("zro2-monoclinic").volume * 1.02**3)


def test_bad_parameters_are_refused_in_one_line():
    for name, params in [("li-bcc", {"a": -3.5}), ("zro2-monoclinic", {"beta": 80.0}), ("la2o3", {"c": "x"})]:
        with pytest.raises(UserInputError) as info:
            build_structure(name, **params)
        assert "\n" not in str(info.value)
    with pytest.raises(UserInputError, match="no parameter 'c'"):
        build_structure("li-bcc", c=4.0)


def test_same_crystal_for_every_seed():
    assert build_structure("li2zro3", seed=0) == build_structure("li2zro3", seed=5)


def test_cli_lists_and_builds(tmp_path, capsys):
    assert main(["structures", "list"]) == 0
    listing = capsys.readouterr().out
    for name in EXPECTED:
        assert name in listing
    output = tmp_path / "POSCAR"
    assert main(["structures", "build", "la2zr2o7", "--a", "10.80", "-o", str(output)]) == 0
    poscar = Poscar.from_file(output)
    assert poscar.structure.composition.reduced_formula == "La2Zr2O7"
    assert poscar.structure.lattice.a == pytest.approx(10.80)
    assert poscar.site_symbols == ["La", "Zr", "O"]


# --------------------------------------------------------------------------------------------
# two-body: the dimer generator


def test_dimer_places_the_pair_at_the_distance_far_from_its_images():
    from dpgen_llzo.structures import build_structure

    cell = build_structure("dimer", pair="O-Zr", distance_A=1.9, box_A=20.0)
    assert [site.specie.symbol for site in cell] == ["Zr", "O"]
    assert cell.get_distance(0, 1) == pytest.approx(1.9, abs=1e-9)
    # the nearest periodic image of either atom is beyond any cutoff in use
    assert min(cell.lattice.abc) - 1.9 > 12.0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"pair": "Li-Na"}, "unknown element 'Na'"),
        ({"pair": "LiO"}, "pair must look like 'Li-O'"),
        ({"distance_A": -1.0}, "distance_A must be a positive number"),
        ({"box_A": 12.5}, "box_A - distance_A must exceed 12"),
    ],
)
def test_dimer_refuses_bad_parameters(params, message):
    from dpgen_llzo.errors import UserInputError
    from dpgen_llzo.structures import build_structure

    with pytest.raises(UserInputError, match=message):
        build_structure("dimer", **params)


def test_dimer_distance_grid_is_uniform_in_inverse_distance():
    from dpgen_llzo.structures.dimer import dimer_distances

    grid = dimer_distances(1.0, 6.0, 6)
    assert grid[0] == 1.0 and grid[-1] == 6.0
    np.testing.assert_allclose(np.diff(1.0 / np.array(grid)), (1 / 6.0 - 1.0) / 5, atol=1e-4)
