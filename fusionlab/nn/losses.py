"""Losses for multi-horizon forecasting with an anomaly term.

- :class:`QuantileLoss` -- pinball loss averaged over several quantiles.
- :class:`AnomalyLoss` -- a layer turning anomaly scores into a loss term,
  ``weight * mean(score ** 2)``.
- :func:`prediction_based_loss` -- forecast loss plus the weighted
  prediction-error anomaly score of the forecast (:class:`PredictionBasedLoss`).
- :func:`combined_total_loss` -- forecast loss plus an :class:`AnomalyLoss` of
  scores computed beforehand (:class:`CombinedTotalLoss`).

Everything is written with :mod:`keras.ops`, so it runs on every Keras
backend, and every loss is a registered :class:`keras.losses.Loss` whose
``get_config`` holds all its arguments: a model compiled with one of them
saves to ``.keras`` and loads back with its loss.

**Shapes.** Forecasts are ``(batch, horizon, outputs)`` (point) or
``(batch, horizon, outputs, quantiles)`` (quantile); the forecasts of a
single-output model may also drop the ``outputs`` axis: ``(batch, horizon)``
or ``(batch, horizon, quantiles)``. Targets are ``(batch, horizon)`` or
``(batch, horizon, outputs)``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .._validation import check_finite, check_option, check_real
from ._checks import mismatched_axis
from .anomaly_detection import PredictionErrorAnomalyScore

__all__ = [
    "QuantileLoss",
    "AnomalyLoss",
    "PredictionBasedLoss",
    "CombinedTotalLoss",
    "prediction_based_loss",
    "combined_total_loss",
    "check_quantiles",
    "median_index",
]

_REGISTER = keras.saving.register_keras_serializable(package="fusionlab")


def check_quantiles(quantiles, name="quantiles", *, allow_none=False):
    """Return ``quantiles`` as a tuple of floats after checking them.

    Quantiles must be a non-empty sequence of distinct numbers strictly
    between 0 and 1, in increasing order (the order of the quantile axis of a
    forecast, so bands are read the same way everywhere).

    Raises
    ------
    TypeError
        If ``quantiles`` is not a sequence of real numbers (``None`` is
        accepted when ``allow_none``).
    ValueError
        If it is empty, holds a value outside (0, 1), or is not strictly
        increasing.
    """
    if quantiles is None and allow_none:
        return None
    if isinstance(quantiles, (str, bytes)) or not isinstance(
        quantiles, (list, tuple, np.ndarray)
    ):
        raise TypeError(
            f"`{name}` must be a list or tuple of numbers in (0, 1), e.g. "
            f"(0.1, 0.5, 0.9); received {quantiles!r} of type "
            f"{type(quantiles).__name__}."
        )
    values = list(np.asarray(quantiles, dtype=object).ravel())
    if not values:
        raise ValueError(f"`{name}` must hold at least one quantile; received {quantiles!r}.")
    out = [check_real(value, f"{name}[{index}]", low=0, high=1, include_low=False,
                      include_high=False) for index, value in enumerate(values)]
    if any(b <= a for a, b in zip(out[:-1], out[1:], strict=True)):
        raise ValueError(
            f"`{name}` must be strictly increasing (distinct, sorted); received {out}."
        )
    return tuple(out)


def median_index(quantiles):
    """Index of the quantile used as the point forecast: 0.5, else the closest.

    Ties (e.g. 0.4 and 0.6) go to the lower quantile.
    """
    quantiles = check_quantiles(quantiles)
    return int(np.argmin([abs(q - 0.5) for q in quantiles]))


def _check_forecast_shapes(y_true, y_pred, n_quantiles):
    """Return ``y_true`` reshaped to ``y_pred.shape[:-1]`` (quantile case)."""
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if len(pred_shape) not in (3, 4):
        raise ValueError(
            "`y_pred` of a quantile loss must have shape (batch, horizon, quantiles) "
            "or (batch, horizon, outputs, quantiles); received shape "
            f"{pred_shape}."
        )
    if pred_shape[-1] is not None and pred_shape[-1] != n_quantiles:
        raise ValueError(
            f"The last axis of `y_pred` must hold one value per quantile "
            f"({n_quantiles}); received y_pred of shape {pred_shape}."
        )
    target = pred_shape[:-1]
    if len(true_shape) == len(target) - 1 and len(target) == 3 and target[-1] == 1:
        # (batch, horizon) targets of a single-output model.
        y_true = ops.expand_dims(y_true, axis=-1)
        true_shape = tuple(y_true.shape)
    if len(true_shape) != len(target):
        raise ValueError(
            f"`y_true` must have shape {target} (y_pred's shape without its "
            f"quantile axis); received y_true of shape {true_shape} and y_pred "
            f"of shape {pred_shape}."
        )
    axis = mismatched_axis(true_shape, target)
    if axis is not None:
        raise ValueError(
            f"`y_true` must have shape {target} (y_pred's shape without its "
            f"quantile axis); received y_true of shape {true_shape} and "
            f"y_pred of shape {pred_shape} (axis {axis} differs)."
        )
    return y_true


def _pinball(y_true, y_pred, quantiles):
    """Per-sample pinball loss, averaged over quantiles and all other axes."""
    y_true = _check_forecast_shapes(y_true, y_pred, len(quantiles))
    q = ops.convert_to_tensor(np.asarray(quantiles), dtype=y_pred.dtype)
    error = ops.expand_dims(y_true, axis=-1) - y_pred
    # q * e when the forecast is too low (e > 0), (q - 1) * e when too high.
    loss = ops.maximum(q * error, (q - 1.0) * error)
    return ops.mean(ops.reshape(loss, (ops.shape(loss)[0], -1)), axis=-1)


def _to_3d(y, name):
    """(batch, horizon[, outputs]) -> (batch, horizon, outputs)."""
    rank = len(y.shape)
    if rank == 2:
        return ops.expand_dims(y, axis=-1)
    if rank == 3:
        return y
    raise ValueError(
        f"`{name}` must have shape (batch, horizon) or (batch, horizon, outputs); "
        f"received shape {tuple(y.shape)}."
    )


def _point_forecast(y_pred, quantiles):
    """The point forecast as (batch, horizon, outputs)."""
    if quantiles is None:
        return _to_3d(y_pred, "y_pred")
    point = y_pred[..., median_index(quantiles)]
    return _to_3d(point, "y_pred without its quantile axis")


def _mse(y_true, y_pred):
    y_pred = _to_3d(y_pred, "y_pred")
    y_true = _to_3d(y_true, "y_true")
    if tuple(y_true.shape)[1:] != tuple(y_pred.shape)[1:] and None not in (
        tuple(y_true.shape)[1:] + tuple(y_pred.shape)[1:]
    ):
        raise ValueError(
            "`y_true` and `y_pred` must have the same (batch, horizon, outputs) "
            f"shape; received {tuple(y_true.shape)} and {tuple(y_pred.shape)}."
        )
    return ops.mean(ops.reshape(ops.square(y_true - y_pred), (ops.shape(y_pred)[0], -1)), axis=-1)


def _forecast_loss(y_true, y_pred, quantiles):
    if quantiles is None:
        return _mse(y_true, y_pred)
    return _pinball(y_true, y_pred, quantiles)


@_REGISTER
class QuantileLoss(keras.losses.Loss):
    r"""Pinball (quantile) loss averaged over several quantiles.

    For a target :math:`y`, a forecast :math:`\hat y_q` of quantile :math:`q`
    and the error :math:`e = y - \hat y_q`, the pinball loss is
    :math:`\max(q e, (q - 1) e)`: under-forecasts cost :math:`q` per unit,
    over-forecasts :math:`1 - q`, so its minimiser is the :math:`q`-quantile.
    The loss of a sample is the mean over quantiles, horizon steps and outputs
    (a mean, not a sum, so its scale does not grow with the number of
    quantiles); the batch is then reduced by ``reduction``.

    Parameters
    ----------
    quantiles : sequence of float, default=(0.1, 0.5, 0.9)
        Distinct, increasing values in (0, 1), in the order of the last axis
        of ``y_pred``.
    name : str, default='quantile_loss'
    reduction : str, default='sum_over_batch_size'
        See :class:`keras.losses.Loss`.
    dtype : str, optional

    Raises
    ------
    TypeError, ValueError
        At construction, for quantiles that are not distinct increasing numbers
        in (0, 1); when called, for a ``y_pred`` whose last axis is not ``Q``
        long or a ``y_true`` of another shape.

    Notes
    -----
    Shapes: ``y_pred`` is ``(batch, horizon, outputs, Q)`` or
    ``(batch, horizon, Q)``; ``y_true`` is ``y_pred``'s shape without the
    quantile axis, and a ``(batch, horizon)`` target is also accepted for a
    ``(batch, horizon, 1, Q)`` forecast.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.losses import QuantileLoss
    >>> y_true = np.array([[1.0, 2.0]])                      # (batch=1, horizon=2)
    >>> y_pred = np.array([[[0.0, 1.0], [2.0, 3.0]]])        # (1, 2, Q=2)
    >>> loss = QuantileLoss(quantiles=(0.2, 0.8))
    >>> # step 1: e = 1, 0  -> 0.2 * 1, 0      step 2: e = 0, -1 -> 0, 0.2 * 1
    >>> round(float(loss(y_true, y_pred)), 4)
    0.1
    """

    def __init__(self, quantiles=(0.1, 0.5, 0.9), name="quantile_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.quantiles = check_quantiles(quantiles)

    def call(self, y_true, y_pred):
        return _pinball(y_true, y_pred, self.quantiles)

    def get_config(self):
        config = super().get_config()
        config["quantiles"] = list(self.quantiles)
        return config


@_REGISTER
class AnomalyLoss(keras.layers.Layer):
    """Loss layer: ``weight * mean(scores ** 2)`` of a batch of anomaly scores.

    Call it on scores of any shape (typically ``(batch, 1)``) to get a scalar
    to add to a model's loss, e.g. ``self.add_loss(AnomalyLoss(0.1)(scores))``
    inside ``call``. Minimising it pushes the scores towards zero on the
    training data (a compactness penalty: samples that look like the training
    data get small scores); applied to the difference between a learned and a
    reference score it becomes a regression of one on the other. The layer
    has no weights; it only computes the value and adds nothing by itself.

    Parameters
    ----------
    weight : float, default=1.0
        Non-negative factor of the term.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.losses import AnomalyLoss
    >>> float(AnomalyLoss(weight=0.5)(np.array([[1.0], [3.0]], "float32")))
    2.5
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = check_real(weight, "weight", low=0.0)

    def build(self, input_shape):
        self.built = True

    def call(self, anomaly_scores):
        scores = ops.cast(ops.convert_to_tensor(anomaly_scores), self.compute_dtype)
        return self.weight * ops.mean(ops.square(scores))

    def compute_output_shape(self, input_shape):
        return ()

    def get_config(self):
        config = super().get_config()
        config["weight"] = self.weight
        return config


