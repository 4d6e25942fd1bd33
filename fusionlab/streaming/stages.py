"""Incremental counterparts of the batch scoring stages.

The batch detector computes every stage on a whole series; a stream has
only the points received so far. Each class here keeps the little state its
batch stage needs and emits, in order, the rows that have become *final*:
those no later point can change. Each also has :meth:`flush` (the series
ends here: the right edge is handled as the batch stage handles the last
points) and :meth:`peek` (what ``flush`` would give now, without changing
anything), which is how the causal interim scores are computed.

=============================  =====================================================
batch stage                    incremental counterpart
=============================  =====================================================
``PointErrorAccumulator``      :class:`WindowErrors` -- per-point sums of the window
                               errors, final once the last window covering the
                               point is in
``moving_average``             :class:`CentredAverage` -- a buffer of ``width - 1``
                               rows; output ``i`` is final once input
                               ``i + width - 1 - width // 2`` is in
``scorers.to_centres``         :class:`WindowCentres` -- each window's score given
                               to its centre point
``ensemble`` combination       :class:`Combiner` -- the model's window error and
                               the scorers' scores, each robustly scaled, aggregated
                               and split over the features
``smooth_errors``,             :class:`Smoother` -- a centred average, the
``keep_exact``                 ``peak_weight`` rule and the point-exact scorers'
                               share beyond their training tail kept
=============================  =====================================================

Every state is a handful of NumPy arrays and integers
(:meth:`get_state` / :meth:`set_state`), bounded by the window lengths, never
by the length of the stream.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CentredAverage", "WindowErrors", "WindowCentres", "Combiner", "Smoother",
           "Copyable"]


def _empty(columns):
    return np.zeros((0, columns), dtype=np.float64)


def _check_array(value, name, shape=None, ndim=None):
    """A float64 array from a stored state, checked (ValueError names it)."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"state `{name}` must be numeric; received dtype {array.dtype}.")
    array = array.astype(np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"state `{name}` must have {ndim} dimensions; received shape "
                         f"{array.shape}.")
    if shape is not None and any(s is not None and s != a for s, a in zip(shape, array.shape,
                                                                          strict=True)):
        raise ValueError(f"state `{name}` must have shape {shape}; received {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"state `{name}` holds NaN or infinite values.")
    return array


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"state `{name}` must be a non-negative integer; received {value!r}.")
    return value


class Copyable:
    """A ``copy()`` that copies the arrays and nested stages, sharing the read-only rest.

    Much cheaper than ``copy.deepcopy`` (interim scores copy a few stages
    at every call); arrays changed in place are copied, lists are copied
    (their items are never changed in place), other values are shared.
    """

    def copy(self):
        clone = object.__new__(type(self))
        clone.__dict__ = {key: _copied(value) for key, value in self.__dict__.items()}
        return clone


def _copied(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Copyable):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    return value


class _Stage(Copyable):
    """push / flush / peek, and a copy for peeking."""


