"""Trajectories of one mobile species, unwrapped and corrected for framework drift.

A reader (:mod:`dpgen_llzo.analysis.readers`) yields :class:`Frame` objects one at a time;
:meth:`Trajectory.from_frames` consumes them as a stream and keeps only

* the unwrapped Cartesian positions of the analysed species (``n_frames × n_ions × 3``),
* the cell of every frame (NPT boxes change) and the framework centre-of-mass drift,

so the full file never sits in memory.

Unwrapping (per atom, frame k−1 → k, cell ``H_k`` with lattice vectors as rows):

* positions already unwrapped (LAMMPS ``xu``/``xsu``): ``u_k = u_{k-1} + (w_k − w_{k-1})``;
* image flags present: ``u_k = u_{k-1} + (w_k − w_{k-1}) + (n_k − n_{k-1}) H_k``;
* otherwise minimum image: ``Δ = w_k − w_{k-1}``, ``u_k = u_{k-1} + Δ − round(Δ H_k⁻¹) H_k``
  (needs every atom to move less than half a cell width between frames).

Working on increments with the current cell (rather than ``w + n H``) keeps NPT trajectories
free of the spurious displacements that cell fluctuations give far-unwrapped atoms
(von Bülow, Bullerjahn & Hummer, J. Chem. Phys. 153, 021101 (2020)).

Drift: every atom that is not of the analysed species is "framework". Its mass-weighted
centre of mass ``R(t)`` (from its own unwrapped positions) is followed and ``R(t) − R(0)`` is
subtracted from the mobile ions, so a drifting or sloshing framework does not show up as
diffusion. Units: Å, ps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError

# Standard atomic masses (g/mol) of the elements met in doped LLZO; others come from ASE.
_MASSES = {"Li": 6.94, "La": 138.905, "Zr": 91.224, "O": 15.999, "Al": 26.982, "Ga": 69.723,
           "Ta": 180.948, "Nb": 92.906, "H": 1.008, "C": 12.011, "F": 18.998}


def atomic_mass(symbol: str) -> float:
    """Atomic mass of ``symbol`` in g/mol (unknown symbols: UserInputError)."""
    if symbol in _MASSES:
        return _MASSES[symbol]
    try:
        from ase.data import atomic_masses, atomic_numbers

        return float(atomic_masses[atomic_numbers[symbol]])
    except (ImportError, KeyError):
        raise UserInputError(f"unknown element {symbol!r} (check --type-map)") from None


def cell_volume(cells: np.ndarray) -> np.ndarray:
    """Volume (Å³) of one cell ``(3, 3)`` or many ``(n, 3, 3)`` (rows = lattice vectors)."""
    return np.abs(np.linalg.det(cells))


def plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Perpendicular widths (Å) of a cell along each lattice vector: ``V / |a_j × a_k|``."""
    volume = cell_volume(cell)
    crosses = np.stack([np.cross(cell[1], cell[2]), np.cross(cell[2], cell[0]),
                        np.cross(cell[0], cell[1])])
    return volume / np.linalg.norm(crosses, axis=1)


@dataclass
class Frame:
    """One snapshot as a reader delivers it.

    Attributes
    ----------
    step
        MD step number, or ``None`` when the format has none (the frame index is used).
    cell
        ``(3, 3)`` lattice vectors as rows, Å.
    symbols
        ``(n_atoms,)`` element symbols, in a fixed atom order (sorted by atom id).
    positions
        ``(n_atoms, 3)`` Cartesian positions relative to the cell origin, Å.
    images
        ``(n_atoms, 3)`` integer image flags, or ``None``.
    unwrapped
        True when ``positions`` are already unwrapped (LAMMPS ``xu yu zu``).
    """

    step: int | None
    cell: np.ndarray
    symbols: np.ndarray
    positions: np.ndarray
    images: np.ndarray | None = None
    unwrapped: bool = False


