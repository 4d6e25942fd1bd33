"""Empty batches and zero-step inputs to the Keras components (issue 14, item 11).

The rule, the same on every component: an empty batch (0 windows / samples)
with an otherwise valid shape gives an empty result of the right shape, so
that scoring an empty slice needs no special case; training or evaluating on
0 windows, zero steps and zero features are errors that say what was
received. Backend-agnostic: numpy and ``keras.ops`` only.
"""

import numpy as np
import pytest
from keras import ops

from fusionlab.nn import AnomalyAwareForecaster
from fusionlab.nn.anomaly_detection import (
    LTC,
    CfC,
    ConvAutoencoderAnomaly,
    LiquidAutoencoderAnomaly,
    LSTMAutoencoderAnomaly,
    PredictionErrorAnomalyScore,
    SequenceAnomalyScoreLayer,
)

AUTOENCODERS = {
    "LSTMAutoencoderAnomaly": lambda: LSTMAutoencoderAnomaly(latent_dim=2, lstm_units=4),
    "ConvAutoencoderAnomaly": lambda: ConvAutoencoderAnomaly(
        filters=4, kernel_size=3, latent_channels=2),
    "LiquidAutoencoderAnomaly": lambda: LiquidAutoencoderAnomaly(
        hidden_size=3, backbone_units=4, num_layers=1, backbone_layers=1),
}
EMPTY = np.zeros((0, 8, 2), "float32")
NO_STEPS = np.zeros((3, 0, 2), "float32")
NO_FEATURES = np.zeros((3, 8, 0), "float32")


def windows(n=4):
    return np.random.default_rng(0).normal(size=(n, 8, 2)).astype("float32")


# ------------------------------------------------------------- autoencoders


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_autoencoders_score_an_empty_batch_as_an_empty_result(name):
    model = AUTOENCODERS[name]()
    assert tuple(ops.shape(model(EMPTY))) == (0, 8, 2)
    assert model.predict(EMPTY, verbose=0).shape == (0, 8, 2)
    scores = model.reconstruction_error(EMPTY)
    assert scores.shape == (0,) and scores.dtype == np.float32
    assert model.reconstruction_error(EMPTY, reduction=None).shape == (0, 8)
    assert tuple(ops.shape(model.compute_reconstruction_error(EMPTY))) == (0,)
    # Trained, the same: and the empty call left the model usable.
    model.compile(optimizer="adam", loss="mse")
    model.fit(windows(), windows(), epochs=1, batch_size=4, verbose=0)
    assert model.predict(EMPTY, verbose=0).shape == (0, 8, 2)
    assert model.reconstruction_error(EMPTY).shape == (0,)
    assert model.reconstruction_error(windows(3)).shape == (3,)


def test_time_aware_autoencoder_scores_an_empty_batch_with_time_deltas():
    model = AUTOENCODERS["LiquidAutoencoderAnomaly"]()
    deltas = np.ones((0, 8, 1), "float32")
    assert model.reconstruction_error(EMPTY, deltas).shape == (0,)
    assert model.predict([EMPTY, deltas], verbose=0).shape == (0, 8, 2)
    assert tuple(ops.shape(model(EMPTY, time_delta=deltas))) == (0, 8, 2)


def test_lstm_autoencoder_encodes_an_empty_batch():
    model = AUTOENCODERS["LSTMAutoencoderAnomaly"]()
    assert tuple(ops.shape(model.encode(EMPTY))) == (0, 2)


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_autoencoders_refuse_to_train_on_zero_windows(name):
    model = AUTOENCODERS[name]()
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=rf"{name}\.fit received 0 windows"):
        model.fit(EMPTY, EMPTY, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=rf"{name}\.evaluate received 0 windows"):
        model.evaluate(EMPTY, EMPTY, verbose=0)


@pytest.mark.parametrize("name", AUTOENCODERS)
@pytest.mark.parametrize("bad, what", [
    (NO_STEPS, r"at least one step.*received shape \(3, 0, 2\)"),
    (NO_FEATURES, r"at least one feature.*received shape \(3, 8, 0\)"),
])
def test_autoencoders_reject_zero_steps_and_zero_features(name, bad, what):
    model = AUTOENCODERS[name]()
    model.compile(optimizer="adam", loss="mse")
    pattern = rf"^{name} .*{what}"
    for entry in (model, lambda x: model.predict(x, verbose=0),
                  model.reconstruction_error, model.compute_reconstruction_error,
                  lambda x: model.fit(x, x, verbose=0)):
        with pytest.raises(ValueError, match=pattern):
            entry(bad)
    with pytest.raises(ValueError, match=pattern):
        model.build(bad.shape)


# ----------------------------------------------------------- scoring layers


