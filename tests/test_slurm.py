"""One real ``dpgen run`` iteration dispatched through Slurm (``machine/slurm-local.json``).

``scripts/slurm-local.sh`` installs (Debian's slurm-wlm and munge, as root) and starts a
one-node Slurm on loopback; the test skips with the script's one-line message where Slurm
cannot start. Then the tiny bundle of ``tests/test_loop.py`` is initialised with
``dpgen-llzo init`` and stock ``dpgen run`` runs iteration 0 (training, exploration and
labelling all submitted with ``sbatch``); the process is stopped once ``record.dpgen``
shows ``0 8``. Run with ``-s`` to see the timings.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpgen_llzo.cli import main
from test_loop import record_lines, tiny_loop_param

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-local.sh"
MACHINE = REPO / "machine" / "slurm-local.json"
STEPS = ["make_train", "run_train", "post_train", "make_model_devi", "run_model_devi",
         "post_model_devi", "make_fp", "run_fp", "post_fp"]
RUN_LIMIT_S = 900


def _timing(label: str, seconds: float) -> None:
    print(f"slurm timing: {label:<28s} {seconds:7.1f} s", flush=True)


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start the local Slurm cluster (install when missing); skip with the script's reason."""
    had_sbatch = subprocess.run(["bash", "-c", "command -v sbatch"], capture_output=True).returncode == 0
    start = time.monotonic()
    try:
        proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("slurm-local: scripts/slurm-local.sh did not finish within 900 s")
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.startswith("slurm-local:")]
        pytest.skip(lines[-1] if lines else f"scripts/slurm-local.sh failed ({proc.returncode}): {proc.stderr.strip()}")
    _timing("install + start" if not had_sbatch else "start (already installed)", elapsed)
    print(proc.stdout.strip(), flush=True)
    return proc.stdout


