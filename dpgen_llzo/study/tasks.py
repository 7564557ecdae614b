"""LAMMPS runs of the study: the :class:`Run` record, the cells and the ``in.lammps`` texts.

Every run is one directory ``DIR/runs/<section>/<name>/`` holding ``conf.lmp``, ``in.lammps``,
links to the committee (``../../../models/model_N.pb``) and ``run.json`` (its settings); it
runs ``lmp -i in.lammps`` with the ``model_devi`` section of the machine file. Inputs:

* ``md_input``: velocities at T, an equilibration run, ``reset_timestep 0``, the production
  run (``fix nvt`` or ``fix npt ... aniso``) — the layout of the autotest NPT tasks, so
  :func:`dpgen_llzo.autotest.md_tasks.npt_thermo_rows` reads the production rows of its log;
  thermo rows ``step temp pe press vol lx ly lz xy xz yz cella cellb cellc``; production
  frames in ``dump.lammpstrj`` (``id type x y z ix iy iz``, sorted by id) when asked.
* ``ramp_input``: stepwise NPT heating, one LAMMPS run through every temperature. Each step
  equilibrates, writes its production thermo rows to ``step_NNN.log`` (and frames to
  ``step_NNN.lammpstrj``), then its final state to ``step_NNN.data`` (velocities included,
  written to a temporary name and moved). A resumed ramp starts from the last complete step.

With two or more models ``pair_style deepmd m0 m1 ... out_freq N out_file model_devi.out``
writes the committee's force deviation every N steps (the first model drives the MD, the
others are evaluated only on those steps); ``pair_coeff * * Li La Zr O`` maps the LAMMPS
types to each model's type map by name. Units: K, fs, bar, Å.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from dpgen_llzo.atomic_io import write_json_atomic, write_text_atomic
from dpgen_llzo.study.section import TYPE_MAP

THERMO_COLUMNS = "step temp pe press vol lx ly lz xy xz yz cella cellb cellc"
DUMP_COLUMNS = "id type x y z ix iy iz"
MODEL_DEVI = "model_devi.out"


@dataclass
class Run:
    """One LAMMPS run of a section.

    Attributes
    ----------
    name
        Directory under ``DIR/runs`` (``bulk/nvt_T1000_s1``).
    section
        Section that owns it (progress lines).
    prepare
        Writes the run's inputs; called once every run in ``depends`` has finished.
    finished
        True when the run's results are complete (a resumed study skips it).
    depends
        Names of the runs it needs first.
    outputs
        Files dpdispatcher brings back.
    cost
        Atoms × steps, to balance the jobs.
    """

    name: str
    section: str
    prepare: Callable[[], None]
    finished: Callable[[], bool]
    depends: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("log.lammps", MODEL_DEVI)
    cost: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)


def lammps_finished(directory: Path) -> bool:
    """``log.lammps`` of a run that ended normally."""
    log = directory / "log.lammps"
    if not log.is_file():
        return False
    with open(log, "rb") as handle:
        handle.seek(max(0, os.path.getsize(log) - 4096))
        return b"Total wall time" in handle.read()


def write_cell(structure, directory: Path) -> Path:
    """Write ``structure`` (pymatgen) as ``POSCAR`` and ``conf.lmp`` (types in TYPE_MAP order)."""
    import dpdata

    directory.mkdir(parents=True, exist_ok=True)
    poscar = directory / "POSCAR"
    write_text_atomic(poscar, structure.to(fmt="poscar"))
    system = dpdata.System(str(poscar), fmt="vasp/poscar")
    system.sort_atom_names(type_map=list(TYPE_MAP))
    tmp = directory / ".conf.lmp.tmp"
    system.to("lammps/lmp", str(tmp))
    os.replace(tmp, directory / "conf.lmp")
    return directory / "conf.lmp"


def link_models(directory: Path, models_dir: Path, models: Sequence[str]) -> None:
    """Relative links ``directory/<model>`` → ``models_dir/<model>`` (replaced when present)."""
    for name in models:
        link = directory / name
        target = os.path.relpath(models_dir / name, directory)
        if link.is_symlink() or link.exists():
            if link.is_symlink() and os.readlink(link) == target:
                continue
            link.unlink()
        link.symlink_to(target)


def pair_lines(models: Sequence[str], out_freq: int, devi_file: str = MODEL_DEVI) -> list[str]:
    """``pair_style``/``pair_coeff`` of the committee (deviation output with ≥ 2 models)."""
    style = "pair_style      deepmd " + " ".join(models)
    if len(models) > 1:
        style += f" out_freq {out_freq} out_file {devi_file}"
    return [style, "pair_coeff      * * " + " ".join(TYPE_MAP)]


def _header(title: str, conf: str, models: Sequence[str], out_freq: int, timestep_fs: float,
            devi_file: str = MODEL_DEVI) -> list[str]:
    from dpgen_llzo.analysis.trajectory import atomic_mass

    return [
        f"# dpgen-llzo study: {title}",
        "units           metal", "boundary        p p p", "atom_style      atomic",
        f"read_data       {conf}",
        *[f"mass            {i + 1} {atomic_mass(e):.5f}" for i, e in enumerate(TYPE_MAP)],
        "neighbor        1.0 bin", "neigh_modify    delay 0 every 1 check yes",
        *pair_lines(models, out_freq, devi_file),
        f"timestep        {timestep_fs / 1000.0:g}",
        f"thermo_style    custom {THERMO_COLUMNS}", "thermo_modify   flush yes",
    ]


def thermostat(ensemble: str, temperature_K: float, md: dict[str, Any]) -> str:
    """The ``fix md`` line of an NVT or (anisotropic) NPT run."""
    tau_t = md["tau_t_fs"] / 1000.0
    if ensemble == "nvt":
        return f"fix             md all nvt temp {temperature_K:g} {temperature_K:g} {tau_t:g}"
    if ensemble != "npt":
        raise ValueError(f"unknown ensemble {ensemble!r}")
    p, tau_p = md["pressure_bar"], md["tau_p_fs"] / 1000.0
    return f"fix             md all npt temp {temperature_K:g} {temperature_K:g} {tau_t:g} aniso {p:g} {p:g} {tau_p:g}"


def md_input(models: Sequence[str], temperature_K: float, velocity_seed: int, ensemble: str, md: dict[str, Any],
             *, equilibration_steps: int, n_steps: int, thermo_every: int, dump_every: int = 0,
             out_freq: int = 10, title: str = "") -> str:
    """``in.lammps`` of one NVT/NPT run (see the module docstring).

    Parameters
    ----------
    md
        ``timestep_fs``, ``tau_t_fs``, ``tau_p_fs``, ``pressure_bar`` (the plan's common keys).
    dump_every
        Steps between production frames in ``dump.lammpstrj``; 0 writes none.
    """
    lines = _header(title or f"{ensemble.upper()} at {temperature_K:g} K", "conf.lmp", models, out_freq,
                    md["timestep_fs"])
    lines += [
        f"velocity        all create {temperature_K:g} {velocity_seed} dist gaussian mom yes rot yes",
        thermostat(ensemble, temperature_K, md),
        f"thermo          {max(1, equilibration_steps)}",
        f"run             {equilibration_steps}",
        "reset_timestep  0",
        f"thermo          {thermo_every}",
    ]
    if dump_every:
        lines += [f"dump            traj all custom {dump_every} dump.lammpstrj {DUMP_COLUMNS}",
                  "dump_modify     traj sort id"]
    lines.append(f"run             {n_steps}")
    return "\n".join(lines) + "\n"


def ramp_step_files(index: int) -> tuple[str, str, str]:
    """(log, dump, data) file names of heating step ``index``."""
    return f"step_{index:03d}.log", f"step_{index:03d}.lammpstrj", f"step_{index:03d}.data"


def ramp_done_steps(directory: Path, n_steps: int) -> int:
    """How many heating steps of a ramp are complete (their ``step_NNN.data`` exists), in order."""
    done = 0
    while done < n_steps and (directory / ramp_step_files(done)[2]).is_file():
        done += 1
    return done


def ramp_input(models: Sequence[str], temperatures_K: Sequence[float], velocity_seed: int, md: dict[str, Any], *,
               equilibration_steps: int, n_steps: int, thermo_every: int, dump_every: int = 0,
               out_freq: int = 10, start: int = 0, devi_file: str = MODEL_DEVI) -> str:
    """``in.lammps`` of stepwise NPT heating from step ``start`` (0: from ``conf.lmp`` with new velocities)."""
    conf = "conf.lmp" if start == 0 else ramp_step_files(start - 1)[2]
    lines = _header(f"NPT heating {temperatures_K[0]:g}-{temperatures_K[-1]:g} K, from step {start}", conf, models,
                    out_freq, md["timestep_fs"], devi_file)
    if start == 0:
        lines.append(f"velocity        all create {temperatures_K[0]:g} {velocity_seed} dist gaussian mom yes rot yes")
    for index in range(start, len(temperatures_K)):
        temperature = temperatures_K[index]
        log, dump, data = ramp_step_files(index)
        lines += [
            f'print           "dpgen-llzo study: heating step {index} at {temperature:g} K"',
            thermostat("npt", temperature, md),
            f"thermo          {max(1, equilibration_steps)}",
            f"run             {equilibration_steps}",
            "reset_timestep  0",
            f"log             {log}",
            f"thermo          {thermo_every}",
        ]
        if dump_every:
            lines += [f"dump            traj all custom {dump_every} {dump} {DUMP_COLUMNS}", "dump_modify     traj sort id"]
        lines.append(f"run             {n_steps}")
        if dump_every:
            lines.append("undump          traj")
        lines += ["log             log.lammps append", "unfix           md",
                  f"write_data      {data}.tmp nocoeff", f"shell           mv {data}.tmp {data}"]
    return "\n".join(lines) + "\n"


def write_run_files(directory: Path, text: str, info: dict[str, Any], models_dir: Path, models: Sequence[str]) -> None:
    """``in.lammps``, ``run.json`` and the model links of a run (its ``conf.lmp`` is written before)."""
    directory.mkdir(parents=True, exist_ok=True)
    link_models(directory, models_dir, models)
    write_text_atomic(directory / "in.lammps", text)
    write_json_atomic(directory / "run.json", info)


def read_run_info(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "run.json").read_text())


def velocity_seed(seed: int, temperature_K: float, salt: int = 0) -> int:
    """A distinct LAMMPS velocity seed per (plan seed, temperature, run kind): positive, < 2³¹."""
    return (seed * 100003 + int(round(temperature_K)) * 101 + salt * 7919) % 2147483000 + 1
