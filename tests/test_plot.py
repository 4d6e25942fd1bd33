"""Plot functions return Figures with the expected artists and leave pyplot alone."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fusionlab.datasets import make_server_metrics, make_sine_anomalies  # noqa: E402
from fusionlab.plot import (  # noqa: E402
    SEVERITY_COLORS,
    plot_anomaly_timeline,
    plot_detection,
    plot_feature_contributions,
    plot_score_distribution,
    plot_scores,
    plot_series,
    plot_severity_distribution,
)
from fusionlab.plot import events_frame as to_events  # noqa: E402


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plot function created a pyplot figure"


@pytest.fixture
def series():
    return make_sine_anomalies()


EVENTS = pd.DataFrame({
    "start": [50.0, 150.0, 300.0],
    "end": [59.0, 154.0, 301.0],
    "peak_score": [5.0, 3.0, 1.5],
    "mean_score": [4.0, 2.5, 1.2],
    "severity": ["critical", "high", "low"],
})


class Anomaly:
    """Stand-in for a detector's event record."""

    def __init__(self, start, end, severity):
        self.start, self.end, self.severity = start, end, severity

    def to_frame(self):
        return pd.DataFrame({"start": [self.start], "end": [self.end],
                             "peak_score": [1.0], "severity": [self.severity]})


def test_plot_series_artists(series):
    fig = plot_series(series["value"], labels=series["label"], anomalies=series["label"], events=EVENTS,
                      title="sine")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), series["value"])
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatter) == 1 and len(scatter[0].get_offsets()) == 15
    # Two labelled runs + three events.
    assert len(ax.patches) == 5
    colors = {tuple(np.round(p.get_facecolor()[:3], 3)) for p in ax.patches[2:]}
    assert tuple(np.round(matplotlib.colors.to_rgb(SEVERITY_COLORS["critical"]), 3)) in colors
    assert ax.get_title() == "sine"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "labelled anomaly" in legend and "critical event" in legend


def test_plot_series_with_timestamps_on_given_axes():
    df = make_server_metrics(n_points=400, random_state=0)
    events = [Anomaly(df["timestamp"][10], df["timestamp"][20], "medium")]
    fig = Figure()
    ax = fig.add_subplot()
    returned = plot_series(df["cpu"], df["timestamp"], events=events, ax=ax)
    assert returned is fig and len(fig.axes) == 1
    assert len(ax.patches) == 1


def test_plot_scores_threshold_and_labels(series):
    scores = np.abs(series["value"].to_numpy())
    fig = plot_scores(scores, threshold=1.5, time=series["time"], labels=series["label"])
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["score", "threshold"]
    assert ax.lines[1].get_ydata()[0] == 1.5
    marked = [c for c in ax.collections if isinstance(c, PathCollection)][0]
    assert len(marked.get_offsets()) == int((scores >= 1.5).sum())
    assert len(ax.patches) == 2


def test_plot_score_distribution(series):
    scores = np.abs(series["value"].to_numpy())
    fig = plot_score_distribution(scores, series["label"], threshold=1.0, bins=20)
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    assert len(ax.patches) == 40
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) == {"threshold", "normal (n=385)", "anomaly (n=15)"}


def test_plot_severity_distribution_counts_and_inputs():
    fig = plot_severity_distribution(EVENTS)
    heights = [int(p.get_height()) for p in fig.axes[0].patches]
    assert heights == [1, 0, 1, 1]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "low", "medium", "high", "critical"]
    records = [Anomaly(0, 1, "high"), Anomaly(5, 6, "HIGH"), Anomaly(8, 9, "unknown")]
    fig = plot_severity_distribution(records)
    assert [int(p.get_height()) for p in fig.axes[0].patches] == [0, 0, 2, 0, 1]


def test_plot_anomaly_timeline(series):
    fig = plot_anomaly_timeline(EVENTS, scores=np.abs(series["value"]))
    ax = fig.axes[0]
    assert len(ax.lines) == 1  # the score underneath
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(bars) == 3 and len(points) == 3
    assert sorted(float(p.get_offsets()[0][1]) for p in points) == [1.5, 3.0, 5.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "score", "low", "high", "critical"]
    no_peak = EVENTS.drop(columns="peak_score")
    assert plot_anomaly_timeline(no_peak).axes[0].get_ylabel() == "mean score"


