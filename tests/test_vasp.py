"""Tests of the VASP input set, the INCAR checks and POTCAR assembly (:mod:`dpgen_llzo.vasp`).

The generated INCAR is compared with a reference file (atomate2-style), and read back with
pymatgen to check the paper's DFT settings independently of our own checker. POTCARs are small
fakes with real header lines (``TITEL``, ``VRHFIN``, ``ENMAX``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pymatgen.io.vasp import Incar

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.vasp import (
    INPUT_SET,
    assemble_potcar,
    build_incar,
    check_incar,
    check_vasp_bundle,
    dataset_of_pp_file,
    default_potcar_variants,
    element_of_dataset,
    format_incar,
    format_value,
    read_incar,
    read_potcar_header,
)

REPO = Path(__file__).resolve().parents[1]
EXPECTED_INCAR = REPO / "tests" / "data" / "vasp" / "INCAR.expected"
TEMPLATE_INCAR = REPO / "templates" / "vasp" / "INCAR"
VASP_PARAM = REPO / "param" / "vasp" / "param.json"

#: The DFT settings of You et al. (npj Comput. Mater. 2024), as pymatgen parses them.
PAPER = {"GGA": "Pe", "ISPIN": 2, "ENCUT": 500, "KSPACING": 0.25, "ISMEAR": 0, "SIGMA": 0.1}

FAKE_DATASETS = {  # dataset -> (element, VRHFIN valence, ENMAX); values are only for the fakes
    "Li_sv": ("Li", "1s2s2p", 499.0),
    "La": ("La", "5s5p5d6s", 219.0),
    "Zr_sv": ("Zr", "4s4p5s4d", 230.0),
    "O": ("O", "s2p4", 400.0),
}


def fake_potcar(dataset: str, element: str | None = None, valence: str = "s1", enmax: float = 300.0) -> str:
    """A minimal POTCAR: the header lines VASP and our checks read, and the dataset end marker."""
    element = element or dataset.split("_")[0]
    return (
        f"  PAW_PBE {dataset} 01Jan2000\n"
        " 1.00000000000000000\n"
        " parameters from PSCTR are:\n"
        f"   VRHFIN ={element}: {valence}\n"
        "   LEXCH  = PE\n"
        f"   TITEL  = PAW_PBE {dataset} 01Jan2000\n"
        f"   ENMAX  =  {enmax:.3f}; ENMIN  =  {0.75 * enmax:.3f} eV\n"
        " End of Dataset\n"
    )


@pytest.fixture()
def potcar_dir(tmp_path: Path) -> Path:
    """A PBE-like directory tree: <dataset>/POTCAR for Li_sv, La, Zr_sv, O."""
    root = tmp_path / "potpaw_PBE"
    for dataset, (element, valence, enmax) in FAKE_DATASETS.items():
        (root / dataset).mkdir(parents=True)
        (root / dataset / "POTCAR").write_text(fake_potcar(dataset, element, valence, enmax))
    return root


def titles(potcar: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in potcar.splitlines() if line.strip().startswith("TITEL")]


# --------------------------------------------------------------------------- INCAR


def test_generated_incar_equals_expected_file():
    assert format_incar(build_incar()) == EXPECTED_INCAR.read_text()


def test_template_incar_is_the_generated_one():
    assert TEMPLATE_INCAR.read_text() == EXPECTED_INCAR.read_text(), "run: dpgen-llzo bundle incar -o templates/vasp/INCAR"


def test_expected_incar_has_the_paper_settings():
    incar = Incar.from_file(EXPECTED_INCAR)
    for tag, value in PAPER.items():
        assert incar[tag] == pytest.approx(value) if isinstance(value, float) else incar[tag] == value
    assert incar["KGAMMA"] is True
    assert incar["NSW"] == 0 and incar["IBRION"] == -1
    assert incar["ISYM"] == 0 and incar["LWAVE"] is False and incar["LCHARG"] is False


def test_every_tag_has_a_reason_and_the_paper_tags_are_marked():
    assert all(entry.reason for entry in INPUT_SET.values())
    assert {tag for tag, entry in INPUT_SET.items() if entry.paper} == set(PAPER)
    for line in EXPECTED_INCAR.read_text().splitlines():
        if not line.startswith("#"):
            assert "#" in line  # a reason on every tag line
            tag = line.split("=")[0].strip()
            assert ("[paper]" in line) == INPUT_SET[tag].paper


def test_format_value():
    assert [format_value(v) for v in (True, False, 500, 0.25, 1e-6, "Accurate")] == [
        ".TRUE.", ".FALSE.", "500", "0.25", "1E-06", "Accurate"
    ]


def test_build_incar_overrides():
    incar = build_incar({"ncore": 4, "LASPH": None})
    assert incar["NCORE"] == 4 and "LASPH" not in incar
    with pytest.raises(UserInputError, match="ENCUT is fixed by the paper"):
        build_incar({"ENCUT": 520})
    assert build_incar({"ENCUT": 520}, allow_paper_changes=True)["ENCUT"] == 520
    assert build_incar({"ENCUT": 500.0})["ENCUT"] == 500.0  # same value is not a change


def test_check_incar_accepts_the_input_set_and_a_missing_gga():
    assert check_incar(build_incar())
    assert check_incar(build_incar({"GGA": None}, allow_paper_changes=True))  # PBE POTCARs default to PBE


@pytest.mark.parametrize(
    "tag,value",
    [("ENCUT", 520), ("ISPIN", 1), ("KSPACING", 0.5), ("ISMEAR", -5), ("SIGMA", 0.05), ("GGA", "PS")],
)
def test_check_incar_refuses_a_changed_paper_tag(tag, value):
    incar = build_incar({tag: value}, allow_paper_changes=True)
    with pytest.raises(UserInputError) as info:
        check_incar(incar, "INCAR.test")
    message = str(info.value)
    assert message.startswith("INCAR.test: ") and tag in message and "\n" not in message


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"KGAMMA": None}, "KGAMMA is missing"),
        ({"ENCUT": None}, "ENCUT is missing"),
        ({"NSW": 50, "IBRION": 2}, "NSW = 50"),
        ({"LDAU": True}, "LDAU"),
        ({"METAGGA": "SCAN"}, "METAGGA"),
        ({"IVDW": 12}, "IVDW"),
    ],
)
def test_check_incar_refuses_what_dpgen_or_the_paper_excludes(overrides, fragment):
    incar = build_incar(overrides, allow_paper_changes=True)
    with pytest.raises(UserInputError, match=fragment):
        check_incar(incar)


def test_check_incar_ignores_switched_off_tags():
    assert check_incar(build_incar({"LDAU": False, "IVDW": 0}))


def test_read_incar_round_trip(tmp_path):
    path = tmp_path / "INCAR"
    path.write_text(format_incar(build_incar()))
    incar = read_incar(path)
    assert incar["ENCUT"] == 500 and incar["KGAMMA"] is True and incar["EDIFF"] == pytest.approx(1e-6)
    with pytest.raises(UserInputError, match="no such INCAR"):
        read_incar(tmp_path / "missing")


# --------------------------------------------------------------------------- POTCAR


def test_assemble_potcar_in_type_map_order(potcar_dir):
    text = assemble_potcar(["Li", "La", "Zr", "O"], potcar_dir)
    assert titles(text) == [f"PAW_PBE {d} 01Jan2000" for d in ("Li_sv", "La", "Zr_sv", "O")]
    reverse = assemble_potcar(["O", "Zr", "La", "Li"], potcar_dir)
    assert titles(reverse) == [f"PAW_PBE {d} 01Jan2000" for d in ("O", "Zr_sv", "La", "Li_sv")]
    assert text.count("End of Dataset") == 4


def test_assemble_potcar_flat_layout(tmp_path):
    for dataset, (element, valence, enmax) in FAKE_DATASETS.items():
        (tmp_path / f"POTCAR.{dataset}").write_text(fake_potcar(dataset, element, valence, enmax))
    assert len(titles(assemble_potcar(["Li", "O"], tmp_path))) == 2


def test_missing_potcar_is_refused_in_one_line(potcar_dir):
    shutil.rmtree(potcar_dir / "Zr_sv")
    with pytest.raises(UserInputError) as info:
        assemble_potcar(["Li", "La", "Zr", "O"], potcar_dir)
    assert "Zr_sv" in str(info.value) and "\n" not in str(info.value)


def test_potcar_of_the_wrong_element_is_refused(potcar_dir):
    # the Zr_sv slot holds a La POTCAR (a mix-up when copying files)
    (potcar_dir / "Zr_sv" / "POTCAR").write_text(fake_potcar("La", "La", "5s5p5d6s", 219.0))
    with pytest.raises(UserInputError) as info:
        assemble_potcar(["Li", "La", "Zr", "O"], potcar_dir)
    message = str(info.value)
    assert "Zr_sv" in message and "for La" in message and "Zr was expected" in message and "\n" not in message


def test_wrong_dataset_or_variant_map_is_refused(potcar_dir):
    (potcar_dir / "Zr").mkdir()
    (potcar_dir / "Zr" / "POTCAR").write_text(fake_potcar("Zr_sv", "Zr"))  # file says Zr_sv, folder says Zr
    with pytest.raises(UserInputError, match="Zr was asked for"):
        assemble_potcar(["Zr"], potcar_dir, {"Zr": "Zr"})
    with pytest.raises(UserInputError, match="no POTCAR dataset given for element Ga"):
        assemble_potcar(["Li", "Ga"], potcar_dir)
    with pytest.raises(UserInputError, match="appears twice"):
        assemble_potcar(["Li", "Li"], potcar_dir)


def test_potcar_header_checks(tmp_path):
    header = read_potcar_header(fake_potcar("Li_sv", "Li", "1s2s2p", 499.0), "x")
    assert (header.symbol, header.element, header.enmax) == ("Li_sv", "Li", 499.0)
    with pytest.raises(UserInputError, match="TITEL names Li_sv but VRHFIN names La"):
        read_potcar_header(fake_potcar("Li_sv", "La"), "x")
    with pytest.raises(UserInputError, match="holds 2 POTCARs"):
        read_potcar_header(fake_potcar("Li_sv") + fake_potcar("O"), "x")
    with pytest.raises(UserInputError, match="not a VASP POTCAR"):
        read_potcar_header("hello\n", "x")


def test_default_datasets_and_names():
    assert default_potcar_variants() == {"Li": "Li_sv", "La": "La", "Zr": "Zr_sv", "O": "O"}
    assert [element_of_dataset(d) for d in ("Li_sv", "La", "Zr_sv", "O", "O_h", "H.75")] == ["Li", "La", "Zr", "O", "O", "H"]
    assert [dataset_of_pp_file(n) for n in ("Li_sv/POTCAR", "POTCAR.Zr_sv", "POTCAR_La", "O")] == ["Li_sv", "Zr_sv", "La", "O"]
    with pytest.raises(UserInputError):
        element_of_dataset("potcar")


# --------------------------------------------------------------------------- bundle


def test_check_vasp_bundle_on_the_production_param(potcar_dir):
    lines = check_vasp_bundle(VASP_PARAM, potcar_dir=potcar_dir, workdir=REPO)
    assert any("paper DFT settings" in line for line in lines)
    assert any("fp_pp_files follow type_map" in line for line in lines)
    assert sum("PAW_PBE" in line for line in lines) == 4


def _param_copy(tmp_path: Path, **changes) -> Path:
    param = json.loads(VASP_PARAM.read_text())
    param.update(changes)
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    return path


def test_check_vasp_bundle_refuses_pp_files_out_of_type_map_order(tmp_path):
    path = _param_copy(tmp_path, fp_pp_files=["Li_sv/POTCAR", "Zr_sv/POTCAR", "La/POTCAR", "O/POTCAR"])
    with pytest.raises(UserInputError, match=r"fp_pp_files\[1\] = 'Zr_sv/POTCAR' is a POTCAR for Zr but type_map\[1\] is La"):
        check_vasp_bundle(path, workdir=REPO)
    path = _param_copy(tmp_path, fp_pp_files=["Li_sv/POTCAR", "La/POTCAR", "Zr_sv/POTCAR"])
    with pytest.raises(UserInputError, match="fp_pp_files has 3 entries but type_map has 4"):
        check_vasp_bundle(path, workdir=REPO)


def test_check_vasp_bundle_refuses_a_missing_incar_and_a_low_cutoff(tmp_path, potcar_dir):
    with pytest.raises(UserInputError, match="fp_incar: .* does not exist"):
        check_vasp_bundle(VASP_PARAM, workdir=tmp_path)
    (potcar_dir / "O" / "POTCAR").write_text(fake_potcar("O", "O", "s2p4", 600.0))
    with pytest.raises(UserInputError, match="ENCUT = 500 eV is below ENMAX = 600 eV"):
        check_vasp_bundle(VASP_PARAM, potcar_dir=potcar_dir, workdir=REPO)


def test_check_vasp_bundle_needs_fp_style_vasp():
    with pytest.raises(UserInputError, match="fp_style is 'custom'"):
        check_vasp_bundle(REPO / "param" / "demo" / "param.json")


def test_dpgen_fp_steps_accept_the_bundle(tmp_path, monkeypatch, potcar_dir):
    """DP-GEN's own fp preparation (INCAR copy, KPOINTS from KSPACING/KGAMMA, POTCAR from
    fp_pp_path/fp_pp_files) on a tetragonal LLZO frame, with the production param."""
    from dpgen.generator.run import make_fp_vasp_incar, make_fp_vasp_kp, sys_link_fp_vasp_pp

    from dpgen_llzo.structures import build_structure

    monkeypatch.chdir(tmp_path)
    task = tmp_path / "iter.000000" / "02.fp" / "task.000.000000"
    task.mkdir(parents=True)
    build_structure("llzo-tetragonal").to(filename=str(task / "POSCAR"), fmt="poscar")
    param = json.loads(VASP_PARAM.read_text())
    param.update(fp_incar=str(REPO / param["fp_incar"]), fp_pp_path=str(potcar_dir))
    make_fp_vasp_incar(0, param)
    make_fp_vasp_kp(0, param)
    sys_link_fp_vasp_pp(0, param)
    assert (task / "INCAR").read_text() == EXPECTED_INCAR.read_text()
    kpoints = (task / "KPOINTS").read_text().split()
    assert "Gamma" in kpoints and kpoints[-3:] == ["2", "2", "2"]  # 13.1 Å cell, KSPACING 0.25
    assert titles((task / "POTCAR").read_text()) == [f"PAW_PBE {d} 01Jan2000" for d in ("Li_sv", "La", "Zr_sv", "O")]
