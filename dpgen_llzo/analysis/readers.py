"""Trajectory readers: each format is a small registered class that streams :class:`Frame` s.

Formats (``dpgen-llzo analyze list`` prints them):

``lammps-dump``
    ``dump ... custom ... id type x y z [ix iy iz]`` (also ``xu yu zu``, ``xs ys zs``,
    ``xsu ysu zsu``, an ``element`` column), orthogonal or triclinic boxes, any number of
    frames, read one frame at a time. Atoms are sorted by id; positions are made relative to
    the box origin. Numeric types need ``type_map`` (type 1 → first element).
``extxyz``
    Extended XYZ (ASE ``iread``); a ``step``/``timestep`` key in the comment line is used if
    present.
``vasp-xdatcar``
    VASP XDATCAR, fixed or variable cell; the number after ``configuration=`` is taken as
    the MD step (VASP writes the ionic step number).
``deepmd-npy``
    A deepmd/npy system folder (``type.raw``, ``type_map.raw``, ``set.*/coord.npy``,
    ``set.*/box.npy``); frames have no step number.
"""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from dpgen_llzo.analysis._registries import READERS
from dpgen_llzo.analysis.trajectory import Frame, Trajectory
from dpgen_llzo.errors import UserInputError

_POSITION_COLUMNS = (  # (columns, scaled, unwrapped) in order of preference
    (("xu", "yu", "zu"), False, True),
    (("x", "y", "z"), False, False),
    (("xsu", "ysu", "zsu"), True, True),
    (("xs", "ys", "zs"), True, False),
)


def _type_symbols(types: np.ndarray, type_map: Sequence[str] | None, path: Path) -> np.ndarray:
    if not type_map:
        raise UserInputError(f"{path}: atom types are numbers; pass --type-map (e.g. Li,La,Zr,O)")
    top = int(types.max())
    if top > len(type_map) or int(types.min()) < 1:
        raise UserInputError(f"{path}: atom type {top} has no element in --type-map {','.join(type_map)}")
    return np.asarray(type_map, dtype=object)[types.astype(int) - 1].astype(str)


@READERS.register("lammps-dump", summary="LAMMPS custom dump (id type x y z [ix iy iz]), streamed",
                  aliases=("lammpstrj", "lammps/dump"))
class LammpsDumpReader:
    """Stream frames of a LAMMPS custom dump file."""

    suffixes = (".lammpstrj", ".dump")

    @staticmethod
    def sniff(path: Path) -> bool:
        return path.is_file() and _first_line(path).startswith("ITEM: TIMESTEP")

    @staticmethod
    def n_frames_hint(path: Path) -> int | None:
        """Estimate the frame count from the size of the first frame."""
        with open(path, "rb") as handle:
            handle.readline()
            handle.readline()
            handle.readline()
            n_atoms = int(handle.readline())
            for _ in range(5 + n_atoms):
                handle.readline()
            first = handle.tell()
        return int(os.path.getsize(path) / max(first, 1) * 1.02) + 2

    def frames(self, path: Path, type_map: Sequence[str] | None = None) -> Iterator[Frame]:
        symbols = None
        with open(path) as handle:
            line_no = 0
            while True:
                line = handle.readline()
                line_no += 1
                if not line:
                    return
                if not line.strip():
                    continue
                if not line.startswith("ITEM: TIMESTEP"):
                    raise UserInputError(f"{path}:{line_no}: expected 'ITEM: TIMESTEP', got {line.strip()[:40]!r}")
                try:
                    step = int(handle.readline().split()[0])
                    handle.readline()  # ITEM: NUMBER OF ATOMS
                    n_atoms = int(handle.readline())
                    box_header = handle.readline()
                    bounds = np.array([handle.readline().split() for _ in range(3)], dtype=float)
                    atoms_header = handle.readline().split()
                except (ValueError, IndexError):
                    raise UserInputError(f"{path}: malformed frame header near line {line_no}") from None
                line_no += 8
                if not box_header.startswith("ITEM: BOX BOUNDS") or atoms_header[:2] != ["ITEM:", "ATOMS"]:
                    raise UserInputError(f"{path}:{line_no}: malformed frame header (BOX BOUNDS/ATOMS)")
                if "abc" in box_header.split():
                    raise UserInputError(f"{path}: general triclinic boxes ('abc origin') are not supported")
                origin, cell = _lammps_cell(bounds, "xy" in box_header.split())
                columns = atoms_header[2:]
                lines = list(islice(handle, n_atoms))
                line_no += n_atoms
                if len(lines) != n_atoms:
                    raise UserInputError(f"{path}: file ends inside the frame of step {step}")
                frame, symbols = self._parse_atoms(path, columns, lines, cell, origin, step, type_map, symbols)
                yield frame

    @staticmethod
    def _parse_atoms(path, columns, lines, cell, origin, step, type_map, symbols):
        if "id" not in columns:
            raise UserInputError(f"{path}: dump has no 'id' column")
        for names, scaled, unwrapped in _POSITION_COLUMNS:
            if all(c in columns for c in names):
                break
        else:
            raise UserInputError(f"{path}: dump has no position columns (x y z, xu yu zu, xs ys zs or xsu ysu zsu)")
        has_element = "element" in columns
        if has_element:
            numeric = [i for i, c in enumerate(columns) if c != "element"]
            data = np.loadtxt(lines, usecols=numeric, ndmin=2)
            remap = {c: numeric.index(i) for i, c in enumerate(columns) if c != "element"}
        else:
            try:
                data = np.fromstring("".join(lines), sep=" ")  # text mode: fast C parser
            except ValueError:
                data = np.empty(0)
            if data.size != len(lines) * len(columns):
                raise UserInputError(f"{path}: unreadable atom lines in the frame of step {step}")
            data = data.reshape(len(lines), len(columns))
            remap = {c: i for i, c in enumerate(columns)}
        ids = data[:, remap["id"]]
        order = np.argsort(ids, kind="stable") if np.any(np.diff(ids) < 0) else slice(None)
        data = data[order]
        if symbols is None:
            if has_element:
                tokens = np.array([line.split()[columns.index("element")] for line in lines])
                symbols = tokens[order]
            elif "type" in columns:
                symbols = _type_symbols(data[:, remap["type"]], type_map, path)
            else:
                raise UserInputError(f"{path}: dump has neither 'type' nor 'element' column")
        xyz = data[:, [remap[c] for c in names]]
        positions = xyz @ cell if scaled else xyz - origin
        images = None
        if not unwrapped and all(c in remap for c in ("ix", "iy", "iz")):
            images = data[:, [remap["ix"], remap["iy"], remap["iz"]]].astype(np.int64)
        return Frame(step, cell, symbols, positions, images, unwrapped), symbols


