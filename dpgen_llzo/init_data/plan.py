"""Turn the ``_dpgen_llzo.init`` settings into a list of labelling tasks (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpgen_llzo.init_data.teacher_md import melt_quench_stages

#: Dataset kinds an init system can produce, in the order they are planned.
KINDS = ("perturbed", "md", "validation", "scan", "melt_quench")
#: Kinds run as teacher MD (one task per temperature).
MD_KINDS = ("md", "validation")
#: Kinds run as teacher MD through a temperature schedule (one task per system).
SCHEDULE_KINDS = ("melt_quench",)
#: Kinds that join the training set (``validation`` is held out for the report).
TRAINING_KINDS = ("perturbed", "md", "scan", "melt_quench")


@dataclass(frozen=True)
class InitTask:
    """One unit of labelling work shipped as one dpdispatcher task.

    Attributes
    ----------
    name
        Task directory name, unique, e.g. ``cubic.md-0800K``.
    system
        Name of the init system the task belongs to.
    kind
        One of :data:`KINDS`.
    dataset
        Output training system, relative to the init directory: ``<system>/<kind>``.
    seed
        Seed derived from the init seed and the task's position.
    spec
        Kind-specific settings (scales and amplitudes, or MD settings and temperature).
    """

    name: str
    system: str
    kind: str
    dataset: str
    seed: int
    spec: dict[str, Any] = field(default_factory=dict)


def task_seed(init_seed: int, *indices: int) -> int:
    """A reproducible 31-bit seed for the task at ``indices`` under ``init_seed``."""
    return int(np.random.SeedSequence([init_seed, *indices]).generate_state(1)[0] & 0x7FFFFFFF)


def plan_init_tasks(init_settings: dict[str, Any]) -> list[InitTask]:
    """List the tasks of the initial data set.

    Parameters
    ----------
    init_settings
        The checked ``_dpgen_llzo.init`` section (see :mod:`dpgen_llzo.config`).

    Returns
    -------
    list of InitTask
        One ``perturbed`` task per system (if any frames are asked for), one MD task per
        temperature of ``md`` and of ``validation``, one ``melt_quench`` task (a continuous
        melt-and-quench run sampled at each temperature), and one ``scan`` task (a frame per
        value of one generator parameter, e.g. the distance of a ``dimer``).
    """
    tasks: list[InitTask] = []
    seed = init_settings["seed"]
    for s_index, system in enumerate(init_settings["systems"]):
        name = system["name"]
        perturb = system.get("perturb") or {}
        if perturb.get("scales"):
            tasks.append(
                InitTask(f"{name}.perturbed", name, "perturbed", f"{name}/perturbed", task_seed(seed, s_index, 0), dict(perturb))
            )
        for k_index, kind in enumerate(MD_KINDS, start=1):
            md = system.get(kind)
            if not md:
                continue
            for t_index, temperature in enumerate(md["temperatures_K"]):
                spec = {key: value for key, value in md.items() if key != "temperatures_K"}
                spec["temperature_K"] = float(temperature)
                tasks.append(
                    InitTask(
                        f"{name}.{kind}-{int(round(temperature)):04d}K",
                        name,
                        kind,
                        f"{name}/{kind}",
                        task_seed(seed, s_index, k_index, t_index),
                        spec,
                    )
                )
        melt = system.get("melt_quench")
        if melt:
            spec = {
                "stages": [[stage.temperature_K, stage.n_steps, stage.sample_every] for stage in melt_quench_stages(
                    melt["temperatures_K"], melt["melt_steps"], melt["n_steps"], melt["sample_every"])],
                "timestep_fs": melt["timestep_fs"],
                "friction_per_fs": melt["friction_per_fs"],
            }
            tasks.append(InitTask(f"{name}.melt_quench", name, "melt_quench", f"{name}/melt_quench",
                                  task_seed(seed, s_index, KINDS.index("melt_quench")), spec))
        scan = system.get("scan")
        if scan and scan.get("values"):
            spec = {
                "param": scan["param"],
                "values": [float(v) for v in scan["values"]],
                "generator": system["generator"],
                "params": dict(system.get("params") or {}),
                "seed": system.get("seed", 0),
                "supercell": list(system.get("supercell") or [1, 1, 1]),
            }
            tasks.append(InitTask(f"{name}.scan", name, "scan", f"{name}/scan", task_seed(seed, s_index, KINDS.index("scan")), spec))
    names = [task.name for task in tasks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        from dpgen_llzo.errors import UserInputError

        raise UserInputError(f"_dpgen_llzo.init.systems: duplicated system name or temperature gives tasks {duplicated}")
    return tasks


def planned_frames(task: InitTask) -> int:
    """Frames ``task`` yields when the labeler rejects none.

    ``perturbed``: every scale once plus its perturbed copies; ``md``/``validation``: one per
    ``sample_every`` steps; ``melt_quench``: the sampled frames of every stage; ``scan``: one per value.
    """
    spec = task.spec
    if task.kind == "perturbed":
        return len(spec["scales"]) * (1 + spec["n_perturbed"])
    if task.kind in MD_KINDS:
        return spec["n_steps"] // spec["sample_every"]
    if task.kind in SCHEDULE_KINDS:
        return sum(n_steps // every for _, n_steps, every in spec["stages"] if every)
    return len(spec["values"])


def training_datasets(tasks: list[InitTask]) -> list[str]:
    """The datasets that join training, in plan order and without repeats (for ``init_data_sys``)."""
    seen: list[str] = []
    for task in tasks:
        if task.kind in TRAINING_KINDS and task.dataset not in seen:
            seen.append(task.dataset)
    return seen
