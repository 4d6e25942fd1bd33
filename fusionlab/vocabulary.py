"""Words every part of fusionlab shares: severities, anomaly types, the flag rule.

A leaf module (it imports nothing from fusionlab), so that the detectors,
the event records, the plots, the metrics and the service all read the same
names and apply the same rule without importing one another.

The rule
--------
A point (or a row) is anomalous when its score is **strictly greater** than
the threshold: ``score > threshold`` (:func:`exceeds`). Scores are always
"higher means more anomalous".
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "SEVERITIES",
    "SEVERITY_RANKS",
    "SEVERITY_BANDS",
    "SERIES_ANOMALY_TYPES",
    "ROW_ANOMALY_TYPE",
    "ANOMALY_TYPES",
    "BUILTIN_MODELS",
    "THRESHOLD_NAMES",
    "severity_rank",
    "severity_from_ratio",
    "exceeds",
]

#: Severity levels, from least to most severe.
SEVERITIES = ("low", "medium", "high", "critical")
#: Rank of each severity (``low`` 0 ... ``critical`` 3): compare severities by it.
SEVERITY_RANKS = {name: rank for rank, name in enumerate(SEVERITIES)}
#: Upper bounds (exclusive) of ``peak_score / threshold`` for low, medium, high.
SEVERITY_BANDS = (1.5, 2.5, 4.0)
#: Types of time-series events (see :func:`fusionlab.detection.classify_segment`).
SERIES_ANOMALY_TYPES = ("spike", "level_shift", "trend", "variance", "pattern")
#: Type of an anomalous row of a table.
ROW_ANOMALY_TYPE = "row"
#: Every anomaly type a record may carry.
ANOMALY_TYPES = SERIES_ANOMALY_TYPES + (ROW_ANOMALY_TYPE,)
#: Names of the models :mod:`fusionlab.detection.models` registers itself
#: (listed here so that a command line can offer them without starting Keras).
BUILTIN_MODELS = ("lstm_autoencoder", "conv_autoencoder", "cfc", "ltc")
#: Names of the threshold strategies of :mod:`fusionlab.detection.thresholds`.
THRESHOLD_NAMES = ("contamination", "dynamic", "mean_std", "percentile", "spot")


def severity_rank(severity, name: str = "severity") -> int:
    """Rank of ``severity`` (0 for ``'low'`` ... 3 for ``'critical'``).

    Raises
    ------
    ValueError
        If ``severity`` is not one of :data:`SEVERITIES`.

    Examples
    --------
    >>> from fusionlab.vocabulary import severity_rank
    >>> severity_rank("high") > severity_rank("medium")
    True
    """
    if severity not in SEVERITY_RANKS:
        raise ValueError(f"`{name}` must be one of {SEVERITIES}; received {severity!r}.")
    return SEVERITY_RANKS[severity]


def severity_from_ratio(ratio) -> str:
    """Severity of an event from ``peak_score / threshold``.

    ``< 1.5``: ``'low'``; ``< 2.5``: ``'medium'``; ``< 4``: ``'high'``;
    otherwise ``'critical'`` (an infinite ratio, from a zero threshold, too).

    Raises
    ------
    TypeError
        If ``ratio`` is not a real number.
    ValueError
        If it is NaN (a NaN score has no severity).

    Examples
    --------
    >>> from fusionlab.vocabulary import severity_from_ratio
    >>> [severity_from_ratio(r) for r in (1.2, 2.0, 3.0, 10.0)]
    ['low', 'medium', 'high', 'critical']
    """
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
        raise TypeError(
            f"`ratio` must be a real number; received {ratio!r} of type {type(ratio).__name__}."
        )
    if ratio != ratio:  # NaN
        raise ValueError("`ratio` is NaN: a NaN score has no severity.")
    for level, bound in zip(SEVERITIES, SEVERITY_BANDS, strict=False):
        if ratio < bound:
            return level
    return SEVERITIES[-1]


def exceeds(scores, threshold):
    """Boolean flags ``scores > threshold``: fusionlab's one flag rule.

    Examples
    --------
    >>> from fusionlab.vocabulary import exceeds
    >>> exceeds([0.5, 1.0, 1.5], 1.0).tolist()
    [False, False, True]
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(
            f"`threshold` must be a real number; received {threshold!r} of type "
            f"{type(threshold).__name__}."
        )
    return np.asarray(scores) > float(threshold)
