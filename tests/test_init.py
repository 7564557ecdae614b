"""`dpgen-llzo init`: planning (pure) and a real, tiny run through dpdispatcher with the teacher."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.init_data.plan import plan_init_tasks, training_datasets
from dpgen_llzo.dispatch import ShellTask
from dpgen_llzo.init_data.runner import check_param_matches_plan, schedule_batches
from tiny_bundle import tiny_init_section

REPO = Path(__file__).resolve().parents[1]
DEMO_PARAM = REPO / "param" / "demo" / "param.json"


def demo_settings():
    from dpgen_llzo.config import load_llzo_settings

    return load_llzo_settings(DEMO_PARAM)


def test_plan_has_one_task_per_temperature_and_deterministic_seeds():
    init = demo_settings()["init"]
    tasks = plan_init_tasks(init)
    md_temps = init["systems"][0]["md"]["temperatures_K"]
    assert [t.name for t in tasks if t.system == "cubic" and t.kind == "md"] == [f"cubic.md-{int(t):04d}K" for t in md_temps]
    assert [t.seed for t in tasks] == [t.seed for t in plan_init_tasks(copy.deepcopy(init))]
    assert len({t.seed for t in tasks}) == len(tasks)
    changed = copy.deepcopy(init)
    changed["seed"] += 1
    assert all(a.seed != b.seed for a, b in zip(tasks, plan_init_tasks(changed)))


def test_validation_frames_are_held_out_of_training():
    tasks = plan_init_tasks(demo_settings()["init"])
    datasets = training_datasets(tasks)
    assert datasets == ["cubic/perturbed", "cubic/md", "tetragonal/perturbed", "tetragonal/md", "gb-sigma3/perturbed", "gb-sigma5/perturbed"]
    assert not any("validation" in d for d in datasets)


def test_the_demo_param_agrees_with_its_init_section():
    settings = demo_settings()
    param = json.loads(DEMO_PARAM.read_text())
    check_param_matches_plan(param, settings["init"], plan_init_tasks(settings["init"]), DEMO_PARAM)
    broken = dict(param, init_data_sys=param["init_data_sys"][:-1])
    with pytest.raises(UserInputError, match="init_data_sys is .* but _dpgen_llzo.init produces"):
        check_param_matches_plan(broken, settings["init"], plan_init_tasks(settings["init"]), DEMO_PARAM)


def tiny_param(tmp_path: Path) -> Path:
    """A one-system init: 2 scaled frames + 2 teacher-MD snapshots of tetragonal LLZO."""
    param = json.loads(DEMO_PARAM.read_text())
    param["init_data_sys"] = ["tet/perturbed", "tet/md"]
    param["sys_configs"] = [["tet/POSCAR"]]
    param["_dpgen_llzo"]["init"] = tiny_init_section()
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    return path


def _shell_tasks(names):
    return [ShellTask(name, "true", (), ()) for name in names]


def test_small_cells_spread_over_jobs_and_large_cells_run_one_after_another():
    pending = _shell_tasks(["a", "b", "c", "gb1", "d", "e", "gb2"])
    sizes = {"a": 192, "b": 192, "c": 192, "d": 192, "e": 192, "gb1": 1152, "gb2": 1128}
    batches = schedule_batches(pending, sizes, jobs=2, serial_above_atoms=400)
    assert [[t.directory for t in batch] for batch, _ in batches] == [["a", "b", "c", "d", "e"], ["gb1", "gb2"]]
    # 5 small tasks over 2 jobs: groups of 3 (two jobs side by side); the large ones share one job
    assert [size for _, size in batches] == [3, 2]
    assert schedule_batches(pending[:3], sizes, jobs=1, serial_above_atoms=400) == [(pending[:3], 3)]
    assert schedule_batches([], sizes, jobs=2, serial_above_atoms=400) == []


@pytest.mark.parametrize("jobs, above, field", [(0, 400, "jobs"), (2, 0, "serial_above_atoms")])
def test_schedule_refuses_non_positive_settings(jobs, above, field):
    with pytest.raises(UserInputError, match=f"param.json: _dpgen_llzo/init/{field}: must be at least 1"):
        schedule_batches(_shell_tasks(["a"]), {"a": 192}, jobs=jobs, serial_above_atoms=above)


@pytest.mark.slow
def test_init_builds_labelled_training_data_and_reproduces_it(tmp_path, monkeypatch, capsys):
    import dpdata

    param = tiny_param(tmp_path)
    machine = REPO / "machine" / "local.json"
    results = []
    for run in ("a", "b"):
        workdir = tmp_path / run
        workdir.mkdir()
        monkeypatch.chdir(workdir)
        assert main(["init", str(param), str(machine)]) == 0
        table = capsys.readouterr().out
        assert "tet/perturbed" in table and "training frames in total" in table
        perturbed = dpdata.LabeledSystem("init/tet/perturbed", fmt="deepmd/npy")
        md = dpdata.LabeledSystem("init/tet/md", fmt="deepmd/npy")
        results.append((perturbed, md))
        summary = json.loads(Path("init/summary.json").read_text())
        assert {d["dataset"]: d["frames"] for d in summary["datasets"]} == {"tet/perturbed": 2, "tet/md": 2}
        assert Path("init/tet/POSCAR").is_file()

    (pa, ma), (pb, mb) = results
    assert pa["atom_names"] == ["Li", "La", "Zr", "O"] and pa["atom_numbs"] == [56, 24, 16, 96]
    # Scale factors 0.99 and 1.01 on the lattice lengths: volumes in the ratio (1.01/0.99)^3.
    volumes = np.abs(np.linalg.det(pa["cells"]))
    np.testing.assert_allclose(volumes[1] / volumes[0], (1.01 / 0.99) ** 3, rtol=1e-10)
    # The compressed cell has the higher energy and a compressive (positive) virial trace.
    assert pa["energies"][0] > pa["energies"][1]
    assert np.trace(pa["virials"][0]) > np.trace(pa["virials"][1])
    # MD snapshots moved the atoms, and the same seed reproduces the same data.
    assert np.abs(ma["coords"][1] - ma["coords"][0]).max() > 1e-3
    np.testing.assert_allclose(ma["coords"], mb["coords"], atol=1e-6)
    np.testing.assert_allclose(pa["energies"], pb["energies"], atol=1e-4)
    np.testing.assert_allclose(ma["forces"], mb["forces"], atol=1e-4)


def test_init_refuses_a_param_without_systems(tmp_path, monkeypatch, capsys):
    param = json.loads(DEMO_PARAM.read_text())
    param["_dpgen_llzo"]["init"]["systems"] = []
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(path), str(REPO / "machine" / "local.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"dpgen-llzo: error: {path}: _dpgen_llzo/init/systems is empty"]


def test_init_names_an_unknown_key_with_its_path(tmp_path, monkeypatch, capsys):
    param = json.loads(DEMO_PARAM.read_text())
    param["_dpgen_llzo"]["init"]["systems"][0]["md"]["temperature"] = 300
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(path), str(REPO / "machine" / "local.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and "systems[0]" in err and "temperature" in err


def _file_system_param(tmp_path: Path, poscar: str) -> Path:
    """The tiny init with one more system read from ``cell.vasp`` (a ``file`` generator)."""
    (tmp_path / "cell.vasp").write_text(poscar)
    param = json.loads(DEMO_PARAM.read_text())
    init = tiny_init_section()
    init["systems"].append({"name": "mine", "generator": "file", "params": {"path": "cell.vasp"},
                            "perturb": {"scales": [1.0], "n_perturbed": 0}})
    param["_dpgen_llzo"]["init"] = init
    param["init_data_sys"] = ["tet/perturbed", "tet/md", "mine/perturbed"]
    param["sys_configs"] = [["tet/POSCAR"]]
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    return path


def _poscar(species: str, counts: str, cartesian_rows: list[str]) -> str:
    return "\n".join(["cell", "1.0", "6 0 0", "0 6 0", "0 0 6", species, counts, "Cartesian", *cartesian_rows, ""])


@pytest.mark.parametrize("species, counts, rows, message", [
    ("Li O", "1 2", ["0 0 0", "1.9 0 0", "1.9 0.2 0"],
     "systems[1] (mine): atoms 1 (O) and 2 (O) are 0.200 Å apart (overlapping; closest allowed 0.5 Å)"),
    ("Li Al O", "1 1 1", ["0 0 0", "3 3 3", "1.9 0 0"], "systems[1] (mine): element Al is not in type_map"),
])
def test_init_refuses_overlapping_atoms_and_unknown_elements_before_writing(tmp_path, monkeypatch, capsys,
                                                                             species, counts, rows, message):
    path = _file_system_param(tmp_path, _poscar(species, counts, rows))
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(path), str(REPO / "machine" / "local.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and message in err, err
    assert not (tmp_path / "init").exists() and not (tmp_path / "templates").exists()  # nothing written


def test_init_names_a_missing_structure_file(tmp_path, monkeypatch, capsys):
    path = _file_system_param(tmp_path, "")
    (tmp_path / "cell.vasp").unlink()
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(path), str(REPO / "machine" / "local.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "systems[1] (mine): file: no structure file 'cell.vasp'" in err


def test_file_generator_reads_a_cell_and_a_clean_cell_passes_the_checks(tmp_path, monkeypatch):
    from dpgen_llzo.structures import build_structure
    from dpgen_llzo.structures.common import check_init_structure, closest_pair

    monkeypatch.chdir(tmp_path)
    (tmp_path / "li2o.vasp").write_text(_poscar("O Li", "1 2", ["0 0 0", "1.5 1.5 1.5", "4.5 4.5 4.5"]))
    cell = build_structure("file", path="li2o.vasp", supercell=[2, 1, 1])
    assert [site.specie.symbol for site in cell][:4] == ["Li", "Li", "Li", "Li"] and len(cell) == 6
    check_init_structure(cell, ["Li", "La", "Zr", "O"], "here")
    assert closest_pair(cell) is None
    assert closest_pair(cell, within_A=2.7)[2] == pytest.approx(np.sqrt(3) * 1.5)


@pytest.mark.slow
def test_a_dimer_scan_gives_two_body_frames_with_equal_and_opposite_forces(tmp_path, monkeypatch, capsys):
    """init's ``scan`` kind on the ``dimer`` generator: one labelled frame per distance."""
    import dpdata

    distances = [1.4, 1.7, 3.0, 6.0]
    param = json.loads(DEMO_PARAM.read_text())
    param["init_data_sys"] = ["lio/scan"]
    param["sys_configs"] = [["lio/POSCAR"]]
    param["_dpgen_llzo"]["init"] = {
        "output": "init",
        "seed": 1,
        "systems": [
            {
                "name": "lio",
                "generator": "dimer",
                "params": {"pair": "Li-O"},
                "perturb": {"scales": []},
                "scan": {"param": "distance_A", "values": distances},
            }
        ],
    }
    (tmp_path / "param.json").write_text(json.dumps(param))
    monkeypatch.chdir(tmp_path)
    assert main(["init", "param.json", str(REPO / "machine" / "local.json")]) == 0
    assert "lio/scan" in capsys.readouterr().out
    system = dpdata.LabeledSystem("init/lio/scan", fmt="deepmd/npy")
    assert system.get_nframes() == len(distances)
    assert system["atom_names"] == ["Li", "La", "Zr", "O"] and system["atom_numbs"] == [1, 0, 0, 1]
    separations = np.linalg.norm(system["coords"][:, 1] - system["coords"][:, 0], axis=1)
    np.testing.assert_allclose(separations, distances, atol=1e-6)
    forces = system["forces"]
    # Newton's third law, and central forces along the bond (x)
    np.testing.assert_allclose(forces[:, 0], -forces[:, 1], atol=1e-3)
    assert np.abs(forces[:, :, 1:]).max() < 1e-3
    # short range is repulsive: at 1.4 Å the energy is above the 1.7 Å one and Li is pushed away from O
    assert system["energies"][0] > system["energies"][1]
    li_x, o_x = system["coords"][0, 0, 0], system["coords"][0, 1, 0]
    assert np.sign(forces[0, 0, 0]) == np.sign(li_x - o_x)


