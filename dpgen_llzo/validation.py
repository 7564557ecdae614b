"""Energy/force errors of Deep Potential models against labelled reference frames.

Pure numeric helpers (:func:`rmse`, :func:`error_summary`) plus thin wrappers that evaluate
frozen DeePMD models on dpdata systems and draw parity plots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Predictions:
    """Reference and predicted labels of a set of frames, flattened over frames.

    Attributes
    ----------
    energy_ref, energy_pred
        Energies per atom, eV/atom, shape (nframes,).
    force_ref, force_pred
        Force components, eV/Å, shape (nframes * natoms * 3,).
    """

    energy_ref: np.ndarray
    energy_pred: np.ndarray
    force_ref: np.ndarray
    force_pred: np.ndarray

    def concat(self, other: "Predictions") -> "Predictions":
        """Both sets together."""
        return Predictions(*(np.concatenate([a, b]) for a, b in zip(self.__dict__.values(), other.__dict__.values())))


def rmse(reference: np.ndarray, prediction: np.ndarray) -> float:
    """Root-mean-square difference of two arrays of the same shape."""
    reference, prediction = np.asarray(reference, float), np.asarray(prediction, float)
    if reference.shape != prediction.shape or reference.size == 0:
        raise ValueError(f"need two non-empty arrays of one shape, got {reference.shape} and {prediction.shape}")
    return float(np.sqrt(np.mean((prediction - reference) ** 2)))


def error_summary(predictions: Predictions) -> dict[str, float]:
    """RMSE and MAE of energies (meV/atom) and force components (meV/Å)."""
    de = predictions.energy_pred - predictions.energy_ref
    df = predictions.force_pred - predictions.force_ref
    return {
        "n_frames": int(predictions.energy_ref.size),
        "energy_rmse_meV_atom": 1000 * rmse(predictions.energy_ref, predictions.energy_pred),
        "energy_mae_meV_atom": 1000 * float(np.mean(np.abs(de))),
        "force_rmse_meV_A": 1000 * rmse(predictions.force_ref, predictions.force_pred),
        "force_mae_meV_A": 1000 * float(np.mean(np.abs(df))),
        "force_ref_std_meV_A": 1000 * float(np.std(predictions.force_ref)),
    }


def predict_system(model, system, type_map: Sequence[str]) -> Predictions:
    """Evaluate a loaded ``deepmd.infer.DeepPot`` on a ``dpdata.LabeledSystem``.

    The system's atom types are mapped onto the model's type map by element name.
    """
    from dpgen_llzo.labelers.labelling import aligned_atom_types

    model_types = list(model.get_type_map())
    atom_types = aligned_atom_types(system["atom_names"], system["atom_types"], model_types)
    natoms = len(atom_types)
    coords = system["coords"].reshape(len(system), -1)
    cells = None if system.nopbc else system["cells"].reshape(len(system), 9)
    energy, force, _ = model.eval(coords, cells, atom_types)[:3]
    return Predictions(
        energy_ref=np.asarray(system["energies"]) / natoms,
        energy_pred=np.asarray(energy).reshape(-1) / natoms,
        force_ref=np.asarray(system["forces"]).reshape(-1),
        force_pred=np.asarray(force).reshape(-1),
    )


def predict_datasets(model_path: str | os.PathLike, dataset_dirs: Sequence[str | os.PathLike]) -> Predictions:
    """Evaluate one frozen model on several deepmd/npy datasets (all frames pooled)."""
    import dpdata
    from deepmd.infer import DeepPot

    model = DeepPot(str(model_path))
    pooled = None
    for directory in dataset_dirs:
        system = dpdata.LabeledSystem(str(directory), fmt="deepmd/npy")
        result = predict_system(model, system, model.get_type_map())
        pooled = result if pooled is None else pooled.concat(result)
    if pooled is None:
        raise ValueError("no datasets to evaluate")
    return pooled


def ensemble_mean(predictions: Sequence[Predictions]) -> Predictions:
    """Average of several models' predictions on the same frames (committee mean)."""
    first = predictions[0]
    return Predictions(
        energy_ref=first.energy_ref,
        energy_pred=np.mean([p.energy_pred for p in predictions], axis=0),
        force_ref=first.force_ref,
        force_pred=np.mean([p.force_pred for p in predictions], axis=0),
    )


def parity_plot(predictions: Predictions, path: str | Path, title: str = "") -> Path:
    """Write a two-panel energy/force parity plot (PNG) atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = error_summary(predictions)
    fig, (ax_e, ax_f) = plt.subplots(1, 2, figsize=(9, 4.2))
    ax_e.scatter(predictions.energy_ref, predictions.energy_pred, s=12)
    ax_f.scatter(predictions.force_ref, predictions.force_pred, s=2, alpha=0.3)
    for ax, label, unit, err in (
        (ax_e, "energy", "eV/atom", f"RMSE {summary['energy_rmse_meV_atom']:.2f} meV/atom"),
        (ax_f, "force component", "eV/Å", f"RMSE {summary['force_rmse_meV_A']:.0f} meV/Å"),
    ):
        lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"reference {label} ({unit})")
        ax.set_ylabel(f"DP {label} ({unit})")
        ax.set_title(err)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from dpgen_llzo.atomic_io import save_figure_atomic

    return save_figure_atomic(fig, path, dpi=120)