def test_sequence_score_layer_empty_batch_and_zero_sizes():
    head = SequenceAnomalyScoreLayer(4)
    assert tuple(ops.shape(head(np.zeros((0, 3), "float32")))) == (0, 1)
    pooled = SequenceAnomalyScoreLayer(4, pooling="mean")
    assert tuple(ops.shape(pooled(np.zeros((0, 10, 3), "float32")))) == (0, 1)
    # Mean pooling over zero steps gave NaN scores.
    for pooling in ("mean", "max", "last"):
        with pytest.raises(ValueError, match=r"SequenceAnomalyScoreLayer .*at least one step"
                                             r".*received shape \(3, 0, 3\)"):
            SequenceAnomalyScoreLayer(4, pooling=pooling)(np.zeros((3, 0, 3), "float32"))
    with pytest.raises(ValueError, match=r"SequenceAnomalyScoreLayer .*at least one feature"
                                         r".*received shape \(3, 0\)"):
        head(np.zeros((3, 0), "float32"))
    with pytest.raises(ValueError, match=r"at least one feature.*\(2, 5, 0\)"):
        pooled.compute_output_shape((2, 5, 0))


def test_prediction_error_score_empty_batch_and_zero_sizes():
    scorer = PredictionErrorAnomalyScore()
    empty = np.zeros((0, 4, 2), "float32")
    assert tuple(ops.shape(scorer([empty, empty]))) == (0, 1)
    # Zero steps or features gave NaN scores (a mean over nothing).
    for shape, what in (((3, 0, 2), "at least one step"), ((3, 4, 0), "at least one feature")):
        bad = np.zeros(shape, "float32")
        with pytest.raises(ValueError, match=rf"`y_true` .*{what}.*received shape "
                                             rf"\({shape[0]}, {shape[1]}, {shape[2]}\)"):
            scorer([bad, bad])
        with pytest.raises(ValueError, match=what):
            scorer.compute_output_shape([shape, shape])


# ------------------------------------------------------------- liquid layers


@pytest.mark.parametrize("layer_class", [CfC, LTC])
def test_liquid_layers_empty_batch_and_zero_sizes(layer_class):
    kwargs = {"backbone_units": 4} if layer_class is CfC else {}
    layer = layer_class(3, **kwargs)
    assert tuple(ops.shape(layer(EMPTY))) == (0, 8, 3)
    assert tuple(ops.shape(layer(EMPTY, time_delta=np.ones((0, 8), "float32")))) == (0, 8, 3)
    last = layer_class(3, return_sequences=False, **kwargs)
    assert tuple(ops.shape(last(EMPTY))) == (0, 3)
    name = layer_class.__name__
    for bad, what in ((NO_STEPS, r"at least one step.*\(3, 0, 2\)"),
                      (NO_FEATURES, r"at least one feature.*\(3, 8, 0\)")):
        with pytest.raises(ValueError, match=rf"^{name} .*{what}"):
            layer_class(3, **kwargs)(bad)
        with pytest.raises(ValueError, match=rf"^{name} .*{what}"):
            layer_class(3, return_sequences=False, **kwargs)(bad)


# ----------------------------------------------------------------- forecaster


def forecaster_inputs(batch, past_steps=6, rng=None):
    rng = rng or np.random.default_rng(0)
    return [rng.normal(size=(batch, 2)).astype("float32"),
            rng.normal(size=(batch, past_steps, 3)).astype("float32"),
            rng.normal(size=(batch, 3, 2)).astype("float32")]


@pytest.mark.parametrize("strategy", [None, "prediction_based", "feature_based"])
def test_forecaster_empty_batch_gives_empty_forecasts_and_scores(strategy):
    model = AnomalyAwareForecaster(forecast_horizon=3, quantiles=(0.1, 0.5, 0.9),
                                   embed_dim=4, lstm_units=4, num_heads=1,
                                   anomaly_detection_strategy=strategy)
    empty = forecaster_inputs(0)
    assert tuple(ops.shape(model(empty))) == (0, 3, 1, 3)
    assert model.predict(empty, verbose=0).shape == (0, 3, 1, 3)
    y = None if strategy == "feature_based" else np.zeros((0, 3, 1), "float32")
    assert model.anomaly_scores(empty, y).shape == (0,)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"AnomalyAwareForecaster\.fit received 0 samples"):
        model.fit(empty, np.zeros((0, 3, 1), "float32"), verbose=0)
    # Still usable, with the weights an ordinary call builds.
    assert model.predict(forecaster_inputs(2), verbose=0).shape == (2, 3, 1, 3)


def test_forecaster_rejects_zero_past_steps_and_zero_dynamic_features():
    model = AnomalyAwareForecaster(forecast_horizon=3, embed_dim=4, lstm_units=4,
                                   num_heads=1)
    with pytest.raises(ValueError, match=r"`dynamic` input must have at least one past "
                                         r"step; received shape \(2, 0, 3\)"):
        model(forecaster_inputs(2, past_steps=0))
    inputs = forecaster_inputs(2)
    inputs[1] = inputs[1][:, :, :0]
    with pytest.raises(ValueError, match=r"`dynamic` input must have at least one "
                                         r"feature; received shape \(2, 6, 0\)"):
        model(inputs)
    with pytest.raises(ValueError, match="at least one past step"):
        model.predict(forecaster_inputs(2, past_steps=0), verbose=0)
