"""The study plan: a JSON file checked by dargs; ``quick``, ``standard`` and ``production`` ship in ``param/study/``.

Shape (every section may be left out, which keeps its defaults; ``"enabled": false`` skips it)::

    {
      "_comment": "...",
      "timestep_fs": 1.0, "jobs": 2, "compress": true,
      "trust": {"out_freq": 10, "f_trust_lo": 0.12, "f_trust_hi": 0.45, "max_share_above_hi": 0.01},
      "transition": {"temperatures_K": [500, 550, ...], "equilibration_steps": 5000, "n_steps": 20000, ...},
      "bulk": {"temperatures_K": [...], "seeds": [1, 2], ...},
      "gb": {"systems": ["sigma3-112", "sigma5-310"], "temperatures_K": [...], ...},
      "structure": {"temperatures_K": [300, 1200], ...}
    }

The keys of a section come from the section class (``dpgen-llzo study --plan-doc`` prints them);
unknown keys are errors naming their path, keys starting with ``_`` are comments. Beyond
dargs: every temperature list must be non-empty and positive, step counts positive.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dargs import Argument

from dpgen_llzo.config import load_json, normalize_checked
from dpgen_llzo.errors import UserInputError

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAN_DIR = REPO_ROOT / "param" / "study"


def common_arguments() -> list[Argument]:
    """Plan keys shared by every section."""
    return [
        Argument("timestep_fs", float, optional=True, default=1.0, doc="MD time step of every run, fs."),
        Argument("tau_t_fs", float, optional=True, default=100.0, doc="Nosé–Hoover thermostat time constant, fs."),
        Argument("tau_p_fs", float, optional=True, default=1000.0, doc="Barostat time constant of the NPT runs, fs."),
        Argument("pressure_bar", float, optional=True, default=1.0, doc="Pressure of the NPT runs, bar."),
        Argument("jobs", int, optional=True, default=2,
                 doc="The runs that can start together (a wave) are packed into this many dpdispatcher jobs, balanced "
                     "by atoms × steps; a job runs its runs one after another, the jobs run side by side (2 on a 2-core "
                     "machine with one thread per run). 0: group by the machine file's resources.group_size instead "
                     "(clusters: one Slurm job per group)."),
        Argument("compress", bool, optional=True, default=True,
                 doc="Run `dp compress` on every model first (4-15x faster MD); a model that does not compress is used "
                     "as it is and study.json says why."),
    ]


def plan_arginfo() -> Argument:
    """The dargs definition of a whole plan: the common keys and one sub-dict per registered section."""
    from dpgen_llzo.study.section import ordered_sections

    sections = [
        Argument(cls.name, dict,
                 [Argument("enabled", bool, optional=True, default=True, doc="Run this section.")] + cls.arguments(),
                 optional=True, default={}, doc=cls.title or cls.name)
        for cls in ordered_sections()
    ]
    return Argument("plan", dict, common_arguments() + sections, doc="A `dpgen-llzo study` plan.")


def shipped_plans() -> list[str]:
    """Names of the plans in ``param/study/``."""
    return sorted(p.stem for p in PLAN_DIR.glob("*.json"))


def plan_path(name_or_path: str | os.PathLike) -> Path:
    """The file of a plan given by name (``quick``) or path."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = PLAN_DIR / f"{name_or_path}.json"
    if os.sep not in str(name_or_path) and shipped.is_file():
        return shipped
    raise UserInputError(f"{name_or_path}: no such plan file, and not a shipped plan ({', '.join(shipped_plans()) or 'none found'})")


def check_plan(data: dict[str, Any], source: str | os.PathLike = "plan") -> dict[str, Any]:
    """Check a plan dict strictly and fill in its defaults.

    Raises
    ------
    UserInputError
        One line ``SOURCE: plan: KEY: ...`` for an unknown key, a wrong type, an empty
        temperature list, a temperature ≤ 0 or a step count ≤ 0.
    """
    from dpgen_llzo.study.section import ordered_sections

    plan = normalize_checked(plan_arginfo(), data, source, "plan")
    if plan["jobs"] < 0:
        raise UserInputError(f"{source}: plan: jobs: must be ≥ 0, got {plan['jobs']}")
    if plan["timestep_fs"] <= 0:
        raise UserInputError(f"{source}: plan: timestep_fs: must be positive, got {plan['timestep_fs']}")
    for cls in ordered_sections():
        settings = plan[cls.name]
        where = f"{source}: plan: {cls.name}"
        _check_numbers(settings, where)
        if settings["enabled"]:
            cls.check(settings, plan, where)
    return plan


def _check_numbers(settings: dict[str, Any], where: str) -> None:
    for key, value in settings.items():
        if key.endswith("temperatures_K"):
            if not value:
                raise UserInputError(f"{where}/{key}: empty list; give at least one temperature in K")
            bad = [t for t in value if not t > 0]
            if bad:
                raise UserInputError(f"{where}/{key}: temperature {bad[0]:g} K is not positive")
        elif key == "seeds":
            if not value:
                raise UserInputError(f"{where}/seeds: empty list; give at least one velocity seed")
            if any(s < 1 for s in value) or len(set(value)) != len(value):
                raise UserInputError(f"{where}/seeds: seeds must be distinct integers ≥ 1, got {value}")
        elif key == "supercell":
            if len(value) != 3 or any(n < 1 for n in value):
                raise UserInputError(f"{where}/supercell: needs three integers ≥ 1, got {value}")
        elif key in ("n_steps", "dump_every", "thermo_every", "out_freq") and not value > 0:
            raise UserInputError(f"{where}/{key}: must be positive, got {value}")
        elif key.endswith("equilibration_steps") and value < 0:
            raise UserInputError(f"{where}/{key}: must be ≥ 0, got {value}")


def load_plan(name_or_path: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """Read and check a plan (a shipped name or a path); returns the plan and its file."""
    path = plan_path(name_or_path)
    return check_plan(load_json(path, "plan file"), path), path


def plan_doc() -> str:
    """Every plan key with its type, default and meaning (``dpgen-llzo study --plan-doc``)."""
    return plan_arginfo().gen_doc()
