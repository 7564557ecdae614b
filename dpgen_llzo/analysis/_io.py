"""Thin file layer of the analysis package: atomic JSON/PNG writes and checked JSON reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dpgen_llzo.atomic_io import save_figure_atomic as _save_figure_atomic
from dpgen_llzo.atomic_io import write_json_atomic  # noqa: F401  (re-exported for the analyzers)
from dpgen_llzo.errors import UserInputError


def save_figure_atomic(fig: Any, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG atomically (tight bounding box) and close it."""
    return _save_figure_atomic(fig, path, dpi=dpi, bbox_inches="tight")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> dict:
    """Read a JSON object, turning a missing or malformed file into a one-line UserInputError."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: {what} not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object at the top level")
    return data


def require(data: dict, key: str, path: str | os.PathLike) -> Any:
    """Return ``data[key]`` or raise a UserInputError naming the file and the missing key."""
    if key not in data or data[key] is None:
        raise UserInputError(f"{path}: missing field {key!r}")
    return data[key]
