"""Sliding-window sequences for sequence models and reconstruction detectors."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..._validation import (
    check_bool,
    check_finite,
    check_non_negative_int,
    check_positive_int,
)

__all__ = ["create_sequences"]


def _column_dtype(dtype):
    """Output dtype of one input column, or ``None`` if it is not real numeric."""
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return np.dtype(np.float64)
    if pd.api.types.is_float_dtype(dtype):
        # Nullable pandas dtypes (``Float32``) expose their NumPy counterpart.
        return np.dtype(getattr(dtype, "numpy_dtype", dtype))
    return None


def _frame_to_array(df: pd.DataFrame, target_col):
    """Return the frame's values as one C-contiguous array and the target index."""
    if df.columns.has_duplicates:
        dup = list(df.columns[df.columns.duplicated()].unique())
        raise ValueError(
            "`df` must have unique column names; received duplicated "
            f"column(s) {dup}."
        )
    if target_col not in df.columns:
        cols = list(df.columns)
        shown = ", ".join(repr(c) for c in cols[:20]) + (", ..." if len(cols) > 20 else "")
        raise KeyError(
            f"`target_col` must name a column of `df`; received {target_col!r}, "
            f"available columns: [{shown}]."
        )
    dtypes, bad = [], []
    for label, dtype in df.dtypes.items():
        out = _column_dtype(dtype)
        if out is None:
            bad.append(f"{label!r} ({dtype})")
        else:
            dtypes.append(out)
    if bad:
        raise TypeError(
            "`df` must contain only numeric (bool, integer or float) columns; "
            f"received non-numeric column(s): {', '.join(bad)}. Drop them, "
            "encode them, or move timestamps to the index."
        )
    dtype = np.result_type(*dtypes)
    # na_value maps pandas' missing-value markers (pd.NA) to NaN so that the
    # finiteness check below reports them instead of the conversion failing.
    values = df.to_numpy(dtype=dtype, na_value=np.nan)
    values = np.ascontiguousarray(values)
    return values, int(df.columns.get_loc(target_col))


def _array_to_array(arr: np.ndarray, target_col):
    """Validate a 1D/2D ndarray and return it as a C-contiguous float array."""
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise ValueError(
            "`df` must be a 2D array of shape (n_rows, n_columns) (or 1D for a "
            f"single column); received an array with {arr.ndim} dimension(s), "
            f"shape {arr.shape}."
        )
    dtype = _column_dtype(arr.dtype)
    if dtype is None:
        raise TypeError(
            "`df` must hold numeric (bool, integer or float) values; received "
            f"an array of dtype {arr.dtype}."
        )
    n_cols = arr.shape[1]
    if isinstance(target_col, bool) or not isinstance(target_col, numbers.Integral):
        raise TypeError(
            "`target_col` must be an integer column index when `df` is an array; "
            f"received {target_col!r} of type {type(target_col).__name__}."
        )
    if not -n_cols <= target_col < n_cols:
        raise IndexError(
            f"`target_col` must be a column index in [{-n_cols}, {n_cols - 1}] for "
            f"an array with {n_cols} column(s); received {target_col}."
        )
    # No copy when the input already has the right dtype and layout: the
    # no-copy mode then returns views onto the caller's own buffer.
    values = np.ascontiguousarray(arr, dtype=dtype)
    return values, int(target_col) % n_cols