class CentredAverage(_Stage):
    """Centred moving average over ``width`` rows, edges repeated, row by row.

    Output ``i`` averages inputs ``i - width // 2 ... i + width - 1 - width // 2``,
    the first input standing in for those before the start and (at
    :meth:`flush`) the last one for those after the end: the batch
    :func:`~fusionlab.detection.scoring.moving_average`. Each window is summed
    directly (nothing subtracted), so a far-out value does not spoil the
    later averages, as in the batch version.

    Parameters
    ----------
    width : int
    columns : int

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.scoring import moving_average
    >>> from fusionlab.streaming.stages import CentredAverage
    >>> x = np.arange(10.0)[:, None] ** 2
    >>> stage = CentredAverage(4, 1)
    >>> parts = [stage.push(x[i:i + 3]) for i in range(0, 10, 3)] + [stage.flush()]
    >>> np.allclose(np.concatenate(parts), moving_average(x, 4))
    True
    """

    def __init__(self, width, columns):
        self.width = int(width)
        self.columns = int(columns)
        self.before = self.width // 2
        self.after = self.width - 1 - self.before
        # Padded rows from output index n_out on (padded index = input + before).
        self._buffer = _empty(self.columns)
        self.n_in = 0
        self.n_out = 0
        self._last = None

    def push(self, rows):
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self.columns)
        if rows.shape[0] == 0:
            return _empty(self.columns)
        parts = [self._buffer]
        if self.n_in == 0:
            parts.append(np.repeat(rows[:1], self.before, axis=0))
        parts.append(rows)
        self._buffer = np.concatenate(parts)
        self.n_in += rows.shape[0]
        self._last = rows[-1].copy()
        return self._emit()

    def _emit(self):
        ready = self._buffer.shape[0] - self.width + 1
        if ready <= 0:
            return _empty(self.columns)
        windows = np.lib.stride_tricks.sliding_window_view(
            self._buffer[: ready + self.width - 1], self.width, axis=0)
        out = windows.sum(axis=-1) / self.width
        self._buffer = self._buffer[ready:]
        self.n_out += ready
        return out

    def flush(self):
        """The remaining outputs, the last input repeated past the end."""
        if self.n_in == 0 or self.n_out >= self.n_in:
            return _empty(self.columns)
        self._buffer = np.concatenate(
            [self._buffer, np.repeat(self._last[None, :], self.after, axis=0)])
        out = self._emit()
        self._buffer = _empty(self.columns)
        return out

    def peek(self, rows=None):
        """``push(rows)`` then ``flush()`` on a copy: the outputs if the input ended now."""
        clone = self.copy()
        head = clone.push(rows) if rows is not None else _empty(self.columns)
        return np.concatenate([head, clone.flush()])

    def get_state(self):
        return ({"n_in": self.n_in, "n_out": self.n_out},
                {"buffer": self._buffer,
                 "last": self._last if self._last is not None else np.zeros(0)})

    def set_state(self, params, arrays):
        self.n_in = _check_count(params["n_in"], "n_in")
        self.n_out = _check_count(params["n_out"], "n_out")
        if self.n_out > self.n_in:
            raise ValueError("state `n_out` exceeds `n_in`.")
        self._buffer = _check_array(arrays["buffer"], "buffer", (None, self.columns))
        last = _check_array(arrays["last"], "last", ndim=1)
        self._last = last if last.size == self.columns else None
        if (self._last is None) != (self.n_in == 0):
            raise ValueError("state `last` must hold one row once inputs were pushed.")


