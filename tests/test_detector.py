"""Tests of AnomalyDetector, its save/load, the conv autoencoder and the CLI."""

import os

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import MaxAbsScaler, QuantileTransformer

from fusionlab.cli import main
from fusionlab.detection import (
    SEVERITIES,
    AnomalyDetector,
    AnomalyList,
    BaseThreshold,
    MeanStdThreshold,
    PercentileThreshold,
    SPOTThreshold,
)
from fusionlab.nn.anomaly_detection import ConvAutoencoderAnomaly

TINY = {"filters": (4,), "latent_channels": 2, "kernel_size": 3}


def make_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "a": np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.05, n),
            "b": np.cos(2 * np.pi * t / 20) + rng.normal(0, 0.05, n),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h"),
    )
    frame.iloc[150:156, 0] += 4.0  # anomaly in feature "a" only
    return frame


def tiny(**kwargs):
    # The model's error alone, smoothed as the detector did before its
    # subsequence scorers (the default's ensemble is tested further down).
    params = dict(model="conv_autoencoder", model_params=TINY, epochs=2, robust=False,
                  random_state=0, scorers=("reconstruction",), smoothing=0.015)
    params.update(kwargs)
    return AnomalyDetector(**params)


@pytest.fixture(scope="module")
def fitted():
    frame = make_frame()
    return tiny(epochs=20, robust=True).fit(frame), frame


# ----------------------------------------------------------------- fit/score


def test_fit_sets_learned_attributes(fitted):
    det, frame = fitted
    assert det.window_ == 20  # the period of the data
    assert det.n_features_in_ == 2
    assert list(det.feature_names_in_) == ["a", "b"]
    assert det.training_scores_.shape == (300,)
    assert np.isfinite(det.threshold_) and det.threshold_ > 0
    assert set(det.history_) == {"loss", "val_loss"} and len(det.history_["loss"]) == 20
    assert det.scaler_.mean_.shape == (2,)
    assert det.horizon_ == 0 and det.model_id_.startswith("conv_autoencoder-")
    assert det.threshold_ == pytest.approx(np.percentile(det.training_scores_, 95))
    # robust training left out the windows over the anomaly and the few other
    # high-error points: some, but fewer than half of the 251
    assert 20 <= det.n_windows_left_out_ < 126


def test_robust_training_keeps_the_first_model_when_suspects_are_everywhere():
    # In white noise the highest errors are spread over the whole series:
    # leaving out every window that covers one would leave ~20 % of them.
    x = np.random.default_rng(1).normal(size=(300, 1))
    robust = tiny(window=32, epochs=1, robust=True, validation_split=0.0).fit(x)
    plain = tiny(window=32, epochs=1, validation_split=0.0).fit(x)
    assert robust.n_windows_left_out_ == 0 and plain.n_windows_left_out_ == 0
    np.testing.assert_allclose(robust.score_samples(x), plain.score_samples(x), rtol=1e-6)
    assert robust.model_id_ == plain.model_id_


def test_scores_are_a_series_aligned_with_x_and_localised(fitted):
    det, frame = fitted
    scores = det.score_samples(frame)
    assert isinstance(scores, pd.Series) and scores.index.equals(frame.index)
    assert np.isfinite(scores).all() and (scores >= 0).all()
    assert 150 <= int(np.argmax(scores.to_numpy())) <= 155
    np.testing.assert_allclose(scores, det.training_scores_, rtol=1e-6)
    np.testing.assert_array_equal(det.decision_function(frame), scores)
    array_scores = det.score_samples(frame.to_numpy())
    assert isinstance(array_scores, np.ndarray)
    np.testing.assert_allclose(array_scores, scores.to_numpy())


def test_predict_is_score_above_threshold(fitted):
    det, frame = fitted
    flags = det.predict(frame)
    assert set(np.unique(flags)) <= {0, 1}
    np.testing.assert_array_equal(flags, (det.score_samples(frame) > det.threshold_).astype(int))
    assert flags.iloc[150:156].sum() >= 4


