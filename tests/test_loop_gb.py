"""GB stage of ``dpgen-llzo run``: which job an iteration runs, and carving of large fp tasks.

The carving tests build by hand what DP-GEN's make_fp leaves behind for a GB candidate
(``02.fp/task.002.000000`` with its POSCAR, the ``conf.dump``/``job.json`` links into
``01.model_devi/task.002.000000``, ``candidate.shuffled.002.out``, a ``model_devi.out``
with per-atom columns) from the committed Σ3 cell, rattled like an MD snapshot, and run the
hook with DP-GEN's own fp-style writers (custom and vasp).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.coverage.iteration import coverage_settings
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.carve_fp import carve_large_fp_tasks, per_atom_deviation, source_frame
from dpgen_llzo.loop.gb_stage import STAGE_FILE, StagePlan, gb_settings, read_stage, write_stage

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "param" / "demo" / "param-quick.json"
MACHINE = REPO / "machine" / "local.json"
TYPE_MAP = ["Li", "La", "Zr", "O"]
CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2}
UNIT = {"Li": 7, "La": 3, "Zr": 2, "O": 12}
WORST = (17, 600, 1000)  # atoms given the largest fake deviations (Li, O, O)
STEP = 40


@pytest.fixture(autouse=True)
def dpgen_log_in_tmp(tmp_path, monkeypatch):
    """DP-GEN's ``dpgen.log`` handler would write into the directory pytest started in."""
    import dpgen

    handler = dpgen.dlogf
    if handler.stream is None:
        monkeypatch.setattr(handler, "baseFilename", str(tmp_path / "dpgen.log"))
    yield
    if handler.baseFilename.startswith(str(tmp_path)):
        handler.close()


# --------------------------------------------------------------------------------------------
# the stage plan


def test_converged_bulk_starts_the_gb_stage_at_the_next_iteration():
    plan = StagePlan.create(5, [3, 4])  # bulk jobs 0, 1, 2; GB jobs 3, 4
    assert plan.schedule() == [0, 1, 2] and plan.job_index(1) == 1 and plan.job_index(3) is None
    started = plan.on_converged(1)
    assert started is not None and started.gb_start == 2 and started.reason == "bulk_converged"
    assert started.job_index(2) == 3 and started.job_index(3) == 4 and started.job_index(4) is None
    assert started.schedule() == [0, 1, 3, 4]
    assert started.on_converged(2) is None  # converged in the GB stage: stop
    assert started.on_converged(1) is started  # resumed run: already planned
    # the streak counts GB iterations only
    assert started.stage_streak(2, 3) == 1 and started.stage_streak(3, 3) == 2
    assert plan.on_schedule_end(1) is not None and started.on_schedule_end(4) is None


def test_bulk_jobs_running_out_start_the_gb_stage_and_jdata_follows_the_plan():
    plan = StagePlan.create(4, [1, 3])
    started = plan.on_schedule_end(2)  # bulk jobs 0, 2 done
    assert started is not None and started.gb_start == 2 and started.reason == "bulk_jobs_exhausted"
    assert started.schedule() == [0, 2, 1, 3]
    jobs = [{"sys_idx": [k], "_idx": f"{k:02d}"} for k in range(4)]
    jdata = started.jdata({"model_devi_jobs": jobs, "type_map": TYPE_MAP})
    assert [j["sys_idx"] for j in jdata["model_devi_jobs"]] == [[0], [2], [1], [3]]
    assert [j["sys_idx"] for j in jobs] == [[0], [1], [2], [3]]  # the param itself is untouched


def test_schedule_mode_follows_the_index_and_no_stage_changes_nothing():
    plan = StagePlan.create(3, [2], "schedule")
    assert plan.gb_start == 2 and plan.schedule() == [0, 1, 2]
    assert plan.on_converged(0) is plan  # bulk convergence: go on, unchanged
    assert plan.on_converged(2) is None and plan.stage_streak(2, 5) == 1
    none = StagePlan.create(3, [])
    assert not none.active and none.on_converged(0) is None and none.stage_streak(1, 4) == 4
    assert none.schedule() == [0, 1, 2] and none.on_schedule_end(3) is None
    with pytest.raises(UserInputError, match="outside"):
        StagePlan.create(3, [3])


