"""Scoring stage: from per-window errors to one (smoothed) score per time point.

- :func:`point_errors` -- every window's squared errors, averaged for each
  point and feature over the windows that cover it
  (:class:`PointErrorAccumulator`);
- :func:`point_contributions` -- those errors divided by the number of
  features, so each row sums to the point's raw score;
- :func:`smoothing_width` and :func:`smooth_errors` -- the centred moving
  average with ``peak_weight`` that the detector applies to them;
  :func:`keep_exact` -- no point smoothed below the point-exact scorers'
  share of its score.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int, check_rate

__all__ = [
    "PointErrorAccumulator",
    "point_errors",
    "iter_point_errors",
    "point_contributions",
    "check_smoothing",
    "smoothing_width",
    "moving_average",
    "smooth_errors",
    "higher_rows",
    "keep_exact",
    "NON_FINITE_ERROR",
    "squared_errors",
    "predict_fixed_batch",
]


class PointErrorAccumulator:
    """Average per-step, per-feature window errors over the windows covering each point.

    Each window starting at ``s`` gives an error array of shape
    ``(length, n_features)`` for points ``s + offset ... s + offset + length - 1``
    (``offset=0`` for reconstructions, ``window`` for forecasts). The
    accumulator sums, for every point and feature, the errors of all windows
    that cover it and counts those windows; :meth:`result` divides. Batches
    are added one after the other, so no array of all windows is needed.

    The work is vectorised over windows: one array addition per step offset
    within the window (at most ``length`` per batch), never a Python loop over
    windows or points.

    Parameters
    ----------
    n_points, n_features : int
    length : int
        Steps of each window's error.
    offset : int, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import PointErrorAccumulator
    >>> acc = PointErrorAccumulator(n_points=4, n_features=1, length=2)
    >>> acc.add(np.array([0, 1, 2]), np.array([[[1.], [3.]], [[5.], [7.]], [[9.], [11.]]]))
    >>> mean, covered = acc.result()
    >>> mean.ravel()      # point 1: (3 + 5) / 2, point 2: (7 + 9) / 2
    array([ 1.,  4.,  8., 11.])
    """

    def __init__(self, n_points, n_features, length, offset=0):
        self.n_points = int(n_points)
        self.n_features = int(n_features)
        self.length = int(length)
        self.offset = int(offset)
        self.sums = np.zeros((self.n_points, self.n_features), dtype=np.float64)
        # Difference array of the window counts: +1 where coverage starts,
        # -1 just after it ends; its cumulative sum is the count per point.
        self._count_diff = np.zeros(self.n_points + 1, dtype=np.int64)

    def add(self, starts, errors):
        """Add the errors ``(b, length, n_features)`` of windows starting at ``starts``."""
        starts = np.asarray(starts, dtype=np.int64)
        errors = np.asarray(errors)
        if errors.ndim == 2:
            errors = errors[:, :, None]
        if errors.shape != (starts.size, self.length, self.n_features):
            raise ValueError(
                f"`errors` must have shape ({starts.size}, {self.length}, "
                f"{self.n_features}); received {errors.shape}."
            )
        if starts.size == 0:
            return
        first = starts + self.offset
        if first.min() < 0 or first.max() + self.length > self.n_points:
            raise ValueError("Window errors fall outside the series.")
        contiguous = starts.size == 1 or bool(np.all(np.diff(starts) == 1))
        b = starts.size
        for j in range(self.length):
            if contiguous:
                lo = int(first[0]) + j
                self.sums[lo : lo + b] += errors[:, j, :]
            else:
                # Within one offset j the target points are distinct, so a
                # fancy-indexed += is exact (no need for np.add.at).
                self.sums[first + j] += errors[:, j, :]
        np.add.at(self._count_diff, first, 1)
        np.add.at(self._count_diff, first + self.length, -1)

    @property
    def counts(self):
        """Number of windows covering each point, shape ``(n_points,)``."""
        return np.cumsum(self._count_diff[:-1])

    def result(self):
        """``(mean_errors, covered)``.

        ``mean_errors`` has shape ``(n_points, n_features)``: the average error
        of each point over the windows covering it, ``0.0`` where no window
        covers the point; ``covered`` is the boolean mask of covered points.
        """
        counts = self.counts
        covered = counts > 0
        mean = np.zeros_like(self.sums)
        mean[covered] = self.sums[covered] / counts[covered, None]
        return mean, covered


def _pad_rows(array, rows):
    return np.concatenate([array, np.repeat(array[-1:], rows, axis=0)], axis=0)


def predict_fixed_batch(model, inputs, batch_size):
    """``model.predict_on_batch`` with a short last batch padded to ``batch_size``.

    Every call then has the same shape, so a compiled predict function is
    traced once instead of again for the last batch. With ``batch_size=None``
    (one batch in all) the batch is predicted at its own size, padded only to
    a multiple of the devices sharing it when there are several
    (:func:`~fusionlab.distributed.devices.replica_count`).
    """
    first = inputs[0] if isinstance(inputs, list) else inputs
    rows = first.shape[0]
    if batch_size is None:
        from .._devices import replica_count

        replicas = replica_count()
        batch_size = -(-rows // replicas) * replicas if replicas > 1 else None
    if batch_size is None or rows >= batch_size:
        return np.asarray(model.predict_on_batch(inputs))
    missing = batch_size - rows
    padded = ([_pad_rows(x, missing) for x in inputs] if isinstance(inputs, list)
              else _pad_rows(inputs, missing))
    return np.asarray(model.predict_on_batch(padded))[:rows]


#: Squared error given to a step whose model output is not finite (the
#: model overflowed on a far-out window): above any finite error of float32
#: data, and small enough that sums over windows and smoothing stay finite.
NON_FINITE_ERROR = 1e300


def squared_errors(target, output):
    """``(target - output) ** 2`` in float32, where it overflows in float64.

    Values far beyond the data's scale (1e19 times it and more) overflow the
    float32 square; those entries are computed again in float64, and an
    output that is not finite gets :data:`NON_FINITE_ERROR`, so no error is
    ever inf or NaN.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # handled just below
        error = target - output
        squared = np.square(error, out=error)
    bad = ~np.isfinite(squared)
    if not bad.any():
        return squared
    squared = squared.astype(np.float64)
    exact = np.square(target[bad].astype(np.float64) - output[bad].astype(np.float64))
    squared[bad] = np.where(np.isfinite(exact), exact, NON_FINITE_ERROR)
    return squared


