"""Labelling runs that finished but must not become training data: VASP without a usable OUTCAR.

DP-GEN's ``run_fp`` for ``fp_style: "vasp"`` calls a task finished when its OUTCAR has the
``Elapsed time`` line, and ``post_fp`` then labels what dpdata reads from it (falling back to
``vasprun.xml`` when dpdata cannot read the OUTCAR). ``dpgen-llzo run`` screens every fp task
between ``run_fp`` and ``post_fp`` with :func:`dpgen_llzo.vasp.outcar_failure` (dpdata's reader
and its NELM count, the same that ``post_fp`` applies):

* an OUTCAR whose last electronic loop used all NELM steps, or that holds no complete ionic step
  (VASP crashed, was killed or did not start), is moved aside (``OUTCAR.unconverged``, with
  ``vasprun.xml``) and an empty OUTCAR takes its place, so ``post_fp`` counts the task among the
  failed ones whatever dpdata version it runs: it is reported, excluded, and the run goes on
  while the failed share stays under ``ratio_failed`` (DP-GEN's own check);
* ``02.fp/fp_faults.json`` lists each screened-out task and why.

Screening again (a resumed run) finds the moved file and changes nothing. Other fp styles need
no screen here: the embedded labeler refuses non-finite or absurd labels itself (exit code 3).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
from dpgen_llzo.vasp.outputs import outcar_failure

FP_FAULTS_FILE = "fp_faults.json"
SET_ASIDE = ".unconverged"


def screen_vasp_task(task: str | os.PathLike) -> str | None:
    """Screen one VASP fp task; returns why it was set aside (now or earlier), or None when it is usable."""
    task = Path(task)
    outcar, kept = task / "OUTCAR", task / ("OUTCAR" + SET_ASIDE)
    if kept.is_file():
        if not outcar.exists():  # interrupted between the move and the placeholder
            write_text_atomic(outcar, "")
        return outcar_failure(kept) or "set aside earlier"
    if not outcar.is_file():
        return None  # never ran: DP-GEN's own bookkeeping covers it
    problem = outcar_failure(outcar)
    if problem is None:
        return None
    for name in ("vasprun.xml", "OUTCAR"):
        if (task / name).is_file():
            os.replace(task / name, task / (name + SET_ASIDE))
    write_text_atomic(outcar, "")  # parsed as no frame: post_fp counts a failed task
    return problem


def screen_fp_outputs(workdir: str | os.PathLike, iteration: int, fp_style: str) -> dict[str, Any]:
    """Screen the fp tasks of ``iteration`` and write ``02.fp/fp_faults.json``.

    Returns
    -------
    dict
        ``{"iteration", "fp_style", "n_tasks", "n_set_aside", "tasks": {name: reason}}``.
    """
    fp_dir = Path(workdir) / f"iter.{iteration:06d}" / "02.fp"
    tasks = sorted(p for p in fp_dir.glob("task.*") if p.is_dir())
    reasons: dict[str, str] = {}
    if fp_style == "vasp":
        for task in tasks:
            reason = screen_vasp_task(task)
            if reason:
                reasons[task.name] = reason
    report = {"iteration": iteration, "fp_style": fp_style, "n_tasks": len(tasks), "n_set_aside": len(reasons), "tasks": reasons}
    if fp_dir.is_dir():
        write_json_atomic(fp_dir / FP_FAULTS_FILE, report)
    return report


def read_fp_faults(workdir: str | os.PathLike, iteration: int) -> dict[str, Any] | None:
    """The fp screen report of ``iteration``, or None when it was not screened."""
    path = Path(workdir) / f"iter.{iteration:06d}" / "02.fp" / FP_FAULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else None
