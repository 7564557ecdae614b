"""``dpgen-llzo status``: read-only summary of a work directory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dpgen_llzo.cli import main
from dpgen_llzo.loop.record import STEP_NAMES
from dpgen_llzo.status import next_step, workdir_status


def test_next_step_follows_dpgen_order():
    assert next_step((0, -1)) == (0, 0)
    assert next_step((0, 5)) == (0, 6)
    assert next_step((1, len(STEP_NAMES) - 1)) == (2, 0)


def _fake_iteration(root, index, n_tasks, n_frames):
    """An iteration whose post_fp collected ``n_frames`` of ``n_tasks`` fp tasks (deepmd/npy)."""
    import numpy as np

    fp = root / f"iter.{index:06d}" / "02.fp"
    for t in range(n_tasks):
        (fp / f"task.000.{t:06d}").mkdir(parents=True)
    (fp / "candidate.shuffled.000.out").write_text("".join(f"a {i}\n" for i in range(5)))
    (fp / "rest_failed.shuffled.000.out").write_text("b 1\nb 2\n")
    sset = fp / "data.000" / "set.000"
    sset.mkdir(parents=True)
    np.save(sset / "energy.npy", np.zeros(n_frames))


def test_counts_failures_and_the_resume_point(tmp_path):
    _fake_iteration(tmp_path, 0, n_tasks=4, n_frames=3)
    (tmp_path / "record.dpgen").write_text("".join(f"0 {s}\n" for s in range(9)) + "1 0\n1 1\n")
    status = workdir_status(tmp_path)
    row = status.iterations[0]
    assert (row.candidates, row.failed_exploration, row.fp_tasks, row.labelled_frames, row.failed_fp_tasks) == (5, 2, 4, 3, 1)
    assert status.last_recorded == (1, 1) and status.resume_at == (1, 2) and status.resume_step == "post_train"


def test_an_unfinished_job_whose_process_is_gone_is_reported_as_not_running(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tasks = tmp_path / "iter.000000" / "02.fp"
    tasks.mkdir(parents=True)
    (tasks / "abc_job_id").write_text(str(dead.pid))
    (tasks / "done_job_id").write_text("1")
    (tasks / "done_job_tag_finished").write_text("")
    jobs = workdir_status(tmp_path).unfinished_jobs
    assert [(j.directory, j.job_id, j.alive) for j in jobs] == [("iter.000000/02.fp", str(dead.pid), False)]


def test_status_of_a_missing_directory_is_a_one_line_error(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "work directory not found" in err[0]


@pytest.mark.slow
def test_status_of_the_finished_quick_demo_agrees_with_its_report(quick_demo, tmp_path, capsys):
    workdir, report = quick_demo
    out = tmp_path / "status.json"
    assert main(["status", str(workdir), "--json", str(out)]) == 0
    status = json.loads(out.read_text())
    labelled = {row["iteration"]: row["labelled_frames"] for row in report["data"]["fp"]}
    assert {row["iteration"]: row["labelled_frames"] for row in status["iterations"] if row["iteration"] in labelled} == labelled
    assert sum(r["frames"] for r in status["init_datasets"] if r["kind"] != "validation") == report["data"]["init_frames"]
    assert status["unfinished_jobs"] == []
    assert "a resumed run starts at iteration" in capsys.readouterr().out
