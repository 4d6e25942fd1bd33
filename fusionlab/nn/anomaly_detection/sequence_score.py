"""MLP head that maps learned features to one anomaly score per sample."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from ..._validation import check_option, check_positive_int, check_rate
from .._checks import check_activation, check_nonzero_sizes

__all__ = ["SequenceAnomalyScoreLayer"]

_POOLINGS = (None, "mean", "max", "last")


def _normalise_hidden_units(hidden_units):
    if isinstance(hidden_units, numbers.Integral) and not isinstance(hidden_units, bool):
        values = [hidden_units]
    elif isinstance(hidden_units, (list, tuple)):
        values = list(hidden_units)
        if not values:
            raise ValueError(
                "`hidden_units` must hold at least one layer size; received []."
            )
    else:
        raise TypeError(
            "`hidden_units` must be a positive integer or a list of positive "
            f"integers; received {hidden_units!r} of type {type(hidden_units).__name__}."
        )
    return [
        check_positive_int(value, f"hidden_units[{index}]")
        for index, value in enumerate(values)
    ]


def _normalise_use_norm(use_norm):
    if use_norm is True:
        return "layer"
    if use_norm is False or use_norm is None:
        return None
    if isinstance(use_norm, str):
        return check_option(use_norm, "use_norm", ("layer", "batch"))
    raise ValueError(
        f"`use_norm` must be False, True, 'layer' or 'batch'; received {use_norm!r}."
    )


@keras.saving.register_keras_serializable(package="fusionlab")
class SequenceAnomalyScoreLayer(keras.layers.Layer):
    """Scoring head: an MLP that turns learned features into an anomaly score.

    Each hidden layer is ``Dense -> activation -> optional normalisation ->
    dropout``; a final ``Dense(1)`` with ``final_activation`` gives one score
    per sample. Put it on top of learned representations (an encoder's state,
    pooled attention outputs...) and train it with a loss that uses the score,
    e.g. a forecaster's loss plus an anomaly term, or labels when you have
    them.

    Parameters
    ----------
    hidden_units : int or list of int
        Sizes of the hidden layers. An int means one hidden layer; the value
        is stored as a list.
    activation : str, default='relu'
        Activation of the hidden layers.
    dropout_rate : float, default=0.1
        Dropout after each hidden layer, in [0, 1].
    use_norm : bool or {'layer', 'batch'}, default=False
        Normalisation after each hidden activation: ``True`` or ``'layer'``
        for layer normalisation, ``'batch'`` for batch normalisation.
    final_activation : str, default='linear'
        Activation of the score: ``'linear'`` (unbounded), ``'sigmoid'``
        (in (0, 1)), ``'softplus'`` (non-negative)...
    kernel_regularizer, bias_regularizer : str, dict or keras.Regularizer, optional
        Regularisers of every dense layer.
    pooling : {None, 'mean', 'max', 'last'}, default=None
        How a 3D input ``(batch, steps, features)`` is reduced over steps
        before scoring. ``None`` accepts only 2D inputs and raises a
        ``ValueError`` for 3D ones, so a sequence is never scored by accident
        step by step.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Input shape: ``(batch, features)``, or ``(batch, steps, features)`` with
    ``pooling``. Output shape: ``(batch, 1)``.

    To accept other inputs in a subclass, override
    :meth:`validate_input_shape` (and ``call``).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import SequenceAnomalyScoreLayer
    >>> features = np.random.default_rng(0).normal(size=(16, 64)).astype("float32")
    >>> scorer = SequenceAnomalyScoreLayer(hidden_units=[32, 16], use_norm="layer")
    >>> tuple(scorer(features).shape)
    (16, 1)
    >>> pooled = SequenceAnomalyScoreLayer(8, pooling="mean")
    >>> tuple(pooled(np.zeros((4, 10, 3), "float32")).shape)
    (4, 1)
    """

    def __init__(
        self,
        hidden_units,
        activation="relu",
        dropout_rate=0.1,
        use_norm=False,
        final_activation="linear",
        kernel_regularizer=None,
        bias_regularizer=None,
        pooling=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_units = _normalise_hidden_units(hidden_units)
        self.activation = check_activation(activation, "activation")
        self.dropout_rate = check_rate(dropout_rate, "dropout_rate")
        self._norm_type = _normalise_use_norm(use_norm)
        self.use_norm = use_norm
        self.final_activation = check_activation(final_activation, "final_activation")
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.pooling = check_option(pooling, "pooling", _POOLINGS)

        self.hidden_layers = []
        self.norm_layers = []
        self.dropout_layers = []
        for index, units in enumerate(self.hidden_units):
            self.hidden_layers.append(
                keras.layers.Dense(
                    units,
                    activation=self.activation,
                    kernel_regularizer=self.kernel_regularizer,
                    bias_regularizer=self.bias_regularizer,
                    name=f"hidden_dense_{index + 1}",
                )
            )
            if self._norm_type == "layer":
                norm = keras.layers.LayerNormalization(name=f"layer_norm_{index + 1}")
            elif self._norm_type == "batch":
                norm = keras.layers.BatchNormalization(name=f"batch_norm_{index + 1}")
            else:
                norm = None
            self.norm_layers.append(norm)
            self.dropout_layers.append(
                keras.layers.Dropout(self.dropout_rate, name=f"score_dropout_{index + 1}")
            )
        self.score_dense = keras.layers.Dense(
            1,
            activation=self.final_activation,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            name="score_output",
        )

    def validate_input_shape(self, input_shape):
        """Check an input shape and return the ``(batch, features)`` it scores.

        Every entry point (``__call__``, ``build``, ``compute_output_shape``)
        goes through this method, so a subclass that accepts other inputs
        overrides it alone.
        """
        input_shape = tuple(input_shape)
        if len(input_shape) == 3:
            if self.pooling is None:
                raise ValueError(
                    "SequenceAnomalyScoreLayer expects a 2D input (batch, features); "
                    f"received a 3D input of shape {input_shape}. Pool the steps "
                    "first or pass pooling='mean', 'max' or 'last'."
                )
            # Pooling over no step would give NaN (mean) or fail (max, last).
            check_nonzero_sizes(input_shape, "SequenceAnomalyScoreLayer")
            input_shape = (input_shape[0], input_shape[2])
        elif len(input_shape) != 2:
            raise ValueError(
                "SequenceAnomalyScoreLayer expects an input of shape (batch, features)"
                " (or (batch, steps, features) with `pooling`); received shape "
                f"{input_shape}."
            )
        if input_shape[-1] is None:
            raise ValueError(
                "SequenceAnomalyScoreLayer needs the number of features (last axis) "
                f"to be known; received shape {input_shape}."
            )
        # A batch of 0 is fine (0 scores); 0 features would score the bias.
        return check_nonzero_sizes(input_shape, "SequenceAnomalyScoreLayer")

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps call() errors, so the message the user
        # sees starts with what went wrong.
        if hasattr(inputs, "shape"):
            self.validate_input_shape(inputs.shape)
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape):
        shape = self.validate_input_shape(input_shape)
        for dense, norm in zip(self.hidden_layers, self.norm_layers, strict=True):
            dense.build(shape)
            shape = (shape[0], dense.units)
            if norm is not None:
                norm.build(shape)
        self.score_dense.build(shape)
        self.built = True

    def call(self, inputs, training=False):
        self.validate_input_shape(inputs.shape)
        x = inputs
        if len(x.shape) == 3:
            if self.pooling == "mean":
                x = ops.mean(x, axis=1)
            elif self.pooling == "max":
                x = ops.max(x, axis=1)
            else:
                x = x[:, -1, :]
        for dense, norm, dropout in zip(
            self.hidden_layers, self.norm_layers, self.dropout_layers, strict=True
        ):
            x = dense(x)
            if norm is not None:
                x = norm(x, training=training)
            x = dropout(x, training=training)
        return self.score_dense(x)

    def compute_output_shape(self, input_shape):
        shape = self.validate_input_shape(input_shape)
        return (shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_units": list(self.hidden_units),
                "activation": self.activation,
                "dropout_rate": self.dropout_rate,
                "use_norm": self.use_norm,
                "final_activation": self.final_activation,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer is not None
                else None,
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer)
                if self.bias_regularizer is not None
                else None,
                "pooling": self.pooling,
            }
        )
        return config
