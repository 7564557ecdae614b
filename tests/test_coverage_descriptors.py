"""Environment descriptors from a frozen model: batching, type mapping, and a real model."""

from __future__ import annotations


import numpy as np
import pytest

from dpgen_llzo.coverage import coverage_by_element
from dpgen_llzo.coverage.descriptors import environment_descriptors
from dpgen_llzo.errors import UserInputError



class FakeModel:
    """Stands in for DeepPot: descriptor of atom a = (model type, x, y, z, frame marker)."""

    def __init__(self, type_map):
        self.type_map = type_map
        self.calls = []

    def get_type_map(self):
        return list(self.type_map)

    def eval_descriptor(self, coords, cells, atom_types):
        self.calls.append((coords.shape, None if cells is None else cells.shape, tuple(atom_types)))
        nf = coords.shape[0]
        xyz = coords.reshape(nf, -1, 3)
        types = np.broadcast_to(np.asarray(atom_types, float)[None, :, None], (nf, xyz.shape[1], 1))
        marker = (
            cells[:, :1, None].repeat(xyz.shape[1], axis=1)
            if cells is not None
            else np.zeros_like(types)
        )
        return np.concatenate([types, xyz, marker], axis=2)


def frames(n_frames=5, n_atoms=4, seed=0):
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 8, size=(n_frames, n_atoms, 3))
    cells = np.stack([np.eye(3) * (10 + f) for f in range(n_frames)])
    return coords, cells


def test_batches_rows_and_type_mapping():
    coords, cells = frames()
    atom_types = np.array([0, 3, 3, 0])  # Li O O Li in our type map
    model = FakeModel(["O", "Li"])  # the model orders types differently
    desc, row_types = environment_descriptors(
        model, coords, cells, atom_types, ["Li", "La", "Zr", "O"], batch_frames=2
    )
    assert desc.shape == (20, 5) and desc.dtype == np.float64
    assert [c[0][0] for c in model.calls] == [2, 2, 1]  # 5 frames in batches of 2
    assert all(c[2] == (1, 0, 0, 1) for c in model.calls)  # mapped to the model's types
    np.testing.assert_array_equal(row_types, np.tile(atom_types, 5))
    np.testing.assert_allclose(desc[:, 1:4], coords.reshape(-1, 3))  # frame by frame, atom order
    np.testing.assert_allclose(desc[:, 4], np.repeat(10.0 + np.arange(5), 4))


def test_no_cells_means_non_periodic():
    coords, _ = frames(2)
    model = FakeModel(["Li"])
    desc, _ = environment_descriptors(model, coords, None, np.zeros(4, int), ["Li"])
    assert model.calls[0][1] is None and desc.shape == (8, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"atom_types": np.array([0, 1, 2, 3])}, "lacks element"),
        ({"atom_types": np.array([0, 5, 0, 0])}, "indices into type_map"),
        ({"atom_types": np.array([0, 0, 0])}, "coords must have shape"),
        ({"cells": np.zeros((4, 3, 3))}, "cells must have shape"),
        ({"batch_frames": 0}, "batch_frames"),
    ],
)
def test_bad_input(kwargs, message):
    coords, cells = frames()
    args = {
        "coords": coords,
        "cells": cells,
        "atom_types": np.array([0, 3, 3, 0]),
        "batch_frames": 2,
        **kwargs,
    }
    with pytest.raises(UserInputError, match=message):
        environment_descriptors(FakeModel(["O", "Li"]), type_map=["Li", "La", "Zr", "O"], **args)


def test_missing_model_file(tmp_path):
    coords, cells = frames()
    with pytest.raises(UserInputError, match="model file not found"):
        environment_descriptors(tmp_path / "none.pb", coords, cells, np.zeros(4, int), ["Li"])


@pytest.mark.slow
def test_tiny_frozen_model_descriptors_feed_coverage(tiny_model):
    from deepmd.infer import DeepPot

    model = DeepPot(str(tiny_model))
    type_map = list(model.get_type_map())
    rng = np.random.default_rng(0)
    n_atoms = 8
    atom_types = np.arange(n_atoms) % min(2, len(type_map))
    base = np.array([[i % 2, (i // 2) % 2, i // 4] for i in range(n_atoms)], float) * 2.5 + 1.0
    coords = base + rng.normal(scale=0.05, size=(6, n_atoms, 3))
    cells = np.tile(np.eye(3) * 6.0, (6, 1, 1))

    desc, row_types = environment_descriptors(
        str(tiny_model), coords, cells, atom_types, type_map, batch_frames=4
    )
    assert desc.shape[0] == 6 * n_atoms and np.isfinite(desc).all()
    direct = model.eval_descriptor(coords.reshape(6, -1), cells.reshape(6, 9), atom_types)
    np.testing.assert_allclose(
        desc, np.asarray(direct).reshape(6 * n_atoms, -1), rtol=1e-5, atol=1e-8
    )

    hot = coords + rng.normal(scale=0.3, size=coords.shape)
    hot_desc, hot_types = environment_descriptors(model, hot, cells, atom_types, type_map)
    results = coverage_by_element(desc, hot_desc, row_types, hot_types, type_map, bins=10)
    assert all(0.0 <= r.fraction <= 1.0 for r in results.values())
