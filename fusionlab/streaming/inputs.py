"""Points as they arrive: checks, timestamps, imputation, the values kept.

- :func:`read_points` -- a chunk of one series as a ``(k, n_features)``
  float array (one point may be a 1-D row), feature names checked as
  ``score_samples`` checks them;
- :func:`read_stamps` -- its timestamps as numbers or datetimes;
- :class:`StreamImputer` -- the detector's ``impute`` rule point by point:
  ``'ffill'`` carries the last valid value forward (the first valid one
  backward for a series that starts with NaN), ``'linear'`` waits for the
  next valid value and interpolates by position, as
  :func:`~fusionlab.detection.inputs.impute_values` does over a whole series;
- :class:`Ring` -- the last ``capacity`` rows of a series, by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .events import Rows

__all__ = ["PointError", "read_points", "read_stamps", "StreamImputer", "Ring", "row_scaler"]


@dataclass(frozen=True)
class PointError:
    """A point (or a chunk) refused, or changed, and why; the stream goes on.

    Attributes
    ----------
    series_id : str
    code : str
        ``'non_finite'``, ``'out_of_order'``, ``'duplicate_timestamp'``,
        ``'missing_timestamp'``, ``'timestamps_kind'``, ``'imputed_forward'``,
        ``'no_value_to_impute'``, ``'bad_values'``, ``'bad_scaling'``,
        ``'too_short'``, ``'unknown_series'``, ``'too_many_series'`` (``max_series``
        reached), ``'refit_failed'``...
    message : str
    position : int or None
        Position of the point in the chunk (None for the whole chunk).
    timestamp : object
        Its timestamp, when it had one.
    """

    series_id: str
    code: str
    message: str
    position: int | None = None
    timestamp: object = None

    def to_dict(self):
        stamp = self.timestamp
        if isinstance(stamp, pd.Timestamp):
            stamp = stamp.isoformat()
        elif isinstance(stamp, np.generic):
            stamp = stamp.item()
        return {"series_id": self.series_id, "code": self.code, "message": self.message,
                "position": self.position, "timestamp": stamp}


def read_points(values, n_features, feature_names, compare_names):
    """``(rows, index)``: a chunk as float64 ``(k, n_features)`` and a DataFrame's index.

    One point may be a 1-D row of ``n_features`` values (a number for one
    feature); for one feature a 1-D array is a chunk of points, as ``X``
    of ``score_samples`` is.

    Raises
    ------
    TypeError
        For non-numeric or complex values.
    ValueError
        For a wrong number of features, names that differ from those seen at
        fit, or an empty chunk.
    """
    index = None
    names = None
    if isinstance(values, pd.Series):
        values = values.to_frame().T if values.name is None or values.index.size == n_features \
            else values.to_frame()
    if isinstance(values, pd.DataFrame):
        index = values.index
        if all(isinstance(c, str) for c in values.columns):
            names = [str(c) for c in values.columns]
        bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])
               or pd.api.types.is_complex_dtype(values[c])]
        if bad:
            raise TypeError(f"`values` must hold real numbers; received non-numeric or complex "
                            f"column(s) {bad}.")
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.iscomplexobj(values):
        raise TypeError("`values` must hold real numbers; received complex numbers.")
    try:
        rows = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`values` must be numbers of shape (n_points, {n_features}) or one "
                        f"point of {n_features}; could not convert them to float ({exc}).") from exc
    if rows.ndim == 0 and n_features == 1:
        rows = rows.reshape(1, 1)
    if rows.ndim == 0 or (rows.ndim == 1 and n_features != 1 and rows.size != n_features):
        raise ValueError(f"`values` must be one point of {n_features} feature(s) or an array "
                         f"(n_points, {n_features}); received shape {rows.shape}.")
    if rows.ndim == 1:
        rows = rows[None, :] if rows.size == n_features and n_features != 1 else rows[:, None]
    if rows.ndim != 2 or rows.shape[1] != n_features:
        raise ValueError(f"`values` has {rows.shape[-1] if rows.ndim == 2 else rows.shape} "
                         f"feature(s) but the detector was fitted with {n_features} "
                         f"({list(feature_names)}); expected shape (n_points, {n_features}).")
    if rows.shape[0] == 0:
        raise ValueError("`values` is empty: received no point.")
    if compare_names and names is not None and names != [str(n) for n in feature_names]:
        raise ValueError(f"The feature names of `values` differ from those seen at fit: "
                         f"received {names}, expected {list(feature_names)}.")
    return rows, index


def read_stamps(timestamps, k):
    """``(kind, values, tz)`` of a chunk's timestamps.

    ``kind`` is ``'none'``, ``'number'`` (float64 values) or ``'datetime'``
    (int64 nanoseconds, UTC for aware ones, ``tz`` their zone). Missing ones
    are NaN / the smallest int64 (NaT): the caller refuses those points.

    Raises
    ------
    ValueError
        When their number is not ``k``, or they are neither numbers nor times.
    """
    if timestamps is None:
        return "none", None, None
    stamps = pd.Index(np.asarray(timestamps)) if not isinstance(timestamps, pd.Index) \
        else timestamps
    if len(stamps) != k:
        raise ValueError(f"`timestamps` must have one value per point ({k}); received "
                         f"{len(stamps)}.")
    if pd.api.types.is_bool_dtype(stamps.dtype):
        raise TypeError("`timestamps` must be numbers or times; received booleans.")
    if pd.api.types.is_numeric_dtype(stamps.dtype):
        return "number", np.asarray(stamps, dtype=np.float64), None
    try:
        times = pd.DatetimeIndex(stamps)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`timestamps` must be numbers or times (datetime64, Timestamp, ISO "
                         f"text); could not read them ({exc}).") from exc
    tz = None if times.tz is None else str(times.tz)
    if tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    # Nanoseconds whatever the index's own unit (pandas may keep microseconds).
    return "datetime", times.as_unit("ns").asi8.astype(np.int64), tz


def row_scaler(scaler):
    """A function scaling rows as ``scaler.transform`` does.

    For scikit-learn's own ``StandardScaler``, ``MinMaxScaler`` and
    ``RobustScaler`` (the detector's ``scaler`` names) the fitted
    arithmetic is applied directly -- the same operations in the same
    order, without ``transform``'s checks of every call, which cost more
    than the scaling of a few points; any other transformer is called.
    (The probe of :func:`~fusionlab.streaming.support.check_supported`
    checks the result either way.)
    """
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    if scaler is None:
        return lambda rows: rows
    kind = type(scaler)
    if kind is StandardScaler:
        steps = [("-", scaler.mean_ if scaler.with_mean else None),
                 ("/", scaler.scale_ if scaler.with_std else None)]
    elif kind is RobustScaler:
        steps = [("-", scaler.center_ if scaler.with_centering else None),
                 ("/", scaler.scale_ if scaler.with_scaling else None)]
    elif kind is MinMaxScaler:
        steps = [("*", scaler.scale_), ("+", scaler.min_)]
        if scaler.clip:
            steps.append(("clip", scaler.feature_range))
    else:
        return scaler.transform

    def scale(rows):
        x = np.array(rows, dtype=np.float64)
        for op, value in steps:
            if value is None:
                continue
            if op == "-":
                x -= value
            elif op == "/":
                x /= value
            elif op == "*":
                x *= value
            elif op == "+":
                x += value
            else:
                np.clip(x, value[0], value[1], out=x)
        return x

    return scale


class Ring:
    """The last ``capacity`` rows of a series, addressed by their position.

    Parameters
    ----------
    capacity : int
    columns : int or None
        None: one value per position.
    dtype : numpy dtype

    The storage is allocated (and written) once, so its memory is taken
    when the series starts, not as the stream goes on.
    """

    def __init__(self, capacity, columns=None, dtype=np.float32):
        self.capacity = int(capacity)
        shape = (self.capacity,) if columns is None else (self.capacity, int(columns))
        self._data = np.full(shape, 0, dtype=dtype)
        self.end = 0

    @property
    def start(self):
        """First position still held."""
        return max(0, self.end - self.capacity)

    def append(self, rows):
        k = rows.shape[0]
        if k == 0:
            return
        if k > self.capacity:
            self.end += k - self.capacity
            rows = rows[-self.capacity:]
            k = self.capacity
        first = self.end % self.capacity
        head = min(k, self.capacity - first)
        self._data[first:first + head] = rows[:head]
        if head < k:
            self._data[: k - head] = rows[head:]
        self.end += k

    def get(self, lo, hi):
        """Rows of positions ``lo ... hi - 1`` (a copy)."""
        if not self.start <= lo <= hi <= self.end:
            raise ValueError(f"positions {lo}..{hi} are not held (held: {self.start}.."
                             f"{self.end}); raise `max_event_length`'s room or the capacity.")
        a, b = lo % self.capacity, (hi - 1) % self.capacity + 1
        if hi == lo:
            return self._data[:0].copy()
        if a < b:
            return self._data[a:b].copy()
        return np.concatenate([self._data[a:], self._data[:b]])

    def last(self):
        return self._data[(self.end - 1) % self.capacity]

    def get_state(self):
        lo = self.start
        return {"end": self.end}, {"rows": self.get(lo, self.end)}

    def set_state(self, params, arrays):
        end = params["end"]
        if isinstance(end, bool) or not isinstance(end, int) or end < 0:
            raise ValueError(f"state `end` must be a non-negative integer; received {end!r}.")
        rows = np.asarray(arrays["rows"])
        expected = min(end, self.capacity)
        if rows.shape[1:] != self._data.shape[1:] or rows.shape[0] != expected:
            raise ValueError(f"state `rows` must hold {expected} rows of shape "
                             f"{self._data.shape[1:]}; received {rows.shape}.")
        if rows.dtype.kind == "f" and not np.all(np.isfinite(rows)):
            raise ValueError("state `rows` holds NaN or infinite values.")
        self.end = end - expected
        self.append(rows.astype(self._data.dtype))


class StreamImputer:
    """The detector's ``impute`` rule applied to points as they arrive.

    ``feed`` returns the rows whose values are now known (in order): a row
    with a missing value for which the rule needs a later value (the next
    valid one for ``'linear'``, the first valid one for a series starting
    with NaN) is held, and the rows after it wait with it. At most
    ``max_hold`` rows are held: beyond, the oldest is filled forward with
    the last valid value (``'linear'``; a ``PointError`` ``'imputed_forward'``
    says it, as it then differs from the batch rule) or refused when there is
    none (``'no_value_to_impute'``). :meth:`flush` (end of the stream) fills
    the last rows forward, as the batch rule does at the end of a series.

    Parameters
    ----------
    policy : {'linear', 'ffill'}
    n_features, max_hold : int
    """

    def __init__(self, policy, n_features, max_hold):
        self.policy = policy
        self.n_features = int(n_features)
        self.max_hold = int(max_hold)
        self.position = 0
        self.last_value = np.full(self.n_features, np.nan)
        self.last_position = np.full(self.n_features, -1, dtype=np.int64)
        self._held = Rows(self.n_features)
        self._held_stamps = []
        self._held_first = 0

    @property
    def n_held(self):
        return self._held.size

    def feed(self, rows, stamps):
        """``(ready_rows, ready_stamps, notes)`` after the rows ``(k, f)`` arrived."""
        finite = np.isfinite(rows)
        if self._held.size == 0 and finite.all():
            self.position += rows.shape[0]
            self.last_value = rows[-1].copy()
            self.last_position[:] = self.position - 1
            return rows, stamps, []
        ready, ready_stamps, notes = [], [], []
        for i in range(rows.shape[0]):
            row = np.where(finite[i], rows[i], np.nan)
            stamp = None if stamps is None else stamps[i]
            self._feed_row(row, stamp, ready, ready_stamps, notes)
        out = np.asarray(ready, dtype=np.float64).reshape(-1, self.n_features)
        return out, (None if stamps is None else np.asarray(ready_stamps, dtype=stamps.dtype)), \
            notes

    def _feed_row(self, row, stamp, ready, ready_stamps, notes):
        p = self.position
        self.position += 1
        valid = ~np.isnan(row)
        if self._held.size:
            held = self._held.values
            for f in np.flatnonzero(valid):
                missing = np.flatnonzero(np.isnan(held[:, f]))
                if missing.size == 0:
                    continue
                where = self._held_first + missing
                if self.policy == "linear" and self.last_position[f] >= 0:
                    held[missing, f] = np.interp(
                        where, [self.last_position[f], p], [self.last_value[f], row[f]])
                else:  # a series that starts with NaN: the first valid value backward
                    held[missing, f] = row[f]
        filled = row.copy()
        if self.policy == "ffill":
            known = ~valid & (self.last_position >= 0)
            filled[known] = self.last_value[known]
        self.last_value[valid] = row[valid]
        self.last_position[valid] = p
        if self._held.size or np.isnan(filled).any():
            if self._held.size == 0:
                self._held_first = p
            self._held.extend(filled[None, :])
            self._held_stamps.append(stamp)
        else:
            ready.append(filled)
            ready_stamps.append(stamp)
        self._release(ready, ready_stamps, notes)

    def _release(self, ready, ready_stamps, notes, force=False):
        held = self._held.values
        done = 0
        while done < held.shape[0]:
            row = held[done]
            missing = np.isnan(row)
            if missing.any():
                if not force and held.shape[0] - done <= self.max_hold:
                    break
                position = self._held_first + done
                gone = missing & (self.last_position < 0)
                if gone.any():
                    notes.append(("no_value_to_impute", position, self._held_stamps[done],
                                  f"feature(s) {np.flatnonzero(gone).tolist()} hold no finite "
                                  "value yet to impute from; the point is refused."))
                    done += 1
                    continue
                row = row.copy()
                # The last valid value before this row: a later one would
                # already have filled it.
                row[missing] = self._value_before(missing)
                if not force:
                    notes.append(("imputed_forward", position, self._held_stamps[done],
                                  f"feature(s) {np.flatnonzero(missing).tolist()} stayed "
                                  f"missing for more than {self.max_hold} points; filled "
                                  "forward instead of interpolated."))
            ready.append(row)
            ready_stamps.append(self._held_stamps[done])
            done += 1
        if done:
            rest = held[done:].copy()
            self._held = Rows.of(rest) if rest.shape[0] else Rows(self.n_features)
            self._held_stamps = self._held_stamps[done:]
            self._held_first += done

    def _value_before(self, missing):
        return self.last_value[missing]

    def flush(self):
        """``(rows, stamps, notes)``: the held rows, filled forward (end of the stream)."""
        ready, ready_stamps, notes = [], [], []
        self._release(ready, ready_stamps, notes, force=True)
        rows = np.asarray(ready, dtype=np.float64).reshape(-1, self.n_features)
        return rows, ready_stamps, notes

    def get_state(self):
        stamps = [None if s is None else (s.item() if isinstance(s, np.generic) else s)
                  for s in self._held_stamps]
        return ({"position": self.position, "held_first": self._held_first,
                 "held_stamps": stamps},
                {"last_value": self.last_value, "last_position": self.last_position,
                 "held": self._held.values.copy()})

    def set_state(self, params, arrays):
        self.position = int(params["position"])
        self._held_first = int(params["held_first"])
        self._held_stamps = list(params["held_stamps"])
        self.last_value = np.asarray(arrays["last_value"], dtype=np.float64).reshape(
            self.n_features)
        self.last_position = np.asarray(arrays["last_position"], dtype=np.int64).reshape(
            self.n_features)
        held = np.asarray(arrays["held"], dtype=np.float64).reshape(-1, self.n_features)
        if held.shape[0] != len(self._held_stamps):
            raise ValueError("state `held` and `held_stamps` differ in length.")
        self._held = Rows.of(held) if held.shape[0] else Rows(self.n_features)
