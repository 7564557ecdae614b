"""Known-answer trajectories and writers for the supported formats (tests, benchmarks, demos).

:func:`random_walk_system` makes Gaussian random walkers with a prescribed D inside a
framework lattice that may drift; the ``write_*`` functions store frames in the formats the
readers accept, so the readers, unwrapping and drift removal are exercised end to end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass
class SyntheticSystem:
    """Unwrapped positions of every atom, frame cells and the truth.

    Attributes
    ----------
    positions
        ``(n_frames, n_atoms, 3)`` unwrapped Cartesian positions, Å.
    cells
        ``(n_frames, 3, 3)`` cells, Å.
    symbols
        ``(n_atoms,)`` elements.
    steps
        ``(n_frames,)`` MD step numbers.
    D_A2_ps
        Prescribed tracer diffusion coefficient of the walkers, Å²/ps.
    """

    positions: np.ndarray
    cells: np.ndarray
    symbols: np.ndarray
    steps: np.ndarray
    D_A2_ps: float

    def wrapped(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions wrapped into each frame's cell and the integer image flags."""
        inv = np.linalg.inv(self.cells)
        frac = np.einsum("tni,tij->tnj", self.positions, inv)
        images = np.floor(frac)
        wrapped = np.einsum("tnj,tjk->tnk", frac - images, self.cells)
        return wrapped, images.astype(np.int64)


def random_walk_positions(n_frames: int, n_ions: int, D_A2_ps: float, dt_ps: float, seed: int = 0,
                          correlated: bool = False) -> np.ndarray:
    """Gaussian random walks, ``(n_frames, n_ions, 3)`` displacements from 0, with MSD = 6 D t.

    ``correlated=True`` moves all ions by the same steps (perfectly concerted motion).
    """
    rng = np.random.default_rng(seed)
    scale = np.sqrt(2.0 * D_A2_ps * dt_ps)
    shape = (n_frames - 1, 1 if correlated else n_ions, 3)
    steps = rng.normal(scale=scale, size=shape)
    walk = np.concatenate([np.zeros((1,) + shape[1:]), np.cumsum(steps, axis=0)])
    return np.broadcast_to(walk, (n_frames, n_ions, 3)).copy()


def random_walk_system(n_frames: int = 2000, n_ions: int = 64, D_A2_ps: float = 0.05, dt_ps: float = 0.1,
                       cell: Sequence[Sequence[float]] | None = None, framework: int = 2, seed: int = 0,
                       drift_velocity_A_ps: Sequence[float] = (0.0, 0.0, 0.0), drift_walk_A2_ps: float = 0.0,
                       strain_amplitude: float = 0.0, dump_every: int = 10) -> SyntheticSystem:
    """Random-walking "Li" in a framework of "La"/"O" on a simple-cubic grid that may drift.

    Parameters
    ----------
    n_frames, n_ions, D_A2_ps, dt_ps
        Frames, walkers, their D (Å²/ps) and the time between frames (ps).
    cell
        Cell (rows), Å; default a 12 Å cube.
    framework
        Framework sites per cell edge (``framework**3`` La and as many O).
    drift_velocity_A_ps, drift_walk_A2_ps
        Common drift added to every atom: constant velocity and a random walk of the whole
        system (D of the centre of mass), so only drift removal recovers D.
    strain_amplitude
        Relative amplitude of an NPT-like breathing of the cell (affine, all atoms follow).
    dump_every
        MD steps between frames (steps = index × dump_every).
    """
    rng = np.random.default_rng(seed)
    base = np.asarray(cell if cell is not None else np.eye(3) * 12.0, dtype=float)
    grid = (np.mgrid[0:framework, 0:framework, 0:framework].reshape(3, -1).T + 0.25) / framework
    fw_frac = np.vstack([grid, grid + 0.5 / framework])
    n_fw = len(fw_frac)
    walkers = random_walk_positions(n_frames, n_ions, D_A2_ps, dt_ps, seed + 1)
    start = rng.random((n_ions, 3)) @ base
    t = np.arange(n_frames) * dt_ps
    drift = t[:, None] * np.asarray(drift_velocity_A_ps, dtype=float)[None, :]
    if drift_walk_A2_ps > 0:
        drift = drift + random_walk_positions(n_frames, 1, drift_walk_A2_ps, dt_ps, seed + 2)[:, 0]
    strain = 1.0 + strain_amplitude * np.sin(2 * np.pi * np.arange(n_frames) / 50.0)
    cells = base[None] * strain[:, None, None]
    fw = np.einsum("ni,tij->tnj", fw_frac, cells) + rng.normal(scale=0.05, size=(n_frames, n_fw, 3))
    li = start[None] + walkers
    positions = np.concatenate([li, fw], axis=1) + drift[:, None, :]
    symbols = np.array(["Li"] * n_ions + ["La"] * (n_fw // 2) + ["O"] * (n_fw - n_fw // 2))
    return SyntheticSystem(positions, cells, symbols, np.arange(n_frames) * dump_every, D_A2_ps)


def write_lammps_dump(path: str | os.PathLike, system: SyntheticSystem, *, images: bool = False,
                      unwrapped: bool = False, scaled: bool = False, type_map: Sequence[str] = ("Li", "La", "O"),
                      element_column: bool = False, shuffle_seed: int | None = None) -> Path:
    """Write a LAMMPS custom dump (orthogonal or triclinic box, as the cells require)."""
    path = Path(path)
    wrapped, flags = system.wrapped()
    types = np.array([list(type_map).index(s) + 1 for s in system.symbols])
    ids = np.arange(1, len(types) + 1)
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    with open(path, "w") as out:
        for k, step in enumerate(system.steps):
            cell = system.cells[k]
            if not np.allclose(cell, np.triu(cell.T).T):
                raise ValueError("LAMMPS cells must be lower-triangular (a along x, b in xy)")
            xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
            tri = any(abs(v) > 0 for v in (xy, xz, yz))
            lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
            out.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(ids)}\n")
            if tri:
                xlo_b, xhi_b = min(0.0, xy, xz, xy + xz), lx + max(0.0, xy, xz, xy + xz)
                ylo_b, yhi_b = min(0.0, yz), ly + max(0.0, yz)
                out.write(f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlo_b:.10f} {xhi_b:.10f} {xy:.10f}\n"
                          f"{ylo_b:.10f} {yhi_b:.10f} {xz:.10f}\n0.0 {lz:.10f} {yz:.10f}\n")
            else:
                out.write(f"ITEM: BOX BOUNDS pp pp pp\n0.0 {lx:.10f}\n0.0 {ly:.10f}\n0.0 {lz:.10f}\n")
            pos = system.positions[k] if unwrapped else wrapped[k]
            if scaled:
                pos = pos @ np.linalg.inv(cell)
            names = ("xsu ysu zsu" if unwrapped else "xs ys zs") if scaled else ("xu yu zu" if unwrapped else "x y z")
            cols = "id type" + (" element" if element_column else "") + f" {names}" + (" ix iy iz" if images else "")
            out.write(f"ITEM: ATOMS {cols}\n")
            order = rng.permutation(len(ids)) if rng is not None else np.arange(len(ids))
            for i in order:
                line = f"{ids[i]} {types[i]}" + (f" {system.symbols[i]}" if element_column else "")
                line += " {:.8f} {:.8f} {:.8f}".format(*pos[i])
                if images:
                    line += " {} {} {}".format(*flags[k, i])
                out.write(line + "\n")
    return path


