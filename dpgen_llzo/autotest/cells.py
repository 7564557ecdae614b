"""Cell → numbers: lattice parameters, the quantities a report compares, an E(V) fit.

Units: Å, Å³, degrees, eV, GPa.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dpgen_llzo.errors import UserInputError

#: Relative tolerance within which two lattice lengths count as equal (cubic a = b = c).
LENGTH_TOLERANCE = 0.02
#: Tolerance on right angles, degrees.
ANGLE_TOLERANCE_DEG = 1.0


def cell_parameters(cell: np.ndarray) -> dict[str, float]:
    """a, b, c (Å), α, β, γ (degrees) and V (Å³) of a ``(3, 3)`` cell (rows = lattice vectors)."""
    cell = np.asarray(cell, dtype=float)
    lengths = np.linalg.norm(cell, axis=1)

    def angle(i: int, j: int) -> float:
        return float(np.degrees(np.arccos(np.clip(cell[i] @ cell[j] / (lengths[i] * lengths[j]), -1, 1))))

    return {"a_A": float(lengths[0]), "b_A": float(lengths[1]), "c_A": float(lengths[2]),
            "alpha_deg": angle(1, 2), "beta_deg": angle(0, 2), "gamma_deg": angle(0, 1),
            "V_A3": float(abs(np.linalg.det(cell)))}


def report_quantities(reference: Mapping[str, float]) -> tuple[str, ...]:
    """The quantities worth comparing for a cell shaped like ``reference``.

    Cubic-like (a = b = c, right angles): ``a`` (mean of the three lengths) and ``V``;
    a = b ≠ c (tetragonal, hexagonal): ``a`` (mean of a and b), ``c``, ``V``; otherwise
    ``a``, ``b``, ``c``, ``V``.
    """
    a, b, c = reference["a_A"], reference["b_A"], reference["c_A"]
    right = all(abs(reference[k] - 90.0) < ANGLE_TOLERANCE_DEG for k in ("alpha_deg", "beta_deg"))

    def same(x: float, y: float) -> bool:
        return abs(x - y) <= LENGTH_TOLERANCE * max(x, y)

    if same(a, b) and same(b, c) and right and abs(reference["gamma_deg"] - 90.0) < ANGLE_TOLERANCE_DEG:
        return ("a_A", "V_A3")
    if same(a, b) and right:
        return ("a_A", "c_A", "V_A3")
    return ("a_A", "b_A", "c_A", "V_A3")


def reduce_parameters(params: Mapping[str, float], quantities: tuple[str, ...],
                      errors: Mapping[str, float] | None = None) -> dict[str, tuple[float, float | None]]:
    """``quantity → (value, error)`` for :func:`report_quantities`' choice.

    ``a`` is the mean of the lengths the cell shape makes equal (a, b, c for cubic; a, b for
    a = b ≠ c). Errors, if given, are combined as for a mean of independent values.
    """
    errors = errors or {}
    if "b_A" in quantities:
        group = ["a_A"]
    elif "c_A" in quantities:
        group = ["a_A", "b_A"]
    else:
        group = ["a_A", "b_A", "c_A"]
    out: dict[str, tuple[float, float | None]] = {}
    for key in quantities:
        if key == "a_A":
            value = float(np.mean([params[k] for k in group]))
            errs = [errors.get(k) for k in group]
            err = None if any(e is None or not np.isfinite(e) for e in errs) else float(np.sqrt(np.sum(np.square(errs))) / len(group))
        else:
            value = float(params[key])
            e = errors.get(key)
            err = None if e is None or not np.isfinite(e) else float(e)
        out[key] = (value, err)
    return out


def fit_eos(energies: Mapping[Any, float], equi_dir: Path | None = None) -> dict[str, Any]:
    """Birch–Murnaghan fit of E(V) per atom; lattice parameters at V0 from the relaxed cell.

    Parameters
    ----------
    energies
        Volume per atom (Å³; keys may be strings, as dpgen's ``result.json`` writes them) →
        energy per atom (eV).
    equi_dir
        dpgen's ``relaxation/relax_task``; its ``CONTCAR`` is scaled isotropically to V0 to
        give a, b, c at the fitted volume.

    Returns
    -------
    dict
        The scanned points; ``V0_A3_atom``, ``E0_eV_atom``, ``B0_GPa``, ``B1`` (dB/dP) and
        ``minimum_inside_scan``, or ``error`` when E(V) has no minimum to fit; with ``equi_dir``: ``n_atoms``,
        ``V0_A3`` (cell) and ``a_A``, ``b_A``, ``c_A``, angles at V0.
    """
    from pymatgen.analysis.eos import EOS

    volumes = np.array([float(v) for v in energies], dtype=float)
    values = np.array([float(e) for e in energies.values()], dtype=float)
    if len(volumes) < 4:
        raise UserInputError(f"an E(V) fit needs at least 4 volumes, got {len(volumes)}")
    order = np.argsort(volumes)
    out: dict[str, Any] = {"eos": "birch_murnaghan", "volumes_A3_atom": volumes[order], "energies_eV_atom": values[order]}
    try:
        fit = EOS("birch_murnaghan").fit(volumes[order], values[order])
    except Exception as exc:  # pymatgen's EOSError and fitting failures: E(V) without a usable minimum
        out["error"] = f"no Birch-Murnaghan fit ({exc})"
        return out
    if not fit.b0 > 0:
        out["error"] = f"E(V) has a maximum, not a minimum (fitted B0 = {fit.b0_GPa:.0f} GPa)"
        return out
    out.update({"V0_A3_atom": float(fit.v0), "E0_eV_atom": float(fit.e0), "B0_GPa": float(fit.b0_GPa), "B1": float(fit.b1),
                "minimum_inside_scan": bool(volumes.min() < fit.v0 < volumes.max())})
    if equi_dir is not None and (Path(equi_dir) / "CONTCAR").is_file():
        from pymatgen.core import Structure

        relaxed = Structure.from_file(str(Path(equi_dir) / "CONTCAR"))
        n_atoms = len(relaxed)
        scale = (fit.v0 * n_atoms / relaxed.volume) ** (1.0 / 3.0)
        params = cell_parameters(relaxed.lattice.matrix * scale)
        out.update({"n_atoms": n_atoms, "V0_A3": fit.v0 * n_atoms, **{k: v for k, v in params.items() if k != "V_A3"}})
    return out


EV_A3_PER_GPA = 1.0 / 160.21766208


def birch_murnaghan(volume: np.ndarray, V0: float, E0: float, B0_GPa: float, B1: float) -> np.ndarray:
    """Third-order Birch–Murnaghan energy (eV/atom) at ``volume`` (Å³/atom)."""
    eta = (V0 / np.asarray(volume, float)) ** (2.0 / 3.0)
    b0 = B0_GPa * EV_A3_PER_GPA
    return E0 + 9.0 * V0 * b0 / 16.0 * ((eta - 1.0) ** 3 * B1 + (eta - 1.0) ** 2 * (6.0 - 4.0 * eta))
