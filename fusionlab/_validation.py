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
    "check_real",
    "check_rate",
    "check_bool",
    "check_option",
    "check_finite",
    "check_numeric",
    "as_1d",
    "as_2d",
    "check_scores",
    "check_binary",
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


def _interval(low, high, include_low, include_high) -> str:
    """``'in [0.0, 1.0)'``, ``'strictly between 0 and 1'``, ``'>= 0'``, ``'< 5'``
    or ``''`` (no bound)."""
    if low is not None and high is not None and not (include_low or include_high):
        return f"strictly between {low} and {high}"
    if low is not None and high is not None:
        return f"in {'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
    if low is not None:
        return f"{'>=' if include_low else '>'} {low}"
    if high is not None:
        return f"{'<=' if include_high else '<'} {high}"
    return ""


def check_real(value, name: str, *, low=None, high=None, include_low: bool = True,
               include_high: bool = True, allow_none: bool = False):
    """Return ``value`` as a finite ``float``, optionally inside an interval.

    ``low`` / ``high`` (None: unbounded) are closed bounds unless
    ``include_low`` / ``include_high`` is False.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a bool is not one; ``None`` is
        accepted, and returned, when ``allow_none``).
    ValueError
        If ``value`` is NaN, infinite or outside the interval.

    Examples
    --------
    >>> from fusionlab._validation import check_real
    >>> check_real(2, "k", low=0)
    2.0
    >>> check_real(0.0, "rate", low=0.0, high=0.5, include_low=False)
    Traceback (most recent call last):
    ...
    ValueError: `rate` must be in (0.0, 0.5]; received 0.0.
    """
    if value is None and allow_none:
        return None
    interval = _interval(low, high, include_low, include_high)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        expected = " ".join(filter(None, ("a number", interval)))
        raise TypeError(
            f"`{name}` must be {expected}{' or None' if allow_none else ''}; "
            f"received {value!r} of type {type(value).__name__}."
        )
    value = float(value)
    inside = bool(np.isfinite(value))
    if inside and low is not None:
        inside = value >= low if include_low else value > low
    if inside and high is not None:
        inside = value <= high if include_high else value < high
    if not inside:
        if low is not None and high is not None:
            expected = interval
        elif interval:
            expected = f"a finite number {interval}"
        else:
            expected = "finite"
        raise ValueError(f"`{name}` must be {expected}; received {value}.")
    return value


def check_rate(value, name: str, *, low: float = 0.0, high: float = 1.0,
               include_high: bool = True) -> float:
    """Return ``value`` as a ``float`` if it lies in ``[low, high]``.

    With ``include_high=False`` the interval is ``[low, high)``. A shorthand
    for :func:`check_real` with both bounds.
    """
    return check_real(value, name, low=low, high=high, include_high=include_high)


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a ``bool`` if it is one (``numpy.bool_`` included).

    A truthy string such as ``"False"`` or an integer must not silently
    switch a mode on, so anything else raises ``TypeError``.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"`{name}` must be a bool (True or False); received {value!r} "
            f"of type {type(value).__name__}."
        )
    return bool(value)


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


def as_1d(values, name: str) -> np.ndarray:
    """Return ``values`` as a non-empty 1D array (any dtype).

    A ``(n, 1)`` or ``(1, n)`` array (a model's output column, a one-column
    frame) is unambiguous and is flattened.
    """
    try:
        array = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"`{name}` must be array-like; received {type(values).__name__}."
        ) from exc
    if array.ndim == 2 and 1 in array.shape and array.size > 0:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional; received shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"`{name}` is empty; at least one value is needed.")
    return array


def check_numeric(values, name: str) -> np.ndarray:
    """Return bool, integer or float values, all finite, as a ``float64`` array.

    Raises
    ------
    TypeError
        If the values are not numeric (strings, objects, complex numbers...).
    ValueError
        If they hold NaN or infinite values (see :func:`check_finite`).
    """
    array = np.asarray(values)
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(
            f"`{name}` must be numeric (bool, integer or float); received dtype "
            f"{array.dtype}."
        )
    array = array.astype(np.float64)
    check_finite(array, name)
    return array


def check_scores(scores, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a non-empty, finite, 1D ``float64`` array.

    Bool, integer and float values are accepted; see :func:`as_1d` for the
    shapes.

    Raises
    ------
    TypeError
        If ``scores`` is not array-like or not numeric.
    ValueError
        If it is not 1D, is empty, or holds NaN or infinite values.

    Examples
    --------
    >>> from fusionlab._validation import check_scores
    >>> check_scores([[0.5], [2.0]]).tolist()
    [0.5, 2.0]
    """
    return check_numeric(as_1d(scores, name), name)


def check_binary(values, name: str) -> np.ndarray:
    """Return 0/1 (or ``True``/``False``) values as a non-empty 1D bool array.

    Raises
    ------
    ValueError
        If the values are not 1D, are empty, or hold anything but 0 and 1.
    """
    array = as_1d(values, name)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"`{name}` must hold 0/1 values; received dtype {array.dtype}.")
    bad = (array != 0) & (array != 1)
    if bad.any():
        shown = np.unique(array[bad])[:5]
        raise ValueError(
            f"`{name}` must be binary (0/1 or True/False); received other values "
            f"such as {shown.tolist()}."
        )
    return array.astype(bool)
