"""The residual scorer: how far each point is from the features' usual joint pattern."""

from __future__ import annotations

import numpy as np

from .scorer_base import BaseScorer, to_centres

__all__ = ["ResidualScorer", "RESIDUAL_FLOOR"]

#: Smallest residual spread a feature is measured against, in its training
#: standard deviations.
RESIDUAL_FLOOR = 1e-3
#: Residuals this small (standardised) are rounding, not disagreement.
_ROUNDING = 1e-6


def _without_rounding(residual):
    return np.sign(residual) * np.maximum(np.abs(residual) - _ROUNDING, 0.0)


class ResidualScorer(BaseScorer):
    """Principal-component residuals of each point: what the other features do not explain.

    Tens of sensors driven by a few shared causes move together; an incident
    often breaks that agreement while every sensor stays in its normal range
    (a channel that follows its factor late, drifts away, sticks, or spikes
    alone). From the training points, each feature standardised by its
    training mean and standard deviation, the principal components that
    explain ``variance`` of the variance are kept (always fewer than the
    features that move; a feature constant in training is left out); a
    point's residual is what those components leave of it, and its score the
    sum over features of the squared residual over that feature's training
    residual variance (so every feature counts alike, as in a standardised
    PCA reconstruction error), that variance floored at
    :data:`RESIDUAL_FLOOR` squared (a relation the training data held exactly,
    a duplicated sensor, scores as it breaks, not as its rounding moves).

    A window is scored by its centre point: the score of the point itself,
    the window only places it (``point_exact``: the detector scores every
    point with :meth:`score_points`, adds the score on top of its window
    scorers' aggregate, names the features by :meth:`point_parts`, and
    keeps unsmoothed what a point scores beyond the end of the training
    scores' tail, so a one-point break of one sensor is not spread over its
    neighbours). A single feature has no other to agree with: it scores 0
    everywhere, which leaves the detector's ranking as it would be without
    this scorer.

    Parameters
    ----------
    variance : float, default=0.9
        Share of the training variance the kept components explain, in (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.residual import ResidualScorer
    >>> rng = np.random.default_rng(0)
    >>> factor = np.sin(np.arange(800) * 2 * np.pi / 40)
    >>> x = factor[:, None] * np.array([1.0, 0.8, 1.2]) + rng.normal(0, 0.05, (800, 3))
    >>> broken = x.copy()
    >>> broken[500:510, 1] = -broken[500:510, 1]    # one sensor against the others
    >>> scores = ResidualScorer().fit(x, 20).score(broken)
    >>> 495 <= int(np.argmax(scores)) <= 515
    True
    >>> float(ResidualScorer().fit(x[:, :1], 20).score(x[:, :1]).max())
    0.0
    >>> late = x.copy()
    >>> late[795, 1] = -late[795, 1]                # in the last half window
    >>> scorer = ResidualScorer().fit(x, 20)
    >>> int(np.argmax(scorer.score_points(late)))
    795
    >>> int(np.argmax(scorer.point_parts(late)[795]))   # the sensor that broke
    1
    """

    name = "residual"
    point_exact = True

    def __init__(self, variance=0.9):
        self.variance = variance

    def _params(self):
        return {"variance": float(self.variance)}

    def _check_params(self):
        from .._validation import check_rate

        check_rate(self.variance, "variance", include_high=False)
        if not self.variance > 0:
            raise ValueError(f"`variance` must be > 0; received {self.variance!r}.")

    def _fit(self, windows, seed):
        self._check_params()
        values = np.r_[windows[:, 0, :], windows[-1, 1:, :]]
        f = self.n_features_
        self.mean_ = values.mean(axis=0)
        spread = values.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        # A feature constant in training has nothing to agree or disagree with
        # (the model and the other scorers see it move): left out.
        self.active_ = (spread > 0).astype(np.float64)
        standard = (values - self.mean_) / self.scale_ * self.active_
        moving = np.flatnonzero(self.active_)
        if moving.size <= 1:
            # One moving feature explains itself: no residual anywhere.
            self.components_ = np.eye(f)[moving] if f > 1 else np.ones((1, 1))
            self.residual_scale_ = np.ones(f)
            return
        _, singular, rows = np.linalg.svd(standard, full_matrices=False)
        explained = np.cumsum(singular**2) / float((singular**2).sum())
        kept = int(np.searchsorted(explained, self.variance) + 1)
        self.components_ = rows[: min(kept, moving.size - 1)]
        residual = _without_rounding(standard - standard @ self.components_.T @ self.components_)
        # A relation the training data held exactly (a duplicated or derived
        # sensor) is measured against a thousandth of the feature's spread.
        self.residual_scale_ = np.where(self.active_ > 0,
                                        np.maximum(residual.std(axis=0), RESIDUAL_FLOOR), 1.0)

    def _arrays(self):
        return {"mean": self.mean_, "scale": self.scale_, "active": self.active_,
                "components": self.components_, "residual_scale": self.residual_scale_}

    def _restore(self, arrays):
        f = self.n_features_
        for key, positive in (("mean", False), ("scale", True), ("residual_scale", True)):
            value = np.asarray(arrays[key], dtype=np.float64)
            if value.shape != (f,) or not np.all(np.isfinite(value)) or (
                    positive and not np.all(value > 0)):
                raise ValueError(f"the residual scorer's `{key}` must hold {f} finite "
                                 f"{'positive ' if positive else ''}value(s).")
            setattr(self, f"{key}_", value)
        active = np.asarray(arrays["active"], dtype=np.float64)
        if active.shape != (f,) or not np.all((active == 0) | (active == 1)):
            raise ValueError(f"the residual scorer's `active` must hold {f} values of 0 or 1.")
        self.active_ = active
        components = np.asarray(arrays["components"], dtype=np.float64)
        if components.ndim != 2 or components.shape[1] != f or components.shape[0] >= max(f, 2) \
                or not np.all(np.isfinite(components)):
            raise ValueError(f"the residual scorer's `components` must be fewer than {max(f, 2)} "
                             f"finite rows of {f} values; received shape {components.shape}.")
        self.components_ = components

    def _parts(self, points):
        """Each feature's squared, scaled residual of ``points`` ``(m, f)``."""
        standard = (points - self.mean_) / self.scale_ * self.active_
        residual = _without_rounding(standard - standard @ self.components_.T @ self.components_)
        return (residual / self.residual_scale_) ** 2 * self.active_

    def point_parts(self, values):
        """Each feature's part of every point's score of ``values`` ``(n, f)``: ``(n, f)``.

        A row sums to the point's :meth:`score_points`; each entry is that
        feature's squared residual over its training residual variance,
        so the largest names the feature the others do not explain.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != self.n_features_:
            raise ValueError(f"`values` must have {self.n_features_} feature(s); received "
                             f"shape {values.shape}.")
        return self._parts(values)

    def score_points(self, values):
        """Score of every point of ``values`` ``(n, f)`` on its own values, the ends included.

        :meth:`score` gives each window's centre point's score to that
        point and repeats the first and last at the half windows of the
        ends; here each of those points is scored too, as the detector
        scores with this scorer (``point_exact``).
        """
        return self.point_parts(values).sum(axis=1)

    def _score(self, windows):
        return self._parts(windows[:, self.window_ // 2, :]).sum(axis=1)

    def _score_parts(self, windows, n_points):
        parts = self._parts(windows[:, self.window_ // 2, :])
        per_point = np.column_stack([to_centres(parts[:, f], n_points, self.window_)
                                     for f in range(self.n_features_)])
        return parts.sum(axis=1), per_point
