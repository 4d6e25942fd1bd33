"""Evaluation metrics for time-series anomaly detection.

All functions take ``labels`` (0/1 per time point, 1 = anomaly) first and
``scores`` (higher = more anomalous) second, like scikit-learn. With
``threshold=None`` the threshold metrics expect 0/1 predictions instead of
scores.

The flag rule
-------------
A point is flagged when its score is **strictly greater** than the threshold,
``score > threshold`` (:func:`fusionlab.vocabulary.exceeds`), as for every
detector of fusionlab. The thresholds the metrics report (``best_f1``'s, and
``best_f1_threshold`` in :func:`evaluate`) follow the same rule: each is the
midpoint between the lowest flagged score and the next lower distinct score
(one below the lowest score when every point is flagged), so
``score > threshold`` reproduces the reported F1 and the threshold does not
sit on a score.
"""

from .evaluate import METRIC_COLUMNS, compare, evaluate
from .event_based import event_f1, point_adjust, point_adjusted_f1
from .pointwise import PRF, BestF1, auc_pr, auc_roc, best_f1, point_f1
from .range_based import range_f1, range_precision_recall
from .vus import VUS, vus, vus_pr, vus_roc

__all__ = [
    "PRF",
    "BestF1",
    "VUS",
    "point_f1",
    "best_f1",
    "auc_roc",
    "auc_pr",
    "point_adjust",
    "point_adjusted_f1",
    "event_f1",
    "range_precision_recall",
    "range_f1",
    "vus",
    "vus_roc",
    "vus_pr",
    "evaluate",
    "compare",
    "METRIC_COLUMNS",
]
