"""1D convolutional autoencoder for reconstruction-based anomaly detection."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from ..._validation import check_positive_int, check_rate
from .._checks import check_activation, check_window_shape

__all__ = ["ConvAutoencoderAnomaly"]


def _normalise_filters(filters):
    if isinstance(filters, numbers.Integral) and not isinstance(filters, bool):
        values = [filters]
    elif isinstance(filters, (list, tuple)) and filters:
        values = list(filters)
    else:
        raise TypeError(
            "`filters` must be a positive integer or a non-empty list of positive "
            f"integers; received {filters!r}."
        )
    return [check_positive_int(v, f"filters[{i}]") for i, v in enumerate(values)]


@keras.saving.register_keras_serializable(package="fusionlab")
class ConvAutoencoderAnomaly(keras.Model):
    """1D convolutional autoencoder whose reconstruction error is an anomaly score.

    Much faster than a recurrent autoencoder on CPU (every step of a window
    is processed in parallel), it suits long windows and high throughput.

    Architecture, for an input of shape ``(batch, steps, features)``:

    1. **Encoder** -- one ``Conv1D`` per entry of ``filters`` with stride 2
       and ``'same'`` padding, so every level halves the number of steps
       (rounding up).
    2. **Bottleneck** -- a ``Conv1D`` of kernel 1 with ``latent_channels``
       channels: the code has ``ceil(steps / 2**len(filters))`` steps of
       ``latent_channels`` values.
    3. **Decoder** -- one ``Conv1DTranspose`` of stride 2 per level (filters
       in reverse order), doubling the number of steps each time; the result
       is cropped back to ``steps`` (it can be a few steps longer when
       ``steps`` is not a multiple of ``2**len(filters)``).
    4. **Output** -- a ``Conv1D`` of kernel 1 with ``n_features`` channels and
       ``activation``.

    Parameters
    ----------
    filters : int or list of int, default=(32, 16)
        Channels of the encoder levels (the decoder mirrors them).
    kernel_size : int, default=5
        Kernel size of the encoder and decoder convolutions.
    latent_channels : int, default=8
        Channels of the bottleneck.
    n_features : int, optional
        Number of features of input and output; ``None`` infers it at build.
    activation : str, default='linear'
        Activation of the output layer (``'linear'`` for standardised data).
    hidden_activation : str, default='relu'
        Activation of the hidden convolutions.
    dropout_rate : float, default=0.0
        Dropout after each encoder level, in [0, 1].
    **kwargs
        Passed to :class:`keras.Model`.

    Raises
    ------
    TypeError, ValueError
        At construction for bad sizes, rates or activations; at call time for
        an input that is not 3D or whose features differ from ``n_features``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import ConvAutoencoderAnomaly
    >>> x = np.random.default_rng(0).normal(size=(4, 30, 2)).astype("float32")
    >>> model = ConvAutoencoderAnomaly(filters=(8, 4), latent_channels=2)
    >>> tuple(model(x).shape)
    (4, 30, 2)
    >>> tuple(model.compute_reconstruction_error(x).shape)
    (4,)
    """

    def __init__(
        self,
        filters=(32, 16),
        kernel_size=5,
        latent_channels=8,
        n_features=None,
        activation="linear",
        hidden_activation="relu",
        dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _normalise_filters(filters)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.latent_channels = check_positive_int(latent_channels, "latent_channels")
        self.n_features = check_positive_int(n_features, "n_features", allow_none=True)
        self.activation = check_activation(activation, "activation")
        self.hidden_activation = check_activation(hidden_activation, "hidden_activation")
        self.dropout_rate = check_rate(dropout_rate, "dropout_rate")

        self.encoder_layers = [
            keras.layers.Conv1D(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation=self.hidden_activation,
                name=f"encoder_conv_{i + 1}",
            )
            for i, f in enumerate(self.filters)
        ]
        self.dropout_layers = [
            keras.layers.Dropout(self.dropout_rate, name=f"encoder_dropout_{i + 1}")
            for i in range(len(self.filters))
        ]
        self.bottleneck = keras.layers.Conv1D(
            self.latent_channels, 1, activation=self.hidden_activation, name="bottleneck"
        )
        self.decoder_layers = [
            keras.layers.Conv1DTranspose(
                f,
                self.kernel_size,
                strides=2,
                padding="same",
                activation=self.hidden_activation,
                name=f"decoder_conv_{i + 1}",
            )
            for i, f in enumerate(reversed(self.filters))
        ]
        self.output_layer = None
        if self.n_features is not None:
            self.output_layer = self._make_output_layer(self.n_features)
        self._built_features = None

    def _make_output_layer(self, units):
        return keras.layers.Conv1D(units, 1, activation=self.activation, name="output_conv")

    def validate_input_shape(self, shape):
        """Check a ``(batch, steps, features)`` shape and return it.

        ``build``, ``call`` and ``compute_output_shape`` go through this
        method, so a subclass that accepts other inputs overrides it alone.
        """
        return check_window_shape(
            shape,
            type(self).__name__,
            n_features=self.n_features,
            built_features=self._built_features,
        )

    def build(self, input_shape):
        shape = self.validate_input_shape(input_shape)
        self._built_features = shape[-1]
        for layer in self.encoder_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.bottleneck.build(shape)
        shape = self.bottleneck.compute_output_shape(shape)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if self.output_layer is None:
            self.output_layer = self._make_output_layer(self._built_features)
        self.output_layer.build(shape)
        self.built = True

    def _prepare(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        self.validate_input_shape(inputs.shape)
        return ops.cast(inputs, self.compute_dtype)

    def call(self, inputs, training=False):
        inputs = self._prepare(inputs)
        x = inputs
        for conv, dropout in zip(self.encoder_layers, self.dropout_layers, strict=True):
            x = dropout(conv(x), training=training)
        x = self.bottleneck(x)
        for layer in self.decoder_layers:
            x = layer(x)
        # Transposed convolutions give ceil(steps / 2**k) * 2**k steps:
        # crop the surplus so the output aligns step by step with the input.
        x = x[:, : ops.shape(inputs)[1], :]
        return self.output_layer(x)

    def compute_output_shape(self, input_shape):
        batch, steps, features = self.validate_input_shape(input_shape)
        out = self.n_features if self.n_features is not None else features
        return (batch, steps, out)

    def compute_reconstruction_error(self, inputs, reconstructions=None):
        """Mean squared reconstruction error of each window, shape ``(batch,)``.

        Parameters
        ----------
        inputs : array-like of shape (batch, steps, features)
        reconstructions : array-like, optional
            Precomputed ``model(inputs)``; computed when omitted.
        """
        inputs = self._prepare(inputs)
        if reconstructions is None:
            reconstructions = self(inputs, training=False)
        reconstructions = ops.cast(ops.convert_to_tensor(reconstructions), inputs.dtype)
        if tuple(reconstructions.shape) != tuple(inputs.shape):
            raise ValueError(
                "`reconstructions` must have the shape of `inputs`; received "
                f"{tuple(reconstructions.shape)} and {tuple(inputs.shape)}."
            )
        return ops.mean(ops.square(inputs - reconstructions), axis=(1, 2))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": list(self.filters),
                "kernel_size": self.kernel_size,
                "latent_channels": self.latent_channels,
                "n_features": self.n_features,
                "activation": self.activation,
                "hidden_activation": self.hidden_activation,
                "dropout_rate": self.dropout_rate,
            }
        )
        return config