def test_explain_rows_sum_to_score_and_blame_the_right_feature(fitted):
    det, frame = fitted
    contributions = det.explain(frame)
    assert list(contributions.columns) == ["a", "b"]
    assert contributions.index.equals(frame.index)
    np.testing.assert_allclose(contributions.sum(axis=1), det.score_samples(frame))
    assert contributions["a"].iloc[150:156].sum() > contributions["b"].iloc[150:156].sum()


def test_detect_returns_records(fitted):
    det, frame = fitted
    events = det.detect(frame)
    assert isinstance(events, AnomalyList) and events
    hit = [e for e in events if e.start_index <= 153 <= e.end_index]
    assert len(hit) == 1
    event = hit[0]
    assert event.start == frame.index[event.start_index]  # timestamps from the index
    assert event.severity in SEVERITIES and event.severity in ("high", "critical")
    assert event.top_features[0][0] == "a"
    assert sum(share for _, share in event.top_features) == pytest.approx(1.0)
    assert event.peak_score >= event.mean_score > det.threshold_ * 0.5
    assert event.model_id == det.model_id_
    assert event.metadata["window"] == 20
    frame_out = events.to_frame()
    assert len(frame_out) == len(events)
    plain = det.detect(frame.to_numpy(), top_k=1)
    assert isinstance(plain[0].start, int) and len(plain[0].top_features) == 1


def test_events_of_a_slice_are_named_by_its_index_labels(fitted):
    # df.iloc[100:] keeps the labels 100..299: events, like score_samples,
    # are named by them, while start_index counts from the slice's first row.
    det, frame = fitted
    part = frame.reset_index(drop=True).iloc[100:]
    event = next(e for e in det.detect(part) if e.start_index <= 53 <= e.end_index)
    assert isinstance(event.start, int)
    assert (event.start, event.end) == (event.start_index + 100, event.end_index + 100)
    scores = det.score_samples(part)
    flagged = slice(event.metadata["flagged_start_index"] + 100,
                    event.metadata["flagged_end_index"] + 100)
    assert scores.loc[flagged].min() > det.threshold_


@pytest.mark.parametrize(
    "start, end, width, expected",
    [
        (48, 61, 1, (48, 61)),  # no smoothing: the whole event
        (48, 61, 6, (50, 58)),  # 5 points the 6-point average can add: 2 before, 3 after
        (48, 61, 7, (51, 58)),
        (300, 304, 6, (302, 302)),  # nothing left: the peak point
    ],
)
def test_event_type_is_read_without_the_points_smoothing_adds(start, end, width, expected):
    from fusionlab.detection.events import core_bounds as _core

    segment = np.zeros(end - start + 1)
    segment[2] = 1.0  # peak at start + 2
    assert _core(start, end, width, segment) == expected


def test_detect_merge_gap(fitted):
    base, frame = fitted
    base_events = base.detect(frame)
    wide = base.set_params(merge_gap=300)
    try:
        merged = wide.detect(frame)
        assert len(merged) == 1
        assert merged[0].start_index == base_events[0].start_index
        assert merged[0].end_index == base_events[-1].end_index
    finally:
        base.set_params(merge_gap=None)


def test_save_load_gives_identical_scores(fitted, tmp_path):
    det, frame = fitted
    path = det.save(tmp_path / "detector.zip")
    loaded = AnomalyDetector.load(path)
    np.testing.assert_array_equal(loaded.score_samples(frame), det.score_samples(frame))
    assert loaded.threshold_ == det.threshold_ and loaded.window_ == det.window_
    assert list(loaded.feature_names_in_) == ["a", "b"]
    np.testing.assert_array_equal(loaded.training_scores_, det.training_scores_)
    assert loaded.history_ == det.history_
    assert loaded.n_windows_left_out_ == det.n_windows_left_out_ > 0
    assert [e.start for e in loaded.detect(frame)] == [e.start for e in det.detect(frame)]
    assert loaded.get_params()["model"] == "conv_autoencoder"