def test_plot_feature_contributions():
    frame = pd.DataFrame(np.random.default_rng(0).random((30, 4)),
                         columns=["cpu", "memory", "network", "response_time"],
                         index=pd.date_range("2024-01-01", periods=30, freq="5min"))
    fig = plot_feature_contributions(frame, title="contributions")
    ax = fig.axes[0]
    assert len(ax.images) == 1
    assert ax.images[0].get_array().shape == (4, 30)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(frame.columns)
    assert len(fig.axes) == 2  # heatmap + colour bar
    assert ax.get_xticklabels()[0].get_text().startswith("2024-01-01")


def test_figures_can_be_saved(tmp_path, series):
    fig = plot_series(series["value"], labels=series["label"])
    fig.savefig(tmp_path / "series.png")
    assert (tmp_path / "series.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: plot_series([1.0, np.nan]), ValueError, "`values` contains 1 NaN"),
        (lambda: plot_series([1.0, 2.0], time=[0]), ValueError, "`time`"),
        (lambda: plot_series([1.0, 2.0], labels=[0, 2]), ValueError, "`labels`"),
        (lambda: plot_series([1.0, 2.0], events=pd.DataFrame({"begin": [0]})), ValueError,
         "start"),
        (lambda: plot_series([1.0, 2.0], events="0-1"), TypeError, "events"),
        (lambda: plot_scores([1.0, 2.0], threshold="x"), TypeError, "threshold"),
        (lambda: plot_scores([1.0, 2.0], threshold=np.nan), ValueError, "threshold"),
        (lambda: plot_score_distribution([1.0, 2.0], [0, 1], threshold="x"), TypeError,
         "threshold"),
        (lambda: plot_detection([1.0, 2.0], [1.0, 2.0], None), TypeError, "threshold"),
        (lambda: plot_detection([1.0, np.inf], [1.0, 2.0], 1.0), ValueError, "`values`"),
        (lambda: plot_detection([1.0, 2.0], [1.0, 2.0], 1.0, max_features=0), ValueError,
         "max_features"),
        (lambda: plot_score_distribution([1.0, 2.0], None), ValueError, "labels"),
        (lambda: plot_severity_distribution(EVENTS.drop(columns="severity")), ValueError,
         "severity"),
        (lambda: plot_anomaly_timeline(EVENTS[["start", "end"]]), ValueError, "peak_score"),
        (lambda: plot_feature_contributions(np.zeros(5)), ValueError, "2-D"),
        (lambda: plot_feature_contributions(np.zeros((5, 2)), ["a"]), ValueError,
         "feature_names"),
    ],
)
def test_plot_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _span_extents(ax):
    return sorted((round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6))
                  for p in ax.patches)


def test_spans_cover_their_points_including_single_ones():
    # A one-point label or event is half a step wide on each side, not empty,
    # and a run covers all of its points.
    labels = np.zeros(20, dtype=int)
    labels[5] = 1
    labels[10:13] = 1
    fig = plot_series(np.arange(20.0), labels=labels)
    assert _span_extents(fig.axes[0]) == [(4.5, 5.5), (9.5, 12.5)]
    events = [{"start_index": 7, "end_index": 7, "start": 7, "end": 7, "severity": "low"}]
    fig = plot_detection(np.zeros(20), np.zeros(20), 1.0, events, time=np.arange(20) * 2.0)
    assert _span_extents(fig.axes[1]) == [(13.0, 15.0)]


def test_events_frame_forms():
    assert to_events(None).empty
    assert to_events([]).empty
    assert list(to_events([{"start": 1, "end": 2}]).columns) == ["start", "end"]
    assert len(to_events([Anomaly(1, 2, "low"), Anomaly(3, 4, "high")])) == 2


# ------------------------------------------- issue 14, item 16: readable figures

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402