def point_errors(model, data, window, *, horizon=0, step=1, batch_size=1024,
                 time_delta=None):
    """Per-point, per-feature squared errors of ``model`` over ``data``.

    Streams over batches of windows from a
    :class:`~fusionlab.detection.WindowDataset` (the last window is always
    included so every point is covered), predicts each batch, and feeds the
    squared errors to a :class:`PointErrorAccumulator`.

    Parameters
    ----------
    model : keras.Model
        Reconstruction model (``horizon=0``: output shape = input shape) or
        forecast model (``horizon=h``: output ``(batch, h, n_features)``, or
        ``(batch, n_features)`` when ``h == 1``).
    data : ndarray of shape (n_points, n_features)
        Scaled series.
    window : int
    horizon : int, default=0
    step : int, default=1
    batch_size : int, default=1024
    time_delta : ndarray of shape (n_points,), optional
        Time elapsed before each point; the model then receives
        ``[windows, deltas]`` (see :class:`~fusionlab.detection.WindowDataset`).

    Returns
    -------
    mean_errors : ndarray of shape (n_points, n_features), float64
        Finite: squares that overflow float32 are computed in float64, and a
        model output that is not finite gives :data:`NON_FINITE_ERROR`.
    covered : ndarray of bool, shape (n_points,)
    """
    return next(iter_point_errors(model, [data], window, horizon=horizon, step=step,
                                  batch_size=batch_size, time_deltas=[time_delta]))[1]


