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
