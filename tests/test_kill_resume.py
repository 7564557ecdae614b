"""SIGKILL the DP-GEN loop inside each of its nine steps and resume it (issue #7, item 4a).

One work directory on the tiny bundle (one 192-atom tetragonal cell, 2 models x 10 training
steps, one 20-step NVT exploration, CHGNet labels through ``fp_style: custom``) is driven
through iteration 0 by a chain of processes; each one resumes where the previous one was
killed and is itself killed inside the next step:

* make/post steps (pure Python, fast): the child runs through ``kill_harness.py``, which
  wraps the step function so the process SIGKILLs itself after the step's work is done and
  before ``record.dpgen`` is written (the worst case), or half-way (make_fp, before its
  fp inputs are written);
* run steps (dpdispatcher Shell jobs): the test SIGKILLs the whole process group (the loop
  and its ``bash *.sub`` job) while the job's programs run, and once more (through the
  harness) after the step finished but before it was recorded.

Resumes are made by stock ``dpgen run`` and by ``dpgen-llzo run`` (in the harness, and
plain, unwrapped, for run_model_devi and the last step). The programs the jobs run (``dp``,
``lmp``, ``dpgen-llzo label``) are wrapped by scripts that log each start and end per task
directory, so the test counts how often each task really ran.

What is asserted: after every kill ``record.dpgen`` holds exactly the steps before the killed
one and ``dpgen-llzo status`` names the killed step as the resume point (and the killed job as
not running); at the end the record is ``0 0`` ... ``0 8`` with no duplicate, every fp task gave
exactly one labelled frame and no frame is there twice, both models exist, every task ended
successfully exactly once, and a task started a second time only when it was running at a kill.
"""

from __future__ import annotations

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
from dpgen_llzo.loop.record import STEP_NAMES
from test_loop import tiny_loop_param

REPO = Path(__file__).resolve().parents[1]
MACHINE = REPO / "machine" / "local.json"
HARNESS = Path(__file__).resolve().with_name("kill_harness.py")
BIN = Path(sys.executable).parent
ITER = "iter.000000"
N_FP_TASKS = 2