@dataclass
class Trajectory:
    """Unwrapped, drift-corrected positions of one species.

    Attributes
    ----------
    positions
        ``(n_frames, n_ions, 3)`` Cartesian positions, Å, unwrapped, framework drift removed.
        Readers store each ion's x, y and z series contiguously in memory (a transposed view of
        an ``(n_ions, 3, n_frames)`` array): the per-ion FFTs then read their input without a
        transposition (~3× faster than frame-major). Any layout works.
    times_ps
        ``(n_frames,)`` times, ps, equally spaced.
    cells
        ``(n_frames, 3, 3)`` cells, Å.
    species
        Element of the analysed ions.
    n_atoms
        Atoms in the whole cell.
    framework_drift_A
        ``(n_frames, 3)`` displacement of the framework centre of mass that was removed, Å.
    source
        Where the data came from (for messages and reports).
    """

    positions: np.ndarray
    times_ps: np.ndarray
    cells: np.ndarray
    species: str
    n_atoms: int
    framework_drift_A: np.ndarray = field(default=None)  # type: ignore[assignment]
    source: str = ""

    def __post_init__(self) -> None:
        if self.framework_drift_A is None:
            self.framework_drift_A = np.zeros((len(self.times_ps), 3))
        if self.positions.ndim != 3 or self.positions.shape[2] != 3:
            raise UserInputError(f"{self.source or 'trajectory'}: positions must be (frames, ions, 3)")
        if len(self.times_ps) != len(self.positions) or len(self.cells) != len(self.positions):
            raise UserInputError(f"{self.source or 'trajectory'}: times/cells/positions lengths differ")

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_ions(self) -> int:
        return int(self.positions.shape[1])

    @property
    def dt_ps(self) -> float:
        """Time between frames, ps."""
        return float(self.times_ps[1] - self.times_ps[0]) if self.n_frames > 1 else float("nan")

    @property
    def duration_ps(self) -> float:
        return float(self.times_ps[-1] - self.times_ps[0])

    @property
    def volumes_A3(self) -> np.ndarray:
        return cell_volume(self.cells)

    @property
    def mean_volume_A3(self) -> float:
        return float(np.mean(self.volumes_A3))

    @classmethod
    def from_frames(
        cls,
        frames: Iterable[Frame],
        species: str,
        timestep_fs: float,
        *,
        dump_every: int = 1,
        remove_drift: bool = True,
        source: str = "",
        n_frames_hint: int | None = None,
    ) -> "Trajectory":
        """Build a trajectory from a stream of frames (see the module docstring).

        Parameters
        ----------
        frames
            Frames in time order (any reader's output).
        species
            Element to follow, e.g. ``"Li"``.
        timestep_fs
            MD integration time step, fs. Time of a frame = step × ``timestep_fs``.
        dump_every
            MD steps between frames, used only for frames without a step number.
        remove_drift
            Subtract the framework centre-of-mass displacement.
        n_frames_hint
            Expected number of frames, to allocate the position buffer once.
        """
        name = source or "trajectory"
        if timestep_fs <= 0:
            raise UserInputError(f"--timestep-fs must be positive, got {timestep_fs}")
        buffer: np.ndarray | None = None
        cells: list[np.ndarray] = []
        steps: list[int] = []
        drift: list[np.ndarray] = []
        n = 0
        for index, frame in enumerate(frames):
            step = frame.step if frame.step is not None else index * dump_every
            if n == 0:
                symbols = np.asarray(frame.symbols)
                mask = symbols == species
                if not mask.any():
                    present = ", ".join(sorted(set(symbols.tolist())))
                    raise UserInputError(f"{name}: species {species!r} not found (present: {present})")
                fw = ~mask
                masses = np.array([atomic_mass(s) for s in symbols[fw]]) if fw.any() else None
                unwrapped = np.array(frame.positions, dtype=float)
                previous = unwrapped.copy()
                previous_images = frame.images
                n_sel = int(mask.sum())
                capacity = max(int(n_frames_hint or 0), 16)
                buffer = np.empty((n_sel, 3, capacity))  # ion- then coordinate-major: each series contiguous
                com0 = _com(unwrapped[fw], masses) if masses is not None else np.zeros(3)
            else:
                if len(frame.positions) != len(symbols):
                    raise UserInputError(
                        f"{name}: frame {index} has {len(frame.positions)} atoms, frame 0 has {len(symbols)}")
                _check_step(name, index, step, steps)
                current = np.asarray(frame.positions, dtype=float)
                delta = current - previous
                if frame.unwrapped:
                    pass
                elif frame.images is not None and previous_images is not None:
                    delta += (frame.images - previous_images) @ frame.cell
                else:
                    frac = delta @ np.linalg.inv(frame.cell)
                    delta -= np.round(frac) @ frame.cell
                unwrapped += delta
                previous = current
                previous_images = frame.images
            shift = (_com(unwrapped[fw], masses) - com0) if (remove_drift and masses is not None) else np.zeros(3)
            if n == buffer.shape[2]:
                buffer = np.concatenate([buffer, np.empty_like(buffer[:, :, : max(n // 2, 16)])], axis=2)
            buffer[:, :, n] = unwrapped[mask] - shift
            cells.append(np.array(frame.cell, dtype=float))
            steps.append(int(step))
            drift.append(shift)
            n += 1
        if n == 0:
            raise UserInputError(f"{name}: no frames found")
        if n < 2:
            raise UserInputError(f"{name}: only one frame; a trajectory needs at least 2 frames")
        times = np.asarray(steps, dtype=float) * timestep_fs * 1e-3
        times -= times[0]
        positions = buffer[:, :, :n].transpose(2, 0, 1)  # (frames, ions, 3) view of (ions, 3, frames) memory
        return cls(positions, times, np.asarray(cells), species, len(symbols), np.asarray(drift), source)

    @classmethod
    def from_ase(cls, images: Sequence, species: str, timestep_fs: float, dump_every: int = 1,
                 remove_drift: bool = True) -> "Trajectory":
        """Build from a sequence of ASE ``Atoms`` (one per frame, ``dump_every`` MD steps apart)."""
        return cls.from_frames(_frames_from_ase(images), species, timestep_fs, dump_every=dump_every,
                               remove_drift=remove_drift, source="ase", n_frames_hint=len(images))

    @classmethod
    def from_structures(cls, structures: Sequence, species: str, timestep_fs: float,
                        dump_every: int = 1, remove_drift: bool = True) -> "Trajectory":
        """Build from a sequence of pymatgen ``Structure`` objects (one per frame)."""
        frames = (Frame(None, s.lattice.matrix, np.array([site.specie.symbol for site in s]), s.cart_coords)
                  for s in structures)
        return cls.from_frames(frames, species, timestep_fs, dump_every=dump_every,
                               remove_drift=remove_drift, source="pymatgen", n_frames_hint=len(structures))

    def split_blocks(self, n_blocks: int) -> list["Trajectory"]:
        """Cut into ``n_blocks`` consecutive, equally long blocks (the tail that does not fit is dropped)."""
        length = self.n_frames // n_blocks
        if length < 2:
            raise UserInputError(f"{self.source}: {self.n_frames} frames cannot make {n_blocks} blocks")
        out = []
        for b in range(n_blocks):
            sl = slice(b * length, (b + 1) * length)
            out.append(Trajectory(self.positions[sl], self.times_ps[sl] - self.times_ps[sl][0],
                                  self.cells[sl], self.species, self.n_atoms,
                                  self.framework_drift_A[sl], f"{self.source}[block {b}]"))
        return out


def _com(positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    return masses @ positions / masses.sum()


def _check_step(name: str, index: int, step: int, steps: list[int]) -> None:
    """Steps must increase strictly and evenly (the FFT MSD assumes equal spacing)."""
    last = steps[-1]
    if step <= last:
        raise UserInputError(
            f"{name}: non-monotonic timesteps: frame {index} has step {step} after step {last}"
            " (restart overlap? remove the repeated frames)")
    if len(steps) >= 2 and step - last != steps[1] - steps[0]:
        raise UserInputError(
            f"{name}: uneven frame spacing: frame {index} is {step - last} steps after the previous"
            f" one, expected {steps[1] - steps[0]}")


def _frames_from_ase(images: Iterable) -> Iterator[Frame]:
    for atoms in images:
        step = atoms.info.get("step", atoms.info.get("timestep"))
        yield Frame(int(step) if step is not None else None, np.array(atoms.cell[:]),
                    np.array(atoms.get_chemical_symbols()), atoms.positions)