class WindowErrors(_Stage):
    """Per-point means of the window errors, emitted once no window can add to them.

    The incremental :class:`~fusionlab.detection.scoring.PointErrorAccumulator`:
    each window starting at ``s`` adds its errors ``(length, n_features)`` to
    points ``s + offset ...``; windows arrive in order of ``s``, so once the
    window starting at ``s`` is in, every point up to ``s + offset`` is final
    (no later window reaches back to it). A point no window covers (the
    first ``window`` points of a forecast) has error 0. The emitted rows are
    divided by the number of features, as the detector's contributions.

    Parameters
    ----------
    n_features, length, offset : int
        ``length`` steps per window error (``window`` for a reconstruction,
        ``horizon`` for a forecast), starting ``offset`` points after the
        window's start (0, or ``window`` for a forecast).
    """

    def __init__(self, n_features, length, offset=0):
        self.n_features = int(n_features)
        self.length = int(length)
        self.offset = int(offset)
        self.first = 0          # first point not emitted
        self.n_points = 0       # points received
        self.n_windows = 0      # windows added (they start at 0, 1, 2...)
        self._sums = _empty(self.n_features)
        self._counts = np.zeros(0, dtype=np.float64)

    def add_points(self, k):
        """``k`` more points were received."""
        self.n_points += int(k)
        grow = self.n_points - self.first - self._sums.shape[0]
        if grow > 0:
            self._sums = np.concatenate([self._sums, np.zeros((grow, self.n_features))])
            self._counts = np.concatenate([self._counts, np.zeros(grow)])

    def add(self, starts, errors):
        """Add the squared errors ``(b, length, n_features)`` of consecutive windows."""
        starts = np.asarray(starts, dtype=np.int64)
        if starts.size == 0:
            return
        if starts[0] != self.n_windows or (starts.size > 1 and np.any(np.diff(starts) != 1)):
            raise ValueError(f"windows must arrive in order: expected start {self.n_windows}, "
                             f"received {starts[:3].tolist()}...")
        b = starts.size
        lo = int(starts[0]) + self.offset - self.first
        if lo < 0 or lo + b - 1 + self.length > self._sums.shape[0]:
            raise ValueError("window errors fall outside the points received.")
        for j in range(self.length):
            self._sums[lo + j : lo + j + b] += errors[:, j, :]
            self._counts[lo + j : lo + j + b] += 1.0
        self.n_windows += b

    def _final_end(self):
        """One past the last final point."""
        if self.n_windows == 0:
            return self.first
        return self.n_windows - 1 + self.offset + 1

    def emit(self):
        """Contributions ``(k, n_features)`` of the points that became final."""
        return self._take(self._final_end())

    def _take(self, end):
        k = max(0, end - self.first)
        if k == 0:
            return _empty(self.n_features)
        sums, counts = self._sums[:k], self._counts[:k]
        mean = np.zeros_like(sums)
        covered = counts > 0
        mean[covered] = sums[covered] / counts[covered, None]
        self._sums, self._counts = self._sums[k:], self._counts[k:]
        self.first += k
        return mean / self.n_features

    def flush(self):
        """Every remaining point, with the windows it has (the batch's last points)."""
        return self._take(self.n_points)

    def peek(self):
        return self.copy().flush()

    def get_state(self):
        return ({"first": self.first, "n_points": self.n_points, "n_windows": self.n_windows},
                {"sums": self._sums, "counts": self._counts})

    def set_state(self, params, arrays):
        self.first = _check_count(params["first"], "first")
        self.n_points = _check_count(params["n_points"], "n_points")
        self.n_windows = _check_count(params["n_windows"], "n_windows")
        self._sums = _check_array(arrays["sums"], "sums", (None, self.n_features))
        self._counts = _check_array(arrays["counts"], "counts", ndim=1)
        if (self._counts.size != self._sums.shape[0]
                or self.first + self._sums.shape[0] != self.n_points):
            raise ValueError("state `sums`/`counts` do not cover the points not yet emitted.")


class WindowCentres(_Stage):
    """Each window's scores on its centre point: the batch ``to_centres``.

    Window ``s`` (points ``s ... s + window - 1``) gives its scores to point
    ``s + window // 2``; the points before the first centre repeat the first
    window's scores and, at :meth:`flush`, those after the last centre the
    last window's.

    Parameters
    ----------
    window, columns : int
    """

    def __init__(self, window, columns):
        self.window = int(window)
        self.columns = int(columns)
        self.before = self.window // 2
        self.n_windows = 0
        self.n_out = 0
        self._last = None

    def push(self, scores):
        scores = np.asarray(scores, dtype=np.float64).reshape(-1, self.columns)
        if scores.shape[0] == 0:
            return _empty(self.columns)
        parts = []
        if self.n_windows == 0:
            parts.append(np.repeat(scores[:1], self.before, axis=0))
        parts.append(scores)
        self.n_windows += scores.shape[0]
        self._last = scores[-1].copy()
        out = np.concatenate(parts)
        self.n_out += out.shape[0]
        return out

    def flush(self, n_points):
        """Scores of points ``n_out ... n_points - 1`` (the last window's)."""
        if self._last is None or n_points <= self.n_out:
            return _empty(self.columns)
        out = np.repeat(self._last[None, :], n_points - self.n_out, axis=0)
        self.n_out = n_points
        return out

    def get_state(self):
        return ({"n_windows": self.n_windows, "n_out": self.n_out},
                {"last": self._last if self._last is not None else np.zeros(0)})

    def set_state(self, params, arrays):
        self.n_windows = _check_count(params["n_windows"], "n_windows")
        self.n_out = _check_count(params["n_out"], "n_out")
        last = _check_array(arrays["last"], "last", ndim=1)
        # No columns (every scorer scores points): no window row is kept.
        self._last = last if self.n_windows and last.size == self.columns else None
        if (self._last is None) != (self.n_windows == 0):
            raise ValueError("state `last` must hold one row once windows were pushed.")


