import keras
import numpy as np
import pytest

from fusionlab.nn.losses import (
    AnomalyLoss,
    CombinedTotalLoss,
    PredictionBasedLoss,
    QuantileLoss,
    check_quantiles,
    combined_total_loss,
    median_index,
    prediction_based_loss,
)

from layer_testing import to_numpy


def _pinball_by_hand(y, pred, quantiles):
    """Plain-Python pinball loss: mean over every element and quantile."""
    total, count = 0.0, 0
    for idx in np.ndindex(*np.shape(y)):
        for k, q in enumerate(quantiles):
            e = float(y[idx]) - float(pred[idx][k])
            total += q * e if e >= 0 else (q - 1) * e
            count += 1
    return total / count


def test_pinball_hand_computed_values():
    # One sample, two steps, quantiles 0.1 and 0.9.
    y = np.array([[3.0, 0.0]], "float32")
    pred = np.array([[[1.0, 5.0], [2.0, -1.0]]], "float32")
    # step 1: e=2 -> 0.1*2=0.2 ; e=-2 -> 0.1*2=0.2
    # step 2: e=-2 -> 0.9*2=1.8 ; e=1 -> 0.9*1=0.9   mean = 3.1 / 4
    value = float(QuantileLoss((0.1, 0.9))(y, pred))
    assert value == pytest.approx(3.1 / 4)


def test_pinball_matches_reference_on_random_four_d(rng):
    quantiles = (0.1, 0.5, 0.9)
    y = rng.normal(size=(5, 3, 2)).astype("float32")
    pred = rng.normal(size=(5, 3, 2, 3)).astype("float32")
    expected = _pinball_by_hand(y, pred, quantiles)
    assert float(QuantileLoss(quantiles)(y, pred)) == pytest.approx(expected, rel=1e-5)


def test_median_pinball_is_half_mae(rng):
    y = rng.normal(size=(4, 6)).astype("float32")
    pred = rng.normal(size=(4, 6, 1)).astype("float32")
    expected = 0.5 * np.mean(np.abs(y - pred[..., 0]))
    assert float(QuantileLoss((0.5,))(y, pred)) == pytest.approx(expected, rel=1e-5)


def test_two_d_target_accepted_for_single_output_four_d_forecast(rng):
    y = rng.normal(size=(4, 3)).astype("float32")
    pred = rng.normal(size=(4, 3, 1, 2)).astype("float32")
    loss = QuantileLoss((0.2, 0.8))
    assert float(loss(y, pred)) == pytest.approx(float(loss(y[..., None], pred)))


def test_sample_weight_weights_samples():
    y = np.zeros((2, 1), "float32")
    pred = np.array([[[1.0]], [[3.0]]], "float32")  # pinball(0.5) = 0.5, 1.5
    loss = QuantileLoss((0.5,))
    assert float(loss(y, pred, sample_weight=np.array([1.0, 0.0]))) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("quantiles", "error", "match"),
    [
        ((), ValueError, "at least one"),
        ((0.5, 1.0), ValueError, r"quantiles\[1\]` must be strictly between 0 and 1"),
        ((0.9, 0.1), ValueError, "strictly increasing"),
        ((0.5, 0.5), ValueError, "strictly increasing"),
        ("0.5", TypeError, "list or tuple"),
        ((0.1, "a"), TypeError, r"quantiles\[1\]"),
        ((True,), TypeError, r"quantiles\[0\]"),
    ],
)
def test_bad_quantiles_raise(quantiles, error, match):
    with pytest.raises(error, match=match):
        QuantileLoss(quantiles)


