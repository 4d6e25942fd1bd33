"""Dense Keras autoencoder for encoded tabular rows."""

from __future__ import annotations

import keras
from keras import ops

from .._validation import check_positive_int, check_rate

__all__ = ["TabularAutoencoder"]


@keras.saving.register_keras_serializable(package="fusionlab")
class TabularAutoencoder(keras.Model):
    """Symmetric dense autoencoder ``n -> hidden -> code -> hidden[::-1] -> n``.

    With ``hidden_units=(64, 32)`` and ``encoding_dim=8`` the layers are
    ``n -> 64 -> 32 -> 8 -> 32 -> 64 -> n``. Hidden layers use
    ``activation``; the code and the output layers are linear, because the
    inputs (robust-scaled numbers and one-hot columns) are unbounded reals.

    Parameters
    ----------
    n_features : int
        Width of the encoded rows.
    encoding_dim : int, default=8
        Width of the bottleneck.
    hidden_units : sequence of int, default=(64, 32)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    activation : str, default="relu"
        Activation of the hidden layers (any Keras activation name).
    **kwargs
        Passed to :class:`keras.Model` (``name``, ``dtype``...).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.tabular import TabularAutoencoder
    >>> model = TabularAutoencoder(n_features=5, encoding_dim=2, hidden_units=(4,))
    >>> x = np.zeros((3, 5), dtype="float32")
    >>> tuple(model(x).shape)
    (3, 5)
    >>> tuple(model.reconstruction_errors(x).shape)
    (3, 5)
    """

    def __init__(self, n_features, encoding_dim=8, hidden_units=(64, 32),
                 activation="relu", input_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_features = check_positive_int(n_features, "n_features")
        self.encoding_dim = check_positive_int(encoding_dim, "encoding_dim")
        if isinstance(hidden_units, int | str) or hidden_units is None:
            raise TypeError(
                "`hidden_units` must be a sequence of positive integers such as "
                f"(64, 32); received {hidden_units!r}."
            )
        self.hidden_units = tuple(
            check_positive_int(u, f"hidden_units[{i}]") for i, u in enumerate(hidden_units)
        )
        self.activation = activation
        keras.activations.get(activation)  # fails at once on an unknown name
        self.input_dropout = check_rate(input_dropout, "input_dropout", include_high=False)
        self.dropout = keras.layers.Dropout(self.input_dropout, name="input_dropout")
        self.encoder_layers = [
            keras.layers.Dense(u, activation=activation, name=f"encoder_{i}")
            for i, u in enumerate(self.hidden_units)
        ] + [keras.layers.Dense(self.encoding_dim, name="code")]
        self.decoder_layers = [
            keras.layers.Dense(u, activation=activation, name=f"decoder_{i}")
            for i, u in enumerate(reversed(self.hidden_units))
        ] + [keras.layers.Dense(self.n_features, name="reconstruction")]

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.n_features:
            raise ValueError(
                f"TabularAutoencoder expects inputs with n_features={self.n_features} "
                f"columns; received shape {tuple(input_shape)}."
            )
        shape = tuple(input_shape)
        for layer in self.encoder_layers + self.decoder_layers:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.built = True

    def encode(self, inputs):
        """Return the bottleneck codes of ``inputs``."""
        x = inputs
        for layer in self.encoder_layers:
            x = layer(x)
        return x

    def call(self, inputs, training=None):
        # Dropping inputs while training makes the model rebuild each value
        # from the other columns instead of copying it through.
        x = self.encode(self.dropout(inputs, training=training))
        for layer in self.decoder_layers:
            x = layer(x)
        return x

    def reconstruction_errors(self, inputs):
        """Return the per-feature squared reconstruction errors of ``inputs``."""
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        return ops.square(inputs - self(inputs))

    def get_config(self):
        config = super().get_config()
        config.update({
            "n_features": self.n_features,
            "encoding_dim": self.encoding_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "input_dropout": self.input_dropout,
        })
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
