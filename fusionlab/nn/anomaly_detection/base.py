"""The base class of the reconstruction autoencoders, and their error.

:class:`ReconstructionAutoencoder` holds what every fusionlab autoencoder
that scores windows by how badly it reconstructs them shares: the input
checks, the build skeleton, the output shape and one error method,
:meth:`~ReconstructionAutoencoder.reconstruction_error`.
:func:`weighted_reconstruction_error` is the error itself, usable on any
pair of windows and reconstructions.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..._validation import check_option, check_positive_int, check_rate
from .._checks import check_window_shape, is_empty_batch, mismatched_axis
from ..liquid.time_delta import check_time_delta, prepare_time_delta

__all__ = ["ReconstructionAutoencoder", "weighted_reconstruction_error"]

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


def _is_shape_pair(shape):
    """Whether ``shape`` is the pair of shapes of ``[windows, time_deltas]``."""
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(
        shape[0], (list, tuple)
    )


def _describe(value):
    shape = getattr(value, "shape", None)
    return f"an array of shape {tuple(shape)}" if shape is not None else repr(value)


@keras.saving.register_keras_serializable(package="fusionlab")
class ReconstructionAutoencoder(keras.Model):
    """Base class of the autoencoders that score windows by reconstruction.

    A reconstruction autoencoder maps windows of shape ``(batch, steps,
    features)`` to reconstructions of the same shape; trained on normal data,
    it reconstructs anomalous windows badly, so the reconstruction error
    ranks windows by how anomalous they are (higher = more anomalous).
    :class:`LSTMAutoencoderAnomaly`, :class:`ConvAutoencoderAnomaly` and
    :class:`LiquidAutoencoderAnomaly` derive from it and share its contract:

    * one error method, :meth:`reconstruction_error`, with the same
      signature on every model;
    * the capability flag :attr:`takes_time_delta`;
    * every input check in :meth:`validate_input_shape`, the one method a
      subclass accepting other inputs overrides;
    * ``n_features`` fixed at construction or inferred from the first input,
      and kept in ``get_config``;
    * one rule for empty inputs: an empty batch (0 windows) of an otherwise
      valid shape gives an empty result -- ``model(x)`` and ``predict`` a
      ``(0, steps, features)`` array, :meth:`reconstruction_error` a
      ``(0,)`` one -- so that scoring an empty slice needs no special case;
      ``fit`` and ``evaluate`` on 0 windows, windows of 0 steps and steps of
      0 features raise ``ValueError`` with the shape received.

    The base class is abstract. A subclass creates its layers in
    ``__init__`` (after ``super().__init__(n_features=n_features,
    **kwargs)``), implements :meth:`build_layers` and ``call``, and adds its
    own arguments to ``get_config``; it may override
    :meth:`make_output_layer` (default: a linear ``Dense`` applied at every
    step, reached as ``self.output_layer`` once built). A time-aware one sets
    ``takes_time_delta = True``, takes ``call(inputs, time_delta=None,
    training=False)`` and starts it with :meth:`split_inputs`. Everything
    else -- checks, build, output shape, errors -- it inherits. See
    :doc:`/user_guide/subclassing`.

    Parameters
    ----------
    n_features : int, optional
        Number of features of the input and of the reconstruction. ``None``
        infers it from the first input; given, an input with another number
        of features raises ``ValueError``.
    **kwargs
        Passed to :class:`keras.Model` (``name``, ``dtype``...).

    Attributes
    ----------
    takes_time_delta : bool
        Class attribute, False here. True on a model that also reads the time
        elapsed before each step: it accepts ``model([windows, deltas])`` and
        ``model(windows, time_delta=deltas)``, and
        :meth:`reconstruction_error` takes ``time_delta``. False: the model
        maps windows alone, and giving time deltas raises ``ValueError``.
        :class:`~fusionlab.detection.AnomalyDetector` reads
        ``getattr(model, "takes_time_delta", False)``, so any Keras model of
        yours that takes ``[windows, deltas]`` and sets
        ``takes_time_delta = True`` is fed deltas derived from the
        timestamps, whether or not it derives from this class.

    Examples
    --------
    The same call scores windows with any of the three models, time deltas
    going only to those that read them:

    >>> import numpy as np
    >>> from fusionlab.nn.anomaly_detection import (
    ...     ConvAutoencoderAnomaly, LiquidAutoencoderAnomaly, ReconstructionAutoencoder)
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4, 8, 2)).astype("float32")
    >>> dt = rng.uniform(0.5, 1.5, size=(4, 8, 1)).astype("float32")
    >>> models = [ConvAutoencoderAnomaly(filters=4, kernel_size=3),
    ...           LiquidAutoencoderAnomaly(hidden_size=4, backbone_units=8)]
    >>> for model in models:
    ...     deltas = dt if model.takes_time_delta else None
    ...     scores = model.reconstruction_error(x, deltas)
    ...     print(type(model).__name__, isinstance(model, ReconstructionAutoencoder),
    ...           model.takes_time_delta, scores.shape, scores.dtype)
    ConvAutoencoderAnomaly True False (4,) float32
    LiquidAutoencoderAnomaly True True (4,) float32
    """

    takes_time_delta = False
    # Attribute that holds the output layer. A `.keras` file stores weights
    # under attribute names, so each model keeps the name it always had.
    _output_attribute = "output_layer"

    def __init__(self, n_features=None, **kwargs):
        super().__init__(**kwargs)
        self.n_features = check_positive_int(n_features, "n_features", allow_none=True)
        self._built_features = None

    # ---------------------------------------------------------------- hooks
    def make_output_layer(self, units):
        """Return the layer that maps the decoder's output to ``units`` features.

        Called once, with ``n_features`` (at construction for the built-in
        models when it is given, else at build with the input's number of
        features). Default: a linear ``Dense`` layer, applied at every step.
        """
        return keras.layers.Dense(units, name="output_dense")

    def build_layers(self, input_shape):
        """Build every layer but the output layer; return its input shape.

        Parameters
        ----------
        input_shape : tuple
            The checked ``(batch, steps, features)`` shape of the windows.

        Returns
        -------
        tuple
            The shape of what the output layer receives (the decoder's
            output), e.g. ``(batch, steps, units)``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_layers(input_shape): build "
            "its encoder and decoder and return the shape the output layer receives."
        )

    def validate_input_shape(self, shape):
        """Check the shape of the windows and return it as a tuple.

        Every entry point (``__call__``, ``build``, ``compute_output_shape``,
        :meth:`reconstruction_error`) goes through this method, so a subclass
        that accepts other inputs overrides it alone.
        """
        return check_window_shape(
            shape,
            type(self).__name__,
            n_features=self.n_features,
            built_features=self._built_features,
        )

    # --------------------------------------------------------------- checks
    def split_inputs(self, inputs, time_delta=None):
        """Return ``(windows, time_delta)`` from the forms a model accepts.

        On a model that takes time deltas, ``inputs`` is the windows (then
        ``time_delta`` is given apart, or None for regular sampling) or the
        pair ``[windows, time_delta]``; on any other model it is the windows
        and ``time_delta`` must be None. Any other form raises the
        documented ``ValueError``. A time-aware subclass starts its ``call``
        with this method.
        """
        if not self.takes_time_delta:
            if time_delta is not None:
                raise ValueError(
                    f"{type(self).__name__} does not take time deltas (its "
                    "takes_time_delta is False), so `time_delta` must be None; "
                    f"received {_describe(time_delta)}. Models that read the time "
                    "between steps, such as LiquidAutoencoderAnomaly, set "
                    "takes_time_delta = True."
                )
            return inputs, None
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2 or time_delta is not None:
                raise ValueError(
                    f"{type(self).__name__} takes `inputs` as an array or as a "
                    "pair [x, time_delta] (then without a separate time_delta); "
                    f"received a {type(inputs).__name__} of {len(inputs)} items"
                    f"{' and a time_delta' if time_delta is not None else ''}."
                )
            return inputs[0], inputs[1]
        return inputs, time_delta

    def _check_inputs(self, inputs, time_delta=None):
        """Check what can be read; return the windows' shape (None if unknown)."""
        # Only what can be read: a Keras dataset or generator has no shape.
        x, delta = self.split_inputs(inputs, time_delta)
        if not hasattr(x, "shape"):
            return None
        shape = self.validate_input_shape(x.shape)
        if delta is not None:
            check_time_delta(delta, shape)
        return shape

    def _empty_output(self, shape):
        """The result of a call on 0 windows of ``shape``, built as a call would.

        The backends' recurrent and convolution kernels fail on an empty
        batch, so none is run.
        """
        if not self.built:
            self.build((None, *shape[1:]))
        return ops.zeros(self.compute_output_shape(shape), dtype=self.compute_dtype)

    def _refuse_empty(self, x, method):
        shape = self._check_inputs(x)
        if shape is not None and is_empty_batch(shape):
            raise ValueError(
                f"{type(self).__name__}.{method} received 0 windows (input shape "
                f"{shape}); there is nothing to {'train' if method == 'fit' else 'evaluate'} "
                "on. Scoring 0 windows is fine: it gives an empty result."
            )

    def _window_shape(self, input_shape):
        if self.takes_time_delta and _is_shape_pair(input_shape):
            input_shape = input_shape[0]
        return self.validate_input_shape(input_shape)

    def _prepare(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        self.validate_input_shape(inputs.shape)
        if inputs.dtype != self.compute_dtype:
            inputs = ops.cast(inputs, self.compute_dtype)
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras wraps call() errors, so the message the user
        # sees starts with what went wrong.
        time_delta = None
        if self.takes_time_delta:
            time_delta = kwargs.get("time_delta", args[0] if args else None)
        shape = self._check_inputs(inputs, time_delta)
        windows = self.split_inputs(inputs, time_delta)[0]
        if (shape is not None and is_empty_batch(shape)
                and not keras.backend.is_keras_tensor(windows)):
            return self._empty_output(shape)
        return super().__call__(inputs, *args, **kwargs)

    # Numpy data is checked before Keras compiles the step, where a bad
    # time delta could no longer be read.
    def fit(self, x=None, y=None, *args, **kwargs):
        self._refuse_empty(x, "fit")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._refuse_empty(x, "evaluate")
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        shape = self._check_inputs(x)
        if shape is not None and is_empty_batch(shape):
            # Keras' predict loop has no batch to run on 0 windows.
            return np.zeros(self.compute_output_shape(shape), dtype=self.compute_dtype)
        return super().predict(x, *args, **kwargs)

    # ---------------------------------------------------------------- build
    def _ensure_output_layer(self, units=None):
        """The output layer, made by :meth:`make_output_layer` on first need."""
        layer = getattr(self, self._output_attribute, None)
        if layer is None:
            layer = None if units is None else self.make_output_layer(units)
            setattr(self, self._output_attribute, layer)
        return layer

    def build(self, input_shape):
        shape = self._window_shape(input_shape)
        self._built_features = shape[-1]
        hidden_shape = self.build_layers(shape)
        self._ensure_output_layer(shape[-1]).build(hidden_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        batch, steps, features = self._window_shape(input_shape)
        return (batch, steps, self.n_features if self.n_features is not None else features)

    # --------------------------------------------------------------- errors
    def _align_steps(self, inputs, reconstructions):
        """Hook for reconstructions with another number of steps than ``inputs``.

        Return both over the steps to compare; unchanged (the default), the
        mismatch raises ``ValueError``.
        """
        return inputs, reconstructions

    def _errors(self, inputs, reconstructions, time_delta=None, **options):
        """Error tensor of ``inputs`` (checked windows) and their reconstructions."""
        inputs = ops.convert_to_tensor(inputs)
        reconstructions = ops.cast(ops.convert_to_tensor(reconstructions), inputs.dtype)
        shapes = f"received shapes {tuple(reconstructions.shape)} and {tuple(inputs.shape)}"
        if len(reconstructions.shape) != 3:
            raise ValueError(
                "`reconstructions` must be 3D (batch, steps, features); "
                f"received shape {tuple(reconstructions.shape)}."
            )
        axis = mismatched_axis(inputs.shape, reconstructions.shape)
        if axis == 1:
            inputs, reconstructions = self._align_steps(inputs, reconstructions)
            axis = mismatched_axis(inputs.shape, reconstructions.shape)
        # Any other mismatch would broadcast into wrong errors.
        if axis is not None:
            what = ("sequences", "steps", "features")[axis]
            raise ValueError(
                f"`reconstructions` holds {reconstructions.shape[axis]} {what} but "
                f"`inputs` holds {inputs.shape[axis]}: `reconstructions` must have "
                "the shape of `inputs` (one reconstruction per window, step by "
                f"step); {shapes}."
            )
        return weighted_reconstruction_error(inputs, reconstructions, time_delta, **options)

    def reconstruction_error(self, inputs, time_delta=None, *, reconstructions=None,
                             reduction="mean", weighting="inverse_delta", eps=1e-3,
                             batch_size=256):
        """Reconstruction error of each window (or step): the anomaly score.

        The error of a step is its squared error averaged over the features;
        a window's score is the mean of its steps' errors, which is its mean
        squared error when no time deltas are given. With time deltas (only
        on a model whose :attr:`takes_time_delta` is True) each step's error
        is weighted by the sampling density, see
        :func:`weighted_reconstruction_error`.

        Parameters
        ----------
        inputs : array-like of shape (batch, steps, features)
            The windows (numpy arrays or eager tensors). A model that takes
            time deltas also accepts the pair ``[windows, time_delta]``.
        time_delta : array-like of shape (batch, steps, 1) or (batch, steps), optional
            Elapsed time before each step, >= 0, fed to the model and used
            for the weights. None: regular sampling, no weighting. Must be
            None on a model whose ``takes_time_delta`` is False
            (``ValueError`` otherwise).
        reconstructions : array-like of shape (batch, steps, features), optional
            Precomputed reconstructions of ``inputs``; computed with
            ``predict`` when omitted.
        reduction : {'mean', None}, default='mean'
            ``'mean'``: one score per window; None: one per step.
        weighting : {'inverse_delta', None}, default='inverse_delta'
            With time deltas, weight each step's error by
            ``1 / (delta + eps)``, normalised to a mean of 1 within each
            window; None for the plain error. No effect without time deltas.
        eps : float, default=1e-3
            Added to the deltas before inverting them.
        batch_size : int, default=256
            Batch size of the reconstruction pass.

        Returns
        -------
        numpy.ndarray
            Of the model's compute dtype (float32 by default), shape
            ``(batch,)`` with ``reduction='mean'`` and ``(batch, steps)``
            with ``reduction=None``. Higher means more anomalous. (A model
            whose reconstructions have another number of steps, such as an
            LSTM autoencoder with ``n_repeats``, compares the steps both
            have, with a ``UserWarning``: ``steps`` is then that number.)

        Raises
        ------
        ValueError
            For windows that are not 3D, have 0 steps or 0 features, or whose
            features differ from the model's (0 windows are fine: the result
            is empty), time deltas given to a model that takes none, time
            deltas of the wrong shape or with negative, NaN or infinite
            values, reconstructions that do not match the windows, and
            unknown options.

        Examples
        --------
        One score per window, or one per step (their mean is the score):

        >>> import numpy as np
        >>> from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly
        >>> windows = np.sin(np.arange(60, dtype="float32")).reshape(5, 6, 2)
        >>> model = LSTMAutoencoderAnomaly(latent_dim=2, lstm_units=4)
        >>> scores = model.reconstruction_error(windows)
        >>> per_step = model.reconstruction_error(windows, reduction=None)
        >>> scores.shape, per_step.shape, bool(np.allclose(per_step.mean(axis=1), scores))
        ((5,), (5, 6), True)

        The LSTM autoencoder takes no time deltas:

        >>> model.reconstruction_error(windows, np.ones((5, 6, 1)))
        Traceback (most recent call last):
        ...
        ValueError: LSTMAutoencoderAnomaly does not take time deltas (its takes_time_delta is False), ...
        """
        x, time_delta = self.split_inputs(inputs, time_delta)
        x = np.asarray(ops.convert_to_numpy(x), dtype=self.compute_dtype)
        self._check_inputs(x, time_delta)
        reduction = check_option(reduction, "reduction", _REDUCTIONS)
        weighting = check_option(weighting, "weighting", _WEIGHTINGS)
        if time_delta is not None:
            time_delta = np.asarray(ops.convert_to_numpy(time_delta), dtype=self.compute_dtype)
        if reconstructions is None:
            batch_size = check_positive_int(batch_size, "batch_size")
            data = x if time_delta is None else [x, time_delta]
            reconstructions = self.predict(data, batch_size=batch_size, verbose=0)
        errors = self._errors(
            x, reconstructions, time_delta, reduction=reduction, weighting=weighting, eps=eps
        )
        return ops.convert_to_numpy(errors)

    def compute_reconstruction_error(self, inputs, reconstructions=None):
        """Mean squared reconstruction error of each window, as a backend tensor.

        The older name of ``reconstruction_error(inputs,
        reconstructions=reconstructions)``, kept for the code that calls it:
        the same numbers, but computed in one call of the model and returned
        as a backend tensor (differentiable, and usable inside a graph).

        Parameters
        ----------
        inputs : array-like of shape (batch, steps, features)
            The windows (on a model that takes time deltas, also the pair
            ``[windows, time_delta]``; the error is then not weighted).
        reconstructions : array-like, optional
            Precomputed ``model(inputs)``; computed when omitted.

        Returns
        -------
        Tensor of shape (batch,)
            Mean over steps and features of the squared error, a backend
            tensor (``keras.ops.convert_to_numpy`` turns it into numpy; on
            TensorFlow ``.numpy()`` works too). When the reconstruction has
            another number of steps (an LSTM autoencoder's ``n_repeats``),
            only the first ``min(steps, n_repeats)`` steps are compared and a
            ``UserWarning`` says so.
        """
        x, time_delta = self.split_inputs(inputs, None)
        x = self._prepare(x)
        if reconstructions is None:
            data = x if time_delta is None else [x, time_delta]
            reconstructions = self(data, training=False)
        return self._errors(x, reconstructions)

    # ----------------------------------------------------------- serialising
    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features}
