import warnings

import keras
import numpy as np
import pytest

from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly

from layer_testing import (
    assert_config_round_trip,
    assert_fit_lowers_loss,
    assert_functional_api,
    assert_saved_model_round_trip,
    to_numpy,
)

VARIANTS = [
    {},
    {"use_bottleneck_dense": True},
    {"use_bidirectional_encoder": True, "num_encoder_layers": 2},
    {"use_bidirectional_encoder": True, "use_bottleneck_dense": True, "num_decoder_layers": 2},
    {"n_features": 3, "n_repeats": 6, "activation": "linear"},
    {"dropout_rate": 0.2, "recurrent_dropout_rate": 0.1},
]


@pytest.fixture
def windows(rng):
    return rng.normal(size=(6, 12, 3)).astype("float32")


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_output_shapes_and_dtype(windows, kwargs):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8, **kwargs)
    out = model(windows)
    steps = kwargs.get("n_repeats", windows.shape[1])
    assert tuple(out.shape) == (6, steps, 3)
    assert to_numpy(out).dtype == np.float32
    assert tuple(model.encode(windows).shape) == (6, 4)


@pytest.mark.parametrize("latent_dim", [2, 6])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"use_bottleneck_dense": True}, {"use_bidirectional_encoder": True}],
)
def test_latent_dim_sizes_the_code_that_reaches_the_decoder(windows, latent_dim, kwargs):
    model = LSTMAutoencoderAnomaly(latent_dim=latent_dim, lstm_units=8, **kwargs)
    model(windows)
    assert tuple(model.encode(windows).shape) == (6, latent_dim)
    # The first decoder LSTM reads the repeated code, so its kernel has
    # latent_dim input rows: nothing wider than the code reaches the decoder.
    assert model.decoder_layers[0].cell.kernel.shape[0] == latent_dim
    if not kwargs.get("use_bottleneck_dense"):
        last = model.encoder_layers[-1]
        per_direction = latent_dim // 2 if kwargs.get("use_bidirectional_encoder") else latent_dim
        units = last.forward_layer.units if kwargs else last.units
        assert units == per_direction


def test_latent_dim_changes_the_parameter_count(windows):
    small = LSTMAutoencoderAnomaly(latent_dim=2, lstm_units=8)
    large = LSTMAutoencoderAnomaly(latent_dim=6, lstm_units=8)
    small(windows)
    large(windows)
    assert small.count_params() != large.count_params()


def test_reconstruction_error_is_per_sample_mse(windows):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    recon = to_numpy(model(windows))
    error = model.compute_reconstruction_error(windows)
    assert tuple(error.shape) == (6,)
    np.testing.assert_allclose(
        to_numpy(error), ((windows - recon) ** 2).mean(axis=(1, 2)), rtol=1e-5
    )
    # Precomputed reconstructions give the same numbers.
    np.testing.assert_allclose(
        to_numpy(model.compute_reconstruction_error(windows, recon)), to_numpy(error), rtol=1e-6
    )
    if keras.backend.backend() == "tensorflow":
        assert error.numpy().shape == (6,)
    # One reconstruction for six inputs would broadcast into six wrong errors.
    with pytest.raises(ValueError, match="`reconstructions` holds 1 sequences but `inputs` holds 6"):
        model.compute_reconstruction_error(windows, recon[:1])


def test_reconstruction_error_with_other_repeats_warns_and_uses_overlap(windows):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8, n_repeats=5)
    recon = to_numpy(model(windows))
    with pytest.warns(UserWarning, match="first 5 steps"):
        error = model.compute_reconstruction_error(windows)
    expected = ((windows[:, :5] - recon) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(to_numpy(error), expected, rtol=1e-5)


def test_no_warning_when_steps_match(windows):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.compute_reconstruction_error(windows)


@pytest.mark.parametrize("kwargs", [VARIANTS[0], VARIANTS[3], VARIANTS[4]])
def test_config_round_trip(windows, kwargs):
    assert_config_round_trip(
        lambda: LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8, **kwargs), windows
    )


@pytest.mark.parametrize("kwargs", [VARIANTS[0], VARIANTS[3]])
def test_keras_file_round_trip(windows, tmp_path, kwargs):
    loaded = assert_saved_model_round_trip(
        lambda: LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8, **kwargs), windows, tmp_path
    )
    assert isinstance(loaded, LSTMAutoencoderAnomaly)
    assert loaded.get_config()["latent_dim"] == 4


