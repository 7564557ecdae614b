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


def write_li2o_fp_candidates(work, type_map: list[str], a: float = 4.61):
    """Three fp candidates of antifluorite Li2O (12 atoms) laid out as DP-GEN's make_fp leaves them.

    Frame 0 ideal, frame 1 with Li 0 moved 0.1 Å along x, frame 2 with Li 0 put 0.4 Å from an O
    (a short contact). Each task holds ``conf.dump`` and the ``POSCAR`` dpdata writes from it.
    """
    import dpdata
    import numpy as np

    o_sites = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]) * a
    li_sites = np.array([[x, y, z] for x in (0.25, 0.75) for y in (0.25, 0.75) for z in (0.25, 0.75)]) * a
    base = np.vstack([li_sites, o_sites])
    symbols = ["Li"] * 8 + ["O"] * 4
    frames = [base.copy(), base.copy(), base.copy()]
    frames[1][0] += [0.1, 0.0, 0.0]
    frames[2][0] = o_sites[0] + [0.4, 0.0, 0.0]
    for index, positions in enumerate(frames):
        task = work / f"task.000.{index:06d}"
        task.mkdir(parents=True)
        lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", "12", "ITEM: BOX BOUNDS pp pp pp"] + [f"0.0 {a}"] * 3
        lines.append("ITEM: ATOMS id type x y z")
        lines += [f"{i + 1} {type_map.index(s) + 1} {x:.8f} {y:.8f} {z:.8f}" for i, (s, (x, y, z)) in enumerate(zip(symbols, positions))]
        (task / "conf.dump").write_text("\n".join(lines) + "\n")
        dpdata.System(str(task / "conf.dump"), fmt="lammps/dump", type_map=type_map).to_vasp_poscar(str(task / "POSCAR"))
    return symbols, frames
