"""Subsequence scorers: point scores from how unusual each window of the series is.

A scorer learns what the windows of the training series look like and
scores the windows of any series by how far they are from that: no neural
network, a few seconds on tens of thousands of points. The detector
(:class:`~fusionlab.detection.AnomalyDetector`, ``scorers=``) runs them beside
its model's reconstruction error and combines them
(:mod:`~fusionlab.detection.ensemble`).

Every scorer has the same small interface, so one is easily swapped or added
(:func:`register_scorer`):

- ``fit(values, window, seed=None)`` -- learn from the scaled training
  series ``values`` (``(n_points, n_features)``), windows of ``window``
  points;
- ``score(values)`` -- one raw score per point, **higher = more unusual**
  (the score of each window given to its centre point, the first and last
  half windows repeating the nearest one);
- ``score_parts(values)`` -- that score and, for a scorer that can tell
  which points of a window are unusual, their per-point, per-feature share
  of it (``None`` otherwise): what locates an event's bounds;
- for a *point-exact* scorer (``point_exact = True``: the residual scorer),
  ``score_points(values)`` -- every point scored on its own values, the
  ends included, which the detector uses instead of ``score``, and
  ``point_parts(values)`` -- each feature's part of those scores, which
  ``explain`` splits that scorer's share by;
- ``get_state()`` / ``from_state(params, arrays)`` -- JSON parameters and
  NumPy arrays, what an archive stores (nothing pickled).

The built-in scorers:

- :class:`DiscordScorer` (``'discord'``) -- the *shape* of each window
  (z-normalised, feature by feature) against the training windows: the
  distance to the nearest one that is not the window itself or a shifted
  copy of it, as the matrix profile's discords (Yeh et al., 2016);
- :class:`IsolationScorer` (``'isolation'``) -- the *values* of each window
  (standardised position by position) isolated by a random forest of
  one-position trees (Liu et al., 2008, on subsequences as in TSB-AD's
  Sub-IForest);
- :class:`~fusionlab.detection.flatness.FlatnessScorer` (``'flatness'``) -- stretches of (near-)constant
  values longer than any normal one of the training series (a stuck
  sensor), in nats of surprise; exactly 0 on normal data;
- :class:`~fusionlab.detection.residual.ResidualScorer` (``'residual'``) -- each point's
  principal-component residual over the features: what the others do not
  explain (a sensor that breaks from the ones it moves with); 0 for a
  single feature.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .flatness import FlatnessScorer
from .residual import ResidualScorer
from .scorer_base import BaseScorer, sliding_windows, to_centres

__all__ = [
    "BaseScorer",
    "DiscordScorer",
    "IsolationScorer",
    "FlatnessScorer",
    "ResidualScorer",
    "SCORERS",
    "available_scorers",
    "make_scorer",
    "register_scorer",
    "sliding_windows",
    "to_centres",
]


def _z_normalised(windows, floor):
    """Each window minus its mean, over its standard deviation, feature by feature.

    A window flatter than ``floor`` (a standard deviation the training
    series' noise never goes below) is divided by ``floor`` instead, so a
    flat stretch stays flat rather than having its tiny wiggles blown up.
    """
    centred = windows - windows.mean(axis=1, keepdims=True)
    spread = np.maximum(centred.std(axis=1, keepdims=True), floor)
    return centred / spread


def _paa(windows, segments):
    """Piecewise aggregate approximation: each window as ``segments`` means per feature."""
    length = windows.shape[1]
    if length <= segments:
        return windows
    edges = np.linspace(0, length, segments + 1).round().astype(int)
    sums = np.add.reduceat(windows, edges[:-1], axis=1)
    return sums / np.diff(edges)[None, :, None]


class DiscordScorer(BaseScorer):
    """Distance of each window's shape to its nearest distinct training window.

    Each window is z-normalised feature by feature (its mean removed, divided
    by its standard deviation, floored at a tenth of the training series'),
    reduced to at most ``segments`` means per feature (PAA), and compared
    with at most ``max_reference`` training windows (every ``k``-th). Its
    score is the Euclidean distance to the ``k_distinct``-th nearest of them
    counting one per *occurrence*: a reference window within half a window
    of a nearer one is the same occurrence shifted, and is skipped. A
    training window's nearest occurrence is itself, so it scores by the
    nearest *other* one -- the matrix profile's discord distance -- and any
    series is scored by the same rule.

    Parameters
    ----------
    k_distinct : int, default=2
    max_reference : int, default=2048
    segments : int, default=32

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scorers import DiscordScorer
    >>> x = np.sin(np.arange(600) * 2 * np.pi / 30)
    >>> x[300:315] = 0.0                      # one flattened half period
    >>> scores = DiscordScorer().fit(x[:, None], 30).score(x[:, None])
    >>> 285 <= int(np.argmax(scores)) <= 330
    True
    """

    name = "discord"

    def __init__(self, k_distinct=2, max_reference=2048, segments=32):
        self.k_distinct = k_distinct
        self.max_reference = max_reference
        self.segments = segments

    def _params(self):
        return {"k_distinct": int(self.k_distinct), "max_reference": int(self.max_reference),
                "segments": int(self.segments)}

    def _features(self, windows):
        return _paa(_z_normalised(windows, self.floor_), self.segments).reshape(
            windows.shape[0], -1)

    def _check_params(self):
        check_positive_int(self.k_distinct, "k_distinct")
        check_positive_int(self.max_reference, "max_reference")
        check_positive_int(self.segments, "segments")

    def _fit(self, windows, seed):
        self._check_params()
        # A tenth of the series' spread: the floor of a window's own spread.
        self.floor_ = np.maximum(0.1 * windows[:, 0, :].std(axis=0), 1e-8)[None, None, :]
        stride = -(-windows.shape[0] // self.max_reference)
        self.positions_ = np.arange(0, windows.shape[0], stride)
        self.reference_ = self._features(windows[self.positions_]).astype(np.float32)

    def _arrays(self):
        return {"floor": self.floor_.ravel(), "positions": self.positions_,
                "reference": self.reference_}

    def _restore(self, arrays):
        floor = np.asarray(arrays["floor"], dtype=np.float64)
        if floor.shape != (self.n_features_,) or not np.all(np.isfinite(floor) & (floor > 0)):
            raise ValueError("the discord scorer's `floor` must hold one positive number per feature.")
        self.floor_ = floor[None, None, :]
        self.positions_ = np.asarray(arrays["positions"], dtype=np.int64)
        reference = np.asarray(arrays["reference"], dtype=np.float32)
        columns = min(self.window_, self.segments) * self.n_features_
        if reference.ndim != 2 or reference.shape != (self.positions_.size, columns) \
                or not np.all(np.isfinite(reference)):
            raise ValueError(
                f"the discord scorer's `reference` windows must be {self.positions_.size} "
                f"finite rows of {columns} values; received shape {reference.shape}.")
        self.reference_ = reference

    def _score(self, windows):
        return self._score_parts(windows, None)[0]

    def _score_parts(self, windows, n_points, block=1024):
        from .scoring import PointErrorAccumulator

        reference = self.reference_.astype(np.float64)
        ref_norms = (reference**2).sum(axis=1)
        zone = max(self.window_ // 2, 1)
        out = np.empty(windows.shape[0])
        accumulator = None
        if n_points is not None:
            accumulator = PointErrorAccumulator(n_points, self.n_features_, self.window_)
            segments = min(self.segments, self.window_)
            edges = np.linspace(0, self.window_, segments + 1).round().astype(int)
            # Step -> its PAA segment, and each segment's length.
            segment_of = np.repeat(np.arange(segments), np.diff(edges))
            segment_length = np.diff(edges)[segment_of][None, :, None]
        for lo in range(0, windows.shape[0], block):
            query = self._features(windows[lo : lo + block])
            squared = ((query**2).sum(axis=1)[:, None] + ref_norms[None, :]
                       - 2.0 * (query @ reference.T))
            squared = np.maximum(squared, 0.0)
            rows = np.arange(squared.shape[0])
            # Past the number of references nothing is left to skip.
            for _ in range(min(self.k_distinct, reference.shape[0]) - 1):
                nearest = np.argmin(squared, axis=1)
                # Skip the occurrence just found: every reference window
                # within half a window of it.
                near = np.abs(self.positions_[None, :] - self.positions_[nearest][:, None]) < zone
                squared[near] = np.inf
                squared[rows, nearest] = np.inf
            match = np.argmin(squared, axis=1)
            best = squared[rows, match]
            found = np.isfinite(best)
            out[lo : lo + block] = np.sqrt(np.where(found, best, 0.0))
            if accumulator is not None:
                # Where in the window the difference with its match lies:
                # each PAA segment's squared difference spread evenly over
                # its steps (so a window's steps sum to its squared distance).
                difference = (query - reference[match]).reshape(len(rows), segments, -1) ** 2
                difference[~found] = 0.0
                steps = difference[:, segment_of, :] / segment_length
                accumulator.add(np.arange(lo, lo + len(rows)), steps)
        return out, (None if accumulator is None else accumulator.result()[0])


class IsolationScorer(BaseScorer):
    """Isolation forest on the windows' values, each position standardised.

    Each window ``(window, n_features)`` is flattened and every position
    standardised with the training windows' mean and standard deviation;
    an isolation forest of ``n_estimators`` trees, each splitting on
    ``max_features`` positions (1: a window is isolated by unusual values
    at any single position, as TSB-AD's tuned Sub-IForest), is grown on
    them. The score is the forest's anomaly score (higher = isolated sooner).
    The trees are held as arrays (:class:`~fusionlab.tabular.isolation_trees.IsolationTrees`),
    saved without pickle.

    Parameters
    ----------
    n_estimators : int, default=100
    max_features : int, default=1
    """

    name = "isolation"

    def __init__(self, n_estimators=100, max_features=1):
        self.n_estimators = n_estimators
        self.max_features = max_features

    def _params(self):
        return {"n_estimators": int(self.n_estimators), "max_features": int(self.max_features)}

    def _flat(self, windows):
        flat = windows.reshape(windows.shape[0], -1)
        return (flat - self.mean_) / self.scale_

    def _check_params(self):
        check_positive_int(self.n_estimators, "n_estimators")
        check_positive_int(self.max_features, "max_features")

    def _fit(self, windows, seed):
        from sklearn.ensemble import IsolationForest

        from ..tabular.isolation_trees import IsolationTrees

        self._check_params()
        flat = windows.reshape(windows.shape[0], -1)
        self.mean_ = flat.mean(axis=0)
        self.scale_ = np.where(flat.std(axis=0) > 0, flat.std(axis=0), 1.0)
        scaled = (flat - self.mean_) / self.scale_
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_features=min(self.max_features, scaled.shape[1]),
            random_state=seed,
        ).fit(scaled)
        self.trees_ = IsolationTrees.from_forest(forest, scaled)

    def _arrays(self):
        arrays = {f"trees.{k}": v for k, v in self.trees_.to_arrays().items()}
        return {"mean": self.mean_, "scale": self.scale_, **arrays}

    def _restore(self, arrays):
        from ..tabular.isolation_trees import IsolationTrees

        size = self.window_ * self.n_features_
        for key in ("mean", "scale"):
            value = np.asarray(arrays[key], dtype=np.float64)
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                raise ValueError(f"the isolation scorer's `{key}` must hold {size} finite values.")
        if not np.all(arrays["scale"] > 0):
            raise ValueError("the isolation scorer's `scale` must be positive.")
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        trees = {k[len("trees."):]: v for k, v in arrays.items() if k.startswith("trees.")}
        self.trees_ = IsolationTrees.from_arrays(trees, source="the isolation scorer")

    def _score(self, windows):
        return -self.trees_.score_samples(self._flat(windows))


#: Registered scorers: name -> class.
SCORERS = {"discord": DiscordScorer, "isolation": IsolationScorer, "flatness": FlatnessScorer,
           "residual": ResidualScorer}


def available_scorers():
    """Names of the registered scorers, sorted."""
    return sorted(SCORERS)


def register_scorer(name, cls):
    """Register a :class:`~fusionlab.detection.scorer_base.BaseScorer` subclass under ``name`` (a new name)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; received {name!r}.")
    if name in SCORERS or name == "reconstruction":
        raise ValueError(f"A scorer named {name!r} is already registered.")
    if not (isinstance(cls, type) and issubclass(cls, BaseScorer)):
        raise TypeError(f"`cls` must be a BaseScorer subclass; received {cls!r}.")
    SCORERS[name] = cls


def make_scorer(name):
    """A fresh scorer of the registered ``name``."""
    if name not in SCORERS:
        raise ValueError(
            f"Unknown scorer {name!r}; must be one of {available_scorers()} or 'reconstruction'."
        )
    return SCORERS[name]()
