"""Checks and preparation of the elapsed-time input of liquid layers."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["check_time_delta", "concrete_values", "prepare_time_delta"]


def concrete_values(value):
    """``value`` as a numpy array when its values can be read now, else None.

    Numpy arrays, lists and eager tensors can be read; symbolic tensors (a
    ``keras.Input``, a tensor inside a compiled ``fit`` step or a JAX tracer)
    cannot, and give None.
    """
    if value is None:
        return None
    if isinstance(value, (np.ndarray, list, tuple, float, int)):
        return np.asarray(value)
    if keras.backend.is_keras_tensor(value):
        return None
    try:
        return np.asarray(ops.convert_to_numpy(value))
    except Exception:  # noqa: BLE001 - any backend's "symbolic tensor" error
        return None


def _shape_of(value):
    shape = getattr(value, "shape", None)
    if shape is None:
        shape = np.shape(value)
    return tuple(shape)


def check_time_delta(time_delta, inputs_shape, name="time_delta"):
    """Check the shape and, when readable, the values of ``time_delta``.

    Parameters
    ----------
    time_delta : array-like or tensor
        Elapsed time before each step, of shape ``(batch, steps, 1)`` or
        ``(batch, steps)``.
    inputs_shape : tuple
        Shape ``(batch, steps, features)`` of the inputs it goes with.
    name : str
        Name used in the error messages.

    Returns
    -------
    tuple
        The shape of ``time_delta``.

    Raises
    ------
    ValueError
        For another rank, a last axis other than 1 on a 3D delta, a number of
        steps or a batch size that differs from the inputs', or values that
        are negative, NaN or infinite. Values are only checked when they can
        be read (numpy arrays and eager tensors); on symbolic tensors only
        the shape is checked.
    """
    shape = _shape_of(time_delta)
    inputs_shape = tuple(inputs_shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, None)):
        raise ValueError(
            f"`{name}` must have shape (batch, steps, 1) or (batch, steps); "
            f"received shape {shape}."
        )
    for axis, label in ((1, "steps"), (0, "batch size")):
        mine, theirs = shape[axis], inputs_shape[axis]
        if mine is not None and theirs is not None and mine != theirs:
            raise ValueError(
                f"`{name}` has {label} {mine} but the inputs have {label} "
                f"{theirs}; received {name} shape {shape} for inputs of shape "
                f"{inputs_shape}."
            )
    values = concrete_values(time_delta)
    if values is not None:
        values = values.astype("float64", copy=False)
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"`{name}` contains {int(bad.sum())} NaN or infinite value(s) "
                f"(first at position {first})."
            )
        negative = values < 0
        if negative.any():
            first = tuple(int(i) for i in np.argwhere(negative)[0])
            raise ValueError(
                f"`{name}` must be >= 0 (elapsed time before each step); it "
                f"holds {int(negative.sum())} negative value(s), first "
                f"{values[first]:g} at position {first}."
            )
    return shape


def prepare_time_delta(time_delta, inputs, dtype):
    """A ``(batch, steps, 1)`` tensor of elapsed times for ``inputs``.

    ``None`` means regular sampling: a delta of 1 at every step.
    """
    if time_delta is None:
        return ops.ones_like(inputs[:, :, :1], dtype=dtype)
    time_delta = ops.convert_to_tensor(time_delta)
    if len(time_delta.shape) == 2:
        time_delta = ops.expand_dims(time_delta, -1)
    if time_delta.dtype != dtype:
        time_delta = ops.cast(time_delta, dtype)
    return time_delta
