"""Thin file layer of the analysis package: atomic JSON/PNG writes and checked JSON reads."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError


def _plain(obj: Any) -> Any:
    """Convert numpy scalars/arrays (and NaN/inf) to JSON-safe Python objects."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json_atomic(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` as indented JSON via a temporary file in the same folder + ``os.replace``.

    Non-finite floats are written as ``null``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(_plain(data), handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_figure_atomic(fig: Any, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)
    return path


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
