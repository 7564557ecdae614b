"""``dpgen-llzo study`` (issue #13): its post-processing on known answers, its plan schema, kill/resume, the quick plan.

* A synthetic heating ramp (step logs with a, b, c of a known c/a(T) and a known expansion)
  through the transition section's own analysis gives the known Tc and α.
* Synthetic random walkers with D(T) = D0 exp(−Ea/kT) written as LAMMPS dumps (and NPT logs)
  through the bulk section's own analysis give the known Ea and D0; a caged temperature is
  flagged sub-diffusive and left out of the fit with the reason.
* The plan schema refuses an unknown key, an empty temperature list and a temperature ≤ 0
  with one line (library and CLI); the shipped plans load.
* A running study is SIGKILLed (its whole process group: the study and its LAMMPS jobs)
  while its heating ramp is half-way; the rerun starts no run that had finished, resumes the
  ramp at its first unfinished step, and every run ends successfully exactly once.
* The ``quick`` plan runs end to end on a committee of two tiny untrained models (their
  ``dp compress`` fails: no neighbour statistics; the study says so and runs uncompressed).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MACHINE = REPO / "machine" / "local.json"
K_B = 8.617333262e-5

WRAPPER = """#!/bin/bash
echo "start $PWD" >> {log}
{real} "$@"
rc=$?
echo "end $PWD $rc" >> {log}
exit $rc
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               DP_INTRA_OP_PARALLELISM_THREADS="1", DP_INTER_OP_PARALLELISM_THREADS="1")
    return env


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def committee(tmp_path_factory) -> list[Path]:
    """Two untrained se_e2_a TF models (the conftest architecture, seeds 1 and 2): a committee (~20 s)."""
    from deepmd.dpmodel.model.model import get_model
    from deepmd.dpmodel.utils.serialization import save_dp_model

    from conftest import TINY_MODEL_PARAMS

    directory = tmp_path_factory.mktemp("study_models")
    paths = []
    for seed in (1, 2):
        params = copy.deepcopy(TINY_MODEL_PARAMS)
        params["descriptor"]["seed"] = params["fitting_net"]["seed"] = seed
        model = get_model(json.loads(json.dumps(params)))
        save_dp_model(str(directory / f"m{seed}.dp"), {"model": model.serialize(), "model_def_script": params,
                                                       "software": "deepmd-kit", "version": "3"})
        subprocess.run(["dp", "convert-backend", f"m{seed}.dp", f"m{seed}.pb"], cwd=directory, check=True,
                       capture_output=True, env=child_env())
        paths.append(directory / f"m{seed}.pb")
    return paths


def logging_machine(directory: Path, runlog: Path) -> Path:
    """machine/local.json whose lmp is a wrapper logging each start and end with the task directory."""
    wrapper = directory / "lmp-logged"
    wrapper.write_text(WRAPPER.format(log=runlog, real=BIN / "lmp"))
    wrapper.chmod(0o755)
    machine = json.loads(MACHINE.read_text())
    machine["model_devi"]["command"] = str(wrapper)
    path = directory / "machine.json"
    path.write_text(json.dumps(machine, indent=1))
    return path


def run_counts(runlog: Path, runs_dir: Path) -> tuple[Counter, Counter, list[str]]:
    """Starts, successful ends and the order of starts per run (relative to runs/)."""
    starts, ends, order = Counter(), Counter(), []
    if not runlog.is_file():
        return starts, ends, order
    for line in runlog.read_text().split("\n")[:-1]:
        kind, directory, *rc = line.split()
        name = os.path.relpath(directory, runs_dir)
        if kind == "start":
            starts[name] += 1
            order.append(name)
        elif rc == ["0"]:
            ends[name] += 1
    return starts, ends, order


def study_context(root: Path, plan: dict):
    from dpgen_llzo.study import check_plan
    from dpgen_llzo.study.section import StudyContext

    return StudyContext(root, check_plan(plan, "test-plan.json"), ["model_0.pb"])


