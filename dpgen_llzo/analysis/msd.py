"""Mean-squared displacements over all time origins with FFTs.

For one coordinate series ``r(t)``, ``t = 0 … T−1``, the MSD at lag ``m`` averaged over the
``T − m`` origins is

    MSD(m) = S1(m) − 2 S2(m),
    S1(m) = [Σ_{t<T−m} |r(t)|² + Σ_{t≥m} |r(t)|²] / (T − m),
    S2(m) = Σ_{t<T−m} r(t)·r(t+m) / (T − m),

with ``S1`` from cumulative sums and the autocorrelation ``S2`` from a zero-padded FFT:
O(T log T) per ion instead of O(T²). Ions are processed in chunks so the FFT work arrays
stay below ``chunk_bytes``. Each ion's first position is subtracted first (the MSD does not
change) to keep the cancellation in ``S1 − 2 S2`` harmless.

The *masked* variant averages only over origins where a weight ``w_i(t0)`` is set (ion ``i``
in a region at time ``t0``): the three sums become cross-correlations with ``w`` and are
again FFTs. Units follow the input (Å → Å²).
"""

from __future__ import annotations

import numpy as np

DEFAULT_CHUNK_BYTES = 128 * 2**20


def _fft_len(n: int) -> int:
    from scipy.fft import next_fast_len

    return next_fast_len(2 * n, real=True)


