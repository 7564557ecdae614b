"""Distillation: final-training input, data discovery, error metrics, held-out plan, collapse check, report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dpgen_llzo.distill.final import final_training_input, loop_datasets, lr_at
from dpgen_llzo.distill.heldout import dimer_midpoints, dimer_scans_of, heldout_plan
from dpgen_llzo.distill.metrics import FrameSet, error_table, pressures_GPa, repulsive_below
from dpgen_llzo.distill.report import target_check
from dpgen_llzo.distill.stability import collapse_check
from dpgen_llzo.errors import UserInputError


def _param():
    return json.load(open("param/distill/param.json"))


def test_final_training_decays_to_stop_lr_and_keeps_the_bundle_model():
    param = _param()
    config = final_training_input(param, ["../../init/cubic/perturbed"], 16000, 5e-4, 2e-5, seed=1001)
    assert lr_at(0, config) == pytest.approx(5e-4)
    assert lr_at(16000, config) == pytest.approx(2e-5, rel=1e-6)
    assert config["model"]["use_srtab"] == "zbl.tab" and config["model"]["descriptor"]["seed"] == 1001
    assert config["training"]["training_data"]["systems"] == ["../../init/cubic/perturbed"]
    assert config["loss"]["limit_pref_v"] > 0 and config["loss"]["limit_pref_e"] >= 1  # energy and virial trained
    assert param["default_training_param"]["training"]["numb_steps"] != 16000  # the bundle itself is not modified
    with pytest.raises(UserInputError):
        final_training_input(param, [], 0, 5e-4, 2e-5, seed=1)
    with pytest.raises(UserInputError):
        final_training_input(param, [], 100, 1e-5, 2e-5, seed=1)


def test_loop_datasets_lists_init_and_labelled_fp_data_only(tmp_path):
    def system(path, frames=True):
        path.mkdir(parents=True)
        (path / "type.raw").write_text("0\n")
        if frames:
            (path / "set.000").mkdir()

    param = {"init_data_prefix": "init", "init_data_sys": ["cubic/perturbed", "gone/perturbed"]}
    system(tmp_path / "init" / "cubic" / "perturbed")
    system(tmp_path / "iter.000001" / "02.fp" / "data.000")
    system(tmp_path / "iter.000000" / "02.fp" / "data.001")
    system(tmp_path / "iter.000000" / "02.fp" / "data.002", frames=False)  # every task failed: no set.*
    system(tmp_path / "iter.000002" / "02.fp" / "data.000" / "Li56La24Zr16O96")  # post_fp's MultiSystems layout
    found = loop_datasets(tmp_path, param)
    assert found == {"init": ["init/cubic/perturbed"],
                     "loop": ["iter.000000/02.fp/data.001", "iter.000001/02.fp/data.000",
                              "iter.000002/02.fp/data.000/Li56La24Zr16O96"]}


def test_error_table_recovers_known_offsets():
    rng = np.random.default_rng(0)
    n, natoms = 3, 5
    volumes = np.full(n, 100.0)
    ref = FrameSet(rng.normal(size=n), rng.normal(size=(n, natoms, 3)), rng.normal(size=(n, 3, 3)), volumes, natoms)
    # every force component off by 0.1 eV/Å, every energy by 0.01 eV/atom, the virial by V·x on the diagonal (P off by x)
    x = 0.001  # eV/Å³ of pressure
    pred = FrameSet(ref.energies + 0.01 * natoms, ref.forces + 0.1, ref.virials + np.eye(3) * 100.0 * x, volumes, natoms)
    errors = error_table([ref], [pred])
    assert errors["force_rmse_meV_A"] == pytest.approx(100.0)
    assert errors["energy_rmse_meV_atom"] == pytest.approx(10.0)
    assert errors["pressure_rmse_GPa"] == pytest.approx(x * 160.21766208, rel=1e-9)
    assert pressures_GPa(np.eye(3)[None] * 100.0, np.array([100.0]))[0] == pytest.approx(160.21766208)
    assert target_check(errors) == {"force_rmse_meV_A": True, "energy_rmse_meV_atom": False, "pressure_rmse_GPa": True}


def test_repulsive_wall_and_collapse_verdicts():
    r = np.linspace(0.3, 1.1, 9)
    assert repulsive_below(r, 10 / r, 1.1)
    assert not repulsive_below(r, -10 / r, 1.1)  # attractive
    assert not repulsive_below(r, (r - 0.7) ** 2, 1.1)  # a minimum at 0.7 Å
    assert not collapse_check(np.array([1.8, 1.7]), np.array([100.0, 104.0]))["collapsed"]
    assert collapse_check(np.array([1.8, 1.1]), np.array([100.0, 101.0]))["collapsed"]  # a pair at 1.1 Å
    assert collapse_check(np.array([1.8, 1.7]), np.array([100.0, 88.0]))["collapsed"]  # volume -12 %
    # heating from the 0 K cell (+9 % in the first tenth) is not a collapse; a later 12 % drift is
    heated = np.array([100.0] + [109.0] * 19)
    verdict = collapse_check(np.array([1.8]), heated)
    assert not verdict["collapsed"] and verdict["volume_change_from_start"] == pytest.approx(0.09)
    assert collapse_check(np.array([1.8]), np.concatenate([heated, [122.5]]))["collapsed"]
    assert collapse_check(np.array([]), np.array([]))["collapsed"]  # no frames: not proven stable


def test_heldout_plan_covers_every_class_off_the_training_grid():
    from dpgen_llzo.config import load_llzo_settings
    from dpgen_llzo.structures.dimer import dimer_distances

    settings = load_llzo_settings("param/distill/param.json")
    scans = dimer_scans_of(settings["init"])
    assert len(scans) == 10 and scans["Li-O"] == (1.2, 6.0)
    runs = heldout_plan(scans)
    assert {run.klass for run in runs} == {"crystal", "amorphous", "gb", "references", "dimers"}
    assert len({run.name for run in runs}) == len(runs)
    crystal_temperatures = {stage[0] for run in runs if run.klass == "crystal" for stage in run.stages}
    assert crystal_temperatures == {300.0, 900.0, 1600.0}
    grid = dimer_distances(1.2, 6.0, 12)
    for distance in dimer_midpoints("Li-O", 1.2, 6.0):
        assert min(abs(distance - g) for g in grid) > 0.03  # never a training distance
    # the held-out cubic cell is a Li arrangement the loop never explored
    explored_seed = next(s for s in settings["init"]["systems"] if s["name"] == "cubic")["seed"]
    assert all(run.seed != explored_seed for run in runs if run.generator == "llzo-cubic")


def test_distill_cli_help_and_bad_input(tmp_path):
    for action in ("final", "report", "stability"):
        out = subprocess.run([sys.executable, "-m", "dpgen_llzo.cli", "distill", action, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "usage" in out.stdout
    out = subprocess.run([sys.executable, "-m", "dpgen_llzo.cli", "distill", "report", str(tmp_path / "none.json"),
                          "--model", "m.pb", "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2 and "none.json: JSON file not found" in out.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_report_quick_on_a_tiny_model_with_the_chgnet_teacher(tiny_model, tmp_path):
    """The whole report chain, real MD with the student and real teacher labels, on a tiny untrained model."""
    param = _param()
    param["_dpgen_llzo"]["labeler"] = {"name": "chgnet", "max_force_eV_A": 30.0, "device": "cpu"}
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    out = tmp_path / "models" / "tiny"
    result = subprocess.run([sys.executable, "-m", "dpgen_llzo.cli", "distill", "report", str(path), "--model", str(tiny_model),
                             "-o", str(out), "--quick"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["teacher"] == "chgnet" and report["name"] == "tiny"
    per_class = report["heldout"]["per_class"]
    assert set(per_class) == {"crystal", "references", "dimers"}
    assert per_class["crystal"]["n_frames"] == report["heldout"]["frames_per_class"]["crystal"] >= 2
    # an untrained model is far from the teacher: the report must say so, not hide it
    assert per_class["crystal"]["force_rmse_meV_A"] > 100
    assert not all(target_check(report["heldout"]["overall"]).values())
    for plot in ("parity.png", "ev.png", "dimers.png", "graph.pb", "report.md"):
        assert (out / plot).is_file()
    assert len(report["dimers"]) == 2 and set(report["ev"]) == {"cubic", "tetragonal"}
    assert f"| crystal | {per_class['crystal']['n_frames']} |" in (out / "report.md").read_text()
