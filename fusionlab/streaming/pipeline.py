"""One series' online scoring: the batch stages of the detector, point by point.

:class:`Spec` reads, once, what a fitted
:class:`~fusionlab.detection.AnomalyDetector` scores with (scaler, window,
horizon, subsequence scorers and their scales, smoothing, threshold, event
rules) and says when a point's score becomes final. :class:`SeriesPipeline`
holds one series' state and runs the stages in the detector's order:

1. imputation and scaling of each point as it arrives
   (:class:`~fusionlab.streaming.inputs.StreamImputer`, the detector's scaler);
2. the model's windows (cut here, scored by the caller with those of other
   series, :mod:`~fusionlab.streaming.batching`), their squared errors
   accumulated per point (:class:`~fusionlab.streaming.stages.WindowErrors`);
3. with subsequence scorers, their window scores (a point-exact scorer's
   point scores, as the points arrive) and the ensemble
   (:class:`~fusionlab.streaming.stages.Combiner`);
4. the score smoothing (:class:`~fusionlab.streaming.stages.Smoother`);
5. events (:class:`~fusionlab.streaming.events.EventTracker`).

When a final score is known
---------------------------
Point ``i``'s score is final once every window covering it has been scored
(point ``i + window - 1`` arrived; ``i + horizon - 1`` for a forecast), and,
through the chain of centred averages, the points their right halves reach:
:attr:`Spec.delay` points after ``i`` in all. Until then a causal *interim*
score is given: the score ``score_samples`` would give if the series ended
with the last point received (the last points covered by the windows there
are, the averages' right edges repeating the last value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..detection.ensemble import calibrated_flags
from ..detection.inputs import time_gaps
from .events import EventTracker
from .inputs import Ring, StreamImputer, row_scaler
from .stages import Combiner, Smoother, WindowErrors

__all__ = ["Spec", "SeriesPipeline", "Block"]


def _square(contributions):
    """Rows times their sums: the detector's own ``square_scores`` (capped) where it has one."""
    try:
        from ..detection.ensemble import square_scores
    except ImportError:  # a fusionlab whose square is not capped
        return contributions * contributions.sum(axis=1, keepdims=True)
    return square_scores(contributions)