# --------------------------------------------------------------------------------------------
# the production bundle's initial data set (You et al.): every class of the paper


PRODUCTION_PARAM = REPO / "param" / "vasp" / "param.json"


def _frames_by_class(tasks):
    """Planned frames per class of the paper: (kind, what the system is)."""
    from dpgen_llzo.init_data.plan import planned_frames

    classes: dict[tuple[str, str], int] = {}
    for task in tasks:
        what = "llzo" if task.system in ("cubic", "tetragonal") else "dimer" if task.system.startswith("dimer-") else \
            "gb" if task.system.startswith("gb-") else "building block"
        classes[(task.kind, what)] = classes.get((task.kind, what), 0) + planned_frames(task)
    return classes


def test_the_production_init_has_every_class_of_the_paper():
    from dpgen_llzo.config import load_llzo_settings

    tasks = plan_init_tasks(load_llzo_settings(PRODUCTION_PARAM)["init"])
    # LLZO MD at the paper's 400/800/1200/1600 K, cubic and tetragonal
    for phase in ("cubic", "tetragonal"):
        assert sorted(t.spec["temperature_K"] for t in tasks if t.system == phase and t.kind == "md") == [400, 800, 1200, 1600]
    # amorphous: melt at 3000 K, snapshots at 3000/2000/1000/500/300 K in one continuous run
    (melt,) = [t for t in tasks if t.kind == "melt_quench"]
    assert melt.dataset == "cubic/melt_quench"
    assert melt.spec["stages"][0][0] == 3000 and melt.spec["stages"][0][2] == 0  # the unsampled melt
    assert [stage[0] for stage in melt.spec["stages"] if stage[2]] == [3000, 2000, 1000, 500, 300]
    classes = _frames_by_class(tasks)
    assert classes[("melt_quench", "llzo")] == 5 * (1000 // 50)
    assert classes[("md", "llzo")] == 2 * 4 * (400 // 20)
    assert classes[("perturbed", "building block")] == 10 * 5 * 3  # 10 crystals x 5 scales x (1 + 2 perturbed)
    assert classes[("scan", "dimer")] == 10 * 12  # 10 element pairs x 12 distances
    assert ("validation", "llzo") in classes and ("perturbed", "llzo") in classes


KEPT_SYSTEMS = ("cubic", "li2o", "dimer-li-o")  # LLZO (perturbed, MD, held-out MD, amorphous), a building block, a pair


def _shrunk(init: dict) -> dict:
    """The production init cut to one system per class, each class one or two frames long."""
    small = copy.deepcopy(init)
    small["systems"] = [system for system in small["systems"] if system["name"] in KEPT_SYSTEMS]
    for system in small["systems"]:
        if system.get("perturb", {}).get("scales"):
            system["perturb"].update(scales=system["perturb"]["scales"][:1], n_perturbed=0)
        for kind in ("md", "validation"):
            if kind in system:
                system[kind].update(n_steps=1, sample_every=1, temperatures_K=system[kind]["temperatures_K"][:1])
        if "melt_quench" in system:
            system["melt_quench"].update(melt_steps=1, n_steps=1, sample_every=1, temperatures_K=[3000.0, 300.0])
        if "scan" in system:
            system["scan"]["values"] = system["scan"]["values"][::11]  # shortest and longest distance
    small["jobs"] = 2
    return small


@pytest.mark.slow
def test_production_init_with_the_teacher_labels_every_class(tmp_path, monkeypatch, capsys):
    """`dpgen-llzo init` on the production param, one system per class and runs shortened, with the teacher."""
    import dpdata

    from dpgen_llzo.init_data.runner import DatasetCount, frames_per_kind

    param = json.loads(PRODUCTION_PARAM.read_text())
    assert param["_dpgen_llzo"]["labeler"]["name"] == "vasp"  # production labels with VASP ...
    param["_dpgen_llzo"]["labeler"]["name"] = "chgnet"          # ... here with the embedded teacher
    param["_dpgen_llzo"]["init"] = _shrunk(param["_dpgen_llzo"]["init"])
    kept = training_datasets(plan_init_tasks(param["_dpgen_llzo"]["init"]))
    param["init_data_sys"] = [d for d in param["init_data_sys"] if d in kept]
    param["sys_configs"] = [configs for configs in param["sys_configs"] if configs[0].split("/")[0] in KEPT_SYSTEMS]
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(path), str(REPO / "machine" / "local.json")]) == 0
    table = capsys.readouterr().out
    summary = json.loads(Path("init/summary.json").read_text())
    counts = [DatasetCount(**{k: d[k] for k in ("dataset", "kind", "frames", "rejected", "tasks_without_data")})
              for d in summary["datasets"]]
    got = frames_per_kind(counts)
    planned = _frames_by_class(plan_init_tasks(param["_dpgen_llzo"]["init"]))
    # every frame the plan asks for arrives, unless the teacher's screen rejected it (and says so)
    for kind in ("perturbed", "md", "validation", "melt_quench", "scan"):
        want = sum(n for (k, _), n in planned.items() if k == kind)
        rejected = sum(c.rejected for c in counts if c.kind == kind)
        assert got[kind] + rejected == want, (kind, got, rejected)
        assert f"all {kind}" in table
    assert got["melt_quench"] == 2 and got["md"] == 1 and got["perturbed"] == 2
    amorphous = dpdata.LabeledSystem("init/cubic/melt_quench", fmt="deepmd/npy")
    assert amorphous.get_atom_numbs() == [56, 24, 16, 96] and np.isfinite(amorphous["forces"]).all()
    # the two-body frames: two atoms each; the 6 Å pair barely interacts, the short one repels
    pair = dpdata.LabeledSystem("init/dimer-li-o/scan", fmt="deepmd/npy")
    assert pair.get_natoms() == 2 and len(pair) >= 1


