"""The VASP route end to end on real OUTCARs, with a stand-in ``vasp`` that writes them (``tests/fake_vasp.py``).

* ``dpgen-llzo init`` with the production param's ``vasp`` labeler on three frames of a Li40 cell
  (the cell of a recorded run, read with the ``file`` generator): the stand-in plays a converged,
  a truncated and the converged run again, so two frames are labelled with the OUTCAR's numbers
  and one is rejected with its reason.
* DP-GEN's own fp steps with ``param/vasp/param.json``'s fp settings (INCAR template, POTCARs from
  ``fp_pp_path``/``fp_pp_files``, KPOINTS from KSPACING): the fp stage of ``make_fp``
  (``make_fp_calculation``) on candidates laid out as ``make_fp`` leaves them, ``run_fp`` through
  dpdispatcher with the machine file's fp command, the screen of :mod:`dpgen_llzo.loop.fp_faults`,
  ``post_fp``. Four tasks: Li40 converged, Li40 truncated, H2O converged, CH4 stopped at NELM. Only
  the two converged ones are labelled, with the numbers their OUTCARs print.

The recorded runs are not of LLZO (``tests/data/README``): the DP-GEN test appends H and C to the
production ``type_map`` (and their POTCARs to ``fp_pp_files``) for them. POTCARs are fakes with
real header lines.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.vasp import NO_IONIC_STEP
from vasp_files import CH4_NELM, H2O, LI40, LI40_TRUNCATED, fake_vasp_command, outcar_text, potcar_tree

REPO = Path(__file__).resolve().parents[1]
VASP_PARAM = REPO / "param" / "vasp" / "param.json"
LOCAL_MACHINE = REPO / "machine" / "local.json"
TEMPLATE_INCAR = REPO / "templates" / "vasp" / "INCAR"
NELM_STOP = "SCF not converged: the electronic loop stopped at NELM = 15"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_init_with_the_vasp_labeler_labels_the_converged_runs_and_rejects_the_truncated_one(tmp_path, monkeypatch, capsys,
                                                                                             fast_job_polls):
    import dpdata

    from dpgen_llzo.cli import main

    param = json.loads(VASP_PARAM.read_text())
    assert param["_dpgen_llzo"]["labeler"]["name"] == "vasp"
    param["init_data_sys"] = ["li40/perturbed"]
    param["sys_configs"] = [["li40/POSCAR"]]
    param["_dpgen_llzo"]["init"] = {
        "output": "init", "seed": 3,
        "systems": [{
            "name": "li40", "generator": "file", "params": {"path": str(LI40), "fmt": "vasp-out"},
            "perturb": {"scales": [1.0], "n_perturbed": 2, "atom_displacement_A": 0.02, "cell_strain": 0.0},
        }],
    }
    machine = json.loads(LOCAL_MACHINE.read_text())
    machine["fp"]["command"] = fake_vasp_command()  # the VASP route: DP-GEN's fp command runs VASP
    machine["fp"]["resources"]["envs"].update({
        "DPGEN_LLZO_VASP_COMMAND": fake_vasp_command(),
        "POTCAR_DIR": str(potcar_tree(tmp_path / "potpaw", {"Li": "Li_sv"})),
        "FAKE_VASP_OUTCARS": os.pathsep.join(str(p) for p in (LI40, LI40_TRUNCATED, LI40)),  # frame 0, 1, 2
    })
    work = tmp_path / "work"
    work.mkdir()
    (work / "param.json").write_text(json.dumps(param))
    (work / "machine.json").write_text(json.dumps(machine))
    monkeypatch.chdir(work)

    assert main(["init", "param.json", "machine.json"]) == 0
    assert "li40/perturbed" in capsys.readouterr().out
    summary = json.loads(Path("init/summary.json").read_text())
    assert summary["datasets"] == [{"dataset": "li40/perturbed", "kind": "perturbed", "frames": 2, "rejected": 1,
                                    "tasks_without_data": 0}]
    task = Path("init/tasks/li40.perturbed")
    log = (task / "task.log").read_text()
    assert "rejected frame 1: " in log and NO_IONIC_STEP in log, log[-2000:]
    vasp = task / "vasp"  # the labeler ran VASP three times here, with the production INCAR
    assert (vasp / ".fake_vasp_runs").read_text() == "3"
    assert (vasp / "INCAR").read_text() == TEMPLATE_INCAR.read_text()
    assert "PAW_PBE Li_sv" in (vasp / "POTCAR").read_text()

    data = dpdata.LabeledSystem("init/li40/perturbed", fmt="deepmd/npy")
    text = outcar_text(LI40)
    assert data["atom_names"] == ["Li", "La", "Zr", "O"] and data["atom_numbs"] == [40, 0, 0, 0]
    np.testing.assert_allclose(data["energies"], [text.energy] * 2, atol=1e-8)  # -11.72779781 eV
    np.testing.assert_allclose(data["virials"], [text.virial] * 2, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data["cells"], [text.cell] * 2, atol=1e-6)
    # the OUTCAR's force rows in POSCAR order (one species: the order restore is the identity here;
    # test_vasp_labeler checks it on three species, with forces and positions paired)
    np.testing.assert_allclose(data["forces"], [text.forces] * 2, atol=1e-6)
    # frame 0 holds the recorded positions, frame 2 (labelled second) a copy displaced by up to 0.02 Å.
    # The file generator lists the atoms in its own order (by fractional coordinates), not the recorded
    # run's, so here row i of the recorded forces lands on another Li atom than VASP computed it for:
    # an artefact of replaying a recording, which a VASP run on this POSCAR would not have
    for frame, (low, high) in enumerate([(0.0, 1e-4), (1e-3, 0.05)]):
        distances = np.linalg.norm(data["coords"][frame][:, None] - text.positions[None], axis=-1)
        nearest = distances.argmin(axis=1)
        assert sorted(nearest) == list(range(40))
        assert low <= distances.min(axis=1).max() <= high


def _lammps_dump(path: Path, symbols: list[str], positions: np.ndarray, cell: np.ndarray, type_map: list[str]) -> None:
    """A one-frame LAMMPS dump of a lower-triangular cell (the candidate make_fp reads)."""
    (ax, _, _), (bx, by, _), (cx, cy, cz) = cell
    tilt_x = (0.0, bx, cx, bx + cx)
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(len(symbols)), "ITEM: BOX BOUNDS xy xz yz pp pp pp",
             f"{min(tilt_x):.10f} {ax + max(tilt_x):.10f} {bx:.10f}",
             f"{min(0.0, cy):.10f} {by + max(0.0, cy):.10f} {cx:.10f}",
             f"0.0 {cz:.10f} {cy:.10f}", "ITEM: ATOMS id type x y z"]
    lines += [f"{i + 1} {type_map.index(s) + 1} {x:.10f} {y:.10f} {z:.10f}" for i, (s, (x, y, z)) in enumerate(zip(symbols, positions))]
    path.write_text("\n".join(lines) + "\n")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _post_fp(jdata) -> list[str]:
    """DP-GEN's post_fp, returning what it logs."""
    from dpgen import dlog
    from dpgen.generator.run import post_fp

    handler = _Lines()
    dlog.addHandler(handler)
    try:
        post_fp(0, jdata)
    finally:
        dlog.removeHandler(handler)
    return handler.lines


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dpgen_fp_steps_label_only_the_converged_vasp_runs(tmp_path, monkeypatch, fast_job_polls):
    import dpdata
    from ase.io import read
    from dpgen.generator.arginfo import run_jdata_arginfo
    from dpgen.generator.run import make_fp_calculation, run_fp
    from dpgen.remote.decide_machine import convert_mdata
    from dpgen.util import normalize

    from dpgen_llzo.loop.fp_faults import screen_fp_outputs
    from dpgen_llzo.vasp import read_outcar

    monkeypatch.chdir(tmp_path)
    param = json.loads(VASP_PARAM.read_text())
    assert param["fp_style"] == "vasp" and param["type_map"] == ["Li", "La", "Zr", "O"]
    potcars = potcar_tree(tmp_path / "potpaw_PBE", {"Li": "Li_sv", "La": "La", "Zr": "Zr_sv", "O": "O", "H": "H", "C": "C"})
    param.update(
        type_map=param["type_map"] + ["H", "C"],  # the recorded H2O and CH4 runs
        fp_pp_files=param["fp_pp_files"] + ["H/POTCAR", "C/POTCAR"],
        fp_pp_path=str(potcars),
        fp_incar=str(REPO / param["fp_incar"]),
        ratio_failed=0.5,  # two of the four tasks fail by design (the bundle allows 0.2)
    )
    jdata = normalize(run_jdata_arginfo(), param)
    machine = json.loads(LOCAL_MACHINE.read_text())
    machine["fp"]["command"] = fake_vasp_command()
    mdata = convert_mdata(machine)
    type_map = jdata["type_map"]

    fp = tmp_path / "iter.000000" / "02.fp"
    tasks = {"task.000.000000": LI40, "task.000.000001": LI40_TRUNCATED, "task.001.000000": H2O, "task.002.000000": CH4_NELM}
    for name, recorded in tasks.items():
        steps = read_outcar(LI40 if recorded == LI40_TRUNCATED else recorded)
        # species interleaved in the dump (O H O H H H for H2O); make_fp's POSCAR groups them again
        order = np.argsort([sum(1 for s in steps.symbols[:i] if s == steps.symbols[i]) for i in range(len(steps.symbols))], kind="stable")
        task = fp / name
        task.mkdir(parents=True)
        _lammps_dump(task / "conf.dump", [steps.symbols[i] for i in order], steps.coords[0][order], steps.cells[0], type_map)
        dpdata.System(str(task / "conf.dump"), fmt="lammps/dump", type_map=type_map).to_vasp_poscar(str(task / "POSCAR"))
    make_fp_calculation(0, jdata, mdata)
    for name, recorded in tasks.items():
        task = fp / name
        assert (task / "INCAR").read_text() == TEMPLATE_INCAR.read_text() and (task / "KPOINTS").is_file()
        # the recorded run is of this POSCAR: same atoms in the same order and place
        poscar = read(task / "POSCAR", format="vasp")
        text = outcar_text(LI40 if recorded == LI40_TRUNCATED else recorded)
        np.testing.assert_allclose(poscar.get_positions(), text.positions, atol=1e-5)
        (task / "FAKE_VASP_OUTCAR").write_text(f"{recorded}\n")  # which OUTCAR the stand-in writes here
    potcar_titles = [line.split("=")[1].split()[1] for line in (fp / "task.001.000000" / "POTCAR").read_text().splitlines() if "TITEL" in line]
    assert potcar_titles == ["O", "H"]

    run_fp(0, jdata, copy.deepcopy(mdata))
    for name, recorded in tasks.items():
        assert (fp / name / "OUTCAR").read_bytes() == recorded.read_bytes(), name
    shutil.copytree(tmp_path / "iter.000000", tmp_path / "unscreened" / "iter.000000")

    # dpgen-llzo run's screen between run_fp and post_fp
    report = screen_fp_outputs(tmp_path, 0, "vasp")
    assert report["tasks"] == {"task.000.000001": NO_IONIC_STEP, "task.002.000000": NELM_STOP}
    for name in report["tasks"]:
        assert (fp / name / "OUTCAR").read_text() == "" and (fp / name / "OUTCAR.unconverged").read_bytes() == tasks[name].read_bytes()
    assert (fp / "task.000.000000" / "OUTCAR").read_bytes() == LI40.read_bytes()

    log = _post_fp(jdata)
    assert any(line.split()[:5] == ["failed", "frame:", "2", "in", "4"] for line in log), log
    labelled = {}
    for type_raw in sorted(fp.glob("data.*/**/type.raw")):
        labelled[type_raw.parent.relative_to(fp).parts[0]] = dpdata.LabeledSystem(str(type_raw.parent), fmt="deepmd/npy")
    assert sorted(labelled) == ["data.000", "data.001"] and all(len(s) == 1 for s in labelled.values())
    for data, recorded, symbols in ((labelled["data.000"], LI40, ["Li"] * 40), (labelled["data.001"], H2O, ["O"] * 2 + ["H"] * 4)):
        text = outcar_text(recorded)
        assert [data["atom_names"][t] for t in data["atom_types"]] == symbols
        assert data["energies"][0] == pytest.approx(text.energy, abs=1e-8)
        np.testing.assert_allclose(data["forces"][0], text.forces, atol=1e-6)
        np.testing.assert_allclose(data["virials"][0], text.virial, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(data["coords"][0], text.positions, atol=1e-6)
    assert labelled["data.001"]["energies"][0] == pytest.approx(-28.34083468)  # H2O's TOTEN, copied from the file

    # Without the screen, this dpdata's reader already drops the NELM step (convergence_check) and
    # the truncated run: post_fp counts the same two tasks failed. The screen adds why, and
    # fp_faults.json, whatever dpdata does.
    monkeypatch.chdir(tmp_path / "unscreened")
    log = _post_fp(jdata)
    assert any(line.split()[:5] == ["failed", "frame:", "2", "in", "4"] for line in log), log
    assert len(list(Path("iter.000000/02.fp").glob("data.*/**/type.raw"))) == 2
