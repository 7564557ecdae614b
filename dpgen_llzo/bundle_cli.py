"""``dpgen-llzo bundle``: check a param/machine bundle, print our settings' docs, write the INCAR.

Examples::

    dpgen-llzo bundle check param/demo/param.json machine/local.json
    dpgen-llzo bundle check param/vasp/param.json machine/slurm.json --potcar-dir ~/potpaw_PBE.54
    dpgen-llzo bundle doc
    dpgen-llzo bundle incar -o templates/vasp/INCAR
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dpgen_llzo.cli import show_help
from dpgen_llzo.errors import UserInputError

POTCAR_ENV = "POTCAR_DIR"


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bundle`` command with its ``check``, ``doc`` and ``incar`` actions."""
    parser = subparsers.add_parser(
        "bundle",
        help="check a param.json + machine.json bundle; document the _dpgen_llzo settings",
        description="Check DP-GEN bundles, print the documentation of the _dpgen_llzo section, or write the VASP INCAR.",
    )
    actions = parser.add_subparsers(dest="bundle_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: show_help(parser))

    check = actions.add_parser(
        "check",
        help="check PARAM and MACHINE with DP-GEN's schemas and ours (and VASP inputs)",
        description=(
            "Check PARAM with DP-GEN's strict run schema and our _dpgen_llzo section (registered "
            "generators and labeler, init_data_sys matching what `dpgen-llzo init` produces), MACHINE "
            "with DP-GEN's machine schema, and, when fp_style is vasp, the INCAR against the paper's "
            "DFT settings and fp_pp_files against type_map. POTCAR files are read when --potcar-dir "
            f"or ${POTCAR_ENV} is given. Prints one 'ok' line per check; exits 2 with one line on the "
            "first failure."
        ),
    )
    check.add_argument("param", metavar="PARAM", help="DP-GEN param.json")
    check.add_argument("machine", metavar="MACHINE", help="DP-GEN machine.json")
    check.add_argument(
        "--potcar-dir",
        default=None,
        metavar="DIR",
        help=f"directory holding the fp_pp_files (replaces fp_pp_path; default ${POTCAR_ENV})",
    )
    check.add_argument(
        "--workdir",
        default=None,
        metavar="DIR",
        help="directory `dpgen run` will start from, which relative fp_incar is resolved against (default: current)",
    )
    check.set_defaults(func=check_handler)

    doc = actions.add_parser(
        "doc",
        help="print the _dpgen_llzo settings with their defaults",
        description="Print the documentation of the _dpgen_llzo section and of one init system (dargs).",
    )
    doc.set_defaults(func=doc_handler)

    incar = actions.add_parser(
        "incar",
        help="write the production INCAR generated from the documented input set",
        description="Write the INCAR of the VASP bundle, generated from dpgen_llzo.vasp.INPUT_SET, one reason per tag.",
    )
    incar.add_argument("-o", "--output", default=None, help="file to write (default: standard output)")
    incar.set_defaults(func=incar_handler)


def _check_init_section(param: dict[str, Any], settings: dict[str, Any], path: Path) -> list[str]:
    """Cross-check the ``_dpgen_llzo`` section against the registries and DP-GEN's paths."""
    from dpgen_llzo.config import LLZO_KEY
    from dpgen_llzo.init_data.plan import plan_init_tasks
    from dpgen_llzo.init_data.runner import check_param_matches_plan
    from dpgen_llzo.labelers import LABELERS
    from dpgen_llzo.structures import STRUCTURES, generator_parameters

    labeler = settings["labeler"]["name"]
    if labeler not in LABELERS:
        raise UserInputError(f"{path}: {LLZO_KEY}/labeler/name: unknown labeler {labeler!r}; known: {', '.join(LABELERS.names())}")
    init = settings["init"]
    for index, system in enumerate(init["systems"]):
        where = f"{LLZO_KEY}/init/systems[{index}]"
        if system["generator"] not in STRUCTURES:
            raise UserInputError(
                f"{path}: {where}/generator: unknown structure generator {system['generator']!r}; "
                f"known: {', '.join(STRUCTURES.names())}"
            )
        known = generator_parameters(system["generator"])
        unknown = sorted(set(system["params"]) - set(known))
        if unknown:
            raise UserInputError(
                f"{path}: {where}/params: {system['generator']!r} takes no parameter {unknown[0]!r}; known: {', '.join(known) or '(none)'}"
            )
    tasks = plan_init_tasks(init)
    check_param_matches_plan(param, init, tasks, path)
    model_types = param.get("default_training_param", {}).get("model", {}).get("type_map")
    if model_types is not None and list(model_types) != list(param["type_map"]):
        raise UserInputError(f"{path}: default_training_param/model/type_map {model_types} differs from type_map {param['type_map']}")
    return [
        f"{path}: {LLZO_KEY} section ({len(init['systems'])} init systems, {len(tasks)} init tasks, labeler {labeler}); "
        "init_data_sys and sys_configs match what `dpgen-llzo init` writes"
    ]


def _check_training_param(param: dict[str, Any], path: Path) -> list[str]:
    """Check ``default_training_param`` with deepmd-kit's own strict input schema.

    DP-GEN passes this section to ``dp train`` unchecked, so a typo would only surface when the
    first training job starts on the cluster.
    """
    import copy

    training = param.get("default_training_param")
    if training is None:
        return []
    try:
        import deepmd
        from deepmd.utils.argcheck import normalize
    except ImportError:  # pragma: no cover - deepmd-kit is a dependency
        return [f"skip {path}: default_training_param not checked (deepmd-kit not importable)"]
    try:
        normalize(copy.deepcopy(training))
    except Exception as exc:  # dargs raises ArgumentKeyError/ArgumentTypeError/ArgumentValueError
        message = " ".join(str(exc).split()).replace("[at location `", "[").replace("`]", "]")
        raise UserInputError(f"{path}: default_training_param: deepmd-kit {deepmd.__version__} schema: {message}") from None
    return [f"ok   {path}: default_training_param passes the deepmd-kit {deepmd.__version__} input schema (strict)"]


def check_bundle(
    param_path: str | Path,
    machine_path: str | Path,
    *,
    potcar_dir: str | Path | None = None,
    workdir: str | Path | None = None,
) -> list[str]:
    """Run every check of ``dpgen-llzo bundle check``; return the report lines.

    Lines start with ``ok`` (passed) or ``skip`` (not checked, with the reason).

    Raises
    ------
    UserInputError
        The first failed check, naming the file and the key path.
    """
    from dpgen_llzo.config import check_dpgen_machine, check_dpgen_param, load_json, load_llzo_settings

    param_path, machine_path = Path(param_path), Path(machine_path)
    lines: list[str] = []
    check_dpgen_param(param_path)
    param = load_json(param_path)
    fp_style = param.get("fp_style")
    lines.append(
        f"ok   {param_path}: DP-GEN run schema (fp_style {fp_style}, {param.get('numb_models')} models, "
        f"type_map {' '.join(param.get('type_map', []))})"
    )
    lines += _check_training_param(param, param_path)
    settings = load_llzo_settings(param_path)
    lines += [f"ok   {line}" for line in _check_init_section(param, settings, param_path)]
    if fp_style == "vasp":
        from dpgen_llzo.vasp import check_vasp_bundle

        lines += [f"ok   {line}" for line in check_vasp_bundle(param_path, potcar_dir=potcar_dir, workdir=workdir)]
        if potcar_dir is None:
            lines.append(f"skip POTCAR files not read: give --potcar-dir or set ${POTCAR_ENV}")
    machine = check_dpgen_machine(machine_path)
    steps = ", ".join(
        f"{step}: {machine[step]['machine']['batch_type']}/{machine[step]['machine']['context_type']}"
        for step in ("train", "model_devi", "fp")
        if step in machine
    )
    lines.append(f"ok   {machine_path}: DP-GEN machine schema ({steps})")
    return lines


def check_handler(args: argparse.Namespace) -> int:
    """Print the report of :func:`check_bundle`."""
    potcar_dir = args.potcar_dir or os.environ.get(POTCAR_ENV) or None
    for line in check_bundle(args.param, args.machine, potcar_dir=potcar_dir, workdir=args.workdir):
        print(line)
    return 0


def doc_handler(args: argparse.Namespace) -> int:
    """Print the dargs documentation of our settings."""
    from dpgen_llzo.config import llzo_arginfo, system_arginfo

    print(llzo_arginfo().gen_doc())
    print()
    print(system_arginfo().gen_doc())
    return 0


def incar_handler(args: argparse.Namespace) -> int:
    """Write the generated INCAR to a file or standard output."""
    from dpgen_llzo.vasp import build_incar, format_incar

    incar = build_incar()
    text = format_incar(incar)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    output = Path(args.output)
    if not output.parent.is_dir():
        raise UserInputError(f"{output}: directory {output.parent} does not exist")
    output.write_text(text)
    print(f"wrote {output}: {len(incar)} tags")
    return 0
