"""Matplotlib figures for anomaly-detection results.

Every function draws on ``ax`` when given (and returns its figure) or on a
new :class:`matplotlib.figure.Figure`; pyplot is never used, so no global
figure state is created or left behind. Inputs are plain arrays, pandas
objects, or event tables: a DataFrame with ``start`` and ``end`` columns
(optionally ``severity``, ``peak_score``), any object with a ``to_frame()``
method returning one, or a list of such objects or of dicts.

Time axes: ``time=`` gives the x values; without it, a pandas Series or
DataFrame with a :class:`~pandas.DatetimeIndex` gives its index, and
anything else the position. Timestamps (naive or time-zone aware) get a date
axis, matplotlib's :class:`~matplotlib.dates.AutoDateLocator` with a
:class:`~matplotlib.dates.ConciseDateFormatter` (short labels that do not
overlap, in the timestamps' zone). Every line and shaded band is named in a
legend.
"""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._runs import flag_runs
from ._validation import (
    as_2d,
    check_binary,
    check_numeric,
    check_positive_int,
    check_real,
    check_scores,
)
from .vocabulary import SEVERITIES, exceeds

__all__ = [
    "SEVERITY_LEVELS",
    "SEVERITY_COLORS",
    "plot_series",
    "plot_scores",
    "plot_score_distribution",
    "plot_severity_distribution",
    "plot_anomaly_timeline",
    "plot_feature_contributions",
    "plot_detection",
]

#: The severity levels, least severe first (:data:`fusionlab.vocabulary.SEVERITIES`).
SEVERITY_LEVELS = SEVERITIES
#: Colour of each severity level in the figures.
SEVERITY_COLORS = dict(zip(SEVERITIES, ("#f1c232", "#f28e2b", "#d62728", "#6b0f1a"),
                           strict=True))
_UNKNOWN_COLOR = "#7f7f7f"
_LABEL_COLOR = "#9ecae1"


def _axes(ax, figsize):
    if ax is None:
        figure = Figure(figsize=figsize, layout="constrained")
        return figure, figure.add_subplot()
    return ax.get_figure(), ax


def _one_per_point(values, n, name):
    if len(values) != n:
        raise ValueError(
            f"`{name}` must have one entry per point ({n}); received {len(values)}."
        )
    return values


def _time(time, n, name="time", like=None):
    """x values: ``time``, else the DatetimeIndex of ``like``, else positions."""
    if time is None and isinstance(getattr(like, "index", None), pd.DatetimeIndex):
        time = like.index
    if time is None:
        return np.arange(n)
    axis = pd.Index(time) if not isinstance(time, pd.Index) else time
    return _one_per_point(axis, n, name).to_numpy()


def _date_zone(values):
    """``(is_dates, tzinfo)`` of x values (numpy datetimes or Timestamps)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.datetime64):
        return True, None
    if values.dtype == object and values.size and isinstance(values.flat[0], datetime.datetime):
        return True, values.flat[0].tzinfo  # tz-aware timestamps come as objects
    return False, None


def _date_axis(ax, *candidates):
    """Give ``ax`` a concise date axis when the first non-empty x values are dates."""
    for values in candidates:
        if values is None or not len(values):
            continue
        dates, zone = _date_zone(values)
        if dates:
            locator = AutoDateLocator(tz=zone)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=zone))
        return


def _mask(mask, n, name):
    """0/1 values, one per point, as a bool array (None stays None)."""
    return None if mask is None else _one_per_point(check_binary(mask, name), n, name)


def _scores_axes(scores, time, labels, ax, figsize, name="scores"):
    """Checked values and x, and the axes, with the labelled runs shaded."""
    y = check_scores(scores, name)
    x = _time(time, y.size, like=scores)
    labels = _mask(labels, y.size, "labels")
    figure, ax = _axes(ax, figsize)
    if labels is not None:
        _shade_labels(ax, x, labels)
    return y, x, figure, ax


def _finish(figure, ax, title, *, xlabel=None, ylabel=None, legend=None):
    """Axis labels, a legend (``legend``: its keyword arguments) and the title."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if legend is not None:
        ax.legend(**legend)
    if title:
        ax.set_title(title)
    return figure


