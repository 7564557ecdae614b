"""Finite-temperature MD tasks shared by ``lattice_T`` and ``rdf``: settings, LAMMPS input, task dirs.

Each temperature is one task directory ``<prop>_00/task.NNNNNN`` (the DP in LAMMPS) and,
with a teacher reference, one ``<prop>_00/reference.NNNNNN`` (see :mod:`.teacher`). The
LAMMPS input is written here, not taken from a template file, so an installed package works:

* ``npt``: ``fix npt temp T T τ_T <aniso|tri> P P τ_P``; thermo rows carry
  ``temp pe press vol lx ly lz xy xz yz cella cellb cellc`` for :mod:`dpgen_llzo.analysis.lattice`;
* ``nvt``: ``fix nvt`` for ``equilibration_steps``, then a ``dump.rdf`` (``id type x y z``)
  every ``dump_every`` steps for :mod:`dpgen_llzo.analysis.rdf`.

Units: K, fs, bar, Å.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from dargs import Argument, Variant

from dpgen_llzo.autotest.param import teacher_argument
from dpgen_llzo.autotest.properties import link_model, model_name, write_json
from dpgen_llzo.errors import UserInputError


def md_arguments(ensemble: str) -> list[Argument]:
    """dargs definitions of the DP MD settings of a property using ``ensemble`` (npt/nvt)."""
    args = [
        Argument("temperatures_K", list[float], doc="Temperatures, K; one task each."),
        Argument("supercell", list[int], optional=True, default=[1, 1, 1], doc="Repetitions of the conf cell."),
        Argument("start", str, optional=True, default="relaxed" if ensemble == "npt" else "input",
                 doc="Starting cell: `relaxed` (the DP relaxation's CONTCAR; the teacher's own relaxed cell for the teacher) or `input` (the conf's POSCAR, same cell for DP and reference)."),
        Argument("n_steps", int, optional=True, default=20000, doc="DP MD steps after equilibration."),
        Argument("equilibration_steps", int, optional=True, default=5000, doc="DP MD steps before sampling."),
        Argument("timestep_fs", float, optional=True, default=1.0, doc="Time step, fs."),
        Argument("tau_t_fs", float, optional=True, default=100.0, doc="Thermostat time constant, fs."),
        Argument("seed", int, optional=True, default=2024, doc="Velocity seed (LAMMPS and teacher)."),
    ]
    if ensemble == "npt":
        args += [
            Argument("pressure_bar", float, optional=True, default=0.0, doc="Pressure, bar."),
            Argument("tau_p_fs", float, optional=True, default=1000.0, doc="Barostat time constant, fs."),
            Argument("barostat", str, optional=True, default="aniso", doc="`aniso` (a, b, c independent, angles fixed) or `tri` (full cell)."),
            Argument("thermo_every", int, optional=True, default=100, doc="Steps between thermo rows."),
            Argument("equilibration_fraction", float, optional=True, default=0.0, doc="Extra share of the sampled rows dropped before averaging."),
            Argument("n_blocks", int, optional=True, default=5, doc="Blocks of the block-average error bars."),
        ]
    else:
        args += [Argument("dump_every", int, optional=True, default=100, doc="Steps between dumped frames.")]
    return args


def reference_argument(ensemble: str) -> Argument:
    """The ``reference`` block of an MD property: teacher MD, AIMD files, or none."""
    teacher_md = [
        Argument("n_steps", int, optional=True, default=2000, doc="Teacher MD steps (~1 s per step for 192 atoms with CHGNet on a CPU)."),
        Argument("equilibration_steps", int, optional=True, default=500, doc="Teacher steps dropped before sampling."),
        Argument("timestep_fs", float, optional=True, default=2.0, doc="Teacher time step, fs."),
        Argument("sample_every", int, optional=True, default=10, doc="Steps between samples."),
    ]
    if ensemble == "npt":
        teacher_md += [
            Argument("tau_t_fs", float, optional=True, default=100.0, doc="Berendsen thermostat time, fs."),
            Argument("tau_p_fs", float, optional=True, default=500.0, doc="Berendsen barostat time, fs."),
            Argument("bulk_modulus_GPa", float, optional=True, default=100.0, doc="Compressibility guess of the barostat, GPa."),
        ]
    else:
        teacher_md += [Argument("friction_per_fs", float, optional=True, default=0.02, doc="Langevin friction, 1/fs.")]
    files_doc = ("One file per temperature (same order): LAMMPS logs or trajectories with cells (XDATCAR, extxyz, LAMMPS dump)"
                 if ensemble == "npt" else "One trajectory per temperature (same order): XDATCAR, extxyz, LAMMPS dump or deepmd/npy")
    return Argument("reference", dict, [], [Variant("type", [
        teacher_argument("Teacher MD through ASE at each temperature.", teacher_md),
        Argument("files", dict, [
            Argument("files", list[str], doc=files_doc + ", relative to the work root; `{conf}` in a path is replaced by the conf directory's name."),
            Argument("format", str, optional=True, doc="Reader name (`dpgen-llzo analyze list`); guessed when absent."),
        ], doc="Reference results supplied as files (AIMD in production)."),
        Argument("none", dict, [], doc="No reference."),
    ], optional=True, default_tag="teacher")], optional=True, default={"type": "teacher"},
        doc="What the DP is compared with.")


def lammps_md_input(model: str, type_map: Sequence[str], settings: dict[str, Any], temperature_K: float,
                    ensemble: str) -> str:
    """LAMMPS input of one DP MD task (see the module docstring)."""
    from dpgen_llzo.analysis.trajectory import atomic_mass

    if ensemble not in ("npt", "nvt"):
        raise ValueError(f"unknown ensemble {ensemble!r}")
    dt_ps = settings["timestep_fs"] / 1000.0
    seed = settings["seed"] + int(round(temperature_K))
    lines = [
        "# dpgen-llzo autotest: DP " + ensemble.upper() + f" at {temperature_K:g} K",
        "units           metal", "boundary        p p p", "atom_style      atomic", "box             tilt large",
        "read_data       conf.lmp", "change_box      all triclinic",
        *[f"mass            {i + 1} {atomic_mass(e):.5f}" for i, e in enumerate(type_map)],
        "neighbor        1.0 bin", "neigh_modify    delay 0 every 1 check yes",
        f"pair_style      deepmd {model}", "pair_coeff      * *",
        f"timestep        {dt_ps:g}",
        f"velocity        all create {temperature_K:g} {seed} dist gaussian mom yes rot yes",
    ]
    tau_t = settings["tau_t_fs"] / 1000.0
    if ensemble == "npt":
        if settings["barostat"] not in ("aniso", "tri"):
            raise UserInputError(f"barostat must be aniso or tri, got {settings['barostat']!r}")
        p, tau_p = settings["pressure_bar"], settings["tau_p_fs"] / 1000.0
        lines += [
            "thermo_style    custom step temp pe press vol lx ly lz xy xz yz cella cellb cellc",
            "thermo_modify   flush yes",
            f"fix             md all npt temp {temperature_K:g} {temperature_K:g} {tau_t:g} {settings['barostat']} {p:g} {p:g} {tau_p:g}",
            "thermo          " + str(max(1, settings["equilibration_steps"])),
            f"run             {settings['equilibration_steps']}",
            "reset_timestep  0",
            f"thermo          {settings['thermo_every']}",
            f"run             {settings['n_steps']}",
        ]
    else:
        lines += [
            "thermo_style    custom step temp pe press vol",
            f"fix             md all nvt temp {temperature_K:g} {temperature_K:g} {tau_t:g}",
            "thermo          " + str(max(1, settings["equilibration_steps"])),
            f"run             {settings['equilibration_steps']}",
            "reset_timestep  0",
            f"thermo          {settings['dump_every']}",
            f"dump            rdf all custom {settings['dump_every']} dump.rdf id type x y z",
            f"run             {settings['n_steps']}",
        ]
    return "\n".join(lines) + "\n"


def npt_thermo_rows(log_path: Path) -> dict:
    """Thermo rows of the production run (after ``reset_timestep``) of an NPT task's log."""
    from dpgen_llzo.analysis.lattice import cell_lengths_from_thermo, read_lammps_thermo

    thermo = read_lammps_thermo(log_path)
    # the equilibration run prints step 0 and its last step; production restarts at step 0
    starts = [i for i, s in enumerate(thermo["step"]) if s == 0]
    first = starts[-1] if starts else 0
    return cell_lengths_from_thermo({k: v[first:] for k, v in thermo.items()}, source=str(log_path))