def write_extxyz(path: str | os.PathLike, system: SyntheticSystem) -> Path:
    """Write wrapped frames as extended XYZ with a ``step`` key (ASE)."""
    from ase import Atoms
    from ase.io import write

    wrapped, _ = system.wrapped()
    frames = [Atoms(symbols=list(system.symbols), positions=wrapped[k], cell=system.cells[k], pbc=True,
                    info={"step": int(system.steps[k])}) for k in range(len(system.steps))]
    write(str(path), frames, format="extxyz")
    return Path(path)


def write_xdatcar(path: str | os.PathLike, system: SyntheticSystem) -> Path:
    """Write a variable-cell XDATCAR (header repeated every frame) with wrapped positions."""
    wrapped, _ = system.wrapped()
    names = list(dict.fromkeys(system.symbols.tolist()))
    order = np.concatenate([np.flatnonzero(system.symbols == n) for n in names])
    counts = [int(np.sum(system.symbols == n)) for n in names]
    with open(path, "w") as out:
        for k, step in enumerate(system.steps):
            out.write("synthetic\n1.0\n")
            for row in system.cells[k]:
                out.write(" {:.10f} {:.10f} {:.10f}\n".format(*row))
            out.write(" ".join(names) + "\n" + " ".join(map(str, counts)) + "\n")
            out.write(f"Direct configuration= {int(step)}\n")
            frac = wrapped[k][order] @ np.linalg.inv(system.cells[k])
            for row in frac:
                out.write(" {:.10f} {:.10f} {:.10f}\n".format(*row))
    return Path(path)


def write_deepmd_npy(folder: str | os.PathLike, system: SyntheticSystem, set_size: int = 500) -> Path:
    """Write a deepmd/npy system (wrapped coordinates) split into ``set.*`` folders."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(system.symbols.tolist()))
    (folder / "type_map.raw").write_text("\n".join(names) + "\n")
    (folder / "type.raw").write_text("\n".join(str(names.index(s)) for s in system.symbols) + "\n")
    wrapped, _ = system.wrapped()
    n = len(system.steps)
    for i, start in enumerate(range(0, n, set_size)):
        sub = folder / f"set.{i:03d}"
        sub.mkdir(exist_ok=True)
        np.save(sub / "coord.npy", wrapped[start:start + set_size].reshape(-1, wrapped.shape[1] * 3))
        np.save(sub / "box.npy", system.cells[start:start + set_size].reshape(-1, 9))
    return folder
