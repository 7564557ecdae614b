"""``dpgen-llzo init``: build, label and collect the initial training set."""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpgen_llzo.dispatch import ShellTask
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.init_data.plan import KINDS, TRAINING_KINDS, InitTask, plan_init_tasks, training_datasets

log = logging.getLogger(__name__)

LABELED_DIR = "labeled"
TASKS_DIR = "tasks"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class DatasetCount:
    """Frames collected into one dataset and frames rejected by the screen."""

    dataset: str
    kind: str
    frames: int
    rejected: int
    tasks_without_data: int


def check_param_matches_plan(param: dict[str, Any], init: dict[str, Any], tasks: list[InitTask], param_path: Path) -> None:
    """Refuse a param.json whose DP-GEN paths disagree with what ``init`` produces."""
    output = os.path.normpath(init["output"])
    for key in ("init_data_prefix", "sys_configs_prefix"):
        if key in param and os.path.normpath(param[key]) != output:
            raise UserInputError(f"{param_path}: {key} is {param[key]!r} but _dpgen_llzo.init.output is {init['output']!r}")
    expected = training_datasets(tasks)
    listed = [os.path.normpath(p) for p in param.get("init_data_sys", [])]
    if sorted(listed) != sorted(expected):
        raise UserInputError(f"{param_path}: init_data_sys is {listed} but _dpgen_llzo.init produces {expected}")
    systems = {system["name"] for system in init["systems"]}
    for index, configs in enumerate(param.get("sys_configs", [])):
        for config in configs:
            if config.split("/")[0] not in systems:
                raise UserInputError(f"{param_path}: sys_configs[{index}] {config!r} is not under an init system ({sorted(systems)})")


def _label_command(labeler: dict[str, Any], type_map: list[str], input_name: str, input_fmt: str) -> str:
    command = (
        f"dpgen-llzo label {input_name} --input-fmt {input_fmt} --output {LABELED_DIR} --drop-rejected "
        f"--labeler {shlex.quote(labeler['name'])} --type-map {','.join(type_map)} "
        f"--max-force {labeler['max_force_eV_A']} --device {shlex.quote(labeler['device'])}"
    )
    if labeler.get("model"):
        command += f" --model {shlex.quote(os.path.abspath(labeler['model']) if os.path.exists(labeler['model']) else labeler['model'])}"
    if labeler.get("calculator"):
        command += f" --calculator {shlex.quote(labeler['calculator'])}"
    if labeler.get("calculator_kwargs"):
        command += f" --calc-kwargs {shlex.quote(json.dumps(labeler['calculator_kwargs'], separators=(',', ':')))}"
    if labeler.get("min_distance_A"):
        pairs = ",".join(f"{pair}={value}" for pair, value in labeler["min_distance_A"].items())
        command += f" --min-distance {shlex.quote(pairs)}"
    return _tolerate_rejection(command)


def check_fp_labeler(labeler: dict[str, Any], machine_path: Path) -> None:
    """Refuse a machine file whose ``dpgen-llzo label`` fp command names another teacher than the param.

    The labels of one run must come from one teacher: each has its own energy zero
    (CHGNet sits ~0.33 eV/atom below the others) and its own errors.
    """
    from dpgen_llzo.config import load_json

    fp = load_json(machine_path, "machine file").get("fp") or {}
    for index, entry in enumerate(fp if isinstance(fp, list) else [fp]):
        words = shlex.split(str(entry.get("command", "")).split("||")[0]) if isinstance(entry, dict) else []
        if words[:2] != ["dpgen-llzo", "label"]:
            continue
        named = words[words.index("--labeler") + 1] if "--labeler" in words[:-1] else "chgnet"
        where = f"fp[{index}]/command" if isinstance(fp, list) else "fp/command"
        if named != labeler["name"]:
            raise UserInputError(
                f"{machine_path}: {where}: labels with --labeler {named} but the param's _dpgen_llzo/labeler/name is "
                f"{labeler['name']!r}; the labels of one run must come from one teacher"
            )
        calculator = words[words.index("--calculator") + 1] if "--calculator" in words[:-1] else ""
        if named == "ase" and calculator != labeler.get("calculator", ""):
            raise UserInputError(
                f"{machine_path}: {where}: labels with --calculator {calculator or '(none)'} but the param's "
                f"_dpgen_llzo/labeler/calculator is {labeler.get('calculator', '')!r}; the labels of one run must come from one teacher"
            )
        if named == "ase":
            from dpgen_llzo.labelers.ase_labeler import parse_calculator_kwargs

            given = words[words.index("--calc-kwargs") + 1] if "--calc-kwargs" in words[:-1] else ""
            if parse_calculator_kwargs(given, f"{machine_path}: {where}: --calc-kwargs") != (labeler.get("calculator_kwargs") or {}):
                raise UserInputError(
                    f"{machine_path}: {where}: --calc-kwargs {given or '(none)'} differ from the param's "
                    f"_dpgen_llzo/labeler/calculator_kwargs {json.dumps(labeler.get('calculator_kwargs') or {})}; "
                    "the labels of one run must come from one teacher"
                )


