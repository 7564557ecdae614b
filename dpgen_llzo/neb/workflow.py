"""One hop from end points to barriers: model NEB, teacher on the same path, teacher NEB; outputs.

Energies eV, forces eV/Å, distances Å. Barriers are differences of energies along one
calculator's path, so model and teacher need not share an energy zero.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from dpgen_llzo.neb.endpoints import Hop
from dpgen_llzo.neb.path import PathResult, evaluate_path, interpolate_path, relax, run_neb

log = logging.getLogger(__name__)

#: A relaxed end point whose moving atom shifted more than this (Å) left its site.
SITE_SHIFT_WARNING_A = 0.5


def _shift(before, after, index: int) -> float:
    from ase.geometry import find_mic

    _, length = find_mic((after.positions[index] - before.positions[index])[None], before.cell, pbc=before.pbc)
    return float(length[0])


def relaxed_end_points(hop: Hop, calculator, fmax: float, steps: int, relax_end_points: bool = True, logfile=None):
    """The end points relaxed with ``calculator`` (or only evaluated), and what happened to them."""
    from dpgen_llzo.neb.path import _frozen

    ends, info = [], {}
    for label, atoms in (("initial", hop.initial), ("final", hop.final)):
        if relax_end_points:
            relaxed, converged, taken = relax(atoms, calculator, fmax, steps, logfile=logfile)
        else:
            relaxed = atoms.copy()
            relaxed.calc = calculator
            relaxed = _frozen(relaxed, relaxed.get_potential_energy(), relaxed.get_forces())
            converged, taken = None, 0
        shift = _shift(atoms, relaxed, hop.moving_atom)
        if shift > SITE_SHIFT_WARNING_A:
            log.warning("%s end point: the moving atom relaxed %.2f Å away from its site", label, shift)
        info[label] = {"energy_eV": float(relaxed.get_potential_energy()), "relax_converged": converged,
                       "relax_steps": taken, "moving_atom_shift_A": shift,
                       "max_force_eV_A": float(np.linalg.norm(relaxed.get_forces(), axis=1).max())}
        ends.append(relaxed)
    return ends, info


def hop_barrier(
    hop: Hop,
    calculator,
    teacher=None,
    teacher_name: str = "",
    n_images: int = 7,
    fmax: float = 0.05,
    steps: int = 500,
    optimizer: str = "FIRE",
    climb: bool = True,
    spring: float = 0.1,
    relax_end_points: bool = True,
    relax_steps: int = 300,
    interpolation: str = "auto",
    teacher_neb: bool = False,
    teacher_steps: int | None = None,
    logfile=None,
    on_stage=None,
) -> tuple[dict[str, Any], dict[str, PathResult]]:
    """Barrier of one hop with ``calculator``, and with ``teacher`` on the same path if given.

    Parameters
    ----------
    hop
        End points and path guess (:mod:`dpgen_llzo.neb.endpoints`).
    calculator
        The model (an ASE calculator, e.g. ``deepmd.calculator.DP``).
    teacher
        Another ASE calculator: it evaluates the model's converged images; with ``teacher_neb``
        it also relaxes its own end points and re-optimises the band from the model's path.
    teacher_name
        Name of the teacher for the report.
    n_images
        Images between the end points.
    fmax
        Convergence of the band and of the end points, eV/Å.
    steps, relax_steps, teacher_steps
        Largest optimizer steps of the band, of each end point, of the teacher's band.
    optimizer, climb, spring
        Band optimizer (``FIRE``/``BFGS``/``MDMin``), climbing image, spring constant (eV/Å²).
    relax_end_points
        Relax the end points first (fixed cell); otherwise they are taken as given.
    interpolation
        ``auto`` (the hop's waypoints when it has more than two, else IDPP), ``linear`` or ``idpp``.
    on_stage
        Called as ``on_stage(report, paths)`` after each finished stage (the model's band, the
        teacher on it, the teacher's band), e.g. to write the results so far.

    Returns
    -------
    tuple
        ``(report, paths)``: a JSON-ready report and the :class:`PathResult` of ``model``,
        ``teacher_on_model_path`` and ``teacher_neb`` (those computed).
    """
    if interpolation == "auto":
        interpolation = "linear" if len(hop.waypoints) > 2 else "idpp"
    ends, end_info = relaxed_end_points(hop, calculator, fmax, relax_steps, relax_end_points, logfile)
    guess = interpolate_path(ends[0], ends[1], n_images, hop.moving_atom,
                             hop.waypoints if interpolation == "linear" else None, interpolation)
    model = run_neb(guess, calculator, fmax, steps, climb, optimizer, spring, logfile)
    paths = {"model": model}
    report: dict[str, Any] = {
        "hop": hop.name, "description": hop.description, "sites": hop.sites,
        "natoms": len(hop.initial), "formula": hop.initial.get_chemical_formula(), "moving_atom": hop.moving_atom,
        "settings": {"images": n_images, "fmax_eV_A": fmax, "steps": steps, "optimizer": optimizer, "climb": climb,
                     "spring_eV_A2": spring, "relax_end_points": relax_end_points, "interpolation": interpolation},
        "end_points": end_info,
        "model": model.summary(),
    }
    if not model.converged:
        log.warning("the model's band did not converge in %d steps (max force %.3f eV/Å)", steps, model.max_force)
    if on_stage:
        on_stage(report, paths)
    if teacher is not None:
        on_path = evaluate_path(model.images, teacher)
        paths["teacher_on_model_path"] = on_path
        report["teacher"] = teacher_name
        report["teacher_on_model_path"] = on_path.summary()
        errors = {"model_minus_teacher_on_model_path": model.barriers()["barrier_forward_eV"] - on_path.barriers()["barrier_forward_eV"]}
        report["barrier_error_eV"] = errors
        if on_stage and teacher_neb:
            on_stage(report, paths)
        if teacher_neb:
            teacher_hop = Hop(hop.name, model.images[0], model.images[-1], hop.moving_atom, hop.waypoints, hop.description)
            teacher_ends, teacher_end_info = relaxed_end_points(teacher_hop, teacher, fmax, relax_steps, relax_end_points, logfile)
            start = [teacher_ends[0], *[image.copy() for image in model.images[1:-1]], teacher_ends[1]]
            own = run_neb(start, teacher, fmax, teacher_steps or steps, climb, optimizer, spring, logfile)
            paths["teacher_neb"] = own
            report["teacher_neb"] = {**own.summary(), "end_points": teacher_end_info}
            errors["model_minus_teacher_neb"] = model.barriers()["barrier_forward_eV"] - own.barriers()["barrier_forward_eV"]
            errors["model_minus_teacher_neb_backward"] = model.barriers()["barrier_backward_eV"] - own.barriers()["barrier_backward_eV"]
        report["barrier_error_eV"] = errors
    return report, paths


def csv_text(paths: dict[str, PathResult]) -> str:
    """One row per image: reaction coordinate (Å) and energy relative to image 0 (eV) of each path."""
    columns = [("coordinate_A", "model", "coordinate"), ("model_eV", "model", "energy"),
               ("teacher_on_model_path_eV", "teacher_on_model_path", "energy"),
               ("teacher_neb_coordinate_A", "teacher_neb", "coordinate"), ("teacher_neb_eV", "teacher_neb", "energy")]
    columns = [c for c in columns if c[1] in paths]
    rows = ["image," + ",".join(name for name, _, _ in columns)]
    for index in range(len(paths["model"].energies)):
        values = []
        for _, key, what in columns:
            path = paths[key]
            value = path.coordinate[index] if what == "coordinate" else path.energies[index] - path.energies[0]
            values.append(f"{value:.6f}")
        rows.append(f"{index}," + ",".join(values))
    return "\n".join(rows) + "\n"


def plot_paths(paths: dict[str, PathResult], report: dict[str, Any], path: str | os.PathLike) -> None:
    """Energy (relative to the initial state, eV) against the reaction coordinate (Å), PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from dpgen_llzo.atomic_io import save_figure_atomic

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    teacher = report.get("teacher", "teacher")
    styles = {"model": ("C0", "o", 8, "model NEB"), "teacher_on_model_path": ("C1", "s", 5, f"{teacher} on the model's path"),
              "teacher_neb": ("C2", "^", 5, f"{teacher} NEB")}
    for key, result in paths.items():
        color, marker, size, label = styles[key]
        barrier = result.barriers()["barrier_forward_eV"]
        x_fit, y_fit = result.curve()  # a spline through energies and forces along the path
        ax.plot(x_fit, y_fit, "-", color=color, lw=1.2)
        ax.plot(result.coordinate, result.energies - result.energies[0], marker, ms=size, ls="none",
                color=color, mfc="none" if key == "model" else color, label=f"{label}: {barrier:.3f} eV")
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("E − E(initial) (eV)")
    ax.set_title(f"{report['hop']}: {report['formula']}", fontsize=9)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def write_outputs(report: dict[str, Any], paths: dict[str, PathResult], output: str | os.PathLike) -> Path:
    """``neb.json``, ``neb.csv``, ``neb.png``, the bands as extended XYZ and the relaxed end points
    (``initial.vasp``/``final.vasp``; ``.xyz`` without a cell)."""
    from ase.io import write

    from dpgen_llzo.atomic_io import replace_with, write_json_atomic, write_text_atomic

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for key, result in paths.items():
        replace_with(output / f"path_{key}.extxyz", lambda tmp, images=result.images: write(tmp, images, format="extxyz"))
    for label, image in (("initial", paths["model"].images[0]), ("final", paths["model"].images[-1])):
        if image.cell.rank == 3:
            replace_with(output / f"{label}.vasp", lambda tmp, image=image: write(tmp, image, format="vasp", direct=True))
        else:  # no cell: POSCAR cannot hold it
            replace_with(output / f"{label}.xyz", lambda tmp, image=image: write(tmp, image, format="extxyz"))
    write_text_atomic(output / "neb.csv", csv_text(paths))
    plot_paths(paths, report, output / "neb.png")
    write_json_atomic(output / "neb.json", report)
    return output
