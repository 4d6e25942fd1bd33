"""Anomaly score from the error between observed and predicted sequences."""

from __future__ import annotations

import keras
from keras import ops

from ..._validation import check_option
from .._checks import check_nonzero_sizes, mismatched_axis

__all__ = ["PredictionErrorAnomalyScore"]

_INPUT_MESSAGE = "Input must be a list or tuple: [y_true, y_pred]"


def _static(shape):
    """Shape as a tuple of ints, with None where the size is not static."""
    return tuple(d if isinstance(d, int) or d is None else None for d in shape)


@keras.saving.register_keras_serializable(package="fusionlab")
class PredictionErrorAnomalyScore(keras.layers.Layer):
    """Score each sequence by how far a prediction is from what happened.

    For ``y_true`` and ``y_pred`` of shape ``(batch, steps, features)`` the
    layer computes the error of every element (absolute for ``'mae'``,
    squared for ``'mse'``), averages it over features, then reduces the
    per-step errors over steps with the mean or the max, giving a score of
    shape ``(batch, 1)``. It has no weights: use it on a forecaster's output
    to turn forecast errors into anomaly scores, or inside a loss.

    Parameters
    ----------
    error_metric : {'mae', 'mse'}, default='mae'
        Element-wise error. ``'mse'`` weighs large errors more.
    aggregation : {'mean', 'max'}, default='mean'
        Reduction over steps. ``'max'`` reacts to one bad step; ``'mean'``
        to errors spread over the sequence.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Raises
    ------
    ValueError
        At construction, for an unknown ``error_metric`` or ``aggregation``
        (case does not matter); at call time, when the input is not a list or
        tuple of two tensors, when a tensor is not 3D or has 0 steps or 0
        features (a mean over nothing), or when their shapes differ. A batch
        of 0 sequences gives 0 scores, shape ``(0, 1)``.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import PredictionErrorAnomalyScore
    >>> y_true = np.zeros((2, 3, 1), "float32")
    >>> y_pred = np.array([[[1.], [1.], [1.]], [[0.], [0.], [3.]]], "float32")
    >>> score = PredictionErrorAnomalyScore("mae", "mean")([y_true, y_pred])
    >>> keras.ops.convert_to_numpy(score).ravel()
    array([1., 1.], dtype=float32)
    >>> score = PredictionErrorAnomalyScore("mae", "max")([y_true, y_pred])
    >>> keras.ops.convert_to_numpy(score).ravel()
    array([1., 3.], dtype=float32)
    """

    def __init__(self, error_metric="mae", aggregation="mean", **kwargs):
        super().__init__(**kwargs)
        self.error_metric = check_option(error_metric, "error_metric", ("mae", "mse"))
        self.aggregation = check_option(aggregation, "aggregation", ("mean", "max"))

    @staticmethod
    def split_inputs(inputs):
        """Return ``(y_true, y_pred)`` or raise the documented ``ValueError``."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            received = (
                f"a {type(inputs).__name__} of length {len(inputs)}"
                if isinstance(inputs, (list, tuple))
                else f"a {type(inputs).__name__}"
            )
            raise ValueError(f"{_INPUT_MESSAGE}; received {received}.")
        return inputs

    @staticmethod
    def _check_shapes(true_shape, pred_shape):
        true_shape, pred_shape = _static(true_shape), _static(pred_shape)
        for name, shape in (("y_true", true_shape), ("y_pred", pred_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"`{name}` must be 3D (batch, steps, features); received "
                    f"shape {shape}."
                )
            check_nonzero_sizes(shape, f"PredictionErrorAnomalyScore's `{name}`")
        axis = mismatched_axis(true_shape, pred_shape)
        if axis is not None:
            raise ValueError(
                f"`y_true` and `y_pred` must have the same shape; received "
                f"{true_shape} and {pred_shape} (axis {axis} differs)."
            )

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps call() errors, so the message the user
        # sees starts with what went wrong.
        y_true, y_pred = self.split_inputs(inputs)
        self._check_shapes(keras.ops.shape(y_true), keras.ops.shape(y_pred))
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        y_true, y_pred = self.split_inputs(inputs)
        y_true = ops.cast(ops.convert_to_tensor(y_true), self.compute_dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.compute_dtype)
        self._check_shapes(y_true.shape, y_pred.shape)
        error = y_true - y_pred
        error = ops.abs(error) if self.error_metric == "mae" else ops.square(error)
        per_step = ops.mean(error, axis=-1)
        if self.aggregation == "mean":
            score = ops.mean(per_step, axis=-1)
        else:
            score = ops.max(per_step, axis=-1)
        return ops.expand_dims(score, axis=-1)

    def compute_output_shape(self, input_shape):
        true_shape, pred_shape = self.split_inputs(input_shape)
        self._check_shapes(true_shape, pred_shape)
        return (true_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"error_metric": self.error_metric, "aggregation": self.aggregation})
        return config