def events_frame(events) -> pd.DataFrame:
    """Normalise an event table to a DataFrame with ``start`` and ``end``.

    Accepts a DataFrame, an object with ``to_frame()``, or a list of such
    objects, dicts or dataclass instances. ``None`` gives an empty table.
    """
    if events is None:
        return pd.DataFrame(columns=["start", "end"])
    if isinstance(events, pd.DataFrame):
        frame = events
    elif hasattr(events, "to_frame"):
        frame = events.to_frame()
    elif isinstance(events, (list, tuple)):
        if not events:
            return pd.DataFrame(columns=["start", "end"])
        if all(hasattr(e, "to_frame") for e in events):
            frame = pd.concat([e.to_frame() for e in events], ignore_index=True)
        elif all(isinstance(e, dict) for e in events):
            frame = pd.DataFrame(list(events))
        elif all(dataclasses.is_dataclass(e) for e in events):
            frame = pd.DataFrame([dataclasses.asdict(e) for e in events])
        else:
            raise TypeError("`events` list items must all have `to_frame()`, or all be "
                            "dicts or dataclass instances.")
    else:
        raise TypeError(
            "`events` must be a DataFrame with start/end columns, an object with "
            f"`to_frame()`, or a list of events; received {type(events).__name__}."
        )
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`events.to_frame()` must return a DataFrame; got {type(frame).__name__}.")
    missing = {"start", "end"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"`events` needs columns 'start' and 'end'; missing {sorted(missing)} "
            f"(columns: {list(frame.columns)})."
        )
    return frame.reset_index(drop=True)


def _severity_color(severity):
    return SEVERITY_COLORS.get(str(severity).lower(), _UNKNOWN_COLOR)


def _half_step(time):
    """Half the median sampling step of ``time`` (0 when it has none)."""
    if len(time) < 2:
        return 0
    try:
        return np.median(np.diff(time)) / 2
    except TypeError:  # values without arithmetic: spans end on the points
        return 0


def _span(ax, start, end, half, **style):
    """Shade the points ``start..end`` with half a step on each side, so a
    one-point span is visible and a run covers all of its points."""
    ax.axvspan(start - half, end + half, **style)


def _shade_labels(ax, time, labels, label="labelled anomaly"):
    runs = flag_runs(labels)
    half = _half_step(time)
    for i, (s, e) in enumerate(runs):
        _span(ax, time[s], time[e], half, color=_LABEL_COLOR, alpha=0.5, lw=0,
              label=label if i == 0 else None)


