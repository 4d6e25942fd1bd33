"""The streaming detector: a fitted detector's scores, events and alerts, point by point."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import check_option, check_positive_int, check_real
from .alarms import AlarmPolicy, AlertBook
from .batching import MicroBatcher
from .drift import DriftEvent, PageHinkley
from .inputs import PointError, Ring, read_points, read_stamps
from .pipeline import Block, SeriesPipeline
from .support import check_supported, score_now

__all__ = ["StreamingDetector", "StreamResult", "ScoredPoints", "REFIT_POLICIES"]

#: When the model is fitted again: never, when a series drifts, every N points.
REFIT_POLICIES = ("none", "drift", "every")
_NAT = np.iinfo(np.int64).min


class _SeriesLimitError(ValueError):
    """A new series refused because ``max_series`` series are already streaming."""


@dataclass
class ScoredPoints:
    """Scores of consecutive points of one series.

    Attributes
    ----------
    series_id : str
    start : int
        Stream position of the first point.
    scores : ndarray of shape (k,)
    contributions : ndarray of shape (k, n_features)
    labels : ndarray
        Their timestamps, or their positions.
    interim : bool
        True for interim scores (the points are not final yet).
    model_version : int
    """

    series_id: str
    start: int
    scores: np.ndarray
    contributions: np.ndarray
    labels: np.ndarray
    interim: bool
    model_version: int

    @property
    def stop(self):
        return self.start + self.scores.shape[0]


@dataclass
class StreamResult:
    """What became known during one call.

    Attributes
    ----------
    scores : list of ScoredPoints
        Final scores, in order for each series.
    events : list of Anomaly
        Closed events, the records ``detect`` gives; ``metadata`` adds
        ``series_id``, ``model_version`` and ``interim`` (False).
    alerts : list of Alert
        Alerts fired, upgraded, finalised or withdrawn (see
        :mod:`~fusionlab.streaming.alarms`).
    interim : list of ScoredPoints
        The interim scores of the points not final yet, for each series
        scored in the call.
    errors : list of PointError
        Points refused or changed, and why.
    drifts : list of DriftEvent
    refits : list of dict
        Models swapped in: ``{"model_version", "model_id", "series_id", "reason"}``.
    """

    scores: list = field(default_factory=list)
    events: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    interim: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    drifts: list = field(default_factory=list)
    refits: list = field(default_factory=list)

    def extend(self, other):
        """Add another result's items (in order)."""
        for name in ("scores", "events", "alerts", "interim", "errors", "drifts", "refits"):
            getattr(self, name).extend(getattr(other, name))
        return self

    def scores_of(self, series_id):
        """``(start, scores)`` of one series' final scores in this result (None if none)."""
        parts = [p for p in self.scores if p.series_id == series_id]
        if not parts:
            return None
        return parts[0].start, np.concatenate([p.scores for p in parts])

    def events_of(self, series_id):
        return [e for e in self.events if e.metadata.get("series_id") == series_id]

    def __bool__(self):
        return any(getattr(self, n) for n in ("scores", "events", "alerts", "interim",
                                              "errors", "drifts", "refits"))


class _Series:
    """One series: its pipeline, order check, alerts, drift test and training buffer."""

    def __init__(self, series_id, pipeline, drift, train_window, n_features, stamp_kind, tz):
        self.series_id = series_id
        self.pipeline = pipeline
        self.stamp_kind = stamp_kind
        self.tz = tz
        self.last_stamp = None
        self.n_total = 0          # points accepted by the stream (all model versions)
        self.alerts = AlertBook()
        self.next_alert = 1
        self.drift = drift
        self.since_refit = 0
        self.train = None
        if train_window:
            self.train = Ring(train_window, n_features, np.float64)
            self.train_stamps = (Ring(train_window, None, np.float64 if stamp_kind == "number"
                                      else np.int64) if stamp_kind != "none" else None)

    def new_alert_id(self):
        value = self.next_alert
        self.next_alert += 1
        return value


