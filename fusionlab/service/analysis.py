"""Analyses of stored score series: temporal patterns, correlations, comparison.

Pure functions on NumPy arrays (no database, no web), so they are tested and
documented on their own.

Temporal patterns of a score series:

- ``periodic``: the dominant period of the scores
  (:func:`fusionlab.detection.dominant_period`, autocorrelation); frequency
  ``1 / period``, amplitude half the range of the mean cycle, phase of its
  peak (radians), confidence the autocorrelation at the period;
- ``trend``: the Mann-Kendall test (Kendall's tau of the scores against time,
  :func:`scipy.stats.kendalltau`) and the Theil-Sen slope
  (:func:`scipy.stats.theilslopes`), on block means so that neighbouring
  points' correlation does not make every wiggle significant; confidence
  ``1 - p``;
- ``state_change``: level shifts, by binary segmentation at the peak of the
  CUSUM of deviations from the mean, kept when the levels differ by a
  minimum effect size; amplitude the change of the mean level.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "periodic_pattern",
    "trend_pattern",
    "state_changes",
    "temporal_patterns",
    "temporal_statistics",
    "correlation",
    "score_statistics",
    "PATTERN_TYPES",
]

#: Kinds of temporal pattern.
PATTERN_TYPES = ("periodic", "trend", "state_change")
# Block means used by the trend test.
_TREND_BLOCKS = 64


def _pattern(kind, frequency, amplitude, phase, confidence, start, end, **metadata):
    return {"pattern_type": kind, "frequency": float(frequency), "amplitude": float(amplitude),
            "phase": float(phase), "confidence": float(np.clip(confidence, 0.0, 1.0)),
            "start_time": int(start), "end_time": int(end), "metadata": metadata}


def _step(times) -> float:
    if len(times) < 2:
        return 1.0
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else 1.0


def periodic_pattern(scores, times, min_strength=0.3):
    """The ``periodic`` pattern of a score series, or None without a clear period.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.service.analysis import periodic_pattern
    >>> t = np.arange(400)
    >>> p = periodic_pattern(1 + np.sin(2 * np.pi * t / 25), t)
    >>> p["metadata"]["period_points"], round(p["frequency"], 3)
    (25, 0.04)
    """
    from ..detection import autocorrelation, dominant_period

    scores = np.asarray(scores, dtype=np.float64)
    if scores.size < 16 or np.ptp(scores) == 0:
        return None
    period = dominant_period(scores, max_period=scores.size // 3, min_strength=min_strength)
    if period is None:
        return None
    strength = float(autocorrelation(scores, period)[-1])
    cycles = scores.size // period
    folded = scores[: cycles * period].reshape(cycles, period).mean(axis=0)
    peak = int(np.argmax(folded))
    step = _step(times)
    return _pattern("periodic", 1.0 / (period * step), np.ptp(folded) / 2,
                    2 * np.pi * peak / period, strength, times[0], times[-1],
                    period_points=int(period), period=float(period * step), cycles=int(cycles))


def _blocks(values, times, n_blocks):
    n = values.size
    if n <= n_blocks:
        return values, times.astype(np.float64)
    edges = np.linspace(0, n, n_blocks + 1).astype(int)
    means = np.add.reduceat(values, edges[:-1]) / np.diff(edges)
    mids = np.array([times[(a + b - 1) // 2] for a, b in zip(edges[:-1], edges[1:],
                                                               strict=True)], dtype=np.float64)
    return means, mids


def trend_pattern(scores, times, alpha=0.05):
    """The ``trend`` pattern (Mann-Kendall + Theil-Sen), or None when not
    significant at ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.service.analysis import trend_pattern
    >>> t = np.arange(500)
    >>> p = trend_pattern(0.01 * t + np.random.default_rng(0).normal(0, 0.2, 500), t)
    >>> p["pattern_type"], round(p["metadata"]["slope"], 2)
    ('trend', 0.01)
    """
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    times = np.asarray(times)
    if scores.size < 8:
        return None
    values, mids = _blocks(scores, times, _TREND_BLOCKS)
    if np.ptp(values) == 0:
        return None
    tau, p_value = stats.kendalltau(mids, values)
    if not np.isfinite(p_value) or p_value >= alpha:
        return None
    slope, intercept, low, high = stats.theilslopes(values, mids)
    duration = float(times[-1] - times[0])
    return _pattern("trend", 0.0, slope * duration, 0.0, 1.0 - p_value, times[0], times[-1],
                    slope=float(slope), intercept=float(intercept), slope_low=float(low),
                    slope_high=float(high), tau=float(tau), p_value=float(p_value),
                    direction="up" if slope > 0 else "down")


def _best_split(values, min_size):
    """Where the CUSUM of deviations from the mean peaks (the likeliest change
    of level), and the effect size of the change there."""
    n = values.size
    if n < 2 * min_size:
        return None, 0.0
    cusum = np.cumsum(values - values.mean())[:-1]
    ks = np.arange(1, n)
    # the CUSUM weighted to compare segments of unequal sizes fairly
    weighted = np.abs(cusum) / np.sqrt(ks * (n - ks))
    weighted[: min_size - 1] = 0
    weighted[n - min_size:] = 0
    k = int(np.argmax(weighted)) + 1
    before, after = values[:k], values[k:]
    pooled = np.sqrt((before.var() * before.size + after.var() * after.size) / n)
    shift = abs(after.mean() - before.mean())
    return k, (shift / pooled if pooled > 0 else np.inf if shift > 0 else 0.0)


def state_changes(scores, times, min_effect=2.0, min_fraction=0.02, max_events=20):
    """``state_change`` patterns: shifts of the score level.

    Binary segmentation: in each segment the change point is where the CUSUM
    of deviations from the segment's mean peaks (weighted by
    ``sqrt(k (n - k))`` to compare unequal parts); it is kept when the means on
    either side differ by at least ``min_effect`` pooled standard deviations
    (an effect size rather than a p-value, since neighbouring scores are
    correlated), with parts of at least ``min_fraction`` of the series. Each
    event runs from its change point to the next one (or the end); its
    amplitude is the mean after less the mean before, its confidence
    ``1 - exp(-(effect / min_effect - 1))``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.service.analysis import state_changes
    >>> x = np.r_[np.zeros(200), np.full(200, 3.0)] + np.random.default_rng(0).normal(0, .1, 400)
    >>> [(e["start_time"], round(e["amplitude"])) for e in state_changes(x, np.arange(400))]
    [(200, 3)]
    """
    scores = np.asarray(scores, dtype=np.float64)
    times = np.asarray(times)
    n = scores.size
    min_size = max(4, int(np.ceil(min_fraction * n)))
    if n < 2 * min_size:
        return []
    found = {}
    stack = [(0, n)]
    while stack and len(found) < max_events:
        lo, hi = stack.pop()
        k, effect = _best_split(scores[lo:hi], min_size)
        if k is None or effect < min_effect:
            continue
        found[lo + k] = effect
        stack.extend([(lo, lo + k), (lo + k, hi)])
    changes = sorted(found)
    bounds = [0, *changes, n]
    events = []
    for i, change in enumerate(changes):
        before = scores[bounds[i]:change]
        after = scores[change:bounds[i + 2]]
        pooled = np.sqrt((before.var() * before.size + after.var() * after.size)
                         / (before.size + after.size))
        shift = abs(after.mean() - before.mean())
        effect = shift / pooled if pooled > 0 else np.inf
        events.append(_pattern(
            "state_change", 0.0, after.mean() - before.mean(), 0.0,
            1.0 - np.exp(-(effect / min_effect - 1.0)) if np.isfinite(effect) else 1.0,
            times[change], times[bounds[i + 2] - 1], index=int(change),
            mean_before=float(before.mean()), mean_after=float(after.mean()),
            effect_size=float(effect) if np.isfinite(effect) else None))
    return events


def temporal_patterns(scores, times, pattern_types=None):
    """Every pattern of the chosen types found in a score series."""
    kinds = pattern_types or PATTERN_TYPES
    out = []
    if "periodic" in kinds:
        found = periodic_pattern(scores, times)
        if found:
            out.append(found)
    if "trend" in kinds:
        found = trend_pattern(scores, times)
        if found:
            out.append(found)
    if "state_change" in kinds:
        out.extend(state_changes(scores, times))
    return out


def temporal_statistics(scores, times, threshold):
    """Points, anomaly rate, dominant period and trend slope of a score series."""
    scores = np.asarray(scores, dtype=np.float64)
    periodic = periodic_pattern(scores, times)
    trend = trend_pattern(scores, times, alpha=1.0)
    return {
        "points": int(scores.size),
        "anomaly_rate": float(np.mean(scores > threshold)) if scores.size else 0.0,
        "dominant_period": periodic["metadata"]["period"] if periodic else None,
        "trend_slope": trend["metadata"]["slope"] if trend else 0.0,
        "start_time": int(times[0]) if len(times) else None,
        "end_time": int(times[-1]) if len(times) else None,
    }


def correlation(columns, labels):
    """Pearson correlation of the columns of a 2-D array; constant columns get
    0 off the diagonal (not NaN).

    Returns
    -------
    dict
        ``matrix`` (list of lists), ``labels``.
    """
    data = np.asarray(columns, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(labels):
        raise ValueError("`columns` must be (n_points, n_labels).")
    centred = data - data.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    safe = np.where(norms > 0, norms, 1.0)
    matrix = (centred.T @ centred) / np.outer(safe, safe)
    matrix[norms == 0, :] = 0.0
    matrix[:, norms == 0] = 0.0
    np.fill_diagonal(matrix, 1.0)
    return {"matrix": np.clip(matrix, -1.0, 1.0).round(6).tolist(), "labels": list(labels)}


def score_statistics(scores, threshold):
    """Summary of a score series: mean, std, quantiles, max, anomaly rate."""
    scores = np.asarray(scores, dtype=np.float64)
    q = np.quantile(scores, [0.5, 0.95, 0.99])
    return {"n_points": int(scores.size), "mean": float(scores.mean()),
            "std": float(scores.std()), "median": float(q[0]), "p95": float(q[1]),
            "p99": float(q[2]), "max": float(scores.max()), "threshold": float(threshold),
            "anomaly_rate": float(np.mean(scores > threshold))}
