"""Experimental (and literature) values the autotest report compares with (science.md §2).

Structures are matched by the conf directory's name: ``llzo-cubic`` and ``llzo-tetragonal``
use the measured values below; any other registered structure generator (``li2o``, ``la2o3``,
…) is compared with the cell it builds by default, which is its experimental room-temperature
cell (see :mod:`dpgen_llzo.structures.references`). Units: Å, Å³, K.
"""

from __future__ import annotations

from dataclasses import dataclass

from dpgen_llzo.autotest.cells import cell_parameters


@dataclass(frozen=True)
class Measurement:
    """One measured lattice parameter."""

    quantity: str
    value: float
    T_K: float
    source: str


ROOM_TEMPERATURE_K = 298.0

MEASUREMENTS: dict[str, tuple[Measurement, ...]] = {
    "llzo-cubic": (
        Measurement("a_A", 12.97, ROOM_TEMPERATURE_K, "Murugan et al. 2007, Al-doped cubic, RT (12.96-12.98 Å)"),
        Measurement("a_A", 13.105, 899.0, "neutron diffraction, undoped (Chen et al.)"),
        Measurement("a_A", 13.182, 1248.0, "neutron diffraction, undoped (Chen et al.)"),
    ),
    "llzo-tetragonal": (
        Measurement("a_A", 13.134, ROOM_TEMPERATURE_K, "Awaka et al. 2009, RT"),
        Measurement("c_A", 12.663, ROOM_TEMPERATURE_K, "Awaka et al. 2009, RT"),
    ),
}

#: First RDF peak positions of the 0 K LLZO cells, Å (science.md §2, from DFT-relaxed cells).
RDF_FIRST_PEAK_A: dict[str, tuple[float, str]] = {
    "Li-O": (1.95, "DFT 0 K cells, 1.9-2.0 Å (science.md §2)"),
    "Zr-O": (2.1, "DFT 0 K cells (science.md §2)"),
    "La-O": (2.55, "DFT 0 K cells (science.md §2)"),
}

#: Largest temperature difference at which a measurement is compared with an MD average, K.
TEMPERATURE_TOLERANCE_K = 60.0


def experimental_cell(name: str) -> dict | None:
    """Room-temperature a, b, c, angles, V of structure ``name`` with ``T_K`` and ``source``; None if unknown."""
    if name in MEASUREMENTS:
        values = {m.quantity: m for m in MEASUREMENTS[name] if m.T_K == ROOM_TEMPERATURE_K}
        a = values["a_A"].value
        c = values["c_A"].value if "c_A" in values else a
        return {"a_A": a, "b_A": a, "c_A": c, "alpha_deg": 90.0, "beta_deg": 90.0, "gamma_deg": 90.0,
                "V_A3": a * a * c, "T_K": ROOM_TEMPERATURE_K,
                "source": "; ".join(sorted({m.source for m in values.values()}))}
    from dpgen_llzo.structures import STRUCTURES, build_structure

    if name not in STRUCTURES:
        return None
    params = cell_parameters(build_structure(name).lattice.matrix)
    return {**params, "T_K": ROOM_TEMPERATURE_K, "source": f"experimental cell of generator {name!r} (structures/references.py)"}


def experiment_at(name: str, quantity: str, T_K: float) -> Measurement | None:
    """The measurement of ``quantity`` closest in temperature to ``T_K`` (within the tolerance).

    ``V_A3`` is derived from a (and c) measured at the same temperature.
    """
    candidates = MEASUREMENTS.get(name, ())
    if quantity == "V_A3":
        derived = []
        for m in candidates:
            if m.quantity != "a_A":
                continue
            c = next((x.value for x in candidates if x.quantity == "c_A" and x.T_K == m.T_K), m.value)
            derived.append(Measurement("V_A3", m.value**2 * c, m.T_K, m.source + " (V from a, c)"))
        candidates = tuple(derived)
    matches = [m for m in candidates if m.quantity == quantity and abs(m.T_K - T_K) <= TEMPERATURE_TOLERANCE_K]
    return min(matches, key=lambda m: abs(m.T_K - T_K)) if matches else None
