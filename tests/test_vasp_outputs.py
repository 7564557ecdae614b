"""Reading real VASP OUTCARs (:mod:`dpgen_llzo.vasp.outputs`): labels as the text prints them, SCF
convergence by dpdata's NELM count, truncated runs, and the frame of the numbers.

Every file is a public VASP output (``tests/data/README``); the expected numbers are read from the
file text by :func:`vasp_files.outcar_text`, not by dpdata.
"""

from __future__ import annotations

import numpy as np
import pytest

from dpgen_llzo.vasp import NO_IONIC_STEP, UnreadableOutcar, outcar_failure, read_outcar
from vasp_files import BA2PB2O6_TRUNCATED, CH4_MD3, CH4_NELM, H2O, K4SN4O6, LI40, LI40_TRUNCATED, outcar_text


@pytest.mark.parametrize("path, symbols", [
    (LI40, ["Li"] * 40),
    (H2O, ["O"] * 2 + ["H"] * 4),
    (K4SN4O6, ["K"] * 4 + ["Sn"] * 4 + ["O"] * 6),
])
def test_a_converged_single_point_reads_as_its_text(path, symbols):
    steps = read_outcar(path)
    text = outcar_text(path)
    assert len(steps) == 1 and steps.converged.tolist() == [True] and outcar_failure(path) is None
    assert steps.symbols == symbols
    assert steps.energies[-1] == pytest.approx(text.energy, abs=1e-8)
    np.testing.assert_allclose(steps.forces[-1], text.forces, atol=1e-6)
    np.testing.assert_allclose(steps.coords[-1], text.positions, atol=1e-6)
    np.testing.assert_allclose(steps.cells[-1], text.cell, atol=1e-9)  # as printed: not rotated
    np.testing.assert_allclose(steps.virials[-1], text.virial, rtol=1e-6, atol=1e-9)
    # ASE's sign: the stress is minus the virial over the volume
    np.testing.assert_allclose(steps.stress(), -text.virial / text.volume, rtol=1e-6, atol=1e-12)


def test_a_few_numbers_of_the_k4sn4o6_file():
    """Spot values copied by hand from OUTCAR.K4Sn4O6.converged."""
    steps = read_outcar(K4SN4O6)
    assert steps.energies[-1] == pytest.approx(-67.72457099, abs=1e-8)
    assert steps.nelm == 100
    # the "in kB" diagonal is 12.69, 12.78, 12.71 kbar on a 308.6 Å^3 cell: about 2.45 eV of virial each
    np.testing.assert_allclose(np.diag(steps.virials[-1]), [2.445, 2.462, 2.448], atol=2e-3)


def test_a_nelm_stop_is_unconverged_although_vasp_5_says_ediff_is_reached():
    text = CH4_NELM.read_text()
    # 15 electronic steps with NELM = 15: VASP 5.4.4 still prints that EDIFF was reached
    assert "NELM   =     15" in text and "Iteration      1(  15)" in text and "Iteration      1(  16)" not in text
    assert "aborting loop because EDIFF is reached" in text
    steps = read_outcar(CH4_NELM)
    assert len(steps) == 1 and steps.converged.tolist() == [False] and steps.nelm == 15
    assert outcar_failure(CH4_NELM) == "SCF not converged: the electronic loop stopped at NELM = 15"
    assert steps.energies[-1] == pytest.approx(outcar_text(CH4_NELM).energy)  # labels are there, just not converged


def test_only_the_last_ionic_step_decides():
    steps = read_outcar(CH4_MD3)  # MD: 15 and 15 electronic steps (NELM), then 12
    assert steps.converged.tolist() == [False, False, True]
    assert outcar_failure(CH4_MD3) is None
    assert steps.energies[-1] == pytest.approx(outcar_text(CH4_MD3).energy)


@pytest.mark.parametrize("path", [LI40_TRUNCATED, BA2PB2O6_TRUNCATED])
def test_a_run_that_stopped_inside_its_electronic_loop_has_no_step(path):
    steps = read_outcar(path)
    assert len(steps) == 0 and steps.symbols  # the header is there, no ionic step finished
    assert outcar_failure(path) == NO_IONIC_STEP


def test_an_empty_or_foreign_file_is_no_step_and_a_missing_one_an_error(tmp_path):
    (tmp_path / "empty").write_text("")
    (tmp_path / "half").write_text(LI40.read_text()[:5000])  # cut inside the POTCAR section
    for name in ("empty", "half"):
        with pytest.raises(UnreadableOutcar, match="dpdata cannot read"):
            read_outcar(tmp_path / name)
        assert outcar_failure(tmp_path / name) == NO_IONIC_STEP
    with pytest.raises(FileNotFoundError):
        read_outcar(tmp_path / "missing")


def test_dpdata_labeledsystem_would_rotate_a_cell_that_is_not_lower_triangular():
    """Why the format's reader is called directly: a calculator's forces must stay in the POSCAR's frame."""
    import dpdata

    rotated = dpdata.LabeledSystem(str(K4SN4O6), fmt="vasp/outcar")
    ours = read_outcar(K4SN4O6)
    assert not np.allclose(rotated["cells"][0], ours.cells[0], atol=1e-3)
    assert rotated["energies"][0] == ours.energies[0]
    # same forces up to the rotation that took the cell to lower-triangular form
    rotation = np.linalg.solve(ours.cells[0], rotated["cells"][0])
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-8)
    np.testing.assert_allclose(ours.forces[0] @ rotation, rotated["forces"][0], atol=1e-8)


@pytest.mark.parametrize("path", [LI40, H2O])
def test_post_fp_reads_the_same_labels(path, tmp_path):
    """DP-GEN's post_fp reads ``dpdata.LabeledSystem(".../OUTCAR")`` (format from the name): for these
    (lower-triangular) cells the very numbers :func:`read_outcar` gives."""
    import shutil

    import dpdata

    shutil.copy(path, tmp_path / "OUTCAR")
    system = dpdata.LabeledSystem(str(tmp_path / "OUTCAR"))
    ours = read_outcar(path)
    assert system["energies"][0] == ours.energies[0]
    np.testing.assert_array_equal(system["forces"][0], ours.forces[0])
    np.testing.assert_array_equal(system["virials"][0], ours.virials[0])
