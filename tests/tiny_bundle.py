"""Settings of the smallest real init/loop runs the tests make (imported by test modules)."""

from __future__ import annotations


def tiny_init_section() -> dict:
    """``_dpgen_llzo.init`` of one tetragonal system: 2 scaled frames + 2 teacher-MD snapshots.

    Its datasets are ``tet/perturbed`` and ``tet/md``; the exploration start is ``tet/POSCAR``.
    """
    return {
        "output": "init",
        "seed": 7,
        "systems": [
            {
                "name": "tet",
                "generator": "llzo-tetragonal",
                "perturb": {"scales": [0.99, 1.01], "n_perturbed": 0},
                "md": {"temperatures_K": [900.0], "n_steps": 4, "timestep_fs": 1.0, "sample_every": 2},
            }
        ],
    }
