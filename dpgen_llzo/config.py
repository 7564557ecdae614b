"""Settings of dpgen-llzo inside a DP-GEN ``param.json``, checked by dargs.

Our settings live under the key ``"_dpgen_llzo"`` of the same ``param.json`` that stock
``dpgen run`` reads: DP-GEN's schema trims keys that start with ``_`` before its strict check,
so the file stays valid for stock DP-GEN, while :func:`llzo_arginfo` checks our part strictly
(an unknown key is an error naming its path). This module is the one place where the
defaults are defined and documented; ``dpgen-llzo bundle doc`` prints them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dargs import Argument

from dpgen_llzo.errors import UserInputError

LLZO_KEY = "_dpgen_llzo"


def _labeler_args() -> list[Argument]:
    return [
        Argument("name", str, optional=True, default="chgnet", doc="Registered labeler (`dpgen-llzo label --list`)."),
        Argument("max_force_eV_A", float, optional=True, default=20.0, doc="Reject labelled frames with a force norm above this, eV/Å."),
        Argument("device", str, optional=True, default="cpu", doc="Torch device of the labeler."),
        Argument("model", str, optional=True, default="", doc="Model of the labeler: the model file of `deepmd` (absolute path, or relative to the work directory), a weights name or directory of `chgnet`/`diep`; empty = the wheel's default."),
        Argument("calculator", str, optional=True, default="", doc="Labeler `ase`: import path `module:Class` of the ASE calculator class (or factory), e.g. `ase.calculators.emt:EMT`."),
        Argument("calculator_kwargs", dict, optional=True, default={}, doc="Labeler `ase`: keyword arguments of that calculator, e.g. {\"sigma\": 2.0}."),
        Argument("min_distance_A", dict, optional=True, default={}, doc="Closest physical distance per element pair, Å, e.g. {\"Li-O\": 1.0}; frames with a closer pair are rejected before labelling. Pairs not given default to 0.45 x the sum of covalent radii (Li-O 0.87, Li-Li 1.15, Zr-O 1.09, La-O 1.23 Å)."),
    ]


def _short_range_args() -> list[Argument]:
    return [
        Argument("switch_on_A", float, optional=True, default=1.3, doc="The tabulated pair energy is the pure ZBL potential up to here, Å."),
        Argument("switch_off_A", float, optional=True, default=1.7, doc="... and zero from here on (C² quintic switch between), Å; below the shortest bond (Li-O 1.9 Å in LLZO)."),
        Argument("r_min_A", float, optional=True, default=0.05, doc="First distance of the table, Å."),
        Argument("dr_A", float, optional=True, default=0.002, doc="Grid step of the table, Å."),
    ]


def _perturb_args() -> list[Argument]:
    return [
        Argument("scales", list[float], optional=True, default=[0.98, 1.0, 1.02], doc="Isotropic scale factors of the lattice lengths."),
        Argument("n_perturbed", int, optional=True, default=2, doc="Perturbed frames per scale factor."),
        Argument("atom_displacement_A", float, optional=True, default=0.05, doc="Largest random atomic displacement, Å."),
        Argument("cell_strain", float, optional=True, default=0.01, doc="Largest random cell strain component (fraction)."),
    ]


def _md_args() -> list[Argument]:
    return [
        Argument("temperatures_K", list[float], doc="Temperatures of the teacher MD runs, K."),
        Argument("n_steps", int, optional=True, default=20, doc="MD steps per temperature."),
        Argument("timestep_fs", float, optional=True, default=1.0, doc="MD time step, fs."),
        Argument("sample_every", int, optional=True, default=5, doc="Keep one labelled frame every this many steps."),
        Argument("friction_per_fs", float, optional=True, default=0.02, doc="Langevin friction, 1/fs."),
    ]


def _melt_quench_args() -> list[Argument]:
    return [
        Argument("temperatures_K", list[float], optional=True, default=[3000.0, 2000.0, 1000.0, 500.0, 300.0], doc="Melt temperature first, then the quench temperatures in order; snapshots are taken at each (You et al.: melt at 3000 K, cool to 300 K, snapshots at 3000/2000/1000/500/300 K)."),
        Argument("melt_steps", int, optional=True, default=1000, doc="Unsampled steps at the melt temperature before the first snapshot (loses the crystal)."),
        Argument("n_steps", int, optional=True, default=200, doc="Steps held at each temperature."),
        Argument("sample_every", int, optional=True, default=50, doc="Keep one labelled frame every this many steps of a hold."),
        Argument("timestep_fs", float, optional=True, default=1.0, doc="MD time step, fs."),
        Argument("friction_per_fs", float, optional=True, default=0.02, doc="Langevin friction, 1/fs (it also sets how fast each quench step cools)."),
    ]


def _scan_args() -> list[Argument]:
    return [
        Argument("param", str, doc="Generator parameter to vary, e.g. `distance_A` of `dimer` or `a` of a reference crystal."),
        Argument("values", list[float], doc="Values of that parameter; one labelled frame each (the teacher rejects frames with absurd forces)."),
    ]


def _system_args() -> list[Argument]:
    return [
        Argument("name", str, doc="Directory of this system under the init output (e.g. `cubic`)."),
        Argument("generator", str, doc="Registered structure generator (`dpgen-llzo structures list`)."),
        Argument("params", dict, optional=True, default={}, doc="Keyword parameters of the generator (e.g. {\"a\": 12.97})."),
        Argument("seed", int, optional=True, default=0, doc="Seed of the generator."),
        Argument("supercell", list[int], optional=True, default=[1, 1, 1], doc="Supercell multiples."),
        Argument("perturb", dict, _perturb_args(), optional=True, default={}, doc="Scaled and perturbed frames (as dpgen init_bulk)."),
        Argument("md", dict, _md_args(), optional=True, doc="Short teacher MD; labelled snapshots join the training set."),
        Argument("validation", dict, _md_args(), optional=True, doc="Teacher MD kept out of training, used for the held-out report."),
        Argument("melt_quench", dict, _melt_quench_args(), optional=True, doc="Amorphous frames: one continuous teacher-MD run that melts the cell and quenches it stepwise; labelled snapshots at every temperature join the training set (dataset `<name>/melt_quench`)."),
        Argument("scan", dict, _scan_args(), optional=True, doc="One frame per value of a generator parameter (two-body `dimer` distance scans, lattice-parameter scans); joins training."),
    ]


def _init_args() -> list[Argument]:
    return [
        Argument("output", str, optional=True, default="init", doc="Output directory, relative to the work directory; must equal `init_data_prefix` and `sys_configs_prefix`."),
        Argument("seed", int, optional=True, default=2024, doc="Seed of perturbations and MD velocities."),
        Argument("systems", list, doc="Systems of the initial data set; each is checked by `system_arginfo`."),
        Argument("jobs", int, optional=True, default=1, doc="Jobs the labelling tasks of small cells are split into (dpdispatcher jobs with the machine file's fp resources; a Shell batch runs them side by side). The teacher needs ~3 GB per 192-atom cell."),
        Argument("serial_above_atoms", int, optional=True, default=400, doc="Tasks on cells with more atoms than this run after the others, one after another in one job: CHGNet needed ~14 GB and ~50 s per 1152-atom grain-boundary frame here."),
    ]


def _coverage_args() -> list[Argument]:
    return [
        Argument("enabled", bool, optional=True, default=True, doc="Run the coverage step after exploration in `dpgen-llzo run`."),
        Argument("threshold", float, optional=True, default=0.995, doc="Coverage at or above which an iteration counts as converged (the paper reached 0.9951)."),
        Argument("consecutive", int, optional=True, default=2, doc="Stop after this many consecutive converged iterations."),
        Argument("criterion", str, optional=True, default="overall", doc="`overall`: the coverage of all environments must reach the threshold; `every_element`: each element's coverage must."),
        Argument("variance", float, optional=True, default=0.95, doc="Cumulative explained variance that sets the number of principal components."),
        Argument("bins", int, optional=True, default=50, doc="Grid cells per axis of every 2-D component-pair grid."),
        Argument("max_train_frames", int, optional=True, default=100, doc="Training frames sampled (seeded) for the descriptors of the training set."),
        Argument("max_test_frames", int, optional=True, default=100, doc="Explored (model_devi trajectory) frames sampled (seeded) for the test set."),
        Argument("seed", int, optional=True, default=2024, doc="Seed of the frame sampling."),
        Argument("per_element", bool, optional=True, default=True, doc="Also compute the coverage of each element's environments (own PCA per element)."),
    ]


def _augmentation_args() -> list[Argument]:
    return [
        Argument("enabled", bool, optional=True, default=False, doc="Error-driven augmentation (You et al. 2024): label a random sample of explored frames whatever their model deviation, keep those whose DP energy error exceeds the threshold."),
        Argument("n_frames", int, optional=True, default=10, doc="Explored frames labelled per iteration."),
        Argument("energy_error_threshold", float, optional=True, default=0.01, doc="Relative total-energy error |E_DP - E_ref| / |E_ref| above which a frame joins the training data (0.01 = the paper's 1 %)."),
        Argument("seed", int, optional=True, default=2024, doc="Seed of the frame sampling."),
    ]


def _gb_args() -> list[Argument]:
    return [
        Argument("carve", bool, optional=True, default=False, doc="`dpgen-llzo run`: after make_fp, replace every fp task whose POSCAR has more than `carve_min_atoms` atoms by small periodic cells carved around its atoms of largest force deviation (`dpgen_llzo.loop.gb_stage`)."),
        Argument("carve_min_atoms", int, optional=True, default=400, doc="fp tasks with more atoms than this are carved."),
        Argument("centres_per_frame", int, optional=True, default=2, doc="Carved cells per large frame (centres at least 2·radius apart)."),
        Argument("radius_A", float, optional=True, default=7.0, doc="Atoms within this distance of a centre keep their exact environment, Å; must exceed the descriptor rcut."),
        Argument("mode", str, optional=True, default="periodic", doc="`periodic` (sub-cell of the parent's shape) or `vacuum` (block in a 40 Å box, as the PCA-coverage paper)."),
        Argument("stage_jobs", list[int], optional=True, default=[], doc="Indices of `model_devi_jobs` that form the grain-boundary stage ([] = no stage: the schedule is followed by index, as `dpgen run`)."),
        Argument("start_when", str, optional=True, default="bulk_converged", doc="`bulk_converged`: run the bulk jobs in order and start the GB stage after the iteration where the coverage criterion is met (or when the bulk jobs run out); `schedule`: follow model_devi_jobs by index; the coverage stop only counts GB-stage iterations."),
    ]


def llzo_arginfo() -> Argument:
    """The dargs definition of the ``_dpgen_llzo`` section."""
    return Argument(
        LLZO_KEY,
        dict,
        [
            Argument("labeler", dict, _labeler_args(), optional=True, default={}, doc="The embedded teacher."),
            Argument("init", dict, _init_args(), optional=True, default={"systems": []}, doc="`dpgen-llzo init`: the initial data set."),
            Argument("coverage", dict, _coverage_args(), optional=True, default={"enabled": True}, doc="`dpgen-llzo run`: PCA coverage of the explored environments and the stop criterion."),
            Argument("augmentation", dict, _augmentation_args(), optional=True, default={"enabled": False}, doc="`dpgen-llzo run`: error-driven augmentation of the training data."),
            Argument("gb", dict, _gb_args(), optional=True, default={}, doc="`dpgen-llzo run`: grain-boundary stage and carving of large fp tasks."),
            Argument("short_range", dict, _short_range_args(), optional=True, default={}, doc="ZBL baseline: when the param.json has `srtab_file_path`, `dpgen-llzo init` writes that table (every type pair of `type_map`) with these settings, and checks that `default_training_param/model/use_srtab` names it."),
        ],
        doc="dpgen-llzo settings; ignored by stock dpgen.",
    )


def system_arginfo() -> Argument:
    """The dargs definition of one entry of ``_dpgen_llzo.init.systems``."""
    return Argument("system", dict, _system_args(), doc="One system of the initial data set.")


def coverage_arginfo() -> Argument:
    """The dargs definition of ``_dpgen_llzo.coverage`` (to normalise a partial section)."""
    return Argument("coverage", dict, _coverage_args(), doc="PCA coverage step and stop criterion.")


def augmentation_arginfo() -> Argument:
    """The dargs definition of ``_dpgen_llzo.augmentation``."""
    return Argument("augmentation", dict, _augmentation_args(), doc="Error-driven augmentation.")


def load_json(path: str | os.PathLike, what: str = "JSON file") -> dict[str, Any]:
    """Read a JSON object from ``path``; every way it can fail is a one-line UserInputError.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message when it is missing ("param file", "lattice JSON").
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: {what} not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


