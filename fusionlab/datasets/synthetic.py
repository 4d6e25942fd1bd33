"""Synthetic series with labelled anomalies, for tests, docs and exercises."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._validation import (
    check_bool,
    check_option,
    check_positive_int,
    check_rate,
    check_real,
)
from ._random import check_random_state

__all__ = [
    "make_sine_anomalies",
    "make_sequence_anomalies",
    "make_server_metrics",
    "SequenceAnomalies",
    "SEQUENCE_ANOMALY_KINDS",
    "SERVER_INCIDENTS",
]

SEQUENCE_ANOMALY_KINDS = ("spike", "level_shift", "trend")
SERVER_INCIDENTS = ("cpu_memory", "network_latency", "instability")


def make_sine_anomalies(n_points=400, step=0.5, noise=0.1,
                        anomalies=((50, 60, 2.0), (150, 155, -1.5)),
                        random_state=42) -> pd.DataFrame:
    """Noisy sine wave with additive anomalies on known slices.

    ``time = step * arange(n_points)`` (with the defaults exactly
    ``np.arange(0, 200, 0.5)``), ``value = sin(time) + normal(0, noise)``, then
    ``magnitude`` is added to ``value[start:end]`` (Python slice, ``end``
    excluded) for each ``(start, end, magnitude)`` of ``anomalies``, and those
    points get label 1.

    Parameters
    ----------
    n_points : int, default=400
        Number of points.
    step : float > 0, default=0.5
        Time between points.
    noise : float >= 0, default=0.1
        Standard deviation of the Gaussian noise.
    anomalies : sequence of (int, int, float), default=((50, 60, 2.0), (150, 155, -1.5))
        ``(start, end, magnitude)`` of each anomaly, ``0 <= start < end <= n_points``.
    random_state : None, int, numpy.random.Generator or RandomState, default=42
        Noise source. An int seeds :func:`numpy.random.default_rng`. To get
        the draws of the legacy ``np.random.seed(42); np.random.normal(...)``
        idiom, pass ``np.random.RandomState(42)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (float), ``value`` (float) and ``label`` (int, 1 for
        an anomalous point), one row per point.

    Examples
    --------
    >>> from fusionlab.datasets import make_sine_anomalies
    >>> df = make_sine_anomalies()
    >>> df.shape, int(df["label"].sum())
    ((400, 3), 15)
    >>> df.loc[[49, 50, 59, 60], "label"].tolist()
    [0, 1, 1, 0]
    """
    n_points = check_positive_int(n_points, "n_points")
    step = check_real(step, "step", low=0.0, include_low=False)
    noise = check_real(noise, "noise", low=0.0)
    rng = check_random_state(random_state)
    time = np.arange(n_points) * step
    value = np.sin(time) + rng.normal(0.0, noise, n_points)
    label = np.zeros(n_points, dtype=np.int64)
    if anomalies is None or isinstance(anomalies, (str, bytes)):
        raise TypeError(
            "`anomalies` must be a sequence of (start, end, magnitude) tuples, () for "
            f"none; received {anomalies!r}."
        )
    for index, anomaly in enumerate(anomalies):
        try:
            start, end, magnitude = anomaly
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"`anomalies[{index}]` must be (start, end, magnitude); received {anomaly!r}."
            ) from exc
        if not (isinstance(start, numbers.Integral) and isinstance(end, numbers.Integral)
                and not isinstance(start, bool) and not isinstance(end, bool)
                and 0 <= start < end <= n_points):
            raise ValueError(
                f"`anomalies[{index}]` must have integers 0 <= start < end <= n_points "
                f"({n_points}); received start={start!r}, end={end!r}."
            )
        value[start:end] += check_real(magnitude, f"anomalies[{index}] magnitude")
        label[start:end] = 1
    return pd.DataFrame({"time": time, "value": value, "label": label})


class SequenceAnomalies(NamedTuple):
    """Result of :func:`make_sequence_anomalies`."""

    X: np.ndarray
    """float32 windows of shape (n_samples, seq_length, n_features)."""
    labels: np.ndarray
    """int64 array (n_samples,), 1 for an anomalous window."""
    kinds: np.ndarray
    """str array (n_samples,): 'normal', 'spike', 'level_shift' or 'trend'."""
    time_deltas: np.ndarray | None
    """float32 (n_samples, seq_length, 1) time steps, or None if regular."""


def make_sequence_anomalies(n_samples=500, seq_length=50, n_features=3, anomaly_ratio=0.1,
                            irregular=False, noise=0.1,
                            random_state=None) -> SequenceAnomalies:
    """Windows of multivariate phase-shifted sines, some made anomalous.

    Feature ``f`` of a window is ``sin(2 pi t / (20 + 5 f) + phase)`` plus
    Gaussian noise, with a random phase per window and feature and ``t`` the
    time of each step. Exactly ``round(anomaly_ratio * n_samples)`` windows,
    chosen at random, get one anomaly on a random non-empty subset of the
    features:

    * ``'spike'``: 1 to 3 steps shifted by +/-3 to 5;
    * ``'level_shift'``: +/-1.5 to 3 added from a step in the middle half of
      the window to its end;
    * ``'trend'``: a linear ramp from such a step, reaching +/-2 to 4 at the
      last step.

    Parameters
    ----------
    n_samples : int, default=500
        Number of windows.
    seq_length : int >= 4, default=50
        Steps per window.
    n_features : int, default=3
        Features per step.
    anomaly_ratio : float in [0, 1], default=0.1
        Share of anomalous windows.
    irregular : bool, default=False
        Draw the time between steps from Uniform[0.5, 1.5) (in units of the
        nominal step, so mean 1) instead of using 1, and return those deltas.
    noise : float >= 0, default=0.1
        Standard deviation of the Gaussian noise.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Source of randomness; an int gives reproducible data.

    Returns
    -------
    SequenceAnomalies
        Named tuple ``(X, labels, kinds, time_deltas)``: ``X`` float32 of
        shape (n_samples, seq_length, n_features); ``labels`` int64 of shape
        (n_samples,); ``kinds`` the anomaly kind per window (``'normal'`` for
        normal ones); ``time_deltas`` float32 of shape
        (n_samples, seq_length, 1) with the time elapsed since the previous
        step (the first entry is drawn like the others), or None when
        ``irregular`` is False.

    Examples
    --------
    >>> from fusionlab.datasets import make_sequence_anomalies
    >>> data = make_sequence_anomalies(200, 30, 2, anomaly_ratio=0.1, irregular=True,
    ...                                random_state=0)
    >>> data.X.shape, data.X.dtype, int(data.labels.sum()), data.time_deltas.shape
    ((200, 30, 2), dtype('float32'), 20, (200, 30, 1))
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    seq_length = check_positive_int(seq_length, "seq_length")
    if seq_length < 4:
        raise ValueError(f"`seq_length` must be >= 4; received {seq_length}.")
    n_features = check_positive_int(n_features, "n_features")
    anomaly_ratio = check_rate(anomaly_ratio, "anomaly_ratio")
    irregular = check_bool(irregular, "irregular")
    noise = check_real(noise, "noise", low=0.0)
    rng = check_random_state(random_state)

    if irregular:
        deltas = rng.uniform(0.5, 1.5, size=(n_samples, seq_length))
    else:
        deltas = np.ones((n_samples, seq_length))
    times = np.cumsum(deltas, axis=1) - deltas[:, :1]  # each window starts at t = 0
    periods = 20.0 + 5.0 * np.arange(n_features)
    phases = rng.uniform(0.0, 2 * np.pi, size=(n_samples, 1, n_features))
    X = np.sin(2 * np.pi * times[:, :, None] / periods + phases)
    X += rng.normal(0.0, noise, size=X.shape)

    labels = np.zeros(n_samples, dtype=np.int64)
    kinds = np.full(n_samples, "normal", dtype=object)
    n_anomalous = int(round(anomaly_ratio * n_samples))
    chosen = rng.permutation(n_samples)[:n_anomalous]
    middle = np.arange(seq_length // 4, 3 * seq_length // 4)
    for sample in chosen:
        kind = SEQUENCE_ANOMALY_KINDS[int(rng.choice(len(SEQUENCE_ANOMALY_KINDS)))]
        n_hit = int(rng.choice(n_features)) + 1
        features = rng.choice(n_features, size=n_hit, replace=False)
        sign = rng.choice([-1.0, 1.0])
        window = X[sample]  # a view: edits land in X
        if kind == "spike":
            steps = rng.choice(seq_length, size=int(rng.choice(3)) + 1, replace=False)
            window[steps[:, None], features] += sign * rng.uniform(3.0, 5.0)
        else:
            start = int(rng.choice(middle))
            if kind == "level_shift":
                shape = np.ones(seq_length - start)
                size = rng.uniform(1.5, 3.0)
            else:
                elapsed = times[sample, start:] - times[sample, start]
                shape = elapsed / elapsed[-1]
                size = rng.uniform(2.0, 4.0)
            window[start:, features] += (sign * size * shape)[:, None]
        labels[sample] = 1
        kinds[sample] = kind

    time_deltas = deltas[:, :, None].astype(np.float32) if irregular else None
    return SequenceAnomalies(X.astype(np.float32), labels, kinds.astype(str), time_deltas)


def _daily_profile(timestamps: pd.DatetimeIndex) -> np.ndarray:
    hours = (timestamps - timestamps.normalize()).total_seconds().to_numpy() / 3600.0
    # Office-hours load peaking mid-afternoon, a small evening bump, lighter weekends.
    profile = np.exp(-(((hours - 14.0) / 4.0) ** 2)) + 0.3 * np.exp(-(((hours - 21.0) / 2.0) ** 2))
    weekend = np.asarray(timestamps.day_of_week >= 5)
    return profile * np.where(weekend, 0.6, 1.0)


def make_server_metrics(n_points=2016, freq="5min", start="2024-01-01",
                        incidents=SERVER_INCIDENTS, incident_points=(12, 36),
                        random_state=None) -> pd.DataFrame:
    """Server monitoring metrics with a daily shape and labelled incidents.

    Four metrics follow an office-hours load profile (peak around 14:00, a
    smaller one around 21:00, 40 % lighter at weekends) plus noise:
    ``cpu`` (percent), ``memory`` (percent), ``network`` (Mbit/s) and
    ``response_time`` (ms, rising with CPU load). Each requested incident is
    injected once, at a random place in its own equal part of the series:

    * ``'cpu_memory'``: CPU jumps to 90-98 % while memory climbs steadily (a
      leak: +25 to 40 points over the incident), response time +50 %;
    * ``'network_latency'``: network throughput drops to 10-20 % of normal
      and response time rises by 300-600 ms;
    * ``'instability'``: every metric gets much larger erratic fluctuations.

    Parameters
    ----------
    n_points : int, default=2016
        Number of timestamps (2016 = 7 days at 5 minutes).
    freq : str or pandas offset, default='5min'
        Sampling interval.
    start : str or Timestamp, default='2024-01-01'
        First timestamp.
    incidents : sequence of str, default=SERVER_INCIDENTS
        Incident kinds to inject, each once, in this order through the series;
        repeats are allowed and ``()`` gives a clean series.
    incident_points : (int, int), default=(12, 36)
        Inclusive range of incident lengths, in points.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp``, ``cpu``, ``memory``, ``network``,
        ``response_time``, ``label`` (1 during an incident) and ``incident``
        (the incident kind, ``'none'`` outside incidents).

    Examples
    --------
    >>> from fusionlab.datasets import make_server_metrics
    >>> df = make_server_metrics(random_state=0)
    >>> df.columns.tolist()
    ['timestamp', 'cpu', 'memory', 'network', 'response_time', 'label', 'incident']
    >>> sorted(df.loc[df["label"] == 1, "incident"].unique())
    ['cpu_memory', 'instability', 'network_latency']
    """
    n_points = check_positive_int(n_points, "n_points")
    if incidents is None:
        raise TypeError(
            f"`incidents` must be a name or a sequence of names from {SERVER_INCIDENTS}, "
            "() for none; received None."
        )
    incidents = [check_option(kind, "incidents", SERVER_INCIDENTS)
                 for kind in ([incidents] if isinstance(incidents, str) else incidents)]
    try:
        low, high = (check_positive_int(v, "incident_points") for v in incident_points)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"`incident_points` must be two positive integers (low, high); "
            f"received {incident_points!r}."
        ) from exc
    if low > high:
        raise ValueError(f"`incident_points` must have low <= high; received {incident_points!r}.")
    if incidents and n_points // len(incidents) < high + 2:
        raise ValueError(
            f"`n_points` ({n_points}) is too small for {len(incidents)} incident(s) of up "
            f"to {high} points; give at least {len(incidents) * (high + 2)}."
        )
    try:
        timestamps = pd.date_range(start=start, periods=n_points, freq=freq)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid `start` {start!r} or `freq` {freq!r}: {exc}") from exc
    rng = check_random_state(random_state)

    load = _daily_profile(timestamps)
    cpu = 15.0 + 50.0 * load + rng.normal(0.0, 3.0, n_points)
    memory = 45.0 + 10.0 * load + rng.normal(0.0, 1.0, n_points)
    network = 40.0 + 160.0 * load + rng.normal(0.0, 8.0, n_points)
    response = 80.0 + 0.8 * cpu + rng.normal(0.0, 5.0, n_points)

    label = np.zeros(n_points, dtype=np.int64)
    incident = np.full(n_points, "none", dtype=object)
    block = n_points // max(len(incidents), 1)
    for index, kind in enumerate(incidents):
        length = int(rng.choice(np.arange(low, high + 1)))
        first = index * block + 1 + int(rng.choice(block - length - 1))
        span = slice(first, first + length)
        ramp = np.linspace(0.0, 1.0, length)
        if kind == "cpu_memory":
            cpu[span] = rng.uniform(90.0, 98.0) + rng.normal(0.0, 1.5, length)
            memory[span] += rng.uniform(25.0, 40.0) * ramp
            response[span] *= 1.5
        elif kind == "network_latency":
            network[span] *= rng.uniform(0.1, 0.2)
            response[span] += rng.uniform(300.0, 600.0) + rng.normal(0.0, 30.0, length)
        else:
            cpu[span] += rng.normal(0.0, 15.0, length)
            memory[span] += rng.normal(0.0, 5.0, length)
            network[span] += rng.normal(0.0, 50.0, length)
            response[span] += np.abs(rng.normal(0.0, 150.0, length))
        label[span] = 1
        incident[span] = kind

    return pd.DataFrame({
        "timestamp": timestamps,
        "cpu": np.clip(cpu, 0.0, 100.0),
        "memory": np.clip(memory, 0.0, 100.0),
        "network": np.clip(network, 0.0, None),
        "response_time": np.clip(response, 1.0, None),
        "label": label,
        "incident": incident.astype(str),
    })
