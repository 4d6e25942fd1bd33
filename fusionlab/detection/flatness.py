"""The flatness scorer: a stuck sensor, a stretch with no change at a normal level."""

from __future__ import annotations

import numpy as np

from .scorer_base import BaseScorer, to_centres

__all__ = ["FlatnessScorer"]


class FlatnessScorer(BaseScorer):
    """Stretches of (near-)constant values longer than the training series holds.

    A stuck sensor repeats one value at a normal level: no value is unusual,
    only that nothing changes. For each feature, a *flat run* is a stretch
    of points whose successive changes are all at most ``tolerance`` times
    the training series' median absolute change (exact repeats when that
    median is 0, as in counts or quantised data). From the training series:

    - its flat runs, longest first, that together cover at most
      ``contamination`` of the points are set aside (they may be the
      anomalies the series holds);
    - the longest of the others, ``K`` points (at least 2: two points alike
      happen by chance), is the longest flat run that is normal;
    - their lengths give the rate at which a flat run goes on,
      ``q = P(one more point | flat so far)`` (a geometric model, with one
      pseudo-observation at the share of flat steps in the whole series: the
      rate of independent steps when no run is kept).

    A window of the scored series is scored at its centre point: the length
    ``k`` of the flat run through the centre, counted inside the window, and
    the evidence ``max(0, k - K) * log(1 / q)`` -- the surprise, in nats, of
    a run going on ``k - K`` points beyond the longest normal one. The
    features' evidence is summed (a scorer's score) and kept apart
    (:meth:`score_parts`: exactly the points of the run, for the event
    bounds and for :meth:`~fusionlab.detection.AnomalyDetector.explain`).
    Normal data score exactly 0: series whose long flat stretches are
    normal (``K`` as long as the window) never score. The score is in nats
    already, so the detector does not rescale it (``calibrated``).

    Parameters
    ----------
    tolerance : float, default=0.01
        Largest change counted as none, relative to the median absolute
        change of the training series.
    contamination : float, default=0.05
        Largest share of the training points whose flat runs may be
        anomalies.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.flatness import FlatnessScorer
    >>> x = np.sin(np.arange(600) * 2 * np.pi / 30) + np.random.default_rng(0).normal(0, 0.05, 600)
    >>> stuck = x.copy()
    >>> stuck[300:340] = stuck[300]               # a stuck sensor, a normal level
    >>> scorer = FlatnessScorer().fit(x[:, None], 30)
    >>> scores = scorer.score(stuck[:, None])
    >>> int(np.flatnonzero(scores > 0).min()), int(np.flatnonzero(scores > 0).max())
    (300, 339)
    >>> float(scorer.score(x[:, None]).max())
    0.0
    """

    name = "flatness"
    calibrated = True

    def __init__(self, tolerance=0.01, contamination=0.05):
        self.tolerance = tolerance
        self.contamination = contamination

    def _params(self):
        return {"tolerance": float(self.tolerance), "contamination": float(self.contamination)}

    def _check_params(self):
        from .._validation import check_rate

        check_rate(self.tolerance, "tolerance", low=0.0, high=np.inf)
        check_rate(self.contamination, "contamination", low=0.0, high=0.5)

    def _fit(self, windows, seed):
        self._check_params()
        values = np.r_[windows[:, 0, :], windows[-1, 1:, :]]
        steps = np.abs(np.diff(values, axis=0))
        self.tolerance_ = self.tolerance * np.median(steps, axis=0)
        self.longest_ = np.empty(self.n_features_)
        self.rate_ = np.empty(self.n_features_)
        for feature in range(self.n_features_):
            self.longest_[feature], self.rate_[feature] = _normal_runs(
                steps[:, feature] <= self.tolerance_[feature], values.shape[0],
                self.contamination)

    def _arrays(self):
        return {"tolerance": self.tolerance_, "longest": self.longest_, "rate": self.rate_}

    def _restore(self, arrays):
        for key, low in (("tolerance", 0.0), ("longest", 2.0), ("rate", 0.0)):
            value = np.asarray(arrays[key], dtype=np.float64)
            if value.shape != (self.n_features_,) or not np.all(np.isfinite(value) & (value >= low)):
                raise ValueError(
                    f"the flatness scorer's `{key}` must hold {self.n_features_} finite "
                    f"value(s) >= {low}.")
            setattr(self, f"{key}_", value)

    def _evidence(self, windows):
        """Per-window, per-feature evidence at the window's centre, ``(m, n_features)``."""
        centre = self.window_ // 2
        out = np.empty((windows.shape[0], self.n_features_))
        for lo in range(0, windows.shape[0], 4096):
            block = windows[lo : lo + 4096]
            flat = np.abs(np.diff(block, axis=1)) <= self.tolerance_[None, None, :]
            # Flat steps on each side of the centre, counted outwards.
            left = np.cumprod(flat[:, :centre][:, ::-1], axis=1).sum(axis=1)
            right = np.cumprod(flat[:, centre:], axis=1).sum(axis=1)
            length = left + right + 1
            out[lo : lo + 4096] = np.maximum(length - self.longest_, 0.0) * self.rate_
        return out

    def _score(self, windows):
        return self._evidence(windows).sum(axis=1)

    def _score_parts(self, windows, n_points):
        evidence = self._evidence(windows)
        parts = np.column_stack([to_centres(evidence[:, f], n_points, self.window_)
                                 for f in range(self.n_features_)])
        return evidence.sum(axis=1), parts


def _normal_runs(flat_steps, n_points, contamination):
    """``(K, log(1 / q))`` of one feature's flat steps (see :class:`FlatnessScorer`)."""
    from .._runs import flag_runs

    runs = flag_runs(flat_steps)
    lengths = runs[:, 1] - runs[:, 0] + 2  # points: one more than the flat steps
    order = np.argsort(-lengths, kind="stable")
    aside = np.zeros(lengths.size, dtype=bool)
    aside[order[np.cumsum(lengths[order]) <= contamination * n_points]] = True
    kept = lengths[~aside]
    # Two points alike happen by chance in any long series: never evidence.
    longest = max(float(kept.max()) if kept.size else 2.0, 2.0)
    # Geometric run lengths: each kept run goes on (length - 2) times and
    # stops once; one pseudo-observation goes on at the rate of a flat step
    # anywhere (all the evidence when no run is kept: independent steps).
    goes_on = float((kept - 2).sum())
    chance = (flat_steps.sum() + 1.0) / (flat_steps.size + 2.0)
    return longest, float(-np.log((goes_on + chance) / (goes_on + kept.size + 1.0)))
