"""The ``ase`` labeler: any ASE calculator by import path, through `label`, `init`'s commands and DP-GEN's custom fp."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from tiny_bundle import write_li2o_fp_candidates

from dpgen_llzo.cli import build_parser, main
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.labelers import LABELERS, get_labeler
from dpgen_llzo.labelers.cli import EXIT_REJECTED

EMT = "ase.calculators.emt:EMT"
LJ = "ase.calculators.lj:LennardJones"
LJ_KWARGS = {"sigma": 2.3, "epsilon": 0.05, "rc": 5.0}


def _cu_cell(rattle: float = 0.05):
    """A rattled 2x2x2 fcc Cu cell (32 atoms), strained so that the stress is not zero."""
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.58, cubic=True).repeat((2, 2, 2))
    atoms.rattle(rattle, seed=3)
    atoms.set_cell(atoms.cell * [1.01, 0.99, 1.0], scale_atoms=True)
    return atoms


def _write_poscar(atoms, path: Path) -> Path:
    atoms.write(str(path), format="vasp", direct=True, sort=False)
    return path


def _direct_labels(atoms, calculator):
    atoms = atoms.copy()
    atoms.calc = calculator
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    virial = -atoms.get_volume() * atoms.get_stress(voigt=False)
    return energy, forces, virial


@pytest.mark.parametrize("path, kwargs", [(EMT, None), (LJ, LJ_KWARGS)])
def test_label_with_an_ase_calculator_matches_a_direct_ase_call(tmp_path, path, kwargs):
    import dpdata
    from ase.calculators.emt import EMT as EMTCalculator
    from ase.calculators.lj import LennardJones

    atoms = _cu_cell()
    poscar = _write_poscar(atoms, tmp_path / "POSCAR")
    out = tmp_path / "labeled"
    argv = ["label", str(poscar), "--labeler", "ase", "--calculator", path, "--type-map", "Cu", "-o", str(out)]
    if kwargs:
        argv += ["--calc-kwargs", json.dumps(kwargs)]
    assert main(argv) == 0
    system = dpdata.LabeledSystem(str(out), fmt="deepmd/npy")
    reference = EMTCalculator() if path == EMT else LennardJones(**kwargs)
    energy, forces, virial = _direct_labels(atoms, reference)
    np.testing.assert_allclose(system["energies"][0], energy, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(system["forces"][0], forces, atol=1e-8)
    np.testing.assert_allclose(system["virials"][0], virial, atol=1e-8)
    assert np.abs(forces).max() > 0.05 and np.abs(virial).max() > 0.05  # a real test, not zeros
    if kwargs:  # the keyword arguments were used: the default LJ gives other labels
        assert abs(_direct_labels(atoms, LennardJones())[0] - energy) > 1e-3


def test_ase_labeler_uses_the_common_rejection_rules(tmp_path, capsys):
    atoms = _cu_cell()
    poscar = _write_poscar(atoms, tmp_path / "POSCAR")
    base = ["label", str(poscar), "--labeler", "ase", "--calculator", EMT, "--type-map", "Cu"]
    assert main(base + ["-o", str(tmp_path / "a"), "--max-force", "1e-4"]) == EXIT_REJECTED
    assert "exceeds 0.0001 eV/Å" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    close = atoms.copy()
    close.positions[1] = close.positions[0] + [0.5, 0.0, 0.0]  # two Cu 0.5 Å apart: never evaluated
    poscar = _write_poscar(close, tmp_path / "POSCAR-close")
    argv = ["label", str(poscar), "--labeler", "ase", "--calculator", EMT, "--type-map", "Cu", "-o", str(tmp_path / "b")]
    assert main(argv) == EXIT_REJECTED
    assert "closer than the physical minimum" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--calculator", "no_such_module.calc:Thing"], "cannot import module 'no_such_module.calc'"),
        (["--calculator", "ase.calculators.emt:NoSuchClass"], "module 'ase.calculators.emt' has no attribute 'NoSuchClass'"),
        (["--calculator", "EMT"], "expected MODULE:CLASS"),
        (["--calculator", "ase.calculators.emt:__doc__"], "is not a class or function"),
        ([], "labeler 'ase' needs calculator=MODULE:CLASS"),
        (["--calculator", LJ, "--calc-kwargs", "{sigma: 2}"], "not valid JSON"),
        (["--calculator", LJ, "--calc-kwargs", "[1, 2]"], "expected a JSON object"),
        (["--calculator", "ase.build:bulk", "--calc-kwargs", '{"no_such_keyword": 1}'], "calculator 'ase.build:bulk' with kwargs {\"no_such_keyword\": 1}: TypeError"),
        (["--calculator", "ase.build:bulk", "--calc-kwargs", '{"name": "Cu"}'], "returned Atoms, not an ASE calculator"),
    ],
)
def test_bad_calculator_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    poscar = _write_poscar(_cu_cell(), tmp_path / "POSCAR")
    code = main(["label", str(poscar), "--labeler", "ase", "--type-map", "Cu", "-o", str(tmp_path / "x")] + extra)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_calculator_options_belong_to_the_ase_labeler(tmp_path, capsys):
    poscar = _write_poscar(_cu_cell(), tmp_path / "POSCAR")
    assert main(["label", str(poscar), "--calculator", EMT, "-o", str(tmp_path / "x")]) == 2
    assert "go with --labeler ase" in capsys.readouterr().err
    with pytest.raises(UserInputError, match="not model"):
        get_labeler("ase", calculator=EMT, model="/some/model.pb")


def test_registry_and_describe():
    assert "ase" in LABELERS.names()
    labeler = get_labeler("ase", calculator=LJ, kwargs=json.dumps(LJ_KWARGS), device="cpu")
    assert labeler.describe()["kwargs"] == LJ_KWARGS and labeler.describe()["calculator"] == LJ
    assert type(labeler.calculator()).__name__ == "LennardJones"


def test_init_settings_reach_the_label_command_and_the_fp_check(tmp_path):
    from dpgen_llzo.config import llzo_arginfo
    from dpgen_llzo.init_data.runner import _label_command, check_fp_labeler

    section = llzo_arginfo().normalize_value(
        {"labeler": {"name": "ase", "calculator": LJ, "calculator_kwargs": LJ_KWARGS}}, trim_pattern="_*"
    )
    labeler = {**{"max_force_eV_A": 20.0, "device": "cpu", "model": "", "min_distance_A": {}}, **section["labeler"]}
    command = _label_command(labeler, ["Cu"], "frames", "deepmd/npy")
    words = shlex.split(command.split("||")[0])
    args = build_parser().parse_args(words[1:])  # the command parses as `dpgen-llzo label`
    assert args.labeler == "ase" and args.calculator == LJ and json.loads(args.calc_kwargs) == LJ_KWARGS
    machine = tmp_path / "machine.json"
    for fp_command, ok in [
        (f"dpgen-llzo label POSCAR --labeler ase --calculator {LJ} --calc-kwargs '{json.dumps(LJ_KWARGS)}' || test $? -eq 3", True),
        (f"dpgen-llzo label POSCAR --labeler ase --calculator {EMT} || test $? -eq 3", False),
        (f"dpgen-llzo label POSCAR --labeler ase --calculator {LJ} --calc-kwargs '{{\"sigma\": 1.0}}' || test $? -eq 3", False),
        (f"dpgen-llzo label POSCAR --labeler ase --calculator {LJ} || test $? -eq 3", False),
        ("dpgen-llzo label POSCAR --labeler chgnet || test $? -eq 3", False),
    ]:
        machine.write_text(json.dumps({"fp": {"command": fp_command}}))
        if ok:
            check_fp_labeler(labeler, machine)
        else:
            with pytest.raises(UserInputError, match="one teacher"):
                check_fp_labeler(labeler, machine)


def test_teacher_md_task_with_an_ase_labeler(tmp_path):
    import dpdata

    atoms = _cu_cell(rattle=0.02)
    _write_poscar(atoms, tmp_path / "POSCAR")
    spec = {
        "seed": 1, "type_map": ["Cu"], "temperature_K": 300.0, "n_steps": 4, "sample_every": 2,
        "timestep_fs": 1.0, "friction_per_fs": 0.02,
        "labeler": {"name": "ase", "device": "cpu", "max_force_eV_A": 20.0, "calculator": EMT, "calculator_kwargs": {}},
    }
    (tmp_path / "task.json").write_text(json.dumps(spec))
    assert main(["teacher-md", str(tmp_path / "task.json"), "--output", str(tmp_path / "labeled")]) == 0
    assert len(dpdata.LabeledSystem(str(tmp_path / "labeled"), fmt="deepmd/npy")) >= 2


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dpgen_custom_fp_with_the_ase_labeler(tmp_path, monkeypatch):
    """DP-GEN's make_fp (custom) -> run_fp (`dpgen-llzo label --labeler ase`) -> post_fp on Li2O frames,
    Lennard-Jones labels; the frame with a 0.4 Å Li-O contact is a failed task."""
    import copy

    import dpdata
    from ase import Atoms
    from ase.calculators.lj import LennardJones
    from dpgen.generator.arginfo import run_jdata_arginfo
    from dpgen.generator.run import make_fp_calculation, post_fp, run_fp
    from dpgen.remote.decide_machine import convert_mdata
    from dpgen.util import normalize

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    jdata = normalize(run_jdata_arginfo(), json.loads((repo / "param" / "demo" / "param-quick.json").read_text()))
    jdata["ratio_failed"] = 0.5
    mdata = convert_mdata(json.loads((repo / "machine" / "local.json").read_text()))
    kwargs = json.dumps(LJ_KWARGS, separators=(",", ":"))
    mdata["fp_command"] = mdata["fp"]["command"] = (
        f"dpgen-llzo label POSCAR --input-fmt vasp/poscar --output labeled --labeler ase --calculator {LJ} "
        f"--calc-kwargs {shlex.quote(kwargs)} --type-map Li,La,Zr,O || test $? -eq 3"
    )
    type_map = jdata["type_map"]
    work = tmp_path / "iter.000000" / "02.fp"
    symbols, frames = write_li2o_fp_candidates(work, type_map)
    make_fp_calculation(0, jdata, mdata)
    run_fp(0, jdata, copy.deepcopy(mdata))
    assert "closer than the physical minimum 0.87 Å of Li-O" in (work / "task.000.000002" / "output").read_text()
    post_fp(0, jdata)
    systems = [dpdata.LabeledSystem(str(p.parent), fmt="deepmd/npy") for p in sorted(work.glob("data.*/**/type.raw"))]
    assert sum(len(s) for s in systems) == 2
    expected = sorted(
        Atoms(symbols, positions=frame, cell=[4.61] * 3, pbc=True, calculator=LennardJones(**LJ_KWARGS)).get_potential_energy()
        for frame in frames[:2]
    )
    np.testing.assert_allclose(sorted(np.concatenate([s["energies"] for s in systems])), expected, atol=1e-5)


def _dimer_init(tmp_path: Path, calculator: str, distances: list[float]) -> tuple[Path, Path]:
    """A param whose init is one Li-O dimer scan labelled by ``calculator``, and a machine file whose fp agrees."""
    repo = Path(__file__).resolve().parents[1]
    param = json.loads((repo / "param" / "demo" / "param.json").read_text())
    param["init_data_sys"] = ["lio/scan"]
    param["sys_configs"] = [["lio/POSCAR"]]
    param["_dpgen_llzo"]["labeler"] = {"name": "ase", "calculator": calculator, "calculator_kwargs": LJ_KWARGS}
    param["_dpgen_llzo"]["init"] = {
        "output": "init", "seed": 1,
        "systems": [{"name": "lio", "generator": "dimer", "params": {"pair": "Li-O"}, "perturb": {"scales": []},
                     "scan": {"param": "distance_A", "values": distances}}],
    }
    machine = json.loads((repo / "machine" / "local.json").read_text())
    kwargs = shlex.quote(json.dumps(LJ_KWARGS, separators=(",", ":")))
    machine["fp"]["command"] = (f"dpgen-llzo label POSCAR --output labeled --labeler ase --calculator {calculator} "
                                f"--calc-kwargs {kwargs} --type-map Li,La,Zr,O || test $? -eq 3")
    (tmp_path / "param.json").write_text(json.dumps(param))
    (tmp_path / "machine.json").write_text(json.dumps(machine))
    return tmp_path / "param.json", tmp_path / "machine.json"


def test_init_refuses_a_bad_calculator_path_before_writing(tmp_path, monkeypatch, capsys):
    param, machine = _dimer_init(tmp_path, "ase.calculators.nosuch:Calc", [2.0])
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(param), str(machine)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "_dpgen_llzo/labeler: calculator 'ase.calculators.nosuch:Calc': cannot import module" in err, err
    assert not (tmp_path / "init").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_init_labels_a_dimer_scan_with_an_ase_calculator(tmp_path, monkeypatch):
    """A real `dpgen-llzo init` (dpdispatcher, `dpgen-llzo label` tasks) with Lennard-Jones labels."""
    import dpdata
    from ase import Atoms
    from ase.calculators.lj import LennardJones

    distances = [2.0, 2.4, 3.0]
    param, machine = _dimer_init(tmp_path, LJ, distances)
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(param), str(machine)]) == 0
    system = dpdata.LabeledSystem("init/lio/scan", fmt="deepmd/npy")
    assert system.get_nframes() == len(distances)
    for i in range(len(distances)):
        atoms = Atoms("LiO", positions=system["coords"][i], cell=system["cells"][i], pbc=not system.nopbc)
        energy, forces, _ = _direct_labels(atoms, LennardJones(**LJ_KWARGS))
        np.testing.assert_allclose(system["energies"][i], energy, atol=1e-8)
        np.testing.assert_allclose(system["forces"][i], forces, atol=1e-8)
    assert json.loads(Path("init/summary.json").read_text())["labeler"]["calculator"] == LJ
