"""The ``vasp`` labeler: the inputs it writes, SCF checks of OUTCAR, and failures recorded as rejections.

VASP is not installed here: the tests check what is written for it (the production INCAR, POTCARs
in POSCAR order) and what happens when a run leaves no usable OUTCAR.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers import get_labeler
from dpgen_llzo.labelers.vasp_labeler import POTCAR_DIR_ENV, VASP_COMMAND_ENV, electronic_steps, scf_failure, species_order
from dpgen_llzo.vasp import build_incar, format_incar
from test_vasp import potcar_dir, titles  # noqa: F401  (fixture)

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


def _outcar(nelm: int, electronic_per_ionic: list[int]) -> str:
    lines = [" POTCAR:    PAW_PBE Li_sv 10Sep2004", f"   NELM   =    {nelm};   NELMIN=  2; NELMDL= -5     # of ELM steps"]
    for ionic, n in enumerate(electronic_per_ionic, start=1):
        for e in range(1, n + 1):
            lines.append(f"----------------------------------------- Iteration {ionic:6d}({e:4d})  ---------------------------------------")
    return "\n".join(lines) + "\n"


def test_scf_convergence_is_read_from_the_electronic_steps_of_outcar():
    assert electronic_steps(_outcar(200, [31, 12])) == (200, [31, 12])
    assert scf_failure(_outcar(200, [31])) is None
    assert scf_failure(_outcar(60, [60])) == "SCF not converged: the electronic loop stopped at NELM = 60"
    assert scf_failure(_outcar(60, [60, 20])) is None  # only the labelled (last) ionic step counts
    assert "no electronic step" in scf_failure(_outcar(60, []))


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
