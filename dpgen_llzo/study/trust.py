"""Trust: the share of each result's MD frames that left the trained domain.

Every run writes the committee's force deviation to ``model_devi.out`` (``out_freq`` steps
apart; see :mod:`.tasks`). A frame is *above the trust level* when its largest atomic force
deviation ``max_devi_f`` ≥ ``f_trust_hi`` — the loop's rule for a frame it would not even
label (:func:`dpgen_llzo.loop.exploration.classify_deviation`). A result (a temperature of a
section, pooled over its runs) is flagged when more than ``max_share_above_hi`` of its frames
are above it. With one model there is no deviation and trust is reported as unavailable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
from dargs import Argument

from dpgen_llzo.study.section import StudySection, register_section


def read_max_devi_f(path: Path) -> np.ndarray:
    """``max_devi_f`` (eV/Å) of every row of a ``model_devi.out``, streamed; non-finite rows are ``inf``."""
    from dpgen_llzo.loop.exploration_faults import parse_model_devi

    with open(path) as handle:
        _, rows = parse_model_devi(handle, path)
    return np.array([row.devi[3] if row.finite and row.width > 3 else np.inf for row in rows], dtype=float)


def trust_summary(max_devi_f: np.ndarray, f_trust_lo: float, f_trust_hi: float, max_share: float) -> dict[str, Any]:
    """Frames, shares in each of the loop's classes and the flag, from deviations (pure)."""
    from dpgen_llzo.loop.exploration import classify_deviation

    f = np.asarray(max_devi_f, dtype=float)
    if f.size == 0:
        return {"available": False, "reason": "no model_devi.out rows", "flagged": False}
    accurate, candidate, failed = classify_deviation(f, None, (f_trust_lo, f_trust_hi))
    share_hi = failed / f.size
    return {
        "available": True, "frames": int(f.size), "f_trust_lo_eV_A": f_trust_lo, "f_trust_hi_eV_A": f_trust_hi,
        "share_above_lo": (candidate + failed) / f.size, "share_above_hi": share_hi,
        "max_devi_f_max_eV_A": float(np.max(f)), "max_devi_f_median_eV_A": float(np.median(f)),
        "max_share_above_hi": max_share, "flagged": bool(share_hi > max_share),
    }


def trust_of_runs(directories: Iterable[Path], levels: dict[str, float], n_models: int) -> dict[str, Any]:
    """Trust of a result made of the runs in ``directories`` (their deviations pooled)."""
    if n_models < 2:
        return {"available": False, "reason": "one model: no committee deviation", "flagged": False}
    values = []
    for directory in directories:  # a resumed heating ramp adds model_devi.from_NNN.out
        for path in sorted(Path(directory).glob("model_devi*.out")):
            values.append(read_max_devi_f(path))
    if not values:
        return {"available": False, "reason": "no model_devi.out written", "flagged": False}
    return trust_summary(np.concatenate(values), levels["f_trust_lo"], levels["f_trust_hi"], levels["max_share_above_hi"])


def trust_levels(plan: dict[str, Any], section: dict[str, Any] | None = None) -> dict[str, float]:
    """The plan's trust levels, with a section's own ``f_trust_lo``/``f_trust_hi`` when it sets them (> 0)."""
    levels = {k: plan["trust"][k] for k in ("f_trust_lo", "f_trust_hi", "max_share_above_hi")}
    for key in ("f_trust_lo", "f_trust_hi"):
        if section and section.get(key, 0) > 0:
            levels[key] = section[key]
    return levels


def collect_trust(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``trust`` entry in the section results, as rows (result path, shares, flag)."""
    rows = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            if "trust" in value and isinstance(value["trust"], dict):
                rows.append({"result": path, **value["trust"]})
            for key, sub in value.items():
                if key != "trust":
                    walk(sub, f"{path}/{key}" if path else key)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                label = sub.get("label") if isinstance(sub, dict) else None
                walk(sub, f"{path}[{label or index}]")

    walk(results, "")
    return rows


@register_section("trust", summary="share of every result's frames above the committee's upper trust level", order=90)
class TrustSection(StudySection):
    """Section 5: the trust levels (plan key ``trust``) and the summary of every result's trust."""

    title = "Trust: frames outside the trained domain"

    @classmethod
    def arguments(cls) -> list[Argument]:
        return [
            Argument("out_freq", int, optional=True, default=10, doc="Steps between committee deviations in model_devi.out."),
            Argument("f_trust_lo", float, optional=True, default=0.12, doc="Lower force trust level, eV/Å (param/distill: 0.12)."),
            Argument("f_trust_hi", float, optional=True, default=0.45, doc="Upper force trust level, eV/Å (param/distill: 0.45); frames at or above it left the trained domain."),
            Argument("max_share_above_hi", float, optional=True, default=0.01, doc="A result is flagged when more than this share of its frames are above f_trust_hi."),
            Argument("exclude_untrusted", bool, optional=True, default=False, doc="Leave flagged temperatures out of the Arrhenius fits (they are always flagged)."),
        ]

    def analyze(self, results: dict[str, Any]) -> dict[str, Any]:
        rows = collect_trust(results)
        flagged = [r["result"] for r in rows if r.get("flagged")]
        return {"n_models": len(self.context.models), "levels": trust_levels(self.context.plan),
                "results": rows, "flagged": flagged, "any_flagged": bool(flagged)}

    def report(self, result: dict[str, Any]) -> list[str]:
        lines = [f"Committee of {result['n_models']} models; upper trust level {result['levels']['f_trust_hi']:g} eV/Å "
                 f"(GB cells may set their own); a result is flagged above {100 * result['levels']['max_share_above_hi']:g} % "
                 "of its frames.", ""]
        if not result["results"]:
            return lines + ["No result carries a deviation."]
        lines += ["| result | frames | ≥ lo | ≥ hi | max devi_f (eV/Å) | flag |", "|---|---|---|---|---|---|"]
        for row in result["results"]:
            if not row.get("available"):
                lines.append(f"| {row['result']} | – | – | – | – | {row.get('reason', 'n/a')} |")
                continue
            lines.append(f"| {row['result']} | {row['frames']} | {100 * row['share_above_lo']:.1f} % | "
                         f"{100 * row['share_above_hi']:.1f} % | {row['max_devi_f_max_eV_A']:.3g} | "
                         f"{'**LEFT THE TRAINED DOMAIN**' if row['flagged'] else 'ok'} |")
        return lines
