"""``make`` / ``run`` / ``post`` of the autotest, in dpgen autotest's layout.

::

    <root>/confs/<name>/POSCAR
    <root>/confs/<name>/relaxation/relax_task/       dpgen's relaxation (make_equi/post_equi)
    <root>/confs/<name>/relaxation/reference_task/   teacher relaxation (ours)
    <root>/confs/<name>/eos_00/task.NNNNNN/          dpgen's EOS (make_property/post_property)
    <root>/confs/<name>/lattice_T_00/, rdf_00/       our properties (task.* DP, reference.* teacher)

One param file holds the relaxation and the properties. Properties start from the relaxed
cell, so ``make`` writes the tasks of a property only once its conf's relaxation has a
``CONTCAR``, and ``run`` finishes the relaxation, posts it, makes the properties still
missing and runs them. Each step resumes: made directories are kept (remove one to redo it),
finished tasks are not rerun.

Why our own runner: ``dpgen autotest run`` ships the relaxation with the work root as
dpdispatcher's work base and ``in.lammps`` and the model as *common* files, which sit in
``confs/<name>/relaxation/``, not in the root. With the lazy local context nothing is copied
and it works by accident; any copying context (``LocalContext``, ``SSHContext``) fails with
"cannot find upload file <root>/in.lammps". Here every LAMMPS task forwards its own
``conf.lmp``, ``in.lammps`` and model (links followed), so it runs anywhere; dpgen's files
stay untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

from dpgen_llzo.autotest import teacher
from dpgen_llzo.autotest.param import AutotestParam, check_model, conf_dirs
from dpgen_llzo.autotest.properties import (
    AUTOTEST_PROPERTIES,
    DP_SECTION,
    REFERENCE_SECTION,
    AutotestProperty,
    DpgenProperty,
    PendingTask,
    lammps_finished,
    lammps_task,
    write_json,
)
from dpgen_llzo.errors import UserInputError

log = logging.getLogger(__name__)

RELAX_OUTPUTS = ("log.lammps", "dump.relax")


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (dpgen's autotest functions work on relative paths)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def properties(param: AutotestParam) -> list[AutotestProperty]:
    """The param's properties (skipped ones left out) as registered objects."""
    return [AUTOTEST_PROPERTIES.get(p["type"])(p, param.interaction) for p in param.properties if not p.get("skip")]


def relax_dir(conf: Path) -> Path:
    return conf / "relaxation" / "relax_task"


def reference_relax_dir(conf: Path) -> Path:
    return conf / "relaxation" / "reference_task"


# ---------------------------------------------------------------------------------------------
# make


def make(param: AutotestParam) -> dict[str, Any]:
    """Write every task that can be written now; returns what was made and what waits.

    Raises
    ------
    UserInputError
        Missing model, type map disagreeing with the model, unusable conf (see :mod:`.param`).
    """
    check_model(param)
    with working_directory(param.root):
        confs = conf_dirs(param)
        made_relax = make_relaxation(param, confs) if param.relaxation is not None else []
        made, waiting = make_properties(param, confs)
    summary = {"confs": [str(c) for c in confs], "relaxation": made_relax, "properties": made, "waiting": waiting}
    log.info("made %d relaxation(s), %d property work dir(s); %d wait for their relaxation",
             len(made_relax), len(made), len(waiting))
    return summary


def make_relaxation(param: AutotestParam, confs: list[Path]) -> list[str]:
    """dpgen's ``make_equi`` for confs without a ``relax_task``, plus the teacher relaxation task."""
    from dpgen.auto_test.common_equi import make_equi

    new = [c for c in confs if not (relax_dir(c) / "in.lammps").exists()]
    if new:
        make_equi([str(c) for c in new], dict(param.interaction), param.dpgen_relaxation())
    reference = param.relaxation.get("reference", {"type": "none"})
    if reference["type"] == "teacher":
        settings = {k: v for k, v in reference.items() if k != "type"}
        for conf in confs:
            if not (reference_relax_dir(conf) / "task.json").is_file():
                teacher.write_task(reference_relax_dir(conf), "relax", settings, poscar=conf / "POSCAR")
    return [str(c) for c in new]


def relaxation_done(conf: Path) -> bool:
    return (relax_dir(conf) / "CONTCAR").is_file()


def make_properties(param: AutotestParam, confs: list[Path]) -> tuple[list[str], list[str]]:
    """Make the property work dirs not made yet whose relaxation is done."""
    from dpgen.auto_test.lib.utils import create_path

    made, waiting = [], []
    for conf in confs:
        for prop in properties(param):
            work = prop.work_dir(conf)
            if (work / "property.json").is_file():
                continue
            if not relaxation_done(conf):
                waiting.append(str(work))
                continue
            if not isinstance(prop, DpgenProperty):
                create_path(str(work))  # an interrupted make is moved to <work>.bk000, as dpgen does
            prop.make(conf, work, relax_dir(conf))
            write_json(work / "property.json", prop.parameters)
            made.append(str(work))
    return made, waiting


# ---------------------------------------------------------------------------------------------
# run


def load_machine(machine: str | os.PathLike | None) -> tuple[dict[str, Any], str]:
    """The machine.json (default: the repository's ``machine/local.json``) and its path."""
    from dpgen_llzo.config import load_json

    if machine is None:
        from dpgen_llzo.demo.runner import bundled_file

        machine = bundled_file("machine/local.json")
    return load_json(machine), str(machine)