@pytest.mark.parametrize("scaler", ["minmax", "robust", None, MaxAbsScaler()])
def test_save_load_other_scalers_and_thresholds(scaler, tmp_path):
    x = make_frame(120).to_numpy()
    det = tiny(epochs=1, window=8, scaler=scaler, threshold=MeanStdThreshold(2.0)).fit(x)
    loaded = AnomalyDetector.load(det.save(tmp_path / "d.zip"))
    np.testing.assert_allclose(loaded.score_samples(x), det.score_samples(x), rtol=1e-6)
    assert loaded.threshold_strategy_.k == 2.0


def test_save_rejects_what_it_cannot_store_without_pickle(tmp_path):
    x = make_frame(120).to_numpy()
    det = tiny(epochs=1, window=8, scaler=QuantileTransformer(n_quantiles=10)).fit(x)
    with pytest.raises(TypeError, match="QuantileTransformer"):
        det.save(tmp_path / "d.zip")

    class Unregistered(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    det = tiny(epochs=1, window=8, model=Unregistered())
    det.fit(x)
    with pytest.raises(TypeError, match="register_keras_serializable"):
        det.save(tmp_path / "u.zip")
    with pytest.raises(NotFittedError):
        tiny().save(tmp_path / "n.zip")

    class Halfway(BaseThreshold):
        name = "halfway"

        def _compute(self, scores):
            return np.median(scores)

    class Stricter(PercentileThreshold):
        pass

    for strategy in (Halfway(), Stricter(99.0)):
        det = tiny(epochs=1, window=8, threshold=strategy).fit(x)
        with pytest.raises(TypeError, match=f"Cannot save the threshold strategy {type(strategy).__name__}"):
            det.save(tmp_path / "t.zip")
    (tmp_path / "junk.zip").write_text("junk")
    with pytest.raises(ValueError, match="not a zip"):
        AnomalyDetector.load(tmp_path / "junk.zip")


def test_fit_is_reproducible_with_random_state():
    x = make_frame(150)
    a = tiny(window=10).fit(x).score_samples(x)
    b = tiny(window=10).fit(x).score_samples(x)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_default_lstm_model_and_contamination_threshold():
    x = make_frame(160)
    det = AnomalyDetector(model_params={"latent_dim": 2, "lstm_units": 4}, epochs=1,
                          window=10, random_state=0, threshold="contamination",
                          robust=False, scorers=("reconstruction",)).fit(x)
    assert det.model_id_.startswith("lstm_autoencoder-")
    # the model alone is calibrated on its training scores: exactly 5 % of 160
    assert (det.predict(x).to_numpy()).sum() == 8
    # with the subsequence scorers the cut is made on held-out scores, which
    # are higher than the training data's own: fewer training points flagged
    ensemble = det.set_params(scorers=("reconstruction", "discord", "isolation")).fit(x)
    assert 0 < ensemble.labels_.sum() <= 8


def test_spot_and_dynamic_thresholds_in_detector():
    x = make_frame(600).to_numpy()
    det = tiny(epochs=1, window=10, threshold=SPOTThreshold(q=1e-3, level=0.95)).fit(x)
    assert det.threshold_ > np.quantile(det.training_scores_, 0.95)
    det = tiny(epochs=1, window=10, threshold="dynamic").fit(x)
    assert np.isfinite(det.threshold_)


def test_custom_reconstruction_and_forecast_models():
    x = make_frame(150).to_numpy()
    recon = keras.Sequential([keras.Input((10, 2)), keras.layers.Dense(3),
                              keras.layers.Dense(2)])
    det = tiny(model=recon, window=10).fit(x)
    assert det.horizon_ == 0 and getattr(recon, "optimizer", None) is None  # template untouched
    forecast = keras.Sequential([keras.Input((10, 2)), keras.layers.Flatten(),
                                 keras.layers.Dense(2)])
    det = tiny(model=forecast, window=10).fit(x)
    assert det.horizon_ == 1
    scores = det.score_samples(x)
    assert np.all(scores[:10] == 0) and np.all(scores[10:] > 0)
    bad = keras.Sequential([keras.Input((10, 2)), keras.layers.Flatten(),
                            keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="expected a reconstruction"):
        tiny(model=bad, window=10).fit(x)


# ----------------------------------------------------------------- bad input


def test_score_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        tiny().score_samples(np.zeros((50, 1)))


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros((0, 2)), ValueError, "empty"),
        (pd.DataFrame(), ValueError, "empty"),
        (np.zeros(5), ValueError, "fewer than the window"),
        (np.r_[np.zeros(40), np.nan, np.zeros(40)], ValueError, "NaN or infinite"),
        (np.r_[np.zeros(40), np.inf, np.zeros(40)], ValueError, "NaN or infinite"),
        (pd.DataFrame({"a": np.zeros(50), "s": ["x"] * 50}), TypeError, "non-numeric"),
        (np.array([["a", "b"]] * 50), TypeError, "numeric"),
        (np.zeros((10, 2, 2)), ValueError, "1D or 2D"),
    ],
)
def test_bad_inputs_raise_clear_errors(data, error, match):
    with pytest.raises(error, match=match):
        tiny(window=8).fit(data)