def test_stage_file_round_trip_and_mismatch(tmp_path):
    plan = StagePlan.create(5, [3, 4]).on_converged(1)
    write_stage(tmp_path, plan, "test")
    stored = json.loads((tmp_path / STAGE_FILE).read_text())
    assert stored["gb_start_iteration"] == 2 and stored["job_by_iteration"] == [0, 1, 3, 4]
    assert read_stage(tmp_path, StagePlan.create(5, [3, 4])) == plan
    with pytest.raises(UserInputError, match="stage_jobs"):
        read_stage(tmp_path, StagePlan.create(5, [4]))


def test_gb_settings_defaults_and_errors():
    settings = gb_settings(None)
    assert settings["carve"] is False and settings["carve_min_atoms"] == 400 and settings["stage_jobs"] == []
    with pytest.raises(UserInputError, match="start_when"):
        gb_settings({"start_when": "never"})
    with pytest.raises(UserInputError, match="radius"):
        gb_settings({"radius": 7})


# --------------------------------------------------------------------------------------------
# carving of large fp tasks


@pytest.fixture(scope="module")
def gb_frame():
    """The committed Σ3 cell (1152 atoms) with 0.1 Å displacements, as a dpdata System."""
    import dpdata

    system = dpdata.System(str(REPO / "gb_systems" / "sigma3-112" / "POSCAR"), fmt="vasp/poscar", type_map=TYPE_MAP)
    rng = np.random.default_rng(3)
    system.data["coords"] = system["coords"] + rng.normal(0, 0.1, system["coords"].shape)
    return system


def make_workdir(root: Path, gb_frame, atomic: bool = True, fp: bool = True) -> Path:
    """What make_fp leaves for one GB candidate (system 2) and one small bulk task (system 0).

    ``fp=False``: only the exploration (frames at steps 0 and STEP, the latter a candidate).
    """
    import dpdata

    from dpgen_llzo.structures import build_structure

    modd = root / "iter.000000" / "01.model_devi" / "task.002.000000"
    (modd / "traj").mkdir(parents=True)
    gb_frame.to("lammps/dump", str(modd / "traj" / f"{STEP}.lammpstrj"))
    gb_frame.to("lammps/dump", str(modd / "traj" / "0.lammpstrj"))
    (modd / "job.json").write_text(json.dumps({"ensemble": "nvt", "temps": 1200}))
    n = gb_frame.get_natoms()
    deviation = np.full(n, 0.05)
    deviation[list(WORST)] = [0.9, 0.8, 0.7]
    rows = [[0, 0, 0, 0, 0.1, 0.01, 0.05, *np.full(n, 0.02)], [STEP, 0, 0, 0, 0.9, 0.05, 0.1, *deviation]]
    table = np.array(rows)
    np.savetxt(modd / "model_devi.out", table if atomic else table[:, :7], fmt="%.6e", header="step max_devi_v ...")
    if not fp:
        return root
    fp = root / "iter.000000" / "02.fp"
    task = fp / "task.002.000000"
    task.mkdir(parents=True)
    os.symlink(os.path.relpath(modd / "traj" / f"{STEP}.lammpstrj", task), task / "conf.dump")
    os.symlink(os.path.relpath(modd / "job.json", task), task / "job.json")
    dpdata.System(str(task / "conf.dump"), fmt="lammps/dump", type_map=TYPE_MAP).to_vasp_poscar(str(task / "POSCAR"))
    (fp / "candidate.shuffled.002.out").write_text(f"iter.000000/01.model_devi/task.002.000000 {STEP}\n")
    small = fp / "task.000.000000"
    small.mkdir()
    build_structure("llzo-tetragonal").to(filename=str(small / "POSCAR"), fmt="poscar")
    return root


JDATA_CUSTOM = {
    "type_map": TYPE_MAP,
    "fp_style": "custom",
    "fp_params": {"input_fmt": "vasp/poscar", "input_fn": "POSCAR", "output_fmt": "deepmd/npy", "output_fn": "labeled"},
    "default_training_param": {"model": {"descriptor": {"rcut": 6.0}}},
}


