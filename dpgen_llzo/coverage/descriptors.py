"""Per-atom environment descriptors from a frozen Deep Potential (the input of the coverage step).

The active-learning loop turns MD frames (test) and training frames into descriptor matrices
with the current model, then compares them with :func:`~dpgen_llzo.coverage.pca.coverage_fraction`
or per element with :func:`~dpgen_llzo.coverage.species.coverage_by_element`.
DeePMD-kit is imported only when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.errors import UserInputError

__all__ = ["environment_descriptors", "load_model"]

DEFAULT_BATCH_FRAMES = 16


def load_model(model_path: str | PathLike[str]) -> Any:
    """Load a frozen DeePMD-kit model (``.pb``, ``.pth``, ...) with ``deepmd.infer.DeepPot``.

    Raises
    ------
    UserInputError
        If the file does not exist.
    """
    path = Path(model_path)
    if not path.is_file():
        raise UserInputError(f"{path}: model file not found")
    from deepmd.infer import DeepPot  # heavy: TensorFlow / torch

    return DeepPot(str(path))


def environment_descriptors(
    model_path: str | PathLike[str] | Any,
    coords: np.ndarray,
    cells: np.ndarray | None,
    atom_types: np.ndarray,
    type_map: Sequence[str],
    *,
    batch_frames: int = DEFAULT_BATCH_FRAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """Descriptor of every atomic environment in a set of frames.

    Parameters
    ----------
    model_path
        Path of a frozen DeePMD-kit model, or an already loaded ``DeepPot`` (anything with
        ``eval_descriptor`` and ``get_type_map``), which avoids reloading it per call.
    coords
        Cartesian positions in Å, shape ``(n_frames, n_atoms, 3)`` (or ``(n_frames, n_atoms*3)``).
    cells
        Cell vectors in Å as rows, shape ``(n_frames, 3, 3)`` or ``(n_frames, 9)``; ``None`` for
        non-periodic frames.
    atom_types
        Type of every atom, shape ``(n_atoms,)``, an index into ``type_map`` (same for all
        frames, as in a dpdata system).
    type_map
        Element names of the data's types, e.g. ``["Li", "La", "Zr", "O"]``. They are mapped
        onto the model's own type map by name, so the two orders may differ.
    batch_frames
        Frames evaluated per call to the model (bounds memory).

    Returns
    -------
    descriptors : np.ndarray
        Shape ``(n_frames * n_atoms, n_descriptor)``, float64; rows frame by frame, atoms in
        input order.
    row_types : np.ndarray
        Shape ``(n_frames * n_atoms,)``, the ``atom_types`` of every row (indices into
        ``type_map``), ready for ``coverage_by_element``.

    Raises
    ------
    UserInputError
        Inconsistent shapes, types outside ``type_map``, elements the model does not know, or
        ``batch_frames < 1``.
    """
    coords = np.asarray(coords, dtype=np.float64)
    atom_types = np.asarray(atom_types)
    if (
        atom_types.ndim != 1
        or atom_types.size == 0
        or not np.issubdtype(atom_types.dtype, np.integer)
    ):
        raise UserInputError(
            f"atom_types must be a non-empty 1-D integer array, got shape {atom_types.shape}"
        )
    n_atoms = atom_types.size
    if coords.ndim == 2 and coords.shape[1] == 3 * n_atoms:
        coords = coords.reshape(coords.shape[0], n_atoms, 3)
    if coords.ndim != 3 or coords.shape[1:] != (n_atoms, 3):
        raise UserInputError(f"coords must have shape (n_frames, {n_atoms}, 3), got {coords.shape}")
    n_frames = coords.shape[0]
    if cells is not None:
        cells = np.asarray(cells, dtype=np.float64)
        if cells.size != 9 * n_frames:
            raise UserInputError(
                f"cells must have shape (n_frames={n_frames}, 3, 3), got {cells.shape}"
            )
        cells = cells.reshape(n_frames, 9)
    if not isinstance(batch_frames, int) or batch_frames < 1:
        raise UserInputError(f"batch_frames must be an integer >= 1, got {batch_frames!r}")
    names = [str(t) for t in type_map]
    if atom_types.min() < 0 or atom_types.max() >= len(names):
        raise UserInputError(f"atom_types must be indices into type_map {names}")

    model = load_model(model_path) if isinstance(model_path, (str, PathLike)) else model_path
    model_map = list(model.get_type_map())
    missing = sorted({names[t] for t in np.unique(atom_types)} - set(model_map))
    if missing:
        raise UserInputError(f"the model's type_map {model_map} lacks element(s) {missing}")
    to_model = np.array([model_map.index(n) if n in model_map else -1 for n in names])
    model_types = to_model[atom_types]

    blocks = []
    for start in range(0, n_frames, batch_frames):
        stop = min(start + batch_frames, n_frames)
        block = model.eval_descriptor(
            coords[start:stop].reshape(stop - start, -1),
            None if cells is None else cells[start:stop],
            model_types,
        )
        blocks.append(np.asarray(block, dtype=np.float64).reshape((stop - start) * n_atoms, -1))
    n_desc = blocks[0].shape[1] if blocks else 0
    descriptors = np.concatenate(blocks, axis=0) if blocks else np.empty((0, n_desc))
    return descriptors, np.tile(atom_types, n_frames)