def test_bad_timestamps():
    x = np.random.default_rng(0).normal(size=(40, 1))
    stamps = pd.date_range("2024", periods=40, freq="D")
    with pytest.raises(ValueError, match="duplicate"):
        tiny(window=8).fit(x, timestamps=stamps.insert(1, stamps[0])[:40])
    with pytest.raises(ValueError, match="sorted"):
        tiny(window=8).fit(x, timestamps=stamps[::-1])
    with pytest.raises(ValueError, match="one value per row"):
        tiny(window=8).fit(x, timestamps=stamps[:10])
    unsorted = pd.DataFrame(x, index=stamps[::-1])
    with pytest.raises(ValueError, match="index of `X`"):
        tiny(window=8).fit(unsorted)
    with pytest.raises(ValueError, match="missing timestamps \\(first at position 5\\)"):
        tiny(window=8).fit(x, timestamps=stamps.where(np.arange(40) != 5))


def test_fit_follows_scikit_learn_fit_x_y():
    # Pipelines and model selection call fit(X, y): y is ignored, not read as times.
    x = np.random.default_rng(0).normal(size=(60, 1))
    det = tiny(window=8, epochs=1, validation_split=0.0).fit(x, np.r_[np.zeros(59), 1])
    assert det.time_scale_ is None and det.window_ == 8


def test_bad_parameters():
    x = np.zeros((40, 1))
    with pytest.raises(ValueError, match="scaler"):
        tiny(scaler="zscore").fit(x)
    with pytest.raises(TypeError, match="model"):
        tiny(model=3).fit(x)
    with pytest.raises(ValueError, match="must be one of"):
        tiny(model="no_such_model").fit(x)
    with pytest.raises(ValueError, match="contamination"):
        tiny(contamination=0.7).fit(x)
    with pytest.raises(ValueError, match="impute"):
        tiny(impute="mean").fit(x)
    with pytest.raises(TypeError, match="epochs"):
        tiny(epochs=1.5).fit(x)
    with pytest.raises(ValueError, match="`learning_rate` must be > 0"):
        tiny(learning_rate=0.0).fit(x)
    with pytest.raises(ValueError, match="`min_window` \\(40\\) must not exceed `max_window` \\(16\\)"):
        tiny(min_window=40, max_window=16).fit(x)
    # checked before any training (an epoch would take far longer than this)
    with pytest.raises(ValueError, match="threshold"):
        tiny(threshold="percentil", epochs=10_000).fit(np.zeros((4000, 1)))
    with pytest.raises(TypeError, match="threshold"):
        tiny(threshold=0.9).fit(x)