def plot_series(values, time=None, *, labels=None, anomalies=None, events=None, ax=None,
                title=None, figsize=(10, 3.5)) -> Figure:
    """Plot a series with anomalous points and event spans.

    Parameters
    ----------
    values : array-like of shape (n,)
        The series.
    time : array-like of shape (n,), optional
        x values (numbers or timestamps); the position by default.
    labels : array-like of 0/1, optional
        Ground truth, drawn as light blue background spans.
    anomalies : array-like of 0/1, optional
        Flagged points (e.g. ``detector.predict(X)``), drawn as red markers.
    events : event table, optional
        Detected events, drawn as spans from ``start`` to ``end`` (in ``time``
        units) coloured by ``severity`` when that column exists.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    title : str, optional
    figsize : (float, float), default=(10, 3.5)
        Size of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from fusionlab.datasets import make_sine_anomalies
    >>> from fusionlab.plot import plot_series
    >>> df = make_sine_anomalies()
    >>> fig = plot_series(df["value"], df["time"], labels=df["label"])
    >>> len(fig.axes[0].lines)
    1
    """
    frame = events_frame(events)
    y, x, figure, ax = _scores_axes(values, time, labels, ax, figsize, "values")
    anomalies = _mask(anomalies, y.size, "anomalies")
    half = _half_step(x)
    for _, event in frame.iterrows():
        severity = event.get("severity", None)
        _span(ax, event["start"], event["end"], half, color=_severity_color(severity),
              alpha=0.25, lw=0)
    ax.plot(x, y, color="#1f77b4", lw=1.0, label="value")
    if anomalies is not None and anomalies.any():
        ax.scatter(x[anomalies], y[anomalies], color="#d62728", s=14, zorder=3,
                   label="flagged point")
    if len(frame):
        present = [s for s in SEVERITY_LEVELS if "severity" in frame
                   and (frame["severity"].astype(str).str.lower() == s).any()]
        handles = [Patch(color=SEVERITY_COLORS[s], alpha=0.4, label=f"{s} event")
                   for s in present] or [Patch(color=_UNKNOWN_COLOR, alpha=0.4, label="event")]
    else:
        handles = []
    existing, names = ax.get_legend_handles_labels()
    legend = {"handles": existing + handles, "labels": names + [h.get_label() for h in handles],
              "loc": "upper right", "fontsize": "small"}
    _date_axis(ax, x)
    return _finish(figure, ax, title, xlabel="time", ylabel="value", legend=legend)


def plot_scores(scores, threshold=None, time=None, *, labels=None, ax=None, title=None,
                figsize=(10, 3)) -> Figure:
    """Plot anomaly scores over time with the decision threshold.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Anomaly scores.
    threshold : float, optional
        Drawn as a dashed horizontal line; the points above it
        (``score > threshold``, the flag rule) are marked.
    time : array-like of shape (n,), optional
        x values; the position by default.
    labels : array-like of 0/1, optional
        Ground truth, drawn as background spans.
    ax, title, figsize
        As in :func:`plot_series`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.plot import plot_scores
    >>> fig = plot_scores(np.random.default_rng(0).random(50), threshold=0.9)
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['score', 'threshold']
    """
    threshold = check_real(threshold, "threshold", allow_none=True)
    y, x, figure, ax = _scores_axes(scores, time, labels, ax, figsize)
    ax.plot(x, y, color="#4c4c4c", lw=1.0, label="score")
    if threshold is not None:
        ax.axhline(threshold, color="#d62728", ls="--", lw=1.2, label="threshold")
        above = exceeds(y, threshold)
        if above.any():
            ax.scatter(x[above], y[above], color="#d62728", s=12, zorder=3, label="above")
    _date_axis(ax, x)
    return _finish(figure, ax, title, xlabel="time", ylabel="anomaly score",
                   legend={"loc": "upper right", "fontsize": "small"})


def plot_score_distribution(scores, labels, threshold=None, *, bins=50, ax=None, title=None,
                            figsize=(6, 3.5)) -> Figure:
    """Histograms of the scores of normal and anomalous points.

    Both histograms are densities on shared bins, so classes of very
    different sizes stay comparable.

    Parameters
    ----------
    scores : array-like of shape (n,)
    labels : array-like of 0/1, shape (n,)
    threshold : float, optional
        Drawn as a vertical dashed line.
    bins : int, default=50
    ax, title, figsize
        As in :func:`plot_series`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.plot import plot_score_distribution
    >>> labels = np.r_[np.zeros(90), np.ones(10)]
    >>> fig = plot_score_distribution(labels + np.random.default_rng(0).random(100), labels)
    >>> len(fig.axes[0].containers)
    2
    """
    y = check_scores(scores)
    if labels is None:
        raise ValueError("`labels` is required.")
    labels = _mask(labels, y.size, "labels")
    threshold = check_real(threshold, "threshold", allow_none=True)
    figure, ax = _axes(ax, figsize)
    edges = np.histogram_bin_edges(y, bins=bins)
    for mask, name, color in ((~labels, "normal", "#1f77b4"), (labels, "anomaly", "#d62728")):
        if mask.any():
            ax.hist(y[mask], bins=edges, density=True, alpha=0.55, color=color,
                    label=f"{name} (n={int(mask.sum())})")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1.2, label="threshold")
    return _finish(figure, ax, title, xlabel="anomaly score", ylabel="density",
                   legend={"fontsize": "small"})


