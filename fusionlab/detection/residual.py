"""The residual scorer: how far each point is from the features' usual joint pattern."""

from __future__ import annotations

import numpy as np

from .scorer_base import BaseScorer, to_centres

__all__ = ["ResidualScorer"]


class ResidualScorer(BaseScorer):
    """Principal-component residuals of each point: what the other features do not explain.

    Tens of sensors driven by a few shared causes move together; an incident
    often breaks that agreement while every sensor stays in its normal range
    (a channel that follows its factor late, drifts away, sticks, or spikes
    alone). From the training points, each feature standardised by its
    training mean and standard deviation, the principal components that
    explain ``variance`` of the variance are kept (always fewer than the
    features, so some residual remains); a point's residual is what those
    components leave of it, and its score the sum over features of the
    squared residual over that feature's training residual variance (so every
    feature counts alike, as in a standardised PCA reconstruction error).

    A window is scored by its centre point: the score of the point itself,
    the window only places it. A single feature has no other to agree with:
    it scores 0 everywhere, which leaves the detector's ranking as it would
    be without this scorer.

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
    """

    name = "residual"

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
        self.mean_ = values.mean(axis=0)
        spread = values.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        standard = (values - self.mean_) / self.scale_
        if self.n_features_ == 1:
            # The feature explains itself: no residual.
            self.components_ = np.ones((1, 1))
            self.residual_scale_ = np.ones(1)
            return
        _, singular, rows = np.linalg.svd(standard, full_matrices=False)
        explained = np.cumsum(singular**2) / max(float((singular**2).sum()), 1e-300)
        kept = int(np.searchsorted(explained, self.variance) + 1)
        self.components_ = rows[: min(kept, self.n_features_ - 1)]
        residual = standard - standard @ self.components_.T @ self.components_
        spread = residual.std(axis=0)
        # A feature the components explain exactly counts with the others' scale.
        floor = max(float(np.median(spread)), 1e-6)
        self.residual_scale_ = np.where(spread > 1e-3 * floor, spread, floor)

    def _arrays(self):
        return {"mean": self.mean_, "scale": self.scale_, "components": self.components_,
                "residual_scale": self.residual_scale_}

    def _restore(self, arrays):
        f = self.n_features_
        for key, positive in (("mean", False), ("scale", True), ("residual_scale", True)):
            value = np.asarray(arrays[key], dtype=np.float64)
            if value.shape != (f,) or not np.all(np.isfinite(value)) or (
                    positive and not np.all(value > 0)):
                raise ValueError(f"the residual scorer's `{key}` must hold {f} finite "
                                 f"{'positive ' if positive else ''}value(s).")
            setattr(self, f"{key}_", value)
        components = np.asarray(arrays["components"], dtype=np.float64)
        if components.ndim != 2 or components.shape[1] != f or components.shape[0] >= max(f, 2) \
                or not np.all(np.isfinite(components)):
            raise ValueError(f"the residual scorer's `components` must be fewer than {max(f, 2)} "
                             f"finite rows of {f} values; received shape {components.shape}.")
        self.components_ = components

    def _parts(self, points):
        """Each feature's squared, scaled residual of ``points`` ``(m, f)``."""
        standard = (points - self.mean_) / self.scale_
        residual = standard - standard @ self.components_.T @ self.components_
        return (residual / self.residual_scale_) ** 2

    def _score(self, windows):
        return self._parts(windows[:, self.window_ // 2, :]).sum(axis=1)

    def _score_parts(self, windows, n_points):
        parts = self._parts(windows[:, self.window_ // 2, :])
        per_point = np.column_stack([to_centres(parts[:, f], n_points, self.window_)
                                     for f in range(self.n_features_)])
        return parts.sum(axis=1), per_point
