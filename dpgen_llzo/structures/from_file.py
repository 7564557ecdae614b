"""``file``: an init structure read from disk (your own cells: doped, defective, relaxed elsewhere).

The path is relative to the directory ``dpgen-llzo init`` runs in (the DP-GEN work directory),
like every other path of a param.json. Formats: anything pymatgen recognises from the file
name (POSCAR/CONTCAR, ``*.vasp``, CIF, …), or any ASE format named with ``fmt`` (``extxyz``,
``lammps-data``, …). The init checks every cell afterwards: elements in ``type_map``, no two
atoms closer than :data:`~dpgen_llzo.structures.common.MIN_SEPARATION_A`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.structures import STRUCTURES
from dpgen_llzo.structures.common import sort_sites

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure


@STRUCTURES.register("file", summary="a cell read from a file (path; fmt: an ASE format, else from the name): your own doped or defective cells")
def read_structure_file(*, seed: int = 0, path: str = "", fmt: str = "") -> Structure:
    """Read one periodic structure from ``path``.

    Parameters
    ----------
    seed
        Unused (nothing random); accepted for the common generator signature.
    path
        Structure file, relative to the current directory.
    fmt
        ASE format name (``"extxyz"``, ``"lammps-data"``, ``"vasp"``, …); empty: pymatgen decides
        from the file name.

    Raises
    ------
    UserInputError
        No path, a missing file, or a file neither reader understands (one line).
    """
    if not path:
        raise UserInputError("file: give params.path (a POSCAR, CIF, extxyz … file)")
    source = Path(path)
    if not source.is_file():
        raise UserInputError(f"file: no structure file {str(source)!r} (paths are relative to {Path.cwd()})")
    try:
        if fmt:
            from ase.io import read
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = read(source, format=fmt, index=0)
            if not all(atoms.pbc):
                raise ValueError("not periodic in all three directions")
            structure = AseAtomsAdaptor.get_structure(atoms)
        else:
            from pymatgen.core import Structure

            structure = Structure.from_file(str(source))
    except Exception as error:  # the readers raise many kinds; the user needs one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(f"file: cannot read {str(source)!r} as {fmt or 'a structure'}: {reason}") from None
    if len(structure) == 0:
        raise UserInputError(f"file: {str(source)!r} holds no atoms")
    return sort_sites(structure)
