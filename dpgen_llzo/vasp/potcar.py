"""POTCARs of the production bundle: which PAW dataset per element, reading a POTCAR's header,
and assembling the POTCAR of a cell.

POTCARs are concatenated in ``type_map`` order by :func:`assemble_potcar`, which reads each
file's ``TITEL``/``VRHFIN`` header and refuses a file for the wrong element, so a POTCAR never
silently disagrees with the POSCAR species line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from dpgen_llzo.errors import UserInputError

#: PAW datasets of the PBE 54 set used for each element, with the reason.
POTCAR_VARIANTS: dict[str, tuple[str, str]] = {
    "Li": ("Li_sv", "1s semicore in valence (3 e): needed at the short Li-O distances of hot frames"),
    "La": ("La", "5s5p semicore, 5d6s valence with 4f projectors (11 e); the VASP and Materials Project choice"),
    "Zr": ("Zr_sv", "4s4p semicore in valence (12 e): the VASP-recommended Zr dataset"),
    "O": ("O", "standard O (6 e), ENMAX 400 eV"),
}


def default_potcar_variants() -> dict[str, str]:
    """Element → PAW dataset name (``{"Li": "Li_sv", ...}``) of the production bundle."""
    return {element: variant for element, (variant, _) in POTCAR_VARIANTS.items()}


@dataclass(frozen=True)
class PotcarHeader:
    """What the header of one POTCAR says about itself.

    Attributes
    ----------
    titel
        The ``TITEL`` value, e.g. ``PAW_PBE Li_sv 10Sep2004``.
    symbol
        The dataset name from ``TITEL``, e.g. ``Li_sv``.
    element
        The element of ``VRHFIN``, e.g. ``Li``.
    enmax
        ``ENMAX`` in eV, or None if the header has none.
    """

    titel: str
    symbol: str
    element: str
    enmax: float | None


_TITEL = re.compile(r"^\s*TITEL\s*=\s*(.+?)\s*$", re.MULTILINE)
_VRHFIN = re.compile(r"^\s*VRHFIN\s*=\s*([A-Za-z]+)\s*:", re.MULTILINE)
_ENMAX = re.compile(r"^\s*ENMAX\s*=\s*([-+0-9.Ee]+)", re.MULTILINE)


def element_of_dataset(name: str) -> str:
    """The element of a PAW dataset name: ``Li_sv`` → ``Li``, ``O_h`` → ``O``, ``H.75`` → ``H``.

    Raises
    ------
    UserInputError
        If the name does not start with an element symbol.
    """
    from pymatgen.core.periodic_table import Element

    match = re.match(r"([A-Z][a-z]?)(?![a-z])", name)
    if match and Element.is_valid_symbol(match.group(1)):
        return match.group(1)
    raise UserInputError(f"POTCAR dataset {name!r} does not start with an element symbol")


def read_potcar_header(text: str, source: str | Path) -> PotcarHeader:
    """Parse the ``TITEL``, ``VRHFIN`` and ``ENMAX`` lines of a single-element POTCAR.

    Raises
    ------
    UserInputError
        No ``TITEL`` (not a POTCAR), several (an assembled POTCAR, not one element), no
        ``VRHFIN``, or ``TITEL`` and ``VRHFIN`` naming different elements.
    """
    titles = _TITEL.findall(text)
    if not titles:
        raise UserInputError(f"{source}: no TITEL line; not a VASP POTCAR")
    if len(titles) > 1:
        raise UserInputError(f"{source}: holds {len(titles)} POTCARs ({'; '.join(titles)}); give one file per element")
    titel = titles[0]
    words = titel.split()
    if len(words) < 2:
        raise UserInputError(f"{source}: TITEL {titel!r} does not name a dataset")
    symbol = words[1]
    vrhfin = _VRHFIN.search(text)
    if not vrhfin:
        raise UserInputError(f"{source}: no VRHFIN line; not a VASP POTCAR")
    element = vrhfin.group(1)
    if element_of_dataset(symbol) != element:
        raise UserInputError(f"{source}: TITEL names {symbol} but VRHFIN names {element}")
    enmax_match = _ENMAX.search(text)
    enmax = float(enmax_match.group(1)) if enmax_match else None
    return PotcarHeader(titel=titel, symbol=symbol, element=element, enmax=enmax)


def potcar_file(potcar_dir: str | Path, variant: str) -> Path:
    """Locate the POTCAR of ``variant`` in ``potcar_dir``: ``<variant>/POTCAR`` (the layout VASP
    distributes) or ``POTCAR.<variant>``.

    Raises
    ------
    UserInputError
        Neither file exists.
    """
    directory = Path(potcar_dir)
    candidates = (directory / variant / "POTCAR", directory / f"POTCAR.{variant}")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserInputError(f"{directory}: no POTCAR for {variant}: neither {candidates[0]} nor {candidates[1]} exists")


def check_potcar_file(path: str | Path, element: str, variant: str | None = None) -> PotcarHeader:
    """Read one POTCAR and check it is for ``element`` (and dataset ``variant`` if given)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: no such POTCAR (needed for {element})")
    header = read_potcar_header(path.read_text(errors="replace"), path)
    if header.element != element:
        raise UserInputError(f"{path}: is a POTCAR for {header.element} ({header.titel}) but {element} was expected here")
    if variant is not None and header.symbol != variant:
        raise UserInputError(f"{path}: is the {header.symbol} dataset ({header.titel}) but {variant} was asked for")
    return header


