"""The autotest property registry and the pieces every property shares.

A property is a small class registered in :data:`AUTOTEST_PROPERTIES` under the ``type`` it
answers to in the autotest param file. It declares its settings with dargs
(:meth:`AutotestProperty.arguments`, checked strictly by :mod:`.param`) and does three things,
one per ``dpgen-llzo autotest`` step:

``make(conf_dir, work_dir, equi_dir)``
    write the task directories ``work_dir/task.NNNNNN`` (and ``reference.NNNNNN``);
``pending_tasks(work_dir, root, lammps_command)``
    the unfinished tasks as :class:`PendingTask` (a shell task and the machine.json section
    that runs it);
``post(conf_dir, work_dir)``
    read the finished tasks, write ``work_dir/result.json`` and ``result.out``, return the
    result.

DP-GEN's own properties (``eos``, ``elastic``) register here as :class:`DpgenProperty`
subclasses that hand ``make`` and ``post`` to ``dpgen.auto_test.common_prop``; their LAMMPS
tasks are shipped by our runner (see :mod:`.workflow` for why).
"""

from __future__ import annotations

import copy
import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dargs import Argument

from dpgen_llzo.analysis._io import read_json  # noqa: F401  (re-exported: checked JSON reads)
from dpgen_llzo.atomic_io import write_json_atomic as write_json  # noqa: F401  (numpy-safe, NaN → null)
from dpgen_llzo.dispatch import ShellTask
from dpgen_llzo.registry import Registry

#: machine.json section that runs the DP (LAMMPS) tasks, as in ``dpgen autotest``.
DP_SECTION = "model_devi"
#: machine.json section that runs the teacher tasks; falls back to ``fp`` when absent.
REFERENCE_SECTION = "autotest_reference"


@dataclass(frozen=True)
class PendingTask:
    """A task still to run: the machine.json section to use and the shell task (paths relative to the work root)."""

    section: str
    task: ShellTask


class AutotestProperty:
    """Base class of a registered autotest property.

    Parameters
    ----------
    parameters
        This property's entry of ``properties`` in the param file, checked and with defaults.
    interaction
        The ``interaction`` entry (``type``, ``model``, ``type_map``), model path absolute.
    """

    #: the ``type`` this class answers to (set by :func:`register_property`).
    kind: ClassVar[str] = ""

    def __init__(self, parameters: dict[str, Any], interaction: dict[str, Any]) -> None:
        self.parameters = copy.deepcopy(parameters)
        self.interaction = interaction

    @classmethod
    def arguments(cls) -> list[Argument]:
        """dargs definitions of the keys this property accepts besides ``type`` and ``skip``."""
        return []

    def work_dir(self, conf_dir: Path) -> Path:
        """``conf_dir/<type>_00``, as dpgen autotest names a property computed from scratch."""
        return conf_dir / f"{self.kind}_00"

    def make(self, conf_dir: Path, work_dir: Path, equi_dir: Path) -> None:
        raise NotImplementedError

    def pending_tasks(self, work_dir: Path, root: Path, lammps_command: str) -> list[PendingTask]:
        raise NotImplementedError

    def post(self, conf_dir: Path, work_dir: Path) -> dict[str, Any]:
        raise NotImplementedError


AUTOTEST_PROPERTIES: Registry[type[AutotestProperty]] = Registry("autotest property")


def register_property(name: str, summary: str):
    """Class decorator: register an :class:`AutotestProperty` subclass under ``name``."""

    def decorator(cls: type[AutotestProperty]) -> type[AutotestProperty]:
        cls.kind = name
        return AUTOTEST_PROPERTIES.register(name, summary=summary)(cls)

    return decorator


# ---------------------------------------------------------------------------------------------
# LAMMPS tasks shared by the relaxation, dpgen's properties and our DP MD


def type_map_list(interaction: dict[str, Any]) -> list[str]:
    """Elements of ``interaction.type_map`` in type-index order."""
    return [name for name, _ in sorted(interaction["type_map"].items(), key=lambda kv: kv[1])]


def model_name(interaction: dict[str, Any]) -> str:
    """File name of the model inside every task directory."""
    return Path(interaction["model"]).name


def lammps_finished(task_dir: Path) -> bool:
    """True when ``task_dir/log.lammps`` shows a completed LAMMPS run."""
    log = task_dir / "log.lammps"
    return log.is_file() and "Total wall time" in log.read_text(errors="replace")


def lammps_task(task_dir: Path, root: Path, interaction: dict[str, Any], command: str,
                backward: tuple[str, ...]) -> PendingTask:
    """A LAMMPS task in ``task_dir``: forwards ``conf.lmp``, ``in.lammps`` and the model.

    Every file the task needs is forwarded from the task directory itself (links are
    followed when copied), so the task runs with any dpdispatcher context.
    """
    return PendingTask(DP_SECTION, ShellTask(
        directory=str(task_dir.relative_to(root)),
        command=f"{command} -i in.lammps",
        forward_files=("conf.lmp", "in.lammps", model_name(interaction)),
        backward_files=backward,
    ))


