"""Autotest: the param schema, bad input, the layout ``make`` writes, the RDF path, the report.

Fast tests: no LAMMPS, no teacher, no model loaded (``make`` of a property only links the
model file, so an empty file stands in for it). The runs with LAMMPS and CHGNet are in
``test_autotest_run.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.autotest import AUTOTEST_PROPERTIES, load_autotest_param
from dpgen_llzo.autotest.cells import birch_murnaghan, cell_parameters, fit_eos, reduce_parameters, report_quantities
from dpgen_llzo.autotest.experiment import experiment_at, experimental_cell
from dpgen_llzo.autotest.learning_curve import nested_subsets, subset_sizes, training_input
from dpgen_llzo.autotest.md_tasks import lammps_md_input
from dpgen_llzo.autotest.param import check_model, conf_dirs
from dpgen_llzo.autotest.report import lattice_rows, markdown, rdf_rows
from dpgen_llzo.autotest.workflow import make_properties, properties, working_directory
from dpgen_llzo.errors import UserInputError

TYPE_MAP = {"Li": 0, "La": 1, "Zr": 2, "O": 3}
LI2O_A = 4.6114  # the li2o generator's default lattice parameter, Å


def write_param(root: Path, **changes) -> Path:
    """An autotest param in ``root`` (model: an empty ``graph.pb``), updated with ``changes``."""
    (root / "graph.pb").touch()
    param = {
        "structures": ["confs/llzo-cubic"],
        "interaction": {"type": "deepmd", "model": "graph.pb", "type_map": dict(TYPE_MAP)},
        "relaxation": {"cal_setting": {"maxiter": 10}, "reference": {"type": "none"}},
        "properties": [
            {"type": "eos", "vol_start": 0.96, "vol_end": 1.05, "vol_step": 0.02},
            {"type": "lattice_T", "temperatures_K": [300, 600], "n_steps": 100, "reference": {"type": "none"}},
            {"type": "rdf", "temperatures_K": [600], "n_steps": 100, "reference": {"type": "none"}},
        ],
    }
    param.update(changes)
    path = root / "autotest.json"
    path.write_text(json.dumps(param))
    return path


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``dpgen-llzo ARGV`` through ``python -m dpgen_llzo.autotest``'s entry (works before the CLI lists us)."""
    from dpgen_llzo.autotest.__main__ import main

    assert argv[0] == "autotest"
    code = main(argv[1:])
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------------------------------
# registry, CLI, schema


def test_registry_holds_dpgen_properties_and_ours():
    assert {"eos", "elastic", "lattice_T", "rdf"} <= set(AUTOTEST_PROPERTIES.names())


def test_cli_lists_properties_and_every_step_has_help(capsys):
    code, out, _ = cli(["autotest", "list"], capsys)
    assert code == 0 and "lattice_T" in out and "rdf" in out and "eos" in out
    for step in ("make", "run", "post", "reference-task", "learning-curve"):
        with pytest.raises(SystemExit) as exc:
            cli(["autotest", step, "--help"], capsys)
        assert exc.value.code == 0


def test_param_defaults_are_filled(tmp_path):
    param = load_autotest_param(write_param(tmp_path), root=tmp_path)
    assert param.type_map == ["Li", "La", "Zr", "O"]
    assert Path(param.interaction["model"]).is_absolute()
    rdf = param.properties[2]
    assert rdf["pairs"] == ["Li-O", "La-O", "Zr-O", "O-O", "Li-Li"]
    assert rdf["start"] == "input" and param.properties[1]["start"] == "relaxed"
    assert param.dpgen_relaxation() == {"cal_type": "relaxation", "cal_setting": {"maxiter": 10}}


@pytest.mark.parametrize("changes, where", [
    ({"structure": ["x"]}, "structure"),
    ({"interaction": {"type": "deepmd", "model": "graph.pb", "type_map": TYPE_MAP, "modle": 1}}, "modle"),
    ({"properties": [{"type": "rdf", "temperatures_K": [300], "tempratures": [1]}]}, "properties/0"),
    ({"properties": [{"type": "lattice_T", "temperatures_K": [300], "reference": {"type": "teacher", "steps": 3}}]},
     "properties/0/reference"),
])
def test_unknown_keys_are_one_line_errors_naming_their_path(tmp_path, changes, where):
    with pytest.raises(UserInputError) as exc:
        load_autotest_param(write_param(tmp_path, **changes), root=tmp_path)
    message = str(exc.value)
    assert "\n" not in message and where in message


