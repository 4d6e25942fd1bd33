"""The contract the three reconstruction autoencoders share (ReconstructionAutoencoder)."""

import inspect
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from fusionlab.nn.anomaly_detection import (
    ConvAutoencoderAnomaly,
    LiquidAutoencoderAnomaly,
    LSTMAutoencoderAnomaly,
    ReconstructionAutoencoder,
    weighted_reconstruction_error,
)
from fusionlab.nn.anomaly_detection.liquid_autoencoder import (
    weighted_reconstruction_error as weighted_from_liquid_module,
)

from layer_testing import (
    assert_config_round_trip,
    assert_functional_api,
    assert_saved_model_round_trip,
    to_numpy,
)

FACTORIES = {
    "lstm": lambda: LSTMAutoencoderAnomaly(latent_dim=2, lstm_units=4),
    "conv": lambda: ConvAutoencoderAnomaly(filters=4, kernel_size=3, latent_channels=2),
    "liquid": lambda: LiquidAutoencoderAnomaly(hidden_size=3, backbone_units=4, num_layers=1,
                                               backbone_layers=1),
}
MODEL_CLASSES = [LSTMAutoencoderAnomaly, ConvAutoencoderAnomaly, LiquidAutoencoderAnomaly]


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(3, 6, 2)).astype("float32")


@pytest.fixture
def dt():
    return np.random.default_rng(1).uniform(0.2, 2.0, size=(3, 6, 1)).astype("float32")


def by_hand(x, recon):
    return ((x - recon) ** 2).mean(axis=2)


