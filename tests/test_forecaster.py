import keras
import numpy as np
import pytest
from keras import ops

from fusionlab.nn import AnomalyAwareForecaster
from fusionlab.nn.losses import QuantileLoss

from layer_testing import assert_config_round_trip, to_numpy

H = 3
QUANTILES = (0.1, 0.5, 0.9)
STRATEGIES = [None, "feature_based", "prediction_based", "from_config"]


@pytest.fixture
def data(rng):
    n = 24
    static = rng.normal(size=(n, 2)).astype("float32")
    dynamic = rng.normal(size=(n, 8, 3)).astype("float32")
    future = rng.normal(size=(n, H, 2)).astype("float32")
    # A learnable target: the last past value of feature 0 plus the future input.
    y = (dynamic[:, -1:, :1] + future[..., :1]).astype("float32")
    scores = rng.uniform(size=(n,)).astype("float32")
    return [static, dynamic, future], y, scores


def make(strategy=None, quantiles=QUANTILES, **kwargs):
    kwargs.setdefault("lstm_units", 8)
    kwargs.setdefault("embed_dim", 4)
    kwargs.setdefault("dropout_rate", 0.0)
    return AnomalyAwareForecaster(
        H, quantiles=quantiles, anomaly_detection_strategy=strategy, **kwargs
    )


# Eager steps are quicker than tracing for these tiny models on TensorFlow;
# JAX is the other way round.
EAGER = keras.backend.backend() == "tensorflow"


def fit_inputs(x, scores, strategy):
    return x + [scores] if strategy == "from_config" else x


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_evaluated_loss_is_forecast_loss_plus_the_anomaly_term(data, strategy):
    x, y, given = data
    model = make(strategy, anomaly_loss_weight=0.7)
    model.compile(optimizer="adam", run_eagerly=EAGER)
    inputs = fit_inputs(x, given, strategy)
    evaluated = model.evaluate(inputs, y, batch_size=len(y), verbose=0)
    forecast = float(QuantileLoss(QUANTILES)(y, model.predict(x, verbose=0)))
    if strategy is None:
        term = 0.0
    elif strategy == "prediction_based":
        term = 0.7 * np.mean(model.anomaly_scores(x, y) ** 2)
    elif strategy == "feature_based":
        term = 0.7 * np.mean(model.anomaly_scores(x) ** 2)
    else:
        term = 0.7 * np.mean((model.anomaly_scores(x) - given) ** 2)
    assert evaluated == pytest.approx(forecast + term, rel=1e-4)
    if strategy is not None:
        assert term > 1e-4  # the check above is not vacuous


def test_prediction_based_scores_by_hand(data):
    x, y, _ = data
    model = make("prediction_based", anomaly_config={"error_metric": "mae"})
    median = model.predict(x, verbose=0)[..., 1]
    expected = np.mean(np.abs(y - median), axis=(1, 2))
    np.testing.assert_allclose(model.anomaly_scores(x, y), expected, rtol=1e-5)
    np.testing.assert_allclose(model.anomaly_scores(x, y[..., 0], batch_size=5), expected, rtol=1e-5)


def test_quantiles_do_not_cross(data):
    x, _, _ = data
    out = make(None).predict(x, verbose=0)
    assert np.all(np.diff(out, axis=-1) >= 0)