def write_short_range_table(param: dict[str, Any], short_range: dict[str, Any], param_path: Path) -> Path | None:
    """Write the ZBL table named by the param's ``srtab_file_path`` (relative to the work directory).

    Raises
    ------
    UserInputError
        If ``default_training_param/model/use_srtab`` does not name the table's file.
    """
    from dpgen_llzo.short_range import ZBLTable, write_zbl_table

    table_path = param.get("srtab_file_path")
    if not table_path:
        return None
    model = (param.get("default_training_param") or {}).get("model") or {}
    if model.get("use_srtab") != os.path.basename(table_path):
        raise UserInputError(
            f"{param_path}: default_training_param/model/use_srtab is {model.get('use_srtab')!r}; with srtab_file_path "
            f"{table_path!r} it must be {os.path.basename(table_path)!r} (DP-GEN copies the table into each training task)"
        )
    for key in ("smin_alpha", "sw_rmin", "sw_rmax"):
        if key not in model:
            raise UserInputError(f"{param_path}: default_training_param/model/{key} is needed with use_srtab")
    try:
        settings = ZBLTable(short_range["r_min_A"], short_range["dr_A"], short_range["switch_on_A"], short_range["switch_off_A"])
    except ValueError as exc:
        raise UserInputError(f"{param_path}: _dpgen_llzo/short_range: {exc}") from None
    path = write_zbl_table(table_path, list(param["type_map"]), settings)
    log.info("ZBL pair table for %s -> %s", "/".join(param["type_map"]), path)
    return path


def _tolerate_rejection(command: str) -> str:
    """Make the shell treat "all frames rejected" as a finished task with no data."""
    from dpgen_llzo.labelers.cli import EXIT_REJECTED

    return f"{command} || test $? -eq {EXIT_REJECTED}"


def _frames_task(task: InitTask, frames: list, task_dir: Path, labeler: dict[str, Any], type_map: list[str]) -> ShellTask:
    """Write ``frames`` (pymatgen structures) as ``frames/`` (deepmd/npy) and a labelling task."""
    import dpdata

    system = dpdata.System()
    for frame in frames:
        system.append(dpdata.System(frame, fmt="pymatgen/structure"))
    system.sort_atom_names(type_map=type_map)
    system.to("deepmd/npy", str(task_dir / "frames"))
    return ShellTask(task.name, _label_command(labeler, type_map, "frames", "deepmd/npy"), ("frames",), (LABELED_DIR,))


def _prepare_task(task: InitTask, structure, task_dir: Path, labeler: dict[str, Any], type_map: list[str]) -> ShellTask:
    """Write a task's inputs and return its :class:`~dpgen_llzo.dispatch.ShellTask`."""
    from dpgen_llzo.structures import build_structure
    from dpgen_llzo.structures.perturb import perturbed_frames

    task_dir.mkdir(parents=True, exist_ok=True)
    if task.kind == "perturbed":
        spec = task.spec
        frames = perturbed_frames(
            structure, spec["scales"], spec["n_perturbed"], spec["atom_displacement_A"], spec["cell_strain"], seed=task.seed
        )
        return _frames_task(task, frames, task_dir, labeler, type_map)
    if task.kind == "scan":
        spec = task.spec
        frames = [
            build_structure(spec["generator"], seed=spec["seed"], supercell=spec["supercell"], **{**spec["params"], spec["param"]: value})
            for value in spec["values"]
        ]
        return _frames_task(task, frames, task_dir, labeler, type_map)
    structure.to(filename=str(task_dir / "POSCAR"), fmt="poscar")
    spec = {"seed": task.seed, "labeler": labeler, "type_map": type_map, **task.spec}
    (task_dir / "task.json").write_text(json.dumps(spec, indent=2))
    return ShellTask(task.name, _tolerate_rejection(f"dpgen-llzo teacher-md task.json --output {LABELED_DIR}"), ("task.json", "POSCAR"), (LABELED_DIR,))