def starting_poscar(conf_dir: Path, start: str, who: str) -> Path:
    """POSCAR an MD task starts from: the input, or the relaxed cell of ``who`` (dp/teacher)."""
    if start == "input":
        return conf_dir / "POSCAR"
    if start != "relaxed":
        raise UserInputError(f"start must be 'relaxed' or 'input', got {start!r}")
    if who == "teacher":
        contcar = conf_dir / "relaxation" / "reference_task" / "CONTCAR"
        return contcar if contcar.is_file() else conf_dir / "POSCAR"
    contcar = conf_dir / "relaxation" / "relax_task" / "CONTCAR"
    if not contcar.is_file():
        raise UserInputError(f"{contcar}: missing; run the relaxation first (start: relaxed)")
    return contcar


def write_supercell(source: Path, target: Path, supercell: Sequence[int]) -> Path:
    """Write ``source`` repeated ``supercell`` times as a POSCAR at ``target``."""
    from pymatgen.core import Structure

    structure = Structure.from_file(str(source))
    if list(supercell) != [1, 1, 1]:
        structure = structure.make_supercell(list(supercell), in_place=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    structure.to(filename=str(target), fmt="poscar")
    return target


def make_dp_task(task_dir: Path, conf_dir: Path, interaction: dict[str, Any], type_map: Sequence[str],
                 settings: dict[str, Any], temperature_K: float, ensemble: str) -> None:
    """One DP MD task: POSCAR (start cell × supercell), model link, conf.lmp, in.lammps, task.json."""
    poscar = write_supercell(starting_poscar(conf_dir, settings["start"], "dp"), task_dir / "POSCAR", settings["supercell"])
    link_model(interaction, task_dir, poscar)
    (task_dir / "in.lammps").write_text(
        lammps_md_input(model_name(interaction), type_map, settings, temperature_K, ensemble))
    write_json(task_dir / "task.json", {"temperature_K": temperature_K, "ensemble": ensemble, **settings})


def make_reference_task(task_dir: Path, conf_dir: Path, settings: dict[str, Any], reference: dict[str, Any],
                        temperature_K: float, ensemble: str) -> None:
    """One teacher MD task in ``task_dir`` (see :mod:`.teacher`)."""
    from dpgen_llzo.autotest.teacher import write_task

    write_supercell(starting_poscar(conf_dir, settings["start"], "teacher"), task_dir / "POSCAR", settings["supercell"])
    md = {k: v for k, v in reference.items() if k != "type"}
    if ensemble == "npt":
        md["pressure_bar"] = settings["pressure_bar"]
    write_task(task_dir, ensemble, {"temperature_K": temperature_K, "seed": settings["seed"], **md})


def reference_file(pattern: str, conf_dir: Path) -> Path:
    """A supplied reference file: ``{conf}`` in ``pattern`` becomes the conf directory's name."""
    try:
        return Path(pattern.format(conf=conf_dir.name))
    except (KeyError, IndexError, ValueError):
        raise UserInputError(f"reference file {pattern!r}: only {{conf}} may appear in braces") from None


def check_reference_files(kind: str, reference: dict[str, Any], temperatures: Sequence[float], conf_dir: Path) -> None:
    """With ``reference.type: files``: one existing file per temperature for this conf."""
    if reference["type"] != "files":
        return
    if len(reference["files"]) != len(temperatures):
        raise UserInputError(f"{kind}: reference/files needs one file per temperature ({len(temperatures)}), "
                             f"got {len(reference['files'])}")
    for pattern in reference["files"]:
        path = reference_file(pattern, conf_dir)
        if not path.exists():
            raise UserInputError(f"{kind}: reference file {path} not found (for {conf_dir})")
