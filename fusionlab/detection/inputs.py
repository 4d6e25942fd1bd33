"""Input stage of the series detector: checks, timestamps, imputation, scaling, time deltas.

Every function takes plain values and returns new ones; none keeps state.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from fusionlab.detection.inputs import read_series, time_deltas
>>> frame = pd.DataFrame({"load": [1.0, np.nan, 3.0, 4.0]},
...                      index=pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01",
...                                            "2024-01-01 00:03", "2024-01-01 00:04"]))
>>> series = read_series(frame, impute="linear")
>>> series.values.ravel().tolist(), list(series.names)
([1.0, 2.0, 3.0, 4.0], ['load'])
>>> time_deltas(series.timestamps, 4, scale=60.0).tolist()
[1.0, 1.0, 2.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from .._validation import as_2d, check_finite, check_option

__all__ = [
    "SCALERS",
    "IMPUTATIONS",
    "SeriesData",
    "read_series",
    "check_timestamps",
    "impute_values",
    "time_gaps",
    "median_gap",
    "time_deltas",
    "make_scaler",
    "scale_values",
]

#: Scalers by name (``AnomalyDetector(scaler=...)``).
SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
#: Imputation policies (``AnomalyDetector(impute=...)``).
IMPUTATIONS = (None, "linear", "ffill")


@dataclass(frozen=True)
class SeriesData:
    """A checked series, as :func:`read_series` returns it.

    Attributes
    ----------
    values : ndarray of shape (n_points, n_features), float64
        Finite values (imputed when asked).
    names : ndarray of str
        Column names, or ``'x0'``, ``'x1'``... when the data has none.
    has_names : bool
        Whether the names came from the data (a DataFrame with string columns).
    index : pandas.Index or None
        The index of a pandas input, else None.
    timestamps : pandas.Index or None
        Sorted unique times of the rows (``timestamps`` or a non-range index).
    """

    values: np.ndarray
    names: np.ndarray
    has_names: bool
    index: pd.Index | None
    timestamps: pd.Index | None


def _default_names(n_features):
    return np.asarray([f"x{i}" for i in range(n_features)], dtype=object)


def _frame_values(X):
    duplicated = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
    if duplicated:
        raise ValueError(
            f"`X` has duplicate column names {duplicated}; give every column its own "
            "name (e.g. `X.columns = [...]`)."
        )
    complex_columns = [c for c in X.columns if pd.api.types.is_complex_dtype(X[c])]
    if complex_columns:
        raise TypeError(
            f"`X` must hold real numbers; received complex numbers in column(s) "
            f"{complex_columns}, whose imaginary part would be lost. Pass the real "
            "part, the magnitude or both as columns."
        )
    bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if bad:
        raise TypeError(
            "`X` must hold numeric columns only; received non-numeric column(s) "
            f"{bad} (dtypes {[str(X[c].dtype) for c in bad]}). Drop them or pass "
            "the numeric columns."
        )
    if all(isinstance(c, str) for c in X.columns):
        names, has_names = np.asarray(X.columns, dtype=object), True
    else:
        names, has_names = _default_names(X.shape[1]), False
    return X.to_numpy(dtype=np.float64, na_value=np.nan), names, has_names


def _array_values(X):
    if np.iscomplexobj(X):
        raise TypeError(
            "`X` must hold real numbers; received complex numbers, whose imaginary "
            "part would be lost. Pass the real part, the magnitude or both as columns."
        )
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "`X` must be a numeric array, DataFrame or Series of shape "
            f"(n_points, n_features); could not convert it to float ({exc})."
        ) from exc
    values = as_2d(values, "X")
    return values, _default_names(values.shape[1]), False


def read_series(X, timestamps=None, *, impute=None, n_features=None, feature_names=None,
                compare_names=True):
    """Check a series and return it as a :class:`SeriesData`.

    Parameters
    ----------
    X : DataFrame, Series or array-like of shape (n_points, n_features)
        Time along the rows, numeric columns.
    timestamps : array-like of shape (n_points,), optional
        Times of the rows; defaults to a non-range index of ``X``.
    impute : {None, 'linear', 'ffill'}, default=None
        What to do with NaN/inf values (see :func:`impute_values`).
    n_features : int, optional
        Expected number of features (a fitted detector's); a mismatch raises.
    feature_names : sequence of str, optional
        Expected names (a fitted detector's), quoted in the mismatch errors.
    compare_names : bool, default=True
        Also raise when the data's own names differ from ``feature_names``
        (only data with names is compared).

    Raises
    ------
    TypeError
        For non-numeric data.
    ValueError
        For empty data, a feature mismatch, bad timestamps or NaN without
        ``impute``.
    """
    index = None
    if isinstance(X, pd.Series):
        X = X.to_frame(name=X.name if X.name is not None else "x0")
    if isinstance(X, pd.DataFrame):
        index = X.index
        values, names, has_names = _frame_values(X)
    else:
        values, names, has_names = _array_values(X)
    n, f = values.shape
    if n == 0 or f == 0:
        raise ValueError(
            f"`X` is empty: received shape {values.shape}; expected at least one "
            "row and one column."
        )
    if n_features is not None and f != n_features:
        raise ValueError(
            f"`X` has {f} features but the detector was fitted with "
            f"{n_features} ({[] if feature_names is None else list(feature_names)})."
        )
    if (compare_names and has_names and feature_names is not None
            and list(names) != list(feature_names)):
        raise ValueError(
            "The feature names of `X` differ from those seen at fit: "
            f"received {list(names)}, expected {list(feature_names)}."
        )
    stamps = check_timestamps(timestamps, index, n)
    values = impute_values(values, names, impute)
    return SeriesData(values, names, has_names, index, stamps)


def check_timestamps(timestamps, index, n):
    """Sorted unique times of the ``n`` rows, or None when there are none.

    ``timestamps`` wins over ``index``; a range index (or no index) means no
    timestamps.
    """
    if timestamps is None:
        if index is None or isinstance(index, pd.RangeIndex):
            return None
        stamps, source = index, "the index of `X`"
    else:
        stamps, source = pd.Index(np.asarray(timestamps)), "`timestamps`"
        if len(stamps) != n:
            raise ValueError(
                f"`timestamps` must have one value per row of `X` ({n}); received "
                f"{len(stamps)}."
            )
    if stamps.hasnans:
        pos = int(np.flatnonzero(stamps.isna())[0])
        raise ValueError(
            f"{source} holds missing timestamps (first at position {pos}); every "
            "row needs a time."
        )
    if stamps.has_duplicates:
        dup = stamps[stamps.duplicated()][0]
        raise ValueError(f"{source} holds duplicate timestamps (first: {dup}).")
    if not stamps.is_monotonic_increasing:
        raw = np.asarray(stamps)
        pos = int(np.flatnonzero(raw[1:] < raw[:-1])[0]) + 1
        raise ValueError(
            f"{source} must be sorted in increasing order; received "
            f"{stamps[pos - 1]} before {stamps[pos]} (position {pos}). Sort the data "
            "by time first."
        )
    return stamps


def impute_values(values, names, impute):
    """``values`` with NaN/inf filled by the ``impute`` policy.

    ``None`` raises a ``ValueError`` naming the first bad position;
    ``'linear'`` interpolates (extending the edge values); ``'ffill'``
    carries the last valid value forward, then the first one backward.
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    if impute is None:
        check_finite(values, "X")
    frame = pd.DataFrame(np.where(bad, np.nan, values))
    empty = [str(names[i]) for i in np.flatnonzero(frame.isna().all().to_numpy())]
    if empty:
        raise ValueError(f"Cannot impute column(s) {empty}: they hold no finite value.")
    if impute == "linear":
        frame = frame.interpolate(method="linear", limit_direction="both")
    else:
        frame = frame.ffill().bfill()
    return frame.to_numpy(dtype=np.float64)


def time_gaps(stamps):
    """Gaps between consecutive timestamps: seconds for datetimes, else numbers."""
    if pd.api.types.is_numeric_dtype(stamps.dtype):
        return np.diff(np.asarray(stamps, dtype=np.float64))
    try:
        stamps = pd.DatetimeIndex(stamps)
        return np.asarray((stamps[1:] - stamps[:-1]).total_seconds(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "Timestamps must be datetimes or numbers to derive time deltas; "
            f"received dtype {stamps.dtype}."
        ) from exc


def median_gap(stamps):
    """Median gap of ``stamps`` (None without timestamps or with one point)."""
    if stamps is None or len(stamps) < 2:
        return None
    return float(np.median(time_gaps(stamps)))


def time_deltas(stamps, n, scale=None):
    """Time elapsed before each of the ``n`` points, in units of ``scale``.

    The first point gets 1; without timestamps every delta is 1. ``scale``
    defaults to the median gap of ``stamps``.
    """
    if stamps is None:
        return np.ones(n, dtype=np.float32)
    gaps = time_gaps(stamps)
    scale = scale if scale else median_gap(stamps)
    return np.r_[1.0, gaps / scale].astype(np.float32)


def make_scaler(spec):
    """A new, unfitted scaler from a name, None or a transformer (cloned)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        key = check_option(spec, "scaler", tuple(SCALERS))
        return SCALERS[key]()
    if hasattr(spec, "fit") and hasattr(spec, "transform"):
        return clone(spec)
    raise TypeError(
        "`scaler` must be 'standard', 'minmax', 'robust', None or a scikit-learn "
        f"transformer; received {spec!r}."
    )


def scale_values(scaler, values):
    """``values`` transformed by a fitted ``scaler`` (or as they are), as float32.

    Raises ``ValueError`` when the scaler produces NaN or infinite values.
    """
    scaled = values if scaler is None else scaler.transform(values)
    if not np.all(np.isfinite(scaled)):
        raise ValueError(
            "The scaler produced NaN or infinite values; check the data or the "
            f"scaler ({scaler!r})."
        )
    with np.errstate(over="ignore"):
        scaled = np.ascontiguousarray(scaled, dtype=np.float32)
    if not np.all(np.isfinite(scaled)):
        limit = float(np.finfo(np.float32).max)
        raise ValueError(
            f"Values lie beyond the float32 range (about {limit:.1e}) once scaled "
            f"({scaler!r}); the models compute in float32. Rescale the data (or "
            "use a scaler fitted on it)."
        )
    return scaled
