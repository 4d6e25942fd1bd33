"""Forecasting arrays from a long-format table of several series."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_positive_int
from .utils import create_sequences

__all__ = ["ForecastArrays", "make_forecast_arrays"]


class ForecastArrays(NamedTuple):
    """The arrays :func:`make_forecast_arrays` returns (a named tuple).

    Attributes
    ----------
    static : numpy.ndarray of shape (n, S)
        Static features of the item each sample belongs to.
    dynamic : numpy.ndarray of shape (n, lookback, D)
        Past values of ``dynamic_cols``, in that order.
    future : numpy.ndarray of shape (n, horizon, F)
        Values of ``future_cols`` over the forecast horizon.
    target : numpy.ndarray of shape (n, horizon)
        The ``horizon`` target values to forecast.
    index : pandas.DataFrame
        One row per sample: the item and the time of its first forecast step
        (columns ``item_col`` and ``'forecast_start'``).
    """

    static: np.ndarray
    dynamic: np.ndarray
    future: np.ndarray
    target: np.ndarray
    index: pd.DataFrame

    @property
    def inputs(self):
        """``[static, dynamic, future]``, the inputs of ``AnomalyAwareForecaster``."""
        return [self.static, self.dynamic, self.future]

    def take(self, rows):
        """The samples selected by a boolean mask or integer positions."""
        rows = np.asarray(rows)
        if rows.dtype == bool and rows.shape != (len(self.index),):
            raise ValueError(
                f"A boolean `rows` mask must have one value per sample "
                f"({len(self.index)}); received shape {rows.shape}."
            )
        return ForecastArrays(
            self.static[rows],
            self.dynamic[rows],
            self.future[rows],
            self.target[rows],
            self.index.iloc[rows].reset_index(drop=True),
        )


def _column_list(value, name):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        cols = list(value)
    except TypeError:
        return [value]
    duplicated = sorted({c for c in cols if cols.count(c) > 1}, key=str)
    if duplicated:
        raise ValueError(f"`{name}` lists column(s) {duplicated} more than once.")
    return cols


def _plain(value):
    # numpy scalars print as np.int64(3); messages should read like the data.
    return value.item() if isinstance(value, np.generic) else value


def _check_numeric(df, cols, name):
    bad = [
        f"{c!r} ({df[c].dtype})"
        for c in cols
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if bad:
        raise TypeError(
            f"`{name}` must name numeric columns; received non-numeric column(s) "
            f"{', '.join(bad)}. Encode them first."
        )


def make_forecast_arrays(
    df,
    item_col,
    time_col,
    target_col,
    static_cols=None,
    dynamic_cols=None,
    future_cols=None,
    lookback=None,
    horizon=None,
    *,
    step=1,
):
    """Cut a long-format multi-series table into multi-horizon forecasting samples.

    ``df`` has one row per (item, time). Each item's rows are ordered by
    ``time_col`` and windowed with :func:`fusionlab.nn.utils.create_sequences`
    (``forecast_horizon=horizon``): a sample is ``lookback`` past rows of
    ``dynamic_cols``, the ``horizon`` next values of ``target_col``, the
    ``future_cols`` over those same ``horizon`` steps (covariates known in
    advance: calendar, planned prices...), and the item's ``static_cols``.
    Windows never span two items.

    Parameters
    ----------
    df : pandas.DataFrame
        The series in long format.
    item_col, time_col, target_col : hashable
        Columns naming the series, ordering its rows (any sortable type), and
        holding the value to forecast (numeric).
    static_cols : list, optional
        Numeric columns constant within each item. None: no static features
        (shape ``(n, 0)``).
    dynamic_cols : list, optional
        Numeric columns observed in the past. None: ``[target_col]``. The
        target is not added when a list is given, so include it to let the
        model see the target's history.
    future_cols : list, optional
        Numeric columns known over the horizon. None: none (``(n, horizon, 0)``).
    lookback, horizon : int
        Past steps per sample and steps to forecast, both >= 1.
    step : int, default=1
        Rows between the starts of consecutive windows of an item.

    Returns
    -------
    ForecastArrays
        Named tuple ``(static, dynamic, future, target, index)`` of float32
        arrays of shapes ``(n, S)``, ``(n, lookback, D)``,
        ``(n, horizon, F)``, ``(n, horizon)`` and a DataFrame with the item
        and the first forecast time of each sample; items in sorted order,
        samples in time order within an item. ``.inputs`` gives
        ``[static, dynamic, future]``.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame or a feature column is not numeric.
    KeyError
        If a named column is missing (all missing names are listed).
    ValueError
        If a column list repeats a name, a used column holds NaN/infinite
        values (the column, item and time are named), an item repeats a
        time, a static column varies within an item, an item has fewer than
        ``lookback + horizon`` rows (the short items are listed), or a size
        is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from fusionlab.nn.forecast_data import make_forecast_arrays
    >>> df = pd.DataFrame({
    ...     "store": np.repeat(["a", "b"], 10),
    ...     "month": np.tile(np.arange(10), 2),
    ...     "sales": np.arange(20.0),
    ...     "size": np.repeat([1.0, 2.0], 10),
    ... })
    >>> df["month_sin"] = np.sin(2 * np.pi * df["month"] / 12)
    >>> data = make_forecast_arrays(df, "store", "month", "sales",
    ...                             static_cols=["size"], future_cols=["month_sin"],
    ...                             lookback=4, horizon=2)
    >>> [a.shape for a in data.inputs], data.target.shape
    ([(10, 1), (10, 4, 1), (10, 2, 1)], (10, 2))
    >>> data.target[0]
    array([4., 5.], dtype=float32)
    >>> data.index.head(3)
      store  forecast_start
    0     a               4
    1     a               5
    2     a               6
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            "`df` must be a pandas DataFrame in long format (one row per item and "
            f"time); received {type(df).__name__}."
        )
    lookback = check_positive_int(lookback, "lookback")
    horizon = check_positive_int(horizon, "horizon")
    step = check_positive_int(step, "step")
    static_cols = _column_list(static_cols, "static_cols")
    future_cols = _column_list(future_cols, "future_cols")
    dynamic_cols = (
        [target_col] if dynamic_cols is None else _column_list(dynamic_cols, "dynamic_cols")
    )
    if not dynamic_cols:
        raise ValueError("`dynamic_cols` must name at least one column; received [].")

    roles = {
        "item_col": [item_col],
        "time_col": [time_col],
        "target_col": [target_col],
        "static_cols": static_cols,
        "dynamic_cols": dynamic_cols,
        "future_cols": future_cols,
    }
    missing = {
        role: [c for c in cols if c not in df.columns]
        for role, cols in roles.items()
    }
    missing = {role: cols for role, cols in missing.items() if cols}
    if missing:
        detail = "; ".join(f"{role}: {cols}" for role, cols in missing.items())
        raise KeyError(
            f"Column(s) not in `df`: {detail}. Available columns: {list(df.columns)}."
        )
    for role in ("target_col", "static_cols", "dynamic_cols", "future_cols"):
        _check_numeric(df, roles[role], role)

    value_cols = list(dict.fromkeys([target_col, *static_cols, *dynamic_cols, *future_cols]))
    for col in value_cols:
        values = df[col].to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            first = df.loc[bad].iloc[0]
            raise ValueError(
                f"Column {col!r} holds {int(bad.sum())} NaN or infinite value(s) "
                f"(first at {item_col}={_plain(first[item_col])!r}, {time_col}="
                f"{_plain(first[time_col])!r}); clean or impute the data first."
            )
    for role, col in (("item_col", item_col), ("time_col", time_col)):
        if df[col].isna().any():
            raise ValueError(
                f"`{role}` column {col!r} holds {int(df[col].isna().sum())} "
                "missing value(s); every row needs an item and a time."
            )

    ordered = df.sort_values([item_col, time_col], kind="stable")
    repeated = ordered.duplicated([item_col, time_col])
    if repeated.any():
        first = ordered.loc[repeated].iloc[0]
        raise ValueError(
            f"Each item must have one row per time; item {_plain(first[item_col])!r} "
            f"has several rows at {time_col}={_plain(first[time_col])!r}."
        )

    # observed=True: a categorical item column keeps no empty group for a
    # category that has no rows (pandas 2 defaults to observed=False).
    groups = list(ordered.groupby(item_col, sort=True, observed=True))
    needed = lookback + horizon
    short = [(item, len(g)) for item, g in groups if len(g) < needed]
    if short:
        shown = ", ".join(f"{item!r} ({n} rows)" for item, n in short[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        raise ValueError(
            f"Every item needs at least lookback + horizon = {needed} rows; "
            f"too short: {shown}{more}."
        )

    # create_sequences windows one numeric frame; the target is appended when
    # it is not among the dynamic columns and dropped from the windows after.
    window_cols = list(dict.fromkeys([*dynamic_cols, target_col]))
    statics, dynamics, futures, targets, index = [], [], [], [], []
    for item, group in groups:
        frame = group[window_cols].astype("float64")
        windows, target = create_sequences(
            frame, lookback, target_col, step=step, forecast_horizon=horizon
        )
        n = len(windows)
        dynamics.append(windows[:, :, : len(dynamic_cols)])
        targets.append(target)
        if future_cols:
            # The horizon of window i starts at row lookback + i * step.
            future, _ = create_sequences(
                group[future_cols].iloc[lookback:].astype("float64"),
                horizon,
                future_cols[0],
                step=step,
                forecast_horizon=0,
            )
            futures.append(future[:n])
        else:
            futures.append(np.zeros((n, horizon, 0)))
        static = group[static_cols].to_numpy(dtype="float64")
        varying = [c for j, c in enumerate(static_cols) if np.ptp(static[:, j]) > 0]
        if varying:
            raise ValueError(
                f"`static_cols` must be constant within each item; {varying} vary "
                f"within item {item!r}."
            )
        statics.append(np.repeat(static[:1], n, axis=0) if static_cols else np.zeros((n, 0)))
        starts = group[time_col].to_numpy()[lookback + step * np.arange(n)]
        index.append(pd.DataFrame({item_col: [item] * n, "forecast_start": starts}))

    return ForecastArrays(
        np.concatenate(statics).astype("float32"),
        np.concatenate(dynamics).astype("float32"),
        np.concatenate(futures).astype("float32"),
        np.concatenate(targets).astype("float32"),
        pd.concat(index, ignore_index=True),
    )