def iter_point_errors(model, datas, window, *, horizon=0, step=1, batch_size=1024,
                      time_deltas=None):
    """:func:`point_errors` of several series, their windows sharing model calls.

    The windows of the series are cut in order and packed into batches of
    ``batch_size`` that may hold several series, so that many short series
    cost as few model calls as one long one. Each series' errors are
    accumulated apart, and yielded as soon as its last window is scored.

    Parameters
    ----------
    model : keras.Model
    datas : sequence of ndarray of shape (n_points_i, n_features)
        Scaled series (the same number of features).
    window, horizon, step, batch_size
        As in :func:`point_errors`.
    time_deltas : sequence of (ndarray or None), optional
        One per series, for a time-aware model.

    Yields
    ------
    index : int
        Position of the series in ``datas``.
    result : (mean_errors, covered)
        As :func:`point_errors` returns them.

    Examples
    --------
    >>> import keras, numpy as np
    >>> from fusionlab.detection.scoring import iter_point_errors, point_errors
    >>> model = keras.Sequential([keras.Input((4, 1)), keras.layers.Dense(1)])
    >>> series = [np.arange(10.0)[:, None], np.ones((6, 1))]
    >>> together = dict(iter_point_errors(model, series, 4, batch_size=3))
    >>> all(np.allclose(together[i][0], point_errors(model, s, 4, batch_size=3)[0])
    ...     for i, s in enumerate(series))
    True
    """
    from .windowing import WindowDataset

    time_deltas = list(time_deltas) if time_deltas is not None else [None] * len(datas)
    datasets = [
        WindowDataset(data, window, step=step, batch_size=batch_size, horizon=horizon,
                      targets=False, include_last=True, time_delta=deltas)
        for data, deltas in zip(datas, time_deltas, strict=True)
    ]
    length = horizon if horizon else window
    # One model call for everything: predict at the real size, as Keras would.
    single = sum(ds.num_windows for ds in datasets) <= batch_size
    accumulators = {
        index: PointErrorAccumulator(*ds.data.shape, length, offset=window if horizon else 0)
        for index, ds in enumerate(datasets)
    }
    waiting = {index: ds.num_windows for index, ds in enumerate(datasets)}
    pieces = []

    def flush():
        inputs = np.concatenate([spans[:, :window] for _, _, spans, _ in pieces])
        if pieces[0][3] is not None:
            inputs = [inputs, np.concatenate([deltas for *_, deltas in pieces])]
        output = predict_fixed_batch(model, inputs, None if single else batch_size)
        if output.ndim == 2:
            output = output[:, None, :]
        row, done = 0, []
        for index, starts, spans, _ in pieces:
            target = spans[:, window:] if horizon else spans
            part = output[row : row + starts.size]
            row += starts.size
            if part.shape != target.shape:
                raise ValueError(
                    f"The model returned shape {part.shape} for inputs of shape "
                    f"{spans[:, :window].shape}; expected {target.shape}."
                )
            accumulators[index].add(starts, squared_errors(target, part))
            waiting[index] -= starts.size
            if waiting[index] == 0:
                done.append(index)
        pieces.clear()
        return done

    filled = 0
    for index, ds in enumerate(datasets):
        for offset in range(0, ds.num_windows, batch_size):
            # Cut this series' windows so that each batch is filled exactly.
            for lo, hi in _fill(offset, min(offset + batch_size, ds.num_windows),
                                batch_size - filled, batch_size):
                starts = ds.starts[lo:hi]
                pieces.append((index, starts, ds.spans_of(starts), ds.deltas_of(starts)))
                filled += hi - lo
                if filled == batch_size:
                    filled = 0
                    for done in flush():
                        yield done, accumulators.pop(done).result()
    if pieces:
        for done in flush():
            yield done, accumulators.pop(done).result()


