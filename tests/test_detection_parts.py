"""Tests of the detector's parts: windowing, period, scoring, thresholds, events, export."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.exceptions import NotFittedError

from fusionlab.detection import (
    Anomaly,
    AnomalyList,
    ContaminationThreshold,
    DynamicThreshold,
    MeanStdThreshold,
    PercentileThreshold,
    PointErrorAccumulator,
    SPOTThreshold,
    WindowDataset,
    available_models,
    build_model,
    choose_window,
    classify_segment,
    dominant_period,
    filter_anomalies,
    find_segments,
    get_threshold,
    register_model,
    severity_from_ratio,
    window_starts,
)

# ------------------------------------------------------------------ windowing


def test_window_dataset_batches_are_float32_windows():
    data = np.arange(30, dtype=np.float64).reshape(15, 2)
    ds = WindowDataset(data, window=4, batch_size=5)
    assert ds.data.dtype == np.float32 and ds.data.flags.c_contiguous
    assert ds.num_windows == 12 and len(ds) == 3
    x, y = ds[0]
    assert x.dtype == np.float32 and x.shape == (5, 4, 2) and x.flags.c_contiguous
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(x[2], data[2:6])
    last = ds[2][0]
    assert last.shape == (2, 4, 2)
    np.testing.assert_array_equal(last[-1], data[11:15])


def test_window_dataset_views_the_series_without_copying_windows():
    data = np.zeros((1000, 3), dtype=np.float32)
    ds = WindowDataset(data, window=50, batch_size=8)
    assert ds.data is data  # already contiguous float32: no copy at all
    assert np.shares_memory(ds._view, data)


def test_window_dataset_forecast_split_and_targets_flag():
    data = np.arange(10.0)
    ds = WindowDataset(data, window=3, horizon=2, batch_size=4)
    x, y = ds[1]
    assert x.shape == (2, 3, 1) and y.shape == (2, 2, 1)  # 6 windows: 4 + 2
    np.testing.assert_array_equal(ds[0][0][1, :, 0], [1, 2, 3])
    np.testing.assert_array_equal(ds[0][1][1, :, 0], [4, 5])
    only = WindowDataset(data, window=3, targets=False, batch_size=4)
    assert isinstance(only[0], np.ndarray)


def test_window_dataset_shuffle_is_a_seeded_permutation_and_step_works():
    data = np.arange(40.0)
    ds = WindowDataset(data, window=5, step=3, batch_size=4, shuffle=True, seed=1)
    firsts = np.concatenate([ds[i][0][:, 0, 0] for i in range(len(ds))])
    np.testing.assert_array_equal(np.sort(firsts), np.arange(0, 36, 3))
    assert not np.array_equal(firsts, np.arange(0, 36, 3))
    again = WindowDataset(data, window=5, step=3, batch_size=4, shuffle=True, seed=1)
    np.testing.assert_array_equal(again[0][0], ds[0][0])
    ds.on_epoch_end()


def test_window_dataset_start_stop_and_explicit_starts():
    ds = WindowDataset(np.arange(20.0), window=4, start=10, batch_size=100)
    np.testing.assert_array_equal(ds.starts, np.arange(10, 17))
    ds = WindowDataset(np.arange(20.0), window=4, starts=[0, 7, 16], batch_size=2)
    np.testing.assert_array_equal(ds[0][0][:, 0, 0], [0, 7])
    with pytest.raises(ValueError, match="starts"):
        WindowDataset(np.arange(20.0), window=4, starts=[17])
    with pytest.raises(ValueError, match="at least window"):
        WindowDataset(np.arange(3.0), window=4)
    with pytest.raises(IndexError):
        ds.batch_spans(5)


def test_window_starts_include_last():
    np.testing.assert_array_equal(window_starts(10, 4, 4, include_last=True), [0, 4, 6])
    assert window_starts(3, 4).size == 0


# --------------------------------------------------------------------- period


def test_dominant_period_of_sine_and_noise():
    assert dominant_period(np.sin(2 * np.pi * np.arange(500) / 25)) == 25
    t = np.arange(0, 200, 0.5)
    assert dominant_period(np.sin(t)) == 13  # 2 pi / 0.5 = 12.57
    assert dominant_period(np.random.default_rng(3).normal(size=500)) is None
    assert dominant_period(np.ones(100)) is None


def test_choose_window_bounds_and_fallback():
    rng = np.random.default_rng(0)
    assert choose_window(rng.normal(size=2000)) == 32  # no clear period
    assert choose_window(np.ones(60)) == 15  # fallback clipped to n // 4
    assert choose_window(rng.normal(size=20)) == 8  # never below min_window
    assert choose_window(np.sin(2 * np.pi * np.arange(400) / 5)) == 8  # period 5 -> 8
    long = np.sin(2 * np.pi * np.arange(5000) / 400)
    assert choose_window(long) == 256  # period 400 -> max_window
    two = np.c_[np.sin(2 * np.pi * np.arange(600) / 30), np.ones(600)]
    assert choose_window(two) == 30  # the constant column is ignored


# -------------------------------------------------------------------- scoring


def test_accumulator_averages_over_covering_windows():
    # 3 windows of length 3 over 5 points; errors = window id + 1 everywhere.
    acc = PointErrorAccumulator(5, 1, length=3)
    errors = np.repeat(np.array([1.0, 2.0, 3.0])[:, None, None], 3, axis=1)
    acc.add(np.array([0, 1, 2]), errors)
    mean, covered = acc.result()
    np.testing.assert_allclose(mean[:, 0], [1, 1.5, 2, 2.5, 3])
    np.testing.assert_array_equal(acc.counts, [1, 2, 3, 2, 1])
    assert covered.all()


def test_accumulator_streaming_equals_one_shot_and_handles_strides():
    rng = np.random.default_rng(0)
    errors = rng.random((20, 4, 2))
    starts = np.arange(20)
    one = PointErrorAccumulator(23, 2, 4)
    one.add(starts, errors)
    streamed = PointErrorAccumulator(23, 2, 4)
    for lo in range(0, 20, 6):
        streamed.add(starts[lo : lo + 6], errors[lo : lo + 6])
    np.testing.assert_allclose(one.result()[0], streamed.result()[0])
    # Reference by explicit loops (test only).
    ref_sum, ref_cnt = np.zeros((23, 2)), np.zeros(23)
    strided = starts[::3]
    for k, s in enumerate(strided):
        ref_sum[s : s + 4] += errors[::3][k]
        ref_cnt[s : s + 4] += 1
    acc = PointErrorAccumulator(23, 2, 4)
    acc.add(strided, errors[::3])
    mean, covered = acc.result()
    np.testing.assert_array_equal(covered, ref_cnt > 0)
    np.testing.assert_allclose(mean[covered], ref_sum[covered] / ref_cnt[covered, None])


def test_accumulator_offset_for_forecasts_and_shape_errors():
    acc = PointErrorAccumulator(6, 1, length=1, offset=3)
    acc.add(np.array([0, 1, 2]), np.array([[[1.0]], [[2.0]], [[3.0]]]))
    mean, covered = acc.result()
    np.testing.assert_array_equal(covered, [False, False, False, True, True, True])
    np.testing.assert_allclose(mean[:, 0], [0, 0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        acc.add(np.array([0]), np.zeros((1, 2, 1)))


# ----------------------------------------------------------------- thresholds

SCORES = np.arange(1.0, 11.0)  # 1, 2, ..., 10


def test_percentile_threshold_hand_checked():
    # 90th percentile of 1..10 with linear interpolation: 9 + 0.1 * (10 - 9).
    thr = PercentileThreshold(90).fit(SCORES)
    assert thr.threshold_ == pytest.approx(9.1)
    np.testing.assert_array_equal(thr.predict(SCORES), [0] * 9 + [1])


def test_contamination_threshold_hand_checked():
    # 20 % of 10 points = 2: midpoint of the 2nd and 3rd largest (9, 8).
    thr = ContaminationThreshold(0.2).fit(SCORES)
    assert thr.threshold_ == 8.5
    assert thr.predict(SCORES).sum() == 2
    assert ContaminationThreshold(0.01).fit(SCORES).threshold_ == 9.5  # at least one


def test_mean_std_threshold_hand_checked():
    # mean 2, population std sqrt(3): 2 + 2 * 1.7320508...
    assert MeanStdThreshold(2).fit([1, 1, 1, 5]).threshold_ == pytest.approx(5.4641016)


def test_spot_threshold_matches_gpd_formula_and_exponential_tail():
    scores = np.random.default_rng(1).exponential(size=20000)
    spot = SPOTThreshold(q=1e-3, level=0.95).fit(scores)
    t = np.quantile(scores, 0.95)
    excess = scores[scores > t] - t
    gamma, _, sigma = stats.genpareto.fit(excess, floc=0)
    expected = t + sigma / gamma * ((1e-3 * scores.size / excess.size) ** -gamma - 1)
    assert spot.initial_threshold_ == pytest.approx(t)
    assert spot.n_excesses_ == excess.size
    assert spot.threshold_ == pytest.approx(expected)
    # Exponential(1): P(X > z) = exp(-z), so z_q = -log(1e-3) = 6.91.
    assert spot.threshold_ == pytest.approx(-np.log(1e-3), abs=0.35)


def test_spot_threshold_bad_arguments_and_too_few_excesses():
    with pytest.raises(ValueError, match="1 - level"):
        SPOTThreshold(q=0.05, level=0.98)
    with pytest.raises(ValueError, match="at least 10"):
        SPOTThreshold(level=0.98).fit(np.arange(100.0))


def test_dynamic_threshold_hand_checked():
    # 80 values alternating 1, 2 plus two 9s: mean 138/82, population std
    # 1.25793; every z in [2, 5.8] flags the two 9s (one sequence), so the
    # objective ties and the first z, 2, wins: eps = mu + 2 sigma = 4.1988.
    scores = np.r_[np.tile([1.0, 2.0], 20), 9.0, 9.0, np.tile([1.0, 2.0], 20)]
    dyn = DynamicThreshold(smoothing_span=None).fit(scores)
    mu, sigma = scores.mean(), scores.std()
    assert mu == pytest.approx(138 / 82)
    assert dyn.z_ == 2.0
    assert dyn.threshold_ == pytest.approx(mu + 2 * sigma)
    assert dyn.threshold_ == pytest.approx(4.1988, abs=1e-4)


def test_dynamic_threshold_prefers_fewer_sequences():
    # A big (9) and a small (3) burst. z = 1 flags both (2 sequences):
    # objective = (dmu/mu + dsigma/sigma) / (3 + 4); z = 2 flags only the 9s:
    # / (2 + 1). The hand computation below picks z = 2.
    scores = np.r_[np.ones(30), 9.0, 9.0, np.ones(30), 3.0, np.ones(30)]
    mu, sigma = scores.mean(), scores.std()

    def objective(flags):
        below = scores[~flags]
        return ((mu - below.mean()) / mu + (sigma - below.std()) / sigma) / (
            flags.sum() + (1 + (flags.sum() > 2)) ** 2  # 3 flagged: 2 sequences
        )

    assert (scores > mu + 1 * sigma).sum() == 3 and (scores > mu + 2 * sigma).sum() == 2

    z1 = objective(scores > mu + 1 * sigma)
    z2 = objective(scores > mu + 2 * sigma)
    assert z2 > z1
    dyn = DynamicThreshold(z_values=[1.0, 2.0], smoothing_span=None).fit(scores)
    assert dyn.z_ == 2.0 and dyn.threshold_ == pytest.approx(mu + 2 * sigma)


def test_dynamic_threshold_pruning_raises_threshold_over_weak_sequences():
    # z = 1 flags 9, 9 and 8.5: maxima [9, 8.5] then max normal 1. Drops:
    # (9 - 8.5) / 9 = 0.056, (8.5 - 1) / 8.5 = 0.88. With prune = 0.1 the
    # last significant drop is after 8.5: both kept. With prune = 0.9 none
    # is significant: everything pruned, threshold = 9.
    scores = np.r_[np.ones(30), 9.0, 9.0, np.ones(30), 8.5, np.ones(30)]
    base = DynamicThreshold(z_values=[1.0], smoothing_span=None).fit(scores)
    kept = DynamicThreshold(z_values=[1.0], smoothing_span=None, prune=0.1).fit(scores)
    assert kept.threshold_ == base.threshold_
    pruned = DynamicThreshold(z_values=[1.0], smoothing_span=None, prune=0.9).fit(scores)
    assert pruned.threshold_ == 9.0 and pruned.predict(scores).sum() == 0


def test_dynamic_threshold_smoothing_and_constant_scores():
    scores = np.r_[np.zeros(5), 10.0, np.zeros(5)]
    smooth = DynamicThreshold(smoothing_span=3).smooth(scores)
    # EWMA with alpha = 2 / (3 + 1) = 0.5: 5, 2.5, 1.25 after the spike.
    np.testing.assert_allclose(smooth[5:8], [5.0, 2.5, 1.25])
    const = DynamicThreshold().fit(np.ones(20))
    assert const.threshold_ == 1.0 and const.predict(np.ones(20)).sum() == 0


def test_threshold_validation_and_registry():
    with pytest.raises(ValueError, match="empty"):
        PercentileThreshold().fit([])
    with pytest.raises(ValueError, match="NaN"):
        PercentileThreshold().fit([1.0, np.nan])
    with pytest.raises(NotFittedError):
        MeanStdThreshold().predict([1.0])
    with pytest.raises(ValueError, match="`threshold` must be one of"):
        get_threshold("nope")
    with pytest.raises(TypeError, match="threshold"):
        get_threshold(3)
    assert get_threshold("percentile", 0.1).q == pytest.approx(90.0)
    fitted = MeanStdThreshold(1.0).fit([1.0, 2.0])
    fresh = get_threshold(fitted)
    assert fresh.k == 1.0 and not hasattr(fresh, "threshold_")
    assert DynamicThreshold.from_config(DynamicThreshold(prune=0.1).get_config()).prune == 0.1


# ---------------------------------------------------------------- events


def test_find_segments_and_merge_rule():
    flags = [0, 1, 1, 0, 0, 1, 0, 0, 0, 1]
    assert find_segments(flags) == [(1, 2), (5, 5), (9, 9)]
    assert find_segments(flags, merge_gap=2) == [(1, 5), (9, 9)]
    assert find_segments(flags, merge_gap=3) == [(1, 9)]
    assert find_segments([0, 0]) == []
    assert find_segments([1, 1, 1]) == [(0, 2)]
    with pytest.raises(ValueError):
        find_segments(flags, merge_gap=-1)


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(1.0, "low"), (1.49, "low"), (1.5, "medium"), (2.49, "medium"), (2.5, "high"),
     (3.99, "high"), (4.0, "critical"), (np.inf, "critical")],
)
def test_severity_bands(ratio, expected):
    assert severity_from_ratio(ratio) == expected


def _noise(n=200, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_classifier_on_synthetic_segments():
    x = _noise()
    spike = x.copy()
    spike[100:102] += 8
    assert classify_segment(spike, 100, 101)[0] == "spike"
    shift = x.copy()
    shift[80:120] += 5
    kind, stats_ = classify_segment(shift, 80, 119)
    assert kind == "level_shift" and stats_["mean_shift"] > 4
    trend = x * 0.1
    trend[80:120] += np.linspace(0, 6, 40)
    assert classify_segment(trend, 80, 119)[0] == "trend"
    variance = x.copy()
    variance[80:120] *= 4
    assert classify_segment(variance, 80, 119)[0] == "variance"
    quiet = x.copy()
    quiet[80:120] *= 0.1
    assert classify_segment(quiet, 80, 119)[0] == "variance"
    pattern = np.sin(np.arange(200) * 2 * np.pi / 20)
    pattern[80:120] = np.sin(np.arange(40) * 2 * np.pi / 7)
    assert classify_segment(pattern, 80, 119)[0] == "pattern"


# ------------------------------------------------------------- records/export


def _events():
    stamps = pd.date_range("2024-01-01", periods=3, freq="D")
    return AnomalyList(
        [
            Anomaly(stamps[0], stamps[0], 0, 0, 1.2, 1.2, "low", "spike", (("a", 1.0),), "m"),
            Anomaly(stamps[1], stamps[1], 5, 9, 5.0, 3.0, "critical", "level_shift",
                    (("b", 0.7), ("a", 0.3)), "m", {"threshold": 1.0}),
            Anomaly(stamps[2], stamps[2], 20, 24, 2.0, 1.8, "medium", "trend", (), "m"),
        ]
    )


def test_anomaly_record_is_frozen_and_to_frame():
    events = _events()
    with pytest.raises(AttributeError):
        events[0].severity = "high"
    frame = events.to_frame()
    assert list(frame["severity"]) == ["low", "critical", "medium"]
    assert list(frame["length"]) == [1, 5, 5]
    assert json.loads(frame["top_features"][1]) == [["b", 0.7], ["a", 0.3]]


def test_filter_anomalies():
    events = _events()
    assert [a.severity for a in filter_anomalies(events, min_severity="medium")] == [
        "critical", "medium"]
    assert [a.anomaly_type for a in events.filter(types="trend")] == ["trend"]
    assert len(events.filter(start="2024-01-02")) == 2
    assert len(events.filter(end="2024-01-01")) == 1
    assert [a.peak_score for a in events.filter(limit=2)] == [5.0, 2.0]
    with pytest.raises(ValueError, match="min_severity"):
        events.filter(min_severity="huge")
    with pytest.raises(ValueError, match="types"):
        events.filter(types=["blip"])
    with pytest.raises(ValueError, match="limit"):
        events.filter(limit=-1)


def test_exports_round_trip(tmp_path):
    events = _events()
    csv = pd.read_csv(events.to_csv(tmp_path / "a.csv"))
    assert list(csv["start_index"]) == [0, 5, 20]
    records = json.loads(open(events.to_json(tmp_path / "a.json")).read())
    assert records[1]["start"] == "2024-01-02T00:00:00"
    assert records[1]["metadata"] == {"threshold": 1.0}
    parquet = pd.read_parquet(events.to_parquet(tmp_path / "a.parquet"))
    assert list(parquet["severity"]) == ["low", "critical", "medium"]
    assert json.loads(events.to_json())[0]["top_features"] == [["a", 1.0]]
    empty = AnomalyList()
    assert empty.to_frame().empty
    empty.to_parquet(tmp_path / "e.parquet")


# ----------------------------------------------------------------- models


def test_model_registry():
    assert {"lstm_autoencoder", "conv_autoencoder"} <= set(available_models())
    with pytest.raises(ValueError, match="already registered"):
        register_model("lstm_autoencoder", lambda w, f: None)
    with pytest.raises(ValueError, match="must be one of"):
        build_model("no_such_model", 10, 1)
    register_model("broken_for_test", lambda w, f: "not a model", overwrite=True)
    with pytest.raises(TypeError, match="keras.Model"):
        build_model("broken_for_test", 10, 1)
    model = build_model("lstm_autoencoder", 12, 3, latent_dim=2, lstm_units=4)
    assert model.built and model.latent_dim == 2