def _collect(tasks: list[InitTask], tasks_dir: Path, out: Path) -> list[DatasetCount]:
    """Merge every task's labelled frames into ``out/<system>/<kind>`` (deepmd/npy)."""
    import dpdata

    from dpgen_llzo.labelers.labelling import write_deepmd_npy

    counts = []
    for dataset in dict.fromkeys(task.dataset for task in tasks):
        members = [task for task in tasks if task.dataset == dataset]
        merged = None
        missing = 0
        for task in members:
            labeled = tasks_dir / task.name / LABELED_DIR
            if not labeled.is_dir():
                missing += 1
                continue
            system = dpdata.LabeledSystem(str(labeled), fmt="deepmd/npy")
            merged = system if merged is None else merged + system
        rejected = sum(_rejected_in_log(tasks_dir / task.name) for task in members)
        if merged is not None:
            write_deepmd_npy(merged, out / dataset)
        counts.append(DatasetCount(dataset, members[0].kind, 0 if merged is None else len(merged), rejected, missing))
    return counts


def _rejected_in_log(task_dir: Path) -> int:
    log_file = task_dir / "task.log"
    if not log_file.is_file():
        return 0
    return sum(1 for line in log_file.read_text(errors="replace").splitlines() if line.startswith("rejected frame "))


def frames_per_kind(counts: list[DatasetCount]) -> dict[str, int]:
    """Frames of each dataset kind (``perturbed``, ``md``, ``melt_quench``, ``scan``, ``validation``), in plan order."""
    totals = {kind: 0 for kind in KINDS if any(c.kind == kind for c in counts)}
    for c in counts:
        totals[c.kind] += c.frames
    return totals


def format_table(counts: list[DatasetCount]) -> str:
    """A plain-text table of frames per dataset, then per kind."""
    rows = [f"{'dataset':28s} {'kind':11s} {'frames':>7s} {'rejected':>9s}"]
    rows += [f"{c.dataset:28s} {c.kind:11s} {c.frames:7d} {c.rejected:9d}" for c in counts]
    rows += [f"{'all ' + kind:40s} {frames:7d}" for kind, frames in frames_per_kind(counts).items()]
    total = sum(c.frames for c in counts if c.kind in TRAINING_KINDS)
    rows.append(f"{'training frames in total':40s} {total:7d}")
    return "\n".join(rows)


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def copy_templates(destination: Path = Path("templates")) -> bool:
    """Copy the bundled ``templates/`` (VASP INCAR, LAMMPS stage templates) into the work directory.

    DP-GEN resolves ``fp_incar`` and ``model_devi_jobs[*].template`` relative to where ``dpgen
    run`` starts, so the bundles name them ``templates/...`` and the work directory gets a copy.
    An existing ``templates/`` (possibly edited by the user) is left alone.
    """
    if destination.exists() or not TEMPLATES.is_dir():
        return False
    shutil.copytree(TEMPLATES, destination)
    return True


def schedule_batches(
    pending: list[ShellTask], n_atoms: dict[str, int], jobs: int, serial_above_atoms: int, source: str | os.PathLike = "param.json"
) -> list[tuple[list[ShellTask], int]]:
    """Split the pending tasks into submissions: small cells over ``jobs`` jobs, then large cells in one.

    Parameters
    ----------
    pending
        Tasks still to run, in plan order.
    n_atoms
        Atom count of each task's cell, by task directory (the init task name).
    jobs
        Jobs the small-cell tasks are spread over (they run side by side under a Shell batch).
    serial_above_atoms
        Cells with more atoms run afterwards, one after another (the teacher's memory grows
        steeply with cell size).
    source
        File named in error messages.

    Returns
    -------
    list of (tasks, group_size)
        Submissions to run in order; ``group_size`` tasks share one job.
    """
    if jobs < 1:
        raise UserInputError(f"{source}: _dpgen_llzo/init/jobs: must be at least 1, got {jobs}")
    if serial_above_atoms < 1:
        raise UserInputError(f"{source}: _dpgen_llzo/init/serial_above_atoms: must be at least 1, got {serial_above_atoms}")
    small = [task for task in pending if n_atoms[task.directory] <= serial_above_atoms]
    large = [task for task in pending if n_atoms[task.directory] > serial_above_atoms]
    batches = []
    if small:
        batches.append((small, math.ceil(len(small) / jobs)))
    if large:
        batches.append((large, len(large)))
    return batches


