"""Carving small DFT cells out of a large GB frame, and writing them as DP-GEN fp tasks.

The central fact: every atom within ``radius − rcut`` of the centre has, in the carved cell,
exactly the neighbours (element and relative position) it has in the parent frame within
rcut. Checked independently of the code's own bookkeeping, with pymatgen neighbour lists, on
a thermally rattled copy of the committed Σ3 cell, for both carving modes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure

from dpgen_llzo.errors import UserInputError
from dpgen_llzo.gb.carving import (
    carve_environment,
    carve_frame,
    atomic_model_devi_row,
    read_atomic_model_devi,
    select_carving_centres,
)
from dpgen_llzo.gb.fp_tasks import fp_task_name, next_task_counter, write_fp_tasks

REPO = Path(__file__).resolve().parents[1]
CHARGES = {"Li": 1, "La": 3, "Zr": 4, "O": -2}
UNIT = {"Li": 7, "La": 3, "Zr": 2, "O": 12}
RCUT, RADIUS = 6.0, 7.5


@pytest.fixture(scope="module")
def frame() -> Structure:
    """The committed Σ3 cell with 0.1 Å Gaussian displacements, like an MD snapshot."""
    structure = Structure.from_file(str(REPO / "gb_systems" / "sigma3-112" / "POSCAR"))
    rng = np.random.default_rng(7)
    return Structure(
        structure.lattice,
        structure.species,
        structure.cart_coords + rng.normal(0, 0.1, (len(structure), 3)),
        coords_are_cartesian=True,
    )


def neighbours(structure: Structure, index: int, names) -> list[tuple]:
    centre = structure[index].coords
    return sorted(
        (names[n.index], n.specie.symbol, *np.round(n.coords - centre, 5))
        for n in structure.get_neighbors(structure[index], RCUT)
    )


def centres(frame: Structure) -> list[int]:
    """A cation in the GB plane, an oxygen in the grain, and the atom nearest the cell corner."""
    z = frame.cart_coords[:, 2]
    symbols = [s.specie.symbol for s in frame]
    plane = 7.942470491
    gb_cation = min(
        (i for i, s in enumerate(symbols) if s == "La"), key=lambda i: abs(z[i] - plane)
    )
    grain_o = min((i for i, s in enumerate(symbols) if s == "O"), key=lambda i: abs(z[i] - 16.0))
    corner = int(np.argmin(np.linalg.norm(frame.cart_coords, axis=1)))
    return [gb_cation, grain_o, corner]


@pytest.mark.parametrize("mode", ["periodic", "vacuum"])
def test_atoms_near_the_centre_keep_their_parent_neighbours(frame, mode):
    for centre in centres(frame):
        carved, info = carve_environment(frame, centre, RADIUS, mode, rcut=RCUT)
        parent_of = info.parent_indices
        core = np.flatnonzero(info.distance_from_centre_A <= RADIUS - RCUT)
        assert info.centre_index in core and len(core) >= 1
        identity = np.arange(len(frame))
        for k in core:
            assert neighbours(carved, int(k), parent_of) == neighbours(
                frame, int(parent_of[k]), identity
            )
            assert info.atom_pref[k] == 1.0
        # every parent atom within the radius is in the carved cell, at the same offset
        delta = frame.frac_coords - frame.frac_coords[centre]
        delta -= np.round(delta)
        within = np.flatnonzero(np.linalg.norm(delta @ frame.lattice.matrix, axis=1) <= RADIUS)
        assert set(within) <= set(parent_of.tolist())


@pytest.mark.parametrize("mode", ["periodic", "vacuum"])
@pytest.mark.parametrize("composition", ["stoichiometric", "neutral"])
def test_carved_cells_are_neutral_small_and_free_of_new_contacts(frame, mode, composition):
    centre = centres(frame)[0]
    carved, info = carve_environment(
        frame, centre, RADIUS, mode, rcut=RCUT, composition=composition
    )
    symbols = [s.specie.symbol for s in carved]
    assert sum(CHARGES[s] for s in symbols) == 0
    if composition == "stoichiometric":
        counts = {e: symbols.count(e) for e in UNIT}
        assert counts == {e: counts["La"] // 3 * v for e, v in UNIT.items()}
    assert 100 < len(carved) < 450
    parent_min = frame.get_neighbor_list(1.6)[3].min(initial=9.9)
    distances = carved.get_neighbor_list(2.2)[3]
    assert distances.min(initial=9.9) >= min(1.5, parent_min) - 1e-9
    if mode == "periodic":
        assert info.periodic_directions == (True, False, False)  # 18.3 Å kept, 22.5/34.8 Å cut
        assert carved.lattice.a == pytest.approx(frame.lattice.a)
        assert carved.lattice.b == pytest.approx(2 * RADIUS + 2.2)
    else:
        assert carved.lattice.abc == pytest.approx((40.0, 40.0, 40.0))
        assert np.ptp(carved.cart_coords, axis=0).max() < 2 * (RADIUS + 2.2)


def test_carving_options_are_checked(frame):
    with pytest.raises(UserInputError, match="known: periodic, vacuum"):
        carve_environment(frame, 0, RADIUS, "cluster")
    with pytest.raises(UserInputError, match="must exceed rcut"):
        carve_environment(frame, 0, 5.0)
    with pytest.raises(UserInputError, match="known: stoichiometric, neutral"):
        carve_environment(frame, 0, RADIUS, composition="charged")


def test_select_carving_centres(frame):
    deviation = np.zeros(len(frame))
    deviation[[10, 11, 500, 900]] = [0.9, 0.8, 0.7, 0.3]
    separation = frame.get_distance(10, 11) + 0.01  # 11 is too close to 10
    chosen = select_carving_centres(deviation, 3, separation, frame)
    assert chosen[0] == 10 and 11 not in chosen
    assert len(chosen) == 3
    assert select_carving_centres(deviation, 3, 0.0, frame, min_deviation=0.75) == [10, 11]
    for i in chosen:
        for j in chosen:
            if i != j:
                assert frame.get_distance(i, j) >= separation
    with pytest.raises(UserInputError, match="per-atom deviations"):
        select_carving_centres(deviation[:-1], 3, 1.0, frame)


def test_fp_tasks_follow_dpgen_naming(frame, tmp_path):
    from dpgen.generator.run import make_fp_task_name

    assert fp_task_name(2, 17) == make_fp_task_name(2, 17) == "task.002.000017"
    deviation = np.linspace(0, 1, len(frame))
    cells = carve_frame(frame, deviation, 2, RADIUS, rcut=RCUT)
    fp_dir = tmp_path / "iter.000004" / "02.fp"
    (fp_dir / "task.002.000000").mkdir(parents=True)  # a task dpgen made already
    tasks = write_fp_tasks(cells, fp_dir, system_index=2, source={"step": 100})
    assert [t.name for t in tasks] == ["task.002.000001", "task.002.000002"]
    assert next_task_counter(fp_dir, 2) == 3 and next_task_counter(fp_dir, 0) == 0
    for task, (cell, info) in zip(tasks, cells):
        poscar = Structure.from_file(str(task / "POSCAR"))
        assert (task / "POSCAR").read_text().splitlines()[5].split() == ["Li", "La", "Zr", "O"]
        assert poscar.composition == cell.composition
        pref = np.load(task / "atom_pref.npy")
        assert pref.shape == (len(cell),) and pref.max() == 1.0
        record = json.loads((task / "carve.json").read_text())
        assert record["source"] == {"step": 100} and record["mode"] == "periodic"
        parent = np.array(record["parent_indices"])
        assert poscar[record["centre_index"]].specie == frame[record["parent_centre_index"]].specie
        assert [s.specie.symbol for s in poscar] == [frame[int(p)].specie.symbol for p in parent]
    with pytest.raises(UserInputError, match="refusing to overwrite"):
        write_fp_tasks(cells, fp_dir, system_index=2, start=1)


def test_read_atomic_model_devi(tmp_path):
    table = np.array(
        [
            [0, 1, 0, 0.5, 0.9, 0.1, 0.3, 0.1, 0.9, 0.2],
            [10, 1, 0, 0.5, 0.8, 0.1, 0.3, 0.8, 0.1, 0.2],
        ]
    )
    path = tmp_path / "model_devi.out"
    np.savetxt(
        path,
        table,
        header="step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f atm_devi_f(N)",
    )
    steps, deviation = read_atomic_model_devi(str(path))
    assert steps.tolist() == [0, 10] and deviation.shape == (2, 3)
    assert deviation[1].tolist() == [0.8, 0.1, 0.2]
    # the streamed reader gives the same row, and None for a step that is not there
    assert atomic_model_devi_row(str(path), 10).tolist() == [0.8, 0.1, 0.2]
    assert atomic_model_devi_row(str(path), 5) is None
    np.savetxt(path, table[:, :7])
    with pytest.raises(UserInputError, match="'atomic' keyword"):
        read_atomic_model_devi(str(path))


def test_carve_command(frame, tmp_path, monkeypatch, capsys):
    from dpgen_llzo import cli

    if "dpgen_llzo.gb.cli" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("dpgen_llzo.gb.cli",))
    frame.to(filename=str(tmp_path / "POSCAR"), fmt="poscar")
    row = np.concatenate([[500, 0, 0, 0, 1, 0, 0], np.linspace(0, 1, len(frame))])
    np.savetxt(tmp_path / "model_devi.out", row[None, :])
    code = cli.main(
        [
            "gb",
            "carve",
            str(tmp_path / "POSCAR"),
            "--model-devi",
            str(tmp_path / "model_devi.out"),
            "-n",
            "1",
            "--radius",
            str(RADIUS),
            "--fp-dir",
            str(tmp_path / "02.fp"),
            "--system-index",
            "3",
        ]
    )
    assert code == 0
    assert (tmp_path / "02.fp" / "task.003.000000" / "POSCAR").is_file()
    assert f"around parent atom {len(frame) - 1}" in capsys.readouterr().out