def test_unknown_property_type_lists_the_known_ones(tmp_path, capsys):
    path = write_param(tmp_path, properties=[{"type": "phonons"}])
    with pytest.raises(UserInputError, match=r"properties\[0\]: unknown autotest property 'phonons'; known: .*lattice_T"):
        load_autotest_param(path, root=tmp_path)
    code, _, err = cli(["autotest", "make", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "phonons" in err


@pytest.mark.parametrize("interaction, match", [
    ({"type": "eam_alloy", "model": "graph.pb", "type_map": TYPE_MAP}, "only 'deepmd'"),
    ({"type": "deepmd", "model": "graph.pb", "type_map": {"Li": 0, "O": 2}}, "index 0..n-1"),
])
def test_bad_interaction(tmp_path, interaction, match):
    with pytest.raises(UserInputError, match=match):
        load_autotest_param(write_param(tmp_path, interaction=interaction), root=tmp_path)


def test_missing_model_file_is_a_one_line_error(tmp_path, capsys):
    path = write_param(tmp_path, interaction={"type": "deepmd", "model": "nowhere.pb", "type_map": TYPE_MAP})
    with pytest.raises(UserInputError, match="model file not found"):
        check_model(load_autotest_param(path, root=tmp_path))
    code, _, err = cli(["autotest", "make", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "nowhere.pb" in err


def test_configuration_with_an_element_the_model_lacks(tmp_path):
    from pymatgen.core import Lattice, Structure

    conf = tmp_path / "confs" / "doped"
    conf.mkdir(parents=True)
    Structure(Lattice.cubic(4.0), ["Li", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(conf / "POSCAR"), fmt="poscar")
    param = load_autotest_param(write_param(tmp_path, structures=["confs/doped"]), root=tmp_path)
    with pytest.raises(UserInputError, match=r"element\(s\) Al not in the model's type map"):
        conf_dirs(param)


def test_conf_without_poscar_or_generator_name_and_empty_glob(tmp_path):
    (tmp_path / "confs" / "mystery").mkdir(parents=True)
    param = load_autotest_param(write_param(tmp_path, structures=["confs/mystery"]), root=tmp_path)
    with pytest.raises(UserInputError, match="no POSCAR, and 'mystery' is not a structure generator"):
        conf_dirs(param)
    param = load_autotest_param(write_param(tmp_path, structures=["confs/none-*"]), root=tmp_path)
    with pytest.raises(UserInputError, match="matches no directory"):
        conf_dirs(param)


# ------------------------------------------------------------------------------------------
# layout written by make (properties; the relaxation's own layout is dpgen's)


def fake_relaxation(conf: Path) -> None:
    """What dpgen's post_equi leaves: relaxation/relax_task/CONTCAR."""
    task = conf / "relaxation" / "relax_task"
    task.mkdir(parents=True, exist_ok=True)
    (task / "CONTCAR").write_text((conf / "POSCAR").read_text())


def test_make_writes_dpgen_layout_for_every_property(tmp_path):
    teacher = {"type": "teacher", "n_steps": 10, "equilibration_steps": 2, "sample_every": 2}
    path = write_param(tmp_path, structures=["confs/li2o"], properties=[
        {"type": "eos", "vol_start": 0.96, "vol_end": 1.05, "vol_step": 0.02},
        {"type": "lattice_T", "temperatures_K": [300, 600], "n_steps": 100, "reference": teacher},
        {"type": "rdf", "temperatures_K": [600], "n_steps": 100, "reference": {"type": "none"}},
    ])
    param = load_autotest_param(path, root=tmp_path)
    with working_directory(tmp_path):
        confs = conf_dirs(param)
        assert confs == [Path("confs/li2o")]
        made, waiting = make_properties(param, confs)
        assert made == [] and len(waiting) == 3  # nothing before the relaxation
        fake_relaxation(confs[0])
        made, waiting = make_properties(param, confs)
    conf = tmp_path / "confs" / "li2o"
    assert (conf / "POSCAR").is_file() and not waiting
    assert sorted(made) == ["confs/li2o/eos_00", "confs/li2o/lattice_T_00", "confs/li2o/rdf_00"]
    assert sorted(p.name for p in (conf / "eos_00").glob("task.*")) == [f"task.{i:06d}" for i in range(5)]
    for task in ("lattice_T_00/task.000000", "lattice_T_00/task.000001", "rdf_00/task.000000"):
        names = {p.name for p in (conf / task).iterdir()}
        assert {"POSCAR", "conf.lmp", "in.lammps", "graph.pb", "inter.json", "task.json"} <= names
    assert (conf / "lattice_T_00" / "task.000000" / "graph.pb").resolve() == (tmp_path / "graph.pb").resolve()
    reference = json.loads((conf / "lattice_T_00" / "reference.000001" / "task.json").read_text())
    assert reference["kind"] == "npt" and reference["temperature_K"] == 600 and reference["n_steps"] == 10
    assert not (conf / "rdf_00" / "reference.000000").exists()
    npt = (conf / "lattice_T_00" / "task.000001" / "in.lammps").read_text()
    assert "fix             md all npt temp 600 600 0.1 aniso 0 0 1" in npt
    # a second make keeps what exists
    with working_directory(tmp_path):
        assert make_properties(param, [Path("confs/li2o")]) == ([], [])
    # pending tasks: DP through model_devi, the teacher through autotest_reference
    with working_directory(tmp_path):
        pending = [t for prop in properties(param) for t in prop.pending_tasks(prop.work_dir(Path("confs/li2o")), Path("."), "lmp")]
    sections = sorted({(t.section, t.task.directory.split("/")[3].split(".")[0]) for t in pending})
    assert sections == [("autotest_reference", "reference"), ("model_devi", "task")]
    lmp = next(t.task for t in pending if t.task.directory == "confs/li2o/rdf_00/task.000000")
    assert lmp.command == "lmp -i in.lammps" and lmp.forward_files == ("conf.lmp", "in.lammps", "graph.pb")


def test_lammps_inputs():
    settings = {"timestep_fs": 2.0, "seed": 1, "tau_t_fs": 100.0, "tau_p_fs": 1000.0, "pressure_bar": 1.0,
                "barostat": "tri", "thermo_every": 10, "equilibration_steps": 50, "n_steps": 200, "dump_every": 20}
    npt = lammps_md_input("m.pb", ["Li", "O"], settings, 900.0, "npt")
    assert "pair_style      deepmd m.pb" in npt and "mass            2 15.99900" in npt
    assert "tri 1 1 1" in npt and "cella cellb cellc" in npt and "timestep        0.002" in npt
    nvt = lammps_md_input("m.pb", ["Li", "O"], settings, 900.0, "nvt")
    assert "dump            rdf all custom 20 dump.rdf id type x y z" in nvt
    assert nvt.index("run             50") < nvt.index("dump            rdf")


# ------------------------------------------------------------------------------------------
# the RDF of a perfect crystal through the rdf property's post step


def test_rdf_of_a_perfect_crystal_matches_the_analytic_peaks(tmp_path):
    """Li2O (antifluorite): Li–O = √3/4 a, O–O = a/√2, Li–Li = a/2."""
    from pymatgen.core import Structure

    path = write_param(tmp_path, structures=["confs/li2o"], properties=[
        {"type": "rdf", "temperatures_K": [1], "n_steps": 10, "dump_every": 5, "supercell": [2, 2, 2],
         "pairs": ["Li-O", "O-O", "Li-Li", "La-O"], "dr_A": 0.01, "r_max_A": 5.0, "reference": {"type": "none"}}])
    param = load_autotest_param(path, root=tmp_path)
    with working_directory(tmp_path):
        confs = conf_dirs(param)
        fake_relaxation(confs[0])
        make_properties(param, confs)
        task = confs[0] / "rdf_00" / "task.000000"
        write_dump(Structure.from_file(str(task / "POSCAR")), task / "dump.rdf", n_frames=2)
        (task / "log.lammps").write_text("Total wall time: 0:00:01\n")
        prop = properties(param)[0]
        result = prop.post(confs[0], prop.work_dir(confs[0]))
    assert result["pairs"] == ["Li-O", "O-O", "Li-Li"]  # La-O left out: no La in Li2O
    analytic = {"Li-O": math.sqrt(3) / 4 * LI2O_A, "O-O": LI2O_A / math.sqrt(2), "Li-Li": LI2O_A / 2}
    row = result["rows"][0]
    assert row["n_frames_dp"] == 2
    for pair, distance in analytic.items():
        assert row["dp"][pair]["first_peak_A"] == pytest.approx(distance, abs=0.01)
        assert row["crystal"][pair]["first_peak_A"] == pytest.approx(distance, abs=0.01)
    assert row["dp"]["Li-O"]["coordination"] == pytest.approx(4.0)  # O around Li: tetrahedral
    assert (tmp_path / "confs/li2o/rdf_00/result.out").is_file()


def write_dump(structure, path: Path, n_frames: int) -> None:
    """A LAMMPS custom dump of ``structure`` (orthogonal cell), ``n_frames`` identical frames."""
    types = {"Li": 1, "La": 2, "Zr": 3, "O": 4}
    lengths = structure.lattice.abc
    lines = []
    for step in range(n_frames):
        lines += ["ITEM: TIMESTEP", str(step * 5), "ITEM: NUMBER OF ATOMS", str(len(structure)),
                  "ITEM: BOX BOUNDS pp pp pp", *[f"0.0 {x:.8f}" for x in lengths], "ITEM: ATOMS id type x y z"]
        lines += [f"{i + 1} {types[s.specie.symbol]} {x:.8f} {y:.8f} {z:.8f}"
                  for i, (s, (x, y, z)) in enumerate(zip(structure, structure.cart_coords))]
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------
# cells, EOS, experiment, report


def test_report_quantities_follow_the_cell_shape():
    cubic = cell_parameters(np.diag([12.97, 12.98, 12.96]))
    tetragonal = cell_parameters(np.diag([13.1, 13.1, 12.7]))
    triclinic = cell_parameters(np.array([[5.0, 0, 0], [0, 5.2, 0], [-0.8, 0, 5.3]]))
    assert report_quantities(cubic) == ("a_A", "V_A3")
    assert report_quantities(tetragonal) == ("a_A", "c_A", "V_A3")
    assert report_quantities(triclinic) == ("a_A", "b_A", "c_A", "V_A3")
    reduced = reduce_parameters(cubic, ("a_A", "V_A3"), {"a_A": 0.03, "b_A": 0.03, "c_A": 0.03, "V_A3": 1.0})
    assert reduced["a_A"] == (pytest.approx(12.97), pytest.approx(0.03 / math.sqrt(3)))


def test_eos_fit_recovers_the_minimum(tmp_path):
    V = np.linspace(10.0, 12.0, 7)
    E = birch_murnaghan(V, 11.0, -7.5, 120.0, 4.5)
    fit = fit_eos({str(v): e for v, e in zip(V, E)})
    assert fit["V0_A3_atom"] == pytest.approx(11.0, rel=1e-4)
    assert fit["B0_GPa"] == pytest.approx(120.0, rel=1e-3) and fit["minimum_inside_scan"]
    with pytest.raises(UserInputError, match="at least 4 volumes"):
        fit_eos({1.0: 0.0, 2.0: 1.0})
    falling = fit_eos({v: -v for v in (10.0, 10.5, 11.0, 11.5)})  # no minimum: reported, not raised
    assert "error" in falling and "V0_A3_atom" not in falling
    hump = fit_eos({str(v): -e for v, e in zip(V, E)})  # a maximum is not an equilibrium volume
    assert "maximum" in hump["error"]


def test_experimental_values():
    cubic = experimental_cell("llzo-cubic")
    assert cubic["a_A"] == 12.97 and cubic["V_A3"] == pytest.approx(12.97**3)
    assert experiment_at("llzo-cubic", "a_A", 900.0).value == 13.105
    assert experiment_at("llzo-cubic", "a_A", 600.0) is None
    assert experiment_at("llzo-tetragonal", "V_A3", 300.0).value == pytest.approx(13.134**2 * 12.663)
    assert experimental_cell("li2o")["a_A"] == pytest.approx(LI2O_A)
    assert experimental_cell("no-such-thing") is None


def test_report_rows_and_markdown():
    results = {
        "relaxation": {"input": cell_parameters(np.diag([12.97] * 3)),
                       "dp": cell_parameters(np.diag([13.0, 13.02, 12.98])),
                       "reference": cell_parameters(np.diag([13.1] * 3))},
        "lattice_T": {"rows": [{"T_target_K": 900.0,
                                "dp": {"T_K": 901.0, "a_A": 13.2, "b_A": 13.2, "c_A": 13.2, "V_A3": 2300.0,
                                       "a_err_A": 0.01, "b_err_A": 0.01, "c_err_A": 0.01, "V_err_A3": 1.0}}]},
        "rdf": {"rows": [{"T_target_K": 600.0, "dp": {"Li-O": {"first_peak_A": 1.97, "first_peak_g": 5.0}},
                          "reference": {"Li-O": {"first_peak_A": 1.95, "first_peak_g": 4.0}},
                          "crystal": {"Li-O": {"first_peak_A": 1.9}}, "similarity": {"Li-O": 0.9}}]},
    }
    rows = lattice_rows("llzo-cubic", results) + rdf_rows("llzo-cubic", results)
    relaxed_a = next(r for r in rows if r["section"] == "lattice_0K" and r["quantity"] == "a_A")
    assert relaxed_a["dp"] == pytest.approx(13.0) and relaxed_a["experiment"] == 12.97
    assert relaxed_a["dp_vs_reference_pct"] == pytest.approx(100 * (13.0 - 13.1) / 13.1)
    hot = next(r for r in rows if r["section"] == "lattice_T" and r["quantity"] == "a_A")
    assert hot["experiment"] == 13.105 and hot["dp_err"] == pytest.approx(0.01 / math.sqrt(3))
    peak = next(r for r in rows if r["section"] == "rdf" and r["quantity"] == "first_peak_A")
    assert peak["experiment"] == 1.95 and peak["dp_vs_reference_pct"] == pytest.approx(100 * 0.02 / 1.95)
    errors = {"n_frames": 4, "energy_rmse_meV_atom": 11.8, "force_rmse_meV_A": 414.0, "force_ref_std_meV_A": 654.0}
    text = markdown({"model": "graph.pb", "rows": rows, "figures": ["rdf_llzo-cubic_600K.png"],
                     "notes": ["llzo-cubic: teacher relaxation converged"],
                     "validation": {"classes": {"crystal": {"committee": errors}}},
                     "learning_curve": {"seed": 3, "numb_steps": 400, "points": [{"n_frames": 8, "errors": {"crystal": errors}}]}})
    assert "| crystal | 4 | 11.80 | 414.0 | 654.0 |" in text and "| 8 | crystal | 11.80 | 414.0 |" in text
    assert "- llzo-cubic: teacher relaxation converged" in text
    assert "## Lattice parameters at 0 K" in text and "| llzo-cubic | a (Å) | relaxation | 13.0000 | 13.1000 | 12.9700 |" in text
    assert "13.2000 ± 0.0058" in text and "![rdf_llzo-cubic_600K](rdf_llzo-cubic_600K.png)" in text


# ------------------------------------------------------------------------------------------
# learning curve helpers


def test_nested_subsets_are_nested_and_seeded():
    subsets = nested_subsets([5, 3, 4], [3, 6, 12], seed=3)
    assert [sum(len(i) for i in subsets[n]) for n in (3, 6, 12)] == [3, 6, 12]
    for small, large in ((3, 6), (6, 12)):
        for a, b in zip(subsets[small], subsets[large]):
            assert set(a) <= set(b)
    again = nested_subsets([5, 3, 4], [3, 6, 12], seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(subsets[6], again[6]))
    assert subset_sizes(31, None, "0.25,0.5,1") == [8, 16, 31]
    with pytest.raises(UserInputError, match="outside 1..31"):
        subset_sizes(31, "40", None)


def test_training_input_sets_steps_seeds_and_systems():
    template = {"model": {"descriptor": {"seed": 1}, "fitting_net": {"seed": 2}},
                "training": {"numb_steps": 10**6, "seed": 5, "validation_data": {"systems": ["v"]},
                             "training_data": {"systems": ["old"], "batch_size": [1]}}}
    data = training_input(template, ["data/000"], 50, 3)
    assert data["training"]["numb_steps"] == 50 and data["training"]["save_freq"] == 50
    assert {data["model"]["descriptor"]["seed"], data["model"]["fitting_net"]["seed"], data["training"]["seed"]} == {3}
    assert data["training"]["training_data"] == {"systems": ["data/000"], "batch_size": "auto"}
    assert "validation_data" not in data["training"] and template["training"]["numb_steps"] == 10**6


@pytest.mark.parametrize("name", ["quick", "production", "references"])
def test_bundled_param_files_pass_the_schema(name):
    from dpgen_llzo.structures import STRUCTURES

    param = load_autotest_param(Path(__file__).resolve().parents[1] / "param" / "autotest" / f"{name}.json")
    assert all(Path(p).name in STRUCTURES for p in param.structures)  # every conf is built by a generator


def test_reference_files_per_conf_are_checked_at_make(tmp_path):
    from dpgen_llzo.autotest.md_tasks import check_reference_files, reference_file

    conf = Path("confs/llzo-cubic")
    assert reference_file("aimd/{conf}/XDATCAR", conf) == Path("aimd/llzo-cubic/XDATCAR")
    reference = {"type": "files", "files": [str(tmp_path / "{conf}.xyz")]}
    with pytest.raises(UserInputError, match="needs one file per temperature"):
        check_reference_files("rdf", reference, [300, 600], conf)
    with pytest.raises(UserInputError, match=r"reference file .*llzo-cubic.xyz not found"):
        check_reference_files("rdf", reference, [300], conf)
    (tmp_path / "llzo-cubic.xyz").touch()
    check_reference_files("rdf", reference, [300], conf)