def write_thermo_log(path: Path, temperatures: np.ndarray, lengths: np.ndarray, equilibration: bool = True) -> None:
    """A LAMMPS log with the study's thermo columns: an equilibration block, then the production rows."""
    header = "   Step Temp PotEng Press Volume Lx Ly Lz Xy Xz Yz Cella Cellb Cellc"
    blocks = []
    if equilibration:
        blocks.append([(0, temperatures[0], lengths[0]), (100, temperatures[0], lengths[0])])
    blocks.append([(10 * i, t, l) for i, (t, l) in enumerate(zip(temperatures, lengths))])
    lines = []
    for block in blocks:
        lines.append(header)
        for step, t, (a, b, c) in block:
            lines.append(f"{step} {t:.3f} -1000.0 0.0 {a * b * c:.6f} {a:.6f} {b:.6f} {c:.6f} 0 0 0 {a:.6f} {b:.6f} {c:.6f}")
        lines.append("Loop time of 1.0 on 1 procs for 10 steps with 192 atoms")
    lines.append("Total wall time: 0:00:01")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# known answers through the study's own post-processing


@pytest.mark.timeout(300)
def test_synthetic_heating_ramp_gives_known_tc_and_expansion(tmp_path):
    """c/a(T) = 1 − A (Tc − T)^½ below Tc = 900 K, a(T) with α = 1.5e-5 /K: the section finds both."""
    from dpgen_llzo.study.tasks import ramp_step_files
    from dpgen_llzo.study.transition import RAMP, TransitionSection

    temps = np.arange(600.0, 1301.0, 50.0)
    ctx = study_context(tmp_path, {"transition": {"temperatures_K": temps.tolist(), "xrd_dump_every": 0, "n_bootstrap": 100},
                                   "gb": {"enabled": False}})
    tc, alpha, rng = 900.0, 1.5e-5, np.random.default_rng(4)
    for index, T in enumerate(temps):
        ratio = 1.0 - 0.0035 * np.sqrt(max(tc - T, 0.0))  # c/a = 0.965 at 600 K, 1 above Tc
        pseudo_cubic = 13.0 * (1 + alpha * (T - 900.0))
        a = pseudo_cubic / ratio ** (1 / 3)
        rows = np.array([[a, a, a * ratio]] * 40) * (1 + rng.normal(0, 2e-5, (40, 3)))
        write_thermo_log(ctx.run_dir(RAMP) / ramp_step_files(index)[0], np.full(40, T) + rng.normal(0, 5, 40), rows,
                         equilibration=False)
    result = TransitionSection(ctx.plan["transition"], ctx).analyze({})
    print("Tc", result["Tc_K"], result["Tc_err_K"], "alpha", result["alpha_linear_per_K"])
    assert result["Tc_bracketed"] and result["c_axis"] == 2
    assert abs(result["Tc_K"] - tc) < max(3 * result["Tc_err_K"], 15.0), (result["Tc_K"], result["Tc_err_K"])
    assert result["Tc_err_K"] < 30
    assert result["alpha_linear_per_K"] == pytest.approx(alpha, rel=0.1)
    assert result["expansion_range_K"][0] == pytest.approx(result["Tc_K"])
    assert result["trust"] == {"available": False, "reason": "one model: no committee deviation", "flagged": False}
    assert (tmp_path / "plots" / "transition_c_over_a.png").is_file()