class _Queue(Copyable):
    """Rows waiting for their partners of the same index (a zip of streams)."""

    def __init__(self, columns):
        self.rows = _empty(columns)

    def put(self, rows):
        if rows.shape[0]:
            self.rows = np.concatenate([self.rows, rows])

    def take(self, k):
        out, self.rows = self.rows[:k], self.rows[k:]
        return out


class Combiner(_Stage):
    """The ensemble stage: window error and scorers' scores, scaled, aggregated (some added), split.

    Incremental :func:`~fusionlab.detection.ensemble.raw_scores` and
    :func:`~fusionlab.detection.ensemble.combine_contributions`: the model's
    point contributions are averaged over the model's window (their sum
    giving the reconstruction scorer's raw score, each feature's average its
    share); the window scorers' scores go to their windows' centre points,
    the point scorers' (``pointwise``) to their points; each raw score is
    put on its robust scale, the scales aggregated (``how``) and the result
    split over the features by the shares.

    Parameters
    ----------
    n_features, model_window, scorer_window : int
    names : sequence of str
        The detector's ``scorers`` in order (``'reconstruction'`` among them).
    scales : sequence of RobustScale
        One per name, the detector's ``scorer_scales_``.
    how : str
        ``'mean'`` or ``'max'``.
    pointwise : sequence of bool, optional
        One per subsequence scorer (``names`` without the model's): True for
        a point-exact one that scores each point as it arrives
        (:meth:`push_point_scores`) rather than windows
        (:meth:`push_window_scores`). Default: none. With any, each emitted
        row is followed by those scorers' share of it
        (:func:`~fusionlab.detection.ensemble.exact_contributions`), which
        the :class:`Smoother` keeps (``2 * n_features`` columns).
    exact_scales : sequence of RobustScale, optional
        The detector's ``exact_scales_``. With them, the point scorers are
        added on top of the others, their share is split by their own
        per-feature parts (pushed as ``(k, n_point * n_features)``) and
        measured on these scales; without (a detector fitted before), they
        are averaged with the others and split by the model's shares.
    """

    def __init__(self, n_features, model_window, scorer_window, names, scales, how,
                 recon_rule="average", peak_weight=0.0, add_calibrated=True, pointwise=None,
                 exact_scales=None):
        from ..detection.ensemble import RECONSTRUCTION

        self.n_features = int(n_features)
        self.names = list(names)
        self.scales = list(scales)
        self.how = how
        self.recon_rule = recon_rule
        self.peak_weight = float(peak_weight)
        self.recon_position = self.names.index(RECONSTRUCTION)
        self.n_scorers = len(self.names) - 1
        self.pointwise = ([False] * self.n_scorers if pointwise is None
                          else [bool(p) for p in pointwise])
        if len(self.pointwise) != self.n_scorers:
            raise ValueError(f"`pointwise` must hold one flag per scorer ({self.n_scorers}); "
                             f"received {len(self.pointwise)}.")
        self.n_point = sum(self.pointwise)
        self.n_window = self.n_scorers - self.n_point
        self.average = CentredAverage(model_window, self.n_features + 1)
        self.centres = WindowCentres(scorer_window, self.n_window)
        self._errors = _Queue(self.n_features + 1)
        self._raw = _Queue(1)
        self._scores = _Queue(self.n_window)
        self.exact_scales = None if exact_scales is None else list(exact_scales)
        # With exact scales, each point scorer's per-feature parts, else its score.
        self.point_columns = self.n_features if self.exact_scales is not None else 1
        self._points = _Queue(self.n_point * self.point_columns)
        self.n_out = 0
        from ..detection.ensemble import added_flags, calibrated_flags

        self.calibrated = calibrated_flags(self.names)
        # Archives fitted before calibrated scorers were added on top averaged
        # them; before point-exact ones were, averaged those.
        self.added = (added_flags(self.names, points=self.exact_scales is not None)
                      if add_calibrated else None)
        self._located = []      # the calibrated scorers' raw scores of the rows emitted

    def push_contributions(self, rows):
        """The model's final point contributions ``(k, n_features)``."""
        if rows.shape[0]:
            total = rows.sum(axis=1)
            self._raw.put(total[:, None])
            self._put_averaged(self.average.push(np.column_stack([rows, total])))

    def _put_averaged(self, averaged):
        """Averaged rows, their last column the model's window error by ``recon_rule``.

        ``'average'``: the moving average of the total error; ``'peak'``:
        :func:`~fusionlab.detection.scoring.smooth_errors` of it, an isolated
        large error keeping ``peak_weight`` of itself.
        """
        if not averaged.shape[0]:
            return
        own = self._raw.take(averaged.shape[0])[:, 0]
        if self.recon_rule == "peak" and self.average.width > 1:
            peak = self.peak_weight * own
            averaged = averaged.copy()
            averaged[:, -1] = np.where(peak > averaged[:, -1], peak, averaged[:, -1])
        self._errors.put(averaged)

    def push_window_scores(self, scores):
        """The window scorers' raw scores ``(k, n_window)`` of the next windows."""
        if scores.shape[0]:
            self._scores.put(self.centres.push(scores))

    def push_point_scores(self, scores):
        """The point scorers' scores of the next points.

        ``(k, n_point * n_features)``, each scorer's ``point_parts`` side by
        side, with exact scales; else ``(k, n_point)``, their raw scores.
        """
        scores = np.asarray(scores, dtype=np.float64)
        columns = self.n_point * self.point_columns
        if scores.ndim != 2 or scores.shape[1] != columns:
            raise ValueError(f"point scores must have shape (k, {columns}); received "
                             f"{scores.shape}.")
        if scores.shape[0]:
            self._points.put(scores)

    @property
    def columns(self):
        """Columns of the emitted rows: the contributions, then any point-exact share."""
        # With point scorers, their share of the aggregate is emitted beside it.
        return self.n_features * (2 if self.n_point else 1)

    def emit(self):
        k = self._errors.rows.shape[0]
        if self.n_window:
            k = min(k, self._scores.rows.shape[0])
        if self.n_point:
            k = min(k, self._points.rows.shape[0])
        if k == 0:
            return _empty(self.columns)
        return self._combine(self._errors.take(k), self._scores.take(k), self._points.take(k))

    def _combine(self, averaged, windowed, pointed):
        from ..detection.ensemble import (
            combine_contributions,
            error_shares,
            exact_contributions,
            located_scores,
        )

        # The raw scores in the order of the scorers: the model's window
        # error, then each scorer's column (or per-feature parts) from its
        # own queue.
        f = self.point_columns
        parts = iter(pointed[:, i * f:(i + 1) * f] for i in range(self.n_point))
        window_columns = iter(windowed.T)
        flags = iter(self.pointwise)
        raws, own = [], []
        for position in range(len(self.names)):
            if position == self.recon_position:
                raws.append(averaged[:, self.n_features])
                own.append(None)
            elif next(flags):
                part = next(parts)
                raws.append(part.sum(axis=1))
                own.append(error_shares(part) if self.exact_scales is not None else None)
            else:
                raws.append(next(window_columns))
                own.append(None)
        located = located_scores(self.names, raws)
        if located is not None:
            self._located.append(located)
        shares = error_shares(averaged[:, : self.n_features])
        rows = combine_contributions(raws, self.scales, shares, self.how, self.added, own=own)
        self.n_out += rows.shape[0]
        if not self.n_point:
            return rows
        # The point-exact scorers' share alone, as the batch scoring keeps it.
        exact = exact_contributions(raws, self.exact_scales or self.scales, shares, self.how,
                                    self.names, self.added, own)
        return np.concatenate([rows, exact], axis=1)

    def take_located(self):
        """The calibrated scorers' raw scores of the rows emitted since the last call, or None."""
        if not any(self.calibrated):
            return None
        out = np.concatenate(self._located) if self._located else np.zeros(0)
        self._located = []
        return out

    def flush(self, n_points):
        """Every remaining point of a series of ``n_points`` points."""
        self._put_averaged(self.average.flush())
        self._scores.put(self.centres.flush(n_points))
        return self.emit()

    def get_state(self):
        params, arrays = {"n_out": self.n_out}, {}
        for name, part in (("average", self.average), ("centres", self.centres)):
            p, a = part.get_state()
            params[name] = p
            arrays.update({f"{name}.{k}": v for k, v in a.items()})
        arrays["errors_queue"] = self._errors.rows
        arrays["scores_queue"] = self._scores.rows
        arrays["raw_queue"] = self._raw.rows
        if self.n_point:
            arrays["points_queue"] = self._points.rows
        return params, arrays

    def set_state(self, params, arrays):
        self.n_out = _check_count(params["n_out"], "n_out")
        for name, part in (("average", self.average), ("centres", self.centres)):
            prefix = f"{name}."
            part.set_state(params[name], {k[len(prefix):]: v for k, v in arrays.items()
                                          if k.startswith(prefix)})
        self._errors.rows = _check_array(arrays["errors_queue"], "errors_queue",
                                         (None, self.n_features + 1))
        self._scores.rows = _check_array(arrays["scores_queue"], "scores_queue",
                                         (None, self.n_window))
        self._raw.rows = _check_array(arrays["raw_queue"], "raw_queue", (None, 1))
        if self.n_point:
            if "points_queue" not in arrays:
                raise ValueError("state `points_queue` is missing.")
            self._points.rows = _check_array(arrays["points_queue"], "points_queue",
                                             (None, self.n_point * self.point_columns))