def assert_own_config_round_trip(factory, inputs):
    # assert_config_round_trip wants a "fusionlab>" registered name; a
    # user's model is registered under its own package.
    model = factory()
    expected = to_numpy(model(inputs))
    clone = type(model).from_config(model.get_config())
    clone(inputs)
    clone.set_weights(model.get_weights())
    assert clone.get_config() == model.get_config()
    np.testing.assert_allclose(to_numpy(clone(inputs)), expected, atol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(restored) is type(model)


# ------------------------------------------------------------- the contract
def test_one_base_class_one_error_method():
    base = inspect.signature(ReconstructionAutoencoder.reconstruction_error)
    assert list(base.parameters) == [
        "self", "inputs", "time_delta", "reconstructions", "reduction", "weighting", "eps",
        "batch_size",
    ]
    keyword_only = [n for n, p in base.parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == ["reconstructions", "reduction", "weighting", "eps", "batch_size"]
    for cls in MODEL_CLASSES:
        assert issubclass(cls, ReconstructionAutoencoder)
        assert inspect.signature(cls.reconstruction_error) == base
        # Nobody redefines it: one implementation, one behaviour.
        assert cls.reconstruction_error is ReconstructionAutoencoder.reconstruction_error


def test_the_older_names_keep_their_signatures():
    for cls in (LSTMAutoencoderAnomaly, ConvAutoencoderAnomaly):
        params = list(inspect.signature(cls.compute_reconstruction_error).parameters)
        assert params == ["self", "inputs", "reconstructions"]
    params = list(inspect.signature(LiquidAutoencoderAnomaly.compute_anomaly_score).parameters)
    assert params == ["self", "x", "time_delta", "reduction", "weighting", "eps", "batch_size",
                      "reconstructions"]


def test_takes_time_delta_is_a_class_attribute():
    assert ReconstructionAutoencoder.takes_time_delta is False
    assert LSTMAutoencoderAnomaly.takes_time_delta is False
    assert ConvAutoencoderAnomaly.takes_time_delta is False
    assert LiquidAutoencoderAnomaly.takes_time_delta is True
    # Readable without building an instance, as the detector reads it.
    assert getattr(keras.Sequential(), "takes_time_delta", False) is False


def test_weighted_error_is_importable_from_both_places():
    assert weighted_from_liquid_module is weighted_reconstruction_error


@pytest.mark.parametrize("name", ["lstm", "conv"])
def test_windows_only_models_score_and_alias(name, x):
    model = FACTORIES[name]()
    recon = to_numpy(model(x))
    scores = model.reconstruction_error(x)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32
    assert scores.shape == (3,)
    np.testing.assert_allclose(scores, by_hand(x, recon).mean(axis=1), rtol=1e-5)
    per_step = model.reconstruction_error(x, reduction=None)
    assert per_step.shape == (3, 6)
    np.testing.assert_allclose(per_step, by_hand(x, recon), rtol=1e-5)
    # The older name: a backend tensor, the same numbers.
    alias = model.compute_reconstruction_error(x)
    assert ops.is_tensor(alias) and not isinstance(alias, np.ndarray)
    np.testing.assert_allclose(to_numpy(alias), scores, rtol=1e-5)
    # Precomputed reconstructions: both give exactly the same numbers.
    np.testing.assert_array_equal(
        model.reconstruction_error(x, reconstructions=recon),
        to_numpy(model.compute_reconstruction_error(x, recon)),
    )
    # Without time deltas the weighting options change nothing.
    np.testing.assert_array_equal(model.reconstruction_error(x, weighting=None), scores)


def test_liquid_model_scores_and_alias(x, dt):
    model = FACTORIES["liquid"]()
    recon = to_numpy(model([x, dt]))
    for kwargs in ({}, {"reduction": None}, {"weighting": None}, {"eps": 0.5}):
        new = model.reconstruction_error(x, dt, **kwargs)
        old = model.compute_anomaly_score(x, time_delta=dt, **kwargs)
        assert isinstance(old, np.ndarray) and isinstance(new, np.ndarray)
        np.testing.assert_array_equal(new, old)
        expected = weighted_reconstruction_error(x, recon, dt, **kwargs)
        np.testing.assert_allclose(new, to_numpy(expected), rtol=1e-5)
    # The pair form and the positional order of the older name.
    np.testing.assert_array_equal(
        model.reconstruction_error([x, dt]), model.compute_anomaly_score(x, dt, "mean")
    )
    # Density weighting changes the score; no deltas means regular sampling.
    assert not np.allclose(model.reconstruction_error(x, dt),
                           model.reconstruction_error(x, dt, weighting=None))
    np.testing.assert_allclose(
        model.reconstruction_error(x),
        model.reconstruction_error(x, np.ones_like(dt), weighting=None), rtol=1e-6,
    )
    # The tensor form is the plain (unweighted) error.
    np.testing.assert_allclose(
        to_numpy(model.compute_reconstruction_error([x, dt])),
        model.reconstruction_error(x, dt, weighting=None), rtol=1e-5,
    )


@pytest.mark.parametrize("name", ["lstm", "conv"])
def test_time_deltas_to_a_windows_only_model_raise(name, x, dt):
    model = FACTORIES[name]()
    model_name = type(model).__name__
    match = rf"{model_name} does not take time deltas .*takes_time_delta.*shape \(3, 6, 1\)"
    with pytest.raises(ValueError, match=match):
        model.reconstruction_error(x, dt)
    with pytest.raises(ValueError, match=match):
        model.reconstruction_error(x, time_delta=dt, reconstructions=x)


@pytest.mark.parametrize("name", ["lstm", "conv", "liquid"])
def test_reconstructions_must_match_the_windows(name, x):
    model = FACTORIES[name]()
    with pytest.raises(ValueError, match="holds 1 sequences but `inputs` holds 3"):
        model.reconstruction_error(x, reconstructions=x[:1])
    with pytest.raises(ValueError, match="holds 3 features but `inputs` holds 2"):
        model.reconstruction_error(x, reconstructions=np.zeros((3, 6, 3), "float32"))
    with pytest.raises(ValueError, match="must be 3D"):
        model.reconstruction_error(x, reconstructions=x[..., 0])
    short = x[:, :4]
    if name == "lstm":
        # n_repeats can make it differ: the overlap is compared, with a warning.
        with pytest.warns(UserWarning, match="first 4 steps"):
            scores = model.reconstruction_error(x, reconstructions=short)
        np.testing.assert_allclose(scores, 0.0, atol=1e-7)
    else:
        with pytest.raises(ValueError, match="holds 4 steps but `inputs` holds 6"):
            model.reconstruction_error(x, reconstructions=short)


@pytest.mark.parametrize("name", ["lstm", "conv", "liquid"])
def test_bad_options_and_windows(name, x):
    model = FACTORIES[name]()
    with pytest.raises(ValueError, match="reduction"):
        model.reconstruction_error(x, reduction="sum")
    with pytest.raises(ValueError, match="weighting"):
        model.reconstruction_error(x, weighting="density")
    with pytest.raises(ValueError, match="batch_size"):
        model.reconstruction_error(x, batch_size=0)
    with pytest.raises(ValueError, match=r"3D input"):
        model.reconstruction_error(x[0])


@pytest.mark.parametrize("name", ["lstm", "conv", "liquid"])
def test_eager_tensors_and_float64_are_accepted(name, x):
    model = FACTORIES[name]()
    expected = model.reconstruction_error(x)
    np.testing.assert_allclose(model.reconstruction_error(ops.convert_to_tensor(x)), expected,
                               rtol=1e-6)
    got = model.reconstruction_error(x.astype("float64"))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "conv", "liquid"])
