"""Liquid (CfC / LTC) autoencoder for irregularly sampled sequences."""

from __future__ import annotations

import keras
from keras import ops

from ..._validation import (
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_rate,
)
from .._checks import check_activation
from ..liquid.cells import _resolve_activation
from ..liquid.layers import LTC, CfC
from ..liquid.time_delta import prepare_time_delta
from .base import ReconstructionAutoencoder, weighted_reconstruction_error

# weighted_reconstruction_error lives in .base (every reconstruction model
# uses it) and is still importable from here.
__all__ = ["LiquidAutoencoderAnomaly", "weighted_reconstruction_error"]

_CELL_TYPES = ("cfc", "ltc")


@keras.saving.register_keras_serializable(package="fusionlab")
class LiquidAutoencoderAnomaly(ReconstructionAutoencoder):
    """Autoencoder of liquid (CfC or LTC) layers for irregular sequences.

    Closed-form continuous-time (CfC) and liquid time-constant (LTC) cells
    take the time elapsed before each step as an input, so the model knows
    whether two consecutive samples are 0.1 or 10 time units apart. Trained
    on normal sequences, it reconstructs them well and anomalous ones badly;
    :meth:`~ReconstructionAutoencoder.reconstruction_error` (older name:
    :meth:`compute_anomaly_score`) turns the reconstruction error into a
    score that also accounts for the sampling density. It has the contract
    of :class:`ReconstructionAutoencoder`, with ``takes_time_delta = True``.

    Architecture, for inputs ``x`` of shape ``(batch, steps, features)`` and
    elapsed times ``dt`` of shape ``(batch, steps, 1)``:

    1. **Encoder** -- ``num_layers`` stacked :class:`~fusionlab.nn.liquid.CfC`
       (``cell_type='cfc'``) or :class:`~fusionlab.nn.liquid.LTC` layers of
       ``hidden_size`` units, each returning its sequence and reading ``dt``.
    2. **Bridge** -- with ``latent_dim=None`` (default) the encoder's whole
       sequence goes on to the decoder, as in the usual sequence-to-sequence
       liquid autoencoder; the model is then limited only by ``hidden_size``.
       With ``latent_dim`` set, the encoder's output at the last step is
       projected to ``latent_dim`` values, the only thing the decoder sees
       (repeated at every step): a true bottleneck.
    3. **Decoder** -- ``num_layers`` layers of the same kind and size, also
       reading ``dt``, so the reconstruction follows the actual timing.
    4. **Output** -- a dense layer of ``n_features`` units with
       ``output_activation`` at every step.

    Parameters
    ----------
    hidden_size : int
        Units of every liquid layer.
    n_features : int, optional
        Features of the input and the reconstruction; None infers them from
        the first input.
    cell_type : {'cfc', 'ltc'}, default='cfc'
        Kind of liquid layer.
    num_layers : int, default=2
        Liquid layers in the encoder, and again in the decoder.
    backbone_units, backbone_layers : int, default=64, 2
        Backbone of the CfC cells (ignored by LTC).
    backbone_activation : str, default='lecun_tanh'
        CfC backbone activation.
    backbone_dropout : float in [0, 1), default=0.0
        CfC backbone dropout.
    ode_unfolds : int, default=6
        Solver steps per input step of the LTC cells (ignored by CfC).
    latent_dim : int, optional
        Size of the bottleneck; None for none (see above).
    output_activation : str, default='linear'
        Activation of the output layer (``'linear'`` for standardised data).
    **kwargs
        Passed to :class:`keras.Model`.

    Notes
    -----
    ``call(inputs, time_delta=None, training=False)``: ``inputs`` is the
    array ``x``, or a pair ``[x, time_delta]`` (convenient for ``fit`` and
    Functional models); ``time_delta`` has shape ``(batch, steps, 1)`` or
    ``(batch, steps)``; None means regular sampling (a delta of 1 at each
    step). Deltas are in the unit the model was trained with; scaling them
    so that the typical spacing is 1 keeps the cells' time constants in
    their initial range.

    The shape of ``time_delta`` (rank, steps, batch) is checked on every
    call. Its values (negative, NaN or infinite) are checked whenever they
    can be read: numpy arrays and eager tensors passed to ``__call__``,
    :meth:`~ReconstructionAutoencoder.reconstruction_error`,
    :meth:`compute_anomaly_score`, ``fit``, ``evaluate`` and ``predict``
    (which check numpy data before Keras compiles the step). Symbolic
    tensors -- a ``keras.Input``, a ``tf.data`` pipeline, a traced JAX
    function -- cannot be read: there a negative delta is not caught, CfC
    then extrapolates its time gate and LTC's solver loses its bounds, so
    check such data with :func:`fusionlab.nn.liquid.check_time_delta`
    before it enters the graph.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import LiquidAutoencoderAnomaly
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4, 10, 3)).astype("float32")
    >>> dt = rng.uniform(0.5, 1.5, size=(4, 10, 1)).astype("float32")
    >>> model = LiquidAutoencoderAnomaly(hidden_size=8, backbone_units=16)
    >>> tuple(model(x, time_delta=dt).shape), tuple(model(x).shape)
    ((4, 10, 3), (4, 10, 3))
    >>> model.compute_anomaly_score(x, time_delta=dt).shape
    (4,)
    >>> model.compute_anomaly_score(x, time_delta=dt, reduction=None).shape
    (4, 10)
    >>> bool((model.reconstruction_error(x, dt) == model.compute_anomaly_score(x, dt)).all())
    True

    References
    ----------
    Hasani, R. et al. (2022). Closed-form continuous-time neural networks.
    Nature Machine Intelligence 4, 992-1003.

    Hasani, R. et al. (2021). Liquid time-constant networks. AAAI 35(9),
    7657-7666.
    """

    takes_time_delta = True
    _output_attribute = "output_dense"

    def __init__(self, hidden_size, n_features=None, cell_type="cfc", num_layers=2,
                 backbone_units=64, backbone_layers=2, backbone_activation="lecun_tanh",
                 backbone_dropout=0.0, ode_unfolds=6, latent_dim=None,
                 output_activation="linear", **kwargs):
        super().__init__(n_features=n_features, **kwargs)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.cell_type = check_option(cell_type, "cell_type", _CELL_TYPES)
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", allow_none=True)
        self.output_activation = check_activation(output_activation, "output_activation")
        self.backbone_units = check_positive_int(backbone_units, "backbone_units")
        self.backbone_layers = check_non_negative_int(backbone_layers, "backbone_layers")
        _resolve_activation(backbone_activation, "backbone_activation")
        self.backbone_activation = backbone_activation
        self.backbone_dropout = check_rate(
            backbone_dropout, "backbone_dropout", include_high=False
        )
        self.ode_unfolds = check_positive_int(ode_unfolds, "ode_unfolds")
        self.encoder_layers = [self._make_layer(f"encoder_{i + 1}") for i in range(self.num_layers)]
        self.decoder_layers = [self._make_layer(f"decoder_{i + 1}") for i in range(self.num_layers)]
        self.bottleneck = None
        if self.latent_dim is not None:
            self.bottleneck = keras.layers.Dense(self.latent_dim, name="bottleneck")
        self._ensure_output_layer(self.n_features)

    def _make_layer(self, name):
        if self.cell_type == "cfc":
            return CfC(
                self.hidden_size,
                backbone_units=self.backbone_units,
                backbone_layers=self.backbone_layers,
                backbone_activation=self.backbone_activation,
                backbone_dropout=self.backbone_dropout,
                name=name,
            )
        return LTC(self.hidden_size, ode_unfolds=self.ode_unfolds, name=name)

    def make_output_layer(self, units):
        return keras.layers.Dense(units, activation=self.output_activation, name="output_dense")

    # ------------------------------------------------------------------- build
    def build_layers(self, input_shape):
        batch, steps, _ = input_shape
        shape = input_shape
        for layer in self.encoder_layers:
            layer.build(shape)
            shape = (batch, steps, self.hidden_size)
        if self.bottleneck is not None:
            self.bottleneck.build((batch, self.hidden_size))
            shape = (batch, steps, self.latent_dim)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = (batch, steps, self.hidden_size)
        return shape

    # -------------------------------------------------------------------- call
    def call(self, inputs, time_delta=None, training=False):
        x, time_delta = self.split_inputs(inputs, time_delta)
        x = self._prepare(x)
        delta = prepare_time_delta(time_delta, x, x.dtype)
        hidden = x
        for layer in self.encoder_layers:
            hidden = layer(hidden, time_delta=delta, training=training)
        if self.bottleneck is not None:
            code = self.bottleneck(hidden[:, -1, :])
            # Broadcasting against the input keeps this valid when the number
            # of steps is only known at run time.
            hidden = ops.expand_dims(code, 1) * ops.ones_like(x[:, :, :1])
        for layer in self.decoder_layers:
            hidden = layer(hidden, time_delta=delta, training=training)
        return self.output_dense(hidden)

    def compute_output_shape(self, inputs_shape, time_delta_shape=None):
        # Two arguments: Keras matches their names to those of call().
        return super().compute_output_shape(inputs_shape)

    # ------------------------------------------------------------------ scores
    def compute_anomaly_score(self, x, time_delta=None, reduction="mean",
                              weighting="inverse_delta", eps=1e-3, batch_size=256,
                              reconstructions=None):
        """Older name of :meth:`~ReconstructionAutoencoder.reconstruction_error`.

        Same arguments (positional in this order), same numbers, same
        return: a ``numpy.ndarray`` of shape ``(batch,)``, or
        ``(batch, steps)`` with ``reduction=None``. See
        :func:`weighted_reconstruction_error` for the density weighting.
        """
        return self.reconstruction_error(
            x, time_delta, reconstructions=reconstructions, reduction=reduction,
            weighting=weighting, eps=eps, batch_size=batch_size,
        )

    # ------------------------------------------------------------ serialising
    def get_config(self):
        config = super().get_config()
        config.update({
            "hidden_size": self.hidden_size,
            "cell_type": self.cell_type,
            "num_layers": self.num_layers,
            "backbone_units": self.backbone_units,
            "backbone_layers": self.backbone_layers,
            "backbone_activation": self.backbone_activation,
            "backbone_dropout": self.backbone_dropout,
            "ode_unfolds": self.ode_unfolds,
            "latent_dim": self.latent_dim,
            "output_activation": self.output_activation,
        })
        return config