@pytest.mark.timeout(300)
def test_synthetic_diffusion_gives_known_ea_and_flags_a_caged_run(tmp_path):
    """Random walkers with D0 exp(−0.35 eV/kT) at 800–1400 K, caged ions at 600 K: Ea, D0 recovered, 600 K excluded."""
    from dpgen_llzo.analysis.synthetic import random_walk_system, write_lammps_dump
    from dpgen_llzo.study.bulk import BulkSection, npt_name, nvt_name

    ea, d0 = 0.35, 2e-3  # eV, cm²/s
    temps = [600.0, 800.0, 1000.0, 1200.0, 1400.0]
    ctx = study_context(tmp_path, {"bulk": {"temperatures_K": temps, "seeds": [1, 2], "n_steps": 40000, "dump_every": 100,
                                            "n_blocks": 2, "n_bootstrap": 200}, "gb": {"enabled": False}})
    for T in temps:
        write_thermo_log(ctx.run_dir(npt_name(T)) / "log.lammps", np.full(20, T), np.full((20, 3), 12.0))
        for seed in (1, 2):
            D = d0 * np.exp(-ea / (K_B * T)) * 1e4  # Å²/ps
            system = random_walk_system(n_frames=400, n_ions=32, D_A2_ps=D, dt_ps=0.1, seed=seed + int(T), dump_every=100)
            if T == 600.0:  # caged: each ion rattles around its site, no net motion
                li = system.symbols == "Li"
                rattle = np.random.default_rng(seed).normal(0, 0.3, system.positions[:, li].shape)
                system.positions[:, li] = system.positions[0, li] + rattle
            ctx.run_dir(nvt_name(T, seed)).mkdir(parents=True)
            write_lammps_dump(ctx.run_dir(nvt_name(T, seed)) / "dump.lammpstrj", system, images=True,
                              type_map=("Li", "La", "Zr", "O"))
    result = BulkSection(ctx.plan["bulk"], ctx).analyze({})
    points = {p["temperature_K"]: p for p in result["points"]}
    assert not points[600.0]["included"] and points[600.0]["excluded_reason"].startswith("sub-diffusive")
    assert all(points[T]["included"] for T in temps[1:]), [points[T]["excluded_reason"] for T in temps[1:]]
    fit = result["fit"]
    print("Ea", fit["Ea_eV"], fit["Ea_err_eV"], "D0", fit["D0_cm2_s"], "H", fit["haven_ratio"])
    assert fit["temperatures_used_K"] == temps[1:]
    assert abs(fit["Ea_eV"] - ea) < max(3 * fit["Ea_err_eV"], 0.03), (fit["Ea_eV"], fit["Ea_err_eV"])
    assert fit["D0_cm2_s"] == pytest.approx(d0, rel=0.5)
    sigma = fit["sigma_NE"]
    assert sigma["sigma_300K_S_cm"] > 0 and sigma["sigma_300K_err_S_cm"] > 0
    assert 0.3 < fit["haven_ratio"] < 3  # independent walkers: H ≈ 1 within block noise
    assert (tmp_path / "plots" / "bulk_arrhenius.png").is_file()


# --------------------------------------------------------------------------------------------
# plan schema