def plot_severity_distribution(events, *, ax=None, title=None, figsize=(5, 3.5)) -> Figure:
    """Bar chart of the number of events per severity level.

    All four levels (low, medium, high, critical) are shown, with zero bars
    for absent ones; other values are added after them.

    Parameters
    ----------
    events : event table with a ``severity`` column
    ax, title, figsize
        As in :func:`plot_series`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.plot import plot_severity_distribution
    >>> events = pd.DataFrame({"start": [1, 5, 9], "end": [2, 6, 9],
    ...                        "severity": ["low", "high", "high"]})
    >>> fig = plot_severity_distribution(events)
    >>> [int(p.get_height()) for p in fig.axes[0].patches]
    [1, 0, 2, 0]
    """
    frame = events_frame(events)
    if "severity" not in frame:
        raise ValueError("`events` needs a 'severity' column.")
    severity = frame["severity"].astype(str).str.lower()
    extra = sorted(set(severity) - set(SEVERITY_LEVELS))
    levels = list(SEVERITY_LEVELS) + extra
    counts = severity.value_counts().reindex(levels, fill_value=0)
    figure, ax = _axes(ax, figsize)
    bars = ax.bar(levels, counts.to_numpy(), color=[_severity_color(s) for s in levels])
    ax.bar_label(bars)
    ax.margins(y=0.15)
    return _finish(figure, ax, title, xlabel="severity", ylabel="events")


def plot_anomaly_timeline(events, scores=None, time=None, *, ax=None, title=None,
                          figsize=(10, 3)) -> Figure:
    """Events on a time axis at the height of their peak score, by severity.

    Each event is a horizontal bar from ``start`` to ``end`` at
    ``peak_score`` (``mean_score`` if there is no peak) with a marker at its
    start, coloured by ``severity``. When ``scores`` are given they are drawn
    underneath in grey.

    Parameters
    ----------
    events : event table with ``peak_score`` or ``mean_score`` columns
    scores : array-like of shape (n,), optional
    time : array-like of shape (n,), optional
        x values of ``scores``.
    ax, title, figsize
        As in :func:`plot_series`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.plot import plot_anomaly_timeline
    >>> events = pd.DataFrame({"start": [3, 20], "end": [6, 22], "peak_score": [2.5, 4.0],
    ...                        "severity": ["medium", "critical"]})
    >>> fig = plot_anomaly_timeline(events)
    >>> len(fig.axes[0].collections)
    4
    """
    frame = events_frame(events)
    height_column = next((c for c in ("peak_score", "mean_score") if c in frame), None)
    if height_column is None:
        raise ValueError("`events` needs a 'peak_score' or 'mean_score' column.")
    figure, ax = _axes(ax, figsize)
    x = None
    if scores is not None:
        y = check_scores(scores)
        x = _time(time, y.size, like=scores)
        ax.plot(x, y, color="#b0b0b0", lw=0.8, label="score", zorder=1)
    severity = (frame["severity"].astype(str).str.lower() if "severity" in frame
                else pd.Series(["event"] * len(frame)))
    for level in list(SEVERITY_LEVELS) + sorted(set(severity) - set(SEVERITY_LEVELS)):
        chosen = frame[(severity == level).to_numpy()]
        if chosen.empty:
            continue
        color = _severity_color(level)
        ax.hlines(chosen[height_column], chosen["start"], chosen["end"], colors=color, lw=4,
                  zorder=2)
        ax.scatter(chosen["start"], chosen[height_column], color=to_rgba(color), s=30,
                   zorder=3, label=level)
    legend = {"fontsize": "small", "loc": "upper right"} if len(frame) or scores is not None else None
    _date_axis(ax, x, frame["start"].to_numpy())
    return _finish(figure, ax, title, xlabel="time", ylabel=height_column.replace("_", " "),
                   legend=legend)


