"""Ship shell tasks through dpdispatcher with one section of a DP-GEN machine.json."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShellTask:
    """A command to run inside ``work_base/directory``."""

    directory: str
    command: str
    forward_files: tuple[str, ...]
    backward_files: tuple[str, ...]


def ensure_interpreter_on_path() -> None:
    """Put this interpreter's ``bin`` directory first on ``PATH`` for child processes.

    ``dp``, ``lmp``, ``dpgen`` and ``dpgen-llzo`` are installed beside the interpreter (a
    virtual environment's ``bin``); jobs started by dpdispatcher or ``dpgen run`` must find
    them even when the environment was not activated.
    """
    import sys

    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p != bin_dir]])


def machine_section(mdata: dict[str, Any], section: str, source: str | os.PathLike) -> dict[str, Any]:
    """Return ``mdata[section]`` (the first entry if it is a list) with its ``machine`` and ``resources``."""
    entry = mdata.get(section)
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if not isinstance(entry, dict) or "machine" not in entry or "resources" not in entry:
        raise UserInputError(f"{source}: {section}: needs a 'machine' and a 'resources' entry (DP-GEN machine.json, api_version 1.0)")
    return entry


def run_shell_tasks(
    tasks: Sequence[ShellTask],
    work_base: str | os.PathLike,
    machine_entry: dict[str, Any],
    log_name: str = "task.log",
    check_interval: float = 5.0,
) -> None:
    """Submit ``tasks`` with dpdispatcher and wait for them.

    ``local_root`` is the current directory, as in DP-GEN; the group size comes from
    ``resources.group_size``. Finished tasks are recognised by dpdispatcher's tags, so a
    re-run after an interruption resumes where it stopped.
    """
    from dpdispatcher import Machine, Resources, Submission, Task

    if not tasks:
        return
    machine_dict = dict(machine_entry["machine"])
    machine_dict["local_root"] = os.path.abspath(".")
    machine = Machine.load_from_dict(machine_dict)
    resources = Resources.load_from_dict(machine_entry["resources"])
    task_list = [
        Task(
            command=task.command,
            task_work_path=task.directory,
            forward_files=list(task.forward_files),
            backward_files=list(task.backward_files),
            outlog=log_name,
            errlog=log_name,
        )
        for task in tasks
    ]
    submission = Submission(
        work_base=str(work_base), machine=machine, resources=resources, task_list=task_list
    )
    log.info("submitting %d tasks from %s", len(task_list), work_base)
    submission.run_submission(check_interval=check_interval)


def relative_to_cwd(path: Path) -> str:
    """``path`` relative to the current directory (dpdispatcher wants a relative work base)."""
    return os.path.relpath(path, os.getcwd())
