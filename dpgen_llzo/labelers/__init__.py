"""Labelers: reference models that give energies, forces and virials for training frames.

A labeler is a class registered in :data:`LABELERS`; it builds an ASE calculator. The
embedded default is CHGNet, a universal potential whose weights ship inside its wheel, used as
the teacher of a distilled Deep Potential (the DPA-SSE scheme). Production labelling with
VASP stays with DP-GEN's own ``fp_style: "vasp"``.
"""

from __future__ import annotations

from dpgen_llzo.labelers.base import (
    LABELERS,
    FrameRejection,
    Labeler,
    get_labeler,
    screen_frame,
)
from dpgen_llzo.labelers import teachers as _teachers  # noqa: F401  (fills the registry)

__all__ = ["LABELERS", "FrameRejection", "Labeler", "get_labeler", "screen_frame"]
