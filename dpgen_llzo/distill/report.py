"""The shipped report of a distilled potential: report.json, report.md and plots.

Pure formatting of results computed elsewhere (:mod:`.workflow`, :mod:`.curves`), plus the
plot writers; files are written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Targets of issue #12 (held-out against the teacher).
TARGETS = {"force_rmse_meV_A": 100.0, "energy_rmse_meV_atom": 2.0, "pressure_rmse_GPa": 0.3}


def target_check(errors: dict[str, float]) -> dict[str, bool]:
    """Which held-out targets a set of errors meets."""
    return {key: bool(errors.get(key, np.inf) <= limit) for key, limit in TARGETS.items()}


def plot_ev(curves: dict[str, dict[str, Any]], path: Path, student: str, teacher: str) -> Path:
    """E–V curves of each phase, student (line) and teacher (markers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dpgen_llzo.atomic_io import save_figure_atomic

    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.6), squeeze=False)
    for ax, (phase, curve) in zip(axes[0], curves.items()):
        v = curve["volume_A3_atom"]
        ax.plot(v, np.asarray(curve[teacher]) * 1000, "o", label=teacher)
        ax.plot(v, np.asarray(curve[student]) * 1000, "-", label=f"{student} (DP)")
        ax.set(xlabel="volume (Å³/atom)", ylabel="E − E_min (meV/atom)", title=phase)
        ax.legend()
    fig.tight_layout()
    return save_figure_atomic(fig, path)


def plot_dimers(curves: dict[str, dict[str, Any]], path: Path, student: str, teacher: str) -> Path:
    """Two-body curves of every element pair, symlog energy axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dpgen_llzo.atomic_io import save_figure_atomic

    n = len(curves)
    cols = 5
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, (pair, curve) in zip(axes.ravel(), curves.items()):
        r = curve["distance_A"]
        ax.plot(r, curve[teacher], "o", ms=3, label=teacher)
        ax.plot(r, curve[student], "-", label="DP")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set(title=pair, xlabel="r (Å)", ylabel="E (eV)")
        ax.axvline(1.1, color="grey", lw=0.5, ls=":")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure_atomic(fig, path)


def plot_parity(pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], path: Path) -> Path:
    """Energy and force parity of the held-out set, coloured by class.

    ``pairs[class] = (energy_teacher, energy_student, force_teacher, force_student)``, eV/atom and eV/Å.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dpgen_llzo.atomic_io import save_figure_atomic

    fig, (ax_e, ax_f) = plt.subplots(1, 2, figsize=(9, 4))
    for name, (e_ref, e_pred, f_ref, f_pred) in pairs.items():
        ax_e.plot(e_ref, e_pred, ".", label=name)
        ax_f.plot(f_ref, f_pred, ".", ms=1, label=name)
    for ax, unit in ((ax_e, "eV/atom"), (ax_f, "eV/Å")):
        lims = ax.get_xlim()
        ax.plot(lims, lims, "k-", lw=0.5)
        ax.set(xlabel=f"teacher ({unit})", ylabel=f"student ({unit})")
    ax_e.set_title("energy")
    ax_f.set_title("force components")
    ax_e.legend(fontsize=7)
    fig.tight_layout()
    return save_figure_atomic(fig, path)


def _row(name: str, e: dict[str, float]) -> str:
    return (f"| {name} | {e['n_frames']} | {e['force_rmse_meV_A']:.0f} | {e['energy_rmse_meV_atom']:.2f} | "
            f"{e['virial_rmse_meV_atom']:.1f} | {e['pressure_rmse_GPa']:.3f} | {e['force_ref_rms_meV_A']:.0f} |")


def report_markdown(report: dict[str, Any]) -> str:
    """The human-readable report (``report.md``)."""
    held = report["heldout"]
    lines = [
        f"# {report['name']}: a Deep Potential of LLZO distilled from {report['teacher']}",
        "",
        f"Student: TensorFlow se_e2_a (rcut 6 Å, embedding 10-20-40, fitting 120-120-120) with the ZBL pair "
        f"baseline inside the model; teacher `{report['teacher']}` ({report.get('teacher_version', '')}). "
        f"Reproduce: `{report['command']}`.",
        "",
        "## Held-out errors against the teacher",
        "",
        "Frames sampled by the student's own MD (seeds and cells never trained on), labelled by the teacher.",
        "",
        "| class | frames | force RMSE (meV/Å) | energy RMSE (meV/atom) | virial RMSE (meV/atom) | pressure RMSE (GPa) | force RMS of the labels (meV/Å) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, errors in held["per_class"].items():
        lines.append(_row(name, errors))
    if held.get("condensed"):
        lines.append(_row("**all but dimers**", held["condensed"]))
    lines.append(_row("**all**", held["overall"]))
    checks = target_check(held.get("condensed") or held["overall"])
    lines += ["", "Targets (all but dimers): " + ", ".join(
        f"{key} ≤ {TARGETS[key]:g}: {'met' if ok else 'not met'}" for key, ok in checks.items()), ""]
    lattice = report.get("lattice") or {}
    if lattice:
        lines += ["## 0 K cell parameters (relaxed positions and cell)", "",
                  "| phase | quantity | student (Å) | teacher (Å) | difference |", "|---|---|---|---|---|"]
        for phase, values in lattice.items():
            for key in ("a", "b", "c"):
                s, t = values["student"][f"{key}_A"], values["teacher"][f"{key}_A"]
                lines.append(f"| {phase} | {key} | {s:.4f} | {t:.4f} | {100 * (s - t) / t:+.2f} % |")
            converged = values["student"]["converged"] and values["teacher"]["converged"]
            if not converged:
                lines.append(f"| {phase} | (relaxation not converged: student {values['student']['steps']} steps, "
                             f"teacher {values['teacher']['steps']} steps, fmax {values['teacher']['fmax_eV_A']} eV/Å) | | | |")
        lines.append("")
    if report.get("dimers_repulsive_below_1p1A") is not None:
        lines += ["## Short range", "",
                  "Every element pair repulsive below 1.1 Å (isolated pair, student): "
                  + ("yes" if all(report["dimers_repulsive_below_1p1A"].values()) else
                     "no: " + ", ".join(k for k, v in report["dimers_repulsive_below_1p1A"].items() if not v)), ""]
    stability = report.get("stability") or {}
    if stability:
        lines += ["## MD stability (NPT, 1 bar)", "",
                  "| run | atoms | T (K) | ps | closest pair (Å) | volume drift after the first 10 % | volume vs the 0 K start | collapsed |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, run in stability.items():
            lines.append(f"| {name} | {run['natoms']} | {run['temperature_K']:.0f} | {run['time_ps']:.1f} | "
                         f"{run['closest_pair_A']:.2f} | {100 * run['volume_change']:.1f} % | "
                         f"{100 * run.get('volume_change_from_start', float('nan')):+.1f} % | {'yes' if run['collapsed'] else 'no'} |")
        lines.append("")
    data = report.get("data") or {}
    if data:
        lines += ["## Data and run", "", f"- training frames: {data.get('frames_total')} ({data.get('frames_init')} initial, "
                  f"{data.get('frames_loop')} labelled by the loop in {data.get('iterations')} iterations)",
                  f"- final training: {data.get('final_steps')} steps, {data.get('n_models')} models",
                  f"- wall time: {data.get('wall_time_min', float('nan')):.0f} min on {data.get('cores', 2)} cores", ""]
    lines += ["Plots: `parity.png`, `ev.png`, `dimers.png`.", ""]
    return "\n".join(lines)
