"""Structure: RDF of ideal lattices, coordination numbers, RDF similarity, density maps, XRD."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpgen_llzo.analysis import Frame, RDFResult, average_structure, density_map, partial_rdf, rdf_similarity
from dpgen_llzo.analysis.synthetic import SyntheticSystem, write_lammps_dump
from dpgen_llzo.cli import main
from dpgen_llzo.errors import UserInputError

A = 4.0  # Å


def _rocksalt_primitive(n=3):
    """Rock salt (Na at 0, Cl at a/2 x) built on the triclinic FCC primitive cell, n×n×n."""
    prim = np.array([[0, A / 2, A / 2], [A / 2, 0, A / 2], [A / 2, A / 2, 0]])
    grid = np.mgrid[0:n, 0:n, 0:n].reshape(3, -1).T @ prim
    pos = np.vstack([grid, grid + [A / 2, 0, 0]])
    symbols = np.array(["Na"] * len(grid) + ["Cl"] * len(grid))
    return Frame(0, prim * n, symbols, pos)


def test_ideal_lattice_peaks_and_coordination_in_triclinic_cell():
    rdf = partial_rdf([_rocksalt_primitive()], r_max_A=4.5, dr_A=0.01)
    na_cl, na_na = rdf.summary("Na-Cl"), rdf.summary("Na-Na")
    assert na_cl["first_peak_A"] == pytest.approx(A / 2, abs=0.01)
    assert na_cl["coordination"] == pytest.approx(6.0)
    assert na_na["first_peak_A"] == pytest.approx(A / np.sqrt(2), abs=0.01)
    assert na_na["coordination"] == pytest.approx(12.0)
    # second Na–Cl shell: 8 at a√3/2 → running CN reaches 14 just past it
    r = rdf.r_A
    assert rdf.cn["Na-Cl"][np.searchsorted(r, A * np.sqrt(3) / 2 + 0.02)] == pytest.approx(14.0)
    reverse = partial_rdf([_rocksalt_primitive()], pairs=[("Cl", "Na")], r_max_A=3.2, dr_A=0.01)
    assert reverse.summary("Cl-Na")["coordination"] == pytest.approx(6.0)
    # r_max (4.5 Å) exceeds half the smallest cell width: images must be counted
    assert rdf.cn["Na-Na"][-1] == pytest.approx(12 + 6)  # shells at a/√2 and a (width/2 = 3.46 Å)


def test_ideal_gas_normalisation_in_triclinic_cell():
    rng = np.random.default_rng(0)
    cell = np.array([[10.0, 0, 0], [4.0, 9.0, 0], [3.0, 2.0, 8.0]])
    frames = [Frame(0, cell, np.array(["A"] * 150 + ["B"] * 80), rng.random((230, 3)) @ cell) for _ in range(15)]
    rdf = partial_rdf(frames, r_max_A=9.0, dr_A=0.25)
    for pair in ("A-A", "A-B", "B-B"):
        assert np.mean(rdf.g[pair][8:]) == pytest.approx(1.0, abs=0.03)


def test_similarity_is_one_for_identical_and_drops_for_shifted():
    rdf = partial_rdf([_rocksalt_primitive()], r_max_A=5.0, dr_A=0.05)
    assert rdf_similarity(rdf, rdf)[0] == pytest.approx(1.0)
    shifted = RDFResult(rdf.r_A + 0.3, rdf.g, rdf.cn, 1)
    score, per_pair = rdf_similarity(rdf, shifted)
    assert score < 0.5 and set(per_pair) == set(rdf.g)
    with pytest.raises(UserInputError, match="share no pair"):
        rdf_similarity(rdf, RDFResult(rdf.r_A, {"X-Y": rdf.g["Na-Cl"]}, {}, 1))


def test_missing_element_pair_is_an_error():
    with pytest.raises(UserInputError, match="'Li' not in the frames"):
        partial_rdf([_rocksalt_primitive(2)], pairs=[("Li", "Cl")], r_max_A=3.0)


def _site_system(n_frames=40):
    rng = np.random.default_rng(1)
    cell = np.eye(3) * 10.0
    sites = np.array([[2.25, 3.25, 5.0], [7.25, 6.25, 5.0]])  # centres of 0.5 Å bins
    li = sites[None] + rng.normal(scale=0.2, size=(n_frames, 2, 3))
    o = np.array([[5.0, 5.0, 1.0]]) + rng.normal(scale=0.05, size=(n_frames, 1, 3))
    return SyntheticSystem(np.concatenate([li, o], axis=1), np.tile(cell, (n_frames, 1, 1)),
                           np.array(["Li", "Li", "O"]), np.arange(n_frames) * 10, 0.0)


def test_density_map_peaks_at_the_sites(tmp_path):
    system = _site_system()
    frames = [Frame(int(s), c, system.symbols, p) for s, c, p in zip(system.steps, system.cells, system.positions)]
    dmap = density_map(frames, "Li", axis=2, bins=20)
    assert dmap.density.mean() == pytest.approx(1.0) and dmap.n_positions == 80
    hot = np.unravel_index(np.argsort(dmap.density, axis=None)[-2:], dmap.density.shape)
    assert sorted(zip(*[h.tolist() for h in hot])) == [(4, 6), (14, 12)]  # bins of the two sites
    path = write_lammps_dump(tmp_path / "sites.dump", system, type_map=("Li", "O"))
    png = tmp_path / "map.png"
    assert main(["analyze", "density-map", str(path), "--type-map", "Li,O", "--bins", "20", "--png", str(png),
                 "--json", str(tmp_path / "map.json")]) == 0
    assert png.stat().st_size > 1000


def test_average_structure_and_xrd_of_jittered_fcc():
    from pymatgen.core import Lattice, Structure

    from dpgen_llzo.analysis import xrd_pattern

    a = 3.615
    ideal = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Cu"], [[0, 0, 0]])
    rng = np.random.default_rng(2)
    frames = [Frame(k, ideal.lattice.matrix, np.array(["Cu"] * 4),
                    ideal.cart_coords + rng.normal(scale=0.1, size=(4, 3))) for k in range(50)]
    mean = average_structure(frames)
    assert np.allclose(mean.lattice.abc, (a, a, a))
    dist = [mean[i].distance(ideal[i]) for i in range(4)]
    assert max(dist) < 0.06
    pattern = xrd_pattern(mean, (30.0, 80.0))
    strongest = pattern["peaks_two_theta_deg"][np.argmax(pattern["peaks_intensity"])]  # (111)
    assert strongest == pytest.approx(np.degrees(2 * np.arcsin(1.54184 / (2 * a / np.sqrt(3)))), abs=0.02)


def test_cli_rdf_with_reference(tmp_path):
    frame = _rocksalt_primitive()
    system = SyntheticSystem(frame.positions[None], np.array([[[6, 0, 0], [0, 6, 0], [0, 0, 6.0]]]),
                             frame.symbols, np.array([0]), 0.0)
    # a cubic rock-salt cell for the dump (LAMMPS needs lower-triangular cells)
    cubic = np.vstack([np.mgrid[0:2, 0:2, 0:2].reshape(3, -1).T * 2.0 + s for s in ([0, 0, 0],)])
    na = cubic[(cubic.sum(axis=1) / 2.0) % 2 == 0]
    cl = cubic[(cubic.sum(axis=1) / 2.0) % 2 == 1]
    system = SyntheticSystem(np.vstack([na, cl])[None].repeat(2, axis=0), np.tile(np.eye(3) * 4.0, (2, 1, 1)),
                             np.array(["Na"] * len(na) + ["Cl"] * len(cl)), np.array([0, 10]), 0.0)
    path = write_lammps_dump(tmp_path / "nacl.dump", system, type_map=("Na", "Cl"))
    ref = tmp_path / "ref.json"
    assert main(["analyze", "rdf", str(path), "--type-map", "Na,Cl", "--r-max", "4", "--dr", "0.05",
                 "--json", str(ref)]) == 0
    out = tmp_path / "dp.json"
    assert main(["analyze", "rdf", str(path), "--type-map", "Na,Cl", "--r-max", "4", "--dr", "0.05",
                 "--pairs", "Na-Cl", "--reference", str(ref), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["comparison"]["similarity"] == pytest.approx(1.0)
    assert data["pairs"]["Na-Cl"]["first_peak_A"] == pytest.approx(2.0, abs=0.03)
    assert data["pairs"]["Na-Cl"]["coordination"] == pytest.approx(6.0)
    assert (tmp_path / "dp-rdf.png").is_file()
