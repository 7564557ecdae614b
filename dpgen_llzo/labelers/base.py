"""The labeler interface, its registry and the physical sanity check of labelled frames."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.registry import Registry

LABELERS: Registry[type["Labeler"]] = Registry("labeler")

#: Forces above this (eV/Å, any component's vector norm) mark a frame as unphysical by default.
DEFAULT_MAX_FORCE_EV_A = 20.0


class Labeler:
    """A reference model seen through an ASE calculator.

    Subclasses set :attr:`name`, register themselves with ``@LABELERS.register(name)`` and
    implement :meth:`calculator`. Construction must be cheap; the model is loaded on the
    first call to :meth:`calculator` and cached on the instance.
    """

    name: ClassVar[str] = ""
    #: Extra options when the labeler drives MD (``dpgen-llzo teacher-md``), e.g. keep VASP's WAVECAR.
    md_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._calculator = None

    def calculator(self):  # -> ase.calculators.calculator.Calculator
        """Return the (cached) ASE calculator of this labeler."""
        if self._calculator is None:
            self._calculator = self._make_calculator()
        return self._calculator

    def _make_calculator(self):
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Provenance of the labels (name, version, options) for reports."""
        return {"labeler": self.name, **self.options}


def get_labeler(name: str, **options: Any) -> Labeler:
    """Instantiate the labeler registered under ``name`` with ``options``."""
    return LABELERS.get(name)(**options)


class LabelingFailure(RuntimeError):
    """The reference could not label this frame (no output, SCF not converged); the message says why.

    Labelling loops record it as a :class:`FrameRejection` and go on with the next frame.
    """


@dataclass(frozen=True)
class FrameRejection:
    """Why a labelled frame was refused as training data."""

    frame_index: int
    reason: str


def screen_frame(
    energy: float,
    forces: np.ndarray,
    virial: np.ndarray | None,
    max_force: float = DEFAULT_MAX_FORCE_EV_A,
) -> str | None:
    """Check one labelled frame; return the reason to reject it, or ``None`` if it is sound.

    Parameters
    ----------
    energy
        Total energy, eV.
    forces
        Atomic forces, shape (natoms, 3), eV/Å.
    virial
        Virial tensor, shape (3, 3), eV, or ``None`` if the labeler gives none.
    max_force
        Largest acceptable force norm on any atom, eV/Å.
    """
    if not math.isfinite(float(energy)):
        return f"non-finite energy ({energy})"
    forces = np.asarray(forces, dtype=float)
    if not np.all(np.isfinite(forces)):
        return f"non-finite forces on {int((~np.isfinite(forces)).any(axis=-1).sum())} atoms"
    if virial is not None and not np.all(np.isfinite(virial)):
        return "non-finite virial"
    norms = np.linalg.norm(forces, axis=-1)
    worst = int(np.argmax(norms)) if norms.size else 0
    if norms.size and norms[worst] > max_force:
        return f"force {norms[worst]:.1f} eV/Å on atom {worst} exceeds {max_force:g} eV/Å"
    return None


def check_max_force(value: float) -> float:
    """Validate a user-given force limit (eV/Å)."""
    if not (value > 0 and math.isfinite(value)):
        raise UserInputError(f"--max-force must be a positive number of eV/Å, got {value}")
    return float(value)
