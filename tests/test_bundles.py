"""Tests of the shipped bundles (``param/**/*.json``, ``machine/*.json``) and ``dpgen-llzo bundle``.

Every bundle must pass DP-GEN's own strict schemas and our ``_dpgen_llzo`` schema; a broken copy
must be refused with one line naming the key; the production bundle must carry the paper's DP
settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.config import check_dpgen_machine, check_dpgen_param, load_llzo_settings
from dpgen_llzo.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]
# `dpgen run` bundles; param/autotest/ holds autotest params (tests/test_autotest*.py) and
# param/study/ the plans of `dpgen-llzo study` (tests/test_study.py)
PARAMS = sorted(p for p in (REPO / "param").glob("**/*.json")
                if not {"autotest", "study"} & set(p.relative_to(REPO / "param").parts))
MACHINES = sorted((REPO / "machine").glob("*.json"))
VASP_PARAM = REPO / "param" / "vasp" / "param.json"
DEMO_PARAM = REPO / "param" / "demo" / "param.json"
BUNDLES = [  # (param, machine) pairs shipped together
    (REPO / "param" / "demo" / "param.json", REPO / "machine" / "local.json"),
    (REPO / "param" / "demo" / "param-quick.json", REPO / "machine" / "local.json"),
    (VASP_PARAM, REPO / "machine" / "slurm.json"),
    (REPO / "param" / "cp2k" / "param.json", REPO / "machine" / "local-cp2k.json"),
    (REPO / "param" / "distill" / "param.json", REPO / "machine" / "local-distill.json"),
]


def test_bundles_are_found():
    assert VASP_PARAM in PARAMS and DEMO_PARAM in PARAMS
    assert REPO / "machine" / "slurm.json" in MACHINES


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_param_passes_dpgen_and_our_schema(path):
    check_dpgen_param(path)
    settings = load_llzo_settings(path)
    assert settings["init"]["systems"]


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_every_machine_passes_dpgen_schema(path):
    machine = check_dpgen_machine(path)
    assert {"train", "model_devi", "fp"} <= set(machine)


def _broken_copy(tmp_path: Path, edit) -> Path:
    param = json.loads(DEMO_PARAM.read_text())
    edit(param)
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    return path


def test_unknown_top_level_key_is_refused(tmp_path):
    path = _broken_copy(tmp_path, lambda p: p.update(numb_modles=4))
    with pytest.raises(UserInputError) as info:
        check_dpgen_param(path)
    assert "numb_modles" in str(info.value) and str(path) in str(info.value)


def test_unknown_key_in_a_model_devi_job_names_its_path(tmp_path):
    path = _broken_copy(tmp_path, lambda p: p["model_devi_jobs"][0].update(tempz=[300]))
    with pytest.raises(UserInputError, match=r"model_devi_jobs/0.*tempz"):
        check_dpgen_param(path)


def test_unknown_key_inside_our_section_is_refused(tmp_path):
    path = _broken_copy(tmp_path, lambda p: p["_dpgen_llzo"].update(lableer={}))
    check_dpgen_param(path)  # stock DP-GEN ignores keys starting with "_"
    with pytest.raises(UserInputError, match=r"_dpgen_llzo: .*lableer"):
        load_llzo_settings(path)
    path = _broken_copy(tmp_path, lambda p: p["_dpgen_llzo"]["init"]["systems"][1]["perturb"].update(scale=[1.0]))
    with pytest.raises(UserInputError, match=r"_dpgen_llzo/init/systems\[1\].*perturb.*scale"):
        load_llzo_settings(path)


def test_production_bundle_has_the_paper_dp_settings():
    param = json.loads(VASP_PARAM.read_text())
    model = param["default_training_param"]["model"]
    descriptor, fitting = model["descriptor"], model["fitting_net"]
    assert (descriptor["type"], descriptor["rcut"], descriptor["rcut_smth"]) == ("se_e2_a", 6.0, 0.5)
    assert descriptor["neuron"] == [10, 20, 40] and fitting["neuron"] == [120, 120, 120]
    lr = param["default_training_param"]["learning_rate"]
    assert (lr["start_lr"], lr["decay_steps"], lr["decay_rate"]) == (1e-3, 2000, 0.996)
    steps = param["default_training_param"]["training"]["numb_steps"]
    assert steps == 6_000_000
    assert lr["stop_lr"] <= lr["start_lr"] * lr["decay_rate"] ** (steps // lr["decay_steps"])  # floor never binds
    loss = param["default_training_param"]["loss"]
    assert (loss["start_pref_e"], loss["limit_pref_e"], loss["start_pref_f"], loss["limit_pref_f"]) == (0.02, 1.0, 1000, 1.0)
    assert loss["start_pref_v"] == loss["limit_pref_v"] == 0
    assert param["numb_models"] == 4 and param["train_backend"] == "tensorflow"
    assert param["fp_style"] == "vasp" and param["type_map"] == ["Li", "La", "Zr", "O"] == model["type_map"]
    temps = {t for job in param["model_devi_jobs"] if "template" not in job for t in job["temps"]}
    assert {400, 800, 1200, 1600} <= temps
    md = [s["md"]["temperatures_K"] for s in param["_dpgen_llzo"]["init"]["systems"] if "md" in s]
    assert md == [[400.0, 800.0, 1200.0, 1600.0]] * 2


def test_slurm_machine_trains_on_a_gpu_and_runs_vasp_on_32_ranks():
    machine = json.loads((REPO / "machine" / "slurm.json").read_text())
    assert machine["train"]["resources"]["gpu_per_node"] == 1
    assert machine["train"]["resources"]["source_list"]
    assert machine["model_devi"]["command"] == "lmp"
    assert machine["fp"]["command"] == "mpirun -np 32 vasp_std"
    assert all(machine[s]["machine"]["context_type"] == "SSHContext" for s in ("train", "model_devi", "fp"))


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("param,machine", BUNDLES, ids=lambda p: p.name)
def test_bundle_check_passes_on_the_shipped_bundles(param, machine, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # fp_incar is relative to where `dpgen run` starts
    monkeypatch.delenv("POTCAR_DIR", raising=False)
    assert main(["bundle", "check", str(param), str(machine)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all(line.startswith(("ok ", "skip ")) for line in out)
    assert any("DP-GEN machine schema" in line for line in out)


def test_bundle_check_reads_potcars_from_the_environment(tmp_path, monkeypatch, capsys):
    for dataset, element in {"Li_sv": "Li", "La": "La", "Zr_sv": "Zr", "O": "O"}.items():
        (tmp_path / dataset).mkdir()
        (tmp_path / dataset / "POTCAR").write_text(  # minimal fake: the header lines the check reads
            f"  PAW_PBE {dataset} 01Jan2000\n   VRHFIN ={element}: s1\n   TITEL  = PAW_PBE {dataset} 01Jan2000\n"
            "   ENMAX  =  400.000; ENMIN  =  300.000 eV\n End of Dataset\n"
        )
    monkeypatch.setenv("POTCAR_DIR", str(tmp_path))
    assert main(["bundle", "check", str(VASP_PARAM), str(REPO / "machine" / "slurm.json"), "--workdir", str(REPO)]) == 0
    out = capsys.readouterr().out
    assert out.count("PAW_PBE") == 4 and "skip" not in out


def test_bundle_check_refuses_a_broken_copy_in_one_line(tmp_path, capsys):
    param = json.loads(VASP_PARAM.read_text())
    param["_dpgen_llzo"]["init"]["systems"][0]["generator"] = "llzo-cubbic"
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    assert main(["bundle", "check", str(path), str(REPO / "machine" / "slurm.json"), "--workdir", str(REPO)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "systems[0]/generator" in err[0] and "llzo-cubbic" in err[0]


def test_bundle_check_refuses_an_incar_off_the_paper(tmp_path, capsys):
    incar = (REPO / "templates" / "vasp" / "INCAR").read_text().replace("ENCUT    = 500", "ENCUT    = 400")
    (tmp_path / "templates" / "vasp").mkdir(parents=True)
    (tmp_path / "templates" / "vasp" / "INCAR").write_text(incar)
    assert main(["bundle", "check", str(VASP_PARAM), str(REPO / "machine" / "slurm.json"), "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ENCUT = 400 but the paper uses ENCUT = 500" in err[0]


def test_console_script_exits_2_with_one_line(tmp_path):
    """The installed ``dpgen-llzo`` script end to end: a training-section typo DP-GEN would miss."""
    param = json.loads(DEMO_PARAM.read_text())
    param["default_training_param"]["loss"]["start_pref_ee"] = 0.02
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    script = Path(sys.executable).with_name("dpgen-llzo")
    result = subprocess.run(
        [str(script), "bundle", "check", str(path), str(REPO / "machine" / "local.json")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "start_pref_ee" in lines[0] and "default_training_param" in lines[0]


def test_bundle_doc_prints_our_defaults(capsys):
    assert main(["bundle", "doc"]) == 0
    out = capsys.readouterr().out
    for path in ("_dpgen_llzo/labeler/name", "_dpgen_llzo/init/seed", "system/perturb/scales", "system/md/temperatures_K"):
        assert path in out
    assert "chgnet" in out  # a default value


def test_bundle_incar_writes_the_template(tmp_path, capsys):
    output = tmp_path / "INCAR"
    assert main(["bundle", "incar", "-o", str(output)]) == 0
    assert output.read_text() == (REPO / "tests" / "data" / "vasp" / "INCAR.expected").read_text()


def test_production_init_systems_build():
    """Every building-block system of the production init section builds as configured."""
    import dpgen_llzo.structures.references  # noqa: F401  (until structures/__init__ imports it)
    from dpgen_llzo.structures import build_structure

    settings = load_llzo_settings(VASP_PARAM)
    built, pairs = 0, set()
    for system in settings["init"]["systems"]:
        if system["generator"].startswith("llzo-"):
            continue  # the LLZO generators have their own tests
        cell = build_structure(system["generator"], seed=system["seed"], supercell=system["supercell"], **system["params"])
        if system["generator"] == "dimer":
            pairs.add(tuple(sorted(site.specie.symbol for site in cell)))
            assert system["scan"]["param"] == "distance_A" and max(system["scan"]["values"]) >= 6.0  # up to rcut
            continue
        assert 10 <= len(cell) <= 100, system["name"]
        built += 1
    assert built == 10
    # the two-body data: every element pair of Li, La, Zr, O once (4 like pairs + 6 unlike pairs)
    assert len(pairs) == 10


DISTILL_PARAM = REPO / "param" / "distill" / "param.json"


@pytest.mark.parametrize("param_path", [DEMO_PARAM, VASP_PARAM, DISTILL_PARAM], ids=["demo", "vasp", "distill"])
def test_bundles_have_a_gb_stage_with_per_atom_deviation(param_path):
    param = json.loads(param_path.read_text())
    settings = load_llzo_settings(param_path)
    stage = settings["gb"]["stage_jobs"]
    assert stage, "the GB stage is declared"
    gb_systems = {i for i, configs in enumerate(param["sys_configs"]) if configs[0].startswith("gb-")}
    for index in stage:
        job = param["model_devi_jobs"][index]
        assert set(job["sys_idx"]) == gb_systems == {2, 3}
        template = REPO / job["template"]["lmp"]
        assert template.is_file() and "pair_style      deepmd" in template.read_text()
        assert job["rev_mat"]["lmp"]["out_file model_devi.out"] == ["out_file model_devi.out atomic"]
        assert job["rev_mat"]["lmp"]["V_NSTEPS"][0] >= job["trj_freq"]


def test_distillation_bundle_carries_the_zbl_baseline_and_one_teacher():
    """param/distill: the table init writes is the one the model reads; the machine labels with the param's teacher."""
    param = json.loads(DISTILL_PARAM.read_text())
    model = param["default_training_param"]["model"]
    assert model["use_srtab"] == Path(param["srtab_file_path"]).name
    assert 0 < model["sw_rmin"] < model["sw_rmax"] <= 1.3  # ZBL alone below 1 Å, DP alone above 1.3 Å
    settings = load_llzo_settings(DISTILL_PARAM)
    assert settings["labeler"]["name"] == "diep"
    assert settings["short_range"]["switch_on_A"] >= model["sw_rmax"]  # pure ZBL wherever it is mixed in
    fp = json.loads((REPO / "machine" / "local-distill.json").read_text())["fp"]["command"]
    assert "--labeler diep" in fp
    temps = {t for job in param["model_devi_jobs"] for t in job.get("temps", [])}
    assert {300, 1600, 3000} <= temps and any(20000.0 in job.get("press", []) for job in param["model_devi_jobs"])


def test_init_refuses_a_machine_labelling_with_another_teacher(tmp_path):
    from dpgen_llzo.errors import UserInputError
    from dpgen_llzo.init_data.runner import check_fp_labeler

    machine = json.loads((REPO / "machine" / "local.json").read_text())  # fp: --labeler chgnet
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(machine))
    with pytest.raises(UserInputError, match="labels with --labeler chgnet but the param's _dpgen_llzo/labeler/name is 'diep'"):
        check_fp_labeler({"name": "diep"}, path)
    check_fp_labeler({"name": "chgnet"}, path)  # the demo pair is consistent
