"""The ``vasp`` labeler: the inputs it writes, the labels it reads back, and failures recorded as rejections.

VASP is not installed here: the tests check what is written for it (the production INCAR, POTCARs
in POSCAR order), and run the calculator with a stand-in ``vasp`` (``tests/fake_vasp.py``) that
writes a recorded real OUTCAR (``tests/data/README``): the labels must come back in the input atom
order, with the virial of the OUTCAR's stress, and an unusable run must be a rejected frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers import get_labeler
from dpgen_llzo.labelers.base import LabelingFailure
from dpgen_llzo.labelers.vasp_labeler import POTCAR_DIR_ENV, VASP_COMMAND_ENV
from dpgen_llzo.vasp import build_incar, format_incar
from dpgen_llzo.vasp.calculator import VaspSinglePoint, species_order
from test_vasp import potcar_dir, titles  # noqa: F401  (fixture)
from vasp_files import CH4_NELM, H2O, K4SN4O6, LI40, LI40_TRUNCATED, fake_vasp_command, outcar_text, potcar_tree

REPO = Path(__file__).resolve().parents[1]


def _li2o_scrambled() -> Atoms:
    """Antifluorite Li2O (a = 4.61 Å, 8 Li + 4 O) with its atoms shuffled, so species are not grouped."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from dpgen_llzo.structures import build_structure

    atoms = AseAtomsAdaptor.get_atoms(build_structure("li2o"))
    return atoms[np.random.default_rng(0).permutation(len(atoms))]


def test_species_order_groups_atoms_and_inverts():
    symbols = ["O", "Li", "O", "Li", "Li", "La"]
    species, order = species_order(symbols)
    assert species == ["O", "Li", "La"]
    assert [symbols[i] for i in order] == ["O", "O", "Li", "Li", "Li", "La"]
    assert list(np.argsort(order)[order]) == list(range(6)) and list(order[np.argsort(order)]) == list(range(6))


