"""Lattice parameters vs temperature from NPT runs, and thermal expansion.

Input: LAMMPS logs (thermo columns ``Temp`` plus ``Lx Ly Lz [Xy Xz Yz]`` or ``Cella Cellb
Cellc``; ``Volume`` optional) or trajectories (cell per frame; temperature given per file).
Each file is one NPT run at one temperature: the first ``equilibration_fraction`` of its rows
is dropped, the rest averaged, and the error is the standard error from ``n_blocks`` block
means (rows are time-correlated). A single heating ramp is binned by ``Temp`` instead
(``ramp_bin_K``). Lengths are divided by the supercell multiplicities to give conventional
cell parameters. Units: Å, Å³, K, K⁻¹.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.fitting import line_fit
from dpgen_llzo.errors import UserInputError

LATTICE_KEYS = ("a_A", "b_A", "c_A", "V_A3")


def read_lammps_thermo(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All thermo rows of a LAMMPS log, column name (lower case) → values.

    Several ``run`` blocks are concatenated; they must print the same columns.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: LAMMPS log not found")
    names: list[str] | None = None
    active = False
    rows: list[list[float]] = []
    with open(path, errors="replace") as handle:
        for line in handle:
            words = line.split()
            if not words:
                continue
            if words[0] == "Step":
                header = [w.lower() for w in words]
                if names is not None and header != names:
                    raise UserInputError(f"{path}: thermo columns change between runs")
                names, active = header, True
            elif words[0] == "Loop":
                active = False
            elif active and len(words) == len(names):
                try:
                    rows.append([float(w) for w in words])
                except ValueError:
                    continue
    if not rows:
        raise UserInputError(f"{path}: no thermo rows found (is it a LAMMPS log?)")
    data = np.array(rows)
    return {name: data[:, i] for i, name in enumerate(names)}


def cell_lengths_from_thermo(thermo: dict[str, np.ndarray], source: str = "log") -> dict[str, np.ndarray]:
    """a, b, c (Å), V (Å³) and T (K) per thermo row."""
    if "temp" not in thermo:
        raise UserInputError(f"{source}: thermo output has no Temp column")
    if all(k in thermo for k in ("cella", "cellb", "cellc")):
        a, b, c = thermo["cella"], thermo["cellb"], thermo["cellc"]
    elif all(k in thermo for k in ("lx", "ly", "lz")):
        xy, xz, yz = (thermo.get(k, 0.0) for k in ("xy", "xz", "yz"))
        a, b, c = thermo["lx"], np.sqrt(thermo["ly"] ** 2 + xy**2), np.sqrt(thermo["lz"] ** 2 + xz**2 + yz**2)
    else:
        raise UserInputError(f"{source}: thermo output needs Lx Ly Lz (or Cella Cellb Cellc) columns;"
                             " add them to thermo_style")
    volume = thermo["vol"] if "vol" in thermo else thermo.get("volume")
    if volume is None:
        if "lx" not in thermo:
            raise UserInputError(f"{source}: thermo output needs a Volume column")
        volume = thermo["lx"] * thermo["ly"] * thermo["lz"]
    return {"T_K": thermo["temp"], "a_A": a, "b_A": b, "c_A": c, "V_A3": volume}


def cell_lengths_from_cells(cells: np.ndarray) -> dict[str, np.ndarray]:
    """a, b, c (Å) and V (Å³) per frame from ``(n, 3, 3)`` cells."""
    lengths = np.linalg.norm(cells, axis=2)
    return {"a_A": lengths[:, 0], "b_A": lengths[:, 1], "c_A": lengths[:, 2],
            "V_A3": np.abs(np.linalg.det(cells))}


def block_mean(values: np.ndarray, n_blocks: int = 5) -> tuple[float, float]:
    """Mean and block standard error (NaN error when there are fewer rows than blocks)."""
    values = np.asarray(values, dtype=float)
    if len(values) < n_blocks or n_blocks < 2:
        return float(values.mean()), float("nan")
    blocks = np.array([b.mean() for b in np.array_split(values, n_blocks)])
    return float(values.mean()), float(blocks.std(ddof=1) / np.sqrt(n_blocks))


@dataclass
class LatticeTable:
    """Lattice parameters per temperature (conventional cell)."""

    T_K: np.ndarray
    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    supercell: tuple[int, int, int]

    def to_dict(self) -> dict:
        out = {"supercell": list(self.supercell), "T_K": self.T_K}
        for key in LATTICE_KEYS:
            out[key] = self.values[key]
            out[key.replace("_", "_err_", 1)] = self.errors[key]
        return out

    @classmethod
    def from_dict(cls, data: dict, source: str = "lattice JSON") -> "LatticeTable":
        try:
            return cls(np.asarray(data["T_K"], float), {k: np.asarray(data[k], float) for k in LATTICE_KEYS},
                       {k: np.asarray([np.nan if e is None else e for e in data[k.replace("_", "_err_", 1)]], float)
                        for k in LATTICE_KEYS}, tuple(data.get("supercell", (1, 1, 1))))
        except (KeyError, TypeError, ValueError):
            raise UserInputError(f"{source}: not a lattice table (needs T_K, a_A, b_A, c_A, V_A3 and errors)") from None


def lattice_table(series: Sequence[dict[str, np.ndarray]], supercell: Sequence[int] = (1, 1, 1), *,
                  equilibration_fraction: float = 0.2, n_blocks: int = 5,
                  ramp_bin_K: float | None = None) -> LatticeTable:
    """Average lattice parameters per run (or per temperature bin of a ramp).

    Parameters
    ----------
    series
        One dict per run with ``T_K``, ``a_A``, ``b_A``, ``c_A``, ``V_A3`` arrays (rows in time order).
    supercell
        Multiplicities dividing a, b, c (V is divided by their product).
    equilibration_fraction
        Leading share of each run's rows to discard.
    ramp_bin_K
        If given, pool all rows and average in temperature bins of this width instead.
    """
    mult = np.asarray(supercell, dtype=float)
    if mult.shape != (3,) or np.any(mult <= 0):
        raise UserInputError(f"--supercell needs three positive integers, got {supercell}")
    if not 0 <= equilibration_fraction < 1:
        raise UserInputError(f"equilibration fraction must be in [0, 1), got {equilibration_fraction}")
    scale = {"a_A": mult[0], "b_A": mult[1], "c_A": mult[2], "V_A3": mult.prod()}
    groups: list[dict[str, np.ndarray]] = []
    if ramp_bin_K:
        pooled = {k: np.concatenate([s[k] for s in series]) for k in ("T_K",) + LATTICE_KEYS}
        bins = np.floor(pooled["T_K"] / ramp_bin_K).astype(int)
        for b in np.unique(bins):
            groups.append({k: v[bins == b] for k, v in pooled.items()})
    else:
        for s in series:
            skip = int(len(s["T_K"]) * equilibration_fraction)
            groups.append({k: np.asarray(v)[skip:] for k, v in s.items()})
    T, vals, errs = [], {k: [] for k in LATTICE_KEYS}, {k: [] for k in LATTICE_KEYS}
    for g in groups:
        T.append(float(np.mean(g["T_K"])))
        for k in LATTICE_KEYS:
            m, e = block_mean(g[k] / scale[k], n_blocks)
            vals[k].append(m)
            errs[k].append(e)
    order = np.argsort(T)
    return LatticeTable(np.asarray(T)[order], {k: np.asarray(v)[order] for k, v in vals.items()},
                        {k: np.asarray(v)[order] for k, v in errs.items()}, tuple(int(m) for m in mult))


ANALYSES.register("lattice", summary="a, b, c, V vs T from NPT logs/dumps; thermal expansion")(lattice_table)


def thermal_expansion(T_K: np.ndarray, values: np.ndarray,
                      T_range: tuple[float, float] | None = None) -> tuple[float, float]:
    """Thermal expansion coefficient (K⁻¹) of ``values`` over ``T_range``, and its standard error.

    Straight-line fit ``x(T) = x0 + s T`` over the range; ``α = s / x(T_mid)`` with ``T_mid`` the
    middle of the fitted range. Pass lattice lengths for the linear coefficient, volumes for
    the volumetric one (≈ 3 × linear for a cubic cell). Error from the fit residuals (NaN for
    two points).
    """
    T = np.asarray(T_K, dtype=float)
    x = np.asarray(values, dtype=float)
    sel = np.ones_like(T, bool) if T_range is None else (T >= T_range[0]) & (T <= T_range[1])
    if sel.sum() < 2:
        raise UserInputError(f"thermal expansion needs ≥ 2 temperatures in {T_range} K, found {int(sel.sum())}")
    t, y = T[sel], x[sel]
    slope, intercept = line_fit(t, y)
    ref = float(intercept + slope * 0.5 * (t.min() + t.max()))
    s_err = float("nan")
    if len(t) > 2:
        resid = y - (intercept + slope * t)
        s_err = float(np.sqrt(resid @ resid / (len(t) - 2) / np.sum((t - t.mean()) ** 2)))
    return float(slope) / ref, s_err / abs(ref)
