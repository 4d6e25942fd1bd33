"""Range-based precision, recall and F1 (Tatbul et al., NeurIPS 2018).

Each run of consecutive anomalous points is a range. Recall of a real range
``R`` against the predicted ranges ``P_1..P_m`` is::

    recall(R) = alpha * existence(R) + (1 - alpha) * gamma(R) * omega(R)

where ``existence`` is 1 when any predicted point falls in ``R``, ``omega`` is
the share of ``R`` covered by predictions weighted by a positional bias
``delta(i, len(R))`` (``i = 1..len(R)``), and ``gamma`` penalises ``R`` being
split over ``x > 1`` predicted ranges (``1/x`` for ``'reciprocal'``, no
penalty for ``'one'``). Precision is the same with the roles of real and
predicted ranges swapped and ``alpha = 0``. The totals average over ranges.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_option, check_rate
from ._checks import binarize
from .pointwise import PRF, f1_from

__all__ = ["range_precision_recall", "range_f1", "BIASES", "CARDINALITIES"]

BIASES = ("flat", "front", "back", "middle")
CARDINALITIES = ("reciprocal", "one")


def _positional_weights(position: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    # position is 1-based inside its range, as in the paper's delta(i, len).
    if bias == "flat":
        return np.ones(position.shape, dtype=np.float64)
    if bias == "front":
        return (length - position + 1).astype(np.float64)
    if bias == "back":
        return position.astype(np.float64)
    return np.where(position <= length / 2, position, length - position + 1).astype(np.float64)


def _mean_range_recall(real: np.ndarray, predicted: np.ndarray, alpha: float,
                       cardinality: str, bias: str) -> float:
    """Average recall of the ranges of ``real`` against those of ``predicted``."""
    n = real.shape[0]
    previous_real = np.concatenate(([0], real[:-1]))
    starts = (real == 1) & (previous_real == 0)
    n_ranges = int(starts.sum())
    if n_ranges == 0:
        return 0.0
    inside = real == 1
    range_id = np.cumsum(starts)[inside] - 1
    index = np.arange(n)
    start_index = np.maximum.accumulate(np.where(starts, index, 0))[inside]
    position = index[inside] - start_index + 1
    length = np.bincount(range_id, minlength=n_ranges)[range_id]

    weights = _positional_weights(position, length, bias)
    hit = predicted[inside] == 1
    omega = (np.bincount(range_id, weights=weights * hit, minlength=n_ranges)
             / np.bincount(range_id, weights=weights, minlength=n_ranges))
    existence = np.bincount(range_id, weights=hit, minlength=n_ranges) > 0

    # A predicted range overlapping this one starts inside it, or covers its
    # first point and started earlier: count those starts per real range.
    previous_pred = np.concatenate(([0], predicted[:-1]))[inside]
    first_point = index[inside] == start_index
    overlap_start = hit & ((previous_pred == 0) | first_point)
    n_overlapping = np.bincount(range_id, weights=overlap_start, minlength=n_ranges)
    if cardinality == "reciprocal":
        gamma = 1.0 / np.maximum(n_overlapping, 1.0)
    else:
        gamma = np.ones(n_ranges)

    recall = alpha * existence + (1.0 - alpha) * gamma * omega
    return float(recall.mean())


def _check_range_options(alpha, cardinality, bias):
    alpha = check_rate(alpha, "alpha")
    cardinality = check_option(cardinality, "cardinality", CARDINALITIES)
    bias = check_option(bias, "bias", BIASES)
    return alpha, cardinality, bias


def range_precision_recall(labels, scores, threshold=None, *, alpha=0.2,
                           cardinality="reciprocal", bias="flat") -> PRF:
    """Range-based precision, recall and F1 of Tatbul et al. (2018).

    Parameters
    ----------
    labels, scores, threshold
        As in :func:`~fusionlab.metrics.point_f1`.
    alpha : float in [0, 1], default=0.2
        Weight of the existence reward in recall (0.2 as in TSB-AD's
        "R-based-F1"; 0 gives a pure overlap recall). Precision uses 0.
    cardinality : {'reciprocal', 'one'}, default='reciprocal'
        How a range split over ``x`` ranges of the other side is penalised:
        ``1/x``, or not at all.
    bias : {'flat', 'front', 'back', 'middle'}, default='flat'
        Positional weight of the points of a range: equal, larger near its
        start, larger near its end, or larger in its middle. The same bias is
        used for recall and precision.

    Returns
    -------
    PRF
        ``(range precision, range recall, F1)``; precision is 0 when nothing
        is flagged.

    Examples
    --------
    One real range of 4 points, predicted as two ranges covering 3 of them,
    plus a false alarm:

    >>> from fusionlab.metrics import range_precision_recall
    >>> labels = [0, 1, 1, 1, 1, 0, 0, 0]
    >>> preds = [0, 1, 0, 1, 1, 0, 1, 0]
    >>> prf = range_precision_recall(labels, preds, alpha=0.0)
    >>> round(prf.recall, 4), round(prf.precision, 4)
    (0.375, 0.6667)
    """
    alpha, cardinality, bias = _check_range_options(alpha, cardinality, bias)
    labels, predictions = binarize(labels, scores, threshold)
    recall = _mean_range_recall(labels, predictions, alpha, cardinality, bias)
    precision = _mean_range_recall(predictions, labels, 0.0, cardinality, bias)
    return PRF(precision, recall, f1_from(precision, recall))


def range_f1(labels, scores, threshold=None, *, alpha=0.2, cardinality="reciprocal",
             bias="flat") -> float:
    """Range-based F1 (Tatbul et al., 2018); see :func:`range_precision_recall`.

    Examples
    --------
    >>> from fusionlab.metrics import range_f1
    >>> round(range_f1([0, 1, 1, 1, 1, 0, 0, 0], [0, 1, 0, 1, 1, 0, 1, 0], alpha=0.0), 4)
    0.48
    """
    return range_precision_recall(labels, scores, threshold, alpha=alpha,
                                  cardinality=cardinality, bias=bias).f1
