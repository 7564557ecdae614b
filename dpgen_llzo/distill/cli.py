"""``dpgen-llzo distill final|report|stability``: from a finished loop to ``models/<name>/``."""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "distill",
        help="final training, held-out validation against the teacher and MD stability of a distilled potential",
        description="After `dpgen-llzo init` and the loop (dpgen run / dpgen-llzo run) in a work directory: "
        "`final` trains the shipped students on every labelled frame, `report` validates one against the "
        "teacher on frames it never saw and writes models/<name>/ (graph.pb, report.json, report.md, plots), "
        "`stability` runs long NPT MD and records whether it collapses. scripts/distill.sh runs the whole chain.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    final = actions.add_parser("final", help="train the shipped students on every labelled frame (run in the work directory)",
                               description="Train N students side by side on the init data plus every iter.*/02.fp/data.* "
                               "frame, each starting from the last iteration's model (dp train --init-frz-model), and "
                               "freeze final/00k/graph.pb. Finished models are kept on a rerun.")
    final.add_argument("param")
    final.add_argument("machine", help="machine file; its train section runs the trainings")
    final.add_argument("--steps", type=int, default=20000, help="training steps (default 20000)")
    final.add_argument("--models", type=int, default=2, help="students to train (a committee for trust checks; default 2)")
    final.add_argument("--start-lr", type=float, default=5e-4, help="first learning rate (default 5e-4)")
    final.add_argument("--stop-lr", type=float, default=2e-5, help="last learning rate (default 2e-5)")
    final.add_argument("--from-scratch", action="store_true", help="do not start from the last iteration's models")
    final.set_defaults(func=run_final)

    report = actions.add_parser("report", help="held-out errors, E-V and dimer curves, 0 K cells against the teacher -> models/<name>/",
                                description="Sample held-out frames per class (crystal 300-1600 K, amorphous, GB, references, "
                                "dimers) with the student's own MD, label them with the bundle's teacher, and write the "
                                "report. The held-out set stays in OUTPUT/heldout (not for committing).")
    report.add_argument("param", help="the bundle's param.json (its _dpgen_llzo section names the teacher)")
    report.add_argument("--model", required=True, help="frozen student (.pb)")
    report.add_argument("-o", "--output", required=True, help="models/<name> directory")
    report.add_argument("--name", default=None, help="name of the potential (default: the output directory's name)")
    report.add_argument("--command", default="scripts/distill.sh", dest="reproduce", help="the command that reproduces the model, for the report")
    report.add_argument("--workdir", default=None, help="work directory of the run, for the data counts")
    report.add_argument("--wall-min", type=float, default=None, help="wall time of the whole run, minutes (for the report)")
    report.add_argument("--no-lattice", action="store_true", help="skip the relaxations (0 K cell parameters)")
    report.add_argument("--subset", default=None, help="copy the first frame of a few held-out systems per class here (a small set to commit for tests)")
    report.add_argument("--refresh", action="store_true", help="only re-read stability.json into OUTPUT's existing report (nothing recomputed)")
    report.add_argument("--quick", action="store_true", help="few held-out frames and curve points (tests)")
    report.set_defaults(func=run_report)

    stability = actions.add_parser("stability", help="NPT MD at high temperature on bulk and GB cells; collapse check",
                                   description="Run LAMMPS NPT with the model on the 192-atom cubic cell and the two "
                                   "committed grain-boundary cells; a run collapses when a pair comes closer than 1.3 Å "
                                   "or the volume changes by more than 10 %. Writes OUTPUT/stability.json.")
    stability.add_argument("model")
    stability.add_argument("-o", "--output", required=True, help="models/<name> directory (stability.json goes there)")
    stability.add_argument("--bulk-ps", type=float, default=50.0, help="length of the 1600 K bulk run, ps (default 50)")
    stability.add_argument("--gb-ps", type=float, default=10.0, help="length of each GB run, ps (default 10; 0 skips them)")
    stability.add_argument("--temperature", type=float, default=1600.0, help="K (default 1600)")
    stability.add_argument("--threads", type=int, default=1, help="threads per LAMMPS run (default 1; runs go two at a time)")
    stability.add_argument("--workdir", default="stability-work", help="where the runs go (default stability-work)")
    stability.set_defaults(func=run_stability_checks)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run_final(args: argparse.Namespace) -> int:
    from dpgen_llzo.distill.workflow import run_final_training

    models = run_final_training(args.param, args.machine, args.steps, args.models, args.start_lr, args.stop_lr,
                                from_last_iteration=not args.from_scratch)
    for model in models:
        print(model)
    return 0