def test_output_shape_and_n_features(name):
    model = FACTORIES[name]()
    assert tuple(model.compute_output_shape((None, 8, 2))) == (None, 8, 2)
    assert model.get_config()["n_features"] is None
    with pytest.raises(ValueError, match="n_features"):
        type(model).from_config({**model.get_config(), "n_features": 0})


# ------------------------------------------------------- serialising, again
@pytest.mark.parametrize("name", ["lstm", "conv", "liquid"])
def test_config_and_keras_file_round_trip(name, x, dt, tmp_path):
    inputs = [x, dt] if name == "liquid" else x
    assert_config_round_trip(FACTORIES[name], inputs)
    loaded = assert_saved_model_round_trip(FACTORIES[name], inputs, tmp_path)
    assert isinstance(loaded, ReconstructionAutoencoder)
    assert loaded.takes_time_delta is (name == "liquid")


# ----------------------------------------------------------- a user's model
@keras.saving.register_keras_serializable(package="fusionlab_tests")
class TinyGRUAutoencoder(ReconstructionAutoencoder):
    """A GRU encodes each window into a code; a GRU decodes the repeated code."""

    def __init__(self, units=3, n_features=None, **kwargs):
        super().__init__(n_features=n_features, **kwargs)
        self.units = units
        self.encoder = keras.layers.GRU(units, name="encoder")
        self.decoder = keras.layers.GRU(units, return_sequences=True, name="decoder")

    def build_layers(self, input_shape):
        batch, steps, _ = input_shape
        self.encoder.build(input_shape)
        self.decoder.build((batch, steps, self.units))
        return (batch, steps, self.units)

    def call(self, inputs, training=False):
        code = self.encoder(inputs, training=training)
        repeated = ops.expand_dims(code, 1) * ops.ones_like(inputs[:, :, :1])
        return self.output_layer(self.decoder(repeated, training=training))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="fusionlab_tests")
