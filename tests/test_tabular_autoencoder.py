"""TabularAutoencoder: shapes, config round trip, .keras save/load, Functional API."""

import keras
import numpy as np
import pytest

from fusionlab.tabular import TabularAutoencoder


def test_shapes_and_layers():
    model = TabularAutoencoder(n_features=7, encoding_dim=3, hidden_units=(6, 5))
    x = np.random.default_rng(0).normal(size=(4, 7)).astype("float32")
    assert tuple(model(x).shape) == (4, 7)
    assert tuple(model.encode(x).shape) == (4, 3)
    widths = [layer.units for layer in model.encoder_layers + model.decoder_layers]
    assert widths == [6, 5, 3, 5, 6, 7]
    errors = keras.ops.convert_to_numpy(model.reconstruction_errors(x))
    np.testing.assert_allclose(errors, (x - keras.ops.convert_to_numpy(model(x))) ** 2,
                               rtol=1e-6)


def test_config_round_trip():
    model = TabularAutoencoder(n_features=4, encoding_dim=2, hidden_units=(3,),
                               activation="tanh", name="ae")
    config = model.get_config()
    assert config["hidden_units"] == [3] and config["activation"] == "tanh"
    clone = TabularAutoencoder.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(model)
    assert serialized["registered_name"] == "fusionlab>TabularAutoencoder"


def test_keras_file_round_trip(tmp_path):
    model = TabularAutoencoder(n_features=5, encoding_dim=2, hidden_units=(4,))
    x = np.random.default_rng(1).normal(size=(8, 5)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "ae.keras")
    loaded = keras.saving.load_model(tmp_path / "ae.keras")
    assert isinstance(loaded, TabularAutoencoder)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))


def test_functional_api():
    inputs = keras.Input(shape=(6,))
    outputs = TabularAutoencoder(n_features=6, encoding_dim=2, hidden_units=(4,))(inputs)
    model = keras.Model(inputs, outputs)
    assert tuple(model.output.shape) == (None, 6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_features": 0}, ValueError, "n_features"),
    ({"n_features": 3, "encoding_dim": 1.5}, TypeError, "encoding_dim"),
    ({"n_features": 3, "hidden_units": 8}, TypeError, "hidden_units"),
    ({"n_features": 3, "activation": "nope"}, ValueError, "nope"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TabularAutoencoder(**kwargs)


def test_wrong_input_width():
    model = TabularAutoencoder(n_features=3, encoding_dim=1, hidden_units=(2,))
    with pytest.raises(ValueError, match="n_features=3"):
        model(np.zeros((2, 4), dtype="float32"))
