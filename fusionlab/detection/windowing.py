"""Sliding windows produced batch by batch, never materialised all at once."""

from __future__ import annotations

import keras
import numpy as np

from .._validation import (
    as_2d,
    check_finite,
    check_non_negative_int,
    check_positive_int,
)

__all__ = ["window_starts", "WindowDataset"]


def window_starts(n_points, span, step=1, *, include_last=False):
    """Start indices of the windows of length ``span`` over ``n_points`` points.

    Parameters
    ----------
    n_points, span, step : int
    include_last : bool, default=False
        Append the window ending at the last point when the stride skips it,
        so every point is covered.

    Examples
    --------
    >>> from fusionlab.detection.windowing import window_starts
    >>> window_starts(10, 4, 3)
    array([0, 3, 6])
    >>> window_starts(10, 4, 4, include_last=True)
    array([0, 4, 6])
    """
    if n_points < span:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, n_points - span + 1, step, dtype=np.int64)
    if include_last and starts[-1] != n_points - span:
        starts = np.append(starts, n_points - span)
    return starts


class WindowDataset(keras.utils.PyDataset):
    """Batches of float32 windows cut on the fly from a contiguous series.

    The series is kept once as a C-contiguous float32 array; each batch is
    sliced from a :func:`numpy.lib.stride_tricks.sliding_window_view` of it
    and copied (one batch only) into a contiguous float32 array. Nothing
    holds all windows at once, so memory stays ``O(n_points + batch)``.

    Parameters
    ----------
    data : array-like of shape (n_points,) or (n_points, n_features)
        Converted once to C-contiguous float32 (no copy when it already is).
    window : int
        Steps of the model's input windows.
    step : int, default=1
        Stride between consecutive windows.
    batch_size : int, default=64
    horizon : int, default=0
        ``0``: reconstruction windows (targets are the windows themselves).
        ``h > 0``: forecast samples; each spans ``window + h`` points, the
        input is the first ``window`` and the target the last ``h``.
    targets : bool, default=True
        Yield ``(inputs, targets)`` (for ``fit``) or only inputs (for
        ``predict``).
    shuffle : bool, default=False
        Shuffle window order at creation and after every epoch.
    seed : int, optional
        Seed of the shuffling.
    start, stop : int, optional
        Keep only the windows that lie entirely within points
        ``[start, stop)`` (used for the train/validation split).
    include_last : bool, default=False
        See :func:`window_starts`.
    starts : array-like of int, optional
        Explicit window starts, used instead of ``step``/``start``/``stop``
        (e.g. to leave out windows that cover suspected anomalies).
    time_delta : array-like of shape (n_points,), optional
        Time elapsed before each point, for models that read it (the
        ``'cfc'`` and ``'ltc'`` models). Batches then hold inputs
        ``[windows, deltas]`` with deltas of shape ``(batch, window, 1)``.
    drop_remainder : bool, default=False
        Leave out the last, partial batch (every batch then holds
        ``batch_size`` windows), as training on several devices needs.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of
        :class:`keras.utils.PyDataset`.

    Attributes
    ----------
    starts : ndarray of int64
        Start (first point) of every window, in the order of the batches
        before shuffling.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import WindowDataset
    >>> ds = WindowDataset(np.arange(10.0), window=4, batch_size=3)
    >>> len(ds), ds.num_windows
    (3, 7)
    >>> x, y = ds[0]
    >>> x.shape, x.dtype
    ((3, 4, 1), dtype('float32'))
    >>> x[1, :, 0]
    array([1., 2., 3., 4.], dtype=float32)
    """

    def __init__(
        self,
        data,
        window,
        *,
        step=1,
        batch_size=64,
        horizon=0,
        targets=True,
        shuffle=False,
        seed=None,
        start=0,
        stop=None,
        include_last=False,
        starts=None,
        time_delta=None,
        drop_remainder=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        data = as_2d(np.asarray(data), "data")
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.window = check_positive_int(window, "window")
        self.step = check_positive_int(step, "step")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.horizon = check_non_negative_int(horizon, "horizon")
        self.targets = bool(targets)
        self.shuffle = bool(shuffle)
        self.span = self.window + self.horizon
        start = check_non_negative_int(start, "start")
        stop = self.data.shape[0] if stop is None else min(int(stop), self.data.shape[0])
        if stop - start < self.span:
            raise ValueError(
                f"Need at least window + horizon = {self.span} points to cut one "
                f"window; received {max(stop - start, 0)} points."
            )
        if starts is not None:
            starts = np.asarray(starts, dtype=np.int64).ravel()
            if starts.size and (starts.min() < 0 or starts.max() + self.span > self.data.shape[0]):
                raise ValueError(
                    "`starts` must lie in [0, n_points - window - horizon]; received "
                    f"values in [{starts.min()}, {starts.max()}]."
                )
            self.starts = starts
        else:
            self.starts = (
                window_starts(stop - start, self.span, self.step, include_last=include_last)
                + start
            )
        if self.starts.size == 0:
            raise ValueError("No window to cut: `starts` is empty.")
        self.time_delta = None
        if time_delta is not None:
            time_delta = np.asarray(time_delta, dtype=np.float32).reshape(-1)
            if time_delta.shape[0] != self.data.shape[0]:
                raise ValueError(
                    f"`time_delta` must have one value per point ({self.data.shape[0]}); "
                    f"received {time_delta.shape[0]}."
                )
            check_finite(time_delta, "time_delta")
            if (time_delta < 0).any():
                raise ValueError(
                    "`time_delta` must be >= 0; received a minimum of "
                    f"{time_delta.min():g}."
                )
            self.time_delta = time_delta
            self._delta_view = np.lib.stride_tricks.sliding_window_view(
                time_delta, self.window
            )
        # (n_windows, n_features, span): a view, no copy.
        self._view = np.lib.stride_tricks.sliding_window_view(
            self.data, self.span, axis=0
        )
        self.drop_remainder = bool(drop_remainder)
        if self.drop_remainder and self.starts.size < self.batch_size:
            raise ValueError(
                f"`drop_remainder=True` needs at least one whole batch of {self.batch_size} "
                f"windows; there are {self.starts.size}."
            )
        self._rng = np.random.default_rng(seed)
        self._order = None
        if self.shuffle:
            self._order = self._rng.permutation(self.starts.size)

    @property
    def num_windows(self):
        """Number of windows."""
        return int(self.starts.size)

    @property
    def num_batches(self):
        if self.drop_remainder:
            return self.starts.size // self.batch_size
        return -(-self.starts.size // self.batch_size)

    def __len__(self):
        return self.num_batches

    def batch_starts(self, index):
        """Start indices of the windows of batch ``index``."""
        lo = index * self.batch_size
        hi = min(lo + self.batch_size, self.starts.size)
        if self._order is not None:
            return self.starts[self._order[lo:hi]]
        return self.starts[lo:hi]

    def spans_of(self, starts):
        """Spans ``(b, window + horizon, f)`` of the windows starting at ``starts``."""
        starts = np.asarray(starts, dtype=np.int64)
        first = int(starts[0])
        if starts.size == 1 or np.all(np.diff(starts) == self.step):
            # Regular strides: a basic slice of the view, no fancy indexing.
            block = self._view[first : int(starts[-1]) + 1 : self.step]
        else:
            block = self._view[starts]
        return np.ascontiguousarray(block.transpose(0, 2, 1))

    def deltas_of(self, starts):
        """Time deltas ``(b, window, 1)`` of the windows starting at ``starts`` (or None)."""
        if self.time_delta is None:
            return None
        return np.ascontiguousarray(self._delta_view[np.asarray(starts, dtype=np.int64)])[:, :, None]

    def batch_spans(self, index):
        """``(starts, spans)`` of batch ``index``; spans ``(b, window + horizon, f)``."""
        if not 0 <= index < self.num_batches:
            raise IndexError(
                f"Batch index {index} out of range for {self.num_batches} batches."
            )
        starts = self.batch_starts(index)
        return starts, self.spans_of(starts)

    def batch_deltas(self, index):
        """Time deltas ``(b, window, 1)`` of batch ``index`` (None without them)."""
        return self.deltas_of(self.batch_starts(index))

    def __getitem__(self, index):
        _, spans = self.batch_spans(index)
        if self.horizon:
            inputs = spans[:, : self.window]
            targets = spans[:, self.window :]
        else:
            inputs = targets = spans
        if self.time_delta is not None:
            inputs = (inputs, self.batch_deltas(index))
        return (inputs, targets) if self.targets else inputs

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(self.starts.size)
