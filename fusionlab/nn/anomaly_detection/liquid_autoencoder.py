"""Liquid (CfC / LTC) autoencoder for irregularly sampled sequences."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..._validation import (
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_rate,
)
from .._checks import check_activation, check_window_shape
from ..liquid.cells import _resolve_activation
from ..liquid.layers import LTC, CfC
from ..liquid.time_delta import check_time_delta, prepare_time_delta

__all__ = ["LiquidAutoencoderAnomaly", "weighted_reconstruction_error"]

_CELL_TYPES = ("cfc", "ltc")
_REDUCTIONS = (None, "mean")
_WEIGHTINGS = (None, "inverse_delta")


def weighted_reconstruction_error(inputs, reconstructions, time_delta=None,
                                  reduction="mean", weighting="inverse_delta",
                                  eps=1e-3):
    """Per-step reconstruction error, weighted by the sampling density.

    The error of step ``t`` of a sequence is its squared error averaged over
    the features, ``e_t``. With ``weighting='inverse_delta'`` and time deltas
    given, it is multiplied by

    .. math::

        w_t = \\frac{1 / (\\Delta_t + \\varepsilon)}
                    {\\frac{1}{T} \\sum_s 1 / (\\Delta_s + \\varepsilon)}

    where ``Delta_t`` is the time elapsed before step ``t``. Why: after a
    long gap the next value is legitimately uncertain (the process had time
    to move), so a model cannot be blamed much for missing it; where samples
    are dense the next value is nearly determined by the previous ones and
    the model should be precise, so an error there is stronger evidence of an
    anomaly. The weights are normalised to a mean of 1 **within each
    sequence**, so that the weighting only redistributes the error between
    the steps of a sequence: a sequence's score stays on the scale of its
    plain mean squared error, and sequences with different overall sampling
    rates remain comparable. Equal deltas (regular sampling) give weights of
    exactly 1, i.e. the unweighted error.

    Parameters
    ----------
    inputs, reconstructions : array-like of shape (batch, steps, features)
    time_delta : array-like of shape (batch, steps, 1) or (batch, steps), optional
        Elapsed time before each step, >= 0. None: no weighting.
    reduction : {'mean', None}, default='mean'
        ``'mean'``: average the weighted errors over the steps, shape
        ``(batch,)``. ``None``: the weighted per-step errors ``w_t * e_t``,
        shape ``(batch, steps)`` (their mean over steps is the ``'mean'``
        score).
    weighting : {'inverse_delta', None}, default='inverse_delta'
        None: plain per-step errors, whatever ``time_delta``.
    eps : float, default=1e-3
        Added to the deltas, so that a delta of 0 (two samples at the same
        time) gets a large but finite weight. In units of the deltas. 0 is
        allowed only when every delta is positive (a zero delta then raises
        a ``ValueError`` instead of giving NaN scores).

    Returns
    -------
    Tensor of shape (batch,) or (batch, steps)

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import weighted_reconstruction_error
    >>> x = np.zeros((1, 2, 1), "float32")
    >>> recon = np.ones((1, 2, 1), "float32")   # error 1 at both steps
    >>> dt = np.array([[1.0, 3.0]], "float32")
    >>> np.round(np.asarray(weighted_reconstruction_error(
    ...     x, recon, dt, reduction=None, eps=0.0)), 3)
    array([[1.5, 0.5]], dtype=float32)
    """
    reduction = check_option(reduction, "reduction", _REDUCTIONS)
    weighting = check_option(weighting, "weighting", _WEIGHTINGS)
    eps = check_rate(eps, "eps", low=0.0, high=np.inf)
    inputs = ops.convert_to_tensor(inputs)
    reconstructions = ops.cast(ops.convert_to_tensor(reconstructions), inputs.dtype)
    if len(inputs.shape) != 3 or tuple(inputs.shape) != tuple(reconstructions.shape):
        raise ValueError(
            "`inputs` and `reconstructions` must both have shape (batch, "
            f"steps, features); received {tuple(inputs.shape)} and "
            f"{tuple(reconstructions.shape)}."
        )
    errors = ops.mean(ops.square(inputs - reconstructions), axis=-1)
    if weighting == "inverse_delta" and time_delta is not None:
        check_time_delta(time_delta, tuple(inputs.shape))
        delta = prepare_time_delta(time_delta, inputs, inputs.dtype)[:, :, 0]
        if eps == 0 and np.any(ops.convert_to_numpy(delta) == 0):
            raise ValueError(
                "`time_delta` holds a delta of 0, whose weight 1 / (delta + eps) is "
                "infinite with eps=0; give eps > 0 (default 1e-3)."
            )
        weights = 1.0 / (delta + eps)
        weights = weights / ops.mean(weights, axis=1, keepdims=True)
        errors = errors * weights
    if reduction == "mean":
        return ops.mean(errors, axis=1)
    return errors


@keras.saving.register_keras_serializable(package="fusionlab")
class LiquidAutoencoderAnomaly(keras.Model):
    """Autoencoder of liquid (CfC or LTC) layers for irregular sequences.

    Closed-form continuous-time (CfC) and liquid time-constant (LTC) cells
    take the time elapsed before each step as an input, so the model knows
    whether two consecutive samples are 0.1 or 10 time units apart. Trained
    on normal sequences, it reconstructs them well and anomalous ones badly;
    :meth:`compute_anomaly_score` turns the reconstruction error into a score
    that also accounts for the sampling density.

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

    References
    ----------
    Hasani, R. et al. (2022). Closed-form continuous-time neural networks.
    Nature Machine Intelligence 4, 992-1003.

    Hasani, R. et al. (2021). Liquid time-constant networks. AAAI 35(9),
    7657-7666.
    """

    def __init__(self, hidden_size, n_features=None, cell_type="cfc", num_layers=2,
                 backbone_units=64, backbone_layers=2, backbone_activation="lecun_tanh",
                 backbone_dropout=0.0, ode_unfolds=6, latent_dim=None,
                 output_activation="linear", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_features = check_positive_int(n_features, "n_features", allow_none=True)
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
        self.output_dense = None
        if self.n_features is not None:
            self.output_dense = self._make_output_layer(self.n_features)
        self._built_features = None

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

    def _make_output_layer(self, units):
        return keras.layers.Dense(units, activation=self.output_activation, name="output_dense")

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _split(inputs, time_delta):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or time_delta is not None:
                raise ValueError(
                    "LiquidAutoencoderAnomaly takes `inputs` as an array or as a "
                    "pair [x, time_delta] (then without a separate time_delta); "
                    f"received a {type(inputs).__name__} of {len(inputs)} items"
                    f"{' and a time_delta' if time_delta is not None else ''}."
                )
            return inputs[0], inputs[1]
        return inputs, time_delta

    def validate_input_shape(self, shape):
        """Check the shape of ``x`` and return it as a tuple."""
        return check_window_shape(
            shape,
            type(self).__name__,
            n_features=self.n_features,
            built_features=self._built_features,
        )

    def _check(self, inputs, time_delta=None):
        x, delta = self._split(inputs, time_delta)
        if hasattr(x, "shape"):
            shape = self.validate_input_shape(x.shape)
            if delta is not None:
                check_time_delta(delta, shape)

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps call() errors.
        time_delta = kwargs.get("time_delta", args[0] if args else None)
        self._check(inputs, time_delta)
        return super().__call__(inputs, *args, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check(x)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check(x)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check(x)
        return super().predict(x, *args, **kwargs)

    # ------------------------------------------------------------------- build
    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
            input_shape[0], (list, tuple)
        ):
            input_shape = input_shape[0]
        batch, steps, features = self.validate_input_shape(input_shape)
        self._built_features = features
        shape = (batch, steps, features)
        for layer in self.encoder_layers:
            layer.build(shape)
            shape = (batch, steps, self.hidden_size)
        if self.bottleneck is not None:
            self.bottleneck.build((batch, self.hidden_size))
            shape = (batch, steps, self.latent_dim)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = (batch, steps, self.hidden_size)
        if self.output_dense is None:
            self.output_dense = self._make_output_layer(features)
        self.output_dense.build(shape)
        self.built = True

    # -------------------------------------------------------------------- call
    def call(self, inputs, time_delta=None, training=False):
        x, time_delta = self._split(inputs, time_delta)
        x = ops.convert_to_tensor(x)
        if x.dtype != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
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
        if isinstance(inputs_shape, (list, tuple)) and inputs_shape and isinstance(
            inputs_shape[0], (list, tuple)
        ):
            inputs_shape = inputs_shape[0]
        batch, steps, features = self.validate_input_shape(inputs_shape)
        out = self.n_features if self.n_features is not None else features
        return (batch, steps, out)

    # ------------------------------------------------------------------ scores
    def compute_anomaly_score(self, x, time_delta=None, reduction="mean",
                              weighting="inverse_delta", eps=1e-3, batch_size=256,
                              reconstructions=None):
        """Reconstruction error of each sequence (or step), density-weighted.

        Parameters
        ----------
        x : array-like of shape (batch, steps, features)
        time_delta : array-like of shape (batch, steps, 1) or (batch, steps), optional
            Elapsed time before each step, fed to the model and used for the
            weights. None: regular sampling, no weighting.
        reduction : {'mean', None}, default='mean'
            ``'mean'``: one score per sequence, shape ``(batch,)``; None: one
            per step, shape ``(batch, steps)``.
        weighting : {'inverse_delta', None}, default='inverse_delta'
            Weight each step's error by ``1 / (delta + eps)``, normalised to
            a mean of 1 within each sequence; None for the plain error. See
            :func:`weighted_reconstruction_error` for the reasoning.
        eps : float, default=1e-3
            Added to the deltas before inverting them.
        batch_size : int, default=256
            Batch size of the reconstruction pass.
        reconstructions : array-like, optional
            Precomputed reconstructions of ``x``.

        Returns
        -------
        numpy.ndarray of shape (batch,) or (batch, steps)
        """
        x, time_delta = self._split(x, time_delta)
        x = np.asarray(ops.convert_to_numpy(x), dtype=self.compute_dtype)
        self._check(x, time_delta)
        reduction = check_option(reduction, "reduction", _REDUCTIONS)
        weighting = check_option(weighting, "weighting", _WEIGHTINGS)
        if time_delta is not None:
            time_delta = np.asarray(ops.convert_to_numpy(time_delta), dtype=self.compute_dtype)
        if reconstructions is None:
            batch_size = check_positive_int(batch_size, "batch_size")
            data = x if time_delta is None else [x, time_delta]
            reconstructions = self.predict(data, batch_size=batch_size, verbose=0)
        scores = weighted_reconstruction_error(
            x, reconstructions, time_delta, reduction=reduction, weighting=weighting, eps=eps
        )
        return ops.convert_to_numpy(scores)

    # ------------------------------------------------------------ serialising
    def get_config(self):
        config = super().get_config()
        config.update({
            "hidden_size": self.hidden_size,
            "n_features": self.n_features,
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
