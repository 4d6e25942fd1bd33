"""LSTM autoencoder for reconstruction-based anomaly detection."""

from __future__ import annotations

import warnings

import keras
from keras import ops

from ..._validation import check_positive_int, check_rate
from .._checks import check_activation, check_bool, is_empty_batch
from .base import ReconstructionAutoencoder

__all__ = ["LSTMAutoencoderAnomaly"]


@keras.saving.register_keras_serializable(package="fusionlab")
class LSTMAutoencoderAnomaly(ReconstructionAutoencoder):
    """LSTM autoencoder whose reconstruction error is an anomaly score.

    The model compresses each input window into a latent code of exactly
    ``latent_dim`` values and reconstructs the window from that code alone.
    Trained on normal data, it reconstructs normal windows well and anomalous
    ones badly, so the reconstruction error
    (:meth:`~ReconstructionAutoencoder.reconstruction_error`, or
    :meth:`~ReconstructionAutoencoder.compute_reconstruction_error` for a
    backend tensor) ranks windows by how anomalous they are (Malhotra et
    al., 2016). The contract it shares with the other autoencoders is that of
    :class:`ReconstructionAutoencoder`; it takes no time deltas.

    Architecture, for an input of shape ``(batch, steps, features)``:

    1. **Encoder** -- ``num_encoder_layers`` stacked LSTMs (each wrapped in
       :class:`keras.layers.Bidirectional` when ``use_bidirectional_encoder``);
       the last one returns its final hidden and cell states ``(h, c)``.
    2. **Latent code** -- ``(z_h, z_c)``, each of size ``latent_dim``:

       * ``use_bottleneck_dense=False`` (default): the last encoder LSTM has
         ``latent_dim`` units, so its final states *are* the latent code
         (bidirectional: ``latent_dim // 2`` units per direction, forward and
         backward states concatenated; ``latent_dim`` must then be even).
       * ``use_bottleneck_dense=True``: every encoder LSTM has ``lstm_units``
         units and two dense layers of ``latent_dim`` units with
         ``intermediate_activation`` project ``h`` and ``c`` to the code.

       Either way nothing but ``(z_h, z_c)`` reaches the decoder, so
       ``latent_dim`` is the true size of the compressed representation.
       :meth:`encode` returns ``z_h``.
    3. **Decoder** -- ``z_h`` repeated ``n_repeats`` times (default: the
       input's number of steps) feeds ``num_decoder_layers`` stacked LSTMs of
       ``lstm_units`` units; the first starts from ``(z_h, z_c)``, linearly
       projected to ``lstm_units`` when ``latent_dim != lstm_units``.
    4. **Output** -- a dense layer of ``n_features`` units (default: the
       input's features) with ``activation``, applied at every step.

    Parameters
    ----------
    latent_dim : int
        Size of the compressed representation (see above). Must be >= 1.
    lstm_units : int
        Units of the encoder LSTMs before the last one (all of them with
        ``use_bottleneck_dense=True``) and of every decoder LSTM.
    n_features : int, optional
        Number of features of the input and of the reconstruction. ``None``
        infers it from the first input; given, an input with another number
        of features raises ``ValueError``.
    n_repeats : int, optional
        Number of steps of the reconstruction. ``None`` (default) uses the
        input's number of steps.
    num_encoder_layers, num_decoder_layers : int, default=1
        Depth of the encoder and decoder LSTM stacks.
    activation : str, default='tanh'
        Activation of the output layer. Use ``'linear'`` for standardised data,
        ``'tanh'`` for data scaled to [-1, 1], ``'sigmoid'`` for [0, 1].
    intermediate_activation : str, default='relu'
        Activation of the bottleneck dense layers (only with
        ``use_bottleneck_dense=True``).
    dropout_rate, recurrent_dropout_rate : float, default=0.0
        Input and recurrent dropout of every LSTM, in [0, 1].
    use_bidirectional_encoder : bool, default=False
        Run the encoder LSTMs in both directions.
    use_bottleneck_dense : bool, default=False
        Build the latent code with dense layers instead of sizing the last
        encoder LSTM (see above).
    **kwargs
        Passed to :class:`keras.Model` (``name``, ``dtype``...).

    Attributes
    ----------
    encoder_layers : list of keras.layers.Layer
        The encoder LSTMs (or their ``Bidirectional`` wrappers).
    decoder_layers : list of keras.layers.LSTM
        The decoder LSTMs.
    decoder_dense : keras.layers.Dense or None
        The output layer (created at build time when ``n_features`` is None).

    Raises
    ------
    TypeError, ValueError
        At construction, for non-positive or non-integer sizes, rates outside
        [0, 1], unknown activations, non-boolean flags, or an odd
        ``latent_dim`` with a bidirectional encoder and no bottleneck; at call
        time, for an input that is not 3D or whose number of features differs
        from ``n_features``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly
    >>> x = np.random.default_rng(0).normal(size=(8, 20, 3)).astype("float32")
    >>> model = LSTMAutoencoderAnomaly(latent_dim=4, lstm_units=16)
    >>> tuple(model(x).shape)
    (8, 20, 3)
    >>> tuple(model.encode(x).shape)
    (8, 4)
    >>> tuple(model.compute_reconstruction_error(x).shape)
    (8,)

    References
    ----------
    Malhotra, P., Ramakrishnan, A., Anand, G., Vig, L., Agarwal, P. and
    Shroff, G. (2016). LSTM-based encoder-decoder for multi-sensor anomaly
    detection. ICML Anomaly Detection Workshop, arXiv:1607.00148.
    """

    _output_attribute = "decoder_dense"

    def __init__(
        self,
        latent_dim,
        lstm_units,
        n_features=None,
        n_repeats=None,
        num_encoder_layers=1,
        num_decoder_layers=1,
        activation="tanh",
        intermediate_activation="relu",
        dropout_rate=0.0,
        recurrent_dropout_rate=0.0,
        use_bidirectional_encoder=False,
        use_bottleneck_dense=False,
        **kwargs,
    ):
        super().__init__(n_features=n_features, **kwargs)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.lstm_units = check_positive_int(lstm_units, "lstm_units")
        self.n_repeats = check_positive_int(n_repeats, "n_repeats", allow_none=True)
        self.num_encoder_layers = check_positive_int(
            num_encoder_layers, "num_encoder_layers"
        )
        self.num_decoder_layers = check_positive_int(
            num_decoder_layers, "num_decoder_layers"
        )
        self.activation = check_activation(activation, "activation")
        self.intermediate_activation = check_activation(
            intermediate_activation, "intermediate_activation"
        )
        self.dropout_rate = check_rate(dropout_rate, "dropout_rate")
        self.recurrent_dropout_rate = check_rate(
            recurrent_dropout_rate, "recurrent_dropout_rate"
        )
        self.use_bidirectional_encoder = check_bool(
            use_bidirectional_encoder, "use_bidirectional_encoder"
        )
        self.use_bottleneck_dense = check_bool(
            use_bottleneck_dense, "use_bottleneck_dense"
        )
        if (
            self.use_bidirectional_encoder
            and not self.use_bottleneck_dense
            and self.latent_dim % 2
        ):
            raise ValueError(
                "`latent_dim` must be even when use_bidirectional_encoder=True "
                "and use_bottleneck_dense=False (each direction holds "
                f"latent_dim // 2 units); received latent_dim={self.latent_dim}. "
                "Use an even latent_dim or set use_bottleneck_dense=True."
            )

        self.encoder_layers = []
        for index in range(self.num_encoder_layers):
            is_last = index == self.num_encoder_layers - 1
            units = self.lstm_units
            if is_last and not self.use_bottleneck_dense:
                units = self.latent_dim
                if self.use_bidirectional_encoder:
                    units = self.latent_dim // 2
            lstm = keras.layers.LSTM(
                units,
                return_sequences=not is_last,
                return_state=is_last,
                dropout=self.dropout_rate,
                recurrent_dropout=self.recurrent_dropout_rate,
                name=f"encoder_lstm_{index + 1}",
            )
            if self.use_bidirectional_encoder:
                lstm = keras.layers.Bidirectional(
                    lstm, name=f"bi_encoder_lstm_{index + 1}"
                )
            self.encoder_layers.append(lstm)

        self.bottleneck_dense_h = None
        self.bottleneck_dense_c = None
        if self.use_bottleneck_dense:
            self.bottleneck_dense_h = keras.layers.Dense(
                self.latent_dim,
                activation=self.intermediate_activation,
                name="bottleneck_h",
            )
            self.bottleneck_dense_c = keras.layers.Dense(
                self.latent_dim,
                activation=self.intermediate_activation,
                name="bottleneck_c",
            )

        # The decoder starts from the latent state; a linear map adapts its
        # size when the code and the decoder LSTM differ in width.
        self.state_projection_h = None
        self.state_projection_c = None
        if self.latent_dim != self.lstm_units:
            self.state_projection_h = keras.layers.Dense(
                self.lstm_units, name="decoder_state_projection_h"
            )
            self.state_projection_c = keras.layers.Dense(
                self.lstm_units, name="decoder_state_projection_c"
            )

        self.decoder_layers = [
            keras.layers.LSTM(
                self.lstm_units,
                return_sequences=True,
                dropout=self.dropout_rate,
                recurrent_dropout=self.recurrent_dropout_rate,
                name=f"decoder_lstm_{index + 1}",
            )
            for index in range(self.num_decoder_layers)
        ]

        self._ensure_output_layer(self.n_features)

    def make_output_layer(self, units):
        return keras.layers.Dense(units, activation=self.activation, name="decoder_dense")

    # ------------------------------------------------------------------- build
    def build_layers(self, input_shape):
        batch, steps, _ = input_shape
        shape = input_shape
        for index, layer in enumerate(self.encoder_layers):
            layer.build(shape)
            units = layer.forward_layer.units if self.use_bidirectional_encoder else layer.units
            width = 2 * units if self.use_bidirectional_encoder else units
            is_last = index == self.num_encoder_layers - 1
            shape = (batch, width) if is_last else (batch, steps, width)
        if self.use_bottleneck_dense:
            self.bottleneck_dense_h.build(shape)
            self.bottleneck_dense_c.build(shape)
        latent_shape = (batch, self.latent_dim)
        if self.state_projection_h is not None:
            self.state_projection_h.build(latent_shape)
            self.state_projection_c.build(latent_shape)
        repeats = self.n_repeats if self.n_repeats is not None else steps
        decoder_shape = (batch, repeats, self.latent_dim)
        for layer in self.decoder_layers:
            layer.build(decoder_shape)
            decoder_shape = (batch, repeats, self.lstm_units)
        return decoder_shape

    # -------------------------------------------------------------------- call
    def _encode_states(self, inputs, training):
        encoded = inputs
        states = None
        for index, layer in enumerate(self.encoder_layers):
            if index < self.num_encoder_layers - 1:
                encoded = layer(encoded, training=training)
                continue
            outputs = layer(encoded, training=training)
            if self.use_bidirectional_encoder:
                _, forward_h, forward_c, backward_h, backward_c = outputs
                states = (
                    ops.concatenate([forward_h, backward_h], axis=-1),
                    ops.concatenate([forward_c, backward_c], axis=-1),
                )
            else:
                _, state_h, state_c = outputs
                states = (state_h, state_c)
        latent_h, latent_c = states
        if self.use_bottleneck_dense:
            latent_h = self.bottleneck_dense_h(latent_h)
            latent_c = self.bottleneck_dense_c(latent_c)
        return latent_h, latent_c

    def encode(self, inputs, training=False):
        """Return the latent code ``z_h`` of each window.

        Parameters
        ----------
        inputs : array-like of shape (batch, steps, features)

        Returns
        -------
        Tensor of shape (batch, latent_dim)
        """
        inputs = self._prepare(inputs)
        if not self.built:
            self.build((None, *inputs.shape[1:]))
        if is_empty_batch(inputs.shape):
            # The LSTM kernels fail on 0 windows: encode one and keep none.
            one = ops.zeros((1, *inputs.shape[1:]), dtype=inputs.dtype)
            return self._encode_states(one, training)[0][:0]
        latent_h, _ = self._encode_states(inputs, training)
        return latent_h

    def call(self, inputs, training=False):
        inputs = self._prepare(inputs)
        latent_h, latent_c = self._encode_states(inputs, training)

        if self.n_repeats is not None:
            repeated = ops.repeat(ops.expand_dims(latent_h, 1), self.n_repeats, axis=1)
        else:
            # Broadcasting against the input keeps this valid when the number
            # of steps is only known at run time.
            repeated = ops.expand_dims(latent_h, 1) * ops.ones_like(inputs[:, :, :1])

        state_h, state_c = latent_h, latent_c
        if self.state_projection_h is not None:
            state_h = self.state_projection_h(latent_h)
            state_c = self.state_projection_c(latent_c)

        decoded = repeated
        for index, layer in enumerate(self.decoder_layers):
            if index == 0:
                decoded = layer(decoded, initial_state=[state_h, state_c], training=training)
            else:
                decoded = layer(decoded, training=training)
        return self.decoder_dense(decoded)

    def compute_output_shape(self, input_shape):
        batch, steps, features = super().compute_output_shape(input_shape)
        return (batch, self.n_repeats if self.n_repeats is not None else steps, features)

    def _align_steps(self, inputs, reconstructions):
        # n_repeats may give the reconstruction another number of steps:
        # compare the steps both have, and say so.
        input_steps, recon_steps = inputs.shape[1], reconstructions.shape[1]
        overlap = min(input_steps, recon_steps)
        warnings.warn(
            f"Input has {input_steps} steps but the reconstruction has "
            f"{recon_steps} (n_repeats={self.n_repeats}); the error is "
            f"computed over the first {overlap} steps.",
            UserWarning,
            stacklevel=4,
        )
        return inputs[:, :overlap, :], reconstructions[:, :overlap, :]

    # ------------------------------------------------------------ serialising
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "lstm_units": self.lstm_units,
                "n_repeats": self.n_repeats,
                "num_encoder_layers": self.num_encoder_layers,
                "num_decoder_layers": self.num_decoder_layers,
                "activation": self.activation,
                "intermediate_activation": self.intermediate_activation,
                "dropout_rate": self.dropout_rate,
                "recurrent_dropout_rate": self.recurrent_dropout_rate,
                "use_bidirectional_encoder": self.use_bidirectional_encoder,
                "use_bottleneck_dense": self.use_bottleneck_dense,
            }
        )
        return config