@pytest.fixture
def hourly():
    """Three features of very different scales, hourly over 400 hours."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    frame = pd.DataFrame({
        "cpu": 50 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, t.size),
        "memory": 2000 + 300 * np.cos(2 * np.pi * t / 24),
        "error_rate": 0.001 * (1 + np.sin(2 * np.pi * t / 12)),
    }, index=pd.date_range("2024-01-01", periods=t.size, freq="h"))
    scores = np.r_[np.zeros(150), np.ones(10), np.zeros(240)]
    events = [{"start_index": 150, "end_index": 159, "start": frame.index[150],
               "end": frame.index[159], "severity": "high"},
              {"start_index": 300, "end_index": 302, "start": frame.index[300],
               "end": frame.index[302], "severity": "critical"}]
    return frame, scores, events


def _legend_texts(ax):
    legend = ax.get_legend()
    return None if legend is None else [t.get_text() for t in legend.get_texts()]


def _is_date_axis(ax):
    return (isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter)
            and isinstance(ax.xaxis.get_major_locator(), AutoDateLocator))


def _tick_labels_overlap(fig, ax):
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels()
             if t.get_visible() and t.get_text()]
    boxes.sort(key=lambda b: b.x0)
    assert len(boxes) >= 3, "expected several date labels"
    return any(a.x1 > b.x0 for a, b in zip(boxes[:-1], boxes[1:], strict=True))


def test_plot_detection_one_panel_per_feature_with_legends(hourly):
    frame, scores, events = hourly
    fig = plot_detection(frame, scores, 0.5, events)
    # One panel per feature, then the scores: the small error rate is not
    # squashed against the memory values.
    assert len(fig.axes) == 4
    for ax, name in zip(fig.axes[:3], frame.columns, strict=True):
        assert _legend_texts(ax) == [name]
        np.testing.assert_allclose(ax.lines[0].get_ydata(), frame[name])
        low, high = ax.get_ylim()
        assert high - low < 3 * (frame[name].max() - frame[name].min())
    # The score panel names the lines and the shaded bands, by severity.
    assert _legend_texts(fig.axes[3]) == ["score", "threshold", "high event", "critical event"]


def test_plot_detection_max_features_limits_the_panels_and_says_so():
    values = np.random.default_rng(0).normal(size=(60, 7))
    fig = plot_detection(values, np.zeros(60), 1.0, max_features=3)
    assert len(fig.axes) == 4
    assert [_legend_texts(ax) for ax in fig.axes[:3]] == [
        ["feature 0"], ["feature 1"], ["feature 2"]]
    assert "first 3 of 7 features" in fig.axes[0].get_title()
    one = plot_detection(np.zeros(60), np.zeros(60), 1.0)
    assert len(one.axes) == 2 and _legend_texts(one.axes[0]) == ["value"]


def test_plot_detection_dates_from_the_index_or_time(hourly):
    frame, scores, events = hourly
    for fig in (plot_detection(frame, scores, 0.5, events),
                plot_detection(frame.to_numpy(), scores, 0.5, events, time=frame.index)):
        bottom = fig.axes[-1]
        assert _is_date_axis(bottom)
        assert np.issubdtype(np.asarray(bottom.lines[0].get_xdata()).dtype, np.datetime64)
        assert not _tick_labels_overlap(fig, bottom)
    # Numbers stay numbers.
    fig = plot_detection(frame.to_numpy(), scores, 0.5, time=np.arange(400) * 2.0)
    assert isinstance(fig.axes[-1].xaxis.get_major_formatter(), ScalarFormatter)


def test_plot_series_scores_and_timeline_use_date_axes(hourly):
    frame, scores, events = hourly
    cpu = frame["cpu"]
    figures = {
        "series from the index": plot_series(cpu, events=events),
        "series from time": plot_series(cpu.to_numpy(), frame.index.to_numpy()),
        "scores from the index": plot_scores(pd.Series(scores, index=frame.index), 0.5),
        "scores from time": plot_scores(scores, 0.5, frame.index),
        "timeline": plot_anomaly_timeline(
            pd.DataFrame(events).assign(peak_score=[1.0, 2.0]), scores, frame.index),
    }
    for name, fig in figures.items():
        ax = fig.axes[0]
        assert _is_date_axis(ax), name
        assert not _tick_labels_overlap(fig, ax), name


def test_plot_series_and_scores_legends_name_lines_and_bands(series):
    fig = plot_series(series["value"], labels=series["label"], anomalies=series["label"],
                      events=EVENTS)
    assert _legend_texts(fig.axes[0]) == [
        "labelled anomaly", "value", "flagged point", "low event", "high event",
        "critical event"]
    fig = plot_scores(np.abs(series["value"]), 1.5, labels=series["label"])
    assert _legend_texts(fig.axes[0]) == ["labelled anomaly", "score", "threshold", "above"]


def test_timezone_aware_timestamps_give_a_date_axis_in_their_zone(hourly):
    frame, scores, _ = hourly
    stamps = frame.index.tz_localize("Europe/Paris")
    fig = plot_scores(scores, 0.5, stamps)
    ax = fig.axes[0]
    assert _is_date_axis(ax)
    assert str(ax.xaxis.get_major_locator().tz) == "Europe/Paris"
