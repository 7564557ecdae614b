"""``record.dpgen``: where a DP-GEN run stands, with the same semantics as ``dpgen run``.

Each finished step appends a line ``"<iteration> <step>"``; the last line is the position.
Steps 0-8 are make_train, run_train, post_train, make_model_devi, run_model_devi,
post_model_devi, make_fp, run_fp, post_fp. Step ``(i, j)`` is done when
``i * 10000 + j <= last_i * 10000 + last_j`` (dpgen's ``run_iter`` encoding). dpgen-llzo's
coverage and augmentation steps add no line: they are recomputed on resume when missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from dpgen_llzo.errors import UserInputError

__all__ = ["EXPLORED", "NOT_STARTED", "RECORD", "STEP_NAMES", "is_done", "read_record"]

RECORD = "record.dpgen"
STEP_NAMES = (
    "make_train",
    "run_train",
    "post_train",
    "make_model_devi",
    "run_model_devi",
    "post_model_devi",
    "make_fp",
    "run_fp",
    "post_fp",
)
#: The step after which the coverage step runs (post_model_devi).
EXPLORED = 5
#: Position of a fresh work directory.
NOT_STARTED = (0, -1)
#: dpgen's run_iter orders (iteration, step) as iteration * MAX_TASKS + step.
MAX_TASKS = 10000


def read_record(workdir: str | os.PathLike = ".") -> tuple[int, int]:
    """The last ``(iteration, step)`` in ``record.dpgen``, or ``(0, -1)`` when there is none.

    Raises
    ------
    UserInputError
        If the last line is blank or not two integers (dpgen refuses it too).
    """
    path = Path(workdir) / RECORD
    if not path.is_file():
        return NOT_STARTED
    lines = path.read_text().splitlines()
    if not lines:
        return NOT_STARTED
    fields = lines[-1].split()
    if len(fields) != 2 or not all(f.lstrip("-").isdigit() for f in fields):
        raise UserInputError(f"{path}: last line {lines[-1]!r} is not '<iteration> <step>' (no blank lines allowed)")
    return int(fields[0]), int(fields[1])


def is_done(position: tuple[int, int], iteration: int, step: int) -> bool:
    """Whether step ``step`` of ``iteration`` is recorded as finished at ``position``."""
    return iteration * MAX_TASKS + step <= position[0] * MAX_TASKS + position[1]