def plot_feature_contributions(contributions, feature_names=None, time=None, *, ax=None,
                               title=None, cmap="magma", figsize=(10, 3.5)) -> Figure:
    """Heatmap of per-feature contributions to the anomaly score over time.

    Parameters
    ----------
    contributions : array-like or DataFrame of shape (n_time, n_features)
        One row per time point (e.g. per-feature reconstruction errors). A
        DataFrame gives the feature names and, when ``time`` is None, its
        index as time.
    feature_names : sequence of str, optional
        Row labels of the heatmap.
    time : array-like of shape (n_time,), optional
        Used for the x tick labels.
    ax, title, figsize
        As in :func:`plot_series`.
    cmap : str, default='magma'

    Returns
    -------
    matplotlib.figure.Figure
        The heatmap (features as rows) with a colour bar.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.plot import plot_feature_contributions
    >>> fig = plot_feature_contributions(np.random.default_rng(0).random((40, 3)),
    ...                                  ["cpu", "memory", "network"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['cpu', 'memory', 'network']
    """
    if isinstance(contributions, pd.DataFrame):
        feature_names = list(contributions.columns) if feature_names is None else feature_names
        if time is None:
            time = contributions.index
        matrix = contributions.to_numpy()
    else:
        matrix = np.asarray(contributions)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(
            "`contributions` must be a non-empty 2-D array (n_time, n_features); received "
            f"shape {matrix.shape}."
        )
    matrix = check_numeric(matrix, "contributions")
    n_time, n_features = matrix.shape
    if feature_names is None:
        feature_names = [f"feature {i}" for i in range(n_features)]
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != n_features:
        raise ValueError(
            f"`feature_names` must have {n_features} entries; received {len(feature_names)}."
        )
    figure, ax = _axes(ax, figsize)
    image = ax.imshow(matrix.T, aspect="auto", interpolation="nearest", cmap=cmap,
                      origin="upper")
    ax.set_yticks(np.arange(n_features), labels=feature_names)
    if time is not None:
        stamps = _time(time, n_time)
        ticks = np.unique(np.linspace(0, n_time - 1, min(n_time, 6)).astype(int))
        ax.set_xticks(ticks, labels=[str(pd.Timestamp(stamps[i]))[:16]
                                     if np.issubdtype(np.asarray(stamps).dtype, np.datetime64)
                                     else str(stamps[i]) for i in ticks])
    figure.colorbar(image, ax=ax, label="contribution")
    return _finish(figure, ax, title, xlabel="time")


def _feature_names(values, n_features):
    if isinstance(values, pd.DataFrame):
        return [str(c) for c in values.columns]
    if isinstance(values, pd.Series) and values.name is not None:
        return [str(values.name)]
    return ["value"] if n_features == 1 else [f"feature {i}" for i in range(n_features)]


def _severity_handles(frame):
    """Legend patches of the severities present in an event table."""
    if not len(frame):
        return []
    if "severity" not in frame:
        return [Patch(color=_UNKNOWN_COLOR, alpha=0.3, label="event")]
    present = set(frame["severity"].astype(str).str.lower())
    levels = [s for s in SEVERITY_LEVELS if s in present] + sorted(present - set(SEVERITY_LEVELS))
    return [Patch(color=_severity_color(s), alpha=0.3, label=f"{s} event") for s in levels]


