"""Tests of the ``llzo-doped`` generator: compositions, charge, dopant sites, Li exclusions,
Ewald ranking, determinism, automatic supercell, refusals and the ``structures`` CLI.

Site checks are independent of the generator: ideal 24d/16a/96h orbits are rebuilt here with
pymatgen and distances measured in the conventional lattice.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar

from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES, build_structure
from dpgen_llzo.structures.doped import doped_arrangements, doping_plan

CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2, "Al": 3, "Ga": 3, "Ta": 5, "Nb": 5}
ON_24D, ON_16A = {"Al", "Ga"}, {"Ta", "Nb"}
A = 12.97
CASES = [  # (params, conventional cells)
    ({"dopant": "Ga", "x": 0.25}, 1),
    ({"dopant": "Al", "x": 0.25}, 1),
    ({"dopant": "Al", "x": 0.375}, 1),
    ({"dopant": "Ta", "x": 0.5}, 1),
    ({"dopant": "Nb", "x": 0.75}, 1),
    ({"dopant": "Ga", "x": 0.25, "dopant2": "Ta", "x2": 0.5}, 1),
    ({"dopant": "Al", "x": 0.125, "dopant2": "Ga", "x2": 0.125}, 1),
    ({"dopant": "Ga", "x": 0.0625}, 2),
]


@pytest.fixture(scope="module")
def cells() -> dict[int, Structure]:
    return {i: build_structure("llzo-doped", **params) for i, (params, _) in enumerate(CASES)}


def expected_composition(params: dict, n_cells: int) -> dict[str, int]:
    dopants = {params["dopant"]: params["x"]}
    if "dopant2" in params:
        dopants[params["dopant2"]] = params["x2"]
    x24 = sum(x for d, x in dopants.items() if d in ON_24D)
    x16 = sum(x for d, x in dopants.items() if d in ON_16A)
    per_fu = {"Li": 7 - 3 * x24 - x16, "La": 3, "Zr": 2 - x16, "O": 12, **dopants}
    return {el: round(8 * n_cells * n) for el, n in per_fu.items() if round(8 * n_cells * n)}


def orbit(lattice: Lattice, coords) -> np.ndarray:
    return Structure.from_spacegroup(230, lattice, ["X"], [coords]).frac_coords


def distance_to_orbit(cell: Structure, symbols: set[str], coords) -> np.ndarray:
    """Distance (Å) of each site of ``symbols`` to the nearest site of a Wyckoff orbit."""
    conventional = Lattice.cubic(cell.lattice.a / round(cell.lattice.a / A))
    index = [i for i, site in enumerate(cell) if site.specie.symbol in symbols]
    frac = conventional.get_fractional_coords(cell.cart_coords[index])
    return conventional.get_all_distances(frac, orbit(conventional, coords)).min(axis=1)


def pair_min(cell: Structure, first: set[str], second: set[str]) -> float:
    i = [k for k, site in enumerate(cell) if site.specie.symbol in first]
    j = [k for k, site in enumerate(cell) if site.specie.symbol in second]
    d = cell.lattice.get_all_distances(cell.frac_coords[i], cell.frac_coords[j])
    d[d < 1e-6] = np.inf  # a site with itself
    return float(d.min())


def test_registered_with_its_parameters():
    assert "llzo-doped" in STRUCTURES
    from dpgen_llzo.structures import generator_parameters

    assert list(generator_parameters("llzo-doped")) == [
        "dopant", "x", "dopant2", "x2", "a", "n_candidates"
    ]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_composition_and_charge_neutrality(case, cells):
    params, n_cells = CASES[case]
    cell = cells[case]
    assert cell.composition.as_dict() == expected_composition(params, n_cells)
    assert sum(CHARGES[el] * n for el, n in cell.composition.as_dict().items()) == 0
    assert cell.volume == pytest.approx(n_cells * A**3)
    symbols = [site.specie.symbol for site in cell]
    assert symbols[: symbols.index("O") + 1] == sorted(
        symbols[: symbols.index("O") + 1], key=["Li", "La", "Zr", "O"].index
    )


@pytest.mark.parametrize("case", range(len(CASES)))
def test_dopants_and_li_on_their_wyckoff_sites(case, cells):
    cell = cells[case]
    present = {site.specie.symbol for site in cell}
    if present & ON_24D:
        assert distance_to_orbit(cell, ON_24D, (3 / 8, 0, 1 / 4)).max() < 0.01
    if present & ON_16A:
        assert distance_to_orbit(cell, ON_16A, (0, 0, 0)).max() < 0.01
    assert distance_to_orbit(cell, {"Zr"}, (0, 0, 0)).max() < 0.01
    li_24d = distance_to_orbit(cell, {"Li"}, (3 / 8, 0, 1 / 4))
    li_96h = distance_to_orbit(cell, {"Li"}, (0.100, 0.685, 0.577))
    assert (np.minimum(li_24d, li_96h) < 0.01).all()
    # dopants and Li never share a 24d site
    assert pair_min(cell, {"Li"}, ON_24D | {"Li"}) > 1.0


@pytest.mark.parametrize("case", range(len(CASES)))
def test_li_li_and_dopant_li_exclusions(case, cells):
    cell = cells[case]
    assert pair_min(cell, {"Li"}, {"Li"}) >= 2.3
    if {site.specie.symbol for site in cell} & ON_24D:
        # no Li on the four 96h sites at 1.67 Å from a 24d dopant
        assert pair_min(cell, ON_24D, {"Li"}) >= 2.3


def test_chosen_arrangement_is_lowest_ewald_and_energy_is_exact(cells):
    plan = doping_plan("Ga", 0.25, "Ta", 0.5)
    ranked = doped_arrangements(plan, seed=0)
    energies = [r.ewald_energy for r in ranked]
    assert energies == sorted(energies) and energies[0] < energies[-1] - 1.0
    cell = cells[5].copy()
    cell.add_oxidation_state_by_element(CHARGES)
    assert EwaldSummation(cell).total_energy == pytest.approx(energies[0], abs=1e-4)


def test_same_seed_same_cell_different_seeds_differ(cells):
    again = build_structure("llzo-doped", dopant="Ga", x=0.25)
    assert again == cells[0]
    assert np.array_equal(again.frac_coords, cells[0].frac_coords)
    others = [build_structure("llzo-doped", dopant="Ga", x=0.25, seed=s) for s in (1, 2, 3)]
    keys = {tuple(map(tuple, np.round(c.frac_coords, 6))) for c in [cells[0], *others]}
    assert len(keys) == 4


def test_lattice_parameter_and_repetition():
    cell = build_structure("llzo-doped", dopant="Ta", x=0.5, a=13.1, supercell=(1, 1, 2))
    assert cell.lattice.abc == pytest.approx((13.1, 13.1, 26.2))
    assert cell.composition.as_dict() == {"Li": 104, "La": 48, "Zr": 24, "Ta": 8, "O": 192}


@pytest.mark.parametrize(
    "params, repeats",
    [
        (("Ga", 0.25), (1, 1, 1)),
        (("Ga", 0.0625), (2, 1, 1)),
        (("Ta", 0.03125), (2, 2, 1)),
        (("Al", 1 / 64), (2, 2, 2)),
        (("Ta", 0.5, "Ga", 1 / 32), (2, 2, 1)),
    ],
)
def test_smallest_supercell_with_integer_counts(params, repeats):
    assert doping_plan(*params).repeats == repeats


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dopant": "Fe"}, "dopant must be one of Al, Ga, Nb, Ta, got 'Fe'"),
        ({"x": -0.25}, "x must be a positive number"),
        ({"x": 0}, "x must be a positive number"),
        ({"x": 0.2}, "x=0.2: 1.6 Ga per conventional cell is not an integer in any supercell"),
        ({"dopant": "Ta", "x": 0.6}, "x=0.6: 4.8 Ta"),
        ({"dopant": "Al", "x": 2.5}, "x=2.5: Li per formula unit"),
        ({"dopant": "Ta", "x": 2.5}, "x=2.5: 2.5 Ta/Nb per formula unit exceed the 2 Zr 16a sites"),
        ({"dopant": "Al", "x": 2, "dopant2": "Ta", "x2": 1.5}, "x=2 and x2=1.5: Li per formula unit"),
        ({"dopant2": "Ta"}, "dopant2 needs x2"),
        ({"x2": 0.5}, "x2 needs dopant2"),
        ({"dopant2": "Ga", "x2": 0.25}, "dopant2 must differ from dopant"),
        ({"dopant2": "Ta", "x2": 0.1}, "x2=0.1:"),
        ({"dopant2": "Nb", "x2": -1}, "x2 must be a positive number"),
        ({"a": 0}, "lattice parameter a"),
    ],
)
def test_refusals_are_one_line_naming_the_parameter(params, message):
    with pytest.raises(UserInputError) as error:
        build_structure("llzo-doped", **params)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_cli_list_and_build(tmp_path, capsys):
    assert main(["structures", "list"]) == 0
    assert "llzo-doped" in capsys.readouterr().out
    target = tmp_path / "POSCAR"
    args = ["structures", "build", "llzo-doped", "--dopant", "Ga", "--x", "0.25", "-o", str(target)]
    assert main(args) == 0
    lines = target.read_text().splitlines()
    assert lines[5].split() == ["Li", "La", "Zr", "O", "Ga"]
    assert lines[6].split() == ["50", "24", "16", "96", "2"]
    assert Poscar.from_file(target).structure.composition.reduced_formula == "Li25La12Zr8GaO48"


@pytest.mark.parametrize(
    "args", [["--dopant", "Ta", "--x", "0.6"], ["--x", "0.25", "--param", "x=0.5"], ["--dopant", "W"]]
)
def test_cli_refusals_exit_2_with_one_line(args, tmp_path, capsys):
    target = tmp_path / "POSCAR"
    assert main(["structures", "build", "llzo-doped", *args, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("dpgen-llzo: error:")
    assert not target.exists()