def _fill(lo, hi, room, batch_size):
    """Split windows ``lo:hi`` into parts that fill the current batch's ``room``, then whole batches."""
    parts = []
    while lo < hi:
        take = min(room, hi - lo)
        parts.append((lo, lo + take))
        lo += take
        room = batch_size
    return parts


def point_contributions(model, data, window, *, horizon=0, batch_size=1024, time_delta=None):
    """Per-point, per-feature shares of the raw score: :func:`point_errors` / n_features.

    Each row sums to the point's raw score (its squared error averaged over
    the windows covering it and over the features).

    Returns
    -------
    ndarray of shape (n_points, n_features), float64
    """
    errors, _ = point_errors(
        model, data, window, horizon=horizon, batch_size=batch_size, time_delta=time_delta
    )
    return errors / errors.shape[1]


#: The widths ``smoothing`` may name: the model's window, the scorers' window.
SMOOTHING_WINDOWS = ("model", "window")


def check_smoothing(smoothing):
    """``smoothing`` is ``'model'``, ``'window'``, None or a number in [0, 1); return it."""
    if isinstance(smoothing, str):
        if smoothing not in SMOOTHING_WINDOWS:
            raise TypeError(
                "`smoothing` must be a number in [0, 1), None, 'model' or 'window'; "
                f"received {smoothing!r} of type str."
            )
    elif smoothing is not None:
        check_rate(smoothing, "smoothing", low=0.0, high=1.0, include_high=False)
    return smoothing


def smoothing_width(smoothing, n_points, window, smoothing_window=None):
    """Points averaged by the score smoothing.

    ``smoothing='model'``: ``window``, the model's window, so each point
    gets the mean score of the model window centred on it, whatever the
    length of the series. ``smoothing='window'``: ``smoothing_window``
    (default ``window``), the length of the windows the scorers' scores
    describe, so each point gets the mean score of the windows that contain
    it. A number: ``round(smoothing * n_points)``, at least 1 (no
    smoothing; also for ``smoothing=None``) and at most ``10 * window``.

    Examples
    --------
    >>> from fusionlab.detection.scoring import smoothing_width
    >>> smoothing_width("model", 400, 20), smoothing_width("model", 40_000, 20, 50)
    (20, 20)
    >>> smoothing_width(0.015, 400, 20), smoothing_width(None, 400, 20)
    (6, 1)
    >>> smoothing_width("window", 400, 20), smoothing_width("window", 400, 20, 50)
    (20, 50)
    """
    if isinstance(smoothing, str) and smoothing == "model":
        return max(int(window), 1)
    if isinstance(smoothing, str) and smoothing == "window":
        return max(int(window if smoothing_window is None else smoothing_window), 1)
    return int(np.clip(round((smoothing or 0.0) * n_points), 1, 10 * window))


