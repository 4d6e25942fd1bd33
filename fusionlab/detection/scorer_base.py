"""The interface of a subsequence scorer, and the window helpers every scorer shares.

A scorer learns the training windows of a scaled series and gives each
window of another series one score (higher is more anomalous), spread back
to points with :func:`to_centres`. The built-in scorers are in
:mod:`~fusionlab.detection.scorers` (and :mod:`~fusionlab.detection.flatness`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int

__all__ = ["BaseScorer", "sliding_windows", "to_centres"]


def sliding_windows(values, window):
    """Every window of ``values`` ``(n, f)``, flattened: ``(n - window + 1, window, f)`` view."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    return np.lib.stride_tricks.sliding_window_view(values, window, axis=0).transpose(0, 2, 1)


def to_centres(window_scores, n_points, window):
    """Each window's score on its centre point; the half windows at the ends repeat the nearest.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scorers import to_centres
    >>> to_centres(np.array([1.0, 2.0, 3.0]), 6, 4).tolist()
    [1.0, 1.0, 1.0, 2.0, 3.0, 3.0]
    """
    window_scores = np.asarray(window_scores, dtype=np.float64)
    before = window // 2
    after = n_points - before - window_scores.size
    return np.r_[np.repeat(window_scores[0], before), window_scores,
                 np.repeat(window_scores[-1], after)]


class BaseScorer:
    """Interface of a subsequence scorer (see the module).

    Subclasses set ``name`` and implement ``_fit(windows)``,
    ``_score(windows)`` (one score per window), ``_params()`` and the arrays
    of their state.
    """

    name = "base"
    #: True for a scorer whose scores are already on the detector's scale
    #: (nats of surprise, 0 on normal data): not rescaled, and added to the
    #: aggregate of the others (:mod:`~fusionlab.detection.ensemble`).
    calibrated = False
    #: True for a scorer whose score of a point is that point's own (the
    #: window only places it), given by ``score_points(values)`` and split
    #: over the features by ``point_parts(values)``: the detector scores
    #: every point with it, the first and last half windows included, adds
    #: it on top of the others' aggregate, and keeps unsmoothed what a point
    #: scores beyond the end of the training scores' tail
    #: (:func:`~fusionlab.detection.scoring.keep_exact`).
    point_exact = False

    def fit(self, values, window, seed=None):
        """Learn the training windows of ``values`` ``(n, f)``; return self."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        self.window_ = check_positive_int(window, "window")
        if values.shape[0] < self.window_:
            raise ValueError(
                f"`values` has {values.shape[0]} rows, fewer than the window {self.window_}."
            )
        self.n_features_ = values.shape[1]
        self._fit(sliding_windows(values, self.window_), seed)
        return self

    def _windows(self, values):
        """``(windows, n_points)`` of ``values`` ``(n, f)``, checked against the fit."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[1] != self.n_features_ or values.shape[0] < self.window_:
            raise ValueError(
                f"`values` must have {self.n_features_} feature(s) and at least "
                f"{self.window_} rows; received shape {values.shape}."
            )
        return sliding_windows(values, self.window_), values.shape[0]

    def score(self, values):
        """Raw score of every point of ``values`` ``(n, f)``, higher = more unusual."""
        windows, n_points = self._windows(values)
        return to_centres(self._score(windows), n_points, self.window_)

    def score_parts(self, values):
        """``(scores, point_errors)``: :meth:`score` and the per-point, per-feature errors.

        ``point_errors`` (``(n, n_features)``, or None for a scorer that
        cannot locate the unusual points inside a window) says where in
        each window the difference lies, averaged over the windows that
        cover each point.
        """
        windows, n_points = self._windows(values)
        window_scores, point_errors = self._score_parts(windows, n_points)
        return to_centres(window_scores, n_points, self.window_), point_errors

    def _score_parts(self, windows, n_points):
        return self._score(windows), None

    def _check_params(self):
        """Check the constructor's parameters (at fit, and on load from an archive)."""

    # -- state ---------------------------------------------------------------
    def get_state(self):
        """``(params, arrays)``: JSON data and NumPy arrays that rebuild the fitted scorer."""
        params = {"name": self.name, "window_": int(self.window_),
                  "n_features_": int(self.n_features_), **self._params()}
        return params, self._arrays()

    @classmethod
    def from_state(cls, params, arrays):
        """The fitted scorer of :meth:`get_state` (arrays checked by the subclass)."""
        scorer = cls(**{k: v for k, v in params.items()
                        if k not in ("name", "window_", "n_features_")})
        scorer._check_params()
        scorer.window_ = check_positive_int(params["window_"], "window_")
        scorer.n_features_ = check_positive_int(params["n_features_"], "n_features_")
        scorer._restore(arrays)
        return scorer
