"""The study-section registry and the pieces every section shares.

A section answers one question of the study (the t→c transition, bulk transport, ...). It is
a small class registered in :data:`STUDY_SECTIONS` under the key it owns in the plan file; it
declares its settings with dargs (:meth:`StudySection.arguments`, checked strictly by
:mod:`.plan`) and does three things:

``runs()``
    the LAMMPS runs it needs, as :class:`~dpgen_llzo.study.tasks.Run` objects (a run may
    wait for runs of an earlier section: the GB cells take the bulk NPT lattice);
``analyze(results)``
    read its finished runs, call the analyzers of :mod:`dpgen_llzo.analysis` and return its
    JSON-ready result (``results`` holds the sections analysed before it);
``report(result)``
    its lines of ``study.md``.

Sections run in ``order``; adding one never touches the runner or the plan schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from dargs import Argument

from dpgen_llzo.registry import Registry

#: LAMMPS type order of every study cell (the models are mapped by name in ``pair_coeff``).
TYPE_MAP: tuple[str, ...] = ("Li", "La", "Zr", "O")


@dataclass
class StudyContext:
    """What every section needs: the study directory, the checked plan and the committee.

    Attributes
    ----------
    root
        The study directory (``-o DIR``), absolute.
    plan
        The checked plan with defaults filled in.
    models
        File names of the committee in ``root/models`` (the first one drives the MD).
    plots
        Figures written so far (paths relative to ``root``), appended by the sections.
    """

    root: Path
    plan: dict[str, Any]
    models: list[str]
    plots: list[str] = field(default_factory=list)

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def run_dir(self, name: str) -> Path:
        return self.runs_dir / name

    @property
    def committee(self) -> list[str]:
        """Models in ``pair_style``: all of them, or only the first with ``trust.enabled: false``."""
        return list(self.models) if self.plan["trust"]["enabled"] else list(self.models[:1])

    @property
    def md(self) -> dict[str, Any]:
        """The plan's common MD keys (time step, thermostat and barostat, pressure)."""
        return {k: self.plan[k] for k in ("timestep_fs", "tau_t_fs", "tau_p_fs", "pressure_bar")}

    def plot_path(self, name: str) -> Path:
        """``root/plots/name``, recorded for the report."""
        path = self.plots_dir / name
        self.plots.append(str(path.relative_to(self.root)))
        return path


class StudySection:
    """Base class of a registered study section.

    Parameters
    ----------
    settings
        This section's entry of the plan, checked, defaults filled in.
    context
        The study context (directory, whole plan, committee).
    """

    #: the plan key this class answers to (set by :func:`register_section`).
    name: ClassVar[str] = ""
    #: sections are made, run and analysed in increasing order.
    order: ClassVar[int] = 0
    #: the issue's heading of this section in ``study.md``.
    title: ClassVar[str] = ""

    def __init__(self, settings: dict[str, Any], context: StudyContext) -> None:
        self.settings = settings
        self.context = context

    @classmethod
    def arguments(cls) -> list[Argument]:
        """dargs definitions of this section's plan keys (besides ``enabled``)."""
        return []

    @classmethod
    def check(cls, settings: dict[str, Any], plan: dict[str, Any], where: str) -> None:
        """Checks dargs cannot express; raise a one-line UserInputError naming ``where``/key."""

    def runs(self) -> list:
        return []

    def md_run(self, name: str, cell: Callable[[], Any], temperature_K: float, seed: int, ensemble: str, *,
               equilibration_steps: int, n_steps: int, thermo_every: int, dump_every: int = 0,
               depends: tuple[str, ...] = (), n_atoms: int = 192, salt: int = 0):
        """A :class:`~dpgen_llzo.study.tasks.Run` of one NVT/NPT run of ``cell()`` (called when its inputs are written)."""
        from dpgen_llzo.study import tasks

        ctx = self.context
        directory = ctx.run_dir(name)
        committee = ctx.committee
        info = {"section": self.name, "temperature_K": temperature_K, "seed": seed, "ensemble": ensemble,
                "equilibration_steps": equilibration_steps, "n_steps": n_steps, "thermo_every": thermo_every,
                "dump_every": dump_every, **ctx.md}

        def prepare() -> tuple[str, ...]:
            tasks.write_cell(cell(), directory)
            text = tasks.md_input(committee, temperature_K, tasks.velocity_seed(seed, temperature_K, salt), ensemble,
                                  ctx.md, equilibration_steps=equilibration_steps, n_steps=n_steps,
                                  thermo_every=thermo_every, dump_every=dump_every,
                                  out_freq=ctx.plan["trust"]["out_freq"], title=f"{name}: {ensemble.upper()} at {temperature_K:g} K")
            tasks.write_run_files(directory, text, info, ctx.root / "models", committee)
            return ("conf.lmp", "in.lammps", *committee)

        outputs = ("log.lammps",) + ((tasks.MODEL_DEVI,) if len(committee) > 1 else ()) + (
            ("dump.lammpstrj",) if dump_every else ())
        return tasks.Run(name=name, section=self.name, prepare=prepare,
                         finished=lambda: tasks.lammps_finished(directory), depends=depends, outputs=outputs,
                         cost=float(n_atoms) * (equilibration_steps + n_steps), info=info)

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def report(self, result: dict[str, Any]) -> list[str]:
        return []


STUDY_SECTIONS: Registry[type[StudySection]] = Registry("study section")


def register_section(name: str, summary: str, order: int):
    """Class decorator: register a :class:`StudySection` subclass under ``name``."""

    def decorator(cls: type[StudySection]) -> type[StudySection]:
        cls.name = name
        cls.order = order
        return STUDY_SECTIONS.register(name, summary=summary)(cls)

    return decorator


def ordered_sections() -> list[type[StudySection]]:
    """Every registered section class, in run order."""
    import dpgen_llzo.study.sections  # noqa: F401  (registers the sections)

    return sorted((entry.obj for entry in STUDY_SECTIONS.entries()), key=lambda cls: cls.order)