@pytest.mark.timeout(60)
@pytest.mark.parametrize("plan, message", [
    ({"colour": "red"}, "colour"),
    ({"bulk": {"temperature": [900]}}, "temperature"),
    ({"bulk": {"temperatures_K": []}}, "plan: bulk/temperatures_K: empty list"),
    ({"structure": {"temperatures_K": [300, -5]}}, "plan: structure/temperatures_K: temperature -5 K is not positive"),
    ({"gb": {"temperatures_K": [0]}}, "plan: gb/temperatures_K: temperature 0 K is not positive"),
    ({"transition": {"temperatures_K": [800, 900, 1000]}}, "at least 4 temperatures"),
])
def test_plan_schema_refuses_bad_plans_in_one_line(tmp_path, capsys, plan, message):
    from dpgen_llzo.study import check_plan

    with pytest.raises(UserInputError) as caught:
        check_plan(plan, "bad.json")
    text = str(caught.value)
    assert "\n" not in text and text.startswith("bad.json: plan") and message in text, text
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(plan))
    assert main(["study", "m.pb", "--plan", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"dpgen-llzo: error: {path}: plan") and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(60)
def test_shipped_plans_load():
    from dpgen_llzo.study.plan import load_plan, shipped_plans

    assert {"quick", "standard", "production"} <= set(shipped_plans())
    for name in ("quick", "standard", "production"):
        plan, path = load_plan(name)
        assert path == REPO / "param" / "study" / f"{name}.json"
        assert len(plan["bulk"]["seeds"]) >= 2 and len(plan["bulk"]["temperatures_K"]) >= 3
    standard, _ = load_plan("standard")
    assert len(standard["bulk"]["temperatures_K"]) >= 5 and len(standard["gb"]["temperatures_K"]) >= 3


@pytest.mark.timeout(60)
def test_models_a_missing_training_script_and_other_models_on_resume_are_one_line_errors(tmp_path):
    from dpgen_llzo.study.models import has_neighbour_statistics, prepare_models

    model = tmp_path / "m.pb"
    model.write_bytes(b"not a graph")
    assert not has_neighbour_statistics(model)
    with pytest.raises(UserInputError, match="nope.json: training script not found"):
        prepare_models([model], tmp_path / "models", True, tmp_path / "nope.json")
    records = prepare_models([model], tmp_path / "models", False)  # plan says no compression: a copy
    assert records[0]["compressed"] is False and records[0]["compress_error"] == "compress is off in the plan"
    assert (tmp_path / "models" / "model_0.pb").read_bytes() == b"not a graph"
    other = tmp_path / "other.pb"
    other.write_bytes(b"another graph")
    with pytest.raises(UserInputError, match="started with other models"):
        prepare_models([other], tmp_path / "models", False)


# --------------------------------------------------------------------------------------------
# dispatch: dependencies and the number of jobs in flight (a fake LAMMPS, no MD)

FAKE_LAMMPS = """#!/bin/bash
echo "start $PWD $(date +%s.%N)" >> {log}
sleep 0.5
echo "Total wall time: 0:00:00" > log.lammps
echo "end $PWD $(date +%s.%N)" >> {log}
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("jobs", [2, 0])
def test_runs_start_after_their_dependencies_with_at_most_jobs_in_flight(tmp_path, jobs):
    from dpgen_llzo.autotest.workflow import working_directory
    from dpgen_llzo.study.dispatch import run_all
    from dpgen_llzo.study.tasks import Run, lammps_finished

    runlog = tmp_path / "fake.log"
    fake = tmp_path / "fake-lmp"
    fake.write_text(FAKE_LAMMPS.format(log=runlog))
    fake.chmod(0o755)
    entry = json.loads(MACHINE.read_text())["model_devi"]
    runs_dir = tmp_path / "runs"
    depends = {"a": (), "b": (), "c": ("a",), "d": ("a", "b"), "e": ()}

    def make(name: str) -> Run:
        directory = runs_dir / name
        return Run(name, "test", lambda: (directory.mkdir(parents=True, exist_ok=True), ("in.lammps",))[1],
                   lambda: lammps_finished(directory), depends=depends[name], outputs=("log.lammps",), cost=1.0)

    runs = [make(n) for n in depends]
    lines = []
    with working_directory(tmp_path):
        assert run_all(runs, runs_dir, entry, str(fake), jobs, 0.2, lines.append) == 5
        assert run_all(runs, runs_dir, entry, str(fake), jobs, 0.2, lines.append) == 0  # all finished: nothing starts
        before = runlog.read_text()
        for name in ("c", "d"):  # removed to be redone: dpdispatcher's tags of the old job must not skip them
            shutil.rmtree(runs_dir / name)
        assert run_all(runs, runs_dir, entry, str(fake), jobs, 0.2, lines.append) == 2
        redone = sorted(Path(line.split()[1]).name for line in runlog.read_text()[len(before):].splitlines()
                        if line.startswith("start"))
        assert redone == ["c", "d"]
        runlog.write_text(before)
    events = {}
    for line in runlog.read_text().splitlines():
        kind, directory, stamp = line.split()
        events.setdefault(Path(directory).name, {})[kind] = float(stamp)
    assert set(events) == set(depends)
    for name, deps in depends.items():
        assert all(events[name]["start"] >= events[d]["end"] for d in deps), (name, events)
    if jobs:
        stamps = sorted([(e["start"], 1) for e in events.values()] + [(e["end"], -1) for e in events.values()])
        assert max(np.cumsum([delta for _, delta in stamps])) <= jobs
    assert "test: 5/5 runs" in lines


# --------------------------------------------------------------------------------------------
# kill and resume


def resume_plan(path: Path) -> Path:
    """The quick plan, cut to the heating ramp (4 steps) and bulk transport at two temperatures."""
    plan = json.loads((REPO / "param" / "study" / "quick.json").read_text())
    plan["transition"].update(equilibration_steps=100, n_steps=300, xrd_dump_every=0)
    plan["bulk"].update(temperatures_K=[1000, 1300])
    plan["gb"] = {"enabled": False}
    plan["structure"] = {"enabled": False}
    path.write_text(json.dumps(plan, indent=1))
    return path


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_and_resume_reruns_nothing_finished(tmp_path, committee):
    from dpgen_llzo.study.tasks import ramp_step_files

    runlog = tmp_path / "runs.log"
    machine = logging_machine(tmp_path, runlog)
    plan = resume_plan(tmp_path / "plan.json")
    out = tmp_path / "study"
    ramp = out / "runs" / "transition" / "ramp"
    argv = [str(BIN / "dpgen-llzo"), "study", *map(str, committee), "--plan", str(plan), "--machine", str(machine),
            "-o", str(out), "--poll", "1"]
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(argv, env=child_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # generous: other jobs may share the cores
        while True:  # kill when the ramp is half-way and another run has finished
            starts, ends, _ = run_counts(runlog, out / "runs")
            half_way = (ramp / ramp_step_files(0)[2]).is_file() and not (ramp / ramp_step_files(3)[2]).is_file()
            if half_way and sum(ends.values()) >= 1 and len(starts) > sum(ends.values()):
                break
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the ramp never was half-way with another run finished"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(1.0)  # the killed jobs' last lines
    starts_before, ends_before, _ = run_counts(runlog, out / "runs")
    running_at_kill = {name for name in starts_before if ends_before[name] < starts_before[name]}
    assert "transition/ramp" in running_at_kill
    steps_done = sorted(p.name for p in ramp.glob("step_*.data"))
    stamps = {name: (ramp / name).stat().st_mtime_ns for name in steps_done}
    assert not (out / "study.json").exists()

    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    starts, ends, _ = run_counts(runlog, out / "runs")
    assert len(starts) == 1 + 2 + 4  # ramp, 2 NPT, 4 NVT
    for name in starts:
        if name in running_at_kill and starts[name] == 1:
            continue  # LAMMPS had just finished when the kill took its wrapper: complete, not rerun
        assert ends[name] == 1, (name, ends[name])  # every run ended successfully exactly once
        assert starts[name] == 1 + (name in running_at_kill), (name, starts[name])  # only killed runs started again
    assert {n for n in starts if ends_before[n]} and all(starts[n] == 1 for n in starts if ends_before[n])
    assert {n: (ramp / n).stat().st_mtime_ns for n in steps_done} == stamps  # finished heating steps kept
    resumed = json.loads((ramp / "run.json").read_text())
    assert resumed["start_step"] == len(steps_done) >= 1
    assert f"read_data       {ramp_step_files(len(steps_done) - 1)[2]}" in (ramp / "in.lammps").read_text()
    result = json.loads((out / "study.json").read_text())
    assert result["n_runs"] == 7 and result["runs_submitted"] == 7 - (len(starts_before) - len(running_at_kill))
    assert len(result["tables"]["transition"]) == 4 and len(result["tables"]["bulk"]) == 2


# --------------------------------------------------------------------------------------------
# the quick plan


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quick_plan_runs_end_to_end(tmp_path, committee):
    runlog = tmp_path / "runs.log"
    machine = logging_machine(tmp_path, runlog)
    out = tmp_path / "study"
    started = time.monotonic()
    done = subprocess.run([str(BIN / "dpgen-llzo"), "study", *map(str, committee), "--plan", "quick",
                           "--machine", str(machine), "-o", str(out)],
                          env=child_env(), capture_output=True, text=True, timeout=1100)
    wall = time.monotonic() - started
    print(f"quick plan: {wall:.0f} s wall")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in ("transition: 1/1 runs", "bulk: 9/9 runs", "gb: 4/4 runs", "structure: 2/2 runs"):
        assert line in done.stdout
    starts, ends, _ = run_counts(runlog, out / "runs")
    assert len(starts) == 16 and all(starts[n] == ends[n] == 1 for n in starts)

    result = json.loads((out / "study.json").read_text())
    for key in ("Tc_K", "Tc_err_K", "Ea_bulk_eV", "Ea_bulk_err_eV", "D0_bulk_cm2_s", "sigma_300K_S_cm",
                "sigma_300K_err_S_cm", "haven_ratio", "D_gb_over_bulk", "lattice_constant_300K_A", "tables", "trust",
                "flags", "experiment", "models"):
        assert key in result, key
    # the untrained models carry no neighbour statistics: dp compress fails, the study says so and goes on
    assert all(not m["compressed"] and "min_nbor_dist" in m["compress_error"] for m in result["models"])
    assert any("not compressed" in f for f in result["flags"])
    # every section's tables, per temperature
    assert [row["T_K"] for row in result["tables"]["transition"]] == pytest.approx([700, 850, 1000, 1150], abs=60)
    assert [row["temperature_K"] for row in result["tables"]["bulk"]] == [900, 1100, 1300]
    assert set(result["tables"]["gb"]) == {"sigma3-112", "sigma5-310"}
    assert set(result["D_gb_over_bulk"]) == {"sigma3-112", "sigma5-310"}
    assert [row["T_K"] for row in result["tables"]["structure"]] == [300, 1200]
    assert 12 < result["lattice_constant_300K_A"] < 16
    # every result carries the committee's trust; the flagged ones are listed
    trust = result["trust"]
    assert trust["n_models"] == 2 and len(trust["results"]) == 1 + 3 + 4 + 2
    assert all(row["available"] and row["frames"] > 0 for row in trust["results"])
    assert trust["flagged"] == [row["result"] for row in trust["results"] if row["flagged"]]
    for row in result["tables"]["bulk"]:  # each temperature is used or says why not
        assert row["included"] or row["excluded_reason"]
    assert result["sections"]["transition"]["xrd"] and result["sections"]["gb"]["systems"]["sigma3-112"]["density"]["n_frames"] > 0
    text = (out / "study.md").read_text()
    assert "## DP vs experiment" in text and "| t→c transition Tc (K) |" in text and "899 K" in text
    for plot in result["plots"]:
        assert (out / plot).is_file() and (out / plot).stat().st_size > 1000, plot
    assert {"transition_c_over_a.png", "bulk_arrhenius.png", "gb_arrhenius.png", "structure_rdf.png"} <= {
        Path(p).name for p in result["plots"]}

    # the same command again, with one run's directory removed: only that run is redone
    shutil.rmtree(out / "runs" / "structure" / "npt_T00300")
    again = subprocess.run([str(BIN / "dpgen-llzo"), "study", *map(str, committee), "--plan", "quick",
                            "--machine", str(machine), "-o", str(out)], env=child_env(), capture_output=True, text=True,
                           timeout=380)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    starts_again, ends_again, _ = run_counts(runlog, out / "runs")
    assert starts_again - starts == Counter({"structure/npt_T00300": 1}) and ends_again["structure/npt_T00300"] == 2
    assert json.loads((out / "study.json").read_text())["runs_submitted"] == 1
