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


def validate_classes(models: Sequence[str | os.PathLike], classes: dict[str, list[str]], output: str | os.PathLike) -> dict:
    """Errors of ``models`` on labelled datasets grouped in classes; writes JSON and parity PNGs.

    Parameters
    ----------
    models
        Frozen DeePMD models; the committee mean is reported with each model's own errors.
    classes
        Class name (``crystal``, ``gb``, …) → deepmd/npy dataset directories.
    output
        Directory for ``validation.json`` and ``parity_<class>.png``.

    Returns
    -------
    dict
        ``{"models": [...], "classes": {name: {"datasets", "committee", "models"}, "all": {...}}}``.

    Raises
    ------
    UserInputError
        A missing model file or a directory that is not a deepmd/npy dataset.
    """
    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.errors import UserInputError

    for model in models:
        if not Path(model).is_file():
            raise UserInputError(f"{model}: model file not found")
    for directories in classes.values():
        for directory in directories:
            if not Path(directory, "type.raw").is_file():
                raise UserInputError(f"{directory}: not a deepmd/npy dataset (no type.raw)")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, dict] = {}
    pooled = None
    for name, directories in classes.items():
        per_model = [predict_datasets(model, directories) for model in models]
        committee = ensemble_mean(per_model)
        pooled = committee if pooled is None else pooled.concat(committee)
        report[name] = {"datasets": list(directories), "committee": error_summary(committee), "models": [error_summary(p) for p in per_model]}
        parity_plot(committee, out / f"parity_{name}.png", title=f"{name}: committee of {len(models)}")
    report["all"] = {"committee": error_summary(pooled)}
    result = {"models": [str(m) for m in models], "classes": report}
    write_json_atomic(out / "validation.json", result)
    return result
