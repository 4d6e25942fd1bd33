"""Checks that every public fusionlab Keras layer or model must pass.

Each helper takes a *factory* (a zero-argument callable returning a fresh,
unbuilt layer) and example inputs, and asserts one property. Component test
modules call them instead of re-writing the same round-trip code.
"""

from __future__ import annotations

import inspect
import os

import keras
import numpy as np


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_config_round_trip(factory, inputs, *, atol=1e-6):
    """``from_config(get_config())`` rebuilds an equivalent layer.

    The clone gets the original's weights; both must give the same outputs in
    inference mode, and the clone's config must equal the original's.
    """
    layer = factory()
    expected = to_numpy(layer(inputs, training=False))
    config = layer.get_config()
    # Every constructor argument is in the config (a missing one would come
    # back at its default, which a comparison of two configs cannot see).
    arguments = [
        name for name, p in inspect.signature(type(layer).__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    missing = [name for name in arguments if name not in config]
    assert not missing, f"{type(layer).__name__}.get_config() lacks {missing}"
    clone = type(layer).from_config(config)
    clone(inputs, training=False)  # build
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(clone(inputs, training=False)), expected, atol=atol)
    assert clone.get_config() == config
    # Generic Keras (de)serialisation goes through the registered name.
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("fusionlab>")
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer)
    return clone


def _as_model(layer, inputs):
    if isinstance(layer, keras.Model):
        return layer
    if isinstance(inputs, (list, tuple)):
        symbolic = [keras.Input(shape=np.shape(x)[1:]) for x in inputs]
    else:
        symbolic = keras.Input(shape=np.shape(inputs)[1:])
    return keras.Model(symbolic, layer(symbolic))


def assert_saved_model_round_trip(factory, inputs, tmp_path, *, atol=1e-6):
    """A model holding the layer saves to ``.keras`` and loads back identical."""
    layer = factory()
    model = _as_model(layer, inputs)
    expected = to_numpy(model(inputs, training=False))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(inputs, training=False)), expected, atol=atol)
    return loaded


def assert_functional_api(factory, inputs):
    """The layer works on symbolic inputs inside a Functional model."""
    layer = factory()
    if isinstance(inputs, (list, tuple)):
        symbolic = [keras.Input(shape=np.shape(x)[1:]) for x in inputs]
    else:
        symbolic = keras.Input(shape=np.shape(inputs)[1:])
    outputs = layer(symbolic)
    model = keras.Model(symbolic, outputs)
    eager = to_numpy(model(inputs, training=False))
    assert eager.dtype == np.float32
    assert eager.shape[0] == np.shape(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)[0]
    return model


def assert_fit_lowers_loss(model, x, y, *, epochs=5, batch_size=16, loss="mse"):
    """A short fit lowers the training loss."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    return history
