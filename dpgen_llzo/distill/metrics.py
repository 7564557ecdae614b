"""Errors of a student against its teacher: energy, force, virial and pressure (pure numerics).

Units: energies eV, forces eV/Å, virials eV (DeePMD's convention, −V·stress), volumes Å³;
results in meV/atom, meV/Å, GPa.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: eV/Å³ → GPa.
EV_A3_TO_GPA = 160.21766208


@dataclass(frozen=True)
class FrameSet:
    """Labels of frames of one system (same atoms), teacher or student.

    Attributes
    ----------
    energies
        Total energies, shape (nframes,), eV.
    forces
        Shape (nframes, natoms, 3), eV/Å.
    virials
        Shape (nframes, 3, 3), eV.
    volumes
        Cell volumes, shape (nframes,), Å³.
    natoms
        Atoms per frame.
    """

    energies: np.ndarray
    forces: np.ndarray
    virials: np.ndarray
    volumes: np.ndarray
    natoms: int


def pressures_GPa(virials: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """Static pressure of each frame, GPa: P = tr(W) / (3V) with W = −V·σ the virial."""
    return np.trace(np.asarray(virials), axis1=1, axis2=2) / (3.0 * np.asarray(volumes)) * EV_A3_TO_GPA


def error_table(reference: list[FrameSet], predicted: list[FrameSet]) -> dict[str, float]:
    """RMSEs of predicted against reference labels, pooled over systems.

    Returns
    -------
    dict
        ``n_frames``, ``energy_rmse_meV_atom`` (per-atom energies), ``force_rmse_meV_A`` (all
        force components), ``virial_rmse_meV_atom`` (virial components per atom, DeePMD's
        ``rmse_v``), ``stress_rmse_GPa`` (stress components), ``pressure_rmse_GPa``,
        ``force_ref_rms_meV_A`` (size of the forces themselves).
    """
    de, df, dv, ds, dp, fref = [], [], [], [], [], []
    for ref, pred in zip(reference, predicted, strict=True):
        de.append((pred.energies - ref.energies) / ref.natoms)
        df.append((pred.forces - ref.forces).ravel())
        fref.append(ref.forces.ravel())
        dv.append(((pred.virials - ref.virials) / ref.natoms).ravel())
        ds.append(((pred.virials - ref.virials) / ref.volumes[:, None, None]).ravel() * EV_A3_TO_GPA)
        dp.append(pressures_GPa(pred.virials, ref.volumes) - pressures_GPa(ref.virials, ref.volumes))

    def rms(parts: list[np.ndarray]) -> float:
        values = np.concatenate(parts) if parts else np.array([])
        return float(np.sqrt(np.mean(values**2))) if values.size else float("nan")

    return {
        "n_frames": int(sum(len(r.energies) for r in reference)),
        "energy_rmse_meV_atom": 1000 * rms(de),
        "force_rmse_meV_A": 1000 * rms(df),
        "virial_rmse_meV_atom": 1000 * rms(dv),
        "stress_rmse_GPa": rms(ds),
        "pressure_rmse_GPa": rms(dp),
        "force_ref_rms_meV_A": 1000 * rms(fref),
    }


def repulsive_below(distances: np.ndarray, energies: np.ndarray, r_max: float) -> bool:
    """Whether a pair curve E(r) falls monotonically with r below ``r_max`` (a repulsive wall)."""
    distances, energies = np.asarray(distances), np.asarray(energies)
    order = np.argsort(distances)
    r, e = distances[order], energies[order]
    inside = r <= r_max
    return bool(inside.sum() >= 2 and np.all(np.diff(e[inside]) < 0))


def relative_difference(value: float, reference: float) -> float:
    """(value − reference) / reference."""
    return (value - reference) / reference