def composition(poscar: Path) -> dict[str, int]:
    lines = poscar.read_text().splitlines()
    return dict(zip(lines[5].split(), (int(x) for x in lines[6].split())))


@pytest.fixture(scope="module")
def carved(tmp_path_factory, gb_frame):
    """A work directory after the hook ran once (custom fp style), and what it returned."""
    root = make_workdir(tmp_path_factory.mktemp("carve"), gb_frame)
    settings = gb_settings({"carve": True, "centres_per_frame": 2})
    result = carve_large_fp_tasks(0, JDATA_CUSTOM, {}, settings, root)
    return root, result, settings


def test_source_frame_from_the_link_and_from_the_candidate_list(tmp_path, gb_frame):
    root = make_workdir(tmp_path, gb_frame)
    task = root / "iter.000000" / "02.fp" / "task.002.000000"
    linked = source_frame(task)
    assert linked["step"] == STEP and linked["model_devi_task"].endswith("01.model_devi/task.002.000000")
    (task / "conf.dump").unlink()
    listed = source_frame(task)
    assert listed == linked


def test_large_tasks_are_replaced_by_carved_dpgen_tasks(carved, gb_frame):
    root, result, settings = carved
    fp = root / "iter.000000" / "02.fp"
    assert len(result) == 1 and result[0].parent == "task.002.000000" and result[0].n_atoms == 1152
    # the worst atoms are the centres, in order (all three are > 14 Å apart? take the first two chosen)
    assert result[0].centres[0] == WORST[0] and result[0].centre_deviations_eV_A[0] == pytest.approx(0.9)
    assert "atomic" in result[0].source["deviation_from"]
    tasks = sorted(p.name for p in fp.glob("task.*"))
    assert tasks == ["task.000.000000", "task.002.000001", "task.002.000002"]
    assert (fp / "carved_from" / "task.002.000000" / "POSCAR").is_file()  # original kept aside
    assert not (fp / ".carving_hold").exists()
    for name in ("task.002.000001", "task.002.000002"):
        poscar = fp / name / "POSCAR"
        counts = composition(poscar)
        assert list(counts) == TYPE_MAP
        assert sum(counts.values()) < settings["carve_min_atoms"]
        assert sum(CHARGES[e] * c for e, c in counts.items()) == 0
        units = counts["La"] // UNIT["La"]
        assert counts == {e: units * UNIT[e] for e in TYPE_MAP}  # stoichiometric
        record = json.loads((fp / name / "carve.json").read_text())
        assert record["source"]["parent_task"] == "carved_from/task.002.000000" and record["source"]["step"] == STEP
        assert json.loads((fp / name / "job.json").read_text())["temps"] == 1200
    report = json.loads((fp / "carving.json").read_text())
    assert report[0]["new_tasks"] == ["task.002.000001", "task.002.000002"]
    # the small bulk task is untouched
    assert composition(fp / "task.000.000000" / "POSCAR")["Li"] == 56


def test_second_call_is_a_no_op(carved):
    root, _, settings = carved
    fp = root / "iter.000000" / "02.fp"
    before = sorted(str(p.relative_to(fp)) for p in fp.rglob("*"))
    assert carve_large_fp_tasks(0, JDATA_CUSTOM, {}, settings, root) == []
    assert sorted(str(p.relative_to(fp)) for p in fp.rglob("*")) == before


