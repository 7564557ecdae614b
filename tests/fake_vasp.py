#!/usr/bin/env python
"""A stand-in for the ``vasp`` command in tests: writes a recorded OUTCAR where VASP would.

Run in the VASP working directory (``python tests/fake_vasp.py``), after POSCAR, INCAR and POTCAR
are written. Which recorded OUTCAR:

* the file ``FAKE_VASP_OUTCAR`` in the working directory, one path per line, if it exists;
* else ``$FAKE_VASP_OUTCARS``, paths separated by ``os.pathsep``.

The k-th run in a directory writes the k-th path (the last one again after the end): the
``vasp`` labeler runs VASP once per frame in one directory, a DP-GEN fp task once in its own.
``.gz`` files are decompressed. Nothing is written, and the exit code is 2, when the recorded
OUTCAR is of other atoms than ./POSCAR (species and counts, in order, as dpdata reads the
OUTCAR), when POTCAR's datasets do not follow POSCAR's species line, or when INCAR is missing:
VASP would not have written that OUTCAR for these inputs. ``$FAKE_VASP_EXIT_CODE`` (default 0)
is the exit code after writing, for a VASP that stops with an error.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
from pathlib import Path

RUNS_FILE = ".fake_vasp_runs"
SELECTION_FILE = "FAKE_VASP_OUTCAR"
SELECTION_ENV = "FAKE_VASP_OUTCARS"
EXIT_CODE_ENV = "FAKE_VASP_EXIT_CODE"


def _recorded() -> list[str]:
    selection = Path(SELECTION_FILE)
    if selection.is_file():
        return [line.strip() for line in selection.read_text().splitlines() if line.strip()]
    return [p for p in os.environ.get(SELECTION_ENV, "").split(os.pathsep) if p]


def _runs_count(work: Path) -> int:
    """How often this stand-in ran here before; counts this run."""
    counter = work / RUNS_FILE
    done = int(counter.read_text()) if counter.is_file() else 0
    counter.write_text(str(done + 1))
    return done


def _refuse(message: str) -> int:
    print(f"fake_vasp: {message}", file=sys.stderr)
    return 2


def main() -> int:
    from ase.io import read

    from dpgen_llzo.vasp.outputs import read_outcar

    work = Path.cwd()
    paths = _recorded()
    if not paths:
        return _refuse(f"no recorded OUTCAR: write {SELECTION_FILE} here or set ${SELECTION_ENV}")
    for name in ("POSCAR", "INCAR", "POTCAR"):
        if not (work / name).is_file():
            return _refuse(f"no {name} in {work}")
    source = Path(paths[min(_runs_count(work), len(paths) - 1)])
    text = gzip.open(source, "rt").read() if source.suffix == ".gz" else source.read_text()
    (work / "OUTCAR.recorded").write_text(text)  # read by dpdata before it becomes OUTCAR
    try:
        recorded = read_outcar(work / "OUTCAR.recorded").symbols
    finally:
        (work / "OUTCAR.recorded").unlink()
    poscar = read(work / "POSCAR", format="vasp").get_chemical_symbols()
    if recorded != poscar:
        return _refuse(f"{source} holds other atoms than {work / 'POSCAR'}")
    potcar_elements = [re.split(r"[_.]", title.split()[1])[0] for title in
                       re.findall(r"^\s*TITEL\s*=\s*(.+?)\s*$", (work / "POTCAR").read_text(), re.MULTILINE)]
    if potcar_elements != list(dict.fromkeys(poscar)):
        return _refuse(f"POTCAR datasets {potcar_elements} do not follow the POSCAR species {list(dict.fromkeys(poscar))}")
    (work / "OUTCAR").write_text(text)
    print(f"fake_vasp: wrote {source.name} as {work / 'OUTCAR'}")
    return int(os.environ.get(EXIT_CODE_ENV, "0"))


if __name__ == "__main__":
    sys.exit(main())