def test_imputation_policies():
    x = np.sin(np.arange(80) / 3.0)
    x[[10, 11, 50]] = np.nan
    x[30] = np.inf
    for method in ("linear", "ffill"):
        det = tiny(window=8, impute=method, epochs=1).fit(x)
        scores = det.score_samples(x)
        assert np.isfinite(scores).all()
    with pytest.raises(ValueError, match="no finite value"):
        tiny(window=8, impute="linear").fit(np.c_[x, np.full(80, np.nan)])


def test_constant_columns_give_finite_scores():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=100), np.full(100, 3.0)]
    for scaler in ("standard", "minmax", "robust"):
        det = tiny(window=8, scaler=scaler, epochs=1, validation_split=0.0).fit(x)
        assert np.isfinite(det.score_samples(x)).all()
        assert np.isfinite(det.threshold_)
    det = tiny(window=8, epochs=1, validation_split=0.0).fit(np.full((60, 1), 2.0))
    assert np.isfinite(det.score_samples(np.full((60, 1), 2.0))).all()


def test_feature_mismatch_between_fit_and_score():
    frame = make_frame(100)
    det = tiny(window=8, epochs=1).fit(frame)
    with pytest.raises(ValueError, match="2"):
        det.score_samples(frame[["a"]])
    with pytest.raises(ValueError, match="feature names"):
        det.score_samples(frame.rename(columns={"b": "c"}))
    with pytest.raises(ValueError, match="fewer than the window"):
        det.score_samples(frame.iloc[:5])
    det.score_samples(frame.to_numpy())  # no names: accepted


def test_validation_split_too_small_warns():
    with pytest.warns(UserWarning, match="without validation"):
        tiny(window=8, epochs=1, validation_split=0.05).fit(np.sin(np.arange(60.0)))


# ------------------------------------------------------------ conv autoencoder


def test_conv_autoencoder_config_save_and_functional(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 13, 2)).astype("float32")
    model = ConvAutoencoderAnomaly(filters=[4, 3], kernel_size=3, latent_channels=2)
    out = keras.ops.convert_to_numpy(model(x))
    assert out.shape == (3, 13, 2)
    clone = ConvAutoencoderAnomaly.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), out, rtol=1e-6)
    inputs = keras.Input((16, 2))
    functional = keras.Model(inputs, ConvAutoencoderAnomaly(filters=4)(inputs))
    assert tuple(functional.output.shape) == (None, 16, 2)
    errors = keras.ops.convert_to_numpy(model.compute_reconstruction_error(x))
    np.testing.assert_allclose(errors, ((x - out) ** 2).mean(axis=(1, 2)), rtol=1e-5)


def test_conv_autoencoder_bad_arguments():
    with pytest.raises(TypeError, match="filters"):
        ConvAutoencoderAnomaly(filters=[])
    with pytest.raises(ValueError, match="kernel_size"):
        ConvAutoencoderAnomaly(kernel_size=0)
    with pytest.raises(ValueError, match="activation"):
        ConvAutoencoderAnomaly(activation="nope")
    model = ConvAutoencoderAnomaly(n_features=2)
    with pytest.raises(ValueError, match="features"):
        model(np.zeros((1, 8, 3), "float32"))
    with pytest.raises(ValueError, match="3D"):
        model(np.zeros((8, 2), "float32"))
    windows = np.zeros((4, 8, 2), "float32")
    with pytest.raises(ValueError, match="shape of `inputs`"):
        model.compute_reconstruction_error(windows, windows[:1])


# ----------------------------------------------------------------------- CLI