def lammps_command(mdata: dict[str, Any]) -> str:
    """The LAMMPS executable of the machine's ``model_devi`` section (default ``lmp``)."""
    entry = mdata.get(DP_SECTION)
    entry = entry[0] if isinstance(entry, list) and entry else entry
    return (entry or {}).get("command", "lmp")


def dispatch(pending: list[PendingTask], mdata: dict[str, Any], machine_path: str) -> None:
    """Submit ``pending`` tasks (DP with ``model_devi``, teacher with ``autotest_reference`` or ``fp``)."""
    from dpgen_llzo.dispatch import ensure_interpreter_on_path, machine_section, run_shell_tasks

    ensure_interpreter_on_path()
    groups: dict[str, list] = defaultdict(list)
    for item in pending:
        groups[item.section].append(item.task)
    for section, tasks in groups.items():
        name = section if section in mdata or section != REFERENCE_SECTION else "fp"
        entry = machine_section(mdata, name, machine_path)
        log.info("running %d %s task(s) with machine section %r", len(tasks), "DP" if section == DP_SECTION else "teacher", name)
        run_shell_tasks(tasks, ".", entry)


def relaxation_tasks(param: AutotestParam, confs: list[Path], command: str) -> list[PendingTask]:
    """Unfinished relaxation tasks (DP and teacher)."""
    pending = [lammps_task(relax_dir(c), Path("."), param.interaction, command, RELAX_OUTPUTS)
               for c in confs if (relax_dir(c) / "in.lammps").exists() and not lammps_finished(relax_dir(c))]
    pending += [p for p in (teacher.pending(reference_relax_dir(c), Path(".")) for c in confs) if p]
    return pending


def post_relaxation(param: AutotestParam, confs: list[Path]) -> None:
    """dpgen's ``post_equi`` on the confs whose LAMMPS relaxation finished (writes CONTCAR, result.json)."""
    from dpgen.auto_test.common_equi import post_equi

    done = [str(c) for c in confs if lammps_finished(relax_dir(c))]
    if done:
        post_equi(done, dict(param.interaction))


def run(param: AutotestParam, machine: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the relaxation, post it, make the properties that waited for it, run them."""
    check_model(param)
    mdata, machine_path = load_machine(machine)
    machine_path = str(Path(machine_path).resolve())
    command = lammps_command(mdata)
    counts = {"relaxation_tasks": 0, "property_tasks": 0}
    with working_directory(param.root):
        confs = conf_dirs(param, create=False)
        if param.relaxation is not None:
            pending = relaxation_tasks(param, confs, command)
            counts["relaxation_tasks"] = len(pending)
            dispatch(pending, mdata, machine_path)
            post_relaxation(param, confs)
        made, waiting = make_properties(param, confs)
        if waiting:
            raise UserInputError(f"{waiting[0]}: its relaxation has no CONTCAR; check "
                                 f"{relax_dir(Path(waiting[0]).parent)}/log.lammps (is 'relaxation' in the param file?)")
        pending = []
        for conf in confs:
            for prop in properties(param):
                pending += prop.pending_tasks(prop.work_dir(conf), Path("."), command)
        counts["property_tasks"] = len(pending)
        dispatch(pending, mdata, machine_path)
    return counts


# ---------------------------------------------------------------------------------------------
# post


def post(param: AutotestParam, output: str | os.PathLike | None = None) -> dict[str, Any]:
    """Post-process every finished step and write the report (``result.json``, ``report.md``, PNGs).

    Parameters
    ----------
    output
        Report directory (default ``<root>/autotest_report``), relative to the root.
    """
    from dpgen_llzo.autotest.report import write_report

    output = Path(output) if output is not None else Path("autotest_report")
    with working_directory(param.root):
        confs = conf_dirs(param, create=False)
        if param.relaxation is not None:
            post_relaxation(param, confs)
        results: dict[str, dict[str, Any]] = {}
        for conf in confs:
            entry: dict[str, Any] = {"relaxation": relaxation_result(conf)}
            for prop in properties(param):
                work = prop.work_dir(conf)
                if not (work / "property.json").is_file():
                    raise UserInputError(f"{work}: not made; run `dpgen-llzo autotest make` and `run` first")
                entry[prop.kind] = prop.post(conf, work)
            results[str(conf)] = entry
        report = write_report(param, results, output)
    return report


def relaxation_result(conf: Path) -> dict[str, Any]:
    """Cell of the DP relaxation (and the teacher's) of ``conf``; empty entries when not run."""
    from pymatgen.core import Structure

    from dpgen_llzo.autotest.cells import cell_parameters
    from dpgen_llzo.autotest.properties import read_json

    out: dict[str, Any] = {"input": cell_parameters(Structure.from_file(str(conf / "POSCAR")).lattice.matrix)}
    contcar = relax_dir(conf) / "CONTCAR"
    if contcar.is_file():
        relaxed = Structure.from_file(str(contcar))
        log_text = (relax_dir(conf) / "log.lammps").read_text(errors="replace")
        stops = [line.split("=", 1)[1].strip() for line in log_text.splitlines() if "Stopping criterion" in line]
        out["dp"] = {**cell_parameters(relaxed.lattice.matrix), "n_atoms": len(relaxed), "minimize_stopping": stops}
    if teacher.finished(reference_relax_dir(conf)):
        out["reference"] = read_json(reference_relax_dir(conf) / "result.json", "teacher relaxation result")
    return out