def test_shape_errors_are_clear(rng):
    loss = QuantileLoss((0.1, 0.5, 0.9))
    with pytest.raises(ValueError, match="one value per quantile"):
        loss(np.zeros((2, 3)), np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"`y_true` must have shape \(2, 3, 2\)"):
        loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 2, 3)))
    with pytest.raises(ValueError, match="axis 1 differs"):
        loss(np.zeros((2, 4)), np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(batch, horizon, quantiles\)"):
        loss(np.zeros((2,)), np.zeros((2, 3)))


def test_median_index():
    assert median_index((0.1, 0.5, 0.9)) == 1
    assert median_index((0.2, 0.45, 0.7)) == 1
    assert median_index((0.4, 0.6)) == 0
    assert check_quantiles(None, allow_none=True) is None


def test_anomaly_loss_hand_values():
    scores = np.array([[1.0], [-2.0], [3.0]], "float32")
    assert float(AnomalyLoss()(scores)) == pytest.approx((1 + 4 + 9) / 3)
    assert float(AnomalyLoss(weight=0.3)(scores)) == pytest.approx(0.3 * 14 / 3)
    assert float(AnomalyLoss(weight=0.0)(scores)) == 0.0


@pytest.mark.parametrize("weight", [-1.0, float("nan"), "1"])
def test_anomaly_loss_rejects_bad_weight(weight):
    with pytest.raises((TypeError, ValueError), match="`weight`"):
        AnomalyLoss(weight)


def test_anomaly_loss_config_round_trip():
    layer = AnomalyLoss(weight=0.25, name="term")
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "fusionlab>AnomalyLoss"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert restored.weight == 0.25 and restored.name == "term"


def test_prediction_based_loss_point_forecast_by_hand():
    y = np.array([[[0.0], [0.0]], [[1.0], [1.0]]], "float32")
    pred = np.array([[[1.0], [3.0]], [[1.0], [1.0]]], "float32")
    # sample 1: MSE (1 + 9) / 2 = 5, MAE score 2 -> 5 + 0.5 * 4 = 7; sample 2: 0
    loss = prediction_based_loss(anomaly_loss_weight=0.5)
    assert isinstance(loss, PredictionBasedLoss)
    assert float(loss(y, pred)) == pytest.approx(7 / 2)


def test_prediction_based_loss_uses_the_median_quantile():
    y = np.zeros((1, 2), "float32")
    # quantiles 0.1, 0.5, 0.9; the median forecast is 2 everywhere.
    pred = np.array([[[0.0, 2.0, 4.0], [0.0, 2.0, 4.0]]], "float32")
    quantiles = (0.1, 0.5, 0.9)
    expected = float(QuantileLoss(quantiles)(y, pred)) + 1.0 * 2.0**2
    loss = prediction_based_loss(quantiles, anomaly_loss_weight=1.0)
    assert float(loss(y, pred)) == pytest.approx(expected)
    # max aggregation with mse error: per-step mse 4 -> score 4 -> 16
    loss = prediction_based_loss(quantiles, 1.0, error_metric="mse", aggregation="max")
    assert float(loss(y, pred)) == pytest.approx(float(QuantileLoss(quantiles)(y, pred)) + 16)


def test_combined_total_loss_by_hand():
    y = np.zeros((2, 2), "float32")
    pred = np.ones((2, 2, 1), "float32")
    loss = combined_total_loss((0.5,), AnomalyLoss(weight=2.0), [1.0, 2.0, 3.0])
    assert isinstance(loss, CombinedTotalLoss)
    # pinball(0.5) of an error of 1 = 0.5 ; anomaly 2 * (1 + 4 + 9) / 3
    assert float(loss(y, pred)) == pytest.approx(0.5 + 28 / 3, rel=1e-6)
    point = combined_total_loss(None, AnomalyLoss(weight=1.0), [2.0])
    assert float(point(y, np.ones((2, 2, 1), "float32"))) == pytest.approx(1.0 + 4.0)


def test_combined_total_loss_validates():
    with pytest.raises(TypeError, match="`anomaly_layer` must be an AnomalyLoss"):
        combined_total_loss(None, "mse", [1.0])
    with pytest.raises(ValueError, match="`anomaly_scores` contains 1 NaN"):
        combined_total_loss(None, AnomalyLoss(), [1.0, np.nan])
    with pytest.raises(ValueError, match="at least one score"):
        combined_total_loss(None, AnomalyLoss(), [])


@pytest.mark.parametrize(
    "loss",
    [
        QuantileLoss((0.2, 0.5, 0.8)),
        prediction_based_loss((0.2, 0.5, 0.8), 0.4, error_metric="mse"),
        combined_total_loss((0.2, 0.5, 0.8), AnomalyLoss(0.3), [0.5, 1.5]),
    ],
    ids=["quantile", "prediction_based", "combined"],
)
def test_loss_serialisation_round_trip(loss, rng):
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"].startswith("fusionlab>")
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    y = rng.normal(size=(3, 4)).astype("float32")
    pred = rng.normal(size=(3, 4, 3)).astype("float32")
    assert float(restored(y, pred)) == pytest.approx(float(loss(y, pred)))


def test_compiled_model_saves_and_loads_with_the_loss(tmp_path, rng):
    inputs = keras.Input((5,))
    outputs = keras.layers.Reshape((2, 1, 3))(keras.layers.Dense(6)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", loss=prediction_based_loss((0.1, 0.5, 0.9), 0.2))
    x = rng.normal(size=(8, 5)).astype("float32")
    y = rng.normal(size=(8, 2, 1)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, PredictionBasedLoss)
    assert loaded.loss.quantiles == (0.1, 0.5, 0.9)
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), atol=1e-6)