@dataclass
class Spec:
    """What one fitted detector scores with, read once (see :meth:`from_detector`)."""

    detector: object
    n_features: int
    feature_names: list
    compare_names: bool
    window: int
    horizon: int
    scaler: object
    impute: object
    time_aware: bool
    time_scale: float | None
    scorer_names: list
    scorers: list
    scorer_window: int | None
    scales: list
    combine: str
    smoothing_width: int
    peak_weight: float
    threshold: float
    merge_gap: int
    model_id: str
    top_k: int
    max_event_length: int
    max_hold: int
    #: How the detector finishes combined (several-scorer) contributions
    #: after the smoothing: ``'plain'`` or ``'squared'`` (each row times its
    #: sum, so scores read as squared errors do); chosen by the probe of
    #: :func:`~fusionlab.streaming.support.check_supported`.
    finish: str = "plain"
    #: The model's window error among the scorers: ``'average'`` (the
    #: moving average of its point errors) or ``'peak'`` (isolated large
    #: errors keep ``peak_weight`` of themselves); chosen by the probe too.
    recon_rule: str = "average"
    #: Most windows of a series waiting for a model call (the batch size):
    #: its final scores may lag that much more.
    queue: int = 0
    #: The error a point must exceed to belong to an event's bounds (the
    #: detector's ``point_error_level_``; 0 for one fitted before it).
    point_error_level: float = 0.0
    #: Calibrated scorers added on top of the others (False: a detector
    #: fitted before that, which averaged them).
    calibrated_added: bool = True
    #: Point-exact scorers score every point and part of their share is kept
    #: through the smoothing (False: a detector fitted before that, which
    #: smoothed it too).
    exact_kept: bool = False
    #: The detector's ``exact_scales_``: point-exact scorers added on top,
    #: split by their own parts, kept unsmoothed beyond these scales (None: a
    #: detector fitted before that, which averaged them with the others).
    exact_scales: list | None = None
    #: One bool per subsequence scorer: True for a point-exact scorer that
    #: scores each point as it arrives (with ``exact_kept``), not windows.
    pointwise: list = field(init=False)
    capacity: int = field(init=False)

    def __post_init__(self):
        keeps = bool(self.exact_kept and self.scales)
        self.pointwise = [keeps and bool(getattr(scorer, "point_exact", False))
                          for scorer in self.scorers]
        #: The scorers scored on windows, and those scored on points.
        self.window_scorers = [s for s, p in zip(self.scorers, self.pointwise, strict=True)
                               if not p]
        self.point_scorers = [s for s, p in zip(self.scorers, self.pointwise, strict=True) if p]
        # The values kept: an open event, the context on both sides of its
        # core, the points not final yet and the windows waiting.
        self.scale = row_scaler(self.scaler)
        context = max(self.max_event_length, 10)
        self.capacity = (3 * context + 2 * self.delay + self.span + (self.scorer_window or 0)
                         + self.merge_gap + self.queue + 16)

    def fingerprint(self):
        """What must be equal for a saved stream state to fit this detector (JSON data)."""
        return {"model_id": self.model_id, "threshold": self.threshold, "window": self.window,
                "horizon": self.horizon, "n_features": self.n_features,
                "feature_names": list(self.feature_names), "scorers": list(self.scorer_names),
                "scorer_window": self.scorer_window, "combine": self.combine,
                "scales": [[s.median, s.iqr] for s in self.scales],
                "smoothing_width": self.smoothing_width, "peak_weight": self.peak_weight,
                "merge_gap": self.merge_gap, "finish": self.finish, "recon_rule": self.recon_rule,
                "capacity": self.capacity,
                # Only where they apply, so the states saved before them still fit.
                **({"exact_kept": True} if self.keeps_exact else {}),
                **({"exact_scales": [[s.median, s.iqr] for s in self.exact_scales]}
                   if self.exact_scales is not None and self.keeps_exact else {})}

    @property
    def keeps_exact(self):
        """True when point-exact scorers score every point and part of their share is kept."""
        return any(self.pointwise)

    @property
    def span(self):
        """Points of one model window (input and forecast target)."""
        return self.window + self.horizon

    @property
    def delay(self):
        """Points needed after a point before its score is final."""
        errors = (self.horizon if self.horizon else self.window) - 1
        if self.scales:
            model_avg = self.window - 1 - self.window // 2
            # A point scorer's score is known as the point arrives.
            scorer = (self.scorer_window - 1 - self.scorer_window // 2
                      if self.window_scorers else 0)
            errors = max(errors + model_avg, scorer)
        if self.smoothing_width > 1:
            errors += self.smoothing_width - 1 - self.smoothing_width // 2
        return errors

    @classmethod
    def from_detector(cls, detector, *, top_k, max_event_length, max_hold, queue=0):
        from ..detection.ensemble import check_scorers
        from ..detection.models import time_aware
        from ..detection.point_scores import exact_rules

        scales = list(getattr(detector, "scorer_scales_", []) or [])
        fitted_names = getattr(detector, "scorer_names_", None)
        names = (list(fitted_names if fitted_names is not None else
                      check_scorers(detector.scorers)) if scales else ["reconstruction"])
        exact = exact_rules(detector) if scales else None
        return cls(
            detector=detector,
            n_features=int(detector.n_features_in_),
            feature_names=[str(n) for n in detector.feature_names_in_],
            compare_names=bool(getattr(detector, "_fitted_with_names", False)),
            window=int(detector.window_),
            horizon=int(detector.horizon_),
            scaler=detector.scaler_,
            impute=detector.impute,
            time_aware=time_aware(detector.model_),
            time_scale=detector.time_scale_,
            scorer_names=names,
            scorers=list(getattr(detector, "scorers_", []) or []) if scales else [],
            scorer_window=int(detector.scorer_window_) if scales else None,
            scales=scales,
            combine=getattr(detector, "combine_", getattr(detector, "combine", "mean")),
            smoothing_width=int(detector.smoothing_width_),
            peak_weight=float(detector.peak_weight),
            threshold=float(detector.threshold_),
            merge_gap=int(detector.merge_gap if detector.merge_gap is not None
                          else detector.window_ // 4),
            model_id=str(detector.model_id_),
            top_k=int(top_k),
            max_event_length=int(max_event_length),
            max_hold=int(max_hold),
            queue=int(queue),
            point_error_level=float(getattr(detector, "point_error_level_", 0.0)),
            calibrated_added=bool(getattr(detector, "calibrated_added_", False)),
            exact_kept=bool(getattr(detector, "exact_kept_", False)),
            exact_scales=None if exact is None else list(exact),
        )


@dataclass
class Block:
    """Scores of consecutive points of one series.

    Attributes
    ----------
    start : int
        Position of the first point in the stream.
    scores : ndarray of shape (k,)
    contributions : ndarray of shape (k, n_features)
        Per-feature shares (rows sum to the scores), as ``explain`` gives.
    """

    start: int
    scores: np.ndarray
    contributions: np.ndarray

    @property
    def stop(self):
        return self.start + self.scores.shape[0]


class SeriesPipeline:
    """The state of one series under one model (see the module).

    Parameters
    ----------
    spec : Spec
    base : int
        Position in the stream of this pipeline's first point (a pipeline
        restarted after a model swap continues the positions).
    stamp_kind : {'none', 'number', 'datetime'}
    tz : str or None
        Zone of datetime stamps.
    """

    def __init__(self, spec, base=0, stamp_kind="none", tz=None):
        self.spec = spec
        self.base = int(base)
        self.stamp_kind = stamp_kind
        self.tz = tz
        f = spec.n_features
        self.n = 0                          # points accepted (scaled and kept)
        self.values = Ring(spec.capacity, f, np.float32)
        # The model's point errors (row sums) and the calibrated scorers' scores,
        # which the event bounds are read on.
        self.point_errors = Ring(spec.capacity, None, np.float64)
        self.located = (Ring(spec.capacity, None, np.float64)
                        if any(calibrated_flags(spec.scorer_names)) and spec.scales else None)
        self.stamps = (Ring(spec.capacity, None, np.float64 if stamp_kind == "number"
                            else np.int64) if stamp_kind != "none" else None)
        self.deltas = Ring(spec.capacity, None, np.float32) if spec.time_aware else None
        self.imputer = StreamImputer(spec.impute, f, spec.max_hold) if spec.impute else None
        length = spec.horizon if spec.horizon else spec.window
        self.errors = WindowErrors(f, length, spec.window if spec.horizon else 0)
        self.combiner = (Combiner(f, spec.window, spec.scorer_window, spec.scorer_names,
                                  spec.scales, spec.combine, spec.recon_rule, spec.peak_weight,
                                  spec.calibrated_added, spec.pointwise,
                                  spec.exact_scales if spec.keeps_exact else None)
                         if spec.scales else None)
        self.smoother = Smoother(spec.smoothing_width, spec.peak_weight, f, spec.keeps_exact)
        self.events = EventTracker(spec.threshold, spec.feature_names, spec.merge_gap,
                                   spec.smoothing_width, spec.top_k, spec.model_id,
                                   spec.window, spec.max_event_length,
                                   spec.point_error_level)
        self.n_final = 0                    # points with a final score
        self.model_queued = 0               # model windows handed out
        self.scorer_queued = 0              # scorer windows handed out
        self.closed = False

    # ---------------------------------------------------------------- input
    def accept(self, rows, stamps):
        """Impute, scale and keep ``rows`` (k, f) of finite or missing values.

        Returns
        -------
        notes : list of (code, position, stamp, message)
            Points changed or refused on the way.
        """
        notes = []
        if self.imputer is not None:
            rows, stamps, notes = self.imputer.feed(rows, stamps)
        self._keep(rows, stamps, notes)
        return notes

    def _keep(self, rows, stamps, notes):
        if rows.shape[0] == 0:
            return
        spec = self.spec
        scaled = np.asarray(spec.scale(rows), dtype=np.float32)
        bad = ~np.isfinite(scaled).all(axis=1)
        if bad.any():
            for i in np.flatnonzero(bad):
                notes.append(("bad_scaling", None, None if stamps is None else stamps[i],
                              "the scaler produced NaN or infinite values for this point; "
                              "it is refused."))
            scaled, rows = scaled[~bad], rows[~bad]
            stamps = None if stamps is None else np.asarray(stamps)[~bad]
            if scaled.shape[0] == 0:
                return
        if self.deltas is not None:
            self.deltas.append(self._time_deltas(stamps, scaled.shape[0]))
        if self.stamps is not None:
            self.stamps.append(np.asarray(stamps, dtype=self.stamps._data.dtype))
        self.values.append(scaled)
        self.n += scaled.shape[0]
        self.errors.add_points(scaled.shape[0])
        if self.combiner is not None and self.combiner.n_point:
            # Point-exact scorers score each point as it arrives, on the kept
            # values (each feature's part, where their own parts split them).
            self.combiner.push_point_scores(np.column_stack(
                [scorer.point_parts(scaled) if self.combiner.exact_scales is not None
                 else scorer.score_points(scaled) for scorer in spec.point_scorers]))

    def _time_deltas(self, stamps, k):
        """Time before each new point over ``time_scale`` (1 for the first, or without stamps)."""
        if stamps is None or self.stamp_kind == "none":
            return np.ones(k, dtype=np.float32)
        stamps = np.asarray(stamps)
        first = self.n == 0
        previous = stamps[:1] if first else np.asarray([self.stamps.last()])
        joined = np.concatenate([previous, stamps])
        index = (pd.DatetimeIndex(joined.astype("datetime64[ns]")) if self.stamp_kind == "datetime"
                 else pd.Index(joined.astype(np.float64)))
        gaps = time_gaps(index)
        deltas = (gaps / self.spec.time_scale).astype(np.float32)
        if first:
            deltas[0] = 1.0
        return deltas

    def flush_input(self):
        """End of the stream for the imputer: the rows it held, filled forward."""
        if self.imputer is None or self.imputer.n_held == 0:
            return []
        rows, stamps, notes = self.imputer.flush()
        stamps = None if self.stamp_kind == "none" else np.asarray(
            stamps, dtype=self.stamps._data.dtype)
        self._keep(rows, stamps, notes)
        return notes

    # ------------------------------------------------------------- windows
    def model_windows(self):
        """``(starts, spans, deltas)`` of the model windows not handed out yet."""
        spec = self.spec
        last = self.n - spec.span  # start of the newest complete window
        if last < self.model_queued:
            return None
        starts = np.arange(self.model_queued, last + 1, dtype=np.int64)
        rows = self.values.get(self.model_queued, last + spec.span)
        spans = np.lib.stride_tricks.sliding_window_view(rows, spec.span, axis=0)
        spans = np.ascontiguousarray(spans.transpose(0, 2, 1))
        deltas = None
        if self.deltas is not None:
            d = self.deltas.get(self.model_queued, last + spec.window)
            deltas = np.ascontiguousarray(
                np.lib.stride_tricks.sliding_window_view(d, spec.window))[:, :, None]
        self.model_queued = last + 1
        return starts, spans, deltas

    def scorer_windows(self):
        """``(starts, windows)`` (float64) of the scorers' windows not handed out yet."""
        if self.combiner is None or not self.combiner.n_window:
            return None
        w = self.spec.scorer_window
        last = self.n - w
        if last < self.scorer_queued:
            return None
        starts = np.arange(self.scorer_queued, last + 1, dtype=np.int64)
        rows = self.values.get(self.scorer_queued, last + w).astype(np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(rows, w, axis=0).transpose(0, 2, 1)
        self.scorer_queued = last + 1
        return starts, windows

    def add_model_errors(self, starts, squared):
        self.errors.add(starts, squared)

    def add_scorer_scores(self, starts, scores):
        self.combiner.push_window_scores(scores)

    @property
    def windows_complete(self):
        """True when every window cut so far has been scored."""
        scored_model = self.errors.n_windows == self.model_queued
        scored_scorers = self.combiner is None or self.combiner.centres.n_windows == \
            self.scorer_queued
        return scored_model and scored_scorers

    # --------------------------------------------------------------- values
    def value_rows(self, lo, hi):
        return self.values.get(lo, hi)

    def error_rows(self, lo, hi):
        """``(errors, located)`` of positions ``lo .. hi - 1`` (located: None without a
        calibrated scorer)."""
        located = None if self.located is None else self.located.get(lo, hi)
        return self.point_errors.get(lo, hi), located

    def _combined_rows(self, rows):
        """Keep the calibrated scorers' scores of the combined ``rows``."""
        if self.located is not None:
            self.located.append(self.combiner.take_located())
        return rows

    def _model_rows(self, rows):
        """Keep the point errors of the model's final contributions ``rows``."""
        self.point_errors.append(rows.sum(axis=1).astype(np.float64))
        return rows

    def label(self, position):
        """Name of the point at ``position`` of this pipeline: its timestamp or stream position."""
        if self.stamp_kind == "none":
            return self.base + position
        value = self.stamps.get(position, position + 1)[0]
        if self.stamp_kind == "datetime":
            stamp = pd.Timestamp(int(value))
            return stamp.tz_localize("UTC").tz_convert(self.tz) if self.tz else stamp
        return value.item() if float(value).is_integer() and abs(value) < 2**53 else value

    # --------------------------------------------------------------- output
    def advance(self):
        """``(block, records)``: the scores that became final and the closed events."""
        if self.errors.n_windows == 0:
            return None, self.events.complete(self.value_rows, self.label, self.n)
        rows = self._model_rows(self.errors.emit())
        if self.combiner is not None:
            self.combiner.push_contributions(rows)
            rows = self._combined_rows(self.combiner.emit())
        out = self.smoother.push(rows)
        return self._finish(out)

    def _finished(self, out):
        """The detector's last step on smoothed contributions (see ``Spec.finish``)."""
        if self.combiner is not None and self.spec.finish == "squared":
            return _square(out)
        return out

    def _finish(self, out, final=False):
        out = self._finished(out)
        scores = out.sum(axis=1)
        block = Block(self.base + self.n_final, scores, out) if out.shape[0] else None
        self.n_final += out.shape[0]
        records = self.events.push(scores, out, self.value_rows, self.label, self.n,
                                   self.error_rows)
        if final:
            records += self.events.flush(self.value_rows, self.label, self.n, self.error_rows)
        return block, [self._global(r) for r in records]

    def _global(self, record):
        """A record with stream positions (this pipeline may not start at 0)."""
        if self.base == 0:
            return record
        from dataclasses import replace

        meta = dict(record.metadata)
        for key in ("peak_index", "flagged_start_index", "flagged_end_index"):
            meta[key] = meta.get(key, 0) + self.base
        return replace(record, start_index=record.start_index + self.base,
                       end_index=record.end_index + self.base, metadata=meta)

    def interim(self):
        """``(block, records)`` if the stream ended now (nothing changes), or None.

        The scores of the points not final yet, and the records of the open
        event and of those waiting for their context, marked interim.
        """
        if self.errors.n_windows == 0 or self.n_final >= self.n or not self.windows_complete:
            return None
        rows = self.errors.peek()
        peeked = {"errors": rows.sum(axis=1).astype(np.float64), "located": None}
        if self.combiner is not None:
            combiner = self.combiner.copy()
            combiner.push_contributions(rows)
            rows = np.concatenate([combiner.emit(), combiner.flush(self.n)])
            peeked["located"] = combiner.take_located()

        def joined(ring, extra, lo, hi):
            # The kept values, then those of the peeked rows.
            known = ring.end
            held = ring.get(lo, min(hi, known)) if lo < known else extra[:0]
            return np.concatenate([held, extra[max(lo - known, 0):max(hi - known, 0)]])

        def error_rows(lo, hi):
            located = (None if self.located is None
                       else joined(self.located, peeked["located"], lo, hi))
            return joined(self.point_errors, peeked["errors"], lo, hi), located

        smoother = self.smoother.copy()
        out = self._finished(np.concatenate([smoother.push(rows), smoother.flush()]))
        scores = out.sum(axis=1)
        records = self.events.peek(scores, out, self.value_rows, self.label, self.n, error_rows)
        return Block(self.base + self.n_final, scores, out), [self._global(r) for r in records]

    def flush(self):
        """``(block, records)``: end of the stream, every remaining score and event final."""
        self.closed = True
        if self.errors.n_windows == 0:
            return None, []
        rows = self._model_rows(self.errors.flush())
        if self.combiner is not None:
            self.combiner.push_contributions(rows)
            rows = self._combined_rows(np.concatenate([self.combiner.emit(),
                                                       self.combiner.flush(self.n)]))
        out = np.concatenate([self.smoother.push(rows), self.smoother.flush()])
        return self._finish(out, final=True)

    # ----------------------------------------------------------------- state
    def copy(self):
        """An independent copy (sharing the read-only spec)."""
        import copy

        params, arrays = self.get_state()
        return SeriesPipeline.from_state(self.spec, copy.deepcopy(params),
                                         {k: np.array(v, copy=True) for k, v in arrays.items()})

    def get_state(self):
        params = {"base": self.base, "stamp_kind": self.stamp_kind, "tz": self.tz, "n": self.n,
                  "n_final": self.n_final, "model_queued": self.model_queued,
                  "scorer_queued": self.scorer_queued, "closed": self.closed}
        arrays = {}
        parts = {"values": self.values, "point_errors": self.point_errors,
                 "located": self.located, "stamps": self.stamps, "deltas": self.deltas, "imputer": self.imputer, "errors": self.errors, "combiner": self.combiner,
                 "smoother": self.smoother, "events": self.events}
        for name, part in parts.items():
            if part is None:
                continue
            p, a = part.get_state()
            params[name] = p
            arrays.update({f"{name}.{k}": v for k, v in a.items()})
        return params, arrays

    @classmethod
    def from_state(cls, spec, params, arrays):
        kind = params["stamp_kind"]
        if kind not in ("none", "number", "datetime"):
            raise ValueError(f"state `stamp_kind` must be none, number or datetime; received "
                             f"{kind!r}.")
        pipeline = cls(spec, int(params["base"]), kind, params["tz"])
        for key in ("n", "n_final", "model_queued", "scorer_queued"):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"state `{key}` must be a non-negative integer; received "
                                 f"{value!r}.")
            setattr(pipeline, key, value)
        pipeline.closed = bool(params["closed"])
        # A state saved before the event bounds were refined kept no point
        # errors: zeros, which leave the events of those points as flagged.
        legacy = "point_errors" not in params
        parts = {"values": pipeline.values,
                 "point_errors": None if legacy else pipeline.point_errors,
                 "located": None if legacy else pipeline.located,
                 "stamps": pipeline.stamps,
                 "deltas": pipeline.deltas, "imputer": pipeline.imputer,
                 "errors": pipeline.errors, "combiner": pipeline.combiner,
                 "smoother": pipeline.smoother, "events": pipeline.events}
        for name, part in parts.items():
            if part is None:
                continue
            if name not in params:
                raise ValueError(f"state lacks the series' `{name}` (saved for another "
                                 "detector?).")
            prefix = f"{name}."
            try:
                part.set_state(params[name], {k[len(prefix):]: v for k, v in arrays.items()
                                              if k.startswith(prefix)})
            except KeyError as exc:
                raise ValueError(f"state of `{name}` lacks {exc}.") from exc
        if pipeline.values.end != pipeline.n:
            raise ValueError("state `values` does not end at the points accepted.")
        if legacy:
            pipeline.point_errors.end = pipeline.errors.first
            # Segments reaching before it keep their flagged bounds.
            pipeline.events.evidence_from = pipeline.errors.first
            if pipeline.located is not None:
                pipeline.located.end = pipeline.combiner.n_out
        elif pipeline.point_errors.end != pipeline.errors.first or (
                pipeline.located is not None and pipeline.located.end != pipeline.combiner.n_out):
            raise ValueError("state `point_errors` or `located` does not end at the points "
                             "emitted.")
        return pipeline
