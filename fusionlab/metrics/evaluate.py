"""One-call evaluation of a detector or of raw scores, and comparisons."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._validation import check_non_negative_int, check_real
from ._checks import check_labels, check_labels_scores, segments
from .event_based import event_f1, point_adjusted_f1
from .pointwise import auc_pr, auc_roc, best_f1, point_f1
from .range_based import range_precision_recall
from .vus import check_window, vus

__all__ = ["evaluate", "compare", "METRIC_COLUMNS"]

#: Columns of the tables returned by :func:`evaluate` and :func:`compare`.
METRIC_COLUMNS = (
    "auc_roc", "auc_pr", "vus_roc", "vus_pr",
    "best_f1", "best_f1_threshold",
    "threshold", "threshold_source",
    "precision", "recall", "f1",
    "pa_f1", "event_f1",
    "range_precision", "range_recall", "range_f1",
    "n_points", "n_anomalies", "n_events",
)


def _scores_of(detector, X):
    if not hasattr(detector, "score_samples"):
        raise TypeError(
            "`detector_or_scores` must be a fitted detector with `score_samples` "
            f"or an array of scores; received {type(detector).__name__}."
        )
    return np.asarray(detector.score_samples(X))


def _detector_threshold(detector):
    threshold = getattr(detector, "threshold_", None)
    if threshold is None:
        raise ValueError(
            f"{type(detector).__name__} has no `threshold_`: fit it first, or pass "
            "`threshold=`."
        )
    return float(threshold)


def _metrics_row(scores, labels, threshold, source, vus_window, vus_thresholds):
    labels, scores = check_labels_scores(labels, scores, need_negative=True)
    check_window(vus_window, labels.shape[0], "vus_window")
    best = best_f1(labels, scores)
    if threshold is None:
        threshold, source = best.threshold, "best_f1"
    else:
        threshold = check_real(threshold, "threshold", allow_none=True)
    volume = vus(labels, scores, window=vus_window, n_thresholds=vus_thresholds)
    threshold = float(threshold)
    point = point_f1(labels, scores, threshold)
    ranged = range_precision_recall(labels, scores, threshold)
    return {
        "auc_roc": auc_roc(labels, scores),
        "auc_pr": auc_pr(labels, scores),
        "vus_roc": volume.roc,
        "vus_pr": volume.pr,
        "best_f1": best.f1,
        "best_f1_threshold": best.threshold,
        "threshold": threshold,
        "threshold_source": source,
        "precision": point.precision,
        "recall": point.recall,
        "f1": point.f1,
        "pa_f1": point_adjusted_f1(labels, scores, threshold).f1,
        "event_f1": event_f1(labels, scores, threshold).f1,
        "range_precision": ranged.precision,
        "range_recall": ranged.recall,
        "range_f1": ranged.f1,
        "n_points": int(labels.shape[0]),
        "n_anomalies": int(labels.sum()),
        "n_events": int(len(segments(labels))),
    }


def evaluate(detector_or_scores, X, labels, threshold=None, *, name=None,
             vus_window=100, vus_thresholds=250) -> pd.DataFrame:
    """Every metric of :mod:`fusionlab.metrics` in one row.

    Parameters
    ----------
    detector_or_scores : fitted detector or array-like of shape (n,)
        A detector with ``score_samples(X)`` (one score per time point) and,
        unless ``threshold`` is given, a ``threshold_`` attribute; or the
        scores themselves.
    X : array-like or None
        Data passed to ``score_samples``; ignored (may be None) for scores.
    labels : array-like of shape (n,)
        0/1 ground truth holding both classes.
    threshold : float or None, default=None
        Threshold of the threshold-dependent metrics (flag
        ``score > threshold``, the rule of the detectors too). None means the
        detector's ``threshold_``, or, for raw scores, the best-F1 threshold
        (an oracle choice; the ``threshold_source`` column says which was
        used).
    name : str or None, default=None
        Row label; the detector's class name, or ``"scores"``.
    vus_window : int, default=100
        ``window`` of :func:`~fusionlab.metrics.vus`; at most the number of
        points.
    vus_thresholds : int, default=250
        ``n_thresholds`` of :func:`~fusionlab.metrics.vus`.

    Returns
    -------
    pandas.DataFrame
        One row indexed by ``name`` with the columns of ``METRIC_COLUMNS``:
        the threshold-free ``auc_roc``, ``auc_pr`` (average precision),
        ``vus_roc``, ``vus_pr``, ``best_f1`` and ``best_f1_threshold``; the
        ``threshold`` used and its ``threshold_source`` (``'given'``,
        ``'detector'`` or ``'best_f1'``); point-wise ``precision``,
        ``recall``, ``f1``; ``pa_f1`` (point-adjusted), ``event_f1``,
        range-based ``range_precision``, ``range_recall``, ``range_f1``
        (Tatbul et al., alpha=0.2, flat bias); and the counts ``n_points``,
        ``n_anomalies``, ``n_events``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.metrics import evaluate
    >>> labels = np.zeros(100, dtype=int)
    >>> labels[40:45] = 1
    >>> scores = labels + np.random.default_rng(0).normal(0, 0.5, 100)
    >>> row = evaluate(scores, None, labels, vus_window=10)
    >>> [round(float(row.loc["scores", c]), 3) for c in ("auc_roc", "best_f1")]
    [0.954, 0.889]
    >>> row.loc["scores", "threshold_source"]
    'best_f1'
    """
    vus_window = check_non_negative_int(vus_window, "vus_window")
    if hasattr(detector_or_scores, "score_samples"):
        source = "given"
        if threshold is None:
            # Before scoring, so an unfitted detector gets this message.
            threshold, source = _detector_threshold(detector_or_scores), "detector"
        scores = _scores_of(detector_or_scores, X)
        default_name = type(detector_or_scores).__name__
    else:
        scores = detector_or_scores
        source = "given"
        default_name = "scores"
    row = _metrics_row(scores, labels, threshold, source, vus_window, vus_thresholds)
    return pd.DataFrame([row], index=pd.Index([name or default_name], name="name"),
                        columns=list(METRIC_COLUMNS))


def _named(detectors):
    if isinstance(detectors, Mapping):
        items = list(detectors.items())
    elif isinstance(detectors, (list, tuple)):
        items, seen = [], {}
        for detector in detectors:
            base = type(detector).__name__
            seen[base] = seen.get(base, 0) + 1
            items.append((base if seen[base] == 1 else f"{base}_{seen[base]}", detector))
    else:
        raise TypeError(
            "`detectors` must be a dict name -> detector or a list of detectors; "
            f"received {type(detectors).__name__}."
        )
    if not items:
        raise ValueError("`detectors` is empty; give at least one detector.")
    for name, detector in items:
        if not hasattr(detector, "score_samples"):
            raise TypeError(
                f"Detector {name!r} ({type(detector).__name__}) has no `score_samples`."
            )
    return items


def compare(detectors, X, labels, fit=True, *, vus_window=100,
            vus_thresholds=250) -> pd.DataFrame:
    """Fit (optionally) and evaluate several detectors on the same data.

    Parameters
    ----------
    detectors : dict of str to detector, or list of detectors
        Detectors with ``fit(X)``, ``score_samples(X)`` and ``threshold_``.
        List entries are named after their class (``Name_2``, ... for repeats).
    X : array-like
        Data given to ``fit`` and ``score_samples``.
    labels : array-like of shape (n,)
        0/1 ground truth per time point, holding both classes.
    fit : bool, default=True
        Call ``fit(X)`` first; False evaluates already fitted detectors.
    vus_window, vus_thresholds : int
        As in :func:`evaluate`.

    Returns
    -------
    pandas.DataFrame
        One row per detector (index ``name``) with the columns of
        :func:`evaluate` plus ``fit_seconds`` (NaN when ``fit=False``) and
        ``score_seconds``, sorted by ``vus_pr``, best first.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.metrics import compare
    >>> class Abs:
    ...     def fit(self, X):
    ...         self.threshold_ = 2.0
    ...         return self
    ...     def score_samples(self, X):
    ...         return np.abs(X[:, 0])
    >>> X = np.random.default_rng(0).normal(size=(200, 1))
    >>> X[50:55] += 6
    >>> labels = np.zeros(200, dtype=int)
    >>> labels[50:55] = 1
    >>> table = compare({"abs": Abs()}, X, labels, vus_window=10)
    >>> table.index.tolist(), table.loc["abs", "threshold_source"]
    (['abs'], 'detector')
    """
    vus_window = check_non_negative_int(vus_window, "vus_window")
    # Before any fitting, so a bad window or bad labels fail at once.
    check_window(vus_window, check_labels(labels, need_negative=True).shape[0], "vus_window")
    rows = []
    for name, detector in _named(detectors):
        fit_seconds = np.nan
        if fit:
            start = time.perf_counter()
            returned = detector.fit(X)
            fit_seconds = time.perf_counter() - start
            if returned is not None and returned is not detector:
                detector = returned
        start = time.perf_counter()
        scores = _scores_of(detector, X)
        score_seconds = time.perf_counter() - start
        row = _metrics_row(scores, labels, _detector_threshold(detector), "detector",
                           vus_window, vus_thresholds)
        row.update(name=name, fit_seconds=fit_seconds, score_seconds=score_seconds)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("name")
    table = table[list(METRIC_COLUMNS) + ["fit_seconds", "score_seconds"]]
    return table.sort_values("vus_pr", ascending=False, kind="stable")