def link_model(interaction: dict[str, Any], task_dir: Path, poscar: Path) -> None:
    """Link the model into ``task_dir`` (through ``task_dir/..``) and write ``conf.lmp`` and ``inter.json``.

    Uses dpgen's own ``Lammps.make_potential_files`` and ``cvt_lammps_conf``, so the layout is
    the one dpgen autotest writes.
    """
    from dpgen.auto_test.Lammps import Lammps
    from dpgen.auto_test.lib.lammps import cvt_lammps_conf, element_list

    calculator = Lammps(dict(interaction), str(poscar))
    calculator.make_potential_files(str(task_dir.resolve()))
    cvt_lammps_conf(str(poscar), str(task_dir / "conf.lmp"), element_list(interaction["type_map"]))


def task_dirs(work_dir: Path, prefix: str = "task") -> list[Path]:
    """``work_dir/<prefix>.NNNNNN`` directories, sorted."""
    return [Path(p) for p in sorted(glob.glob(str(work_dir / f"{prefix}.[0-9]*[0-9]")))]


# ---------------------------------------------------------------------------------------------
# dpgen's own properties, delegated to dpgen.auto_test.common_prop


def _cal_setting_args() -> list[Argument]:
    return [
        Argument("relax_pos", bool, optional=True, doc="Relax atomic positions."),
        Argument("relax_shape", bool, optional=True, doc="Relax the cell shape."),
        Argument("relax_vol", bool, optional=True, doc="Relax the cell volume."),
        Argument("etol", float, optional=True, doc="LAMMPS minimize energy tolerance."),
        Argument("ftol", float, optional=True, doc="LAMMPS minimize force tolerance, eV/Å."),
        Argument("maxiter", int, optional=True, doc="LAMMPS minimize iterations."),
        Argument("maxeval", int, optional=True, doc="LAMMPS minimize force evaluations."),
        Argument("input_prop", str, optional=True, doc="A LAMMPS input file used instead of the generated one."),
    ]


def cal_setting_argument(doc: str) -> Argument:
    """dpgen's ``cal_setting`` block (LAMMPS minimisation settings)."""
    return Argument("cal_setting", dict, _cal_setting_args(), optional=True, doc=doc)


class DpgenProperty(AutotestProperty):
    """A property computed by dpgen autotest's own classes (``make_property``/``post_property``)."""

    def dpgen_parameters(self) -> dict[str, Any]:
        params = {k: copy.deepcopy(v) for k, v in self.parameters.items() if k != "skip"}
        return params

    def make(self, conf_dir: Path, work_dir: Path, equi_dir: Path) -> None:
        from dpgen.auto_test.common_prop import make_property

        make_property([str(conf_dir)], dict(self.interaction), [self.dpgen_parameters()])

    def pending_tasks(self, work_dir: Path, root: Path, lammps_command: str) -> list[PendingTask]:
        return [lammps_task(t, root, self.interaction, lammps_command,
                            ("log.lammps", "dump.relax", "outlog"))
                for t in task_dirs(work_dir) if not lammps_finished(t)]

    def post(self, conf_dir: Path, work_dir: Path) -> dict[str, Any]:
        from dpgen.auto_test.common_prop import post_property

        from dpgen_llzo.errors import UserInputError

        unfinished = [t for t in task_dirs(work_dir) if not lammps_finished(t)]
        if unfinished:
            raise UserInputError(f"{unfinished[0]}: LAMMPS has not finished; run `dpgen-llzo autotest run` first")
        post_property([str(conf_dir)], dict(self.interaction), [self.dpgen_parameters()])
        return read_json(work_dir / "result.json", f"{self.kind} result")


@register_property("eos", summary="dpgen: E(V) at fixed scaled volumes (relaxed positions); we add a Birch-Murnaghan fit (V0, a0, B0)")
class EquationOfState(DpgenProperty):
    """dpgen's EOS; :meth:`post` adds the Birch–Murnaghan fit in ``eos_fit.json``."""

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("vol_start", float, doc="First volume: a factor of the relaxed volume (or Å³/atom with vol_abs)."),
            Argument("vol_end", float, doc="Volumes stop below this value."),
            Argument("vol_step", float, doc="Volume step."),
            Argument("vol_abs", bool, optional=True, default=False, doc="Volumes in Å³/atom instead of factors."),
            cal_setting_argument("Minimisation at each volume (default: positions and shape at fixed volume)."),
        ]

    def post(self, conf_dir: Path, work_dir: Path) -> dict[str, Any]:
        from dpgen_llzo.autotest.cells import fit_eos

        energies = super().post(conf_dir, work_dir)
        fit = fit_eos(energies, equi_dir=conf_dir / "relaxation" / "relax_task")
        write_json(work_dir / "eos_fit.json", fit)
        return {"energies_eV_atom": {float(k): float(v) for k, v in energies.items()}, "fit": fit}


@register_property("elastic", summary="dpgen: elastic constants from strained cells (stress-strain)")
class ElasticConstants(DpgenProperty):
    """dpgen's elastic constants; ``result.json`` holds C_ij (GPa) and the moduli."""

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("norm_deform", float, optional=True, default=1e-2, doc="Normal strain."),
            Argument("shear_deform", float, optional=True, default=1e-2, doc="Shear strain."),
            cal_setting_argument("Minimisation of each strained cell (default: positions only)."),
        ]


def load_result(work_dir: Path) -> dict[str, Any] | None:
    """``work_dir/result.json`` or None."""
    path = work_dir / "result.json"
    return json.loads(path.read_text()) if path.is_file() else None