@_REGISTER
class PredictionBasedLoss(keras.losses.Loss):
    """Forecast loss plus the weighted prediction-error anomaly score.

    The loss of a sample is ``forecast_loss + anomaly_loss_weight * s ** 2``
    where ``forecast_loss`` is the quantile loss (or the mean squared error
    when ``quantiles`` is None) and ``s`` is the
    :class:`~fusionlab.nn.anomaly_detection.PredictionErrorAnomalyScore` of
    the point forecast (the median quantile, or the quantile closest to 0.5)
    against ``y_true``. Averaged over the batch, the second term is exactly
    ``AnomalyLoss(anomaly_loss_weight)(s)``. It weighs the samples with large
    forecast errors more than the forecast loss alone does.

    Use :func:`prediction_based_loss` to build one.

    Parameters
    ----------
    quantiles : sequence of float, optional
        Quantiles of the forecast's last axis; None for point forecasts.
    anomaly_loss_weight : float, default=1.0
        Non-negative weight of the anomaly term.
    error_metric : {'mae', 'mse'}, default='mae'
    aggregation : {'mean', 'max'}, default='mean'
        Passed to ``PredictionErrorAnomalyScore``.
    name, reduction, dtype
        See :class:`keras.losses.Loss`.
    """

    def __init__(self, quantiles=None, anomaly_loss_weight=1.0, error_metric="mae",
                 aggregation="mean", name="prediction_based_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.quantiles = check_quantiles(quantiles, allow_none=True)
        self.anomaly_loss_weight = check_real(anomaly_loss_weight, "anomaly_loss_weight", low=0.0)
        self.error_metric = check_option(error_metric, "error_metric", ("mae", "mse"))
        self.aggregation = check_option(aggregation, "aggregation", ("mean", "max"))
        self._scorer = PredictionErrorAnomalyScore(self.error_metric, self.aggregation)

    def call(self, y_true, y_pred):
        forecast = _forecast_loss(y_true, y_pred, self.quantiles)
        point = _point_forecast(y_pred, self.quantiles)
        score = self._scorer([_to_3d(y_true, "y_true"), point])
        return forecast + self.anomaly_loss_weight * ops.square(score[:, 0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "quantiles": None if self.quantiles is None else list(self.quantiles),
                "anomaly_loss_weight": self.anomaly_loss_weight,
                "error_metric": self.error_metric,
                "aggregation": self.aggregation,
            }
        )
        return config


@_REGISTER
class CombinedTotalLoss(keras.losses.Loss):
    """Forecast loss plus an :class:`AnomalyLoss` of scores computed beforehand.

    The value is ``forecast_loss(y_true, y_pred) + anomaly_layer(anomaly_scores)``
    where ``anomaly_scores`` is a fixed array (e.g. the scores an
    :class:`~fusionlab.nn.anomaly_detection.LSTMAutoencoderAnomaly` gave the
    training windows). The anomaly term does not depend on the model's
    weights, so it changes the reported loss but not the gradients; it lets
    runs trained on data of different anomaly levels be compared on one
    scale. To make a forecaster *learn* from pre-computed scores, pass them
    per sample to an ``AnomalyAwareForecaster`` with
    ``anomaly_detection_strategy='from_config'`` instead.

    Use :func:`combined_total_loss` to build one.

    Parameters
    ----------
    quantiles : sequence of float or None
        Quantiles of the forecast's last axis; None for point forecasts (MSE).
    anomaly_layer : AnomalyLoss
        The layer giving the anomaly term (its ``weight`` scales it).
    anomaly_scores : array-like
        Finite pre-computed scores, any shape. Stored in the config (as a
        list), so keep it to summary scores rather than a huge array.
    name, reduction, dtype
        See :class:`keras.losses.Loss`. The anomaly term is added to each
        sample's loss, so it enters the batch loss once with the default
        ``'sum_over_batch_size'`` and no sample weights; ``'sum'`` multiplies
        it by the batch size, and sample weights scale it by their mean.
    """

    def __init__(self, quantiles, anomaly_layer, anomaly_scores,
                 name="combined_total_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.quantiles = check_quantiles(quantiles, allow_none=True)
        if isinstance(anomaly_layer, dict):
            anomaly_layer = keras.saving.deserialize_keras_object(anomaly_layer)
        if not isinstance(anomaly_layer, AnomalyLoss):
            raise TypeError(
                "`anomaly_layer` must be an AnomalyLoss layer, e.g. "
                f"AnomalyLoss(weight=0.1); received {anomaly_layer!r} of type "
                f"{type(anomaly_layer).__name__}."
            )
        self.anomaly_layer = anomaly_layer
        try:
            scores = np.asarray(anomaly_scores, dtype="float64")
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "`anomaly_scores` must be an array of numbers; received "
                f"{type(anomaly_scores).__name__}."
            ) from exc
        if scores.size == 0:
            raise ValueError("`anomaly_scores` must hold at least one score; received none.")
        check_finite(scores, "anomaly_scores")
        self.anomaly_scores = scores

    def call(self, y_true, y_pred):
        forecast = _forecast_loss(y_true, y_pred, self.quantiles)
        scores = ops.convert_to_tensor(self.anomaly_scores, dtype=forecast.dtype)
        term = ops.cast(self.anomaly_layer(scores), forecast.dtype)
        # The constant is added to every sample's loss: once in the batch
        # loss under the default mean reduction without sample weights (see
        # the class docstring for the other cases).
        return forecast + term

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "quantiles": None if self.quantiles is None else list(self.quantiles),
                "anomaly_layer": keras.saving.serialize_keras_object(self.anomaly_layer),
                "anomaly_scores": self.anomaly_scores.tolist(),
            }
        )
        return config