def test_cli_detect(tmp_path, capsys):
    frame = make_frame(200).reset_index(names="timestamp")
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    out, plot = tmp_path / "anomalies.csv", tmp_path / "anomalies.png"
    code = main(["detect", str(data), "--time-col", "timestamp", "--columns", "a", "b",
                 "--out", str(out), "--plot", str(plot), "--epochs", "2", "--window", "20",
                 "--model", "conv_autoencoder"])
    assert code == 0
    printed = capsys.readouterr()
    assert "anomalous period" in printed.out and "No anomalous" not in printed.out
    assert "training" in printed.err  # the tqdm bar
    table = pd.read_csv(out)
    assert {"start", "end", "severity", "anomaly_type"} <= set(table.columns)
    starts, ends = pd.to_datetime(table["start"]), pd.to_datetime(table["end"])
    # one event overlaps the injected anomaly (rows 150-155)
    times = frame["timestamp"]
    assert ((starts <= times[155]) & (ends >= times[150])).any()
    assert plot.stat().st_size > 1000
    json_out = tmp_path / "a.json"
    assert main(["detect", str(data), "--time-col", "timestamp", "--out", str(json_out),
                 "--epochs", "1", "--window", "20", "--quiet", "--model",
                 "conv_autoencoder", "--smoothing", "0.05", "--peak-weight", "0.5"]) == 0
    assert json_out.read_text().startswith("[")


def test_cli_numeric_time_column_stays_numeric(tmp_path, capsys):
    # Times in seconds: read as dates they would all fall in the same
    # microsecond of 1970 and clash as duplicates.
    frame = make_frame(200).reset_index(drop=True)
    frame.insert(0, "seconds", np.arange(200) * 0.5)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "anomalies.csv"
    assert main(["detect", str(data), "--time-col", "seconds", "--out", str(out),
                 "--epochs", "2", "--window", "20", "--quiet",
                 "--model", "conv_autoencoder"]) == 0
    table = pd.read_csv(out)
    assert pd.api.types.is_float_dtype(table["start"])
    assert ((table["start"] <= 77.5) & (table["end"] >= 75.0)).any()


def test_cli_errors(tmp_path, capsys):
    # Issue 14: errors of the user's making exit with status 2 (was 1) and
    # speak the options' names (--smoothing, was `smoothing`).
    data = tmp_path / "data.csv"
    pd.DataFrame({"t": [1, 2], "a": [1.0, 2.0]}).to_csv(data, index=False)
    assert main(["detect", str(data), "--time-col", "nope", "--quiet"]) == 2
    assert "--time-col 'nope'" in capsys.readouterr().err
    assert main(["detect", str(data), "--columns", "zz", "--quiet"]) == 2
    assert main(["detect", str(data), "--time-col", "t", "--quiet"]) == 2
    assert "fewer than the window" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # refused as the options are read
        main(["detect", str(data), "--time-col", "t", "--smoothing", "1.5", "--quiet"])
    assert exit_info.value.code == 2
    assert ("--smoothing: expected 'model', 'window' or a number in [0, 1); received '1.5'"
            in capsys.readouterr().err)
    assert main(["detect", str(data), "--time-col", "t", "--peak-weight", "2", "--quiet"]) == 2
    assert "--peak-weight must be in [0.0, 1.0]; received 2.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect"])


