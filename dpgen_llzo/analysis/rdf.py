"""Partial radial distribution functions, coordination numbers and RDF comparison.

``g_ab(r)`` for every element pair, averaged over frames, in any (triclinic) cell: the b atoms
are replicated over every periodic image within ``r_max`` (the number of images along each
lattice vector is ``ceil(r_max / width)``, width = perpendicular plane spacing), so ``r_max``
may exceed half the cell. Per frame,

    g_ab(r) = V n_ab(r) / (N_a N_b' 4π/3 [(r+dr)³ − r³]),   N_b' = N_b − (a == b),

where ``n_ab`` counts ordered (a, b) pairs in the shell; frames are averaged. The running
coordination number ``CN_ab(r)`` (b atoms around an a atom within r) is the cumulative count
/ N_a, and the reported coordination uses the first minimum after the first peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from dpgen_llzo.analysis._registries import ANALYSES
from dpgen_llzo.analysis.trajectory import Frame, cell_volume, plane_spacings
from dpgen_llzo.errors import UserInputError


@dataclass
class RDFResult:
    """Partial RDFs on a common grid.

    Attributes
    ----------
    r_A
        Bin centres, Å.
    g
        ``"A-B"`` → g(r).
    cn
        ``"A-B"`` → running coordination number of B around A at the bin's upper edge.
    n_frames
        Frames averaged.
    """

    r_A: np.ndarray
    g: dict[str, np.ndarray]
    cn: dict[str, np.ndarray] = field(default_factory=dict)
    n_frames: int = 0

    @property
    def dr_A(self) -> float:
        return float(self.r_A[1] - self.r_A[0])

    def summary(self, pair: str) -> dict:
        """First peak position/height, first minimum and coordination number of ``pair``."""
        peak, minimum = first_peak_and_minimum(self.r_A, self.g[pair])
        out = {"first_peak_A": float(self.r_A[peak]) if peak is not None else None,
               "first_peak_g": float(self.g[pair][peak]) if peak is not None else None,
               "first_min_A": None, "coordination": None}
        if minimum is not None:
            out["first_min_A"] = float(self.r_A[minimum])
            out["coordination"] = float(self.cn[pair][minimum]) if pair in self.cn else None
        return out

    def to_dict(self) -> dict:
        return {"r_A": self.r_A, "n_frames": self.n_frames,
                "pairs": {p: {"g": self.g[p], "cn": self.cn.get(p), **self.summary(p)} for p in self.g}}

    @classmethod
    def from_dict(cls, data: dict, source: str = "RDF JSON") -> "RDFResult":
        try:
            r = np.asarray(data["r_A"], dtype=float)
            g = {p: np.asarray(v["g"], dtype=float) for p, v in data["pairs"].items()}
            cn = {p: np.asarray(v["cn"], dtype=float) for p, v in data["pairs"].items() if v.get("cn") is not None}
        except (KeyError, TypeError, AttributeError):
            raise UserInputError(f"{source}: not an RDF file (needs r_A and pairs.*.g)") from None
        return cls(r, g, cn, int(data.get("n_frames", 0)))


def default_pairs(elements: Sequence[str]) -> list[tuple[str, str]]:
    """All pairs (a, b) with a before or equal to b in ``elements`` order."""
    return [(a, b) for i, a in enumerate(elements) for b in elements[i:]]


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``"Li-O,Zr-O"`` → ``[("Li", "O"), ("Zr", "O")]``."""
    pairs = []
    for item in text.split(","):
        parts = item.strip().split("-")
        if len(parts) != 2 or not all(parts):
            raise UserInputError(f"bad pair {item!r}; write pairs as A-B, e.g. Li-O,Zr-O")
        pairs.append((parts[0], parts[1]))
    return pairs


def _image_shifts(cell: np.ndarray, r_max: float) -> np.ndarray:
    n = np.ceil(r_max / plane_spacings(cell)).astype(int)
    grid = np.mgrid[-n[0]:n[0] + 1, -n[1]:n[1] + 1, -n[2]:n[2] + 1].reshape(3, -1).T
    return grid @ cell


def frame_pair_counts(frame: Frame, pairs: Sequence[tuple[str, str]], edges: np.ndarray) -> dict:
    """Histogram of a–b distances (ordered pairs, self excluded) in one frame."""
    from scipy.spatial import cKDTree

    frac = frame.positions @ np.linalg.inv(frame.cell)
    cart = (frac - np.floor(frac)) @ frame.cell
    shifts = _image_shifts(frame.cell, edges[-1])
    out = {}
    trees = {}
    for a, b in pairs:
        pa, pb = cart[frame.symbols == a], cart[frame.symbols == b]
        if len(pa) == 0 or len(pb) == 0:
            missing = a if len(pa) == 0 else b
            raise UserInputError(f"element {missing!r} not in the frames (pair {a}-{b})")
        if b not in trees:
            trees[b] = cKDTree((pb[None, :, :] + shifts[:, None, :]).reshape(-1, 3))
        cumulative = cKDTree(pa).count_neighbors(trees[b], edges).astype(float)
        out[(a, b)] = (np.diff(cumulative), len(pa), len(pb))
    return out


