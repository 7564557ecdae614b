"""The autotest param file: a dpgen autotest param with our properties, checked strictly by dargs.

Shape (paths relative to the work root, the directory the command runs in, as in
``dpgen autotest``)::

    {
      "structures": ["confs/llzo-cubic", "confs/llzo-tetragonal"],
      "interaction": {"type": "deepmd", "model": "graph.000.pb",
                      "type_map": {"Li": 0, "La": 1, "Zr": 2, "O": 3}},
      "relaxation": {"cal_setting": {"ftol": 1e-6}, "reference": {"type": "teacher"}},
      "properties": [
        {"type": "eos", "vol_start": 0.94, "vol_end": 1.07, "vol_step": 0.02},
        {"type": "lattice_T", "temperatures_K": [300, 900]},
        {"type": "rdf", "temperatures_K": [600]}
      ],
      "validation": {"data": {"crystal": ["init/cubic/validation"]}}
    }

A conf directory without a ``POSCAR`` whose name is a registered structure generator
(``dpgen-llzo structures list``: ``llzo-cubic``, ``li2o``, …) gets the generator's default
structure, the way dpgen builds ``std-fcc`` and friends. Unknown keys are errors naming their
path; keys starting with ``_`` are comments.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dargs import Argument, Variant

from dpgen_llzo.autotest.properties import AUTOTEST_PROPERTIES, cal_setting_argument, type_map_list
from dpgen_llzo.errors import UserInputError


def teacher_argument(doc: str, extra: list[Argument] | None = None) -> Argument:
    """The ``teacher`` choice of a ``reference`` block: a registered labeler run through ASE."""
    return Argument("teacher", dict, [
        Argument("labeler", str, optional=True, default="chgnet", doc="Registered labeler (`dpgen-llzo label --list`)."),
        Argument("device", str, optional=True, default="cpu", doc="Torch device of the labeler."),
        *(extra or []),
    ], doc=doc)


def _relaxation_reference() -> Argument:
    return Argument("reference", dict, [], [Variant("type", [
        teacher_argument("Relax the same cell with the teacher (ASE FrechetCellFilter + FIRE).", [
            Argument("fmax_eV_A", float, optional=True, default=0.05, doc="Force (and stress × volume) convergence, eV/Å."),
            Argument("max_steps", int, optional=True, default=300, doc="Most FIRE steps."),
        ]),
        Argument("none", dict, [], doc="No reference relaxation."),
    ], optional=True, default_tag="teacher")], optional=True, default={"type": "teacher"},
        doc="The reference 0 K lattice the DP's relaxation is compared with.")


def _relaxation_args() -> list[Argument]:
    return [
        Argument("cal_type", str, optional=True, default="relaxation", doc="dpgen's calculation type (relaxation)."),
        cal_setting_argument("dpgen's LAMMPS minimisation (default: positions, shape and volume; ftol 1e-10)."),
        _relaxation_reference(),
    ]


def _interaction_args() -> list[Argument]:
    return [
        Argument("type", str, doc="Interaction type; `deepmd` (a frozen DeePMD model run in LAMMPS)."),
        Argument("model", str, doc="Frozen model file (.pb), relative to the work root."),
        Argument("type_map", dict, doc="Element → type index, as in dpgen autotest; must match the model's type map."),
        Argument("deepmd_version", str, optional=True, default="2.0", doc="DeePMD-kit version the LAMMPS pair style follows."),
    ]


def _validation_args() -> list[Argument]:
    return [
        Argument("data", dict, doc="Data class → list of labelled deepmd/npy directories (held-out frames)."),
        Argument("models", list[str], optional=True, doc="Models to evaluate (default: interaction.model); more than one also gives the committee mean."),
        Argument("learning_curve", str, optional=True, doc="`learning_curve.json` written by `dpgen-llzo autotest learning-curve`, added to the report."),
    ]


def property_argument() -> Argument:
    """One entry of ``properties``: common keys plus a variant on ``type`` built from the registry."""
    choices = [Argument(entry.name, dict, entry.obj.arguments(), doc=entry.summary)
               for entry in AUTOTEST_PROPERTIES.entries()]
    return Argument("properties", list, [
        Argument("skip", bool, optional=True, default=False, doc="Leave this property out."),
    ], [Variant("type", choices)], repeat=True, optional=True, default=[],
        doc="Properties computed from each relaxed structure.")


def autotest_arginfo() -> Argument:
    """The dargs definition of an autotest param file."""
    return Argument("autotest", dict, [
        Argument("structures", list[str], doc="Conf directories (glob patterns), each with a POSCAR or named after a structure generator."),
        Argument("interaction", dict, _interaction_args(), doc="The model under test."),
        Argument("relaxation", dict, _relaxation_args(), optional=True, doc="dpgen's relaxation of every structure (needed by every property)."),
        property_argument(),
        Argument("validation", dict, _validation_args(), optional=True, doc="Energy/force errors per data class for the report."),
    ], doc="dpgen autotest param with dpgen-llzo properties.")


@dataclass
class AutotestParam:
    """A checked autotest param file.

    Attributes
    ----------
    path
        The file.
    root
        Work root: the directory relative paths start from (where the command runs).
    structures
        Conf glob patterns as written.
    interaction
        ``interaction`` with the model path made absolute.
    relaxation
        The ``relaxation`` block, or None.
    properties
        ``properties`` entries with defaults filled in, skipped ones included.
    validation
        The ``validation`` block, or None.
    """

    path: Path
    root: Path
    structures: list[str]
    interaction: dict[str, Any]
    relaxation: dict[str, Any] | None
    properties: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] | None = None

    @property
    def type_map(self) -> list[str]:
        """Elements in type-index order."""
        return type_map_list(self.interaction)

    def dpgen_relaxation(self) -> dict[str, Any]:
        """The ``relaxation`` block as dpgen's ``make_equi`` takes it (our ``reference`` removed)."""
        block = dict(self.relaxation or {})
        block.pop("reference", None)
        block["cal_setting"] = dict(block.get("cal_setting") or {})
        return block