def plot_detection(values, scores, threshold, events=None, *, time=None, path=None,
                   max_features=5, title=None, figsize=None) -> Figure:
    """One panel per feature (up to ``max_features``), then the scores.

    Each feature gets its own panel and y axis, so a feature of small values
    is not flattened by a large one; the panels share the x axis. Detected
    events are shaded on every panel, and the legends name each feature, the
    score, the threshold and the event bands by severity.

    Parameters
    ----------
    values : array-like of shape (n,) or (n, n_features)
        The series; a DataFrame gives the feature names and, when ``time``
        is None and its index is a DatetimeIndex, the time axis.
    scores : array-like of shape (n,)
        One anomaly score per point (e.g. ``detector.score_samples(X)``).
    threshold : float
        Drawn as a dashed line on the scores.
    events : event table, optional
        Detected events (see :func:`events_frame`); their ``start_index`` /
        ``end_index`` columns place them when present, else ``start``/``end``
        in ``time`` units. Shaded by ``severity`` on every panel.
    time : array-like of shape (n,), optional
        x values; timestamps give a date axis. Default: the DatetimeIndex of
        ``values`` (or of ``scores``), else the position.
    path : str or path, optional
        Also save the figure there (PNG at 100 dpi).
    max_features : int, default=5
        Most feature panels; with more features the first ``max_features``
        are drawn and the title says how many of them.
    title : str, optional
        Default: the number of anomalous periods.
    figsize : (float, float), optional
        Default: 10 inches wide, about 1.6 inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes are the feature panels, top to bottom, then the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.plot import plot_detection
    >>> scores = np.r_[np.zeros(50), np.ones(5), np.zeros(45)]
    >>> events = [{"start": 50, "end": 54, "severity": "high"}]
    >>> fig = plot_detection(np.sin(np.arange(100) / 5), scores, 0.5, events)
    >>> len(fig.axes)
    2
    >>> [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    ['score', 'threshold', 'high event']
    """
    data = as_2d(check_numeric(values, "values"), "values")
    threshold = check_real(threshold, "threshold")
    max_features = check_positive_int(max_features, "max_features")
    y = check_scores(scores)
    if data.shape[0] != y.size:
        raise ValueError(
            f"`values` has {data.shape[0]} rows but `scores` has {y.size} points."
        )
    like = values if isinstance(getattr(values, "index", None), pd.DatetimeIndex) else scores
    x = _time(time, y.size, like=like)
    frame = events_frame(events)
    names = _feature_names(values, data.shape[1])
    shown = min(data.shape[1], max_features)
    if figsize is None:
        figsize = (10, 1.8 + 1.6 * (shown + 1))
    figure = Figure(figsize=figsize, layout="constrained")
    axes = list(figure.subplots(shown + 1, 1, sharex=True, squeeze=False)[:, 0])
    panels, bottom = axes[:-1], axes[-1]
    for column, ax in enumerate(panels):
        ax.plot(x, data[:, column], lw=1, color=f"C{column}", label=names[column])
    bottom.plot(x, y, lw=1, color="black", label="score")
    bottom.axhline(threshold, color="#d62728", ls="--", lw=1, label="threshold")
    positional = {"start_index", "end_index"} <= set(frame.columns)
    half = _half_step(x)
    for _, event in frame.iterrows():
        lo, hi = ((x[int(event["start_index"])], x[int(event["end_index"])]) if positional
                  else (event["start"], event["end"]))
        colour = _severity_color(event.get("severity", None))
        for ax in axes:
            _span(ax, lo, hi, half, color=colour, alpha=0.3, lw=0)
    # Legends beside the panels, where they hide no data.
    outside = {"loc": "upper left", "bbox_to_anchor": (1.005, 1.0), "fontsize": "small",
               "borderaxespad": 0.0}
    for ax in panels:
        ax.legend(**outside)
    handles, labels = bottom.get_legend_handles_labels()
    bands = _severity_handles(frame)
    bottom.legend(handles=handles + bands, labels=labels + [b.get_label() for b in bands],
                  **outside)
    bottom.set_ylabel("anomaly score")
    _date_axis(bottom, x)
    heading = title or f"{len(frame)} anomalous period(s)"
    if shown < data.shape[1]:
        heading += f" (first {shown} of {data.shape[1]} features)"
    axes[0].set_title(heading)
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
