"""The recorded VASP outputs of ``tests/data/vasp`` and what their text says, read without dpdata.

Origins, licences and edits of the files: ``tests/data/README``. :func:`outcar_text` reads the
numbers of an OUTCAR's last ionic step straight from the text (regular expressions on the lines
VASP prints), so the tests can check what the package reads through dpdata against the file.
:func:`potcar_tree` writes fake POTCARs (real header lines, no data) for any datasets, and
:func:`fake_vasp_command` is the stand-in ``vasp`` (``tests/fake_vasp.py``).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data" / "vasp"
FAKE_VASP = TESTS / "fake_vasp.py"

LI40 = DATA / "OUTCAR.Li40.converged"  # Li40, one ionic step, 13 electronic steps (NELM 200)
LI40_TRUNCATED = DATA / "OUTCAR.Li40.truncated"  # the same run cut inside electronic step 8
H2O = DATA / "OUTCAR.H2O.converged"  # two water molecules (O2 H4) in a 30x15x15 Å box
K4SN4O6 = DATA / "OUTCAR.K4Sn4O6.converged"  # spin-polarised oxide, 3 species, a cell that is not lower-triangular
CH4_NELM = DATA / "OUTCAR.CH4.nelm"  # CH4, the electronic loop stopped at NELM = 15
CH4_MD3 = DATA / "OUTCAR.CH4.md3"  # three MD steps: 15, 15 (both NELM) and 12 electronic steps
BA2PB2O6_TRUNCATED = DATA / "OUTCAR.Ba2Pb2O6.truncated"  # a real run that ended after 2 electronic steps

#: 1 eV/Å³ in kbar (VASP prints the stress in kB).
EV_A3_KBAR = 1602.1766208


@dataclass(frozen=True)
class OutcarText:
    """The last ionic step of an OUTCAR as its text prints it."""

    energy: float  # free  energy   TOTEN, eV
    cell: np.ndarray  # direct lattice vectors (rows), Å
    positions: np.ndarray  # POSITION columns of the last TOTAL-FORCE table, Å
    forces: np.ndarray  # TOTAL-FORCE columns, eV/Å
    stress_kbar: np.ndarray  # the "in kB" line as a symmetric 3x3 (VASP order XX YY ZZ XY YZ ZX)

    @property
    def volume(self) -> float:
        return abs(float(np.linalg.det(self.cell)))

    @property
    def virial(self) -> np.ndarray:
        """Stress times volume in eV, the virial dpdata and DP-GEN write."""
        return self.stress_kbar * self.volume / EV_A3_KBAR


def outcar_text(path: Path) -> OutcarText:
    lines = path.read_text().splitlines()
    natoms = int(re.search(r"NIONS =\s*(\d+)", "\n".join(lines)).group(1))
    energy = [float(m.group(1)) for line in lines if (m := re.search(r"free  energy   TOTEN  =\s+(\S+) eV", line))][-1]
    lattice = [i for i, line in enumerate(lines) if "direct lattice vectors" in line][-1]
    cell = np.array([[float(v) for v in lines[lattice + k].split()[:3]] for k in (1, 2, 3)])
    table = [i for i, line in enumerate(lines) if "TOTAL-FORCE (eV/Angst)" in line][-1]
    rows = np.array([[float(v) for v in lines[table + 2 + k].split()[:6]] for k in range(natoms)])
    xx, yy, zz, xy, yz, zx = [float(v) for v in [line for line in lines if line.split()[:2] == ["in", "kB"]][-1].split()[2:8]]
    stress = np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])
    return OutcarText(energy, cell, rows[:, :3], rows[:, 3:], stress)


def potcar_tree(root: Path, datasets: dict[str, str]) -> Path:
    """``root/<dataset>/POTCAR`` for each element → dataset, fakes with real header lines."""
    from test_vasp import fake_potcar

    for element, dataset in datasets.items():
        (root / dataset).mkdir(parents=True, exist_ok=True)
        (root / dataset / "POTCAR").write_text(fake_potcar(dataset, element, "s1p1", 300.0))
    return root


def fake_vasp_command() -> str:
    """The stand-in ``vasp``: this interpreter running ``tests/fake_vasp.py``."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_VASP))}"