class Smoother(_Stage):
    """The detector's score smoothing, incrementally: :func:`~fusionlab.detection.scoring.smooth_errors`.

    Each feature's contributions averaged over ``width`` centred points; a
    point whose own total times ``peak_weight`` exceeds its averaged total
    keeps ``peak_weight`` times its own contributions. Output ``i`` is final
    once input ``i + width - 1 - width // 2`` is in.

    Parameters
    ----------
    width : int
        1: contributions pass unchanged.
    peak_weight : float
    n_features : int
    keep_exact : bool, default=False
        The rows pushed hold ``2 * n_features`` columns: the contributions,
        then the point-exact scorers' share of them (:class:`Combiner`); no
        output row sums below that share
        (:func:`~fusionlab.detection.scoring.keep_exact`).
    """

    def __init__(self, width, peak_weight, n_features, keep_exact=False):
        self.width = int(width)
        self.peak_weight = float(peak_weight)
        self.n_features = int(n_features)
        self.keep_exact = bool(keep_exact)
        self.average = CentredAverage(self.width, self.n_features) if self.width > 1 else None
        self._raw = _Queue(self.n_features * (2 if self.keep_exact else 1))

    @property
    def delay(self):
        """Inputs needed after a point before its output is final."""
        return 0 if self.average is None else self.average.after

    def push(self, rows):
        f = self.n_features
        if self.average is None:
            rows = np.asarray(rows, dtype=np.float64)
            return self._kept(rows, rows[:, :f])
        self._raw.put(rows)
        return self._finish(self.average.push(rows[:, :f]))

    def _finish(self, averaged):
        from ..detection.scoring import higher_rows

        raw = self._raw.take(averaged.shape[0])
        return self._kept(raw, higher_rows(averaged, self.peak_weight * raw[:, : self.n_features]))

    def _kept(self, raw, smoothed):
        if not self.keep_exact:
            return smoothed
        from ..detection.scoring import keep_exact

        return keep_exact(smoothed, raw[:, self.n_features:])

    def flush(self):
        if self.average is None:
            return _empty(self.n_features)
        return self._finish(self.average.flush())

    def get_state(self):
        if self.average is None:
            return {}, {}
        params, arrays = self.average.get_state()
        return {"average": params}, {**{f"average.{k}": v for k, v in arrays.items()},
                                     "raw_queue": self._raw.rows}

    def set_state(self, params, arrays):
        if self.average is None:
            return
        self.average.set_state(params["average"], {k[len("average."):]: v for k, v in
                                                   arrays.items() if k.startswith("average.")})
        self._raw.rows = _check_array(arrays["raw_queue"], "raw_queue",
                                      (None, self._raw.rows.shape[1]))