def partial_rdf(frames: Iterable[Frame], pairs: Sequence[tuple[str, str]] | None = None,
                r_max_A: float = 8.0, dr_A: float = 0.02) -> RDFResult:
    """Frame-averaged partial RDFs and running coordination numbers.

    Parameters
    ----------
    frames
        Frames (any reader); positions need not be wrapped.
    pairs
        Element pairs; default every pair of the elements present.
    r_max_A, dr_A
        Range and bin width, Å.
    """
    if r_max_A <= 0 or dr_A <= 0 or dr_A >= r_max_A:
        raise UserInputError(f"need 0 < dr < r_max, got dr={dr_A}, r_max={r_max_A}")
    edges = np.arange(0.0, r_max_A + 0.5 * dr_A, dr_A)
    shell = 4.0 / 3.0 * math.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g_sum: dict[str, np.ndarray] = {}
    cn_sum: dict[str, np.ndarray] = {}
    n = 0
    for frame in frames:
        if pairs is None:
            present = list(dict.fromkeys(np.asarray(frame.symbols).tolist()))
            pairs = default_pairs(present)
        volume = float(cell_volume(frame.cell))
        for (a, b), (hist, na, nb) in frame_pair_counts(frame, pairs, edges).items():
            key = f"{a}-{b}"
            nb_eff = nb - 1 if a == b else nb
            g = hist * volume / (na * max(nb_eff, 1) * shell)
            g_sum[key] = g_sum.get(key, 0.0) + g
            cn_sum[key] = cn_sum.get(key, 0.0) + np.cumsum(hist) / na
        n += 1
    if n == 0:
        raise UserInputError("no frames to compute an RDF from")
    r = 0.5 * (edges[1:] + edges[:-1])
    return RDFResult(r, {k: v / n for k, v in g_sum.items()}, {k: v / n for k, v in cn_sum.items()}, n)


ANALYSES.register("rdf", summary="partial g(r) per element pair, coordination numbers, DP-vs-reference similarity")(
    partial_rdf)


def first_peak_and_minimum(r: np.ndarray, g: np.ndarray, smooth_A: float = 0.1) -> tuple[int | None, int | None]:
    """Indices of the first peak (first local maximum with g > 1) and of the first minimum after it.

    ``g`` is smoothed over ``smooth_A`` to step over noise. On a flat zero plateau (an ideal
    crystal) the minimum is the plateau's first bin, where the first shell is complete.
    """
    if not np.any(g > 1.0):
        return None, None
    width = max(3, int(round(smooth_A / (r[1] - r[0]))) | 1)
    gs = np.convolve(g, np.ones(width) / width, mode="same")
    i = int(np.argmax(g > 1.0))
    while i + 1 < len(gs) and gs[i + 1] >= gs[i]:
        i += 1
    lo, hi = max(0, i - width), min(len(g), i + width + 1)
    peak = lo + int(np.argmax(g[lo:hi]))
    j = i
    while j + 1 < len(gs) and gs[j + 1] <= gs[j]:
        j += 1
    if j + 1 >= len(gs) and gs[j] > 0.1 * gs[peak]:  # r_max cut the first valley short
        return peak, None
    floor = gs[j] + 1e-9 * max(1.0, float(gs[peak]))
    return peak, i + int(np.flatnonzero(gs[i:j + 1] <= floor)[0])


def rdf_similarity(first: RDFResult, second: RDFResult) -> tuple[float, dict[str, float]]:
    """One similarity number between two RDF sets, and per-pair values.

    ``S = 1 − Σ_pairs ∫|g₁ − g₂| dr / Σ_pairs ∫(g₁ + g₂) dr`` over the common pairs and r range
    (1 = identical, 0 = no overlap); ``second`` is interpolated onto ``first``'s grid.
    """
    common = [p for p in first.g if p in second.g]
    if not common:
        raise UserInputError(f"the two RDF sets share no pair ({sorted(first.g)} vs {sorted(second.g)})")
    r_hi = min(first.r_A[-1], second.r_A[-1])
    sel = first.r_A <= r_hi + 1e-12
    r = first.r_A[sel]
    diff_total = sum_total = 0.0
    per_pair = {}
    for p in common:
        g1 = first.g[p][sel]
        g2 = np.interp(r, second.r_A, second.g[p])
        d, s = np.trapezoid(np.abs(g1 - g2), r), np.trapezoid(g1 + g2, r)
        per_pair[p] = 1.0 - d / s if s > 0 else float("nan")
        diff_total += d
        sum_total += s
    return (1.0 - diff_total / sum_total if sum_total > 0 else float("nan")), per_pair