def _data_counts(workdir: str, param: dict, steps_hint: int | None = None) -> dict:
    import glob
    import os

    import numpy as np

    from dpgen_llzo.distill.final import loop_datasets

    def frames(paths):
        return int(sum(len(np.load(s + "/energy.npy")) for p in paths for s in glob.glob(os.path.join(workdir, p, "set.*"))))

    datasets = loop_datasets(workdir, param)
    iterations = len(glob.glob(os.path.join(workdir, "iter.*", "02.fp")))
    final_inputs = sorted(glob.glob(os.path.join(workdir, "final", "*", "input.json")))
    counts = {"frames_init": frames(datasets["init"]), "frames_loop": frames(datasets["loop"]), "iterations": iterations,
              "n_models": len(final_inputs)}
    counts["frames_total"] = counts["frames_init"] + counts["frames_loop"]
    if final_inputs:
        import json

        counts["final_steps"] = json.load(open(final_inputs[0]))["training"]["numb_steps"]
    return counts


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dpgen_llzo.config import load_json, load_llzo_settings
    from dpgen_llzo.distill.ship import ship_model

    if args.refresh:
        from dpgen_llzo.distill.ship import refresh_report

        refresh_report(args.output, args.wall_min)
        print(f"{args.output}/report.md refreshed")
        return 0
    settings = load_llzo_settings(args.param)
    param = load_json(args.param, "param file")
    data = _data_counts(args.workdir, param) if args.workdir else {}
    if args.wall_min is not None:
        data["wall_time_min"] = args.wall_min
    name = args.name or Path(args.output).resolve().name
    report = ship_model(args.model, settings, list(param["type_map"]), args.output, name, args.reproduce, data,
                        quick=args.quick, lattice=not args.no_lattice, subset=args.subset)
    held = report["heldout"].get("condensed") or report["heldout"]["overall"]
    print(f"{name}: held-out (all but dimers) force {held['force_rmse_meV_A']:.0f} meV/Å, energy "
          f"{held['energy_rmse_meV_atom']:.2f} meV/atom, pressure {held['pressure_rmse_GPa']:.3f} GPa -> {args.output}/report.md")
    return 0


def run_stability_checks(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from dpgen_llzo.atomic_io import write_json_atomic
    from dpgen_llzo.distill.stability import StabilityRun, run_stability
    from dpgen_llzo.distill.workflow import read_json

    runs = [StabilityRun(f"cubic-{int(args.temperature)}K", "llzo-cubic", args.temperature, args.bulk_ps)]
    if args.gb_ps > 0:
        runs += [StabilityRun(f"{gb}-{int(args.temperature)}K", f"llzo-gb-{gb}", args.temperature, args.gb_ps, dump_every_ps=0.5)
                 for gb in ("sigma3-112", "sigma5-310")]
    out = Path(args.output) / "stability.json"
    results = read_json(out) or {}
    todo = [run for run in runs if run.name not in results]
    from deepmd.infer import DeepPot

    type_map = list(DeepPot(args.model).get_type_map())
    with ThreadPoolExecutor(max_workers=2) as pool:
        for run, verdict in zip(todo, pool.map(lambda r: run_stability(args.model, r, args.workdir, type_map, args.threads), todo)):
            results[run.name] = verdict
            write_json_atomic(out, results)
            print(f"{run.name}: {verdict['time_ps']:.1f} ps, closest pair {verdict['closest_pair_A']:.2f} Å, "
                  f"volume change {100 * verdict['volume_change']:+.1f} %, {'COLLAPSED' if verdict['collapsed'] else 'stable'}")
    return 1 if any(v["collapsed"] for v in results.values()) else 0
