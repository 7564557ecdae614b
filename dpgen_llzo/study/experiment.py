"""Experimental and literature values the study is compared with (science.md §2 and §8).

Lattice constants and RDF peaks come from :mod:`dpgen_llzo.autotest.experiment` (one table
for the autotest and the study); the transport and transition values are added here.
Each entry: ``value`` (or ``range``), unit, source.
"""

from __future__ import annotations

from dpgen_llzo.autotest.experiment import MEASUREMENTS, RDF_FIRST_PEAK_A, experiment_at

TC_K = {"value": 899.0, "range": [874.0, 923.0], "unit": "K",
        "source": "t→c on heating: 874–899 K neutron data, 923 K quoted in You et al. 2024 (science.md §2, §8)"}
EA_BULK_EV = {"range": [0.3, 0.4], "unit": "eV", "source": "cubic LLZO, literature (science.md §2)"}
EA_TETRAGONAL_EV = {"value": 0.5, "unit": "eV", "source": "tetragonal LLZO, literature (science.md §2)"}
SIGMA_300K_S_CM = {"range": [1e-4, 1e-3], "unit": "S/cm",
                   "source": "doped cubic garnet at RT, up to ~4e-4 S/cm (science.md §2, §8); tetragonal ~1e-6 S/cm"}
ALPHA_LINEAR_PER_K = {"range": [1.3e-5, 1.7e-5], "unit": "1/K",
                      "source": "cubic, experiment; DP of You et al. gave 5.48e-5 1/K over 1000–1500 K (science.md §2)"}
GB_SLOWDOWN = {"range": [1 / 3, 1 / 2], "unit": "D_GB/D_bulk",
               "source": "Σ3 and Σ5 GBs 2–3x slower than bulk at processing T (Yu & Siegel 2017, science.md §2)"}


def cubic_lattice_at(temperature_K: float) -> dict | None:
    """Measured cubic a (Å) closest to ``temperature_K`` within the autotest's tolerance, as a dict."""
    m = experiment_at("llzo-cubic", "a_A", temperature_K)
    return None if m is None else {"value": m.value, "T_K": m.T_K, "unit": "Å", "source": m.source}


def rdf_peak(pair: str) -> dict | None:
    """First RDF peak of ``pair`` (Å) in the DFT 0 K cells, as a dict."""
    if pair not in RDF_FIRST_PEAK_A:
        return None
    value, source = RDF_FIRST_PEAK_A[pair]
    return {"value": value, "unit": "Å", "source": source}


def tetragonal_cell() -> dict:
    """Room-temperature tetragonal a and c (Å)."""
    values = {m.quantity: m for m in MEASUREMENTS["llzo-tetragonal"]}
    return {"a_A": values["a_A"].value, "c_A": values["c_A"].value, "source": values["a_A"].source}


def describe(entry: dict | None) -> str:
    """``12.97 Å`` / ``0.3–0.4 eV`` for the report."""
    if not entry:
        return "–"
    unit = entry.get("unit", "")
    if "value" in entry:
        return f"{entry['value']:g} {unit}".strip()
    lo, hi = entry["range"]
    return f"{lo:.3g}–{hi:.3g} {unit}".strip()
