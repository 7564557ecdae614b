"""The committed grain-boundary cells of ``gb_systems/`` as structure generators.

``llzo-gb-sigma3-112`` and ``llzo-gb-sigma5-310`` return the curated Σ3(112)[1-10] and
Σ5(310)[001] bicrystals, so an init system (and through it DP-GEN's ``sys_configs``) can use
them like any other structure. The committed POSCAR is read from the repository (an editable
install); ``dpgen-llzo gb regenerate --check gb_systems/`` verifies it against a rebuild.
"""

from __future__ import annotations

from pathlib import Path

from dpgen_llzo.structures import STRUCTURES

GB_SYSTEMS = Path(__file__).resolve().parents[2] / "gb_systems"


def load_gb_cell(folder: str):
    """The committed GB cell ``gb_systems/<folder>/POSCAR`` (pymatgen Structure)."""
    from pymatgen.core import Structure

    from dpgen_llzo.errors import UserInputError

    poscar = GB_SYSTEMS / folder / "POSCAR"
    if not poscar.is_file():
        raise UserInputError(f"{poscar}: not found; rebuild it with `dpgen-llzo gb regenerate gb_systems/`")
    return Structure.from_file(str(poscar))


@STRUCTURES.register("llzo-gb-sigma3-112", summary="committed Σ3(112)[1-10] LLZO bicrystal, 1152 atoms (gb_systems/sigma3-112)")
def gb_sigma3_112(*, seed: int = 0):
    """The Σ3(112)[1-10] cell of ``gb_systems/`` (``seed`` is unused: the cell is fixed)."""
    return load_gb_cell("sigma3-112")


@STRUCTURES.register("llzo-gb-sigma5-310", summary="committed Σ5(310)[001] LLZO bicrystal, 1128 atoms (gb_systems/sigma5-310)")
def gb_sigma5_310(*, seed: int = 0):
    """The Σ5(310)[001] cell of ``gb_systems/`` (``seed`` is unused: the cell is fixed)."""
    return load_gb_cell("sigma5-310")