def normalize_checked(arginfo: Argument, data: Any, path: str | os.PathLike, where: str) -> dict[str, Any]:
    """Fill dargs defaults into ``data`` and check it strictly (unknown keys are errors).

    Keys starting with ``_`` are dropped, as DP-GEN does. A failure is a one-line
    UserInputError naming ``path``, ``where`` and the key path dargs reports.
    """
    try:
        value = arginfo.normalize_value(data, trim_pattern="_*")
        # dargs fills a missing sub-section with its default ({}) but not that section's own
        # defaults; a second pass fills them (our sections nest two levels deep).
        value = arginfo.normalize_value(value, trim_pattern="_*")
        arginfo.check_value(value, strict=True)
    except Exception as exc:  # dargs raises ArgumentKeyError/ArgumentTypeError/ArgumentValueError
        message = str(exc).replace("[at root location] ", "").replace("[at location `", "[").replace("`]", "]")
        raise UserInputError(f"{path}: {where}: {message}") from None
    return value


def load_llzo_settings(param_path: str | Path) -> dict[str, Any]:
    """Read and check the ``_dpgen_llzo`` section of a param.json, defaults filled in.

    Raises
    ------
    UserInputError
        If the file is unreadable or the section breaks the schema (the message names the
        file and the key path).
    """
    path = Path(param_path)
    param = load_json(path)
    section = param.get(LLZO_KEY, {})
    settings = normalize_checked(llzo_arginfo(), section, path, LLZO_KEY)
    systems = []
    for index, system in enumerate(settings["init"].get("systems", [])):
        systems.append(normalize_checked(system_arginfo(), system, path, f"{LLZO_KEY}/init/systems[{index}]"))
    settings["init"]["systems"] = systems
    return settings