def test_cli_demo(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--epochs", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "anomalous period" in printed or "No anomalous period" in printed
    assert os.path.getsize(tmp_path / "demo_anomalies.png") > 1000
    assert (tmp_path / "demo_anomalies.csv").exists()


class _BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize(("cap", "expected_batches"), [(None, 29), (40, 4), (9, 1)])
def test_max_train_windows_caps_the_training_windows(cap, expected_batches):
    # 300 points, window 20, no validation: 281 training windows.
    counter = _BatchCounter()
    tiny(epochs=1, robust=False, window=20, batch_size=10, validation_split=0.0,
         max_train_windows=cap, callbacks=[counter]).fit(make_frame())
    assert counter.batches == expected_batches


def test_max_train_windows_is_validated():
    with pytest.raises(ValueError, match="max_train_windows"):
        tiny(max_train_windows=0).fit(make_frame())


# ------------------------------------------------------------ score smoothing


def test_smoothing_is_on_by_default(fitted):
    det, _ = fitted
    assert AnomalyDetector().smoothing == "model" and AnomalyDetector().peak_weight == 0.125
    assert det.smoothing_width_ == 4  # tiny()'s round(0.015 * 300)
    # The model's window, whatever the length of the series.
    for n in (300, 1200):
        model = tiny(smoothing="model", window=12, epochs=1).fit(make_frame(n))
        assert model.smoothing_width_ == model.window_ == 12
    with pytest.raises(TypeError, match="'model' or 'window'"):
        tiny(smoothing="modle").fit(make_frame())


def _raw_contributions(det, frame):
    """Explanations of ``det`` with the smoothing switched off (width 1)."""
    width, det.smoothing_width_ = det.smoothing_width_, 1
    try:
        return det.explain(frame).to_numpy()
    finally:
        det.smoothing_width_ = width


def _centred_mean(values, width):
    """Hand-computed centred mean along axis 0, edges repeating the end rows
    (scipy puts the extra point of an even width before the centre)."""
    values = np.asarray(values, dtype=float).reshape(len(values), -1)
    before, after = width // 2, width - width // 2 - 1
    padded = np.r_[np.repeat(values[:1], before, axis=0), values,
                   np.repeat(values[-1:], after, axis=0)]
    kernel = np.ones(width) / width
    return np.stack([np.convolve(col, kernel, mode="valid") for col in padded.T], axis=1)


def test_plain_moving_average_when_peak_weight_is_zero():
    frame = make_frame(400)
    det = tiny(window=20, smoothing=0.05, peak_weight=0.0, epochs=3).fit(frame)
    assert det.smoothing_width_ == 20  # 5 % of 400 points
    raw_contributions = _raw_contributions(det, frame)
    smoothed = det.score_samples(frame).to_numpy()
    np.testing.assert_allclose(
        smoothed, _centred_mean(raw_contributions.sum(axis=1), 20)[:, 0], rtol=1e-5, atol=1e-9
    )
    # Each feature's errors are averaged the same way; rows add up to the score.
    contributions = det.explain(frame).to_numpy()
    np.testing.assert_allclose(
        contributions, _centred_mean(raw_contributions, 20), rtol=1e-5, atol=1e-9
    )
    np.testing.assert_allclose(contributions.sum(axis=1), smoothed, rtol=1e-6)


def test_peak_weight_keeps_the_larger_of_average_and_own_error():
    frame = make_frame(400)
    det = tiny(window=20, smoothing=0.05, peak_weight=0.5, epochs=3).fit(frame)
    raw_contributions = _raw_contributions(det, frame)
    raw = raw_contributions.sum(axis=1)
    averaged = _centred_mean(raw_contributions, 20)
    scores = det.score_samples(frame).to_numpy()
    np.testing.assert_allclose(
        scores, np.maximum(averaged.sum(axis=1), 0.5 * raw), rtol=1e-5, atol=1e-9
    )
    own = 0.5 * raw > averaged.sum(axis=1)
    assert 0 < own.sum() < own.size  # both cases occur in this series
    contributions = det.explain(frame).to_numpy()
    np.testing.assert_allclose(contributions[own], 0.5 * raw_contributions[own], rtol=1e-5)
    np.testing.assert_allclose(contributions[~own], averaged[~own], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(contributions.sum(axis=1), scores, rtol=1e-6)


def test_peak_weight_keeps_a_single_spike_beside_a_long_incident():
    # 4000 points averaged over 200: the 300-point level shift fills the top
    # 5 % of the averaged scores and the 1-point spike is diluted below the
    # threshold, unless a fraction of its own error is kept.
    rng = np.random.default_rng(3)
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.05, t.size)
    x[1000:1300] += 1.0
    x[3000] += 1.5
    params = dict(window=20, smoothing=0.05, epochs=5, max_train_windows=None,
                  model_params={"filters": (8,), "latent_channels": 4, "kernel_size": 3})
    kept = tiny(**params).fit(x)
    averaged = tiny(peak_weight=0.0, **params).fit(x)
    assert kept.smoothing_width_ == averaged.smoothing_width_ == 200
    assert kept.predict(x)[3000] == 1
    assert averaged.predict(x)[3000] == 0
    # The incident is found either way.
    assert kept.predict(x)[1000:1300].mean() > 0.5 and averaged.predict(x)[1000:1300].mean() > 0.5


@pytest.mark.parametrize(
    "smoothing, width",
    [(None, 1), (0, 1), (0.001, 1), (0.015, 2), (0.05, 6), (0.2, 24), (0.9, 80)],
)
def test_smoothing_width_from_the_series_length(smoothing, width):
    # A number is a fraction of the training series.
    # 120 points, window 8: width = round(smoothing * 120), between 1 and 10 windows.
    x = make_frame(120)[["a"]].to_numpy()
    det = tiny(window=8, smoothing=smoothing, epochs=1).fit(x)
    assert det.smoothing_width_ == width
    scores = det.score_samples(x)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(det.training_scores_, scores, rtol=1e-6)


def test_smoothing_survives_save_and_load(tmp_path):
    x = make_frame(120)[["a"]].to_numpy()
    det = tiny(window=8, smoothing=0.2, peak_weight=0.5, epochs=1).fit(x)
    loaded = AnomalyDetector.load(det.save(tmp_path / "smoothed.zip"))
    assert loaded.smoothing == 0.2 and loaded.peak_weight == 0.5
    assert loaded.smoothing_width_ == 24
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))


