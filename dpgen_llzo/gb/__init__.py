"""Grain boundaries of cubic LLZO: build, record, regenerate, and carve cells for DFT.

Public API (modules import their heavy dependencies inside functions, so importing this
package stays light)::

    from dpgen_llzo.gb import GBSpec, build_gb, write_gb_cell, regenerate
    cell = build_gb(GBSpec(sigma=3, axis=(1, -1, 0), plane=(1, 1, 2), seed=0))
    write_gb_cell(cell, "POSCAR", command="...")          # POSCAR + POSCAR.json

    from dpgen_llzo.gb import carve_environment, select_carving_centres, write_fp_tasks
    centres = select_carving_centres(deviation, n=4, min_separation=14.0, structure=frame)
    cells = [carve_environment(frame, c, radius=7.0, mode="periodic") for c in centres]
    write_fp_tasks(cells, "iter.000004/02.fp", system_index=2)

Modules: :mod:`.csl` (Σ/axis/plane lookup with aimsgb), :mod:`.geometry` (grain slabs, stacking),
:mod:`.interfaces` (overlap merge/removal, stoichiometry, checks), :mod:`.builder` (the whole
recipe and its record), :mod:`.records` (files, regeneration), :mod:`.carving` (carving
geometry, centre selection, ``model_devi.out`` reader), :mod:`.fp_tasks` (DP-GEN fp task
directories), :mod:`.cli` (``dpgen-llzo gb``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GBSpec": "builder",
    "GBCell": "builder",
    "build_gb": "builder",
    "load_bulk": "builder",
    "find_csl": "csl",
    "write_gb_cell": "records",
    "read_gb_record": "records",
    "regenerate": "records",
    "structure_deviation": "records",
    "ContactRules": "interfaces",
    "check_cell": "interfaces",
    "resolve_interfaces": "interfaces",
    "carve_environment": "carving",
    "carve_frame": "carving",
    "select_carving_centres": "carving",
    "read_atomic_model_devi": "carving",
    "CarveInfo": "carving",
    "write_fp_tasks": "fp_tasks",
    "fp_task_name": "fp_tasks",
    "next_task_counter": "fp_tasks",
}

__all__ = [  # noqa: RUF022 (grouped as in _EXPORTS)
    "GBSpec",
    "GBCell",
    "build_gb",
    "load_bulk",
    "find_csl",
    "write_gb_cell",
    "read_gb_record",
    "regenerate",
    "structure_deviation",
    "ContactRules",
    "check_cell",
    "resolve_interfaces",
    "carve_environment",
    "carve_frame",
    "select_carving_centres",
    "read_atomic_model_devi",
    "CarveInfo",
    "write_fp_tasks",
    "fp_task_name",
    "next_task_counter",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"dpgen_llzo.gb.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'dpgen_llzo.gb' has no attribute {name!r}")
