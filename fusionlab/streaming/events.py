"""The open event of a stream: final scores to :class:`Anomaly` records by the rules of ``detect``.

:func:`fusionlab.detection.events.build_events` groups the flagged points
(``score > threshold``) of a whole series into segments merged over
``merge_gap``, and gives each its peak and mean score, severity, top
features and type. :class:`EventTracker` applies the same rules to final
scores as they arrive:

- a segment is *open* from its first flagged point; it *closes* once
  ``merge_gap + 1`` unflagged points follow its last flagged one (a flagged
  point before that extends it, the gap included, as ``find_segments``
  merges);
- its bounds are read again on the model's unsmoothed point errors
  (:func:`~fusionlab.detection.events.refine_bounds`), known by then for
  the ``merge_gap`` points after it; a segment closed at
  ``max_event_length`` is not extended past its end;
- its type (:func:`~fusionlab.detection.events.classify_segment`) reads the
  values of ``max(length, 10)`` points on each side of its bounds (without
  point errors, its core bounds,
  :func:`~fusionlab.detection.events.core_bounds`), so a closed segment
  waits for those points before it becomes a record;
- at the end of the stream (:meth:`EventTracker.flush`) the open segment
  closes at its last flagged point, its bounds extend at most to the last
  point, and the context is what there is, as for the last event of a batch.

Memory is bounded: an event longer than ``max_event_length`` points is
closed there (``metadata["split"] = True``; its bounds are not extended past
that point, where ``detect``, which does not split, may extend them) and a
new one opens with the next flagged point; the values kept for the types
cover that length.
"""

from __future__ import annotations

import numpy as np

from ..detection.events import classify_segment, core_bounds, event_reach, refine_bounds
from ..detection.records import Anomaly
from ..vocabulary import severity_from_ratio
from .stages import Copyable

__all__ = ["EventTracker", "Rows"]


class Rows(Copyable):
    """A growable block of float64 rows (amortised appends)."""

    def __init__(self, columns, capacity=16):
        self._data = np.empty((capacity, columns))
        self.size = 0

    def extend(self, rows):
        k = rows.shape[0]
        if self.size + k > self._data.shape[0]:
            bigger = np.empty((max(2 * self._data.shape[0], self.size + k), self._data.shape[1]))
            bigger[: self.size] = self._data[: self.size]
            self._data = bigger
        self._data[self.size : self.size + k] = rows
        self.size += k

    @property
    def values(self):
        return self._data[: self.size]

    def keep(self, k):
        """Keep the first ``k`` rows."""
        self.size = k

    def clear(self):
        self.size = 0

    @classmethod
    def of(cls, rows):
        block = cls(rows.shape[1], max(16, rows.shape[0]))
        block.extend(rows)
        return block


