"""Sequence layers running the liquid cells over irregularly sampled steps."""

from __future__ import annotations

import keras
from keras import ops

from ..._validation import check_bool, check_positive_int
from .._checks import check_nonzero_sizes
from .cells import CfCCell, LTCCell
from .time_delta import check_time_delta, prepare_time_delta

__all__ = ["CfC", "LTC"]


class _LiquidRNN(keras.layers.Layer):
    """Shared part of :class:`CfC` and :class:`LTC`.

    Subclasses set ``_cell_kwargs`` (the cell's own arguments, also saved in
    the config) before calling ``__init__`` and build the cell in
    ``_make_cell``.
    """

    def __init__(self, units, return_sequences=True, return_state=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.return_sequences = check_bool(return_sequences, "return_sequences")
        self.return_state = check_bool(return_state, "return_state")
        self.cell = self._make_cell()
        self.rnn = keras.layers.RNN(
            self.cell,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            name="rnn",
        )

    def _make_cell(self):
        raise NotImplementedError

    def validate_input_shape(self, shape):
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects a 3D input of shape (batch, "
                f"steps, features) with known features; received shape {shape}."
            )
        # 0 steps fail in the RNN loop; a batch of 0 gives an empty output.
        return check_nonzero_sizes(shape, type(self).__name__)

    def __call__(self, inputs, time_delta=None, *args, **kwargs):
        # Checked before Keras wraps call() errors.
        if hasattr(inputs, "shape"):
            shape = self.validate_input_shape(inputs.shape)
            if time_delta is not None:
                check_time_delta(time_delta, shape)
        return super().__call__(inputs, time_delta, *args, **kwargs)

    def build(self, input_shape):
        batch, steps, features = self.validate_input_shape(input_shape)
        # The cell reads the elapsed time as one extra input column.
        self.rnn.build((batch, steps, features + 1))
        self.built = True

    def call(self, inputs, time_delta=None, initial_state=None, training=False):
        delta = prepare_time_delta(time_delta, inputs, inputs.dtype)
        # Dropout masks are drawn here, once per sequence, so that the step
        # loop holds no random state (a per-step draw leaks tracers on JAX).
        masked = bool(training) and hasattr(self.cell, "draw_dropout_masks")
        if masked:
            self.cell.draw_dropout_masks(ops.shape(inputs)[0], inputs.dtype)
        try:
            return self.rnn(
                ops.concatenate([inputs, delta], axis=-1),
                initial_state=initial_state,
                training=training,
            )
        finally:
            if masked:
                self.cell.clear_dropout_masks()

    def compute_output_shape(self, inputs_shape, time_delta_shape=None):
        batch, steps, _ = self.validate_input_shape(inputs_shape)
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out, (batch, self.units)]
        return out

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
        })
        # The cell's own arguments, as the cell checked and stored them.
        config.update({key: getattr(self.cell, key) for key in self._cell_kwargs})
        return config


@keras.saving.register_keras_serializable(package="fusionlab")
class CfC(_LiquidRNN):
    """Closed-form continuous-time recurrent layer (a :class:`CfCCell` run
    over the steps, with the elapsed time fed to every step).

    Parameters
    ----------
    units : int
        State size.
    backbone_units, backbone_layers, backbone_activation, backbone_dropout
        See :class:`CfCCell`.
    return_sequences : bool, default=True
        Return the output at every step ``(batch, steps, units)`` rather than
        at the last step only ``(batch, units)``.
    return_state : bool, default=False
        Also return the final state.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    ``call(inputs, time_delta=None, initial_state=None, training=False)``:
    ``time_delta`` has shape ``(batch, steps, 1)`` or ``(batch, steps)`` and
    holds the time elapsed before each step, non-negative; ``None`` means a
    delta of 1 at every step. Its shape is always checked; its values when
    they can be read (numpy arrays, eager tensors).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.liquid import CfC
    >>> x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    >>> dt = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 7)).astype("float32")
    >>> layer = CfC(8, backbone_units=16)
    >>> tuple(layer(x, time_delta=dt).shape), tuple(layer(x).shape)
    ((2, 7, 8), (2, 7, 8))
    """

    def __init__(self, units, backbone_units=64, backbone_layers=2,
                 backbone_activation="lecun_tanh", backbone_dropout=0.0,
                 return_sequences=True, return_state=False, **kwargs):
        self._cell_kwargs = {
            "backbone_units": backbone_units,
            "backbone_layers": backbone_layers,
            "backbone_activation": backbone_activation,
            "backbone_dropout": backbone_dropout,
        }
        super().__init__(units, return_sequences=return_sequences,
                         return_state=return_state, **kwargs)

    def _make_cell(self):
        return CfCCell(self.units, name="cfc_cell", **self._cell_kwargs)


@keras.saving.register_keras_serializable(package="fusionlab")
class LTC(_LiquidRNN):
    """Liquid time-constant recurrent layer (an :class:`LTCCell` run over the
    steps, its ODE integrated over each step's elapsed time).

    Parameters
    ----------
    units : int
        Number of neurons.
    ode_unfolds, epsilon
        See :class:`LTCCell`.
    return_sequences, return_state : bool
        See :class:`CfC`.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    ``call(inputs, time_delta=None, initial_state=None, training=False)``,
    as for :class:`CfC`.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.nn.liquid import LTC
    >>> x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    >>> tuple(LTC(5, return_sequences=False)(x).shape)
    (2, 5)
    """

    def __init__(self, units, ode_unfolds=6, epsilon=1e-8, return_sequences=True,
                 return_state=False, **kwargs):
        self._cell_kwargs = {"ode_unfolds": ode_unfolds, "epsilon": epsilon}
        super().__init__(units, return_sequences=return_sequences,
                         return_state=return_state, **kwargs)

    def _make_cell(self):
        return LTCCell(self.units, name="ltc_cell", **self._cell_kwargs)
