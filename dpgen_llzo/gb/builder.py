"""Build a charge-neutral, stoichiometric grain-boundary cell and the record that describes it.

:func:`build_gb` is the whole recipe, a pure function of a :class:`GBSpec` (and optionally a
bulk cell):

1. bulk: the ordered cubic LLZO cell of :mod:`dpgen_llzo.structures` (``seed``, ``a``), or a
   user cubic cell;
2. the CSL from aimsgb and the two grain slabs (:mod:`.geometry`);
3. a small rigid-body scan, as in GB studies of LLZO (Yu & Siegel 2017): the slabs are cut at
   ``scan_offsets`` positions along their stacking vector (which atomic layers terminate the
   grains), grain B is shifted by ``scan_translations``² in-plane fractions of the CSL vectors
   (0 and ½ by default) and each GB is opened by each of ``scan_gaps`` (0, 0.75, 1.5 Å: the
   excess volume of the boundary); every candidate is cleaned with the merge/remove/restore
   rule of :mod:`.interfaces`;
4. the candidate that needed the **fewest ions removed** is kept (the clean-up is a repair;
   less repair, less invented chemistry), ties broken by the lowest electrostatic GB energy
   ``γ = (E_DSF(cell) − n_fu · E_DSF(bulk)/fu) / (n_planes · A)`` and then by scan order.
   γ is a formal-charge Coulomb proxy, not a relaxed GB energy;
5. :func:`~.interfaces.check_cell`, sites sorted Li, La, Zr, O.

The record (:meth:`GBCell.record`, written as JSON next to the POSCAR) holds the fields the
analysis reads (``normal_axis``, ``plane_positions_A``, ``cell_length_A``) plus everything
needed to rebuild the cell exactly (``build_parameters``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dpgen_llzo.errors import UserInputError

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

#: Plane separation rule: more than 2 × rcut (6 Å) between the two GB planes.
DEFAULT_MIN_SEPARATION_A = 12.0
#: Cubic lattice parameter of the default bulk, Å (same default as the structure generator).
DEFAULT_A = 12.97


@dataclass(frozen=True)
class GBSpec:
    """Everything that determines a GB cell (recorded as ``build_parameters``).

    Attributes
    ----------
    sigma, axis, plane
        The boundary: Σ, rotation axis [uvw] and GB plane (hkl).
    seed
        Seed of the cubic LLZO Li ordering (ignored with ``bulk``).
    a
        Cubic lattice parameter of the generated bulk, Å (ignored with ``bulk``).
    bulk
        Path of a cubic bulk POSCAR to use instead of the generator (relative paths are
        relative to the working directory, or to the JSON when regenerating).
    uc_a, uc_b
        Grain thickness in whole CSL periods (aimsgb's meaning); None: thinnest slabs that
        satisfy ``min_separation``.
    vacuum
        Vacuum above grain B, Å (one GB and two surfaces instead of two GBs).
    min_separation
        The GB planes must be more than this far apart, Å.
    scan_offsets, scan_translations, scan_gaps
        Rigid-body scan: number of cut positions along the stacking vector, number of in-plane
        shifts of grain B along each CSL vector, and the openings tried at each GB (Å).
    min_distance, min_like_charge, merge_distance
        Contact rules, Å (:class:`~.interfaces.ContactRules`).
    bulk_fraction
        Every element pair must also stay at least this fraction of its shortest bulk distance
        apart (0 switches the per-pair bounds off).
    region_half_width
        Stoichiometry is restored within this distance of a GB plane, Å.
    """

    sigma: int
    axis: tuple[int, int, int]
    plane: tuple[int, int, int]
    seed: int = 0
    a: float = DEFAULT_A
    bulk: str | None = None
    uc_a: int | None = None
    uc_b: int | None = None
    vacuum: float = 0.0
    min_separation: float = DEFAULT_MIN_SEPARATION_A
    scan_offsets: int = 4
    scan_translations: int = 2
    scan_gaps: tuple[float, ...] = (0.0, 0.75, 1.5)
    min_distance: float = 1.5
    min_like_charge: float = 2.2
    merge_distance: float = 1.0
    bulk_fraction: float = 0.85
    region_half_width: float = 5.0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["axis"], data["plane"] = list(self.axis), list(self.plane)
        data["scan_gaps"] = list(self.scan_gaps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "build_parameters") -> GBSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserInputError(f"{source}: unknown field {unknown[0]!r}")
        try:
            values = dict(data)
            values["axis"] = tuple(int(i) for i in data["axis"])
            values["plane"] = tuple(int(i) for i in data["plane"])
            if "scan_gaps" in data:
                values["scan_gaps"] = tuple(float(g) for g in data["scan_gaps"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserInputError(f"{source}: {exc}") from None

    def command(self, output: str) -> str:
        """The ``dpgen-llzo gb build`` command line that makes this cell."""
        words = [
            "dpgen-llzo gb build",
            f"--sigma {self.sigma}",
            f"--axis {' '.join(map(str, self.axis))}",
            f"--plane {' '.join(map(str, self.plane))}",
        ]
        defaults = GBSpec(self.sigma, self.axis, self.plane)
        options = {
            "bulk": "--bulk",
            "seed": "--seed",
            "a": "--a",
            "uc_a": "--uc-a",
            "uc_b": "--uc-b",
            "vacuum": "--vacuum",
            "min_separation": "--min-separation",
            "scan_offsets": "--scan-offsets",
            "scan_translations": "--scan-translations",
            "min_distance": "--min-distance",
            "min_like_charge": "--min-like-charge",
            "merge_distance": "--merge-distance",
            "bulk_fraction": "--bulk-fraction",
            "region_half_width": "--region-half-width",
        }
        for name, flag in options.items():
            value = getattr(self, name)
            if name == "seed" or value != getattr(defaults, name):
                words.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
        if self.scan_gaps != defaults.scan_gaps:
            words.append("--scan-gaps " + " ".join(f"{g:g}" for g in self.scan_gaps))
        words.append(f"-o {output}")
        return " ".join(words)


@dataclass(frozen=True)
class GBCell:
    """A finished GB cell and its record.

    Attributes
    ----------
    structure
        Sites sorted Li, La, Zr, O; GB planes normal to the third lattice vector.
    record
        JSON-ready description (see the module docstring); ``command`` and ``poscar`` are
        filled in by :func:`write_gb_cell`.
    """

    structure: Structure
    record: dict[str, Any] = field(default_factory=dict)


def aimsgb_version() -> str:
    """Installed aimsgb version."""
    from importlib.metadata import version

    return version("aimsgb")


def load_bulk(spec: GBSpec, base: Path | None = None) -> Structure:
    """The bulk cell of ``spec``: the user POSCAR (relative to ``base``) or the cubic generator."""
    if spec.bulk is None:
        from dpgen_llzo.structures import build_structure

        return build_structure("llzo-cubic", seed=spec.seed, a=spec.a)
    from pymatgen.core import Structure

    path = Path(spec.bulk)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise UserInputError(f"{path}: bulk POSCAR not found")
    try:
        return Structure.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 (pymatgen raises many types for unreadable files)
        raise UserInputError(f"{path}: cannot read a structure ({exc})") from None


def _formula(counts: dict[str, int]) -> str:
    from dpgen_llzo.structures.common import SPECIES_ORDER

    order = sorted(counts, key=lambda e: (SPECIES_ORDER.index(e) if e in SPECIES_ORDER else 99, e))
    return "".join(f"{e}{counts[e]}" for e in order)


def _check_bulk(bulk: Structure, rules: Any) -> dict[str, int]:
    from dpgen_llzo.gb.interfaces import charges_of, close_contacts, element_counts, formula_unit

    try:
        q = charges_of(bulk)
    except KeyError as exc:
        raise UserInputError(f"bulk cell: {exc.args[0]}") from None
    if abs(q.sum()) > 1e-9:
        raise UserInputError(
            f"bulk cell is not charge-neutral with formal charges ({q.sum():+g} e)"
        )
    if len(close_contacts(bulk, rules, q)):
        raise UserInputError("bulk cell already breaks the distance bounds")
    return formula_unit(element_counts(bulk))


def build_gb(spec: GBSpec, bulk: Structure | None = None) -> GBCell:
    """Build the GB cell of ``spec`` (see the module docstring).

    Parameters
    ----------
    spec
        Build parameters.
    bulk
        Bulk cell; None loads it from ``spec`` (:func:`load_bulk`).

    Returns
    -------
    GBCell
        The cell and its record (without ``command``/``poscar``).

    Raises
    ------
    UserInputError
        Bad Σ/axis/plane (the message lists aimsgb's options), bad bulk or thickness.
    """
    from dpgen_llzo import __version__
    from dpgen_llzo.gb.geometry import find_csl, prepare_grains, stack_grains
    from dpgen_llzo.gb.interfaces import (
        ContactRules,
        bulk_pair_bounds,
        check_cell,
        dsf_energy,
        element_counts,
        resolve_interfaces,
    )
    from dpgen_llzo.structures.common import sort_sites

    for name in ("scan_offsets", "scan_translations"):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserInputError(f"{name} must be a positive integer, got {value!r}")
    if not spec.scan_gaps or any(not 0 <= g <= 5 for g in spec.scan_gaps):
        raise UserInputError(
            f"scan_gaps must be 1 or more openings from 0 to 5 Å, got {spec.scan_gaps}"
        )
    if not spec.min_separation > 0:
        raise UserInputError(f"min_separation must be positive, got {spec.min_separation}")
    if not 0 <= spec.bulk_fraction < 1:
        raise UserInputError(f"bulk_fraction must be in [0, 1), got {spec.bulk_fraction}")
    choice = find_csl(spec.sigma, spec.axis, spec.plane)
    bulk = load_bulk(spec) if bulk is None else bulk
    rules = ContactRules(
        spec.min_distance,
        spec.min_like_charge,
        spec.merge_distance,
        bulk_pair_bounds(bulk, spec.bulk_fraction) if spec.bulk_fraction > 0 else (),
    )
    unit = _check_bulk(bulk, rules)
    unit_size = sum(unit.values())
    bulk_energy_per_unit = dsf_energy(bulk) / (len(bulk) / unit_size)
    pair = prepare_grains(
        bulk, choice, min_separation=spec.min_separation, uc_a=spec.uc_a, uc_b=spec.uc_b
    )

    best = None
    n_candidates = 0
    offsets = [k / spec.scan_offsets for k in range(spec.scan_offsets)]
    shifts = [k / spec.scan_translations for k in range(spec.scan_translations)]
    for gap in spec.scan_gaps:
        for offset in offsets:
            for shift in ((x, y) for x in shifts for y in shifts):
                bicrystal = stack_grains(
                    pair, cut_offset=offset, translation=shift, vacuum=spec.vacuum, gap=gap
                )
                cleaned, report = resolve_interfaces(
                    bicrystal.structure,
                    bicrystal.plane_fractions,
                    unit,
                    rules,
                    spec.region_half_width,
                )
                n_candidates += 1
                lattice = cleaned.lattice.matrix
                area = float(np.linalg.norm(np.cross(lattice[0], lattice[1])))
                n_units = len(cleaned) / unit_size
                excess = report.dsf_energy_eV - n_units * bulk_energy_per_unit
                gamma = excess / (len(bicrystal.plane_fractions) * area)
                key = (report.n_removed, round(gamma, 8))
                if best is None or key < best[0]:
                    best = (key, gamma, gap, offset, shift, bicrystal, cleaned, report)
    assert best is not None
    _, gamma, gap, offset, shift, bicrystal, cleaned, report = best
    check = check_cell(cleaned, unit, rules)
    grains = {g: cleaned.site_properties["grain"].count(g) for g in ("A", "B")}
    cleaned.remove_site_property("grain")
    structure = sort_sites(cleaned)

    lattice = structure.lattice
    length = float(lattice.abc[2])
    positions = [round(p * length, 9) for p in bicrystal.plane_fractions]
    spacing = structure.volume / float(
        np.linalg.norm(np.cross(lattice.matrix[0], lattice.matrix[1]))
    )
    if len(positions) == 2:
        apart = abs(bicrystal.plane_fractions[1] - bicrystal.plane_fractions[0])
        separation = min(apart, 1 - apart) * spacing
    else:
        separation = min(bicrystal.grain_thickness_A)
    counts = element_counts(structure)
    record: dict[str, Any] = {
        "sigma": choice.sigma,
        "axis": list(choice.axis),
        "plane": list(choice.plane),
        "csl_plane": list(choice.csl_plane),
        "theta_deg": round(choice.theta_deg, 6),
        "normal_axis": 2,
        "plane_positions_A": positions,
        "cell_length_A": round(length, 9),
        "lattice_abc_A": [round(x, 9) for x in lattice.abc],
        "lattice_angles_deg": [round(x, 9) for x in lattice.angles],
        "n_atoms": len(structure),
        "composition": _formula(counts),
        "formula_unit": _formula(unit),
        "n_formula_units": check.n_formula_units,
        "plane_separation_A": round(separation, 6),
        "grain_thickness_A": [round(h, 6) for h in bicrystal.grain_thickness_A],
        "stacking_vectors": [list(v) for v in bicrystal.stacking_vectors],
        "atoms_per_grain": grains,
        "vacuum_A": spec.vacuum,
        "interface": {
            "rule": "scan cut offset x in-plane translation x gap; per candidate: merge "
            "same-element pairs < merge_distance, remove the cheapest-DSF-energy ion of each "
            "pair breaking the contact bounds, remove whole formula units in total with the "
            "extra ions taken cheapest-first within region_half_width of a GB plane; keep the "
            "candidate with the fewest ions removed, then the lowest DSF GB energy",
            "gap_A": gap,
            "cut_offset": offset,
            "translation": list(shift),
            "candidates_scanned": n_candidates,
            "dsf_gb_energy_J_m2": round(gamma * 16.02176634, 6),
            **report.as_dict(),
        },
        "checks": check.as_dict(),
        "pair_bounds_A": {f"{a}-{b}": d for a, b, d in rules.pair_minimum},
        "seed": spec.seed if spec.bulk is None else None,
        "bulk": (
            {"generator": "llzo-cubic", "seed": spec.seed, "a_A": spec.a}
            if spec.bulk is None
            else {"poscar": spec.bulk}
        ),
        "aimsgb_version": aimsgb_version(),
        "dpgen_llzo_version": __version__,
        "relaxation": None,
        "build_parameters": spec.to_dict(),
    }
    return GBCell(structure, record)
