"""Explorations that lost atoms or blew up: detect them and keep their frames out of make_fp.

DP-GEN's make_fp (step 6) picks candidate frames from each exploration task's
``model_devi.out`` (``trust_lo <= max_devi_f < trust_hi``) and labels the matching
``traj/<step>.lammpstrj``. A LAMMPS run that lost atoms or blew up still writes frames, and
some of them land in the candidate window: a teacher or DFT then labels unphysical cells.
:func:`screen_exploration` runs after post_model_devi (step 5), before make_fp, and for each
task of ``iter.N/01.model_devi`` finds the **first bad step** and its reason:

``lost_atoms``
    A dump frame holds fewer atoms than the data file ``conf.lmp`` (or the first frame), or
    the log says ``Lost atoms`` (LAMMPS with ``thermo_modify lost warn``; the step is the
    thermo step printed after the warning).
``non_finite_deviation``
    A ``model_devi.out`` row with ``nan``/``inf``. DeePMD writes ``-nan`` averages once
    every atom is lost (max 0: stock make_fp then counts the empty frame as accurate, or
    as a candidate when ``trust_lo`` is 0); a ``nan`` maximum makes stock make_fp raise.
``deviation_blowup``
    ``max_devi_f >= blowup_factor x model_devi_f_trust_hi`` (default 10x: 8 eV/Å for the
    demo's 0.8, 3 eV/Å for the VASP bundle's 0.3). Such a frame is already "failed" for
    DP-GEN; what matters is that the trajectory after it was driven by models that disagree
    by several eV/Å, so its later frames are not trusted either.
``short_distance``
    Two atoms closer than ``min_distance_A`` (default 0.5 Å; the shortest LLZO distances
    are ~1.6 Å Li-Li, ~1.9 Å Li-O). Periodic images and triclinic boxes are handled (a
    ``cKDTree`` over the neighbouring images of the dump's cell, as dpdata converts the
    LAMMPS box; the ``pp``/``ff`` flags of the box give the periodicity). Checked only on
    candidate frames (the only ones make_fp reads) before any other fault.
``non_finite_thermo`` / ``temperature_blowup``
    A thermo row of ``log.lammps`` (or ``model_devi.log``, LAMMPS' screen output that
    dpdispatcher brings back from remote machines) with ``nan``/``inf``, or ``Temp`` above
    ``temperature_factor`` (default 5) times the task's target (``variable TEMP equal ...``
    of ``input.lammps``).
``lammps_error``
    The log has an ``ERROR`` line (a run that a machine-file wrapper let "succeed"); the
    first bad step is the one after the last thermo step printed before it.

For each faulty task every row of ``model_devi.out`` from the first bad step on gets
:data:`EXCLUDED_DEVIATION` (1e30) in all its deviation columns, so that DP-GEN counts the
frame as *failed* (standard and adaptive ``trust_lo`` rules alike) and never labels it; rows
keep the column count of the first row (``atomic`` files whose atom count changed would
otherwise not load). The original is kept as ``model_devi.out.orig`` (DP-GEN globs
``model_devi*.out`` and does not see it) and the rewritten file starts with a
:data:`MARKER` comment line. Screening always reads the original, so a second call (a
resumed run) changes nothing; a ``model_devi.out`` without the marker is a fresh LAMMPS
output and replaces a stale ``.orig``. ``iter.N/01.model_devi/exploration_faults.json``
holds the result (per faulty task: reason, first bad step, frames and candidate frames
excluded; totals).

Inputs are streamed: ``model_devi.out`` is parsed line by line keeping per row only the step,
the six deviation columns, whether every column (per-atom ``atomic`` ones included) is finite
and the column count; it is read again only for a faulty task (copied to ``.orig``, then
rewritten line by line into a temporary file). Dump frames are read only where needed (the
candidate frames, in step order), one at a time, also from a merged ``all.lammpstrj``.

Not handled: path-integral runs (``model_devi01.out`` ...) and tasks with no
``model_devi.out``. Runs that stop on ``ERROR: Lost atoms`` (LAMMPS' default) make
dpdispatcher fail the exploration step before this runs: the LAMMPS inputs need
``thermo_modify lost warn``. Measured here (DeePMD-kit 3.2.0, LAMMPS 22Jul2025): with it a
``pair_style deepmd`` run that loses atoms goes on and exits 0, but with the ``atomic``
keyword DeePMD aborts after the loss (``free(): invalid next size``, exit 250).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.atomic_io import replace_with, write_json_atomic
from dpgen_llzo.coverage.sources import dump_headers, task_dump_frames
from dpgen_llzo.errors import UserInputError
from dpgen_llzo.loop.exploration import trust_levels

__all__ = [
    "EXCLUDED_DEVIATION",
    "EXPLORATION_FAULTS",
    "MARKER",
    "Fault",
    "Thresholds",
    "atom_count_fault",
    "deviation_faults",
    "exclude_rows",
    "first_fault",
    "log_faults",
    "read_exploration_faults",
    "screen_exploration",
    "read_dump_frame",
    "screen_task",
    "short_contact",
    "summary_line",
]

EXPLORATION_FAULTS = "exploration_faults.json"
ORIGINAL = "model_devi.out.orig"
MARKER = "# dpgen-llzo exploration_faults:"
#: Deviation written into excluded rows: DP-GEN's standard and adaptive rules call it failed.
EXCLUDED_DEVIATION = 1.0e30
REASONS = {
    "lost_atoms": "lost atoms",
    "non_finite_deviation": "non-finite deviation",
    "deviation_blowup": "deviation blow-up",
    "short_distance": "atoms too close",
    "non_finite_thermo": "non-finite thermo",
    "temperature_blowup": "temperature blow-up",
    "lammps_error": "LAMMPS error",
}
_TASK = re.compile(r"task\.(\d+)\.\d+$")
_ERROR = re.compile(r"^ERROR( on proc \d+)?:")
_TEMP_VARIABLE = re.compile(r"^\s*variable\s+TEMP\w*\s+equal\s+([-+0-9.eE]+)\s*(#.*)?$")
_ATOMS_LINE = re.compile(r"^\s*(\d+)\s+atoms\s*(#.*)?$")


@dataclass(frozen=True)
class Thresholds:
    """Detection levels (see the module docstring).

    Attributes
    ----------
    blowup_factor
        ``max_devi_f >= blowup_factor * model_devi_f_trust_hi`` is a blow-up.
    min_distance_A
        Two atoms closer than this (Å) in a candidate frame: blow-up.
    temperature_factor
        ``Temp`` above this times the target temperature: blow-up.
    """

    blowup_factor: float = 10.0
    min_distance_A: float = 0.5
    temperature_factor: float = 5.0


@dataclass(frozen=True)
class Fault:
    """One fault of an exploration task: its kind (a key of ``REASONS``), first bad MD step, details."""

    reason: str
    step: int
    detail: str


@dataclass(frozen=True, slots=True)
class _Row:
    """What screening keeps of one ``model_devi.out`` row (not its text nor its per-atom columns).

    Attributes
    ----------
    step
        MD step (first column).
    devi
        The first six columns after the step (``max/min/avg_devi_v``, ``max/min/avg_devi_f``;
        fewer on a short row).
    finite
        Every column after the step is finite (per-atom ``atomic`` columns included).
    width
        Number of columns after the step.
    """

    step: int
    devi: tuple[float, ...]
    finite: bool
    width: int


# --- pure detection -------------------------------------------------------------------------


def first_fault(faults: Iterable[Fault | None]) -> Fault | None:
    """The fault with the smallest step (the first of equal steps), or ``None``."""
    found = [f for f in faults if f is not None]
    return min(found, key=lambda f: f.step) if found else None


def text_lines(lines: str | Iterable[str]) -> Iterator[str]:
    """The lines of a text as ``str.splitlines`` cuts them, one at a time.

    Parameters
    ----------
    lines
        A whole text, or the lines of a text file as iterating an open file gives them
        (newlines kept; a file is then never held whole).

    Yields
    ------
    str
        Each line without its line break (empty for a blank line).
    """
    if isinstance(lines, str):
        yield from lines.splitlines()
        return
    for raw in lines:
        yield from raw.splitlines() or [raw]


def parse_row(stripped: str) -> _Row:
    """The :class:`_Row` of one ``model_devi.out`` data row (its stripped text).

    Raises
    ------
    ValueError, OverflowError
        A column that is not a number, or a step that is not finite.
    """
    values = [float(x) for x in stripped.split()]
    step = int(values[0])
    return _Row(step, tuple(values[1:7]), all(map(math.isfinite, values[1:])), len(values) - 1)


def parse_model_devi(lines: str | Iterable[str], source: str | os.PathLike = "model_devi.out") -> tuple[list[str], list[_Row]]:
    """Comment lines and data rows of a ``model_devi.out`` (rows may differ in length), streamed.

    Parameters
    ----------
    lines
        The file's text, or better an open file (read line by line: only one row's text
        and per-atom values are in memory at a time).
    source
        Name for error messages.

    Returns
    -------
    comments : list of str
        The ``#`` lines, in file order.
    rows : list of _Row
        Step, first six deviations, all-finite flag and width of each data row.

    Raises
    ------
    UserInputError
        A row that is not numbers (``nan``/``inf`` are numbers here).
    """
    comments, rows = [], []
    for number, line in enumerate(text_lines(lines), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(line)
            continue
        try:
            rows.append(parse_row(stripped))
        except (ValueError, OverflowError):
            raise UserInputError(f"{source}: line {number}: not a row of numbers: {stripped[:60]!r}") from None
    return comments, rows


def deviation_faults(rows: Sequence[_Row], f_trust_hi: float, blowup_factor: float) -> Fault | None:
    """First row with a non-finite value or ``max_devi_f >= blowup_factor * f_trust_hi``."""
    level = blowup_factor * f_trust_hi
    for row in rows:
        if not row.finite:
            return Fault("non_finite_deviation", row.step, f"non-finite value in model_devi.out at step {row.step}")
        if row.width > 3 and row.devi[3] >= level:
            return Fault(
                "deviation_blowup",
                row.step,
                f"max_devi_f {row.devi[3]:.3g} eV/A >= {blowup_factor:g} x trust_hi {f_trust_hi:g} at step {row.step}",
            )
    return None


def atom_count_fault(counts: Sequence[tuple[int, int]], reference: int) -> Fault | None:
    """First ``(step, atoms)`` dump frame with fewer than ``reference`` atoms."""
    for step, natoms in sorted(counts):
        if natoms < reference:
            return Fault("lost_atoms", step, f"dump frame at step {step} has {natoms} of {reference} atoms")
    return None


def target_temperature(input_text: str) -> float | None:
    """Largest ``variable TEMP* equal <number>`` of a LAMMPS input (DP-GEN's and our templates)."""
    values = [float(m.group(1)) for m in map(_TEMP_VARIABLE.match, input_text.splitlines()) if m]
    return max(values) if values else None


def data_file_atom_count(text: str) -> int | None:
    """``N atoms`` of a LAMMPS data file header, or ``None``."""
    for line in text.splitlines()[:40]:
        match = _ATOMS_LINE.match(line)
        if match:
            return int(match.group(1))
    return None


def _thermo_row(tokens: list[str], header: list[str]) -> dict[str, float] | None:
    if len(tokens) != len(header):
        return None
    try:
        values = [float(x) for x in tokens]
        int(tokens[0])
    except ValueError:
        return None
    return dict(zip(header, values))


def log_faults(text: str, temperature: float | None = None, temperature_factor: float = 5.0) -> list[Fault]:
    """Faults a LAMMPS log shows: lost atoms, non-finite or too-hot thermo rows, ``ERROR`` lines.

    The step of a ``Lost atoms`` warning is the next thermo step (LAMMPS checks when it
    prints thermo output); of an ``ERROR``, the step after the last thermo row (0 if none).
    At most one fault of each kind (the first).
    """
    faults: dict[str, Fault] = {}
    header: list[str] | None = None
    last_step: int | None = None
    lost_pending: str | None = None
    for line in text.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "Step":
            header = tokens
            continue
        if line.startswith("Loop time"):
            header = None
            continue
        if line.startswith("WARNING: Lost atoms") and "lost_atoms" not in faults:
            lost_pending = line.strip()
            continue
        if _ERROR.match(line):
            step = 0 if last_step is None else last_step + 1
            kind = "lost_atoms" if "Lost atoms" in line else "lammps_error"
            faults.setdefault(kind, Fault(kind, step, f"log: {line.strip()[:120]}"))
            continue
        row = _thermo_row(tokens, header) if header else None
        if row is None:
            continue
        step = int(tokens[0])
        last_step = step
        if lost_pending:
            faults.setdefault("lost_atoms", Fault("lost_atoms", step, f"log: {lost_pending[:120]} (thermo step {step})"))
            lost_pending = None
        if not all(np.isfinite(v) for v in row.values()):
            faults.setdefault("non_finite_thermo", Fault("non_finite_thermo", step, f"log: non-finite thermo output at step {step}"))
        temp = row.get("Temp")
        if temperature and temp is not None and temp > temperature_factor * temperature:
            faults.setdefault(
                "temperature_blowup",
                Fault(
                    "temperature_blowup",
                    step,
                    f"log: Temp {temp:.4g} K > {temperature_factor:g} x target {temperature:g} K at step {step}",
                ),
            )
    if lost_pending:
        step = 0 if last_step is None else last_step + 1
        faults.setdefault("lost_atoms", Fault("lost_atoms", step, f"log: {lost_pending[:120]}"))
    return list(faults.values())


def short_contact(cell: np.ndarray, coords: np.ndarray, pbc: Sequence[bool], floor: float) -> float | None:
    """Smallest interatomic distance below ``floor`` (Å), periodic images included, or ``None``.

    ``cell`` rows are the lattice vectors (any triclinic cell); ``pbc`` per direction. Atoms
    are wrapped into the cell and compared with the 27 (or fewer) neighbouring images in a
    ``cKDTree``: exact while ``floor`` is below half of every periodic face distance (for a
    smaller cell, ase's neighbour list is used).
    """
    from scipy.spatial import cKDTree

    coords, cell, periodic = np.asarray(coords, float), np.asarray(cell, float), np.asarray(pbc, bool)
    if len(coords) < 2:
        return None
    if periodic.any():
        volume = abs(np.linalg.det(cell))
        faces = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        if np.any(faces[periodic] <= 2 * floor):
            return _short_contact_ase(cell, coords, periodic, floor)
        frac = coords @ np.linalg.inv(cell)
        frac[:, periodic] %= 1.0
        coords = frac @ cell
    ranges = [(-1, 0, 1) if p else (0,) for p in periodic]
    shifts = np.array(np.meshgrid(*ranges, indexing="ij")).reshape(3, -1).T @ cell
    images = (coords[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    distances, _ = cKDTree(images).query(coords, k=2, distance_upper_bound=floor)
    second = distances[:, 1]  # the first is the atom itself
    second = second[np.isfinite(second)]
    return float(second.min()) if len(second) else None


def _short_contact_ase(cell: np.ndarray, coords: np.ndarray, pbc: np.ndarray, floor: float) -> float | None:
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(numbers=np.ones(len(coords), int), positions=coords, cell=cell, pbc=list(pbc))
    distances = neighbor_list("d", atoms, float(floor), self_interaction=False)
    return float(distances.min()) if len(distances) else None


def read_dump_frame(lines: Sequence[str], source: str | os.PathLike = "dump") -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Cell, Cartesian coordinates and periodicity of one LAMMPS dump frame (its lines).

    The box (orthogonal or triclinic bounds) is converted by dpdata's ``dumpbox2box``;
    coordinates from ``x y z``, ``xu yu zu``, or scaled ``xs ys zs`` / ``xsu ysu zsu``;
    periodicity from the ``pp`` flags of ``ITEM: BOX BOUNDS``.

    Raises
    ------
    UserInputError
        No box, atom count or coordinate columns.
    """
    from dpdata.formats.lammps.dump import dumpbox2box

    try:
        box = next(i for i, line in enumerate(lines) if line.startswith("ITEM: BOX BOUNDS"))
        head = next(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS"))
        count = next(i for i, line in enumerate(lines) if line.startswith("ITEM: NUMBER OF ATOMS"))
        natoms = int(lines[count + 1].split()[0])
        words = lines[box].split()[3:]
        triclinic = words[:3] == ["xy", "xz", "yz"]
        flags = words[3:] if triclinic else words
        rows = np.array([[float(x) for x in line.split()[:3 if triclinic else 2]] for line in lines[box + 1 : box + 4]])
        tilt = rows[:, 2] if triclinic else np.zeros(3)
        orig, cell = dumpbox2box(rows[:, :2], tilt)
        keys = lines[head].split()[2:]
        table = np.array([line.split() for line in lines[head + 1 : head + 1 + natoms]], dtype=float).reshape(natoms, len(keys))
    except (StopIteration, IndexError, ValueError) as exc:
        raise UserInputError(f"{source}: not a LAMMPS dump frame ({exc})") from None
    for names, scaled in ((("x", "y", "z"), False), (("xu", "yu", "zu"), False), (("xs", "ys", "zs"), True), (("xsu", "ysu", "zsu"), True)):
        if all(n in keys for n in names):
            xyz = table[:, [keys.index(n) for n in names]]
            coords = xyz @ np.asarray(cell) if scaled else xyz - np.asarray(orig)
            pbc = [f == "pp" for f in flags] if len(flags) == 3 else [True, True, True]
            return np.asarray(cell, float), coords, pbc
    raise UserInputError(f"{source}: ITEM: ATOMS has no x y z, xu yu zu or xs ys zs columns")


def candidate_mask(rows: Sequence[_Row], levels: Mapping[str, float], skip: int, adaptive: bool = False) -> np.ndarray:
    """Rows make_fp could pick: step >= skip and a deviation in ``[lo, hi)`` (below ``hi`` when ``adaptive``)."""
    f = np.array([r.devi[3] if r.width > 3 else np.nan for r in rows])
    v = np.array([r.devi[0] if r.width else np.nan for r in rows])
    steps = np.array([r.step for r in rows])
    with np.errstate(invalid="ignore"):
        if adaptive:
            window = (f < levels["f_hi"]) & (v < levels["v_hi"])
        else:
            window = ((f >= levels["f_lo"]) & (f < levels["f_hi"])) | ((v >= levels["v_lo"]) & (v < levels["v_hi"]))
    return window & (steps >= skip)


def exclude_rows(lines: str | Iterable[str], comments: Sequence[str], fault: Fault, width: int) -> Iterator[str]:
    """Lines of ``model_devi.out`` with every row from ``fault.step`` on set to :data:`EXCLUDED_DEVIATION`.

    Parameters
    ----------
    lines
        The original ``model_devi.out`` (its text or, streamed, its open file).
    comments
        Its ``#`` lines (:func:`parse_model_devi`): the first, then the :data:`MARKER` note,
        then the others head the result.
    fault
        The task's first fault.
    width
        Deviation columns of an excluded row (the first row's, so that the table stays square).

    Yields
    ------
    str
        The rewritten file's lines, without line breaks; earlier rows verbatim, blank lines dropped.
    """
    yield from comments[:1]
    yield (
        f"{MARKER} {fault.reason} from step {fault.step}; deviations of the rows from that step on set to "
        f"{EXCLUDED_DEVIATION:g} (failed, never labelled); original in {ORIGINAL}"
    )
    yield from comments[1:]
    excluded = "".join(f" {EXCLUDED_DEVIATION:21.6e}" for _ in range(width))
    for line in text_lines(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        step = int(float(stripped.split(None, 1)[0]))
        yield line if step < fault.step else f"{step:12d}" + excluded


def _unique_steps(rows: Sequence[_Row]) -> list[int]:
    return sorted({r.step for r in rows})


# --- one task ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskScreen:
    """What screening found in one task (``fault`` None: healthy)."""

    task: str
    fault: Fault | None
    faults: tuple[Fault, ...]
    frames: int
    frames_excluded: int
    candidates_excluded: int

    def as_dict(self) -> dict[str, Any]:
        assert self.fault is not None
        return {
            "reason": self.fault.reason,
            "first_bad_step": self.fault.step,
            "detail": self.fault.detail,
            "frames": self.frames,
            "frames_excluded": self.frames_excluded,
            "candidates_excluded": self.candidates_excluded,
            "faults": [asdict(f) for f in self.faults],
        }


@dataclass(frozen=True)
class _Table:
    """The LAMMPS-written ``model_devi.out`` of a task, as screening parsed it.

    Attributes
    ----------
    rewritten
        ``model_devi.out`` is our rewrite (has a :data:`MARKER` line): the rows are those of
        ``model_devi.out.orig``.
    comments, rows
        :func:`parse_model_devi` of the LAMMPS-written file.
    """

    rewritten: bool
    comments: list[str]
    rows: list[_Row]


class _UntilMarker:
    """The lines of an open text file up to its first :data:`MARKER` line; ``found`` tells whether there is one."""

    def __init__(self, handle: Iterable[str]) -> None:
        self._handle = handle
        self.found = False

    def __iter__(self) -> Iterator[str]:
        for line in self._handle:
            if line.startswith(MARKER):
                self.found = True
                return
            yield line

    def rest_has_marker(self) -> bool:
        """Read on (without keeping anything) to tell whether a marker line follows."""
        self.found = self.found or any(line.startswith(MARKER) for line in self._handle)
        return self.found


def _read_original(task: Path) -> _Table:
    """Parse the LAMMPS-written ``model_devi.out`` of a task, streamed: the ``.orig`` when the current file is our rewrite.

    A fresh LAMMPS output is read once; our rewrite only up to its marker line (second line).

    Raises
    ------
    UserInputError
        A row that is not numbers, or a rewrite whose ``.orig`` is missing.
    """
    current = task / "model_devi.out"
    with open(current) as handle:
        watch = _UntilMarker(handle)
        try:
            comments, rows = parse_model_devi(watch, current)
        except UserInputError:
            if not watch.rest_has_marker():
                raise
    if not watch.found:
        return _Table(False, comments, rows)
    original = task / ORIGINAL
    if not original.is_file():
        raise UserInputError(f"{current}: rewritten by exploration screening but {ORIGINAL} is missing")
    with open(original) as handle:
        comments, rows = parse_model_devi(handle, original)
    return _Table(True, comments, rows)


def screen_task(
    task: str | os.PathLike,
    levels: Mapping[str, float],
    *,
    skip: int = 0,
    adaptive: bool = False,
    thresholds: Thresholds = Thresholds(),
) -> TaskScreen | None:
    """Find the first bad step of one exploration task (reads only; ``None`` without ``model_devi.out``).

    Parameters
    ----------
    task
        ``iter.N/01.model_devi/task.SSS.TTTTTT``.
    levels
        ``f_lo``, ``f_hi``, ``v_lo``, ``v_hi``: the task's trust levels.
    skip
        ``model_devi_skip`` (frames before it are never candidates).
    adaptive
        ``model_devi_adapt_trust_lo``: every frame below ``hi`` may be a candidate.
    """
    found = _screen_task(Path(task), levels, skip, adaptive, thresholds)
    return found[0] if found is not None else None


def _screen_task(
    task: Path, levels: Mapping[str, float], skip: int, adaptive: bool, thresholds: Thresholds
) -> tuple[TaskScreen, _Table] | None:
    """:func:`screen_task`, with the parsed ``model_devi.out`` that :func:`_apply` needs."""
    if not (task / "model_devi.out").is_file():
        return None
    table = _read_original(task)
    rows = table.rows
    faults: list[Fault | None] = [deviation_faults(rows, levels["f_hi"], thresholds.blowup_factor)]

    frames = sorted(task_dump_frames(task))
    headers: dict[Path, list[tuple[int, int]]] = {}
    counts = []
    for step, path, index in frames:
        if path not in headers:
            headers[path] = dump_headers(path)
        if index < len(headers[path]):
            counts.append((step, headers[path][index][1]))
    data_file = task / "conf.lmp"
    reference = data_file_atom_count(data_file.read_text()) if data_file.is_file() else None
    if reference is None and counts:
        reference = counts[0][1]
    if reference is not None:
        faults.append(atom_count_fault(counts, reference))

    input_file = task / "input.lammps"
    temperature = target_temperature(input_file.read_text()) if input_file.is_file() else None
    for log_name in ("log.lammps", "model_devi.log"):
        if (task / log_name).is_file():
            faults += log_faults((task / log_name).read_text(errors="replace"), temperature, thresholds.temperature_factor)

    current = first_fault(faults)
    limit = current.step if current is not None else None
    faults.append(_distance_fault(rows, frames, levels, skip, adaptive, thresholds.min_distance_A, limit))

    found = tuple(sorted(dict.fromkeys(f for f in faults if f is not None), key=lambda f: f.step))  # both logs may tell
    fault = first_fault(found)
    steps = _unique_steps(rows)
    if fault is None:
        return TaskScreen(task.name, None, (), len(steps), 0, 0), table
    mask = candidate_mask(rows, levels, skip, adaptive)
    candidates = {r.step for r, m in zip(rows, mask) if m and r.step >= fault.step}
    return TaskScreen(task.name, fault, found, len(steps), sum(s >= fault.step for s in steps), len(candidates)), table


def _distance_fault(
    rows: Sequence[_Row],
    frames: Sequence[tuple[int, Path, int]],
    levels: Mapping[str, float],
    skip: int,
    adaptive: bool,
    floor: float,
    limit: int | None,
) -> Fault | None:
    """First candidate frame (before ``limit``) with two atoms closer than ``floor``."""
    mask = candidate_mask(rows, levels, skip, adaptive)
    wanted = sorted({r.step for r, m in zip(rows, mask) if m and (limit is None or r.step < limit)})
    where = {step: (path, index) for step, path, index in frames}
    requests = [(step, *where[step]) for step in wanted if step in where]
    with closing(_dump_frames((path, index) for _, path, index in requests)) as dumps:
        for (step, path, index), lines in zip(requests, dumps):
            if lines is None:
                raise UserInputError(f"{path}: frame {index} (step {step}) missing")
            cell, coords, pbc = read_dump_frame(lines, f"{path}: frame {index}")
            distance = short_contact(cell, coords, pbc, floor)
            if distance is not None:
                return Fault("short_distance", step, f"two atoms {distance:.3f} A apart (< {floor:g} A) in the dump frame at step {step}")
    return None


def is_timestep_line(line: str) -> bool:
    """An ``ITEM: TIMESTEP`` header: where dpdata's ``split_traj`` starts a dump frame."""
    return line.lstrip().startswith("ITEM: TIMESTEP")


class _DumpCursor:
    """One LAMMPS dump file read forward, a frame at a time.

    Frame ``i`` is cut as dpdata's ``split_traj`` cuts it: from the ``i``-th ``ITEM: TIMESTEP``
    line to the next one (then ``split_traj`` itself trims it). Only the requested frame's
    lines are kept; a frame behind the read position reopens the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self._ahead: tuple[int, str] | None = None  # index and header line of the next frame, body unread

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _restart(self) -> None:
        self.close()
        self._handle = open(self.path)
        self._lines = text_lines(self._handle)
        self._seen = 0
        self._advance()

    def _advance(self, body: list[str] | None = None) -> None:
        """Read to the next ``ITEM: TIMESTEP`` line (the lines before it go to ``body``); it becomes ``_ahead``."""
        self._ahead = None
        for line in self._lines:
            if is_timestep_line(line):
                self._ahead = (self._seen, line)
                self._seen += 1
                return
            if body is not None:
                body.append(line)

    def frame(self, index: int) -> list[str] | None:
        """Lines of frame ``index`` (0-based; as ``split_traj(all lines)[index]``), ``None`` past the last frame."""
        from dpdata.formats.lammps.dump import split_traj

        if self._ahead is None or self._ahead[0] > index:
            self._restart()
        while self._ahead is not None and self._ahead[0] < index:
            self._advance()
        if self._ahead is None:
            return None
        lines = [self._ahead[1]]
        self._advance(lines)
        return (split_traj(lines) or [lines])[0]


def _dump_frames(requests: Iterable[tuple[Path, int]]) -> Iterator[list[str] | None]:
    """Lines of the dump frame of each ``(file, frame index)`` request, in order, one frame in memory at a time.

    Yields ``None`` for a frame the file does not have. Each file is read forward (once for
    requests in file order); one file is open at a time.
    """
    cursor: _DumpCursor | None = None
    try:
        for path, index in requests:
            if cursor is None or cursor.path != path:
                if cursor is not None:
                    cursor.close()
                cursor = _DumpCursor(path)
            yield cursor.frame(index)
    finally:
        if cursor is not None:
            cursor.close()


def _copy_text_atomic(source: Path, target: Path) -> None:
    """Copy a text file (streamed, newlines normalised as ``read_text``/``write_text`` would) over ``target`` atomically."""

    def write(temporary: str) -> None:
        with open(source) as reader, open(temporary, "w") as writer:
            shutil.copyfileobj(reader, writer)

    replace_with(target, write)


def _write_lines_atomic(target: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` (each followed by a newline), streamed, over ``target`` atomically."""

    def write(temporary: str) -> None:
        with open(temporary, "w") as writer:
            writer.writelines(f"{line}\n" for line in lines)

    replace_with(target, write)


def _same_text(path: Path, lines: Iterable[str]) -> bool:
    """Whether the text file ``path`` reads as ``lines``, each followed by a newline (compared streamed)."""
    with open(path) as handle:
        return all(a == b for a, b in zip_longest(handle, (f"{line}\n" for line in lines)))


def _apply(task: Path, screen: TaskScreen, table: _Table) -> None:
    """Rewrite (or restore) ``model_devi.out`` of one task after screening; original kept as ``.orig``.

    Streamed: the original is copied to ``.orig`` (a fresh LAMMPS output only) and read
    again line by line to write the marked rows to a temporary file that replaces
    ``model_devi.out``; a healthy fresh task is not read again.
    """
    out, original = task / "model_devi.out", task / ORIGINAL
    if screen.fault is None:
        if table.rewritten:  # thresholds changed since: give DP-GEN the original back, keep the copy
            _copy_text_atomic(original, out)
        return
    if not table.rewritten:
        _copy_text_atomic(out, original)
    width = table.rows[0].width if table.rows else 6
    fault = screen.fault

    def rewritten() -> Iterator[str]:
        with open(original) as handle:
            yield from exclude_rows(handle, table.comments, fault, width)

    if table.rewritten:  # a resumed run: leave an identical rewrite alone
        with closing(rewritten()) as lines:
            if _same_text(out, lines):
                return
    _write_lines_atomic(out, rewritten())


# --- one iteration ----------------------------------------------------------------------------


def screen_exploration(
    workdir: str | os.PathLike,
    iteration: int,
    jdata: Mapping[str, Any],
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Screen every task of ``iter.N/01.model_devi``, exclude the bad frames, write the report.

    Parameters
    ----------
    workdir
        DP-GEN work directory.
    iteration
        Iteration whose exploration just finished (post_model_devi done, make_fp not yet).
    jdata
        Normalised DP-GEN param (trust levels, ``model_devi_skip``,
        ``model_devi_adapt_trust_lo``); ``01.model_devi/cur_job.json`` overrides trust levels.
    thresholds
        Detection levels; default :class:`Thresholds`.

    Returns
    -------
    dict
        The report also written to ``iter.N/01.model_devi/exploration_faults.json``:
        ``n_tasks``, ``n_screened``, ``n_faulty``, ``frames_excluded``,
        ``candidates_excluded``, ``by_reason``, ``tasks`` (faulty ones by name).
    """
    thresholds = thresholds or Thresholds()
    modd = Path(workdir) / f"iter.{iteration:06d}" / "01.model_devi"
    job: dict[str, Any] = {}
    if (modd / "cur_job.json").is_file():
        try:
            job = json.loads((modd / "cur_job.json").read_text())
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{modd / 'cur_job.json'}: not JSON ({exc.msg})") from None
    skip = int(jdata.get("model_devi_skip", 0))
    adaptive = bool(jdata.get("model_devi_adapt_trust_lo", False))
    tasks = sorted(p for p in modd.glob("task.*") if p.is_dir() and _TASK.search(p.name))
    screens = []
    for task in tasks:
        levels = trust_levels(job, jdata, int(_TASK.search(task.name).group(1)))
        found = _screen_task(task, levels, skip, adaptive, thresholds)
        if found is not None:
            screen, table = found
            _apply(task, screen, table)
            screens.append(screen)
    faulty = [s for s in screens if s.fault is not None]
    by_reason: dict[str, int] = {}
    for s in faulty:
        assert s.fault is not None
        by_reason[s.fault.reason] = by_reason.get(s.fault.reason, 0) + 1
    report = {
        "iteration": iteration,
        "thresholds": {**asdict(thresholds), "excluded_deviation": EXCLUDED_DEVIATION},
        "n_tasks": len(tasks),
        "n_screened": len(screens),
        "n_faulty": len(faulty),
        "frames": sum(s.frames for s in screens),
        "frames_excluded": sum(s.frames_excluded for s in faulty),
        "candidates_excluded": sum(s.candidates_excluded for s in faulty),
        "by_reason": by_reason,
        "tasks": {s.task: s.as_dict() for s in faulty},
    }
    if modd.is_dir():
        write_json_atomic(modd / EXPLORATION_FAULTS, report)
    return report


def read_exploration_faults(workdir: str | os.PathLike, iteration: int) -> dict[str, Any] | None:
    """The stored ``exploration_faults.json`` of an iteration, or ``None`` when it was not screened."""
    path = Path(workdir) / f"iter.{iteration:06d}" / "01.model_devi" / EXPLORATION_FAULTS
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not JSON ({exc.msg})") from None


def summary_line(report: Mapping[str, Any]) -> str:
    """E.g. ``1 of 4 tasks, 12 frames excluded (lost atoms: task.000.000001 from step 40)``."""
    text = f"{report['n_faulty']} of {report['n_tasks']} tasks, {report['frames_excluded']} frames excluded"
    details = [
        f"{REASONS.get(t['reason'], t['reason'])}: {name} from step {t['first_bad_step']}"
        for name, t in sorted(report.get("tasks", {}).items())
    ]
    if details:
        shown = details[:3] + ([f"+{len(details) - 3} more"] if len(details) > 3 else [])
        text += f" ({'; '.join(shown)})"
    return text
