"""Each stage module of the series detector, used on its own."""

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from fusionlab.detection import AnomalyDetector, io
from fusionlab.detection.events import build_events, core_bounds, refine_bounds
from fusionlab.detection.inputs import (
    check_timestamps,
    impute_values,
    make_scaler,
    median_gap,
    read_series,
    scale_values,
    time_deltas,
)
from fusionlab.detection.models import make_model, model_id, time_aware
from fusionlab.detection.scoring import (
    point_contributions,
    smooth_errors,
    smoothing_width,
)
from fusionlab.detection.state import FITTED, detector_from_state, detector_state
from fusionlab.detection.training import (
    TrainingSchedule,
    clean_windows,
    fit_model,
    training_windows,
)

DATA = Path(__file__).parent / "data"
TINY_CONV = {"filters": (4,), "latent_channels": 2}


# -- inputs -------------------------------------------------------------------------------
def test_read_series_frames_arrays_and_checks():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]},
                         index=pd.date_range("2024-01-01", periods=3, freq="h"))
    series = read_series(frame)
    assert series.values.dtype == np.float64 and series.values.shape == (3, 2)
    assert list(series.names) == ["a", "b"] and series.has_names
    assert series.timestamps.equals(frame.index)
    plain = read_series(np.arange(4.0))
    assert list(plain.names) == ["x0"] and not plain.has_names and plain.timestamps is None
    with pytest.raises(ValueError, match="2 features but the detector was fitted with 3"):
        read_series(frame, n_features=3, feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names of `X` differ"):
        read_series(frame, n_features=2, feature_names=["a", "c"])
    # Unnamed data, or a detector fitted without names, is not compared by name.
    read_series(frame, n_features=2, feature_names=["a", "c"], compare_names=False)
    with pytest.raises(TypeError, match="numeric columns only"):
        read_series(pd.DataFrame({"t": ["x", "y"]}))
    with pytest.raises(ValueError, match="empty"):
        read_series(np.empty((0, 2)))


def test_timestamps_imputation_and_deltas():
    assert check_timestamps(None, pd.RangeIndex(3), 3) is None
    with pytest.raises(ValueError, match="one value per row"):
        check_timestamps([1, 2], None, 3)
    with pytest.raises(ValueError, match="sorted in increasing order"):
        check_timestamps([1, 3, 2], None, 3)
    with pytest.raises(ValueError, match="duplicate timestamps"):
        check_timestamps([1, 1, 2], None, 3)
    values = np.array([[1.0], [np.nan], [3.0]])
    np.testing.assert_array_equal(impute_values(values, ["a"], "linear").ravel(), [1, 2, 3])
    np.testing.assert_array_equal(impute_values(values, ["a"], "ffill").ravel(), [1, 1, 3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        impute_values(values, ["a"], None)
    stamps = pd.Index([0.0, 2.0, 4.0, 10.0])
    assert median_gap(stamps) == 2.0 and median_gap(None) is None
    np.testing.assert_array_equal(time_deltas(stamps, 4), [1, 1, 1, 3])
    np.testing.assert_array_equal(time_deltas(None, 3), [1, 1, 1])


def test_scalers():
    scaler = make_scaler("robust").fit(np.arange(10.0)[:, None])
    assert scale_values(scaler, np.arange(10.0)[:, None]).dtype == np.float32
    assert make_scaler(None) is None
    with pytest.raises(ValueError, match="scaler"):
        make_scaler("zscore")
    with pytest.raises(TypeError, match="scaler"):
        make_scaler(3)


# -- models and scoring --------------------------------------------------------------------
def test_make_model_reconstruction_and_forecast():
    model, horizon = make_model("conv_autoencoder", 16, 2, TINY_CONV)
    assert horizon == 0 and not time_aware(model)
    assert model_id(model, "conv").startswith("conv-") and len(model_id(model, "c")) == 14
    forecaster = keras.Sequential([keras.Input((16, 2)), keras.layers.Flatten(),
                                   keras.layers.Dense(2)])
    clone, horizon = make_model(forecaster, 16, 2)
    assert horizon == 1 and clone is not forecaster
    assert time_aware(make_model("cfc", 8, 1, {"hidden_size": 2, "backbone_units": 4})[0])

    class Aware(keras.Model):
        takes_time_delta = True

    assert time_aware(Aware())
    with pytest.raises(ValueError, match="expected a reconstruction"):
        make_model(keras.Sequential([keras.Input((16, 2)), keras.layers.Dense(3)]), 16, 2)


def test_point_contributions_and_smoothing():
    model, _ = make_model("conv_autoencoder", 8, 2, TINY_CONV)
    data = np.random.default_rng(0).normal(size=(40, 2)).astype("float32")
    contributions = point_contributions(model, data, 8)
    assert contributions.shape == (40, 2) and (contributions >= 0).all()
    assert smoothing_width(0.1, 40, 8) == 4 and smoothing_width(0.9, 1000, 8) == 80
    smoothed = smooth_errors(contributions, 5, peak_weight=0.0)
    # A moving average keeps the total (edges aside) and rows still add up.
    assert smoothed.shape == contributions.shape
    np.testing.assert_allclose(smoothed[10:30].sum(), contributions[8:32].sum(), rtol=0.3)
    assert smooth_errors(contributions, 1) is contributions
    with pytest.raises(ValueError, match="peak_weight"):
        smooth_errors(contributions, 3, peak_weight=2.0)


# -- training -------------------------------------------------------------------------------
def test_schedule_checks_and_training_windows():
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingSchedule(learning_rate=0)
    with pytest.raises(ValueError, match="epochs"):
        TrainingSchedule(epochs=0)
    starts, n_valid = training_windows(100, 10, TrainingSchedule(validation_split=0.2))
    assert n_valid == 20 and starts[-1] == 70  # windows end before the validation points
    capped, _ = training_windows(1000, 10, TrainingSchedule(validation_split=0, max_train_windows=50))
    assert capped.size <= 50
    with pytest.warns(UserWarning, match="training without validation"):
        _, none = training_windows(30, 10, TrainingSchedule(validation_split=0.1))
    assert none == 0


def test_clean_windows_leaves_out_what_covers_the_suspects():
    scores = np.zeros(100)
    scores[50] = 10.0
    starts = np.arange(91)
    clean = clean_windows(scores, 0.01, starts, 10)
    assert not clean[41:51].any() and clean[:41].all() and clean[51:].all()
    # Suspects everywhere: keep the first model (None).
    assert clean_windows(np.random.default_rng(0).random(100), 0.3, starts, 10) is None


def test_fit_model_robust_stage():
    rng = np.random.default_rng(0)
    x = (np.sin(np.arange(300) * 2 * np.pi / 20) + rng.normal(0, 0.05, 300)).astype("float32")
    x[150:153] += 4.0
    built = []

    def build():
        built.append(1)
        return make_model("conv_autoencoder", 20, 1, TINY_CONV)

    keras.utils.set_random_seed(0)
    trained = fit_model(build, x[:, None], 20, TrainingSchedule(epochs=2, validation_split=0),
                        robust=True, contamination=0.01)
    assert len(built) == 2 and 0 < trained.n_windows_left_out < 100
    assert trained.horizon == 0 and len(trained.history["loss"]) == 2
    with pytest.raises(ValueError, match="fewer than window"):
        fit_model(build, x[:10, None], 20, TrainingSchedule(epochs=1))


def test_the_robust_second_model_reuses_the_first_ones_compiled_steps(monkeypatch):
    # The second model is trained in the first one's place (its traced steps
    # kept), from the weights a fresh model draws: the same model as training
    # the fresh one (to float rounding: two trainings of the same model here
    # differ by up to 0.005 in a weight from run to run; a model restarted
    # from trained weights or optimizer moments would differ by far more).
    from fusionlab.detection import training

    rng = np.random.default_rng(0)
    x = (np.sin(np.arange(300) * 2 * np.pi / 20) + rng.normal(0, 0.05, 300)).astype("float32")
    x[150:153] += 4.0
    first = []

    def build():
        model, horizon = make_model("conv_autoencoder", 20, 1, TINY_CONV)
        first.append(model)
        return model, horizon

    schedule = TrainingSchedule(epochs=2, validation_split=0)

    def fit():
        first.clear()
        keras.utils.set_random_seed(0)
        return fit_model(build, x[:, None], 20, schedule, robust=True, contamination=0.01)

    reused = fit()
    assert reused.model is first[0] and reused.n_windows_left_out > 0
    monkeypatch.setattr(training, "restart_model", lambda *args: False)
    fresh = fit()
    assert fresh.model is first[1]
    np.testing.assert_allclose(reused.history["loss"], fresh.history["loss"], rtol=1e-2)
    for a, b in zip(reused.model.get_weights(), fresh.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=0.02)


def test_restart_model_puts_back_fresh_weights_and_the_first_optimizer_state():
    from fusionlab.detection.training import (
        compile_model,
        optimizer_start,
        restart_model,
    )

    model, _ = make_model("conv_autoencoder", 20, 1, TINY_CONV)
    schedule = TrainingSchedule(epochs=1, learning_rate=0.01)
    compile_model(model, schedule)
    start = optimizer_start(model)
    x = np.random.default_rng(0).normal(size=(64, 20, 1)).astype("float32")
    model.fit(x, x, epochs=2, verbose=0)
    slots = model.optimizer.variables
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) > 0
    fresh, _ = make_model("conv_autoencoder", 20, 1, TINY_CONV)
    assert restart_model(model, fresh, start)
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for variable, value in zip(slots, start, strict=True):  # step 0, zero moments, the rate
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    # A model whose variables do not match is left as it is.
    other, _ = make_model("conv_autoencoder", 20, 2, TINY_CONV)
    model.fit(x, x, epochs=1, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    assert not restart_model(model, other, start)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


# -- events ---------------------------------------------------------------------------------
def test_build_events_rules():
    values = np.zeros((60, 2))
    values[30:40, 1] = 3.0
    contributions = np.zeros((60, 2))
    contributions[30:40, 1] = 2.0
    contributions[30:40, 0] = 0.5
    scores = contributions.sum(axis=1)
    labels = pd.date_range("2024-01-01", periods=60, freq="min")
    events = build_events(scores, contributions, values, 1.0, feature_names=["a", "b"],
                          labels=labels, top_k=1, model_id="m", window=8)
    (event,) = events
    assert (event.start, event.end) == (labels[30], labels[39])
    assert event.top_features == (("b", 0.8),) and event.anomaly_type == "level_shift"
    assert event.severity == "high" and event.metadata["window"] == 8
    # A zero threshold: ratio infinite, 'critical', None in the metadata.
    (zero,) = build_events(scores, contributions, values, 0.0, feature_names=["a", "b"])
    assert zero.severity == "critical" and zero.metadata["score_ratio"] is None
    assert core_bounds(0, 9, 1, np.zeros(10)) == (0, 9)


def test_refine_bounds_trims_and_extends_on_the_point_errors():
    errors = np.array([0.0, 0.2, 5.0, 6.0, 0.4, 0.1, 3.0, 2.0, 0.9, 0.0])
    # the smoothing flagged 0..8: the points reaching a tenth of the peak (0.6)
    assert refine_bounds(errors, 0, 8) == (2, 8)
    # flagged 2..3 only: extended over 6..8? no, 4 and 5 are weak and break the run
    assert refine_bounds(errors, 2, 3, 0, 9) == (2, 3)
    # flagged 6..6: extended over 7 and 8, not past `upper`
    assert refine_bounds(errors[5:], 6, 6, 5, 9) == (6, 8)
    assert refine_bounds(errors[5:8], 6, 6, 5, 7) == (6, 7)
    # nothing to read: the flagged segment as it is
    assert refine_bounds(np.zeros(10), 3, 6, 0, 9) == (3, 6)
    # a calibrated scorer's points count even where the errors are 0
    located = np.zeros(10)
    located[5:9] = 1.0
    assert refine_bounds(np.zeros(10), 6, 6, 0, 9, located=located) == (5, 8)
    assert refine_bounds(errors, 2, 3, 0, 9, located=located) == (2, 3)  # 4 breaks the run
    located[4] = 1.0
    assert refine_bounds(errors, 2, 3, 0, 9, located=located) == (2, 8)
    # a larger fraction keeps only the strongest points
    assert refine_bounds(errors, 0, 8, fraction=0.6) == (2, 3)
    # a floor: only errors above the training level count; none above it
    # leaves the flagged segment
    assert refine_bounds(errors, 0, 8, floor=2.5) == (2, 6)
    assert refine_bounds(errors, 0, 8, floor=7.0) == (0, 8)


def test_build_events_bounds_read_on_the_point_errors():
    n = 80
    values = np.zeros((n, 1))
    values[40:43, 0] = 4.0
    evidence = np.full(n, 0.01)
    evidence[40:43] = 9.0
    # smoothed scores: the 3-point spike flagged over 36..47
    scores = np.zeros(n)
    scores[36:48] = 2.0
    scores[60:62] = 2.0  # a second run, whose errors go on after it
    evidence[61:66] = 3.0
    events = build_events(scores, scores[:, None], values, 1.0, feature_names=["x"],
                          merge_gap=4, evidence=evidence, evidence_floor=0.05)
    first, second = events
    assert (first.start_index, first.end_index) == (40, 42)
    assert first.anomaly_type == "spike"
    assert (first.metadata["flagged_start_index"], first.metadata["flagged_end_index"]) == (36, 47)
    assert (second.start_index, second.end_index) == (61, 65)  # past the flagged run
    # errors as usual inside a run (below the floor): the flagged run
    evidence[36:48] = 0.02
    (first, _) = build_events(scores, scores[:, None], values, 1.0, feature_names=["x"],
                              merge_gap=4, evidence=evidence, evidence_floor=0.05)
    assert (first.start_index, first.end_index) == (36, 47)
    # without the point errors: the flagged runs
    plain = build_events(scores, scores[:, None], values, 1.0, feature_names=["x"], merge_gap=4)
    assert [(e.start_index, e.end_index) for e in plain] == [(36, 47), (60, 61)]


# -- state and archive ----------------------------------------------------------------------
def _fitted():
    x = np.sin(np.arange(200) * 2 * np.pi / 20)
    return AnomalyDetector(model="conv_autoencoder", window=20, epochs=1, robust=False,
                           model_params=TINY_CONV, random_state=0).fit(x), x


def test_state_round_trip_without_an_archive():
    det, x = _fitted()
    config, model, arrays = detector_state(det)
    assert set(config["fitted"]) == set(FITTED)
    rebuilt = detector_from_state(AnomalyDetector, config, model, arrays)
    np.testing.assert_array_equal(rebuilt.score_samples(x), det.score_samples(x))
    np.testing.assert_array_equal(rebuilt.labels_, det.labels_)


def test_archive_is_replaced_only_when_complete(tmp_path, monkeypatch):
    det, x = _fitted()
    path = det.save(tmp_path / "det.zip")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    # A save that fails half-way keeps the old archive and leaves no temporary file.
    monkeypatch.setattr(io.zipfile.ZipFile, "writestr", fail)
    with pytest.raises(OSError, match="No space"):
        det.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["det.zip"]


def test_archives_written_before_the_stage_modules_still_load():
    # Saved by the previous AnomalyDetector (one class holding every stage).
    det = AnomalyDetector.load(DATA / "detector_format1_conv.zip")
    series = np.load(DATA / "detector_format1_conv_series.npy")
    expected = np.load(DATA / "detector_format1_conv_scores.npy")
    # The same arithmetic as when they were written, but the scores were
    # recorded on another machine: its CPU kernels round the model's float32
    # outputs in other last bits (3e-8 relative on an AMD EPYC), so the check
    # is to float32 precision.
    np.testing.assert_allclose(det.score_samples(series), expected, rtol=1e-6, atol=0)
    assert det.labels_.sum() > 0 and det.window_ == 24