class StreamingDetector:
    """Online scoring with a fitted :class:`~fusionlab.detection.AnomalyDetector`.

    Points arrive one by one or in chunks, from many series at once;
    :meth:`update` returns what became known: final scores (equal to
    ``score_samples`` of the same series), closed events (the records of
    ``detect``), interim scores and alerts. The windows of all series share
    the model calls (``batch_size``, ``max_delay_ms``). Every stage of the
    detector has an incremental counterpart (:mod:`~fusionlab.streaming.stages`),
    checked on a probe series before the detector is accepted
    (:func:`~fusionlab.streaming.support.check_supported`); the state of a
    series is bounded (the last values a window, the smoothing and an open
    event need), whatever the length of the stream.

    When scores are final
    ---------------------
    A point's score is final :attr:`delay` points later: once every window
    covering it is in (``window_ - 1`` points later; ``horizon`` for a
    forecast model) and the right half of each centred average after them
    (the subsequence scorers' window, the smoothing width). Until then the
    *interim* score is the one ``score_samples`` would give if the series
    ended with the last point received. :meth:`flush` ends a stream: its
    last scores are then final as the last points of a batch are.

    Parameters
    ----------
    detector : AnomalyDetector
        Fitted; not modified.
    batch_size : int, default=256
        Windows per model call (every call has this shape: one trace).
    max_delay_ms : float, default=20
        Longest a window waits for others before a short batch is scored
        (checked at each :meth:`update` and :meth:`poll`; 0 scores at once).
    alarm_policy : AlarmPolicy, optional
        Which events raise alerts (default: high or critical, at once).
    interim : bool, default=True
        Compute interim scores and interim alerts.
    top_k : int, default=3
        Features named in each record (as ``detect(top_k=)``).
    max_event_length : int, default=1024
        Longest event kept open; a longer one is closed there
        (``metadata["split"]``), which bounds the memory of a series.
    max_hold : int, default=256
        Most points held by the ``impute`` rule waiting for a later value.
    max_series : int, optional
        Most series at once (a new one beyond is refused).
    drift : PageHinkley, True or None, default=None
        Drift test of each series' scores (True: ``PageHinkley()``).
    refit_policy : {'none', 'drift', 'every'}, default='none'
        Fit a new model in the background on the last ``train_window``
        points of a series when it drifts, or each time a series has
        received ``refit_every`` points; it replaces the model for every
        series at the next call (each stream then starts again, its first
        scores those of a new series). Records carry ``model_version``.
    refit_every : int, optional
    train_window : int, default=2048
    refit_params : dict, optional
        Parameters changed for the refit (``{"epochs": 5}``).

    Attributes
    ----------
    detector_ : AnomalyDetector
        The detector scoring now (a refitted one after a swap).
    model_version : int
        0 for ``detector``, then one more per swap.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import AnomalyDetector
    >>> from fusionlab.streaming import StreamingDetector
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.arange(400) * 2 * np.pi / 20) + rng.normal(0, 0.05, 400)
    >>> x[300:303] += 3.0
    >>> det = AnomalyDetector(model="conv_autoencoder", window=20, epochs=2,
    ...                       scorers=("reconstruction",), random_state=0).fit(x[:250])
    >>> stream = StreamingDetector(det, max_delay_ms=0)
    >>> scores = []
    >>> for value in x:
    ...     result = stream.update("pump", value)
    ...     scores += [p.scores for p in result.scores]
    >>> scores += [p.scores for p in stream.flush().scores]
    >>> bool(np.allclose(np.concatenate(scores), det.score_samples(x), rtol=1e-6))
    True
    """

    def __init__(self, detector, batch_size=256, max_delay_ms=20, *, alarm_policy=None,
                 interim=True, top_k=3, max_event_length=1024, max_hold=256, max_series=None,
                 drift=None, refit_policy="none", refit_every=None, train_window=2048,
                 refit_params=None):
        # Not an estimator: the parameters are checked here, where they are given.
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.max_delay_ms = check_real(max_delay_ms, "max_delay_ms", low=0.0)
        if alarm_policy is None:
            alarm_policy = AlarmPolicy()
        if not isinstance(alarm_policy, AlarmPolicy):
            raise TypeError(f"`alarm_policy` must be an AlarmPolicy; received {alarm_policy!r}.")
        self.alarm_policy = alarm_policy
        if not isinstance(interim, bool):
            raise TypeError(f"`interim` must be True or False; received {interim!r}.")
        self.interim = interim
        self.top_k = check_positive_int(top_k, "top_k")
        self.max_event_length = check_positive_int(max_event_length, "max_event_length")
        self.max_hold = check_positive_int(max_hold, "max_hold")
        self.max_series = check_positive_int(max_series, "max_series", allow_none=True)
        if drift is True:
            drift = PageHinkley()
        if drift is not None and not isinstance(drift, PageHinkley):
            raise TypeError(f"`drift` must be a PageHinkley, True or None; received {drift!r}.")
        self.drift = drift
        self.refit_policy = check_option(refit_policy, "refit_policy", REFIT_POLICIES)
        self.refit_every = check_positive_int(refit_every, "refit_every", allow_none=True)
        if self.refit_policy == "every" and self.refit_every is None:
            raise ValueError("`refit_policy='every'` needs `refit_every` (points between refits).")
        if self.refit_policy == "drift" and self.drift is None:
            self.drift = PageHinkley()
        self.train_window = check_positive_int(train_window, "train_window")
        if refit_params is not None and not isinstance(refit_params, dict):
            raise TypeError(f"`refit_params` must be a dict; received {refit_params!r}.")
        self.refit_params = dict(refit_params or {})
        self._spec = check_supported(detector, top_k=self.top_k,
                                     max_event_length=self.max_event_length,
                                     max_hold=self.max_hold, batch_size=self.batch_size)
        self.detector_ = detector
        self.model_version = 0
        self._series = {}
        self._batcher = MicroBatcher(self.batch_size, self.max_delay_ms)
        self._dirty = set()
        self._lock = threading.RLock()
        self._refit_thread = None
        self._refit_done = None
        self.points_total = 0

    # ------------------------------------------------------------ properties
    @property
    def delay(self):
        """Points after a point before its score is final."""
        return self._spec.delay

    @property
    def series_ids(self):
        """The series being streamed, in order of arrival."""
        return list(self._series)

    @property
    def model_calls(self):
        """Model calls made so far (each of ``batch_size`` windows)."""
        return self._batcher.calls

    def n_points(self, series_id):
        """Points accepted for ``series_id``."""
        return self._entry(series_id).n_total

    def _entry(self, series_id):
        try:
            return self._series[series_id]
        except KeyError:
            raise ValueError(f"Unknown series {series_id!r}; streamed series: "
                             f"{sorted(self._series)[:20]}.") from None

    # ---------------------------------------------------------------- input
    def update(self, series_id, values, timestamps=None):
        """Points of one series; returns what became known (a :class:`StreamResult`).

        Parameters
        ----------
        series_id : str
            Any name; a new one starts a series.
        values : array-like of shape (n_features,) or (n_points, n_features), or DataFrame
            One point or a chunk, in time order (a DataFrame with a
            non-range index gives its timestamps).
        timestamps : array-like of shape (n_points,), optional
            Numbers or times, increasing across calls. A point not later
            than the last one accepted is refused (``'out_of_order'`` or
            ``'duplicate_timestamp'``), the others go on.

        Raises
        ------
        TypeError, ValueError
            For a chunk that cannot be read at all (wrong number of
            features, not numbers, feature names that differ, timestamps of
            another kind than the series' first ones); nothing is changed.
            Single bad points are reported in ``result.errors`` instead.
        """
        return self.update_many([(series_id, values, timestamps)], _raise=True)

    def update_many(self, items, *, force=False, _raise=False):
        """Chunks of several series in one call (their windows share model calls).

        Parameters
        ----------
        items : iterable of (series_id, values) or (series_id, values, timestamps), or dict
            A dict maps series ids to values.
        force : bool, default=False
            Score every waiting window now (as when ``max_delay_ms`` passed).

        Returns
        -------
        StreamResult
            A chunk that cannot be read is reported in ``errors``
            (``'bad_values'``) and the others are scored.
        """
        if isinstance(items, dict):
            items = list(items.items())
        with self._lock:
            result = StreamResult()
            self._maybe_swap(result)
            for item in items:
                if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                    raise TypeError("`items` must hold (series_id, values) or (series_id, "
                                    f"values, timestamps) tuples; received {item!r:.80}.")
                series_id, values = item[0], item[1]
                stamps = item[2] if len(item) == 3 else None
                try:
                    self._ingest(series_id, values, stamps, result)
                except (TypeError, ValueError) as exc:
                    if _raise:
                        raise
                    code = "too_many_series" if isinstance(exc, _SeriesLimitError) else "bad_values"
                    result.errors.append(PointError(str(series_id), code, str(exc)))
            self._run(result, force=force)
            return result

    def poll(self, force=False):
        """Score the windows whose wait is over (all with ``force``); what became known."""
        with self._lock:
            result = StreamResult()
            self._maybe_swap(result)
            self._run(result, force=force)
            return result

    def next_deadline(self):
        """Seconds until waiting windows must be scored (call :meth:`poll` then), or None."""
        return self._batcher.wait_time()

    def _ingest(self, series_id, values, timestamps, result):
        series_id = _check_series_id(series_id)
        spec = self._spec
        rows, index = read_points(values, spec.n_features, spec.feature_names, spec.compare_names)
        if timestamps is None and index is not None and not isinstance(index, pd.RangeIndex):
            timestamps = index
        kind, stamps, tz = read_stamps(timestamps, rows.shape[0])
        entry = self._series.get(series_id)
        if entry is None:
            if self.max_series is not None and len(self._series) >= self.max_series:
                raise _SeriesLimitError(
                    f"Already streaming `max_series`={self.max_series} series; "
                    f"{series_id!r} is refused (flush one first).")
            self._check_stamp_kind(kind)
            entry = self._new_series(series_id, kind, tz)
        elif (kind, tz) != (entry.stamp_kind, entry.tz):
            raise ValueError(
                f"Series {series_id!r} started with {_kind_text(entry.stamp_kind, entry.tz)}; "
                f"received {_kind_text(kind, tz)}. Give every chunk of a series the same kind "
                "of timestamps.")
        keep = np.ones(rows.shape[0], dtype=bool)
        if stamps is not None:
            keep &= self._check_order(entry, stamps, result)
        if spec.impute is None:
            bad = ~np.isfinite(rows).all(axis=1) & keep
            for i in np.flatnonzero(bad):
                result.errors.append(PointError(
                    series_id, "non_finite", "the point holds NaN or infinite values and the "
                    "detector has no `impute` rule; it is refused.", int(i),
                    self._stamp_label(entry, stamps, i)))
            keep &= ~bad
        if not keep.all():
            rows = rows[keep]
            stamps = None if stamps is None else stamps[keep]
        if rows.shape[0] == 0:
            return
        if stamps is not None:
            entry.last_stamp = stamps[-1]
        if entry.train is not None:
            entry.train.append(rows)
            if entry.train_stamps is not None:
                entry.train_stamps.append(stamps.astype(entry.train_stamps._data.dtype))
        # Pieces short enough that the values kept always hold the windows cut.
        piece = max(1, min(self.batch_size, spec.capacity // 4))
        for lo in range(0, rows.shape[0], piece):
            hi = min(rows.shape[0], lo + piece)
            notes = entry.pipeline.accept(rows[lo:hi], None if stamps is None else stamps[lo:hi])
            self._notes(entry, notes, result)
            entry.n_total += hi - lo
            entry.since_refit += hi - lo
            self.points_total += hi - lo
            self._cut(entry)
            if self._batcher.n_model >= self.batch_size:
                self._run(result, force=False, full_only=True)
        self._dirty.add(series_id)

    def _check_stamp_kind(self, kind):
        if kind != "none" and self._spec.time_aware and not self._spec.time_scale:
            raise ValueError(
                "The detector's model reads time deltas but was fitted without timestamps: "
                "score_samples would scale the deltas by each scored series' own median gap, "
                "which a stream cannot know in advance. Stream without timestamps, or fit the "
                "detector with timestamps.")

    def _check_order(self, entry, stamps, result):
        """Points later than every one before them (missing stamps refused too)."""
        kind = entry.stamp_kind
        missing = np.isnan(stamps) if kind == "number" else stamps == _NAT
        low = -np.inf if kind == "number" else _NAT  # below any real timestamp
        values = np.where(missing, low, stamps)
        previous = low if entry.last_stamp is None else entry.last_stamp
        latest = np.maximum.accumulate(np.r_[np.asarray([previous], dtype=values.dtype),
                                             values])[:-1]
        keep = ~missing & (values > latest)
        accepted = values[keep]
        for i in np.flatnonzero(~keep):
            label = self._stamp_label(entry, stamps, i)
            if missing[i]:
                code, text = "missing_timestamp", "the point has no timestamp; it is refused."
            elif values[i] == previous or np.any(accepted == values[i]):
                code, text = "duplicate_timestamp", (f"timestamp {label!r} was already received "
                                                     "for this series; the point is refused.")
            else:
                code, text = "out_of_order", (f"timestamp {label!r} is earlier than one already "
                                              "received for this series; the point is refused.")
            result.errors.append(PointError(entry.series_id, code, text, int(i), label))
        return keep

    @staticmethod
    def _stamp_label(entry, stamps, i):
        if stamps is None:
            return None
        value = stamps[i]
        if entry.stamp_kind == "datetime":
            if value == _NAT:
                return None
            stamp = pd.Timestamp(int(value))
            return stamp.tz_localize("UTC").tz_convert(entry.tz) if entry.tz else stamp
        return None if np.isnan(value) else float(value)

    def _notes(self, entry, notes, result):
        for code, position, stamp, message in notes:
            result.errors.append(PointError(entry.series_id, code, message, position, stamp))

    def _new_series(self, series_id, kind, tz):
        pipeline = SeriesPipeline(self._spec, 0, kind, tz)
        drift = copy.deepcopy(self.drift) if self.drift is not None else None
        train = self.train_window if self.refit_policy != "none" else None
        entry = _Series(series_id, pipeline, drift, train, self._spec.n_features, kind, tz)
        self._series[series_id] = entry
        return entry

    def _cut(self, entry):
        cut = entry.pipeline.model_windows()
        if cut is not None:
            self._batcher.add_model(entry.series_id, *cut)
        windows = entry.pipeline.scorer_windows()
        if windows is not None:
            self._batcher.add_scorer(entry.series_id, *windows)

    # --------------------------------------------------------------- scoring
    def _run(self, result, force=False, full_only=False):
        """Score what is due, then bring the series with news up to date."""
        spec = self._spec
        batcher = self._batcher
        while batcher.pending:
            due = not full_only and (force or batcher.timed_out())
            if not due and batcher.n_model < self.batch_size:
                break
            model_results, scorer_results = batcher.run(
                spec.detector.model_, spec.window_scorers, spec.window, spec.horizon,
                force=due)
            for key, starts, squared in model_results:
                self._series[key].pipeline.add_model_errors(starts, squared)
                self._dirty.add(key)
            for key, starts, scores in scorer_results:
                self._series[key].pipeline.add_scorer_scores(starts, scores)
                self._dirty.add(key)
            if full_only:
                break
        # Brought up to date after every run, so records read the values they
        # need while they are still kept; the interim view once per call.
        for key in list(self._dirty):
            entry = self._series.get(key)
            if entry is not None:
                self._advance(entry, result, interim=not full_only)
        self._dirty.clear()

    def _advance(self, entry, result, block_records=None, interim=True):
        pipeline = entry.pipeline
        block, records = block_records if block_records is not None else pipeline.advance()
        version = self.model_version
        if block is not None:
            result.scores.append(self._points(entry, block, interim=False))
            self._watch(entry, block, result)
        records = [self._stamp_record(entry, r) for r in records]
        result.events.extend(records)
        gap = self._spec.merge_gap
        result.alerts.extend(entry.alerts.finals(records, self.alarm_policy, entry.new_alert_id,
                                                 entry.series_id, version, gap))
        base = pipeline.base
        open_start = pipeline.events.open_start
        pending = [s["start"] + base for s in pipeline.events.pending]
        final_until = base + pipeline.n_final if not pipeline.closed else np.inf
        result.alerts.extend(entry.alerts.withdraw(
            final_until, None if open_start is None else open_start + base, pending,
            entry.series_id, version, gap))
        if self.interim and interim and not pipeline.closed:
            view = pipeline.interim()
            if view is not None:
                interim_block, interim_records = view
                result.interim.append(self._points(entry, interim_block, interim=True))
                interim_records = [self._stamp_record(entry, r, interim=True)
                                   for r in interim_records]
                result.alerts.extend(entry.alerts.interims(
                    interim_records, self.alarm_policy, entry.new_alert_id, entry.series_id,
                    version, gap))

    def _stamp_record(self, entry, record, interim=False):
        from dataclasses import replace

        meta = {**record.metadata, "series_id": entry.series_id,
                "model_version": self.model_version, "interim": interim}
        return replace(record, metadata=meta)

    def _points(self, entry, block: Block, interim):
        pipeline = entry.pipeline
        local = block.start - pipeline.base
        if pipeline.stamp_kind == "none":
            labels = np.arange(block.start, block.stop)
        else:
            raw = pipeline.stamps.get(local, local + block.scores.shape[0])
            labels = (pd.DatetimeIndex(raw.astype("datetime64[ns]")).to_numpy()
                      if pipeline.stamp_kind == "datetime" else raw)
        return ScoredPoints(entry.series_id, block.start, block.scores, block.contributions,
                            labels, interim, self.model_version)

    def _watch(self, entry, block, result):
        """Drift test and refit triggers on new final scores."""
        if entry.drift is not None:
            for offset in entry.drift.update(block.scores, self._spec.threshold):
                event = DriftEvent(entry.series_id, block.start + offset,
                                   float(entry.drift.statistic), self.model_version)
                result.drifts.append(event)
                if self.refit_policy == "drift":
                    self._start_refit(entry, "drift", result)
        if self.refit_policy == "every" and entry.since_refit >= self.refit_every:
            self._start_refit(entry, "every", result)

    # ----------------------------------------------------------------- end
    def flush(self, series_id=None):
        """End the stream of one series (or of all): every score and event final.

        The last points are scored as the last points of a batch (with the
        windows there are); open events close; interim alerts are finalised
        or withdrawn. The series is then forgotten (a later :meth:`update`
        starts it again).
        """
        with self._lock:
            result = StreamResult()
            self._maybe_swap(result)
            ids = list(self._series) if series_id is None else [
                self._entry(_check_series_id(series_id)).series_id]
            for key in ids:
                self._notes(self._series[key], self._series[key].pipeline.flush_input(), result)
                self._cut(self._series[key])
            self._run(result, force=True)
            for key in ids:
                entry = self._series.pop(key)
                self._close(entry, result)
            return result

    def _close(self, entry, result):
        """Flush a series' pipeline (its windows all scored) into ``result``."""
        self._advance(entry, result, entry.pipeline.flush())

    # ----------------------------------------------------------- no effects
    def score(self, series_id, values, timestamps=None):
        """Scores ``values`` would get if appended to ``series_id`` and the stream ended there.

        Nothing changes (the series, the queue, the alerts). For a series
        not streamed yet, the scores of ``values`` alone.

        Returns
        -------
        ndarray of shape (n_points,)

        Raises
        ------
        ValueError
            For any point that :meth:`update` would refuse.
        """
        with self._lock:
            series_id = _check_series_id(series_id)
            spec = self._spec
            rows, index = read_points(values, spec.n_features, spec.feature_names,
                                      spec.compare_names)
            if timestamps is None and index is not None and not isinstance(index, pd.RangeIndex):
                timestamps = index
            kind, stamps, tz = read_stamps(timestamps, rows.shape[0])
            entry = self._series.get(series_id)
            if entry is None:
                self._check_stamp_kind(kind)
                pipeline, last = SeriesPipeline(spec, 0, kind, tz), None
            else:
                if (kind, tz) != (entry.stamp_kind, entry.tz):
                    raise ValueError(f"Series {series_id!r} has {_kind_text(entry.stamp_kind, entry.tz)}; "
                                     f"received {_kind_text(kind, tz)}.")
                pipeline, last = entry.pipeline.copy(), entry.last_stamp
                self._replay_pending(pipeline, series_id)
            if stamps is not None:
                ordered = np.all(np.diff(stamps) > 0) and (last is None or stamps[0] > last)
                if not ordered:
                    raise ValueError("`timestamps` must be increasing and later than the "
                                     "series' last point.")
            if spec.impute is None and not np.isfinite(rows).all():
                raise ValueError("`values` holds NaN or infinite values and the detector has "
                                 "no `impute` rule.")
            first = pipeline.base + pipeline.n
            blocks = []
            piece = max(1, min(self.batch_size, spec.capacity // 4))
            for lo in range(0, rows.shape[0], piece):
                pipeline.accept(rows[lo:lo + piece],
                                None if stamps is None else stamps[lo:lo + piece])
                score_now(pipeline, spec, self.batch_size)
                block, _ = pipeline.advance()
                if block is not None:
                    blocks.append(block)
            pipeline.flush_input()
            score_now(pipeline, spec, self.batch_size)
            block, _ = pipeline.flush()
            if block is not None:
                blocks.append(block)
            if not blocks:
                raise ValueError(f"The series has {pipeline.n} points, fewer than a window "
                                 f"({spec.span}); it cannot be scored yet.")
            scores = np.concatenate([b.scores for b in blocks])
            start = blocks[0].start
            return scores[first - start:]

    def _replay_pending(self, pipeline, series_id):
        """Score, on a copy of a series' pipeline, its windows still waiting in the queue."""
        from .batching import predict_padded, squared_errors, window_scores

        spec = self._spec
        for key, starts, spans, deltas in list(self._batcher.model_jobs):
            if key != series_id:
                continue
            for lo in range(0, starts.size, self.batch_size):
                part = slice(lo, lo + self.batch_size)
                inputs = spans[part, : spec.window]
                if deltas is not None:
                    inputs = [inputs, deltas[part]]
                output = predict_padded(spec.detector.model_, inputs, self.batch_size)
                if output.ndim == 2:
                    output = output[:, None, :]
                target = spans[part, spec.window:] if spec.horizon else spans[part]
                pipeline.add_model_errors(starts[part], squared_errors(target, output))
        for key, starts, windows in list(self._batcher.scorer_jobs):
            if key == series_id:
                pipeline.add_scorer_scores(
                    starts, np.column_stack([window_scores(s, windows)
                                             for s in spec.window_scorers]))

    # ---------------------------------------------------------------- refit
    def _start_refit(self, entry, reason, result):
        if self._refit_thread is not None and self._refit_thread.is_alive():
            return
        if self._refit_done is not None:
            return
        train = entry.train
        n = train.end - train.start
        if n < 4 * self._spec.span:
            result.errors.append(PointError(entry.series_id, "refit_skipped",
                                            f"only {n} points kept to refit on; need "
                                            f"{4 * self._spec.span}."))
            return
        entry.since_refit = 0
        values = train.get(train.start, train.end)
        stamps = None
        if entry.train_stamps is not None:
            raw = entry.train_stamps.get(entry.train_stamps.start, entry.train_stamps.end)
            stamps = (pd.DatetimeIndex(raw.astype("datetime64[ns]"))
                      if entry.stamp_kind == "datetime" else raw)
        from sklearn.base import clone

        detector = clone(self.detector_)
        if self.refit_params:
            detector.set_params(**self.refit_params)
        # Not a daemon: at exit the interpreter waits for a running refit;
        # a daemon thread stopped inside TensorFlow aborts the process.
        self._refit_thread = threading.Thread(
            target=self._refit, args=(detector, values, stamps, entry.series_id, reason),
            name="fusionlab-refit", daemon=False)
        self._refit_thread.start()

    def _refit(self, detector, values, stamps, series_id, reason):
        try:
            detector.fit(values, timestamps=stamps)
            spec = check_supported(detector, top_k=self.top_k,
                                   max_event_length=self.max_event_length,
                                   max_hold=self.max_hold, batch_size=self.batch_size)
            self._refit_done = (detector, spec, series_id, reason, None)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the stream goes on
            self._refit_done = (None, None, series_id, reason, exc)

    def wait_for_refit(self, timeout=None):
        """Wait until a background refit ends (True) or ``timeout`` seconds pass (False)."""
        thread = self._refit_thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def refitting(self):
        """True while a model is being fitted in the background."""
        return self._refit_thread is not None and self._refit_thread.is_alive()

    def _maybe_swap(self, result):
        done = self._refit_done
        if done is None:
            return
        self._refit_done = None
        detector, spec, series_id, reason, error = done
        if error is not None:
            result.errors.append(PointError(series_id, "refit_failed",
                                            f"the refit ({reason}) failed: "
                                            f"{type(error).__name__}: {error}"))
            return
        # Every window waiting was cut for the old model: score it with that model.
        for entry in self._series.values():
            self._notes(entry, entry.pipeline.flush_input(), result)
            self._cut(entry)
        self._run(result, force=True)
        for entry in self._series.values():
            self._close(entry, result)
        self.detector_ = detector
        self._spec = spec
        self.model_version += 1
        for entry in self._series.values():
            entry.pipeline = SeriesPipeline(spec, entry.n_total, entry.stamp_kind, entry.tz)
            entry.alerts = AlertBook()
            if entry.drift is not None:
                entry.drift.reset()
            entry.since_refit = 0
        result.refits.append({"model_version": self.model_version,
                              "model_id": str(detector.model_id_), "series_id": series_id,
                              "reason": reason})

    # ----------------------------------------------------------------- state
    def snapshot(self, include_detector=False):
        """The whole state as ``(state, arrays)``: JSON data and NumPy arrays (no pickle).

        See :func:`fusionlab.streaming.snapshot.snapshot`; :meth:`restore`
        rebuilds the detector from it.
        """
        from .snapshot import snapshot

        with self._lock:
            return snapshot(self, include_detector=include_detector)

    @classmethod
    def restore(cls, state, arrays, detector=None):
        """A streaming detector from :meth:`snapshot`'s ``(state, arrays)``.

        ``detector`` is the one the snapshot was taken with (its
        ``model_id_`` is checked), unless the snapshot holds it
        (``include_detector=True``).
        """
        from .snapshot import restore

        return restore(cls, state, arrays, detector)

    def save(self, path, include_detector=False):
        """Write :meth:`snapshot` to one zip file at ``path`` (JSON and ``.npy``); return it."""
        from .snapshot import write_snapshot

        state, arrays = self.snapshot(include_detector=include_detector)
        return write_snapshot(path, state, arrays)

    @classmethod
    def load(cls, path, detector=None):
        """A streaming detector from a file written by :meth:`save`."""
        from .snapshot import read_snapshot

        state, arrays = read_snapshot(path)
        return cls.restore(state, arrays, detector)


def _kind_text(kind, tz):
    if kind == "none":
        return "no timestamps"
    if kind == "number":
        return "numeric timestamps"
    return f"datetime timestamps ({tz or 'no zone'})"


def _check_series_id(series_id):
    if isinstance(series_id, bool) or not isinstance(series_id, (str, int, np.integer)):
        raise TypeError(f"`series_id` must be a string (or an integer); received {series_id!r}.")
    text = str(series_id)
    if not text or len(text) > 200:
        raise ValueError(f"`series_id` must have 1 to 200 characters; received {text[:40]!r}.")
    return text