def test_vasp_inputs_are_written_for_the_carved_tasks_only(tmp_path, gb_frame):
    root = make_workdir(tmp_path, gb_frame)
    pp = tmp_path / "pp"
    pp.mkdir()
    for element in TYPE_MAP:
        (pp / element).write_text(f"fake POTCAR {element}\n")
    incar = tmp_path / "INCAR"
    incar.write_text("ENCUT = 500\nKSPACING = 0.25\nKGAMMA = .FALSE.\n")
    jdata = {"type_map": TYPE_MAP, "fp_style": "vasp", "fp_incar": str(incar), "fp_pp_path": str(pp), "fp_pp_files": TYPE_MAP}
    fp = root / "iter.000000" / "02.fp"
    (fp / "task.000.000000" / "INCAR").write_text("made by make_fp\n")  # make_fp's own inputs stay
    result = carve_large_fp_tasks(0, jdata, {}, gb_settings({"carve": True, "centres_per_frame": 1}), root)
    new = fp / result[0].new_tasks[0]
    assert (new / "INCAR").read_text().count("ENCUT") == 1 and (new / "KPOINTS").is_file()
    assert (new / "POTCAR").read_text() == "".join(f"fake POTCAR {e}\n" for e in TYPE_MAP)
    assert (fp / "task.000.000000" / "INCAR").read_text() == "made by make_fp\n"


def test_hook_on_real_dpgen_make_fp_output(tmp_path, gb_frame, monkeypatch):
    """DP-GEN's own make_fp picks the candidate and links it; the hook finds and carves it."""
    from dpgen.generator.run import make_fp

    root = make_workdir(tmp_path, gb_frame, fp=False)
    jdata = dict(
        JDATA_CUSTOM, fp_task_max=5, fp_task_min=1, model_devi_skip=0, model_devi_f_trust_lo=0.3, model_devi_f_trust_hi=1.5,
        model_devi_engine="lammps", fp_accurate_threshold=0.999, fp_accurate_soft_threshold=0.999,
    )  # fmt: skip
    monkeypatch.chdir(root)
    make_fp(0, jdata, {})
    fp = root / "iter.000000" / "02.fp"
    assert (fp / "task.002.000000" / "conf.dump").is_symlink()
    assert source_frame(fp / "task.002.000000")["step"] == STEP
    result = carve_large_fp_tasks(0, jdata, {}, gb_settings({"carve": True, "centres_per_frame": 2}))
    assert result[0].centres[0] == WORST[0] and result[0].new_tasks == ["task.002.000001", "task.002.000002"]
    assert sorted(p.name for p in fp.glob("task.*")) == result[0].new_tasks


TINY = {
    "type_map": TYPE_MAP,
    "descriptor": {"type": "se_e2_a", "rcut": 4.0, "rcut_smth": 0.5, "sel": [20, 8, 6, 30], "neuron": [4, 8], "axis_neuron": 2, "type_one_side": True},
    "fitting_net": {"neuron": [8]},
}


