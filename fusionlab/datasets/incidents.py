"""A monitored series with the incidents operators meet: spike, level shift, drop, stuck sensor."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_option, check_positive_int
from ._random import check_random_state

__all__ = ["make_incident_series", "SERIES_INCIDENTS"]

#: Incident kinds of :func:`make_incident_series`.
SERIES_INCIDENTS = ("spike", "level_shift", "drop", "stuck")
#: Length of each kind, in points (hours at the default frequency).
_LENGTHS = {"spike": 3, "level_shift": 48, "drop": 12, "stuck": 48}


def make_incident_series(n_points=1440, freq="h", start="2024-01-01",
                         incidents=SERIES_INCIDENTS, noise=0.05, random_state=None) -> pd.DataFrame:
    """An hourly load-like series with a daily and weekly rhythm and labelled incidents.

    The value follows a daily profile (low at night, a morning ramp, a
    plateau through the working day, an evening fall; 35 % lighter at
    weekends) on a base level of 1, plus Gaussian noise of standard deviation
    ``noise`` (relative to the daily swing of 1). Each requested incident is
    injected once, at a random place in its own equal part of the series
    (away from the part's edges):

    * ``'spike'``: 3 points raised by 1.5 to 2.5 daily swings;
    * ``'level_shift'``: 48 points raised by 0.6 to 0.9 swings (the rhythm
      goes on above its usual level);
    * ``'drop'``: 12 points falling to 10-20 % of the base level (an outage);
    * ``'stuck'``: 48 points frozen at the value the series had when the
      incident began, a normal level -- a stuck sensor, no value out of range.

    Parameters
    ----------
    n_points : int, default=1440
        Number of timestamps (1440 = 60 days of hours).
    freq : str or pandas offset, default='h'
    start : str or Timestamp, default='2024-01-01'
    incidents : sequence of str, default=SERIES_INCIDENTS
        Kinds to inject, each once, in this order through the series;
        repeats are allowed, ``()`` gives a clean series.
    noise : float, default=0.05
    random_state : None, int, numpy.random.Generator or RandomState

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp``, ``value``, ``label`` (1 during an incident)
        and ``incident`` (its kind, ``'none'`` elsewhere).

    Examples
    --------
    >>> from fusionlab.datasets import make_incident_series
    >>> df = make_incident_series(random_state=0)
    >>> df.columns.tolist()
    ['timestamp', 'value', 'label', 'incident']
    >>> df.groupby("incident").size().to_dict()
    {'drop': 12, 'level_shift': 48, 'none': 1329, 'spike': 3, 'stuck': 48}
    """
    n_points = check_positive_int(n_points, "n_points")
    if incidents is None or isinstance(incidents, str):
        incidents = [incidents] if isinstance(incidents, str) else incidents
    if incidents is None:
        raise TypeError(
            f"`incidents` must be a name or a sequence of names from {SERIES_INCIDENTS}, "
            "() for none; received None."
        )
    incidents = [check_option(kind, "incidents", SERIES_INCIDENTS) for kind in incidents]
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"`noise` must be a number >= 0; received {noise!r}.")
    block = n_points // max(len(incidents), 1)
    longest = max((_LENGTHS[kind] for kind in incidents), default=0)
    if incidents and block < 3 * longest:
        raise ValueError(
            f"`n_points` ({n_points}) is too small for {len(incidents)} incident(s) of up to "
            f"{longest} points; give at least {3 * longest * len(incidents)}."
        )
    try:
        timestamps = pd.date_range(start=start, periods=n_points, freq=freq)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid `start` {start!r} or `freq` {freq!r}: {exc}") from exc
    rng = check_random_state(random_state)

    hours = (timestamps - timestamps.normalize()).total_seconds().to_numpy() / 3600.0
    # Smooth steps up at 7-9 h and down at 18-21 h.
    day = 1.0 / (1.0 + np.exp(-(hours - 8.0) * 2.0)) - 1.0 / (1.0 + np.exp(-(hours - 19.5) * 1.5))
    weekend = np.asarray(timestamps.day_of_week >= 5)
    value = 1.0 + day * np.where(weekend, 0.65, 1.0) + rng.normal(0.0, noise, n_points)

    label = np.zeros(n_points, dtype=np.int64)
    incident = np.full(n_points, "none", dtype=object)
    for index, kind in enumerate(incidents):
        length = _LENGTHS[kind]
        first = index * block + length + int(rng.choice(block - 2 * length))
        span = slice(first, first + length)
        if kind == "spike":
            value[span] += rng.uniform(1.5, 2.5)
        elif kind == "level_shift":
            value[span] += rng.uniform(0.6, 0.9)
        elif kind == "drop":
            value[span] = rng.uniform(0.1, 0.2) + rng.normal(0.0, noise / 2, length)
        else:
            value[span] = value[first]
        label[span] = 1
        incident[span] = kind
    return pd.DataFrame({"timestamp": timestamps, "value": value, "label": label,
                         "incident": incident.astype(str)})