def _lammps_cell(bounds: np.ndarray, triclinic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Origin and lattice vectors (rows) from LAMMPS BOX BOUNDS lines."""
    if triclinic:
        if bounds.shape[1] < 3:
            raise UserInputError("triclinic BOX BOUNDS lines need three numbers (lo hi tilt)")
        xy, xz, yz = bounds[0, 2], bounds[1, 2], bounds[2, 2]
        xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = bounds[1, 0] - min(0.0, yz)
        yhi = bounds[1, 1] - max(0.0, yz)
        zlo, zhi = bounds[2, 0], bounds[2, 1]
    else:
        xy = xz = yz = 0.0
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = bounds[:, :2]
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return np.array([xlo, ylo, zlo]), cell


@READERS.register("extxyz", summary="extended XYZ (ASE), streamed", aliases=("xyz",))
class ExtxyzReader:
    """Stream frames of an extended-XYZ file through ASE."""

    suffixes = (".extxyz", ".xyz")

    @staticmethod
    def sniff(path: Path) -> bool:
        if not path.is_file():
            return False
        with open(path) as handle:
            head = [handle.readline() for _ in range(2)]
        return head[0].strip().isdigit() and "Lattice=" in head[1]

    @staticmethod
    def n_frames_hint(path: Path) -> int | None:
        return None

    def frames(self, path: Path, type_map: Sequence[str] | None = None) -> Iterator[Frame]:
        from ase.io import iread

        from dpgen_llzo.analysis.trajectory import _frames_from_ase

        try:
            yield from _frames_from_ase(iread(str(path), index=":", format="extxyz"))
        except (ValueError, IndexError, KeyError) as exc:
            raise UserInputError(f"{path}: unreadable extxyz ({exc})") from None


@READERS.register("vasp-xdatcar", summary="VASP XDATCAR (fixed or variable cell), streamed",
                  aliases=("xdatcar", "vasp/xdatcar"))
class XdatcarReader:
    """Stream frames of a VASP XDATCAR."""

    suffixes = ()

    @staticmethod
    def sniff(path: Path) -> bool:
        return path.is_file() and "XDATCAR" in path.name.upper()

    @staticmethod
    def n_frames_hint(path: Path) -> int | None:
        return None

    def frames(self, path: Path, type_map: Sequence[str] | None = None) -> Iterator[Frame]:
        with open(path) as handle:
            cell = symbols = None
            while True:
                line = handle.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                if "configuration" not in line.lower():  # a (repeated) header: title line
                    try:
                        scale = float(handle.readline().split()[0])
                        cell = np.array([handle.readline().split()[:3] for _ in range(3)], dtype=float)
                        names = handle.readline().split()
                        counts = [int(c) for c in handle.readline().split()]
                    except (ValueError, IndexError):
                        raise UserInputError(f"{path}: malformed XDATCAR header") from None
                    cell = cell * scale if scale > 0 else cell * (-scale / abs(np.linalg.det(cell))) ** (1 / 3)
                    if len(names) != len(counts):
                        raise UserInputError(f"{path}: XDATCAR element names and counts differ")
                    symbols = np.repeat(np.array(names), counts)
                    continue
                if cell is None:
                    raise UserInputError(f"{path}: XDATCAR configuration before any header")
                tokens = line.replace("=", " ").split()
                step = int(tokens[-1]) if tokens[-1].lstrip("-").isdigit() else None
                rows = list(islice(handle, len(symbols)))
                try:
                    frac = np.array([r.split()[:3] for r in rows], dtype=float)
                except ValueError:
                    raise UserInputError(f"{path}: unreadable coordinates in configuration {step}") from None
                if len(frac) != len(symbols):
                    raise UserInputError(f"{path}: file ends inside configuration {step}")
                yield Frame(step, cell.copy(), symbols, frac @ cell)


@READERS.register("deepmd-npy", summary="deepmd/npy system folder (set.*/coord.npy, box.npy)",
                  aliases=("deepmd/npy", "npy"))
class DeepmdNpyReader:
    """Stream frames of a deepmd/npy system folder (memory-mapped)."""

    suffixes = ()

    @staticmethod
    def sniff(path: Path) -> bool:
        return path.is_dir() and (path / "type.raw").is_file()

    @staticmethod
    def n_frames_hint(path: Path) -> int | None:
        return sum(np.load(s / "box.npy", mmap_mode="r").shape[0] for s in sorted(path.glob("set.*")))

    def frames(self, path: Path, type_map: Sequence[str] | None = None) -> Iterator[Frame]:
        types = np.loadtxt(path / "type.raw", dtype=int, ndmin=1)
        names = (path / "type_map.raw").read_text().split() if (path / "type_map.raw").is_file() else None
        names = names or (list(type_map) if type_map else None)
        symbols = _type_symbols(types + 1, names, path)
        sets = sorted(path.glob("set.*"))
        if not sets:
            raise UserInputError(f"{path}: no set.* folders")
        for folder in sets:
            coords = np.load(folder / "coord.npy", mmap_mode="r")
            boxes = np.load(folder / "box.npy", mmap_mode="r")
            for coord, box in zip(coords, boxes):
                yield Frame(None, np.array(box, dtype=float).reshape(3, 3), symbols,
                            np.array(coord, dtype=float).reshape(-1, 3))


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format name of ``path`` from its name or first line."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder")
    for entry in READERS.entries():
        if entry.obj.sniff(path):
            return entry.name
    for entry in READERS.entries():
        if path.suffix.lower() in entry.obj.suffixes:
            return entry.name
    raise UserInputError(f"{path}: cannot tell the trajectory format; pass --format ({', '.join(READERS.names())})")


def iter_frames(path: str | os.PathLike, fmt: str | None = None,
                type_map: Sequence[str] | None = None) -> Iterator[Frame]:
    """Frames of ``path`` one at a time (format guessed when ``fmt`` is None)."""
    path = Path(path)
    name = fmt or detect_format(path)
    reader = READERS.get(name)
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder")
    return reader().frames(path, type_map)


def load_trajectory(path: str | os.PathLike, species: str, timestep_fs: float, *, fmt: str | None = None,
                    type_map: Sequence[str] | None = None, dump_every: int = 1,
                    remove_drift: bool = True) -> Trajectory:
    """Read ``path`` into a :class:`Trajectory` of ``species`` (streamed, unwrapped, drift removed).

    Parameters
    ----------
    timestep_fs
        MD time step, fs; frame times are step × timestep (formats without step numbers:
        frame index × ``dump_every`` × timestep).
    """
    path = Path(path)
    name = fmt or detect_format(path)
    reader = READERS.get(name)
    if not path.exists():
        raise UserInputError(f"{path}: no such file or folder")
    try:
        hint = reader.n_frames_hint(path)
    except (OSError, ValueError):
        hint = None
    return Trajectory.from_frames(reader().frames(path, type_map), species, timestep_fs,
                                  dump_every=dump_every, remove_drift=remove_drift,
                                  source=str(path), n_frames_hint=hint)


def _first_line(path: Path) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.readline()
    except OSError:
        return ""