def test_point_forecasts_and_several_outputs(data, rng):
    x, _, _ = data
    model = make("prediction_based", quantiles=None, output_dim=2)
    y = rng.normal(size=(24, H, 2)).astype("float32")
    model.compile(optimizer="adam", run_eagerly=EAGER)  # default loss: MSE
    model.fit(x, y, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (24, H, 2)
    assert model.anomaly_scores(x, y).shape == (24,)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_trains_and_round_trips(data, strategy, tmp_path):
    x, y, scores = data
    model = make(strategy, anomaly_loss_weight=0.5)
    # Compiled (graph/jit) training: the path users take.
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(fit_inputs(x, scores, strategy), y, epochs=3, batch_size=8,
                        verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    path = tmp_path / "forecaster.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, AnomalyAwareForecaster)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), atol=1e-5)
    needs_y = strategy in (None, "prediction_based")
    args = (x, y) if needs_y else (x,)
    np.testing.assert_allclose(loaded.anomaly_scores(*args), model.anomaly_scores(*args), atol=1e-5)
    # The compiled loss comes back too, so training can resume.
    assert isinstance(loaded.loss, QuantileLoss)
    assert loaded.loss.quantiles == QUANTILES


def test_dict_inputs_match_list_inputs_and_round_trip(data, tmp_path):
    x, y, scores = data
    model = make("from_config")
    model.compile(optimizer="adam", run_eagerly=EAGER)
    as_dict = {"static": x[0], "dynamic": x[1], "future": x[2], "anomaly_scores": scores}
    model.fit(as_dict, y, epochs=1, verbose=0)
    np.testing.assert_allclose(
        to_numpy(model(as_dict)), to_numpy(model(x)), atol=1e-6
    )
    path = tmp_path / "dict.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    no_scores = {k: v for k, v in as_dict.items() if k != "anomaly_scores"}
    np.testing.assert_allclose(
        loaded.predict(no_scores, verbose=0), model.predict(no_scores, verbose=0), atol=1e-5
    )


def test_no_static_or_future_features(data, tmp_path):
    # make_forecast_arrays gives (n, 0) and (n, H, 0) arrays when there are none.
    x, y, _ = data
    x0 = [np.zeros((24, 0), "float32"), x[1], np.zeros((24, H, 0), "float32")]
    model = make("prediction_based")
    model.compile(optimizer=keras.optimizers.Adam(0.02), run_eagerly=EAGER)
    history = model.fit(x0, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    model.save(tmp_path / "zero.keras")
    loaded = keras.saving.load_model(tmp_path / "zero.keras")
    np.testing.assert_allclose(to_numpy(loaded(x0)), to_numpy(model(x0)), atol=1e-5)


def test_config_round_trip(data):
    x, _, _ = data
    clone = assert_config_round_trip(
        lambda: make("feature_based", anomaly_loss_weight=0.2,
                     anomaly_config={"hidden_units": [6, 3], "final_activation": "softplus"}),
        x,
    )
    assert clone.anomaly_config["hidden_units"] == [6, 3]
    assert clone.score_head.hidden_units == [6, 3]


def test_functional_use(data):
    x, _, _ = data
    model = make(None)
    symbolic = [keras.Input(shape=a.shape[1:]) for a in x]
    wrapper = keras.Model(symbolic, model(symbolic))
    assert tuple(wrapper.output.shape) == (None, H, 1, 3)
    np.testing.assert_allclose(to_numpy(wrapper(x)), to_numpy(model(x)), atol=1e-6)


# ----------------------------------------------------------------- errors
def test_wrong_input_structures_raise_clearly(data):
    x, y, scores = data
    model = make(None)
    with pytest.raises(ValueError, match=r"list or tuple \[static, dynamic, future\]; received a list of length 2"):
        model(x[:2])
    with pytest.raises(TypeError, match="received a ndarray"):
        model(x[1])
    with pytest.raises(ValueError, match=r"missing \['future'\], unknown \['futur'\]"):
        model({"static": x[0], "dynamic": x[1], "futur": x[2]})
    with pytest.raises(ValueError, match="only used with anomaly_detection_strategy='from_config'"):
        model({"static": x[0], "dynamic": x[1], "future": x[2], "anomaly_scores": scores})
    with pytest.raises(ValueError, match=r"`dynamic` input must be 3D"):
        model([x[0], x[1][:, :, 0], x[2]])
    with pytest.raises(ValueError, match=r"forecast_horizon = 3 steps; received shape \(24, 2, 2\)"):
        model([x[0], x[1], x[2][:, :2]])
    with pytest.raises(ValueError, match="same batch size"):
        model([x[0][:5], x[1], x[2]])
    model(x)  # builds with S=2, D=3, F=2
    with pytest.raises(ValueError, match="`future` input has 4 features but the model was built with 2"):
        model([x[0], x[1], np.zeros((24, H, 4), "float32")])


def test_from_config_needs_scores_when_training(data):
    x, y, scores = data
    model = make("from_config")
    model.compile(optimizer="adam", run_eagerly=EAGER)
    with pytest.raises(ValueError, match="needs the pre-computed scores when training"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"`anomaly_scores` must have shape \(batch,\) or \(batch, 1\)"):
        model(x + [np.zeros((24, 2), "float32")])


def test_anomaly_scores_argument_checks(data):
    x, y, _ = data
    with pytest.raises(ValueError, match="`y` .* is required"):
        make("prediction_based").anomaly_scores(x)
    with pytest.raises(ValueError, match="`y` is not used by anomaly_detection_strategy='feature_based'"):
        make("feature_based").anomaly_scores(x, y)
    with pytest.raises(ValueError, match="one row per sample"):
        make(None).anomaly_scores(x, y[:3])
    with pytest.raises(ValueError, match="only anomaly_detection_strategy='feature_based' or 'from_config'"):
        make("prediction_based").score_anomalies(np.zeros((2, H, 8), "float32"))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"anomaly_detection_strategy": "features"}, ValueError, "`anomaly_detection_strategy` must be one of"),
        ({"anomaly_loss_weight": -0.1}, ValueError, "`anomaly_loss_weight`"),
        ({"quantiles": (0.9, 0.1)}, ValueError, "strictly increasing"),
        ({"lstm_units": 0}, ValueError, "`lstm_units`"),
        ({"dropout_rate": 2.0}, ValueError, "`dropout_rate`"),
        ({"anomaly_detection_strategy": "prediction_based", "anomaly_config": {"hidden_units": 4}},
         ValueError, r"key\(s\) \['hidden_units'\] that anomaly_detection_strategy='prediction_based' does not use"),
        ({"anomaly_detection_strategy": "from_config", "anomaly_config": {"anomaly_scores": [1.0]}},
         ValueError, "pass them per sample with the inputs"),
        ({"anomaly_config": {"hidden_units": 4}}, ValueError, "allowed keys: none"),
        ({"anomaly_detection_strategy": "feature_based", "anomaly_config": [1]}, TypeError, "must be a dict"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    kwargs.setdefault("quantiles", None)
    with pytest.raises(error, match=match):
        AnomalyAwareForecaster(H, **kwargs)


# -------------------------------------------------------------- subclass
@keras.saving.register_keras_serializable(package="fusionlab_tests")
class GRUForecaster(AnomalyAwareForecaster):
    """Overrides one factory (the encoder) and adds one argument."""

    def __init__(self, *args, gru_layers=1, **kwargs):
        self.gru_layers = gru_layers
        super().__init__(*args, **kwargs)

    def make_past_encoder(self):
        return keras.Sequential(
            [keras.layers.GRU(self.lstm_units, return_sequences=True)
             for _ in range(self.gru_layers)],
            name="gru_encoder",
        )

    def get_config(self):
        return {**super().get_config(), "gru_layers": self.gru_layers}


@keras.saving.register_keras_serializable(package="fusionlab_tests")
class MaxPoolScorer(AnomalyAwareForecaster):
    """Overrides one stage method (the scoring) with no new layer."""

    def score_anomalies(self, features, training=False):
        return ops.max(ops.abs(features), axis=(1, 2))[:, None] - 1.0


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(GRUForecaster, {"gru_layers": 2}), (MaxPoolScorer, {"anomaly_detection_strategy": "feature_based"})],
)
def test_user_subclass_trains_and_round_trips(cls, kwargs, data, tmp_path):
    x, y, _ = data
    model = cls(H, quantiles=QUANTILES, lstm_units=8, embed_dim=4, dropout_rate=0.0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), run_eagerly=EAGER)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    if cls is GRUForecaster:
        assert [type(layer).__name__ for layer in model.past_encoder.layers] == ["GRU", "GRU"]
    path = tmp_path / "sub.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    if cls is MaxPoolScorer:
        np.testing.assert_allclose(loaded.anomaly_scores(x), model.anomaly_scores(x), atol=1e-5)
