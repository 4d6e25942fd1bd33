"""Argument and shape checks shared by fusionlab's Keras layers and models."""

from __future__ import annotations

import keras

# The generic checks live in fusionlab._validation; check_bool is re-exported
# for the layers that import it from here.
from .._validation import check_bool

__all__ = [
    "check_activation",
    "check_bool",
    "check_nonzero_sizes",
    "check_window_shape",
    "is_empty_batch",
    "mismatched_axis",
]


def check_activation(value, name: str):
    """Return ``value`` if Keras knows it as an activation, else raise ``ValueError``."""
    try:
        keras.activations.get(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"`{name}` must be a Keras activation name such as 'tanh', 'relu' or "
            f"'linear'; received {value!r}."
        ) from exc
    return value


def check_nonzero_sizes(shape, owner: str):
    """Raise ``ValueError`` if the steps or features axis of ``shape`` is 0.

    ``shape`` is ``(batch, steps, features)`` or ``(batch, features)``;
    unknown (None) sizes pass. A batch of 0 passes too: an empty batch is a
    valid input that gives an empty result, whereas a window of no steps or
    a step of no features has nothing to compute on (a mean over it is NaN,
    and the backends' kernels fail on it).
    """
    shape = tuple(shape)
    if len(shape) == 3 and shape[1] == 0:
        raise ValueError(
            f"{owner} needs at least one step (axis 1); received shape {shape}."
        )
    if len(shape) >= 2 and shape[-1] == 0:
        raise ValueError(
            f"{owner} needs at least one feature (last axis); received shape {shape}."
        )
    return shape


def is_empty_batch(shape) -> bool:
    """Whether ``shape`` is known to hold a batch of 0."""
    shape = tuple(shape)
    return bool(shape) and shape[0] == 0


def check_window_shape(shape, owner: str, *, n_features=None, built_features=None):
    """Check a ``(batch, steps, features)`` shape and return it as a tuple.

    The batch may be 0 (an empty batch, which the models answer with an
    empty result); 0 steps or 0 features raise ``ValueError``.

    Parameters
    ----------
    shape : sequence
        The input shape.
    owner : str
        Class name used in the messages.
    n_features : int or None
        Features fixed at construction.
    built_features : int or None
        Features the model was built with (used when ``n_features`` is None).
    """
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"{owner} expects a 3D input of shape (batch, steps, features); "
            f"received shape {shape} ({len(shape)}D)."
        )
    features = shape[-1]
    if features is None:
        raise ValueError(
            f"{owner} needs the number of features (last axis) to be known; "
            f"received shape {shape}."
        )
    check_nonzero_sizes(shape, owner)
    expected = n_features if n_features is not None else built_features
    if expected is not None and features != expected:
        origin = "n_features" if n_features is not None else "the model was built with"
        raise ValueError(
            f"Input has {features} features but {origin} = {expected}; "
            f"received input shape {shape}."
        )
    return shape


def mismatched_axis(shape_a, shape_b):
    """First axis where two equal-rank shapes differ, ignoring unknown (None) sizes.

    Returns None when every known size agrees.
    """
    for axis, (a, b) in enumerate(zip(shape_a, shape_b, strict=True)):
        if a is not None and b is not None and a != b:
            return axis
    return None
