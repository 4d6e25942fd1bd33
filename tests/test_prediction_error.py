import keras
import numpy as np
import pytest

from fusionlab.nn.anomaly_detection import PredictionErrorAnomalyScore

from layer_testing import (
    assert_config_round_trip,
    assert_functional_api,
    assert_saved_model_round_trip,
    to_numpy,
)


@pytest.fixture
def pair(rng):
    y_true = rng.normal(size=(4, 10, 2)).astype("float32")
    y_pred = (y_true + rng.normal(scale=0.5, size=y_true.shape)).astype("float32")
    return y_true, y_pred


@pytest.mark.parametrize("metric", ["mae", "mse"])
@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_values_match_numpy(pair, metric, aggregation):
    y_true, y_pred = pair
    out = to_numpy(PredictionErrorAnomalyScore(metric, aggregation)([y_true, y_pred]))
    err = np.abs(y_true - y_pred) if metric == "mae" else (y_true - y_pred) ** 2
    per_step = err.mean(axis=-1)
    expected = per_step.mean(axis=-1) if aggregation == "mean" else per_step.max(axis=-1)
    assert out.shape == (4, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5)


def test_hand_computed_case():
    y_true = np.zeros((1, 3, 2), "float32")
    y_pred = np.array([[[1, 3], [0, 0], [2, 2]]], "float32")
    # per-step mae: [2, 0, 2]; mse: [5, 0, 4]
    assert to_numpy(PredictionErrorAnomalyScore("mae", "mean")([y_true, y_pred]))[0, 0] == pytest.approx(4 / 3)
    assert to_numpy(PredictionErrorAnomalyScore("mse", "max")([y_true, y_pred]))[0, 0] == pytest.approx(5.0)


def test_options_are_case_insensitive():
    layer = PredictionErrorAnomalyScore("MSE", "Max")
    assert (layer.error_metric, layer.aggregation) == ("mse", "max")


def test_tuple_input_is_accepted(pair):
    assert tuple(PredictionErrorAnomalyScore()(tuple(pair)).shape) == (4, 1)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 3, 1)), [np.zeros((2, 3, 1))], [np.zeros((2, 3, 1))] * 3, {"a": 1}],
)
def test_non_pair_input_raises_with_the_documented_message(bad):
    with pytest.raises(ValueError, match=r"^Input must be a list or tuple: \[y_true, y_pred\]"):
        PredictionErrorAnomalyScore()(bad)


def test_shape_mismatch_and_rank_raise():
    layer = PredictionErrorAnomalyScore()
    with pytest.raises(ValueError, match="same shape"):
        layer([np.zeros((2, 3, 1), "float32"), np.zeros((2, 4, 1), "float32")])
    with pytest.raises(ValueError, match="3D"):
        layer([np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")])


@pytest.mark.parametrize("kwargs", [{"error_metric": "rmse"}, {"aggregation": "sum"}])
def test_invalid_options(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        PredictionErrorAnomalyScore(**kwargs)


def test_config_and_file_round_trip(pair, tmp_path):
    assert_config_round_trip(lambda: PredictionErrorAnomalyScore("mse", "max"), list(pair))
    assert_saved_model_round_trip(lambda: PredictionErrorAnomalyScore("mse", "max"), list(pair), tmp_path)


def test_functional_api(pair):
    model = assert_functional_api(lambda: PredictionErrorAnomalyScore(), list(pair))
    assert model.output.shape == (None, 1)


def test_subclass_with_other_aggregation(pair):
    @keras.saving.register_keras_serializable(package="fusionlab_tests")
    class LastStepError(PredictionErrorAnomalyScore):
        def call(self, inputs):
            y_true, y_pred = self.split_inputs(inputs)
            return super().call([y_true[:, -1:], y_pred[:, -1:]])

    y_true, y_pred = pair
    out = to_numpy(LastStepError()([y_true, y_pred]))
    np.testing.assert_allclose(out[:, 0], np.abs(y_true - y_pred)[:, -1].mean(-1), rtol=1e-5)


def test_usable_as_a_training_signal(pair):
    """Gradients flow through the score, so it can drive a loss."""
    y_true, _ = pair
    inputs = keras.Input((10, 2))
    pred = keras.layers.Dense(2)(inputs)
    score = PredictionErrorAnomalyScore("mse")([inputs, pred])
    model = keras.Model(inputs, score)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=lambda _t, s: keras.ops.mean(s))
    history = model.fit(y_true, np.zeros((4, 1)), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