def moving_average(values, width):
    """Centred moving average of each column over ``width`` points, edges repeated.

    Like ``scipy.ndimage.uniform_filter1d(values, width, axis=0,
    mode='nearest')``, but exact whatever the range of the values: a running
    sum, as ``uniform_filter1d`` keeps, loses every later point to rounding
    once it has passed a value 1e16 times larger (a far-out error would zero
    the scores after it). Here the padded rows are cut into blocks of
    ``width``; a window spans at most two blocks and its sum is a suffix sum
    of one plus a prefix sum of the next, with nothing subtracted.

    Parameters
    ----------
    values : ndarray of shape (n_points, n_features)
    width : int

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import moving_average
    >>> values = np.ones((8, 1))
    >>> values[2] = 1e30
    >>> moving_average(values, 3).ravel().tolist()[4:]
    [1.0, 1.0, 1.0, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    width = check_positive_int(width, "width")
    n = values.shape[0]
    before = width // 2
    padded = np.pad(values, ((before, width - 1 - before), (0, 0)), mode="edge")
    blocks = -(-padded.shape[0] // width) + 1  # one block of zeros to spare
    grid = np.zeros((blocks * width, values.shape[1]))
    grid[: padded.shape[0]] = padded
    grid = grid.reshape(blocks, width, -1)
    prefix = np.cumsum(grid, axis=1)
    suffix = np.cumsum(grid[:, ::-1], axis=1)[:, ::-1]
    block, offset = np.divmod(np.arange(n), width)
    inner = offset > 0
    sums = prefix[block, width - 1]
    sums[inner] = suffix[block[inner], offset[inner]] + prefix[block[inner] + 1, offset[inner] - 1]
    return sums / width


def smooth_errors(contributions, width, peak_weight=0.125):
    """Smooth per-point, per-feature errors, keeping isolated large ones.

    Each feature's errors are averaged over the ``width`` points centred on
    each point (edges repeat the first/last value); a point whose own total
    error times ``peak_weight`` exceeds its averaged total keeps
    ``peak_weight`` times its own errors instead. Rows of the result still
    sum to the point's score, so the score stays explained by the errors
    that made it.

    Parameters
    ----------
    contributions : ndarray of shape (n_points, n_features)
        Non-negative errors (:func:`point_contributions`).
    width : int
        Points averaged; 1 returns ``contributions`` unchanged.
    peak_weight : float, default=0.125
        In [0, 1]; 0 gives the plain moving average.

    Returns
    -------
    ndarray of shape (n_points, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import smooth_errors
    >>> errors = np.zeros((9, 1))
    >>> errors[4] = 90.0                      # one isolated large error
    >>> smooth_errors(errors, 3, peak_weight=0.0).ravel().tolist()
    [0.0, 0.0, 0.0, 30.0, 30.0, 30.0, 0.0, 0.0, 0.0]
    >>> smooth_errors(errors, 3, peak_weight=0.5).ravel().tolist()
    [0.0, 0.0, 0.0, 30.0, 45.0, 30.0, 0.0, 0.0, 0.0]
    """
    width = check_positive_int(width, "width")
    peak_weight = check_rate(peak_weight, "peak_weight")
    if width == 1:
        return contributions
    averaged = moving_average(contributions, width)
    return higher_rows(averaged, peak_weight * contributions)


def higher_rows(rows, others):
    """``rows``, each replaced by the row of ``others`` where that one sums higher.

    The rule of the ``peak_weight`` rule (:func:`smooth_errors`) and of
    :func:`keep_exact`: rows still sum to a point's score, split as the
    row kept splits it.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import higher_rows
    >>> higher_rows(np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([[3.0, 0.0], [1.0, 0.0]])).tolist()
    [[3.0, 0.0], [2.0, 2.0]]
    """
    own = others.sum(axis=1) > rows.sum(axis=1)
    return np.where(own[:, None], others, rows)


def keep_exact(smoothed, exact):
    """``smoothed`` contributions, each row raised to ``exact``'s where that row sums higher.

    ``exact`` holds the point-exact scorers' share of the unsmoothed
    contributions, beyond the end of the training scores' tail
    (:func:`~fusionlab.detection.ensemble.exact_contributions`): the
    smoothing may lower a point's score below it, never that part, so a
    break that scorer places on one point keeps its height there while the
    window scorers' evidence stays smoothed around it. Rows still
    sum to the point's score. ``exact=None`` returns ``smoothed``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import keep_exact
    >>> smoothed = np.array([[1.0, 1.0], [2.0, 2.0]])
    >>> exact = np.array([[3.0, 0.0], [1.0, 0.0]])
    >>> keep_exact(smoothed, exact).tolist()
    [[3.0, 0.0], [2.0, 2.0]]
    """
    return smoothed if exact is None else higher_rows(smoothed, exact)