class TimedDenseAutoencoder(ReconstructionAutoencoder):
    """Reads the time delta as an extra feature of every step."""

    takes_time_delta = True

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="tanh", name="hidden")

    def build_layers(self, input_shape):
        batch, steps, features = input_shape
        self.hidden.build((batch, steps, features + 1))
        return (batch, steps, self.units)

    def call(self, inputs, time_delta=None, training=False):
        x, time_delta = self.split_inputs(inputs, time_delta)
        if time_delta is None:
            time_delta = ops.ones_like(x[:, :, :1])
        elif len(time_delta.shape) == 2:
            time_delta = ops.expand_dims(time_delta, -1)
        hidden = self.hidden(ops.concatenate([x, ops.cast(time_delta, x.dtype)], axis=-1))
        return self.output_layer(hidden)

    def compute_output_shape(self, inputs_shape, time_delta_shape=None):
        return super().compute_output_shape(inputs_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_users_subclass_gets_the_contract(x, dt, tmp_path):
    model = TinyGRUAutoencoder(units=3)
    recon = to_numpy(model(x))
    assert recon.shape == x.shape
    assert type(model.output_layer).__name__ == "Dense"
    np.testing.assert_allclose(model.reconstruction_error(x), by_hand(x, recon).mean(axis=1),
                               rtol=1e-5)
    np.testing.assert_allclose(to_numpy(model.compute_reconstruction_error(x)),
                               model.reconstruction_error(x), rtol=1e-5)
    with pytest.raises(ValueError, match="TinyGRUAutoencoder does not take time deltas"):
        model.reconstruction_error(x, dt)
    # The base's checks apply: the model was built with 2 features.
    with pytest.raises(ValueError, match="3 features but the model was built with = 2"):
        model(np.zeros((1, 6, 3), "float32"))
    fixed = TinyGRUAutoencoder(n_features=3)
    with pytest.raises(ValueError, match="2 features but n_features = 3"):
        fixed(x)

    factory = lambda: TinyGRUAutoencoder(units=3)  # noqa: E731
    assert_own_config_round_trip(factory, x)
    assert_functional_api(factory, x)
    loaded = assert_saved_model_round_trip(factory, x, tmp_path)
    assert isinstance(loaded, TinyGRUAutoencoder) and loaded.units == 3
    # In a Functional model with an unknown number of steps, saved and loaded.
    inputs = keras.Input((None, 2))
    functional = keras.Model(inputs, TinyGRUAutoencoder(units=3)(inputs))
    expected = to_numpy(functional(x))
    assert tuple(functional(x[:, :4]).shape) == (3, 4, 2)
    functional.save(tmp_path / "functional.keras")
    reloaded = keras.saving.load_model(tmp_path / "functional.keras")
    np.testing.assert_allclose(to_numpy(reloaded(x)), expected, atol=1e-6)


def test_a_users_time_aware_subclass(x, dt, tmp_path):
    model = TimedDenseAutoencoder()
    recon = to_numpy(model([x, dt]))
    np.testing.assert_allclose(to_numpy(model(x, time_delta=dt[..., 0])), recon, atol=1e-6)
    np.testing.assert_allclose(
        model.reconstruction_error(x, dt),
        to_numpy(weighted_reconstruction_error(x, recon, dt)), rtol=1e-5,
    )
    # The base checks the deltas of a time-aware model, whoever wrote it.
    with pytest.raises(ValueError, match="steps 5 but the inputs have steps 6"):
        model(x, time_delta=dt[:, :5])
    bad = dt.copy()
    bad[0, 1, 0] = -1.0
    with pytest.raises(ValueError, match="must be >= 0"):
        model.reconstruction_error(x, bad)
    with pytest.raises(ValueError, match=r"pair \[x, time_delta\]"):
        model([x, dt, dt])
    factory = TimedDenseAutoencoder
    assert_own_config_round_trip(factory, [x, dt])
    assert_functional_api(factory, [x, dt])
    loaded = assert_saved_model_round_trip(factory, [x, dt], tmp_path)
    assert loaded.takes_time_delta is True


def test_the_base_class_alone_says_what_to_implement(x):
    with pytest.raises(NotImplementedError, match=r"must implement build_layers\(input_shape\)"):
        ReconstructionAutoencoder().build(x.shape)


def test_no_warning_when_steps_match(x):
    model = FACTORIES["lstm"]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.reconstruction_error(x)
