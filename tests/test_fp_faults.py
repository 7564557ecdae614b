"""VASP labelling runs without SCF convergence or without a finished ionic step are set aside
between run_fp and post_fp; the OUTCARs are real ones (``tests/data/README``)."""

from __future__ import annotations

import json

from dpgen_llzo.loop.fp_faults import FP_FAULTS_FILE, read_fp_faults, screen_fp_outputs, screen_vasp_task
from dpgen_llzo.vasp import NO_IONIC_STEP
from vasp_files import BA2PB2O6_TRUNCATED, CH4_NELM, LI40

NELM_STOP = "SCF not converged: the electronic loop stopped at NELM = 15"


def _fp_dir(root):
    """Four VASP fp tasks: converged, stopped at NELM, cut off after two electronic steps, never run."""
    fp = root / "iter.000000" / "02.fp"
    for name, source in {"task.000.000000": LI40, "task.000.000001": CH4_NELM, "task.000.000002": BA2PB2O6_TRUNCATED}.items():
        (fp / name).mkdir(parents=True)
        (fp / name / "OUTCAR").write_text(source.read_text())
    (fp / "task.000.000001" / "vasprun.xml").write_text("<modeling/>")
    (fp / "task.000.000003").mkdir()  # never ran
    return fp


def test_unconverged_and_crashed_runs_are_set_aside_once(tmp_path):
    fp = _fp_dir(tmp_path)
    report = screen_fp_outputs(tmp_path, 0, "vasp")
    assert report["n_tasks"] == 4 and report["n_set_aside"] == 2
    assert report["tasks"] == {"task.000.000001": NELM_STOP, "task.000.000002": NO_IONIC_STEP}
    bad = fp / "task.000.000001"
    # post_fp finds an empty OUTCAR (a failed task, counted against ratio_failed) and no vasprun.xml to fall back on
    assert (bad / "OUTCAR").read_text() == "" and not (bad / "vasprun.xml").exists()
    assert "Iteration" in (bad / "OUTCAR.unconverged").read_text() and (bad / "vasprun.xml.unconverged").is_file()
    assert (fp / "task.000.000000" / "OUTCAR").read_text() == LI40.read_text()  # the good run is untouched
    assert json.loads((fp / FP_FAULTS_FILE).read_text()) == report == read_fp_faults(tmp_path, 0)
    # a resumed run screens again: same report, nothing moved twice
    assert screen_fp_outputs(tmp_path, 0, "vasp") == report
    assert "Iteration" in (bad / "OUTCAR.unconverged").read_text()


def test_an_interrupted_set_aside_is_completed(tmp_path):
    fp = _fp_dir(tmp_path)
    bad = fp / "task.000.000001"
    (bad / "OUTCAR").rename(bad / "OUTCAR.unconverged")  # killed between the move and the placeholder
    assert screen_vasp_task(bad).startswith("SCF not converged") and (bad / "OUTCAR").read_text() == ""


def test_other_fp_styles_are_not_screened(tmp_path):
    fp = _fp_dir(tmp_path)
    report = screen_fp_outputs(tmp_path, 0, "custom")
    assert report["n_set_aside"] == 0 and (fp / "task.000.000001" / "OUTCAR").read_text() == CH4_NELM.read_text()
    assert read_fp_faults(tmp_path, 1) is None


def test_status_reports_the_fp_faults(tmp_path):
    from dpgen_llzo.status import format_status, workdir_status

    _fp_dir(tmp_path)
    screen_fp_outputs(tmp_path, 0, "vasp")
    (tmp_path / "record.dpgen").write_text("".join(f"0 {j}\n" for j in range(8)))
    text = format_status(workdir_status(tmp_path))
    assert "fp faults in iteration 0: 2 labelling runs set aside" in text and "NELM = 15" in text and "no complete ionic step" in text


def test_the_loop_screens_after_run_fp_before_the_record(tmp_path):
    """`dpgen-llzo run` with stand-in DP-GEN steps: step 7 leaves an unconverged OUTCAR; by the
    time post_fp (step 8) runs, it has been set aside."""
    from pathlib import Path

    from dpgen_llzo.loop.runner import run_loop

    repo = Path(__file__).resolve().parents[1]
    param = json.loads((repo / "param" / "vasp" / "param.json").read_text())
    param["_dpgen_llzo"]["coverage"] = {"enabled": False}
    param["_dpgen_llzo"]["gb"] = {}
    param["model_devi_jobs"] = param["model_devi_jobs"][:1]
    path = tmp_path / "param.json"
    path.write_text(json.dumps(param))
    work = tmp_path / "work"
    work.mkdir()
    seen = {}

    def step(jj):
        def run(ii, jdata, mdata):
            if jj == 7:
                _fp_dir(Path.cwd())
            if jj == 8:
                seen["outcar"] = (Path("iter.000000/02.fp/task.000.000001/OUTCAR")).read_text()
            return ii < 1 if jj == 3 else None
        return run

    run_loop(path, repo / "machine" / "local.json", workdir=work, steps={j: step(j) for j in range(9)})
    assert seen["outcar"] == ""
    assert read_fp_faults(work, 0)["n_set_aside"] == 2
