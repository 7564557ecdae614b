"""The files of a GB cell: POSCAR + JSON record, and exact regeneration of recorded cells.

A GB cell is stored as a POSCAR and a JSON record beside it (``POSCAR`` → ``POSCAR.json``).
The record's ``build_parameters`` are a :class:`~.builder.GBSpec`, so
``dpgen-llzo gb regenerate DIR`` rebuilds every recorded cell under ``DIR`` from its record
alone and :func:`regenerate` with ``check_only=True`` says whether the files on disk are what
the code makes today (same composition, lattice and positions within 1e-6 Å, same plane
positions).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpgen_llzo.errors import UserInputError

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from dpgen_llzo.gb.builder import GBCell

#: Positions (Å) of a regenerated cell must match the recorded ones within this.
POSITION_TOLERANCE_A = 1e-6


def gb_json_path(poscar: str | os.PathLike) -> Path:
    """Default record path next to a POSCAR: ``POSCAR`` → ``POSCAR.json``, ``gb.vasp`` → ``gb.json``."""
    poscar = Path(poscar)
    return (
        poscar.with_name(poscar.name + ".json")
        if not poscar.suffix
        else poscar.with_suffix(".json")
    )


def write_gb_cell(
    cell: GBCell,
    poscar: str | os.PathLike,
    json_path: str | os.PathLike | None = None,
    command: str = "",
) -> tuple[Path, Path]:
    """Write the POSCAR and its JSON record atomically; returns both paths.

    The record gets ``poscar`` (path relative to the JSON), ``poscar_sha256`` and ``command``.
    """
    from dpgen_llzo.structures.cli import write_poscar

    poscar = Path(poscar)
    json_path = gb_json_path(poscar) if json_path is None else Path(json_path)
    record = dict(cell.record)
    comment = (
        f"{record['composition']} sigma{record['sigma']} "
        f"({' '.join(map(str, record['plane']))})[{' '.join(map(str, record['axis']))}] GB"
    )
    write_poscar(cell.structure, poscar, comment)
    record["poscar"] = os.path.relpath(poscar.resolve(), json_path.parent.resolve())
    record["poscar_sha256"] = hashlib.sha256(poscar.read_bytes()).hexdigest()
    record["command"] = command
    _write_text_atomic(json_path, json.dumps(record, indent=2) + "\n")
    return poscar, json_path


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` atomically (see :mod:`dpgen_llzo.atomic_io`)."""
    from dpgen_llzo.atomic_io import write_text_atomic

    write_text_atomic(path, text)


def read_gb_record(path: str | os.PathLike) -> dict[str, Any]:
    """Load a GB JSON record; :class:`UserInputError` if it is not one."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: cannot read a GB JSON record ({exc})") from None
    if not isinstance(record, dict) or "plane_positions_A" not in record:
        raise UserInputError(f"{path}: not a GB record (no plane_positions_A)")
    return record


def structure_deviation(first: Structure, second: Structure) -> float:
    """Largest distance (Å) between matched atoms of two cells, ``inf`` if they do not match.

    Cells match when their lattices agree within 1e-6 Å and every element has the same count;
    each atom is matched to the nearest atom of the same element in ``second`` (periodic).
    """
    from scipy.spatial import cKDTree

    if len(first) != len(second):
        return math.inf
    if np.abs(first.lattice.matrix - second.lattice.matrix).max() > POSITION_TOLERANCE_A:
        return math.inf
    worst = 0.0
    symbols_1 = np.array([s.specie.symbol for s in first])
    symbols_2 = np.array([s.specie.symbol for s in second])
    for element in np.unique(symbols_1):
        a = _unit_interval(first.frac_coords[symbols_1 == element])
        b = _unit_interval(second.frac_coords[symbols_2 == element])
        if len(a) != len(b):
            return math.inf
        _, index = cKDTree(b, boxsize=1.0).query(a)
        delta = a - b[index]
        delta -= np.round(delta)
        worst = max(worst, float(np.linalg.norm(delta @ first.lattice.matrix, axis=1).max()))
    return worst


def _unit_interval(frac: np.ndarray) -> np.ndarray:
    wrapped = np.mod(frac, 1.0)
    wrapped[wrapped >= 1.0] = 0.0
    return wrapped


@dataclass(frozen=True)
class Regeneration:
    """Outcome of rebuilding one recorded cell.

    Attributes
    ----------
    json_path, poscar
        The record and its POSCAR.
    matches
        True when the rebuilt cell equals the files (positions within 1e-6 Å, same composition
        and plane positions).
    max_deviation_A
        Largest atom displacement between the file and the rebuilt cell, Å (inf: no match).
    seconds
        Build time.
    """

    json_path: Path
    poscar: Path
    matches: bool
    max_deviation_A: float
    seconds: float


def find_records(directory: str | os.PathLike) -> list[Path]:
    """JSON files under ``directory`` that are GB records with ``build_parameters``, sorted."""
    found = []
    for path in sorted(Path(directory).rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "build_parameters" in data and "plane_positions_A" in data:
            found.append(path)
    return found


def regenerate(directory: str | os.PathLike, check_only: bool = False) -> list[Regeneration]:
    """Rebuild every recorded GB cell under ``directory`` (see the module docstring).

    Parameters
    ----------
    directory
        Searched recursively for records.
    check_only
        Compare with the files instead of rewriting them.
    """
    from pymatgen.core import Structure

    from dpgen_llzo.gb.builder import GBSpec, build_gb, load_bulk

    results = []
    for json_path in find_records(directory):
        record = read_gb_record(json_path)
        spec = GBSpec.from_dict(record["build_parameters"], f"{json_path}: build_parameters")
        started = time.perf_counter()
        cell = build_gb(spec, load_bulk(spec, base=json_path.parent))
        seconds = time.perf_counter() - started
        poscar = json_path.parent / record.get("poscar", "POSCAR")
        deviation = math.inf
        if poscar.is_file():
            deviation = structure_deviation(Structure.from_file(str(poscar)), cell.structure)
        same_planes = len(record["plane_positions_A"]) == len(
            cell.record["plane_positions_A"]
        ) and all(
            abs(a - b) <= POSITION_TOLERANCE_A
            for a, b in zip(record["plane_positions_A"], cell.record["plane_positions_A"])
        )
        matches = (
            deviation <= POSITION_TOLERANCE_A
            and same_planes
            and record.get("composition") == cell.record["composition"]
        )
        if not check_only:
            write_gb_cell(cell, poscar, json_path, command=record.get("command", ""))
        results.append(Regeneration(json_path, poscar, matches, deviation, seconds))
    return results