def create_sequences(
    df,
    sequence_length,
    target_col,
    step=1,
    include_overlap=True,
    drop_last=True,
    forecast_horizon=None,
    verbose=0,
    *,
    copy=True,
):
    """Cut a multivariate series into fixed-length windows and their targets.

    Window ``i`` holds ``sequence_length`` consecutive rows (all columns, in
    their order) starting at row ``i * stride``. Its target is taken from
    ``target_col`` in the rows right after the window, which makes the pairs
    usable for one-step or multi-step forecasting, or, with
    ``forecast_horizon=0``, for reconstruction (autoencoder) models that need
    windows only.

    Parameters
    ----------
    df : pandas.DataFrame or numpy.ndarray
        The series, one row per time step, ordered in time. A DataFrame must
        have unique column names and only bool, integer or float columns (its
        index is ignored). A 2D array has shape ``(n_rows, n_columns)``. A
        1D array is treated as a single column (``target_col=0``); a Series
        is treated as ``series.to_frame()``, so ``target_col`` is its name
        (``0`` if it has none).
    sequence_length : int
        Number of rows per window, >= 1.
    target_col : hashable or int
        Column holding the target: a column name for a DataFrame, an integer
        index (negative values count from the end) for an array.
    step : int, default=1
        Rows between the starts of consecutive windows, >= 1.
    include_overlap : bool, default=True
        If False, windows never share rows: the effective stride is
        ``max(step, sequence_length)``. (With ``drop_last=False`` the one
        extra end-aligned window may still share rows with the window before
        it; see ``drop_last``.)
    drop_last : bool, default=True
        If False and the stride leaves rows uncovered at the end (the last
        regular window plus its targets ends before the last row), one more
        window aligned to the end of the data is appended: its targets are the
        last value (or the last ``forecast_horizon`` values), and with
        ``forecast_horizon=0`` the window ends at the last row.
    forecast_horizon : int or None, default=None
        ``None``: one target per window, the value right after it, and
        ``targets`` has shape ``(n_sequences,)``. An integer ``H > 0``: the
        ``H`` values after the window, shape ``(n_sequences, H)``. ``0``: no
        target (reconstruction), shape ``(n_sequences, 0)``.
    verbose : int, default=0
        If > 0, print a one-line summary of the counts and shapes.
    copy : bool, default=True
        If True, ``sequences`` and ``targets`` are new writable C-contiguous
        arrays. If False, they are read-only strided views onto one
        contiguous array of the data: no per-window memory is used. That
        array is the input itself when it is a C-contiguous ndarray of the
        output dtype (so later changes to the input show through the views);
        otherwise it is the input converted once (for a DataFrame, by
        ``DataFrame.to_numpy``, which may share the frame's memory). A view cannot hold the extra end-aligned window of
        ``drop_last=False``, so that combination raises ``ValueError`` when
        such a window is needed.

    Returns
    -------
    sequences : numpy.ndarray of shape (n_sequences, sequence_length, n_columns)
        The windows. The dtype is the input's floating dtype when every
        column is floating point (the common type under NumPy promotion);
        integer and bool columns are converted to ``float64``.
    targets : numpy.ndarray
        Shape ``(n_sequences,)``, ``(n_sequences, forecast_horizon)`` or
        ``(n_sequences, 0)`` as described under ``forecast_horizon``, same
        dtype as ``sequences``.

    Raises
    ------
    TypeError
        If ``df`` is neither a DataFrame/Series nor an ndarray, holds
        non-numeric columns, or an argument has the wrong type (a bool given
        as a size, a non-integer ``target_col`` for an array, ...).
    ValueError
        If ``df`` is not 1D/2D, holds NaN or infinite values, has fewer than
        ``sequence_length + max_h`` rows (``max_h`` is ``forecast_horizon``,
        or 1 when it is None), a size is out of range, or ``copy=False`` is
        combined with a needed end-aligned window.
    KeyError
        If ``target_col`` is not a column of the DataFrame.
    IndexError
        If ``target_col`` is out of range for an array.

    Notes
    -----
    With ``max_h = forecast_horizon`` (1 when None) and ``stride = step``
    (``max(step, sequence_length)`` when ``include_overlap=False``), windows
    start at every ``s = i * stride`` with
    ``s + sequence_length + max_h <= n_rows``. The windows are strided views
    built with :func:`numpy.lib.stride_tricks.sliding_window_view`; no Python
    loop runs per window.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from fusionlab.nn.utils import create_sequences
    >>> df = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0) * 10})
    >>> X, y = create_sequences(df, sequence_length=3, target_col="y")
    >>> X.shape, y.shape
    ((7, 3, 2), (7,))
    >>> X[0]
    array([[ 0.,  0.],
           [ 1., 10.],
           [ 2., 20.]])
    >>> y[0]
    np.float64(30.0)

    Two-step targets, a window every 3 rows, and the end-aligned last window:

    >>> X, y = create_sequences(df, 3, "y", step=3, forecast_horizon=2,
    ...                         drop_last=False)
    >>> X[:, 0, 0], y
    (array([0., 3., 5.]), array([[30., 40.],
           [60., 70.],
           [80., 90.]]))

    Reconstruction windows from an integer array, as read-only views:

    >>> data = np.arange(12).reshape(6, 2)
    >>> X, y = create_sequences(data, 4, target_col=0, forecast_horizon=0,
    ...                         copy=False, verbose=1)
    create_sequences: 6 rows x 2 columns -> 3 sequences (3, 4, 2), targets (3, 0), stride 1, no end-aligned window, float64 views
    >>> X.flags.writeable
    False
    """
    if isinstance(df, pd.Series):
        df = df.to_frame()
    sequence_length = check_positive_int(sequence_length, "sequence_length")
    step = check_positive_int(step, "step")
    forecast_horizon = check_non_negative_int(
        forecast_horizon, "forecast_horizon", allow_none=True
    )
    include_overlap = check_bool(include_overlap, "include_overlap")
    drop_last = check_bool(drop_last, "drop_last")
    copy = check_bool(copy, "copy")
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    verbose = check_non_negative_int(verbose, "verbose")

    if isinstance(df, pd.DataFrame):
        values, t = _frame_to_array(df, target_col)
    elif isinstance(df, np.ndarray):
        values, t = _array_to_array(df, target_col)
    else:
        raise TypeError(
            "`df` must be a pandas DataFrame or a 2D numpy array; received "
            f"an object of type {type(df).__name__} (wrap it with np.asarray "
            "or pd.DataFrame first)."
        )
    check_finite(values, "df")

    n_rows, n_cols = values.shape
    max_h = 1 if forecast_horizon is None else forecast_horizon
    span = sequence_length + max_h
    if n_rows < span:
        needed = "forecast_horizon" if forecast_horizon is not None else "1"
        raise ValueError(
            f"`df` must have at least sequence_length + {needed} = {span} rows "
            f"for one window; received {n_rows} row(s)."
        )
    stride = step if include_overlap else max(step, sequence_length)
    n_regular = (n_rows - span) // stride + 1
    last_start = (n_regular - 1) * stride
    tail = not drop_last and last_start + span < n_rows
    if tail and not copy:
        raise ValueError(
            "`copy=False` cannot return the end-aligned window that "
            f"`drop_last=False` adds here (step={step}, stride={stride} leaves "
            f"{n_rows - last_start - span} row(s) uncovered): a strided view "
            "needs evenly spaced windows. Use copy=True or drop_last=True."
        )
    tail_start = n_rows - span

    # (n_rows - L + 1, L, n_cols) view: window axis first, time, then columns,
    # so that both slicing and copying walk memory in order.
    windows = sliding_window_view(values, sequence_length, axis=0).transpose(0, 2, 1)
    stop = last_start + 1
    seq_view = windows[:stop:stride]
    target_series = values[:, t]
    # The end-aligned window's targets are the last max_h target values.
    tail_target = target_series[n_rows - max_h :]
    if forecast_horizon is None:
        tgt_view = target_series[sequence_length : sequence_length + stop : stride]
        tail_target = tail_target[0]
    elif forecast_horizon == 0:
        tgt_view = values[:n_regular, :0]
    else:
        horizons = sliding_window_view(target_series, forecast_horizon)
        tgt_view = horizons[sequence_length : sequence_length + stop : stride]

    if not copy:
        sequences, targets = seq_view, tgt_view
        # The views alias each other (overlapping windows) and maybe the
        # caller's array: writing through them would corrupt both.
        sequences.flags.writeable = False
        targets.flags.writeable = False
    elif tail:
        n_seq = n_regular + 1
        sequences = np.empty((n_seq, sequence_length, n_cols), dtype=values.dtype)
        sequences[:n_regular] = seq_view
        sequences[n_regular] = values[tail_start : tail_start + sequence_length]
        targets = np.empty((n_seq,) + tgt_view.shape[1:], dtype=values.dtype)
        targets[:n_regular] = tgt_view
        targets[n_regular] = tail_target
    else:
        # np.array always copies: ascontiguousarray would return the
        # read-only view itself whenever it happens to be contiguous.
        sequences = np.array(seq_view, order="C")
        targets = np.array(tgt_view, order="C")

    if verbose > 0:
        print(
            f"create_sequences: {n_rows} rows x {n_cols} columns -> "
            f"{sequences.shape[0]} sequences {sequences.shape}, targets "
            f"{targets.shape}, stride {stride}, "
            f"{'with' if tail else 'no'} end-aligned window, "
            f"{sequences.dtype} {'copies' if copy else 'views'}"
        )
    return sequences, targets