def check_dpgen_param(param_path: str | Path) -> dict[str, Any]:
    """Check a param.json with DP-GEN's own schema, strictly, as ``dpgen run`` does."""
    from dpgen.generator.arginfo import run_jdata_arginfo

    path = Path(param_path)
    return normalize_checked(run_jdata_arginfo(), load_json(path), path, "dpgen run schema")


MACHINE_SECTIONS = ("train", "model_devi", "fp")


def check_dpgen_machine(machine_path: str | Path) -> dict[str, Any]:
    """Check a machine.json with DP-GEN's own schema, strictly, and that dpdispatcher knows its batch and context types.

    DP-GEN's schema accepts any string as ``batch_type``/``context_type``; dpdispatcher would
    fail on a misspelt one only when the first job is submitted, with a bare ``KeyError``.

    Raises
    ------
    UserInputError
        One line naming the file, the section and the key.
    """
    from dpdispatcher.base_context import BaseContext
    from dpdispatcher.machine import Machine
    from dpgen.generator.arginfo import run_mdata_arginfo

    path = Path(machine_path)
    mdata = normalize_checked(run_mdata_arginfo(), load_json(path), path, "dpgen machine schema")
    known = {"batch_type": Machine.subclasses_dict, "context_type": BaseContext.subclasses_dict}
    for section in MACHINE_SECTIONS:
        entries = mdata.get(section)
        for index, entry in enumerate(entries if isinstance(entries, list) else [entries] if entries else []):
            where = f"{section}[{index}]" if isinstance(entries, list) else section
            for key, registry in known.items():
                value = entry.get("machine", {}).get(key)
                if value is not None and value not in registry:
                    names = sorted({name for name in registry if name[0].isupper()})
                    raise UserInputError(f"{path}: {where}/machine/{key}: unknown {value!r}; dpdispatcher knows {', '.join(names)}")
    return mdata
