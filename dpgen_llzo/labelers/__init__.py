"""Labelers: reference models that give energies, forces and virials for training frames.

A labeler is a class registered in :data:`LABELERS`; it builds an ASE calculator. The
embedded default is CHGNet, a universal potential whose weights ship inside its wheel, used as
the teacher of a distilled Deep Potential (the DPA-SSE scheme). The ``vasp`` labeler
(:mod:`.vasp_labeler`) labels the production init set with the same INCAR as DP-GEN's own
``fp_style: "vasp"`` iterations.
"""

from __future__ import annotations

from dpgen_llzo.labelers.base import (
    LABELERS,
    FrameRejection,
    Labeler,
    LabelingFailure,
    get_labeler,
    screen_frame,
)
from dpgen_llzo.labelers import teachers as _teachers  # noqa: F401  (fills the registry)
from dpgen_llzo.labelers import vasp_labeler as _vasp_labeler  # noqa: F401
from dpgen_llzo.labelers import ase_labeler as _ase_labeler  # noqa: F401

__all__ = ["LABELERS", "FrameRejection", "Labeler", "LabelingFailure", "get_labeler", "screen_frame"]
