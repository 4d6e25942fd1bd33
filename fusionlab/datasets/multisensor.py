"""A machine watched by tens of correlated sensors, with labelled incidents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_option, check_positive_int
from ._random import check_random_state

__all__ = ["make_multisensor_series", "MULTISENSOR_INCIDENTS"]

#: Incident kinds of :func:`make_multisensor_series`.
MULTISENSOR_INCIDENTS = ("correlation", "spike", "drift", "stuck", "level_shift")
#: Inclusive range of each kind's length, in points.
_LENGTHS = {"correlation": (36, 108), "spike": (1, 4), "drift": (72, 180),
            "stuck": (36, 108), "level_shift": (36, 108)}


def _factors(timestamps, rng):
    """Three unit-variance latent factors: office-hours load, night jobs, a slow drift."""
    hours = (timestamps - timestamps.normalize()).total_seconds().to_numpy() / 3600.0
    weekend = np.asarray(timestamps.day_of_week >= 5)
    load = np.exp(-(((hours - 14.0) / 4.0) ** 2)) + 0.3 * np.exp(-(((hours - 21.0) / 2.0) ** 2))
    load *= np.where(weekend, 0.6, 1.0)
    # Batch jobs: a night-time bump, heavier on weekends.
    jobs = np.exp(-(((hours - 3.0) / 1.5) ** 2)) * np.where(weekend, 1.4, 1.0)
    # A slow mean-reverting process (outside temperature, demand) plus a weak daily swing.
    n = len(timestamps)
    slow = np.empty(n)
    slow[0] = 0.0
    shocks = rng.normal(0.0, 0.05, n)
    for i in range(1, n):
        slow[i] = 0.995 * slow[i - 1] + shocks[i]
    slow += 0.5 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    factors = np.c_[load, jobs, slow]
    return (factors - factors.mean(axis=0)) / factors.std(axis=0)


def make_multisensor_series(n_points=4032, n_channels=24, freq="10min", start="2024-01-01",
                            incidents=MULTISENSOR_INCIDENTS, clean_points=2016, noise=0.25,
                            random_state=None) -> pd.DataFrame:
    """Sensors of one machine driven by a few shared factors, with labelled incidents.

    Three latent factors (unit variance) drive every channel: an office-hours
    load (a daily shape, 40 % lighter at weekends), night-time batch jobs
    (heavier at weekends) and a slow mean-reverting drift with a weak daily
    swing. The channels fall in three groups, one per factor: channel ``j``
    is ``mean_j + scale_j * (loadings_j @ factors + noise_j)`` with a loading
    of 0.8-1.2 on its group's factor, up to 0.3 on the others, and AR(1)
    noise of standard deviation ``noise``, so channels of a group are
    strongly correlated and every channel has its own level and unit.

    The first ``clean_points`` points hold no incident (a training period);
    each requested incident is injected once, at a random place in its own
    equal part of the rest:

    * ``'correlation'``: 3-5 channels of one group follow their factor as it
      was 6-18 hours earlier for 36-108 points -- each stays in its usual
      range, only its agreement with the other channels breaks;
    * ``'spike'``: one channel jumps by 5-8 of its standard deviations for
      1-4 points;
    * ``'drift'``: one channel drifts away steadily, by 3-5 standard
      deviations at the end of 72-180 points;
    * ``'stuck'``: one channel freezes at its current value for 36-108
      points (a normal level);
    * ``'level_shift'``: every channel moves up by 1.5-2.5 of its standard
      deviations for 36-108 points (the whole machine).

    Parameters
    ----------
    n_points : int, default=4032
        Number of timestamps (4032 = four weeks at 10 minutes).
    n_channels : int, default=24
        At least 6 (two channels per factor group).
    freq : str or pandas offset, default='10min'
    start : str or Timestamp, default='2024-01-01'
    incidents : sequence of str, default=MULTISENSOR_INCIDENTS
        Kinds to inject, each once, in this order; repeats allowed, ``()``
        gives a clean series.
    clean_points : int, default=2016
        Leading points kept free of incidents.
    noise : float, default=0.25
        Standard deviation of each channel's own noise, relative to its
        factor loading.
    random_state : None, int, numpy.random.Generator or RandomState

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp``, ``s00`` ... (the channels), ``label`` (1 during
        an incident) and ``incident`` (its kind, ``'none'`` elsewhere).
        ``attrs["incidents"]`` lists each incident as a dict with ``kind``,
        ``start``, ``end`` (inclusive positions) and ``channels`` (the names
        of the channels it changes: all of them for a level shift).

    Examples
    --------
    >>> from fusionlab.datasets import make_multisensor_series
    >>> df = make_multisensor_series(random_state=0)
    >>> df.shape
    (4032, 27)
    >>> [i["kind"] for i in df.attrs["incidents"]]
    ['correlation', 'spike', 'drift', 'stuck', 'level_shift']
    >>> int(df["label"].iloc[:2016].sum())
    0
    """
    n_points = check_positive_int(n_points, "n_points")
    n_channels = check_positive_int(n_channels, "n_channels")
    if n_channels < 6:
        raise ValueError(f"`n_channels` must be at least 6; received {n_channels}.")
    if incidents is None:
        raise TypeError(
            f"`incidents` must be a name or a sequence of names from {MULTISENSOR_INCIDENTS}, "
            "() for none; received None."
        )
    incidents = [check_option(kind, "incidents", MULTISENSOR_INCIDENTS)
                 for kind in ([incidents] if isinstance(incidents, str) else incidents)]
    if isinstance(clean_points, bool) or not isinstance(clean_points, (int, np.integer)) \
            or not 0 <= clean_points < n_points:
        raise ValueError(
            f"`clean_points` must be an integer in [0, n_points); received {clean_points!r}."
        )
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"`noise` must be a number >= 0; received {noise!r}.")
    block = (n_points - clean_points) // max(len(incidents), 1)
    longest = max((_LENGTHS[kind][1] for kind in incidents), default=0)
    if incidents and block < 2 * longest:
        raise ValueError(
            f"{n_points - clean_points} points after `clean_points` are too few for "
            f"{len(incidents)} incident(s) of up to {longest} points; give at least "
            f"{2 * longest * len(incidents)}."
        )
    try:
        timestamps = pd.date_range(start=start, periods=n_points, freq=freq)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid `start` {start!r} or `freq` {freq!r}: {exc}") from exc
    rng = check_random_state(random_state)

    factors = _factors(timestamps, rng)
    n_factors = factors.shape[1]
    group = np.arange(n_channels) % n_factors
    loadings = rng.uniform(0.0, 0.3, (n_channels, n_factors))
    loadings[np.arange(n_channels), group] = rng.uniform(0.8, 1.2, n_channels)
    shocks = rng.normal(0.0, noise * np.sqrt(1 - 0.5**2), (n_points, n_channels))
    own = np.empty_like(shocks)
    own[0] = rng.normal(0.0, noise, n_channels)
    for i in range(1, n_points):
        own[i] = 0.5 * own[i - 1] + shocks[i]
    means = rng.uniform(10.0, 100.0, n_channels)
    scales = rng.uniform(1.0, 10.0, n_channels)
    latent = factors @ loadings.T + own  # (n_points, n_channels), before units
    spread = latent[:clean_points or n_points].std(axis=0)

    label = np.zeros(n_points, dtype=np.int64)
    incident = np.full(n_points, "none", dtype=object)
    names = [f"s{j:02d}" for j in range(n_channels)]
    records = []
    step_hours = (timestamps[1] - timestamps[0]).total_seconds() / 3600.0 if n_points > 1 else 1.0
    for index, kind in enumerate(incidents):
        low, high = _LENGTHS[kind]
        length = int(rng.integers(low, high + 1))
        first = clean_points + index * block + int(rng.integers(0, block - length))
        span = slice(first, first + length)
        if kind == "correlation":
            members = np.flatnonzero(group == rng.integers(n_factors))
            channels = rng.permutation(members)[: int(rng.integers(3, 6))]
            lag = max(int(round(rng.uniform(6.0, 18.0) / step_hours)), 1)
            past = np.arange(first, first + length) - lag
            for j in channels:
                latent[span, j] = factors[past] @ loadings[j] + own[span, j]
        elif kind == "spike":
            channels = rng.integers(n_channels, size=1)
            latent[span, channels[0]] += rng.uniform(5.0, 8.0) * spread[channels[0]]
        elif kind == "drift":
            channels = rng.integers(n_channels, size=1)
            ramp = np.linspace(0.0, 1.0, length)
            sign = rng.choice([-1.0, 1.0])
            latent[span, channels[0]] += sign * rng.uniform(3.0, 5.0) * spread[channels[0]] * ramp
        elif kind == "stuck":
            channels = rng.integers(n_channels, size=1)
            latent[span, channels[0]] = latent[first, channels[0]]
        else:
            channels = np.arange(n_channels)
            latent[span] += rng.uniform(1.5, 2.5) * spread
        label[span] = 1
        incident[span] = kind
        records.append({"kind": kind, "start": first, "end": first + length - 1,
                        "channels": [names[j] for j in sorted(int(c) for c in channels)]})
    values = means + scales * latent
    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "timestamp", timestamps)
    frame["label"] = label
    frame["incident"] = incident.astype(str)
    frame.attrs["incidents"] = records
    return frame
