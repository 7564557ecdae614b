"""``dpgen-llzo study MODEL... --plan PLAN [--machine M] -o DIR``: the LLZO study of a DP committee.

Examples::

    dpgen-llzo study graph.000.pb graph.001.pb --plan quick -o study-quick
    dpgen-llzo study graph.00*.pb --plan standard -o study            # rerun the same line to resume
    dpgen-llzo study graph.00*.pb --plan production --machine machine/slurm.json -o study
    dpgen-llzo study --list                                          # shipped plans and sections
    dpgen-llzo study --plan-doc                                      # every plan key
"""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``study`` command."""
    parser = subparsers.add_parser(
        "study",
        help="Tc, bulk and GB Li diffusion, Ea, σ(300 K), RDFs and a trust check of a DP, in one resumable command",
        description=(
            "Run the LLZO study of a DP committee: LAMMPS MD through dpdispatcher (machine file's model_devi "
            "section), then the project's analyzers; writes DIR/study.json, DIR/study.md and DIR/plots/. "
            "Rerun the same command to resume after an interruption: finished runs are not run again."),
        epilog="Plans: param/study/*.json (quick: CI minutes; standard: ~2 h on 2 cores; production: a cluster).",
    )
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="frozen DeePMD models (.pb); the first drives the MD, all give the committee deviation")
    parser.add_argument("--plan", help="plan name (quick, standard, production) or plan JSON file")
    parser.add_argument("--machine", help="DP-GEN machine file; its model_devi section runs LAMMPS (default machine/local.json)")
    parser.add_argument("-o", "--output", help="study directory (created; an existing one is resumed)")
    parser.add_argument("--training-script", metavar="INPUT.json",
                        help="training input of the models, for `dp compress -t` when a model keeps no neighbour "
                             "statistics (default: input.json beside each model)")
    parser.add_argument("--jobs", type=int, help="runs in flight at once, one dpdispatcher job each (overrides the plan's 'jobs'; 0: waves grouped by the machine's group_size)")
    parser.add_argument("--poll", type=float, metavar="S", help="dpdispatcher polling interval, s (default 2 for Shell, 30 otherwise)")
    parser.add_argument("--list", action="store_true", help="list the shipped plans and the registered sections, then exit")
    parser.add_argument("--plan-doc", action="store_true", help="print every plan key with its default, then exit")
    parser.set_defaults(func=handler, parser=parser)


def handler(args: argparse.Namespace) -> int:
    from dpgen_llzo.errors import UserInputError

    if args.list:
        from dpgen_llzo.study.plan import shipped_plans
        from dpgen_llzo.study.section import STUDY_SECTIONS, ordered_sections

        print("plans: " + ", ".join(shipped_plans()))
        sections = ordered_sections()
        summaries = {entry.name: entry.summary for entry in STUDY_SECTIONS.entries()}
        for cls in sections:
            print(f"{cls.name:11s} {summaries[cls.name]}")
        return 0
    if args.plan_doc:
        from dpgen_llzo.study.plan import plan_doc

        print(plan_doc())
        return 0
    missing = [flag for flag, value in (("MODEL", args.models), ("--plan", args.plan), ("-o", args.output)) if not value]
    if missing:
        raise UserInputError(f"study: missing {', '.join(missing)} (dpgen-llzo study MODEL... --plan PLAN -o DIR)")
    from dpgen_llzo.study.runner import run_study

    result = run_study(args.models, args.plan, args.output, args.machine, jobs=args.jobs, poll_s=args.poll,
                       training_script=args.training_script)

    def show(key: str, err: str | None = None, spec: str = ".3g") -> str:
        from dpgen_llzo.study.report import pm

        return pm(result.get(key), result.get(err) if err else None, spec)

    print(f"Tc = {show('Tc_K', 'Tc_err_K', '.0f')} K; Ea(bulk) = {show('Ea_bulk_eV', 'Ea_bulk_err_eV', '.3f')} eV; "
          f"σ(300 K) = {show('sigma_300K_S_cm', 'sigma_300K_err_S_cm')} S/cm; Haven = {show('haven_ratio', 'haven_ratio_err', '.2f')}; "
          f"{len(result['flags'])} flag(s) in study.md")
    return 0