@pytest.fixture(scope="module")
def two_tiny_models(tmp_path_factory) -> list[Path]:
    """Two untrained TensorFlow models with different seeds (the exploration's graph.00x.pb)."""
    if shutil.which("dp") is None:
        pytest.skip("DeePMD-kit's dp command is not installed")
    from deepmd.dpmodel.model.model import get_model
    from deepmd.dpmodel.utils.serialization import save_dp_model

    directory = tmp_path_factory.mktemp("models")
    paths = []
    for seed in (1, 2):
        params = json.loads(json.dumps(TINY))
        params["descriptor"]["seed"] = params["fitting_net"]["seed"] = seed
        save_dp_model(str(directory / f"m{seed}.dp"), {"model": get_model(params).serialize(), "model_def_script": params, "software": "deepmd-kit", "version": "3"})
        subprocess.run(["dp", "convert-backend", f"m{seed}.dp", f"graph.00{seed - 1}.pb"], cwd=directory, check=True, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        paths.append(directory / f"graph.00{seed - 1}.pb")
    return paths


@pytest.mark.slow
def test_without_atomic_columns_the_deviation_is_computed_with_deeppot(tmp_path, gb_frame, two_tiny_models):
    from deepmd.infer import DeepPot
    from deepmd.infer.model_devi import calc_model_devi

    root = make_workdir(tmp_path, gb_frame, atomic=False)
    modd = root / "iter.000000" / "01.model_devi"
    for graph in two_tiny_models:
        shutil.copyfile(graph, modd / graph.name)
    structure = gb_frame.to("pymatgen/structure")[0]
    deviation, origin = per_atom_deviation(structure, modd / "task.002.000000", STEP, TYPE_MAP)
    assert origin.startswith("DeepPot with 2 models")
    reference = calc_model_devi(
        gb_frame["coords"].reshape(1, -1), gb_frame["cells"].reshape(1, 9), gb_frame["atom_types"],
        [DeepPot(str(g)) for g in two_tiny_models], atomic=True,
    )  # fmt: skip
    # DeePMD's Python writer puts devi_e after the seven standard columns; the atoms come last
    np.testing.assert_allclose(deviation, reference[0, -len(deviation) :], rtol=1e-5, atol=1e-8)
    result = carve_large_fp_tasks(0, JDATA_CUSTOM, {}, gb_settings({"carve": True, "centres_per_frame": 1}), root)
    assert result[0].centres == [int(np.argmax(deviation))] and result[0].source["deviation_from"].startswith("DeepPot")


# --------------------------------------------------------------------------------------------
# the hooks inside dpgen-llzo run (stand-in DP-GEN steps, real carving and fp-style writer)


def test_run_loop_switches_to_the_gb_stage_and_carves(tmp_path, gb_frame, monkeypatch):
    from dpgen_llzo.loop.runner import run_loop

    coverage = {"threshold": 0.9, "consecutive": 1, "per_element": False}
    param = json.loads(QUICK.read_text())
    job = param["model_devi_jobs"][0]
    param["model_devi_jobs"] = [dict(job, temps=[t]) for t in (100, 200, 300, 400)]  # 2, 3: GB
    param["_dpgen_llzo"]["coverage"] = coverage
    param["_dpgen_llzo"]["gb"] = {"carve": True, "stage_jobs": [2, 3], "centres_per_frame": 1}
    param_path = tmp_path / "param.json"
    param_path.write_text(json.dumps(param))
    work = tmp_path / "work"
    work.mkdir()
    fractions = {0: 0.99, 1: 0.5, 2: 0.95}
    settings = coverage_settings(coverage)
    seen: dict[int, int] = {}

    def step(jj):
        def run(ii, jdata, mdata):
            if jj == 3:
                jobs = jdata["model_devi_jobs"]
                if ii >= len(jobs):
                    return False
                seen[ii] = jobs[ii]["temps"][0]
                return True
            if jj == 5:
                modd = Path(f"iter.{ii:06d}") / "01.model_devi"
                modd.mkdir(parents=True, exist_ok=True)
                f = fractions[ii]
                report = {"iteration": ii, "fraction": f, "n_components": 3, "n_train": 10, "n_test": 5, "bins": settings["bins"],
                          "variance": settings["variance"], "pair_fractions": {"0-1": f}, "per_element": {}, "settings": settings}  # fmt: skip
                (modd / "coverage.json").write_text(json.dumps(report))
            if jj == 6 and seen[ii] >= 300:  # a GB exploration: make_fp wrote a 1152-atom task
                scratch = make_workdir(Path(f"scratch{ii}"), gb_frame) / "iter.000000"
                it = Path(f"iter.{ii:06d}")
                os.rename(scratch / "01.model_devi" / "task.002.000000", it / "01.model_devi" / "task.002.000000")
                os.rename(scratch / "02.fp", it / "02.fp")
                listing = it / "02.fp" / "candidate.shuffled.002.out"
                listing.write_text(listing.read_text().replace("iter.000000", it.name))
            return None

        return run

    outcome = run_loop(param_path, MACHINE, workdir=work, steps={jj: step(jj) for jj in range(9)})
    assert seen == {0: 100, 1: 300, 2: 400}  # job 1 (bulk) skipped once the bulk stage converged
    assert outcome.reason == "converged" and outcome.iteration == 2 and outcome.record == (2, 5)
    stage = json.loads((work / STAGE_FILE).read_text())
    assert stage["gb_start_iteration"] == 1 and stage["reason"] == "bulk_converged" and stage["job_by_iteration"] == [0, 2, 3]
    fp = work / "iter.000001" / "02.fp"
    assert (fp / "carved_from" / "task.002.000000").is_dir()
    assert sorted(p.name for p in fp.glob("task.*")) == ["task.000.000000", "task.002.000001"]
    assert composition(fp / "task.002.000001" / "POSCAR")["La"] % 3 == 0