WRAPPER = """#!/bin/bash
echo "start $PWD {name} $1" >> {log}
{real} "$@"
rc=$?
echo "end $PWD {name} $1 $rc" >> {log}
exit $rc
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    return env


def kill_resume_param(path: Path) -> Path:
    """The tiny loop; every explored frame a candidate, 2 fp tasks, no coverage stop."""
    tiny_loop_param(path)
    param = json.loads(path.read_text())
    param.update(model_devi_f_trust_lo=0.0, model_devi_f_trust_hi=1.0e9, fp_task_max=N_FP_TASKS, fp_task_min=1)
    param["_dpgen_llzo"]["coverage"] = {"enabled": False}
    path.write_text(json.dumps(param, indent=1))
    return path


def logging_machine(directory: Path, runlog: Path) -> Path:
    """machine/local.json whose dp, lmp and dpgen-llzo are wrappers that log to ``runlog``."""
    wrappers = directory / "wrappers"
    wrappers.mkdir()
    for name in ("dp", "lmp", "dpgen-llzo"):
        script = wrappers / name
        script.write_text(WRAPPER.format(name=name, log=runlog, real=BIN / name))
        script.chmod(0o755)
    machine = json.loads(MACHINE.read_text())
    machine["train"]["command"] = str(wrappers / "dp")
    machine["model_devi"]["command"] = str(wrappers / "lmp")
    fp = machine["fp"]["command"]
    assert fp.startswith("dpgen-llzo label ")
    machine["fp"]["command"] = str(wrappers / "dpgen-llzo") + fp[len("dpgen-llzo") :]
    path = directory / "machine.json"
    path.write_text(json.dumps(machine, indent=1))
    return path


@pytest.fixture(scope="module")
def initialised(tmp_path_factory):
    """``dpgen-llzo init`` of the kill/resume bundle, once (about 1 min)."""
    root = tmp_path_factory.mktemp("kill_resume_init")
    param = kill_resume_param(root / "param.json")
    work = root / "work"
    work.mkdir()
    done = subprocess.run(
        [str(BIN / "dpgen-llzo"), "init", str(param), str(MACHINE)],
        cwd=work,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return param, work


# --------------------------------------------------------------------------------------------
# process-group handling


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


class Chain:
    """Start loop processes in ``work`` one after the other, kill them, count task runs."""

    def __init__(self, work: Path, param: Path, machine: Path, runlog: Path, logs: Path):
        self.work, self.param, self.machine, self.runlog, self.logs = work, param, machine, runlog, logs
        logs.mkdir()
        self.n = 0
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.killed_running: Counter = Counter()  # task -> times it was running at a kill
        self.root = os.path.realpath(work)

    # -- processes

    def start(self, argv: list[str], name: str) -> None:
        self.n += 1
        self.log_path = self.logs / f"{self.n:02d}-{name}.log"
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(
                argv, cwd=self.work, env=child_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def harness(self, driver: str, kill_in: str | None = None, when: str = "after", poll: float = 1.0) -> None:
        argv = [sys.executable, str(HARNESS), driver, str(self.param), str(self.machine), "--poll", str(poll)]
        if kill_in:
            argv += ["--kill-in", kill_in, "--when", when]
        self.start(argv, f"{driver}-{kill_in or 'run'}-{when}")

    def plain(self, driver: str) -> None:
        self.start([str(BIN / driver), "run", str(self.param), str(self.machine)], f"plain-{driver}")

    def close(self) -> None:
        """Kill what is still running (a test that failed half-way)."""
        if self.proc is not None and self.proc.poll() is None:
            self._reap()

    def tail(self) -> str:
        assert self.log_path is not None
        return self.log_path.read_text()[-4000:]

    def _reap(self) -> None:
        assert self.proc is not None
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)  # anything the loop left behind
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while group_members(pgid):
            assert time.monotonic() < deadline, f"processes of group {pgid} survived SIGKILL: {group_members(pgid)}"
            time.sleep(0.1)

    def wait_self_kill(self, timeout: float = 420) -> None:
        """The harness child SIGKILLed itself where it was told to."""
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._reap()
            raise AssertionError(f"no self-kill within {timeout} s:\n{self.tail()}") from None
        self._reap()
        assert rc == -signal.SIGKILL, f"exit code {rc}, not SIGKILL:\n{self.tail()}"
        assert "kill_harness: SIGKILL" in self.tail()

    def kill_when(self, condition, what: str, timeout: float = 420) -> None:
        """SIGKILL the whole process group (loop + jobs) as soon as ``condition()`` holds."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    break
            except BaseException:
                self._reap()
                raise
            if self.proc.poll() is not None:
                raise AssertionError(f"loop exited ({self.proc.returncode}) before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self._reap()
                raise AssertionError(f"{what} did not happen within {timeout} s:\n{self.tail()}")
            time.sleep(0.1)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self._reap()
        for task in self.running():
            self.killed_running[task] += 1

    # -- what ran

    def events(self) -> list[tuple[str, str, str, str, int | None]]:
        """(start|end, task dir relative to work, program, first argument, exit code)."""
        rows = []
        if not self.runlog.is_file():
            return rows
        complete = self.runlog.read_text().split("\n")[:-1]  # a line being appended is not read yet
        for line in complete:
            kind, directory, program, arg, *rc = line.split()
            directory = os.path.relpath(os.path.realpath(directory), self.root)
            rows.append((kind, directory, program, arg, int(rc[0]) if rc else None))
        return rows

    def keyed_events(self) -> list[tuple[str, tuple[str, str]]]:
        """(start|end, (task dir, program)) in log order; ``dp`` is split by sub-command."""
        rows = []
        for kind, directory, program, arg, rc in self.events():
            key = (directory, program if program != "dp" else f"dp {arg}")
            if kind == "end" and rc != 0:
                raise AssertionError(f"{key} failed with exit code {rc}")
            rows.append((kind, key))
        return rows

    def counts(self) -> tuple[Counter, Counter]:
        """How often each task's program started, and ended successfully."""
        starts, ends = Counter(), Counter()
        for kind, key in self.keyed_events():
            (starts if kind == "start" else ends)[key] += 1
        return starts, ends

    def running(self) -> list[tuple[str, str]]:
        """Tasks whose last logged event is a start (running, or killed while running)."""
        last = dict((key, kind) for kind, key in self.keyed_events())
        return [key for key, kind in last.items() if kind == "start"]

    def started(self, directory: str, program: str) -> int:
        return self.counts()[0][(directory, program)]

    def finished(self, directory: str, program: str) -> int:
        return self.counts()[1][(directory, program)]


def record_lines(work: Path) -> list[str]:
    path = work / "record.dpgen"
    return path.read_text().splitlines() if path.is_file() else []


def recorded_before(step: int) -> list[str]:
    return [f"0 {j}" for j in range(step)]


def status_json(work: Path, out: Path) -> dict:
    assert main(["status", str(work), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def assert_killed_in(chain: Chain, step: int, mid_job: bool = False) -> None:
    """The record holds exactly the steps before ``step``; status says the resume starts at it."""
    work = chain.work
    assert record_lines(work) == recorded_before(step), (STEP_NAMES[step], record_lines(work))
    status = status_json(work, chain.logs / f"status-{chain.n:02d}.json")
    assert tuple(status["resume_at"]) == (0, step) and status["resume_step"] == STEP_NAMES[step]
    assert (status["last_recorded"] is None) == (step == 0)
    jobs = status["unfinished_jobs"]
    if mid_job:  # the killed job is reported, and as not running (it is resubmitted on resume)
        assert jobs and all(job["alive"] is False for job in jobs), jobs
    else:
        assert jobs == [], jobs


# --------------------------------------------------------------------------------------------


TRAIN = [f"{ITER}/00.train/{i:03d}" for i in range(2)]
LMP = f"{ITER}/01.model_devi/task.000.000000"
FP = [f"{ITER}/02.fp/task.000.{i:06d}" for i in range(N_FP_TASKS)]


@pytest.fixture
def chain(initialised, tmp_path):
    """A copy of the initialised work directory and the logging machine; kills leftovers at the end."""
    param, init_work = initialised
    work = tmp_path / "work"
    shutil.copytree(init_work, work, symlinks=True)
    runlog = tmp_path / "runs.log"
    chain = Chain(work, param, logging_machine(tmp_path, runlog), runlog, tmp_path / "logs")
    yield chain
    chain.close()


@pytest.mark.slow
def test_sigkill_in_each_of_the_nine_steps_then_resume(chain, tmp_path):
    work = chain.work
    it = work / ITER

    # 0 make_train: killed after the training inputs were written, before the record.
    chain.harness("dpgen", "make_train")
    chain.wait_self_kill()
    assert all((work / t / "input.json").is_file() for t in TRAIN)
    assert_killed_in(chain, 0)

    # 1 run_train: dpgen run redoes make_train; the loop and both training jobs killed mid-training.
    chain.harness("dpgen")
    chain.kill_when(lambda: all(chain.started(t, "dp train") for t in TRAIN), "both trainings started")
    assert chain.killed_running == Counter({(t, "dp train"): 1 for t in TRAIN})
    assert_killed_in(chain, 1, mid_job=True)

    # 1 again: the resumed run_train finishes (both jobs resubmitted), killed before the record.
    chain.harness("dpgen", "run_train")
    chain.wait_self_kill()
    assert all((work / t / "frozen_model.pb").is_file() for t in TRAIN)
    assert_killed_in(chain, 1)
    after_train = chain.counts()

    # 2 post_train (resumed run_train must resubmit nothing: its jobs finished).
    chain.harness("dpgen", "post_train")
    chain.wait_self_kill()
    assert chain.counts() == after_train
    assert all((it / "00.train" / f"graph.{i:03d}.pb").is_file() for i in range(2))
    assert_killed_in(chain, 2)

    # 3 make_model_devi, resumed by dpgen-llzo run (post_train redone).
    chain.harness("dpgen-llzo", "make_model_devi")
    chain.wait_self_kill()
    assert (work / LMP / "input.lammps").is_file()
    assert_killed_in(chain, 3)

    # 4 run_model_devi: plain `dpgen-llzo run` resumes make_model_devi; killed while LAMMPS runs.
    chain.plain("dpgen-llzo")
    chain.kill_when(lambda: chain.started(LMP, "lmp") == 1, "LAMMPS started")
    assert chain.killed_running == Counter({**{(t, "dp train"): 1 for t in TRAIN}, (LMP, "lmp"): 1})
    assert_killed_in(chain, 4, mid_job=True)

    # 4 again: LAMMPS resubmitted and finished, killed before the record.
    chain.harness("dpgen", "run_model_devi")
    chain.wait_self_kill()
    assert (work / LMP / "model_devi.out").is_file()
    assert_killed_in(chain, 4)
    after_md = chain.counts()

    # 5 post_model_devi (the resumed run_model_devi resubmits nothing).
    chain.harness("dpgen", "post_model_devi")
    chain.wait_self_kill()
    assert chain.counts() == after_md
    assert_killed_in(chain, 5)

    # 6 make_fp, killed half-way: fp task directories made, their inputs not yet.
    chain.harness("dpgen", "make_fp_calculation", when="before")
    chain.wait_self_kill()
    assert sorted(p.name for p in (it / "02.fp").glob("task.*")) == [Path(t).name for t in FP]
    assert_killed_in(chain, 6)

    # 7 run_fp: make_fp redone; killed after the first fp task was labelled, during the second.
    chain.harness("dpgen")
    def labelled_and_labelling() -> tuple[list[str], list[str]]:
        running = [d for d, program in chain.running() if program == "dpgen-llzo"]
        return [d for d in FP if chain.finished(d, "dpgen-llzo")], running

    chain.kill_when(lambda: tuple(map(len, labelled_and_labelling())) == (1, 1), "one fp task labelled, the next running")
    (first_fp,), (killed_fp,) = labelled_and_labelling()  # the job's task order is DP-GEN's, not sorted
    assert (killed_fp, "dpgen-llzo") in chain.killed_running and (first_fp, "dpgen-llzo") not in chain.killed_running
    assert_killed_in(chain, 7, mid_job=True)

    # 7 again: only the killed fp task is redone; killed before the record.
    chain.harness("dpgen", "run_fp")
    chain.wait_self_kill()
    assert_killed_in(chain, 7)
    after_fp = chain.counts()

    # 8 post_fp: frames collected, killed before the record (resumed run_fp resubmits nothing).
    chain.harness("dpgen", "post_fp")
    chain.wait_self_kill()
    assert chain.counts() == after_fp
    assert_killed_in(chain, 8)

    # Plain `dpgen run` redoes post_fp; stopped once iteration 0 is recorded complete.
    chain.plain("dpgen")
    chain.kill_when(lambda: "0 8" in record_lines(work), "post_fp recorded")

    # --- the record: every step once, in order (the loop may have begun iteration 1).
    lines = record_lines(work)
    assert lines[:9] == [f"0 {j}" for j in range(9)], lines
    assert all(line.startswith("1 ") for line in lines[9:]), lines

    # --- the models.
    assert all((work / t / "frozen_model.pb").is_file() for t in TRAIN)
    assert all((it / "00.train" / f"graph.{i:03d}.pb").is_file() for i in range(2))

    # --- the labels: one frame per fp task, none lost, none twice.
    tasks = sorted((it / "02.fp").glob("task.*"))
    assert [str(p.relative_to(work)) for p in tasks] == FP
    task_energies = []
    for task in tasks:
        files = sorted(task.glob("labeled/**/set.*/energy.npy"))
        assert files, f"{task}: no labels"
        task_energies += [float(e) for f in files for e in np.load(f).ravel()]
    assert len(task_energies) == N_FP_TASKS
    data_sets = sorted((it / "02.fp").glob("data.*/**/set.*"))
    energies = np.concatenate([np.load(s / "energy.npy").ravel() for s in data_sets])
    coords = np.concatenate([np.load(s / "coord.npy") for s in data_sets])
    assert len(energies) == len(coords) == N_FP_TASKS
    for energy in task_energies:  # each task's frame is in the data exactly once
        assert int(np.sum(np.isclose(energies, energy, rtol=0, atol=1e-9))) == 1, (energy, energies)
    for i in range(len(coords)):
        for j in range(i + 1, len(coords)):
            assert not np.allclose(coords[i], coords[j]), f"frames {i} and {j} are the same structure"
    final = status_json(work, tmp_path / "status-final.json")
    row = final["iterations"][0]
    assert row["fp_tasks"] == row["labelled_frames"] == N_FP_TASKS and row["failed_fp_tasks"] == 0

    # --- how often each task ran: once to success; twice only if it was running at a kill.
    starts, ends = chain.counts()
    expected_starts = {
        **{(t, "dp train"): 2 for t in TRAIN},
        **{(t, "dp freeze"): 1 for t in TRAIN},
        (LMP, "lmp"): 2,
        (first_fp, "dpgen-llzo"): 1,
        (killed_fp, "dpgen-llzo"): 2,
    }
    iteration0 = {k: v for k, v in starts.items() if k[0].startswith(f"{ITER}/")}
    assert iteration0 == expected_starts, chain.runlog.read_text()
    assert {k: v for k, v in ends.items() if k[0].startswith(f"{ITER}/")} == {k: 1 for k in expected_starts}
    for key, n in iteration0.items():
        assert n == 1 + chain.killed_running[key], key
