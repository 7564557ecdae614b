"""Grain-boundary builder with real aimsgb: the committed cells and the rules that make them.

Facts pinned down: the committed Σ3(112)[1-10] and Σ5(310)[001] cells are exactly what the
code builds today (positions within 1e-6 Å), they are integer multiples of Li7La3Zr2O12 and
neutral, obey the distance bounds, keep the GB planes more than 2 rcut apart, and the recorded
planes are where the crystal is broken; bad Σ/axis/plane inputs give one-line errors listing
aimsgb's options; the DP-GEN LAMMPS templates survive dpgen's own rewriting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.gb.builder import GBSpec, build_gb
from dpgen_llzo.gb.geometry import find_csl, prepare_grains
from dpgen_llzo.gb.records import read_gb_record, structure_deviation, write_gb_cell

REPO = Path(__file__).resolve().parents[1]
GB_SYSTEMS = REPO / "gb_systems"
CELLS = {"sigma3-112": (3, [1, -1, 0], [1, 1, 2]), "sigma5-310": (5, [0, 0, 1], [3, 1, 0])}
CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2}
UNIT = {"Li": 7, "La": 3, "Zr": 2, "O": 12}
RCUT = 6.0


def committed(name: str) -> tuple[Structure, dict]:
    folder = GB_SYSTEMS / name
    return Structure.from_file(str(folder / "POSCAR")), read_gb_record(folder / "POSCAR.json")


@pytest.fixture(scope="module")
def fresh() -> dict:
    """Every committed cell rebuilt from nothing but its recorded build parameters."""
    cells = {}
    for name in CELLS:
        _, record = committed(name)
        cells[name] = build_gb(GBSpec.from_dict(record["build_parameters"]))
    return cells


def symbols(structure: Structure) -> np.ndarray:
    return np.array([site.specie.symbol for site in structure])


@pytest.mark.parametrize("name", CELLS)
def test_committed_cell_matches_a_fresh_regeneration(name, fresh):
    structure, record = committed(name)
    cell = fresh[name]
    assert structure_deviation(structure, cell.structure) <= 1e-6
    assert cell.structure.composition == structure.composition
    assert np.allclose(cell.record["plane_positions_A"], record["plane_positions_A"], atol=1e-6)
    for key in ("composition", "n_formula_units", "cell_length_A", "aimsgb_version", "seed"):
        assert cell.record[key] == record[key], key
    sigma, axis, plane = CELLS[name]
    assert (record["sigma"], record["axis"], record["plane"]) == (sigma, axis, plane)


@pytest.mark.parametrize("name", CELLS)
def test_composition_is_an_exact_multiple_of_the_formula_unit_and_neutral(name):
    structure, record = committed(name)
    counts = {e: int(np.sum(symbols(structure) == e)) for e in UNIT}
    n_units = counts["La"] // 3
    assert counts == {e: n_units * v for e, v in UNIT.items()}
    assert len(structure) == 24 * n_units == record["n_atoms"]
    assert record["n_formula_units"] == n_units
    assert record["composition"] == "".join(f"{e}{counts[e]}" for e in UNIT)
    assert sum(CHARGES[s] for s in symbols(structure)) == 0


@pytest.mark.parametrize("name", CELLS)
def test_distance_bounds(name):
    structure, record = committed(name)
    elements = symbols(structure)
    centers, points, _, distances = structure.get_neighbor_list(4.0)
    assert distances.min() >= 1.5
    cation = np.array([CHARGES[s] > 0 for s in elements])
    assert distances[cation[centers] & cation[points]].min() >= 2.2
    for pair, bound in record["pair_bounds_A"].items():  # 85 % of the bulk distances
        a, b = pair.split("-")
        mask = (elements[centers] == a) & (elements[points] == b)
        if mask.any():
            assert distances[mask].min() >= bound - 1e-9, pair


@pytest.mark.parametrize("name", CELLS)
def test_gb_planes_are_more_than_two_cutoffs_apart(name):
    structure, record = committed(name)
    lattice = structure.lattice
    assert record["normal_axis"] == 2 and np.allclose(lattice.angles, 90.0)
    assert record["cell_length_A"] == pytest.approx(lattice.c, abs=1e-6)
    z1, z2 = record["plane_positions_A"]
    assert 0 <= z1 < z2 < lattice.c
    separation = min(z2 - z1, lattice.c - (z2 - z1))
    assert separation > 2 * RCUT
    assert separation == pytest.approx(record["plane_separation_A"], abs=1e-5)
    assert len(structure) <= 2500 and (GB_SYSTEMS / name / "POSCAR").stat().st_size < 200_000


@pytest.mark.parametrize("name", CELLS)
def test_crystal_is_intact_away_from_the_recorded_planes(name):
    """Every Zr more than 4 Å from a GB plane sits in a bulk-like ZrO6 octahedron."""
    structure, record = committed(name)
    z = structure.cart_coords[:, 2]
    planes = np.array(record["plane_positions_A"])
    offset = (z[:, None] - planes[None, :] + structure.lattice.c / 2) % structure.lattice.c
    to_plane = np.abs(offset - structure.lattice.c / 2).min(axis=1)
    zr = np.flatnonzero(symbols(structure) == "Zr")
    inside = zr[to_plane[zr] > 4.0]
    assert len(inside) > len(zr) / 3
    for index in inside:
        oxygens = [
            n for n in structure.get_neighbors(structure[index], 2.4) if n.specie.symbol == "O"
        ]
        assert len(oxygens) == 6
        assert all(2.0 < n.nn_distance < 2.2 for n in oxygens)


def test_record_has_the_fields_the_analysis_reads(tmp_path):
    from dpgen_llzo.analysis.regions import GrainBoundaryPlanes

    _, record = committed("sigma3-112")
    for key in (
        "sigma",
        "axis",
        "plane",
        "normal_axis",
        "plane_positions_A",
        "cell_length_A",
        "composition",
        "n_formula_units",
        "seed",
        "aimsgb_version",
        "command",
        "relaxation",
    ):
        assert key in record, key
    assert record["relaxation"] is None
    assert record["command"].startswith("dpgen-llzo gb build --sigma 3 --axis 1 -1 0 --plane 1 1 2")
    import importlib.metadata

    assert record["aimsgb_version"] == importlib.metadata.version("aimsgb")
    planes = GrainBoundaryPlanes.from_json(GB_SYSTEMS / "sigma3-112" / "POSCAR.json")
    assert planes.normal_axis == 2 and planes.sigma == 3


def test_build_is_deterministic_and_seeded():
    spec = GBSpec(
        5, (0, 0, 1), (3, 1, 0), seed=2, scan_offsets=1, scan_translations=1, scan_gaps=(0.0,)
    )
    first, second = build_gb(spec), build_gb(spec)
    assert structure_deviation(first.structure, second.structure) == 0.0
    assert first.record == second.record
    other = build_gb(
        GBSpec(
            5, (0, 0, 1), (3, 1, 0), seed=3, scan_offsets=1, scan_translations=1, scan_gaps=(0.0,)
        )
    )
    assert structure_deviation(first.structure, other.structure) > 0.1


def test_vacuum_gives_one_plane_and_the_same_rules():
    spec = GBSpec(
        5, (0, 0, 1), (3, 1, 0), vacuum=12.0, scan_offsets=1, scan_translations=1, scan_gaps=(0.0,)
    )
    cell = build_gb(spec)
    assert len(cell.record["plane_positions_A"]) == 1
    assert cell.record["vacuum_A"] == 12.0
    counts = {e: int(np.sum(symbols(cell.structure) == e)) for e in UNIT}
    assert counts == {e: counts["La"] // 3 * v for e, v in UNIT.items()}
    top = cell.structure.cart_coords[:, 2].max()
    assert cell.structure.lattice.c - top > 11.0


def test_equivalent_planes_and_uc_thickness():
    choice = find_csl(3, (1, -1, 0), (1, 1, 2))
    assert choice.csl_plane == (1, 1, -2) and choice.plane == (1, 1, 2)
    assert choice.theta_deg == pytest.approx(70.5288, abs=1e-3)  # 180° − 109.47°
    assert find_csl(5, (0, 0, 1), (3, 1, 0)).theta_deg == pytest.approx(36.8699, abs=1e-3)
    from dpgen_llzo.structures import build_structure

    bulk = build_structure("llzo-cubic", seed=0)
    pair = prepare_grains(bulk, find_csl(5, (0, 0, 1), (3, 1, 0)), uc_a=1, uc_b=2)
    assert pair.thickness_A == pytest.approx((41.0147, 82.0295), abs=1e-3)  # aimsgb's CSL periods
    thinnest = prepare_grains(bulk, find_csl(5, (0, 0, 1), (3, 1, 0)))
    assert thinnest.thickness_A[0] == pytest.approx(3 * 12.97 / np.sqrt(10))  # 3 (310) layers
    with pytest.raises(UserInputError, match="closer than 50"):
        prepare_grains(bulk, find_csl(5, (0, 0, 1), (3, 1, 0)), min_separation=50, uc_a=1, uc_b=1)
    with pytest.raises(UserInputError, match="both"):
        prepare_grains(bulk, find_csl(5, (0, 0, 1), (3, 1, 0)), uc_a=1)


@pytest.mark.parametrize(
    "sigma, axis, plane, expected",
    [
        (7, (1, -1, 0), (1, 1, 2), "aimsgb knows sigma 3, 9, 11, 17, 19, 27"),
        (3, (1, -1, 0), (3, 1, 0), "aimsgb's planes: (-1 -1 -1), (1 1 -2), (1 -1 0)"),
        (4, (0, 0, 1), (3, 1, 0), "aimsgb knows for axis [001]: 5, 13, 17"),
        (5, (0, 0, 0), (3, 1, 0), "axis must not be 0 0 0"),
    ],
)
def test_bad_combinations_name_the_valid_options(sigma, axis, plane, expected):
    with pytest.raises(UserInputError) as error:
        find_csl(sigma, axis, plane)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_non_cubic_bulk_is_refused():
    from pymatgen.core import Lattice

    from dpgen_llzo.gb.geometry import check_cubic

    with pytest.raises(UserInputError, match="cubic"):
        check_cubic(Structure(Lattice.tetragonal(13.1, 12.7), ["Li"], [[0, 0, 0]]))


def gb_main(argv, monkeypatch):
    from dpgen_llzo import cli

    if "dpgen_llzo.gb.cli" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("dpgen_llzo.gb.cli",))
    return cli.main(argv)


def test_cli_errors_and_help(monkeypatch, capsys, tmp_path):
    code = gb_main(
        [
            "gb",
            "build",
            "--sigma",
            "7",
            "--axis",
            "1",
            "-1",
            "0",
            "--plane",
            "1",
            "1",
            "2",
            "-o",
            str(tmp_path / "POSCAR"),
        ],
        monkeypatch,
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("dpgen-llzo: error: no sigma 7 grain boundary about axis [1-10]")
    for action in ("build", "regenerate", "carve", "list"):
        with pytest.raises(SystemExit) as done:
            gb_main(["gb", action, "--help"], monkeypatch)
        assert done.value.code == 0
    assert gb_main(["gb", "list", "--axis", "0", "0", "1"], monkeypatch) == 0
    assert "(3 -1 0)" in capsys.readouterr().out


def test_regenerate_command_checks_and_rewrites(monkeypatch, capsys, tmp_path):
    """The documented regeneration command, on a cheap recorded cell (committed ones: above)."""
    spec = GBSpec(5, (0, 0, 1), (3, 1, 0), scan_offsets=1, scan_translations=1, scan_gaps=(0.0,))
    folder = tmp_path / "gb" / "cheap"
    folder.mkdir(parents=True)
    poscar, record_path = write_gb_cell(
        build_gb(spec), folder / "POSCAR", command=spec.command("POSCAR")
    )
    original_poscar, original_record = poscar.read_bytes(), record_path.read_text()
    assert gb_main(["gb", "regenerate", str(tmp_path / "gb"), "--check"], monkeypatch) == 0
    assert ": ok (" in capsys.readouterr().out
    moved = Structure.from_file(str(poscar))
    moved.translate_sites([0], [0.01, 0, 0], frac_coords=False)
    moved.to(filename=str(poscar), fmt="poscar")
    assert gb_main(["gb", "regenerate", str(tmp_path / "gb"), "--check"], monkeypatch) == 1
    assert "DIFFERS" in capsys.readouterr().out
    assert gb_main(["gb", "regenerate", str(tmp_path / "gb")], monkeypatch) == 0  # in place
    assert poscar.read_bytes() == original_poscar
    assert record_path.read_text() == original_record


def test_write_gb_cell_names_and_command(tmp_path):
    spec = GBSpec(5, (0, 0, 1), (3, 1, 0), scan_offsets=1, scan_translations=1, scan_gaps=(0.0,))
    cell = build_gb(spec)
    poscar, record_path = write_gb_cell(cell, tmp_path / "POSCAR", command=spec.command("POSCAR"))
    assert record_path == tmp_path / "POSCAR.json"
    record = json.loads(record_path.read_text())
    assert record["poscar"] == "POSCAR"
    assert record["command"] == (
        "dpgen-llzo gb build --sigma 5 --axis 0 0 1 --plane 3 1 0 --seed 0 --scan-offsets 1 "
        "--scan-translations 1 --scan-gaps 0 -o POSCAR"
    )
    assert Structure.from_file(str(poscar)).composition == cell.structure.composition


def test_cli_module_import_is_light():
    code = (
        "import sys, dpgen_llzo.gb.cli, dpgen_llzo.gb; "
        "heavy = [m for m in ('aimsgb', 'pymatgen.core', 'scipy', 'dpdata') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("template, ensemble", [("gb-npt.lmp", "npt"), ("gb-nvt.lmp", "nvt")])
def test_lammps_templates_survive_dpgen_rewriting(template, ensemble):
    """Run a template through the same dpgen 0.14 functions as make_model_devi."""
    from dpgen.generator.run import (
        parse_cur_job_revmat,
        revise_by_keys,
        revise_lmp_input_dump,
        revise_lmp_input_model,
        revise_lmp_input_pair_coeff,
    )

    path = REPO / "templates" / "lammps" / template
    rev = {
        "V_NSTEPS": [2000],
        "V_TEMP": [900],
        "out_file model_devi.out": ["out_file model_devi.out atomic"],
    }
    if ensemble == "npt":
        rev["V_PRES"] = [1.0]
    job = {"template": {"lmp": str(path)}, "rev_mat": {"lmp": rev}}
    keys, matrix, n_lmp = parse_cur_job_revmat(job)
    jdata = {"type_map": ["Li", "La", "Zr", "O"]}
    lines = path.read_text().splitlines(keepends=True)
    models = ["../graph.000.pb", "../graph.001.pb", "../graph.002.pb", "../graph.003.pb"]
    lines = revise_lmp_input_model(lines, models, 10, deepmd_version="3.2", jdata=jdata)
    lines = revise_lmp_input_pair_coeff(lines, jdata)
    lines = revise_lmp_input_dump(lines, 10)
    lines = revise_by_keys(lines, keys[:n_lmp], matrix[0][:n_lmp])
    commands = [line.split("#")[0].split() for line in lines if line.split("#")[0].strip()]
    assert [
        "pair_style",
        "deepmd",
        *models,
        "out_freq",
        "10",
        "out_file",
        "model_devi.out",
        "atomic",
    ] in commands
    assert ["pair_coeff", "*", "*", "Li", "La", "Zr", "O"] in commands
    assert [
        "dump",
        "dpgen_dump",
        "all",
        "custom",
        "10",
        "traj/*.lammpstrj",
        "id",
        "type",
        "x",
        "y",
        "z",
    ] in commands
    text = "".join(" ".join(c) + "\n" for c in commands)
    assert "V_" not in text
    assert "variable NSTEPS equal 2000" in text and "variable TEMP equal 900" in text
    fix = next(c for c in commands if c[:2] == ["fix", "1"])
    assert fix[3] == ensemble and (ensemble == "nvt" or "aniso" in fix)
