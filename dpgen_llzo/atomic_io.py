"""Atomic file writes: a temporary file in the target's directory, then ``os.replace``.

A crash or a kill never leaves a half-written result: readers see the old file or the new one.
Every writer of results in the package goes through these three functions.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and non-finite floats (→ ``None``) for JSON."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def replace_with(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` then rename the temporary file over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (parent directories are created)."""

    def write(temporary: str) -> None:
        with open(temporary, "w") as stream:
            stream.write(text)

    return replace_with(path, write)


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically; numpy values and NaN/inf (→ null) are converted."""
    return write_text_atomic(path, json.dumps(json_safe(data), indent=2) + "\n")


def save_figure_atomic(fig: Any, path: str | os.PathLike, dpi: int = 150, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    try:
        return replace_with(path, lambda temporary: fig.savefig(temporary, format="png", dpi=dpi, **savefig_kwargs))
    finally:
        plt.close(fig)