def load_autotest_param(path: str | os.PathLike, root: str | os.PathLike | None = None) -> AutotestParam:
    """Read and check an autotest param file (no model or structure is opened).

    Raises
    ------
    UserInputError
        Unreadable file, unknown key (the message names its path), unknown property type,
        unsupported interaction, malformed type map.
    """
    from dpgen_llzo.config import load_json, normalize_checked

    path = Path(path)
    root = Path(root) if root is not None else Path.cwd()
    data = load_json(path)
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object")
    for index, entry in enumerate(data.get("properties") or []):
        if isinstance(entry, dict) and "type" in entry:
            try:
                AUTOTEST_PROPERTIES.get(entry["type"])
            except UserInputError as exc:
                raise UserInputError(f"{path}: properties[{index}]: {exc}") from None
    value = normalize_checked(autotest_arginfo(), data, path, "autotest param")
    interaction = dict(value["interaction"])
    if interaction["type"] != "deepmd":
        raise UserInputError(f"{path}: interaction/type: only 'deepmd' is supported, got {interaction['type']!r}")
    type_map = interaction["type_map"]
    indices = sorted(type_map.values()) if all(isinstance(v, int) for v in type_map.values()) else None
    if not type_map or indices != list(range(len(type_map))):
        raise UserInputError(f"{path}: interaction/type_map: needs element → index 0..n-1, e.g. {{\"Li\": 0, \"La\": 1}}, got {type_map}")
    interaction["model"] = str((root / interaction["model"]).resolve())
    if value.get("validation"):
        for name, dirs in value["validation"]["data"].items():
            if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
                raise UserInputError(f"{path}: validation/data/{name}: needs a list of directories")
    return AutotestParam(path=path, root=root, structures=list(value["structures"]), interaction=interaction,
                         relaxation=value.get("relaxation"), properties=list(value.get("properties", [])),
                         validation=value.get("validation"))


def model_type_map(model: str | os.PathLike) -> list[str]:
    """The type map stored in a frozen DeePMD model (loads the model)."""
    from deepmd.infer import DeepPot

    return list(DeepPot(str(model)).get_type_map())


def check_model(param: AutotestParam) -> None:
    """The model file exists and its type map agrees with ``interaction.type_map``.

    LAMMPS' ``pair_coeff * *`` maps LAMMPS type i to model type i − 1, so every element of
    ``interaction.type_map`` must sit at the same index in the model.
    """
    model = Path(param.interaction["model"])
    if not model.is_file():
        raise UserInputError(f"{param.path}: interaction/model: {model}: model file not found")
    known = model_type_map(model)
    for element, index in param.interaction["type_map"].items():
        if index >= len(known) or known[index] != element:
            raise UserInputError(
                f"{param.path}: interaction/type_map: {element} → {index}, but the model {model.name} has type map {known}")


def conf_dirs(param: AutotestParam, create: bool = True) -> list[Path]:
    """Conf directories (relative to the root), with POSCARs built where a generator name allows.

    Raises
    ------
    UserInputError
        A pattern matching nothing, a directory with no POSCAR that no generator is named
        after, or a POSCAR holding an element that ``interaction.type_map`` lacks.
    """
    from dpgen_llzo.structures import STRUCTURES, build_structure

    found: list[Path] = []
    for index, pattern in enumerate(param.structures):
        matches = sorted(glob.glob(pattern, root_dir=param.root))
        if not matches and not glob.has_magic(pattern):
            matches = [pattern]
        if not matches:
            raise UserInputError(f"{param.path}: structures[{index}]: {pattern!r} matches no directory")
        for match in matches:
            conf = Path(match)
            poscar = param.root / conf / "POSCAR"
            if not poscar.is_file():
                if conf.name not in STRUCTURES:
                    raise UserInputError(
                        f"{param.path}: structures[{index}]: {conf}: no POSCAR, and {conf.name!r} is not a structure "
                        f"generator (known: {', '.join(STRUCTURES.names())})")
                if not create:
                    continue
                poscar.parent.mkdir(parents=True, exist_ok=True)
                build_structure(conf.name).to(filename=str(poscar), fmt="poscar")
            check_elements(poscar, param)
            if conf not in found:
                found.append(conf)
    return found


def check_elements(poscar: Path, param: AutotestParam) -> None:
    """Every element of ``poscar`` is in ``interaction.type_map``."""
    from pymatgen.core import Structure

    try:
        elements = sorted({site.specie.symbol for site in Structure.from_file(str(poscar))})
    except Exception as exc:  # pymatgen raises a variety of errors on a bad file
        raise UserInputError(f"{poscar}: not a readable POSCAR ({exc})") from None
    missing = [e for e in elements if e not in param.interaction["type_map"]]
    if missing:
        raise UserInputError(f"{poscar}: element(s) {', '.join(missing)} not in the model's type map {param.type_map}")
