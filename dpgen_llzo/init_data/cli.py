"""``dpgen-llzo init`` and the task command it ships, ``dpgen-llzo teacher-md``."""

from __future__ import annotations

import argparse


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        help="build the initial training set (cells, perturbed frames, teacher MD) in deepmd/npy",
        description=(
            "Build the initial data set described by the _dpgen_llzo.init section of PARAM in the "
            "current directory: LLZO cells from the structure generators, scaled and perturbed "
            "frames and short teacher-MD snapshots, labelled by the configured labeler. Tasks go "
            "through dpdispatcher with the 'fp' section of MACHINE. Re-running resumes; the same "
            "seed reproduces the same data."
        ),
    )
    parser.add_argument("param", help="DP-GEN param.json with a _dpgen_llzo section")
    parser.add_argument("machine", help="DP-GEN machine.json (its 'fp' section runs the tasks)")
    parser.set_defaults(func=run_init)

    md = subparsers.add_parser(
        "teacher-md",
        help="run one teacher-MD task (written by `init`) and write its labelled snapshots",
        description="Run Langevin MD with the labeler of TASK.json from the POSCAR beside it and write the labelled snapshots as deepmd/npy.",
    )
    md.add_argument("task", help="task.json written by dpgen-llzo init")
    md.add_argument("--output", "-o", required=True, help="output deepmd/npy directory")
    md.set_defaults(func=run_teacher_md)


def run_init(args: argparse.Namespace) -> int:
    from dpgen_llzo.init_data.runner import build_initial_data, format_table

    counts = build_initial_data(args.param, args.machine)
    print(format_table(counts))
    return 0


def run_teacher_md(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ase.io import read

    from dpgen_llzo.config import load_json
    from dpgen_llzo.init_data.teacher_md import MDStage, teacher_md_stages
    from dpgen_llzo.labelers import LABELERS, get_labeler
    from dpgen_llzo.labelers.cli import EXIT_REJECTED
    from dpgen_llzo.labelers.labelling import aligned_atom_types, labelled_system, write_deepmd_npy

    task_path = Path(args.task)
    spec = load_json(task_path)
    atoms = read(task_path.parent / "POSCAR", format="vasp")
    labeler_settings = spec["labeler"]
    extra = {}
    if labeler_settings["name"] == "ase":  # the ASE calculator and its keyword arguments
        extra = {"calculator": labeler_settings.get("calculator", ""), "kwargs": labeler_settings.get("calculator_kwargs") or {}}
    labeler = get_labeler(labeler_settings["name"], device=labeler_settings["device"],
                          **LABELERS.get(labeler_settings["name"]).md_options, **extra)
    if "stages" in spec:  # a temperature schedule (melt_quench)
        stages = [MDStage(float(t), int(n), int(every)) for t, n, every in spec["stages"]]
    else:
        stages = [MDStage(spec["temperature_K"], spec["n_steps"], spec["sample_every"])]
    failures: list[str] = []
    frames = teacher_md_stages(atoms, labeler.calculator(), stages, timestep_fs=spec["timestep_fs"],
                               friction_per_fs=spec["friction_per_fs"], seed=spec["seed"], failures=failures)
    for reason in failures:  # the run stopped there: that snapshot and the later ones are lost
        print(f"rejected frame {len(frames)}: {reason}", file=sys.stderr)
    names = sorted(set(atoms.get_chemical_symbols()), key=atoms.get_chemical_symbols().index)
    types = [names.index(s) for s in atoms.get_chemical_symbols()]
    atom_types = aligned_atom_types(names, types, spec["type_map"])
    labeled, rejections = labelled_system(frames, atom_types, spec["type_map"], labeler_settings["max_force_eV_A"])
    for rejection in rejections:
        print(f"rejected frame {rejection.frame_index}: {rejection.reason}", file=sys.stderr)
    if labeled is None:
        return EXIT_REJECTED
    write_deepmd_npy(labeled, args.output)
    temperatures = "/".join(f"{stage.temperature_K:.0f}" for stage in stages if stage.sample_every)
    print(f"teacher MD at {temperatures} K: {len(labeled)} frames -> {args.output}; rejected {len(rejections)}")
    return 0
