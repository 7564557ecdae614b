"""Thin file layer of the analysis package: atomic JSON/PNG writes and checked JSON reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dpgen_llzo.atomic_io import save_figure_atomic as _save_figure_atomic
from dpgen_llzo.atomic_io import write_json_atomic  # noqa: F401  (re-exported for the analyzers)
from dpgen_llzo.config import load_json as read_json  # noqa: F401  (re-exported: the one checked JSON reader)
from dpgen_llzo.errors import UserInputError


def save_figure_atomic(fig: Any, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG atomically (tight bounding box) and close it."""
    return _save_figure_atomic(fig, path, dpi=dpi, bbox_inches="tight")


def require(data: dict, key: str, path: str | os.PathLike) -> Any:
    """Return ``data[key]`` or raise a UserInputError naming the file and the missing key."""
    if key not in data or data[key] is None:
        raise UserInputError(f"{path}: missing field {key!r}")
    return data[key]