def _job_env() -> dict[str, str]:
    """Environment of the submitter: the venv's bin first, VIRTUAL_ENV for the job scripts."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    return env


def _jobcomp_log() -> Path | None:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    kind = re.search(r"^JobCompType\s*=\s*(\S+)", out, re.M)
    loc = re.search(r"^JobCompLoc\s*=\s*(\S+)", out, re.M)
    if kind and loc and kind.group(1) == "jobcomp/filetxt":
        return Path(loc.group(1))
    return None


def _slurm_jobs(job_ids: list[str]) -> dict[str, tuple[str, float | None]]:
    """(final JobState, seconds it ran) of each job id, from the jobcomp log or `scontrol show job`."""
    from datetime import datetime

    def parse(text: str) -> tuple[str, float | None] | None:
        state = re.search(r"JobState=(\S+)", text)
        begin, end = re.search(r"StartTime=(\S+)", text), re.search(r"EndTime=(\S+)", text)
        if state is None:
            return None
        try:
            seconds = (datetime.fromisoformat(end.group(1)) - datetime.fromisoformat(begin.group(1))).total_seconds()
        except (AttributeError, ValueError):
            seconds = None
        return state.group(1), seconds

    jobs: dict[str, tuple[str, float | None]] = {}
    log = _jobcomp_log()
    if log is not None and log.is_file():
        for line in log.read_text().splitlines():
            match = re.match(r"JobId=(\d+) ", line)
            if match and match.group(1) in job_ids and parse(line):
                jobs[match.group(1)] = parse(line)
    for job_id in job_ids:
        if job_id not in jobs:
            out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
            jobs[job_id] = parse(out) or ("UNKNOWN", None)
    return jobs


def _cancel_jobs_under(work: Path) -> None:
    """scancel jobs of this run still queued (iteration 1's training, if dpgen got that far)."""
    out = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        job_id, _, workdir = line.partition(" ")
        if workdir.strip().startswith(str(work)):
            subprocess.run(["scancel", job_id], capture_output=True)


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.mark.slow
def test_dpgen_iteration_through_slurm(slurm_cluster, tmp_path, monkeypatch):
    param = tiny_loop_param(tmp_path / "param.json")
    data = json.loads(param.read_text())
    # every explored frame (steps 0, 10, 20) a labelling candidate, whatever 10-step models predict
    data["model_devi_f_trust_lo"] = 0.0
    data["model_devi_f_trust_hi"] = 1.0e6
    param.write_text(json.dumps(data, indent=1))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for key, value in _job_env().items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)

    start = time.monotonic()
    assert main(["init", str(param), str(MACHINE)]) == 0
    _timing("dpgen-llzo init", time.monotonic() - start)

    log = open(work / "dpgen-run.out", "w")
    start = time.monotonic()
    # exactly `dpgen run PARAM MACHINE`, with dpdispatcher polling squeue every 2 s instead of 30 s
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("kill_harness.py")), "dpgen", str(param), str(MACHINE), "--poll", "2"],
        cwd=work, stdout=log, stderr=subprocess.STDOUT, env=_job_env(), start_new_session=True,
    )
    seen: list[str] = []
    last = start
    try:
        while time.monotonic() - start < RUN_LIMIT_S:
            lines = record_lines(work) if (work / "record.dpgen").is_file() else []
            now = time.monotonic()
            for line in lines[len(seen):]:
                step = int(line.split()[1])
                _timing(f"iter {line.split()[0]} {STEPS[step]}", now - last)
                last = now
            seen = lines
            if "0 8" in lines or proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        _stop_group(proc)
        log.close()
        _cancel_jobs_under(work)
    _timing("dpgen run iteration 0", time.monotonic() - start)

    out = (work / "dpgen-run.out").read_text()
    assert record_lines(work)[:9] == [f"0 {j}" for j in range(9)], out[-3000:]

    # each stage went through sbatch: dpdispatcher's job scripts with #SBATCH lines, their job
    # ids, Slurm's own output files, and Slurm's record of each job as COMPLETED
    iter0 = work / "iter.000000"
    for stage, n_jobs in (("00.train", 2), ("01.model_devi", 1), ("02.fp", 1)):
        subs = sorted((iter0 / stage).glob("*.sub"))
        assert len(subs) == n_jobs, (stage, subs)
        for sub in subs:
            text = sub.read_text()
            assert text.startswith("#!/bin/bash") and "#SBATCH --partition debug" in text, sub
        ids = sorted({p.read_text().strip() for p in (iter0 / stage).glob("*_job_id")})
        assert len(ids) == n_jobs and all(i.isdigit() for i in ids), (stage, ids)
        for job_id in ids:
            assert (iter0 / stage / f"slurm-{job_id}.out").is_file(), (stage, job_id)
        jobs = _slurm_jobs(ids)
        assert {state for state, _ in jobs.values()} == {"COMPLETED"}, (stage, jobs)
        for job_id, (state, seconds) in sorted(jobs.items(), key=lambda item: int(item[0])):
            print(f"slurm job {job_id:>5s} {stage:<14s} {state} in Slurm {seconds} s", flush=True)

    # dpgen-llzo init labelled its teacher-MD frames with the fp section: through Slurm as well
    init_ids = sorted(p.read_text().strip() for p in (work / "init").glob("**/*_job_id"))
    assert init_ids and all((p.parent / f"slurm-{p.read_text().strip()}.out").is_file()
                            for p in (work / "init").glob("**/*_job_id"))
    for job_id, (state, seconds) in _slurm_jobs(init_ids).items():
        assert state == "COMPLETED"
        print(f"slurm job {job_id:>5s} {'init teacher':<14s} {state} in Slurm {seconds} s", flush=True)

    # the labelled data: 3 explored frames (steps 0, 10, 20), all candidates, labelled by CHGNet
    from dpdata import LabeledSystem

    fp = iter0 / "02.fp"
    tasks = sorted(fp.glob("task.*"))
    assert len(tasks) == 3
    frames = 0
    for task in tasks:
        system = LabeledSystem(str(task / "labeled"), fmt="deepmd/npy")
        assert system.get_natoms() == 192
        frames += system.get_nframes()
    assert frames == 3
    systems = sorted(p.parent for p in fp.glob("data.*/**/type.raw"))  # post_fp: data.000/<formula>
    assert systems, "post_fp collected no data"
    assert sum(LabeledSystem(str(d), fmt="deepmd/npy").get_nframes() for d in systems) == 3