def test_writes_the_production_incar_and_potcars_in_poscar_order(tmp_path, potcar_dir, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    atoms = _li2o_scrambled()
    calc = get_labeler("vasp", potcar_dir=str(potcar_dir)).calculator()
    calc.write_input(atoms)
    folder = tmp_path / "vasp"
    assert (folder / "INCAR").read_text() == format_incar(build_incar()) == (REPO / "templates" / "vasp" / "INCAR").read_text()
    poscar = (folder / "POSCAR").read_text().splitlines()
    species, counts = poscar[5].split(), [int(n) for n in poscar[6].split()]
    assert sorted(zip(species, counts)) == [("Li", 8), ("O", 4)]
    assert [t.split()[1] for t in titles((folder / "POTCAR").read_text())] == [{"Li": "Li_sv", "O": "O"}[s] for s in species]
    assert not (folder / "KPOINTS").exists()  # KSPACING in the INCAR sets the mesh


def test_md_keeps_the_wavefunctions_between_steps(tmp_path, potcar_dir, monkeypatch):  # noqa: F811
    from dpgen_llzo.labelers import LABELERS

    monkeypatch.chdir(tmp_path)
    calc = get_labeler("vasp", potcar_dir=str(potcar_dir), **LABELERS.get("vasp").md_options).calculator()
    calc.write_input(_li2o_scrambled())
    from dpgen_llzo.vasp import read_incar

    incar = read_incar(tmp_path / "vasp" / "INCAR")
    assert incar["LWAVE"] is True and incar["ENCUT"] == 500 and incar["ISPIN"] == 2
    assert "next step starts its SCF" in (tmp_path / "vasp" / "INCAR").read_text()


def test_a_run_without_outcar_is_a_rejected_frame_not_a_crash(tmp_path, potcar_dir, monkeypatch, capsys):  # noqa: F811
    """`dpgen-llzo label --labeler vasp` with a command that is not VASP: the frame is rejected with
    the reason, nothing is written, and the exit code is the one DP-GEN's fp command tolerates."""
    import dpdata

    from dpgen_llzo.cli import main
    from dpgen_llzo.labelers.cli import EXIT_REJECTED

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(POTCAR_DIR_ENV, str(potcar_dir))
    monkeypatch.setenv(VASP_COMMAND_ENV, "true")
    dpdata.System(_li2o_scrambled(), fmt="ase/structure").to("vasp/poscar", "POSCAR")
    assert main(["label", "POSCAR", "--labeler", "vasp", "--output", "labeled"]) == EXIT_REJECTED
    err = capsys.readouterr().err
    assert "rejected frame 0: VASP wrote no OUTCAR" in err and not (tmp_path / "labeled").exists()
    assert (tmp_path / "vasp" / "INCAR").is_file() and (tmp_path / "vasp" / "POTCAR").is_file()


def test_missing_potcar_directory_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(POTCAR_DIR_ENV, raising=False)
    with pytest.raises(UserInputError, match=r"set \$POTCAR_DIR"):
        get_labeler("vasp").calculator()
    with pytest.raises(UserInputError, match="is not a directory"):
        get_labeler("vasp", potcar_dir=str(tmp_path / "none")).calculator()
    assert os.environ.get(POTCAR_DIR_ENV) is None


# --------------------------------------------------------------------------- reading results back


def _calculator(tmp_path: Path, datasets: dict[str, str], command: str | None = None) -> VaspSinglePoint:
    """The labeler's calculator with fake POTCARs for ``datasets`` (element → dataset) and the stand-in VASP."""
    potcars = potcar_tree(tmp_path / "potpaw", datasets)
    return VaspSinglePoint(command or fake_vasp_command(), potcars, build_incar(), str(tmp_path / "vasp"),
                           potcar_variants=datasets)


def _interleaved(path: Path) -> tuple[Atoms, list[int]]:
    """The OUTCAR's structure with the species interleaved (K Sn O K Sn O ...), and for each atom its
    index in the OUTCAR. First appearances keep the OUTCAR's species order, so the POSCAR the
    calculator writes is the one the recorded run read."""
    text = outcar_text(path)
    from dpgen_llzo.vasp import read_outcar

    symbols = read_outcar(path).symbols
    by_species = [[i for i, s in enumerate(symbols) if s == species] for species in dict.fromkeys(symbols)]
    order = [group[k] for k in range(max(map(len, by_species))) for group in by_species if k < len(group)]
    atoms = Atoms([symbols[i] for i in order], positions=text.positions[order], cell=text.cell, pbc=True)
    return atoms, order


def test_labels_come_back_in_the_input_order_with_the_outcars_virial(tmp_path, monkeypatch):
    """K4Sn4O6 (three species, a cell that is not lower-triangular) through the real calculator."""
    from dpgen_llzo.labelers.labelling import label_atoms

    monkeypatch.setenv("FAKE_VASP_OUTCARS", str(K4SN4O6))
    atoms, order = _interleaved(K4SN4O6)
    assert atoms.get_chemical_symbols()[:4] == ["K", "Sn", "O", "K"]
    atoms.calc = _calculator(tmp_path, {"K": "K_sv", "Sn": "Sn_d", "O": "O"})
    frame = label_atoms(atoms)
    text = outcar_text(K4SN4O6)
    poscar = (tmp_path / "vasp" / "POSCAR").read_text().splitlines()
    assert poscar[5].split() == ["K", "Sn", "O"] and poscar[6].split() == ["4", "4", "6"]
    assert frame.energy == pytest.approx(text.energy, abs=1e-8)  # free energy TOTEN
    np.testing.assert_allclose(frame.forces, text.forces[order], atol=1e-6)  # atom j gets the force of its OUTCAR row
    assert np.abs(frame.forces - text.forces).max() > 0.05  # (which the unsorted rows would not give)
    np.testing.assert_allclose(frame.virial, text.virial, rtol=1e-6, atol=1e-9)  # -V * stress = kB x V / 1602.18
    assert np.trace(frame.virial) > 0  # 12.7 kbar of pressure: the cell pushes outwards


@pytest.mark.parametrize("recorded, datasets, fragment", [
    (CH4_NELM, {"H": "H", "C": "C"}, "SCF not converged: the electronic loop stopped at NELM = 15"),
    (LI40_TRUNCATED, {"Li": "Li_sv"}, "OUTCAR has no complete ionic step"),
])
def test_an_unusable_run_is_a_labelling_failure(tmp_path, monkeypatch, recorded, datasets, fragment):
    monkeypatch.setenv("FAKE_VASP_OUTCARS", str(recorded))
    atoms, _ = _interleaved(LI40 if recorded == LI40_TRUNCATED else recorded)
    atoms.calc = _calculator(tmp_path, datasets)
    with pytest.raises(LabelingFailure, match=fragment):
        atoms.get_forces()


def test_vasp_exiting_with_an_error_after_writing_outcar_is_a_labelling_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VASP_OUTCARS", str(LI40_TRUNCATED))
    monkeypatch.setenv("FAKE_VASP_EXIT_CODE", "1")
    atoms, _ = _interleaved(LI40)
    atoms.calc = _calculator(tmp_path, {"Li": "Li_sv"})
    with pytest.raises(LabelingFailure, match="VASP exited with an error .* no complete ionic step"):
        atoms.get_forces()


def test_vasp_exiting_with_an_error_and_no_outcar_stops_the_labelling(tmp_path):
    from ase.calculators.calculator import CalculationFailed

    atoms, _ = _interleaved(LI40)
    atoms.calc = _calculator(tmp_path, {"Li": "Li_sv"}, command="false")  # a wrong command: loud, not a rejection
    with pytest.raises(CalculationFailed):
        atoms.get_forces()


def test_an_outcar_of_other_atoms_is_a_labelling_failure(tmp_path):
    """The calculator checks the OUTCAR's atoms against its POSCAR (here a plain `cp` plays VASP)."""
    atoms, _ = _interleaved(H2O)
    atoms.calc = _calculator(tmp_path, {"O": "O", "H": "H"}, command=f"cp {LI40} OUTCAR")
    with pytest.raises(LabelingFailure, match=r"its atoms \(Li40\) are not those of the POSCAR \(O2 H4\)"):
        atoms.get_forces()