class EventTracker(Copyable):
    """Final scores in, closed :class:`Anomaly` records out (see the module).

    Parameters
    ----------
    threshold : float
    feature_names : sequence of str
    merge_gap, smoothing_width, top_k : int
    model_id : str
    window : int
        Recorded in the records' metadata, as ``detect`` does.
    max_event_length : int
    evidence_floor : float, default=0.0
        The point error a point must exceed to belong to an event's bounds.

    Notes
    -----
    Positions are those of the stream's points (0 for its first). The
    caller gives the scaled values and labels through ``values(lo, hi)`` and
    ``label(i)``, the model's point errors and the calibrated scorers' scores
    (or None) through ``evidence(lo, hi) -> (errors, located)`` (optional:
    without them the bounds are the flagged spans), and says how many points
    exist (``n_values``).
    """

    def __init__(self, threshold, feature_names, merge_gap, smoothing_width, top_k, model_id,
                 window, max_event_length, evidence_floor=0.0):
        self.threshold = float(threshold)
        self.names = [str(n) for n in feature_names]
        self.merge_gap = int(merge_gap)
        self.smoothing_width = int(smoothing_width)
        self.top_k = int(top_k)
        self.model_id = model_id
        self.window = window
        self.max_event_length = int(max_event_length)
        self.evidence_floor = float(evidence_floor)
        self.n = 0                # final points seen
        self.start = None         # first point of the open segment
        self.last_flag = None     # its last flagged point
        self.n_flagged = 0        # its flagged points
        self._scores = Rows(1)
        self._contributions = Rows(len(self.names))
        self.pending = []         # closed segments waiting for their context
        self.previous_end = -1    # last point of the last closed event
        self.evidence_from = 0    # first point whose errors were kept (a restored old state)

    # ------------------------------------------------------------------ rows
    def push(self, scores, contributions, values, label, n_values, evidence=None):
        """Add final scores (in order); return the records that became complete."""
        self._advance(scores, contributions, evidence)
        return self.complete(values, label, n_values)

    def _advance(self, scores, contributions, evidence=None):
        """Segments of the new final scores, closed ones moved to ``pending``.

        The rule is applied to flagged points one by one (unflagged stretches
        are skipped whole), so the records never depend on how the scores
        were cut into chunks.
        """
        k = scores.shape[0]
        flagged = np.flatnonzero(scores > self.threshold)
        if self.start is None and flagged.size == 0:
            self.n += k
            return
        base = self.start if self.start is not None else self.n
        if self.start is None:
            self._scores.clear()
            self._contributions.clear()
        self._scores.extend(scores[:, None])
        self._contributions.extend(contributions)
        rows_s, rows_c = self._scores.values, self._contributions.values
        start, last, count = self.start, self.last_flag, self.n_flagged
        for position in (self.n + flagged).tolist():
            if start is not None and (position - last - 1 > self.merge_gap
                                      or position >= start + self.max_event_length):
                self._close(start, last, count, rows_s, rows_c, base,
                            split=position - last - 1 <= self.merge_gap, evidence=evidence)
                start = None
            if start is None:
                start, last, count = position, position, 1
            else:
                last, count = position, count + 1
        end = self.n + k  # one past the last point known
        if start is not None:
            if end - 1 - last > self.merge_gap:
                self._close(start, last, count, rows_s, rows_c, base, split=False,
                            evidence=evidence)
                start = None
            elif end >= start + self.max_event_length:
                # Closed at its longest: a flagged point after it opens a new one.
                self._close(start, last, count, rows_s, rows_c, base, split=True,
                            evidence=evidence)
                start = None
        if start is None:
            self._scores.clear()
            self._contributions.clear()
            self.start = self.last_flag = None
            self.n_flagged = 0
        else:
            if start != base:
                self._scores = Rows.of(rows_s[start - base:])
                self._contributions = Rows.of(rows_c[start - base:])
            self.start, self.last_flag, self.n_flagged = start, last, count
        self.n = end

    def _close(self, start, last, count, rows_s, rows_c, base, split, evidence=None,
               final=False):
        segment = self._segment(start, last, rows_s[start - base:last - base + 1, 0],
                                rows_c[start - base:last - base + 1], count, split)
        # As build_events: at most merge_gap points past the segment (known by
        # now; at the end of the stream, what there is), never into the previous
        # event; a segment cut at its longest is not extended.
        lower, upper = event_reach(start, last, self.previous_end,
                                   self.merge_gap, self.n - 1 if final else None)
        if split:
            upper = last
        if evidence is not None and lower >= self.evidence_from:
            errors, located = evidence(lower, upper + 1)
            low, high = refine_bounds(errors, start, last, lower, upper,
                                      floor=self.evidence_floor, located=located)
            segment.update(event_start=low, event_end=high, low=low, high=high)
        self.previous_end = segment["event_end"]
        self.pending.append(segment)

    def _segment(self, start, end, scores, contributions, n_flagged, split):
        peak = float(scores.max())
        per_feature = contributions.sum(axis=0)
        total = per_feature.sum()
        shares = per_feature / total if total > 0 else np.full_like(per_feature,
                                                                      1 / len(self.names))
        order = np.argsort(-shares, kind="stable")[: self.top_k]
        low, high = core_bounds(start, end, self.smoothing_width, scores)
        return {"start": start, "end": end, "event_start": start, "event_end": end,
                "peak": peak, "mean": float(scores.mean()),
                "peak_offset": int(np.argmax(scores)), "shares": shares, "order": order,
                "low": low, "high": high, "n_flagged": n_flagged, "split": split}

    # --------------------------------------------------------------- records
    def complete(self, values, label, n_values, final=False):
        """Records of the closed segments whose context is in (all of them when ``final``)."""
        out = []
        # In time order: a record waits for the ones before it, whose
        # (longer) context may still be coming.
        while self.pending:
            segment = self.pending[0]
            context = max(segment["high"] - segment["low"] + 1, 10)
            if not (final or n_values > segment["high"] + context):
                break
            out.append(self.record(segment, values, label, n_values))
            self.pending.pop(0)
        return out

    def record(self, segment, values, label, n_values, interim=False):
        """The :class:`Anomaly` of a closed segment, as ``build_events`` makes it."""
        low, high = segment["low"], segment["high"]
        context = max(high - low + 1, 10)
        first = max(0, low - context)
        last = min(n_values, high + 1 + context)
        top = int(segment["order"][0])
        kind, stats = classify_segment(values(first, last)[:, top], low - first, high - first)
        ratio = segment["peak"] / self.threshold if self.threshold > 0 else np.inf
        return Anomaly(
            start=label(segment["event_start"]),
            end=label(segment["event_end"]),
            start_index=segment["event_start"],
            end_index=segment["event_end"],
            peak_score=segment["peak"],
            mean_score=segment["mean"],
            severity=severity_from_ratio(ratio),
            anomaly_type=kind,
            top_features=tuple((self.names[i], float(segment["shares"][i]))
                               for i in segment["order"]),
            model_id=self.model_id,
            metadata={
                "threshold": self.threshold,
                "score_ratio": float(ratio) if np.isfinite(ratio) else None,
                "window": self.window,
                "type_feature": self.names[top],
                "flagged_start_index": segment["start"],
                "flagged_end_index": segment["end"],
                **stats,
                "peak_index": segment["start"] + segment["peak_offset"],
                "n_flagged": segment["n_flagged"],
                "split": segment["split"],
                "interim": interim,
            },
        )

    def flush(self, values, label, n_values, evidence=None):
        """End of the stream: close the open segment; every pending record."""
        self._close_open(evidence)
        return self.complete(values, label, n_values, final=True)

    def _close_open(self, evidence=None):
        if self.start is not None:
            self._close(self.start, self.last_flag, self.n_flagged, self._scores.values,
                        self._contributions.values, self.start, split=False,
                        evidence=evidence, final=True)
            self.start = self.last_flag = None
            self.n_flagged = 0
            self._scores.clear()
            self._contributions.clear()

    def peek(self, scores, contributions, values, label, n_values, evidence=None):
        """Records if the stream ended after ``scores`` (interim ones), nothing changed.

        Returns
        -------
        list of Anomaly
            The open segment's and the pending ones', with
            ``metadata["interim"] = True``.
        """
        clone = self.copy()
        clone._advance(scores, contributions, evidence)
        clone._close_open(evidence)
        return [clone.record(segment, values, label, n_values, interim=True)
                for segment in clone.pending]

    @property
    def open_start(self):
        """First point of the open segment (None when none is open)."""
        return self.start

    @property
    def earliest_needed(self):
        """First point whose value a record still needs (for the values kept)."""
        starts = [s["low"] - max(s["high"] - s["low"] + 1, 10) for s in self.pending]
        if self.start is not None:
            starts.append(self.start - max(self.max_event_length, 10))
        return min(starts) if starts else None

    # ----------------------------------------------------------------- state
    def get_state(self):
        pending = [{**{k: v for k, v in s.items() if k not in ("shares", "order")},
                    "shares": [float(x) for x in s["shares"]],
                    "order": [int(x) for x in s["order"]]} for s in self.pending]
        params = {"n": self.n, "start": self.start, "last_flag": self.last_flag,
                  "n_flagged": self.n_flagged, "pending": pending,
                  "previous_end": self.previous_end, "evidence_from": self.evidence_from}
        return params, {"scores": self._scores.values.copy(),
                        "contributions": self._contributions.values.copy()}

    def set_state(self, params, arrays):
        from .stages import _check_array, _check_count

        self.n = _check_count(params["n"], "events.n")
        # A state saved before the bounds were refined has no previous end.
        previous = params.get("previous_end", -1)
        self.previous_end = -1 if previous == -1 else _check_count(previous,
                                                                   "events.previous_end")
        self.evidence_from = _check_count(params.get("evidence_from", 0), "events.evidence_from")
        self.n_flagged = _check_count(params["n_flagged"], "events.n_flagged")
        for key in ("start", "last_flag"):
            value = params[key]
            if value is not None:
                _check_count(value, f"events.{key}")
            setattr(self, key, value)
        if (self.start is None) != (self.last_flag is None):
            raise ValueError("state `events.start` and `events.last_flag` must be set together.")
        scores = _check_array(arrays["scores"], "events.scores", (None, 1))
        contributions = _check_array(arrays["contributions"], "events.contributions",
                                     (None, len(self.names)))
        if scores.shape[0] != contributions.shape[0]:
            raise ValueError("state `events.scores` and `events.contributions` differ in length.")
        self._scores, self._contributions = Rows.of(scores), Rows.of(contributions)
        pending = params["pending"]
        if not isinstance(pending, list):
            raise ValueError("state `events.pending` must be a list.")
        self.pending = []
        for segment in pending:
            if not isinstance(segment, dict):
                raise ValueError("state `events.pending` must hold objects.")
            out = dict(segment)
            out.setdefault("event_start", out.get("start"))
            out.setdefault("event_end", out.get("end"))
            out["shares"] = _check_array(segment["shares"], "events.pending.shares",
                                         (len(self.names),))
            order = np.asarray(segment["order"], dtype=np.int64)
            if order.ndim != 1 or order.size == 0 or order.min() < 0 \
                    or order.max() >= len(self.names):
                raise ValueError("state `events.pending.order` must list feature positions.")
            out["order"] = order
            self.pending.append(out)