def assemble_potcar(elements: Sequence[str], potcar_dir: str | Path, variants: Mapping[str, str] | None = None) -> str:
    """Concatenate the POTCARs of ``elements``, in that order (the POSCAR/``type_map`` order).

    Parameters
    ----------
    elements
        Element symbols in POSCAR order, e.g. ``["Li", "La", "Zr", "O"]``.
    potcar_dir
        Directory of the PAW datasets (``<dataset>/POTCAR`` or ``POTCAR.<dataset>`` files).
    variants
        Element → dataset name; default :func:`default_potcar_variants` (Li_sv, La, Zr_sv, O).

    Returns
    -------
    str
        The POTCAR text.

    Raises
    ------
    UserInputError
        A repeated element, an element without a dataset, a missing file, or a file whose
        header names another element or dataset (one line naming the file and the element).
    """
    variants = dict(default_potcar_variants() if variants is None else variants)
    seen: set[str] = set()
    parts: list[str] = []
    for element in elements:
        if element in seen:
            raise UserInputError(f"element {element} appears twice in the POTCAR order {list(elements)}")
        seen.add(element)
        if element not in variants:
            raise UserInputError(f"no POTCAR dataset given for element {element} (known: {', '.join(sorted(variants))})")
        path = potcar_file(potcar_dir, variants[element])
        check_potcar_file(path, element, variants[element])
        text = path.read_text(errors="replace")
        parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


def dataset_of_pp_file(name: str) -> str:
    """The dataset named by an ``fp_pp_files`` entry: ``Li_sv/POTCAR`` or ``POTCAR.Li_sv`` or
    ``POTCAR_Li_sv`` → ``Li_sv``; any other name is taken as the dataset itself."""
    path = Path(name)
    if path.name == "POTCAR" and path.parent.name:
        return path.parent.name
    for prefix in ("POTCAR.", "POTCAR_"):
        if path.name.startswith(prefix) and len(path.name) > len(prefix):
            return path.name[len(prefix):]
    return path.name


__all__ = [
    "POTCAR_VARIANTS",
    "PotcarHeader",
    "assemble_potcar",
    "check_potcar_file",
    "dataset_of_pp_file",
    "default_potcar_variants",
    "element_of_dataset",
    "potcar_file",
    "read_potcar_header",
]