def _gather(positions: np.ndarray, sl: slice, dtype: type, block: int = 512,
            length: int | None = None, buffer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ions ``sl`` as displacements ``r(t) − r(0)``, ``(ions, 3, T)`` of ``dtype``, plus ``|r − r(0)|²``.

    Positions stored ion-major (a ``(T, ions, 3)`` view of an ``(ions, 3, T)`` array, as
    :class:`~dpgen_llzo.analysis.trajectory.Trajectory` keeps them, or of ``(ions, T, 3)``) are
    read directly;
    frame-major arrays are copied in time blocks so the transposition stays in cache. The
    MSD does not depend on the origin of coordinates; measuring from r(0) keeps numbers small.
    A reused ``buffer`` must hold zeros beyond ``T`` (the FFT padding): only ``[:T]`` is written.
    ``|r|²`` is squared in ``dtype`` (each value rounded once, to ~1e-7 relative); callers sum it in
    float64.
    """
    n_frames = positions.shape[0]
    origin = np.asarray(positions[0, sl], dtype=float)
    n_sel = origin.shape[0]
    length = n_frames if length is None else length
    out = np.zeros((n_sel, 3, length), dtype=dtype) if buffer is None else buffer[:n_sel]
    if positions.strides[0] < positions.strides[1]:  # ion-major memory
        body = out[:, :, :n_frames]
        np.subtract(positions[:, sl].transpose(1, 2, 0), origin[:, :, None], out=body, casting="same_kind")
        return out, np.einsum("idt,idt->it", body, body)
    sq = np.empty((n_sel, n_frames))
    for t0 in range(0, n_frames, block):
        t1 = min(t0 + block, n_frames)
        chunk = np.asarray(positions[t0:t1, sl], dtype=float) - origin
        out[:, :, t0:t1] = chunk.transpose(1, 2, 0)
        sq[:, t0:t1] = np.einsum("tid,tid->it", chunk, chunk)
    return out, sq


def _chunks(n_frames: int, n_ions: int, chunk_bytes: int, factor: int = 6, per_ion_bytes: int | None = None):
    per_ion = per_ion_bytes or n_frames * 3 * 8 * factor
    step = max(1, int(chunk_bytes // per_ion))
    for start in range(0, n_ions, step):
        yield slice(start, min(start + step, n_ions))


def per_ion_msd(positions: np.ndarray, lags: np.ndarray | None = None, *, max_lag: int | None = None,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES, fft_dtype: type = np.float32
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Tracer MSD of every ion, averaged over all time origins.

    Parameters
    ----------
    positions
        ``(n_frames, n_ions, 3)`` unwrapped positions, Å.
    lags
        Frame lags (integers) at which to also return every ion's own MSD.
    max_lag
        Largest lag wanted (default ``n_frames − 1``); the FFT is padded to ``n_frames + max_lag``
        only, so asking for half the run saves a quarter of the work.
    fft_dtype
        Precision of the autocorrelation FFT. ``float32`` (default) is ~4× faster; ``S1`` and
        the final subtraction stay in float64, and the MSD error it leaves is ~1e-6 of the
        mean squared excursion ``⟨|r − r̄|²⟩`` (tested to < 1e-4 relative in fit windows).
        Pass ``np.float64`` for reference accuracy.

    Returns
    -------
    mean_msd
        ``(max_lag + 1,)`` MSD averaged over ions, Å², index = lag in frames.
    per_ion
        ``(len(lags), n_ions)`` each ion's MSD at ``lags`` (``None`` if ``lags`` is None).
    """
    from scipy.fft import irfft, next_fast_len, rfft

    n_frames, n_ions, _ = positions.shape
    max_lag = n_frames - 1 if max_lag is None else int(min(max_lag, n_frames - 1))
    if lags is not None and len(lags) and (int(np.max(lags)) > max_lag or int(np.min(lags)) < 0):
        raise ValueError("lags must lie in [0, max_lag]")
    nfft = next_fast_len(n_frames + max_lag, real=True)
    m = np.arange(max_lag + 1)
    s1_total = np.zeros(max_lag + 1)  # Σ_ions (T − m) S1
    s2_total = np.zeros(max_lag + 1)  # Σ_ions (T − m) S2
    keep = None if lags is None else np.zeros((len(lags), n_ions))
    per_ion_bytes = n_frames * (3 * np.dtype(fft_dtype).itemsize * 3 + 8 * 3)  # x, spectrum, |r|², cumsum
    chunks = list(_chunks(n_frames, n_ions, chunk_bytes, per_ion_bytes=per_ion_bytes))
    buffer = np.zeros((chunks[0].stop - chunks[0].start, 3, nfft), dtype=fft_dtype)  # reused; padding stays 0
    for sl in chunks:
        x, sq = _gather(positions, sl, fft_dtype, length=nfft, buffer=buffer)  # (ions, 3, nfft); (ions, T) |r|²
        if keep is not None:
            # each ion's running Σ|r|² is needed only at lags and T − lags: segment sums between
            # those points (one read of sq) instead of a full (ions, T) cumulative array
            cut = np.unique(np.concatenate([lags, n_frames - np.asarray(lags)]))
            cut = cut[(cut > 0) & (cut < n_frames)]
            segments = np.add.reduceat(sq, np.concatenate([[0], cut]), axis=1, dtype=float)  # [0, c1), ..., [cn, T)
            prefix = np.concatenate([np.zeros((len(segments), 1)), np.cumsum(segments, axis=1)], axis=1)
            at = np.concatenate([[0], cut, [n_frames]])  # prefix[:, j] = Σ_{t < at[j]} |r|²
            s_all = prefix[:, -1]
        # S1 needs only sums over ions for the mean: Σ_{t<T−m} + Σ_{t≥m} = 2 S − Σ_{t<m} − Σ_{t≥T−m}
        c_tot = np.cumsum(sq.sum(axis=0, dtype=float))
        del sq
        total = c_tot[-1]
        front = np.concatenate([[0.0], c_tot[:max_lag]])
        back = total - np.concatenate([[total], c_tot[n_frames - 1 - m[1:]]])
        s1_total += 2.0 * total - front - back
        spec = rfft(x, axis=-1, workers=-1)
        parts = spec.view(fft_dtype)  # (ions, 3, 2 (nfft//2+1)): real and imaginary parts interleaved
        squares = np.einsum("idk,idk->ik", parts, parts)  # summed over x, y, z in one pass, no temporaries
        del spec, parts
        power = squares[:, 0::2] + squares[:, 1::2]  # (ions, nfft//2+1)
        del squares
        if keep is None:
            s2_total += irfft(power.sum(axis=0), n=nfft, workers=-1)[: max_lag + 1]
        else:
            ac_all = irfft(power, n=nfft, axis=-1, workers=-1, overwrite_x=True)
            s2_total += ac_all[:, : max_lag + 1].sum(axis=0)
            ac = ac_all[:, lags]
            del ac_all
            front_i = prefix[:, np.searchsorted(at, lags)]  # Σ_{t < m}
            back_i = np.where(lags > 0, s_all[:, None] - prefix[:, np.searchsorted(at, n_frames - lags)], 0.0)  # Σ_{t ≥ T−m}
            keep[:, sl] = ((2.0 * s_all[:, None] - front_i - back_i - 2.0 * ac) / (n_frames - lags)).T
    mean = (s1_total - 2.0 * s2_total) / (n_frames - m) / n_ions
    mean[0] = 0.0  # exactly, by definition (the float32 FFT leaves ~1e-6 ⟨r²⟩ there)
    if keep is not None:
        keep[np.asarray(lags) == 0] = 0.0
    return mean, keep


def collective_msd(positions: np.ndarray) -> np.ndarray:
    """MSD of the summed displacement ``Σ_i r_i(t)`` (charge displacement / q), Å².

    Parameters
    ----------
    positions
        ``(n_frames, n_ions, 3)`` unwrapped positions, Å.
    """
    summed = positions.sum(axis=1, dtype=float)[:, None, :]
    return per_ion_msd(summed, fft_dtype=np.float64)[0]


def masked_msd_sums(positions: np.ndarray, weights: np.ndarray, lags: np.ndarray,
                    chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """Per-ion sums for an MSD restricted to origins where ``weights`` is set.

    For ion ``i`` and lag ``m``: ``num_i(m) = Σ_{t0<T−m} w_i(t0) |r_i(t0+m) − r_i(t0)|²`` and
    ``count_i(m) = Σ_{t0<T−m} w_i(t0)``; the region MSD is ``Σ_i num_i / Σ_i count_i``.

    Parameters
    ----------
    positions
        ``(n_frames, n_ions, 3)`` unwrapped positions, Å.
    weights
        ``(n_frames, n_ions)`` origin weights (bool or float).
    lags
        Frame lags to evaluate.

    Returns
    -------
    num, count
        Each ``(len(lags), n_ions)``.
    """
    from scipy.fft import irfft, rfft

    n_frames, n_ions, _ = positions.shape
    nfft = _fft_len(n_frames)
    lags = np.asarray(lags, dtype=int)
    last = n_frames - 1 - lags  # last allowed origin for each lag
    num = np.zeros((len(lags), n_ions))
    count = np.zeros((len(lags), n_ions))
    for sl in _chunks(n_frames, n_ions, chunk_bytes, factor=12):
        x = np.asarray(positions[:, sl], dtype=float)
        x = x - x.mean(axis=0)
        w = np.asarray(weights[:, sl], dtype=float)
        sq = np.einsum("tij,tij->ti", x, x)
        w_f = rfft(w, n=nfft, axis=0)
        # Σ_t0 w(t0) |r(t0+m)|²  = cross-correlation of w with |r|²
        term_a = irfft(np.conj(w_f) * rfft(sq, n=nfft, axis=0), n=nfft, axis=0)[lags]
        # Σ_{t0≤last} w(t0) |r(t0)|²
        term_b = np.cumsum(w * sq, axis=0)[last]
        # Σ_t0 w(t0) r(t0)·r(t0+m)
        cross = irfft((np.conj(rfft(w[:, :, None] * x, n=nfft, axis=0)) * rfft(x, n=nfft, axis=0)).sum(axis=2),
                      n=nfft, axis=0)[lags]
        num[:, sl] = term_a + term_b - 2.0 * cross
        count[:, sl] = np.cumsum(w, axis=0)[last]
    return num, count


def direct_msd(positions: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Reference O(T²) MSD over all origins (for tests and small data), Å²."""
    n_frames = positions.shape[0]
    max_lag = n_frames - 1 if max_lag is None else max_lag
    out = np.zeros(max_lag + 1)
    for m in range(1, max_lag + 1):
        d = positions[m:] - positions[:-m]
        out[m] = np.mean(np.sum(d * d, axis=2))
    return out
