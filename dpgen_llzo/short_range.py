"""Short-range safety: the ZBL screened-nuclear pair baseline and the closest physical contacts.

A Deep Potential learns nothing below the shortest distance of its training data and may
attract two atoms into one another there. DeePMD's TensorFlow backend can carry a tabulated
pair interaction inside the model (``model/use_srtab``): each atom's energy becomes
``λ·(E_tab + bias) + (1 − λ)·E_DP`` with ``λ`` switching from 1 to 0 as the soft-min distance
to its neighbours grows from ``sw_rmin`` to ``sw_rmax``. The table written here is the ZBL
universal potential (Ziegler, Biersack & Littmark 1985) of every type pair, multiplied by a
smooth (C²) switch that takes it to zero below bonding distances, so a frozen model with it
needs no extra ``pair_style`` line in LAMMPS.

The second half of the module holds the per-pair minimum distances below which a teacher's
labels are not trusted (``dpgen-llzo label`` rejects such frames).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

#: e²/(4πε₀) in eV·Å.
COULOMB_EV_A = 14.399645
#: Bohr radius times the ZBL constant 0.8854, Å (a = 0.46850 / (Z1^0.23 + Z2^0.23)).
ZBL_LENGTH_A = 0.46850
#: Coefficients and exponents of the ZBL universal screening function φ(x).
ZBL_COEFFS = (0.18175, 0.50986, 0.28022, 0.02817)
ZBL_EXPONENTS = (3.19980, 0.94229, 0.40290, 0.20162)


def zbl_screening_length(z1: int, z2: int) -> float:
    """ZBL universal screening length a(Z1, Z2), Å."""
    return ZBL_LENGTH_A / (z1**0.23 + z2**0.23)


def zbl_energy(r: np.ndarray, z1: int, z2: int) -> np.ndarray:
    """ZBL pair energy, eV, at distances ``r`` (Å, > 0) between nuclei of charges z1, z2."""
    r = np.asarray(r, dtype=float)
    x = r / zbl_screening_length(z1, z2)
    phi = sum(c * np.exp(-b * x) for c, b in zip(ZBL_COEFFS, ZBL_EXPONENTS))
    return COULOMB_EV_A * z1 * z2 / r * phi


def zbl_force(r: np.ndarray, z1: int, z2: int) -> np.ndarray:
    """−dE/dr of the ZBL pair energy, eV/Å (positive = repulsive)."""
    r = np.asarray(r, dtype=float)
    a = zbl_screening_length(z1, z2)
    x = r / a
    phi = sum(c * np.exp(-b * x) for c, b in zip(ZBL_COEFFS, ZBL_EXPONENTS))
    dphi_dr = sum(-c * b / a * np.exp(-b * x) for c, b in zip(ZBL_COEFFS, ZBL_EXPONENTS))
    k = COULOMB_EV_A * z1 * z2
    return -(-k / r**2 * phi + k / r * dphi_dr)


def smooth_switch(r: np.ndarray, r_on: float, r_off: float) -> tuple[np.ndarray, np.ndarray]:
    """C² switch S(r): 1 below ``r_on``, 0 above ``r_off`` (Å), quintic smoothstep between.

    Returns
    -------
    tuple
        ``(S, dS/dr)``, dS/dr in 1/Å.
    """
    r = np.asarray(r, dtype=float)
    t = np.clip((r - r_on) / (r_off - r_on), 0.0, 1.0)
    s = 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t**2)
    ds = -30.0 * t**2 * (1.0 - t) ** 2 / (r_off - r_on)
    return s, ds


@dataclass(frozen=True)
class ZBLTable:
    """Settings of the tabulated ZBL baseline (all distances Å).

    Attributes
    ----------
    r_min
        First distance of the table (DeePMD's grid starts there).
    dr
        Grid step.
    switch_on
        The pair energy is pure ZBL up to here ...
    switch_off
        ... and zero from here on (below bonding distances: Li–O bonds are 1.9–2.0 Å in LLZO).
    """

    r_min: float = 0.05
    dr: float = 0.002
    switch_on: float = 1.3
    switch_off: float = 1.7

    def __post_init__(self) -> None:
        if not (0 < self.r_min < self.switch_on < self.switch_off and self.dr > 0):
            raise ValueError(
                f"ZBL table needs 0 < r_min < switch_on < switch_off and dr > 0, got {self}"
            )

    def grid(self) -> np.ndarray:
        """Distances of the table rows, Å (the last row lies at or beyond ``switch_off``)."""
        n = int(math.ceil((self.switch_off - self.r_min) / self.dr)) + 2
        return self.r_min + self.dr * np.arange(n)

    def pair_energy(self, r: np.ndarray, z1: int, z2: int) -> np.ndarray:
        """Switched ZBL energy of one pair, eV."""
        s, _ = smooth_switch(r, self.switch_on, self.switch_off)
        return zbl_energy(r, z1, z2) * s

    def pair_force(self, r: np.ndarray, z1: int, z2: int) -> np.ndarray:
        """−dE/dr of the switched ZBL energy, eV/Å."""
        s, ds = smooth_switch(r, self.switch_on, self.switch_off)
        return zbl_force(r, z1, z2) * s - zbl_energy(r, z1, z2) * ds


def type_pairs(ntypes: int) -> list[tuple[int, int]]:
    """Type pairs (i ≤ j) in DeePMD's table column order: 0-0, 0-1, …, 0-(n−1), 1-1, …"""
    return [(i, j) for i in range(ntypes) for j in range(i, ntypes)]


def zbl_table_array(type_map: Sequence[str], settings: ZBLTable = ZBLTable()) -> np.ndarray:
    """The table DeePMD's ``use_srtab`` reads: column 0 distance (Å), then one energy column (eV) per type pair."""
    from ase.data import atomic_numbers

    unknown = [name for name in type_map if name not in atomic_numbers]
    if unknown:
        raise ValueError(f"type_map holds names that are not elements: {unknown}")
    z = [atomic_numbers[name] for name in type_map]
    r = settings.grid()
    columns = [r] + [settings.pair_energy(r, z[i], z[j]) for i, j in type_pairs(len(z))]
    return np.column_stack(columns)


def write_zbl_table(path: str | os.PathLike, type_map: Sequence[str], settings: ZBLTable = ZBLTable()) -> Path:
    """Write the ZBL table for ``type_map`` to ``path`` (temp file, then rename)."""
    from dpgen_llzo.atomic_io import replace_with

    path = Path(path)
    table = zbl_table_array(type_map, settings)
    pairs = " ".join(f"{type_map[i]}-{type_map[j]}" for i, j in type_pairs(len(type_map)))
    header = (
        f"ZBL universal pair energies (eV) switched to zero between {settings.switch_on} and "
        f"{settings.switch_off} A; written by dpgen-llzo\ncolumns: r(A) {pairs}"
    )
    return replace_with(path, lambda tmp: np.savetxt(tmp, table, fmt="%.10e", header=header))


# --- physical minimum distances -------------------------------------------------------------

#: Fraction of the sum of covalent radii (Cordero et al. 2008, ASE's table) below which a pair
#: counts as unphysically close: 0.45 gives Li–O 0.87 Å, Li–Li 1.15 Å, Zr–O 1.09 Å,
#: La–O 1.23 Å, O–O 0.59 Å, La–La 1.86 Å, below every dimer scan of the production bundle.
DEFAULT_MIN_DISTANCE_FRACTION = 0.45


def default_min_distance(a: str, b: str, fraction: float = DEFAULT_MIN_DISTANCE_FRACTION) -> float:
    """Default closest physical distance of elements ``a`` and ``b``, Å."""
    from ase.data import atomic_numbers, covalent_radii

    return fraction * float(covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


def pair_key(a: str, b: str) -> str:
    """Canonical name of an element pair (``"Li-O"`` and ``"O-Li"`` are the same pair)."""
    return "-".join(sorted((a, b)))


def parse_min_distances(spec: Mapping[str, float] | str | None) -> dict[str, float]:
    """Read per-pair minimum distances from a mapping or ``"Li-O=1.0,Li-Li=1.2"``.

    Raises
    ------
    ValueError
        On a malformed entry, an unknown element or a non-positive distance.
    """
    from ase.data import atomic_numbers

    if not spec:
        return {}
    items = spec.items() if isinstance(spec, Mapping) else (
        part.split("=", 1) if "=" in part else (part, "") for part in spec.split(",") if part.strip()
    )
    result: dict[str, float] = {}
    for name, value in items:
        elements = str(name).strip().split("-")
        if len(elements) != 2 or any(e not in atomic_numbers for e in elements):
            raise ValueError(f"min distance {name!r}: expected an element pair like Li-O")
        try:
            distance = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"min distance {name}: {value!r} is not a number of Å") from None
        if not distance > 0:
            raise ValueError(f"min distance {name}: must be > 0 Å, got {distance}")
        result[pair_key(*elements)] = distance
    return result


def closest_contact(symbols: Sequence[str], positions: np.ndarray, cell: np.ndarray | None,
                    min_distances: Mapping[str, float] | None = None) -> str | None:
    """Find a pair closer than its physical minimum; return the reason, or ``None``.

    Parameters
    ----------
    symbols
        Element of every atom.
    positions
        Cartesian positions, shape (natoms, 3), Å.
    cell
        Lattice vectors as rows, Å (periodic images are searched), or ``None`` for a cluster.
    min_distances
        Overrides of the default minimum per pair (``pair_key`` names), Å.
    """
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    overrides = dict(min_distances or {})
    elements = sorted(set(symbols))
    limits = {pair_key(a, b): overrides.get(pair_key(a, b), default_min_distance(a, b))
              for a in elements for b in elements}
    cutoff = max(limits.values())
    atoms = Atoms(symbols=list(symbols), positions=positions, cell=cell if cell is not None else np.zeros((3, 3)),
                  pbc=cell is not None)
    first, second, distance = neighbor_list("ijd", atoms, cutoff)
    worst: tuple[float, int, int] | None = None
    for i, j, d in zip(first, second, distance):
        if i < j or (i == j):
            limit = limits[pair_key(symbols[i], symbols[j])]
            if d < limit and (worst is None or d / limit < worst[0]):
                worst = (d / limit, int(i), int(j))
    if worst is None:
        return None
    _, i, j = worst
    d = float(np.min(distance[(first == i) & (second == j)]))
    key = pair_key(symbols[i], symbols[j])
    return (f"atoms {i} ({symbols[i]}) and {j} ({symbols[j]}) are {d:.3f} Å apart, closer than the "
            f"physical minimum {limits[key]:.2f} Å of {key}")