def _broken_machine(tmp_path: Path, breakage: str) -> Path:
    machine = json.loads((REPO / "machine" / "local.json").read_text())
    if breakage == "typo":
        machine["fp"]["machine"]["batch_typ"] = machine["fp"]["machine"].pop("batch_type")
    elif breakage == "type":
        machine["fp"]["resources"]["group_size"] = "many"
    elif breakage == "batch":
        machine["model_devi"]["machine"]["batch_type"] = "Slurmm"
    elif breakage == "missing":
        del machine["fp"]
    path = tmp_path / "machine.json"
    text = json.dumps(machine)
    path.write_text(text[:-20] if breakage == "json" else text)
    return path


@pytest.mark.parametrize("breakage, message", [
    ("typo", "dpgen machine schema: [fp/machine] undefined key `batch_typ`"),
    ("type", "[fp/resources] key `group_size` gets wrong value type"),
    ("batch", "model_devi/machine/batch_type: unknown 'Slurmm'; dpdispatcher knows"),
    ("missing", "key `fp` is required"),
    ("json", "not valid JSON"),
])
@pytest.mark.parametrize("command", ["init", "run"])
def test_a_malformed_machine_file_is_one_line_before_any_job(tmp_path, monkeypatch, capsys, breakage, message, command):
    machine = _broken_machine(tmp_path, breakage)
    monkeypatch.chdir(tmp_path)
    assert main([command, str(DEMO_PARAM), str(machine)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"dpgen-llzo: error: {machine}") and message in err, err
    assert not (tmp_path / "init").exists() and not list(tmp_path.glob("iter.*"))