def prediction_based_loss(quantiles=None, anomaly_loss_weight=1.0, *,
                          error_metric="mae", aggregation="mean"):
    """Build a loss: forecast loss + weighted prediction-error anomaly score.

    Parameters
    ----------
    quantiles : sequence of float, optional
        Quantiles of the forecast; None means point forecasts and MSE.
    anomaly_loss_weight : float, default=1.0
        Non-negative weight of the anomaly term.
    error_metric, aggregation : str
        Passed to ``PredictionErrorAnomalyScore`` (``'mae'``/``'mse'``,
        ``'mean'``/``'max'``).

    Returns
    -------
    PredictionBasedLoss
        A registered loss object, usable in ``model.compile(loss=...)`` and
        saved with the model. See :class:`PredictionBasedLoss` for the formula.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.losses import prediction_based_loss
    >>> loss = prediction_based_loss(quantiles=None, anomaly_loss_weight=1.0)
    >>> y_true = np.zeros((1, 2, 1), "float32")
    >>> y_pred = np.full((1, 2, 1), 2.0, "float32")
    >>> float(loss(y_true, y_pred))   # MSE 4 + (MAE 2) ** 2
    8.0
    """
    return PredictionBasedLoss(
        quantiles=quantiles,
        anomaly_loss_weight=anomaly_loss_weight,
        error_metric=error_metric,
        aggregation=aggregation,
    )


def combined_total_loss(quantiles, anomaly_layer, anomaly_scores):
    """Build a loss: forecast loss + an ``AnomalyLoss`` of pre-computed scores.

    Parameters
    ----------
    quantiles : sequence of float or None
        Quantiles of the forecast; None means point forecasts and MSE.
    anomaly_layer : AnomalyLoss
        Gives the anomaly term, ``weight * mean(anomaly_scores ** 2)``.
    anomaly_scores : array-like
        Pre-computed, finite scores.

    Returns
    -------
    CombinedTotalLoss
        A registered loss object; see its notes on gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.losses import AnomalyLoss, combined_total_loss
    >>> loss = combined_total_loss((0.5,), AnomalyLoss(weight=0.5), [1.0, 3.0])
    >>> y_true = np.zeros((1, 2), "float32")
    >>> y_pred = np.ones((1, 2, 1), "float32")
    >>> float(loss(y_true, y_pred))   # pinball 0.5 + 0.5 * mean([1, 9])
    3.0
    """
    return CombinedTotalLoss(quantiles, anomaly_layer, anomaly_scores)
