"""``dpgen-llzo export``: the final training set of a DP-GEN work directory as extended XYZ.

The training set is what :func:`dpgen_llzo.distill.final.loop_datasets` lists: the param's
``init_data_sys`` under ``init_data_prefix`` and every ``iter.*/02.fp/data.*`` that holds frames
(deepmd/npy, read with dpdata). Each frame is written with its labels and a per-frame class tag,
the dataset path relative to the work directory (``init/cubic/perturbed``,
``iter.000002/02.fp/data.001``), so Allegro, NequIP, MACE and NEP users can train on the same data.

Formats (units: Å, eV, eV/Å, eV/Å³; all energies are totals per frame):

``extxyz``
    ASE's conventions, read by ``ase.io.read`` (NequIP/Allegro ``ase`` datasets, MACE with
    ``--energy_key energy --forces_key forces --stress_key stress``): ``energy=`` (eV),
    per-atom ``forces`` (eV/Å), ``stress=`` (9 values, eV/Å³, ASE sign: positive under tension,
    ``stress = -virial / V``), ``virial=`` (9 values, eV, DeePMD's sign), ``config_type=`` (the tag),
    ``Lattice=``, ``pbc=``. ``stress``/``virial`` are written column by column, the order in which
    ``ase.io.read`` reshapes them to 3×3 (they are symmetric up to round-off anyway); a 3×3 field
    under another name is written row by row and read back by ASE as a flat 9-vector.
``mace``
    The same with MACE's default key names: ``REF_energy``, ``REF_forces``, ``REF_stress``,
    ``REF_virials`` (so ``mace_run_train`` needs no key options; ``config_type`` feeds
    ``--config_type_weights``).
``nep``
    GPUMD's NEP ``train.xyz``: ``Lattice=`` ``energy=`` (eV) ``virial=`` (9 values, eV, the total
    virial in the order xx xy xz yx yy yz zx zy zz, DeePMD's sign, as GPUMD's ``dp2xyz`` writes it)
    ``config_type=`` (unquoted) ``pbc=`` and ``Properties=species:S:1:pos:R:3:force:R:3`` (GPUMD
    reads keywords case-insensitively; ``ase.io.read`` reads the file too, the forces as the
    ``force`` array). Frames without a virial (non-periodic) omit it, which NEP accepts per frame.

Every ``--*-key`` option renames one field of ``extxyz``/``mace``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from dpgen_llzo.errors import UserInputError

FORMATS = ("extxyz", "mace", "nep")


@dataclass(frozen=True)
class Keys:
    """Names of the labelled fields in the comment line and the per-atom columns."""

    energy: str = "energy"
    forces: str = "forces"
    stress: str = "stress"
    virial: str = "virial"
    tag: str = "config_type"


DEFAULT_KEYS = {
    "extxyz": Keys(),
    "mace": Keys("REF_energy", "REF_forces", "REF_stress", "REF_virials"),
    "nep": Keys(forces="force"),
}


@dataclass(frozen=True)
class Frame:
    """One labelled frame.

    Attributes
    ----------
    symbols : list of str
        Element of every atom.
    cell : ndarray, shape (3, 3)
        Lattice vectors as rows, Å.
    positions : ndarray, shape (natoms, 3)
        Cartesian positions, Å.
    energy : float
        Total energy, eV.
    forces : ndarray, shape (natoms, 3)
        Forces, eV/Å.
    virial : ndarray, shape (3, 3) or None
        Virial tensor (``-V * stress``), eV; ``None`` when the data set has none.
    periodic : bool
        Whether the frame is periodic.
    tag : str
        Class of the frame (its dataset path).
    """

    symbols: list[str]
    cell: np.ndarray
    positions: np.ndarray
    energy: float
    forces: np.ndarray
    virial: np.ndarray | None
    periodic: bool
    tag: str


def training_systems(workdir: str | os.PathLike, param: dict[str, Any], include: Sequence[str] = ("init", "loop")) -> list[str]:
    """Dataset paths (relative to ``workdir``, normalised) of the final training set, init first."""
    from dpgen_llzo.distill.final import loop_datasets

    datasets = loop_datasets(workdir, param)
    return [os.path.normpath(path) for part in ("init", "loop") if part in include for path in datasets[part]]


def read_frames(workdir: str | os.PathLike, dataset: str, type_map: Sequence[str]) -> Iterator[Frame]:
    """The frames of one deepmd/npy dataset; ``type_map`` names the types when it has no ``type_map.raw``."""
    import dpdata

    path = Path(workdir) / dataset
    try:
        if (path / "type_map.raw").is_file():
            system = dpdata.LabeledSystem(str(path), fmt="deepmd/npy")
        else:
            system = dpdata.LabeledSystem(str(path), fmt="deepmd/npy", type_map=list(type_map))
    except Exception as exc:  # dpdata raises many kinds of errors for broken data
        raise UserInputError(f"{path}: cannot read as deepmd/npy: {exc}".splitlines()[0]) from None
    symbols = [system["atom_names"][t] for t in system["atom_types"]]
    virials = system.data.get("virials")
    for index in range(system.get_nframes()):
        yield Frame(
            symbols=symbols,
            cell=np.asarray(system["cells"][index], float),
            positions=np.asarray(system["coords"][index], float),
            energy=float(system["energies"][index]),
            forces=np.asarray(system["forces"][index], float),
            virial=None if virials is None else np.asarray(virials[index], float).reshape(3, 3),
            periodic=not system.nopbc,
            tag=dataset,
        )


def _numbers(values: np.ndarray, spec: str = ".10f") -> str:
    return " ".join(format(float(v), spec) for v in np.ravel(values))


#: Comment-line keys whose 9 numbers ``ase.io.read`` reshapes to 3×3 column by column.
ASE_3X3_KEYS = ("Lattice", "stress", "virial")


def _tensor_order(tensor: np.ndarray, key: str) -> np.ndarray:
    """9 numbers of a 3×3 tensor: column by column for :data:`ASE_3X3_KEYS` (ASE reads them back
    as the same matrix), row by row for any other key (a flat vector, ``reshape(3, 3)`` gives it back)."""
    return np.asarray(tensor).ravel(order="F" if key in ASE_3X3_KEYS else "C")


def format_frame(frame: Frame, fmt: str = "extxyz", keys: Keys | None = None) -> str:
    """The extended-XYZ text of one frame (two header lines and one line per atom).

    Parameters
    ----------
    frame
        The labelled frame.
    fmt
        ``extxyz``, ``mace`` or ``nep`` (see the module docstring).
    keys
        Field names (``extxyz``/``mace``); default :data:`DEFAULT_KEYS` of the format.
    """
    if fmt not in FORMATS:
        raise UserInputError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    keys = keys or DEFAULT_KEYS[fmt]
    pbc = "T T T" if frame.periodic else "F F F"
    fields = [f'Lattice="{_numbers(frame.cell, ".10f")}"']
    if fmt == "nep":  # GPUMD reads its keywords case-insensitively; ASE needs Lattice/Properties capitalised
        fields.append(f"energy={frame.energy:.10f}")
        if frame.virial is not None:  # row by row, GPUMD's order
            fields.append(f'virial="{_numbers(frame.virial, ".10f")}"')
        fields += [f"config_type={frame.tag}", f'pbc="{pbc}"', "Properties=species:S:1:pos:R:3:force:R:3"]
    else:
        fields.append(f"Properties=species:S:1:pos:R:3:{keys.forces}:R:3")
        fields.append(f"{keys.energy}={frame.energy:.10f}")
        if frame.virial is not None:
            volume = abs(float(np.linalg.det(frame.cell)))
            stress = -frame.virial / volume
            fields.append(f'{keys.stress}="{_numbers(_tensor_order(stress, keys.stress), ".12e")}"')
            fields.append(f'{keys.virial}="{_numbers(_tensor_order(frame.virial, keys.virial), ".10f")}"')
        fields += [f'{keys.tag}="{frame.tag}"', f'pbc="{pbc}"']
    lines = [str(len(frame.symbols)), " ".join(fields)]
    for symbol, position, force in zip(frame.symbols, frame.positions, frame.forces):
        lines.append(f"{symbol:<2s} {_numbers(position, '16.10f')} {_numbers(force, '16.10f')}")
    return "\n".join(lines) + "\n"


def export_training_set(
    workdir: str | os.PathLike,
    param: dict[str, Any],
    output: str | os.PathLike,
    fmt: str = "extxyz",
    keys: Keys | None = None,
    include: Sequence[str] = ("init", "loop"),
) -> dict[str, int]:
    """Write the final training set of ``workdir`` to ``output`` atomically.

    Parameters
    ----------
    workdir
        The DP-GEN work directory.
    param
        Its param.json (``init_data_prefix``, ``init_data_sys``, ``type_map``).
    output
        The XYZ file; written to a temporary file beside it, then renamed.
    fmt
        ``extxyz``, ``mace`` or ``nep``.
    keys
        Field names for ``extxyz``/``mace``.
    include
        ``init`` and/or ``loop`` (the DP-GEN iterations' fp data).

    Returns
    -------
    dict
        Frames written per dataset path, in file order.

    Raises
    ------
    UserInputError
        If the work directory holds no training data or a dataset is unreadable.
    """
    from dpgen_llzo.atomic_io import replace_with

    if fmt not in FORMATS:
        raise UserInputError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise UserInputError(f"{workdir}: no such work directory")
    datasets = training_systems(workdir, param, include)
    if not datasets:
        raise UserInputError(
            f"{workdir}: no training data (no init_data_sys under {param.get('init_data_prefix', '')!r} with type.raw, no iter.*/02.fp/data.*)"
        )
    type_map = list(param.get("type_map", []))
    counts: dict[str, int] = {}

    def write(temporary: str) -> None:
        with open(temporary, "w") as stream:
            for dataset in datasets:
                counts[dataset] = 0
                for frame in read_frames(workdir, dataset, type_map):
                    stream.write(format_frame(frame, fmt, keys))
                    counts[dataset] += 1

    replace_with(output, write)
    return counts


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the training set of a DP-GEN work directory as extended XYZ (MACE, NequIP/Allegro, NEP)",
        description=(
            "Write every labelled frame of the final training set of WORKDIR (the param's init_data_sys "
            "under init_data_prefix, and every iter.*/02.fp/data.*) to one extended-XYZ file, with "
            "energy (eV), forces (eV/Å), stress (eV/Å³, ASE sign) and virial (eV), and the dataset path "
            "as the per-frame config_type. --format mace uses MACE's REF_* key names; --format nep "
            "writes GPUMD's NEP train.xyz (energy=, virial=, force per atom). The file is written "
            "atomically."
        ),
    )
    parser.add_argument("workdir", help="the DP-GEN work directory")
    parser.add_argument("--param", default="", help="its param.json (default WORKDIR/param.json)")
    parser.add_argument("--format", choices=FORMATS, default="extxyz", help="extxyz (ASE keys, default), mace (REF_* keys) or nep (GPUMD train.xyz)")
    parser.add_argument("-o", "--output", default="train.xyz", help="output file (default train.xyz)")
    parser.add_argument("--only", choices=("init", "loop"), default=None, help="export only the init data or only the DP-GEN iterations' fp data")
    for field in ("energy", "forces", "stress", "virial", "tag"):
        parser.add_argument(f"--{field}-key", default=None, metavar="NAME",
                            help=f"name of the {field} field (extxyz/mace; default per format)")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dpgen_llzo.config import load_json

    param_path = Path(args.param) if args.param else Path(args.workdir) / "param.json"
    if not args.param and not param_path.is_file():
        raise UserInputError(f"{param_path}: param file not found; give the work directory's param.json with --param")
    param = load_json(param_path, "param file")
    overrides = {field: getattr(args, f"{field}_key") for field in ("energy", "forces", "stress", "virial", "tag")}
    overrides = {field: name for field, name in overrides.items() if name is not None}
    if overrides and args.format == "nep":
        raise UserInputError("--format nep has fixed key names (GPUMD's); the --*-key options go with extxyz or mace")
    for field, name in overrides.items():
        if not name or any(c in name for c in ' ="'):
            raise UserInputError(f"--{field}-key {name!r}: a key name must be non-empty without spaces, '=' or quotes")
    keys = replace(DEFAULT_KEYS[args.format], **overrides)
    include = (args.only,) if args.only else ("init", "loop")
    counts = export_training_set(args.workdir, param, args.output, args.format, keys, include)
    for dataset, n in counts.items():
        print(f"{n:6d}  {dataset}")
    print(f"{sum(counts.values())} frames from {len(counts)} datasets -> {args.output} ({args.format})")
    return 0
