"""``dpgen-llzo autotest …``: make/run/post in dpgen autotest's layout, the report, the learning curve.

Sub-commands: ``make``, ``run``, ``post``, ``list``, ``reference-task`` (what dpdispatcher
runs for a teacher task) and ``learning-curve``. Paths in the param file are relative to the
current directory, as with ``dpgen autotest``.
"""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "autotest",
        help="relaxation, EOS, lattice vs T and RDFs of a DP model (dpgen autotest layout) and a report",
        description=(
            "dpgen autotest with LLZO properties: 'make' writes the tasks (confs/<name>/relaxation, "
            "confs/<name>/<property>_00), 'run' ships them through dpdispatcher with MACHINE (default: "
            "machine/local.json), 'post' writes result.json per property and the report "
            "(result.json, report.md, PNGs) comparing DP, reference (teacher) and experiment."
        ),
    )
    sub = parser.add_subparsers(dest="autotest_command", metavar="STEP")
    sub.required = True
    for step, text in (("make", "write the relaxation tasks, and the property tasks of relaxed confs"),
                       ("run", "run the relaxation, make the properties that waited for it, run them"),
                       ("post", "post-process every step and write the report")):
        p = sub.add_parser(step, help=text, description=text + ".")
        p.add_argument("param", help="autotest param file (JSON; see param/autotest/)")
        p.add_argument("machine", nargs="?", help="DP-GEN machine.json: 'model_devi' runs LAMMPS, 'autotest_reference' "
                       "(or else 'fp') the teacher tasks (default: machine/local.json)")
        if step == "post":
            p.add_argument("--output", "-o", default="autotest_report", help="report directory (default ./autotest_report)")
        p.set_defaults(func=_run_step, step=step)

    p = sub.add_parser("list", help="list the registered autotest properties",
                       description="List the property types an autotest param file may use.")
    p.set_defaults(func=_list)

    p = sub.add_parser("reference-task", help="run one teacher task (what dpdispatcher runs, as python -m dpgen_llzo.autotest reference-task)",
                       description="Run the teacher task (relax, nvt or npt) described by DIR/task.json on DIR/POSCAR.")
    p.add_argument("directory", nargs="?", default=".", help="task directory (default .)")
    p.set_defaults(func=_reference_task)

    from dpgen_llzo.autotest.learning_curve import add_arguments as add_learning_curve

    p = sub.add_parser("learning-curve", help="error vs training-set size: train small models on nested subsets",
                       description=(
                           "Train DeePMD models on nested random subsets of the training frames (seeded), "
                           "evaluate each on held-out data per class, write OUT/learning_curve.json and "
                           "OUT/learning_curve.png. Training goes through dpdispatcher ('train' section)."))
    add_learning_curve(p)


def _run_step(args: argparse.Namespace) -> int:
    from dpgen_llzo.autotest import load_autotest_param, make, post, run

    param = load_autotest_param(args.param)
    if args.step == "make":
        summary = make(param)
        print(f"relaxation tasks made: {len(summary['relaxation'])}; property dirs made: {len(summary['properties'])}; "
              f"waiting for their relaxation: {len(summary['waiting'])}")
    elif args.step == "run":
        counts = run(param, args.machine)
        print(f"ran {counts['relaxation_tasks']} relaxation task(s) and {counts['property_tasks']} property task(s)")
    else:
        report = post(param, args.output)
        print(f"{len(report['rows'])} rows; written {args.output}/result.json, {args.output}/report.md "
              f"and {len(report['figures'])} figure(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from dpgen_llzo.autotest import AUTOTEST_PROPERTIES

    for entry in AUTOTEST_PROPERTIES.entries():
        print(f"{entry.name:12s} {entry.summary}")
    return 0


def _reference_task(args: argparse.Namespace) -> int:
    from dpgen_llzo.autotest.teacher import run_task

    result = run_task(args.directory)
    print(f"{result['kind']} done in {result['wall_s']:.0f} s")
    return 0