def with_group_size(machine_entry: dict, group_size: int) -> dict:
    """A copy of a machine.json section whose resources put ``group_size`` tasks in a job."""
    resources = dict(machine_entry["resources"], group_size=group_size)
    return dict(machine_entry, resources=resources)


def build_initial_data(param_path: str | os.PathLike, machine_path: str | os.PathLike) -> list[DatasetCount]:
    """Build the initial data set described by ``param_path`` in the current directory.

    Writes ``<output>/<system>/POSCAR`` (exploration start), ``<output>/<system>/<kind>``
    (deepmd/npy datasets), ``<output>/tasks/`` (the labelling tasks) and
    ``<output>/summary.json``. Tasks that already finished are not run again.
    """
    from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
    from dpgen_llzo.config import check_dpgen_machine, check_dpgen_param, load_llzo_settings
    from dpgen_llzo.dispatch import ensure_interpreter_on_path, machine_section, relative_to_cwd, run_shell_tasks
    from dpgen_llzo.structures import build_structure
    from dpgen_llzo.structures.common import check_init_structure

    ensure_interpreter_on_path()
    param_path, machine_path = Path(param_path), Path(machine_path)
    settings = load_llzo_settings(param_path)
    param = check_dpgen_param(param_path)
    machine = machine_section(check_dpgen_machine(machine_path), "fp", machine_path)
    init, labeler, type_map = settings["init"], settings["labeler"], list(param["type_map"])
    if not init["systems"]:
        raise UserInputError(f"{param_path}: _dpgen_llzo/init/systems is empty")
    tasks = plan_init_tasks(init)
    check_param_matches_plan(param, init, tasks, param_path)
    check_fp_labeler(labeler, machine_path)
    if labeler["name"] == "ase":  # a bad import path fails here, before any task is written
        from dpgen_llzo.labelers.ase_labeler import resolve_calculator

        try:
            resolve_calculator(labeler.get("calculator", ""))
        except UserInputError as error:
            raise UserInputError(f"{param_path}: _dpgen_llzo/labeler: {error}") from None
    write_short_range_table(param, settings["short_range"], param_path)

    out = Path(init["output"])
    tasks_dir = out / TASKS_DIR
    structures = {}
    for index, system in enumerate(init["systems"]):  # build and check every cell before writing any
        where = f"{param_path}: _dpgen_llzo/init/systems[{index}] ({system['name']})"
        try:
            structure = build_structure(system["generator"], seed=system["seed"], supercell=system["supercell"], **system["params"])
        except UserInputError as error:
            raise UserInputError(f"{where}: {error}") from None
        check_init_structure(structure, type_map, where)
        structures[system["name"]] = structure
    if copy_templates():
        log.info("copied the bundled templates/ into the work directory")
    for system in init["systems"]:
        structure = structures[system["name"]]
        (out / system["name"]).mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / system["name"] / "POSCAR", structure.to(fmt="poscar"))
        log.info("system %s: %s (%d atoms)", system["name"], structure.composition.formula, len(structure))

    pending = []
    for task in tasks:
        task_dir = tasks_dir / task.name
        if (task_dir / LABELED_DIR).is_dir():
            continue  # finished in an earlier run
        if task_dir.exists():
            shutil.rmtree(task_dir)
        pending.append(_prepare_task(task, structures[task.system], task_dir, labeler, type_map))
    log.info("%d init tasks, %d to run", len(tasks), len(pending))
    sizes = {task.name: len(structures[task.system]) for task in tasks}
    for batch, group_size in schedule_batches(pending, sizes, init["jobs"], init["serial_above_atoms"], param_path):
        run_shell_tasks(batch, relative_to_cwd(tasks_dir), with_group_size(machine, group_size))

    counts = _collect(tasks, tasks_dir, out)
    summary = {
        "labeler": labeler,
        "seed": init["seed"],
        "datasets": [c.__dict__ for c in counts],
        "training_datasets": training_datasets(tasks),
    }
    write_json_atomic(out / SUMMARY_FILE, summary)
    return counts
