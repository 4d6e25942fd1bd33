"""Argument checks shared by the whole package.

Every public constructor and function validates its arguments with these
helpers so that a bad value fails at once, naming the argument, what was
expected and what was received.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_positive_int",
    "check_non_negative_int",
    "check_rate",
    "check_option",
    "check_finite",
    "as_2d",
]


def _is_int(value) -> bool:
    # bool is an int subclass but never a meaningful size.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(value, name: str, *, allow_none: bool = False):
    """Return ``value`` as an ``int`` if it is an integer >= 1.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``None`` is accepted when
        ``allow_none``).
    ValueError
        If ``value`` is smaller than 1.
    """
    if value is None and allow_none:
        return None
    if not _is_int(value):
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise TypeError(
            f"`{name}` must be {expected}; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer (>= 1); received {value}.")
    return int(value)


def check_non_negative_int(value, name: str, *, allow_none: bool = False):
    """Return ``value`` as an ``int`` if it is an integer >= 0."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise TypeError(
            f"`{name}` must be a non-negative integer; received {value!r} "
            f"of type {type(value).__name__}."
        )
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0; received {value}.")
    return int(value)


def check_rate(value, name: str, *, low: float = 0.0, high: float = 1.0,
               include_high: bool = True) -> float:
    """Return ``value`` as a ``float`` if it lies in ``[low, high]``.

    With ``include_high=False`` the interval is ``[low, high)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a number in [{low}, {high}{']' if include_high else ')'}; "
            f"received {value!r} of type {type(value).__name__}."
        )
    value = float(value)
    upper_ok = value <= high if include_high else value < high
    if not (np.isfinite(value) and low <= value and upper_ok):
        bracket = "]" if include_high else ")"
        raise ValueError(f"`{name}` must be in [{low}, {high}{bracket}; received {value}.")
    return value


def check_option(value, name: str, options, *, case_insensitive: bool = True):
    """Return ``value`` if it is one of ``options`` (lower-cased strings)."""
    if isinstance(value, str) and case_insensitive:
        candidate = value.lower()
    else:
        candidate = value
    if candidate not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"`{name}` must be one of {choices}; received {value!r}.")
    return candidate


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if a numeric array holds NaN or infinite values.

    The message gives how many values are bad and the first position, so the
    user can find them in their data.
    """
    bad = ~np.isfinite(array)
    if bad.any():
        count = int(bad.sum())
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{name}` contains {count} NaN or infinite value(s) "
            f"(first at position {first if len(first) > 1 else first[0]}); "
            "clean or impute the data first."
        )


def as_2d(values: np.ndarray, name: str) -> np.ndarray:
    """Return a 1D array as one column and a 2D array as it is; raise otherwise."""
    if values.ndim == 1:
        return values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"`{name}` must be 1D or 2D (n_points, n_features); received shape "
            f"{values.shape}."
        )
    return values
