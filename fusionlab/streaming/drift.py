"""Drift of the score stream: the Page-Hinkley test.

A model fitted on last month's data scores this month's higher and higher
when the series changes for good (a new regime, a recalibrated sensor):
not an event, a drift. :class:`PageHinkley` watches each series' final
scores, over the threshold (so one setting suits every detector), and says
when their mean has risen for good: with ``x_t = score_t / threshold``,
``m_t = sum_{i <= t} (x_i - mean_i - delta)`` (``mean_i`` the running mean)
and ``M_t = min_{i <= t} m_i``, drift is declared when ``m_t - M_t >
lambda_`` (Page, 1954; Hinkley, 1971). An isolated event adds its excess
once; a lasting rise adds it at every point. The test then starts again.

Each ratio is clipped at ``clip`` (default 10) first, so one far-out point
cannot declare drift on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_int, check_real

__all__ = ["PageHinkley", "DriftEvent"]


@dataclass(frozen=True)
class DriftEvent:
    """Drift found in one series' scores.

    Attributes
    ----------
    series_id : str
    index : int
        Stream position of the point that crossed the limit.
    statistic : float
        ``m_t - M_t`` there.
    model_version : int
    """

    series_id: str
    index: int
    statistic: float
    model_version: int


class PageHinkley:
    """Page-Hinkley test for a lasting rise of the mean (see the module).

    Parameters
    ----------
    delta : float, default=0.05
        Rise tolerated (in units of the threshold).
    lambda_ : float, default=50.0
        Limit of the cumulative excess.
    min_points : int, default=100
        Points seen before drift can be declared.
    clip : float, default=10.0

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.streaming import PageHinkley
    >>> test = PageHinkley(lambda_=20.0, min_points=50)
    >>> calm = np.full(200, 0.3)
    >>> test.update(calm, threshold=1.0)
    []
    >>> test.update(np.full(200, 0.9), threshold=1.0)[0]   # the mean rose for good
    40
    """

    def __init__(self, delta=0.05, lambda_=50.0, min_points=100, clip=10.0):
        self.delta = check_real(delta, "delta", low=0.0)
        self.lambda_ = check_real(lambda_, "lambda_", low=0.0, include_low=False)
        self.min_points = check_positive_int(min_points, "min_points")
        self.clip = check_real(clip, "clip", low=0.0, include_low=False)
        self.reset()

    def reset(self):
        self.count = 0
        self.mean = 0.0
        self.cumulative = 0.0
        self.minimum = 0.0

    def update(self, scores, threshold):
        """Feed scores; return the positions (in ``scores``) where drift was declared."""
        ratios = np.asarray(scores, dtype=np.float64) / threshold if threshold > 0 else \
            np.asarray(scores, dtype=np.float64)
        ratios = np.minimum(ratios, self.clip)
        found = []
        position = 0
        while position < ratios.size:
            x = ratios[position:]
            counts = self.count + np.arange(1, x.size + 1)
            # running mean: mean_t = (count * mean + cumsum(x)) / counts
            means = (self.count * self.mean + np.cumsum(x)) / counts
            steps = x - means - self.delta
            cumulative = self.cumulative + np.cumsum(steps)
            minimum = np.minimum(self.minimum, np.minimum.accumulate(cumulative))
            over = (cumulative - minimum > self.lambda_) & (counts >= self.min_points)
            hits = np.flatnonzero(over)
            if hits.size == 0:
                self.count, self.mean = int(counts[-1]), float(means[-1])
                self.cumulative, self.minimum = float(cumulative[-1]), float(minimum[-1])
                break
            first = int(hits[0])
            found.append(position + first)
            self.statistic = float(cumulative[first] - minimum[first])
            self.reset()
            position += first + 1
        return found

    def get_state(self):
        return {"count": self.count, "mean": self.mean, "cumulative": self.cumulative,
                "minimum": self.minimum}

    def set_state(self, params):
        self.count = int(params["count"])
        for key in ("mean", "cumulative", "minimum"):
            value = float(params[key])
            if not np.isfinite(value):
                raise ValueError(f"state `drift.{key}` must be finite; received {value!r}.")
            setattr(self, key, value)

    def params(self):
        return {"delta": self.delta, "lambda_": self.lambda_, "min_points": self.min_points,
                "clip": self.clip}