def _drop_params(path, names):
    """Rewrite a saved detector as an older version wrote it (without ``names``)."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    for name in names:
        del config["params"][name]
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_archives_from_before_peak_weight_load_as_plain_moving_average(tmp_path):
    x = make_frame(120)[["a"]].to_numpy()
    det = tiny(window=8, smoothing=0.2, peak_weight=0.0, epochs=1).fit(x)
    path = det.save(tmp_path / "old.zip")
    _drop_params(path, ["peak_weight"])
    loaded = AnomalyDetector.load(path)
    assert loaded.peak_weight == 0.0
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))


def test_archives_from_before_smoothing_load_with_raw_errors(tmp_path):
    x = make_frame(120)[["a"]].to_numpy()
    det = tiny(window=8, smoothing=None, epochs=1).fit(x)
    path = det.save(tmp_path / "older.zip")
    _drop_params(path, ["smoothing", "peak_weight"])
    loaded = AnomalyDetector.load(path)
    assert loaded.smoothing is None and loaded.smoothing_width_ == 1
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))


@pytest.mark.parametrize(
    "smoothing, error, match",
    [
        (-0.1, ValueError, r"`smoothing` must be in \[0.0, 1.0\); received -0.1"),
        (1.0, ValueError, r"`smoothing` must be in \[0.0, 1.0\); received 1.0"),
        (float("nan"), ValueError, "`smoothing` must be in"),
        ("wide", TypeError, "`smoothing` must be a number.*received 'wide' of type str"),
        (True, TypeError, "`smoothing` must be a number"),
    ],
)
def test_bad_smoothing_is_rejected(smoothing, error, match):
    with pytest.raises(error, match=match):
        tiny(window=8, smoothing=smoothing).fit(np.zeros((40, 1)))


@pytest.mark.parametrize(
    "peak_weight, error, match",
    [
        (-0.1, ValueError, r"`peak_weight` must be in \[0.0, 1.0\]; received -0.1"),
        (1.5, ValueError, r"`peak_weight` must be in \[0.0, 1.0\]; received 1.5"),
        (float("nan"), ValueError, "`peak_weight` must be in"),
        (None, TypeError, "`peak_weight` must be a number.*received None of type NoneType"),
        (True, TypeError, "`peak_weight` must be a number"),
    ],
)
def test_bad_peak_weight_is_rejected(peak_weight, error, match):
    with pytest.raises(error, match=match):
        tiny(window=8, peak_weight=peak_weight).fit(np.zeros((40, 1)))