def test_functional_api_with_fixed_and_variable_steps(windows):
    assert_functional_api(lambda: LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8), windows)
    inputs = keras.Input(shape=(None, 3))
    model = keras.Model(inputs, LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)(inputs))
    assert tuple(model(windows).shape) == windows.shape
    assert tuple(model(windows[:, :7]).shape) == (6, 7, 3)


def test_subclass_overrides_a_part_and_round_trips(windows, tmp_path):
    @keras.saving.register_keras_serializable(package="fusionlab_tests")
    class ScaledAutoencoder(LSTMAutoencoderAnomaly):
        def __init__(self, output_scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.output_scale = output_scale

        def call(self, inputs, training=False):
            return super().call(inputs, training=training) * self.output_scale

        def get_config(self):
            return {**super().get_config(), "output_scale": self.output_scale}

    model = ScaledAutoencoder(output_scale=3.0, latent_dim=4, lstm_units=8)
    base = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    base(windows)
    model(windows)
    model.set_weights(base.get_weights())
    np.testing.assert_allclose(to_numpy(model(windows)), 3.0 * to_numpy(base(windows)), rtol=1e-5)
    path = tmp_path / "sub.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ScaledAutoencoder) and loaded.output_scale == 3.0
    np.testing.assert_allclose(to_numpy(loaded(windows)), to_numpy(model(windows)), atol=1e-6)


def test_short_fit_lowers_the_loss(rng):
    t = np.linspace(0, 8 * np.pi, 400)
    series = np.sin(t).astype("float32")
    windows = np.lib.stride_tricks.sliding_window_view(series, 16)[::4, :, None].copy()
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=16, activation="linear")
    assert_fit_lowers_loss(model, windows, windows, epochs=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"latent_dim": -3}, ValueError, "latent_dim"),
        ({"latent_dim": 2.5}, TypeError, "latent_dim"),
        ({"latent_dim": True}, TypeError, "latent_dim"),
        ({"lstm_units": 0}, ValueError, "lstm_units"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_repeats": -1}, ValueError, "n_repeats"),
        ({"num_encoder_layers": 0}, ValueError, "num_encoder_layers"),
        ({"num_decoder_layers": "2"}, TypeError, "num_decoder_layers"),
        ({"dropout_rate": 1.5}, ValueError, "dropout_rate"),
        ({"dropout_rate": -0.1}, ValueError, "dropout_rate"),
        ({"recurrent_dropout_rate": float("nan")}, ValueError, "recurrent_dropout_rate"),
        ({"activation": "no-such-activation"}, ValueError, "activation"),
        ({"intermediate_activation": "nope"}, ValueError, "intermediate_activation"),
        ({"use_bidirectional_encoder": "yes"}, TypeError, "use_bidirectional_encoder"),
        ({"use_bottleneck_dense": 1}, TypeError, "use_bottleneck_dense"),
        ({"latent_dim": 5, "use_bidirectional_encoder": True}, ValueError, "even"),
    ],
)
def test_invalid_hyper_parameters_raise_at_construction(kwargs, error, match):
    params = {"latent_dim": 4, "lstm_units": 8, **kwargs}
    with pytest.raises(error, match=match):
        LSTMAutoencoderAnomaly(**params)


@pytest.mark.parametrize("shape", [(4, 3), (2, 4, 5, 3), (10,)])
def test_non_3d_input_raises(shape):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    with pytest.raises(ValueError, match=r"3D input.*\(batch, steps, features\)"):
        model(np.zeros(shape, "float32"))


def test_feature_mismatch_names_both_counts(windows):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8, n_features=2)
    with pytest.raises(ValueError, match=r"3 features but n_features = 2"):
        model(windows)
    inferred = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    inferred(windows)
    with pytest.raises(ValueError, match=r"5 features but the model was built with = 3"):
        inferred(np.zeros((2, 12, 5), "float32"))


def test_float64_inputs_give_float32_outputs(windows):
    model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=8)
    out = to_numpy(model(windows.astype("float64")))
    assert out.dtype == np.float32
