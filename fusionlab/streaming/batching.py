"""Micro-batching: the windows of many series scored together.

Windows from any series wait in one queue; a model call takes ``batch_size``
of them (a short last batch is padded to that size, so the compiled predict
function keeps one input shape and is traced once). A batch runs as soon as
it is full, or when its oldest window has waited ``max_delay_ms`` (or when
the caller forces it). The subsequence scorers' windows are scored in the
same pass, one call per scorer. Each series gets its windows' results back
in order.
"""

from __future__ import annotations

import collections
import time

import numpy as np

# The detector's own arithmetic, so streamed scores equal score_samples.
from ..detection.scoring import predict_fixed_batch as predict_padded
from ..detection.scoring import squared_errors

__all__ = ["MicroBatcher", "squared_errors", "predict_padded"]


class MicroBatcher:
    """The queue of windows waiting for a shared model call (see the module).

    Parameters
    ----------
    batch_size : int
    max_delay_ms : float
    """

    def __init__(self, batch_size, max_delay_ms):
        self.batch_size = int(batch_size)
        self.max_delay = float(max_delay_ms) / 1000.0
        self.model_jobs = collections.deque()    # (key, starts, spans, deltas)
        self.scorer_jobs = collections.deque()   # (key, starts, windows)
        self.n_model = 0
        self.n_scorer = 0
        self._times = collections.deque()  # when each model job was queued
        self.oldest_scorer = None
        self.calls = 0

    @property
    def pending(self):
        return self.n_model + self.n_scorer

    def add_model(self, key, starts, spans, deltas, since=None):
        self.model_jobs.append((key, starts, spans, deltas))
        self._times.append(time.monotonic() if since is None else since)
        self.n_model += starts.size

    def add_scorer(self, key, starts, windows):
        self.scorer_jobs.append((key, starts, windows))
        self.n_scorer += starts.size
        if self.oldest_scorer is None:
            self.oldest_scorer = time.monotonic()

    @property
    def oldest(self):
        """When the oldest waiting window was queued (monotonic seconds), or None."""
        times = [t for t in (self._times[0] if self._times else None, self.oldest_scorer)
                 if t is not None]
        return min(times) if times else None

    def wait_time(self, now=None):
        """Seconds until the waiting windows are due (0: now; None: nothing waits)."""
        if self.pending == 0:
            return None
        if self.n_model >= self.batch_size or self.max_delay == 0:
            return 0.0
        now = time.monotonic() if now is None else now
        return max(0.0, self.oldest + self.max_delay - now)

    def timed_out(self, now=None):
        """True when the oldest waiting window has waited ``max_delay_ms``."""
        if self.pending == 0:
            return False
        if self.max_delay == 0:
            return True
        now = time.monotonic() if now is None else now
        return now - self.oldest >= self.max_delay

    def run(self, model, scorers, window, horizon, force=False):
        """Score the full batches, and the rest when it waited long enough or ``force``.

        Returns
        -------
        model_results : list of (key, starts, squared_errors)
        scorer_results : list of (key, starts, scores of shape (b, n_scorers))
        """
        due = force or self.timed_out()
        model_results = []
        while self.n_model >= self.batch_size or (due and self.n_model):
            model_results.extend(self._model_batch(model, window, horizon))
        scorer_results = []
        if self.n_scorer and (due or model_results):
            scorer_results = self._scorer_pass(scorers)
            self.oldest_scorer = None
        return model_results, scorer_results

    def _model_batch(self, model, window, horizon):
        pieces, room = [], self.batch_size
        while room and self.model_jobs:
            key, starts, spans, deltas = self.model_jobs[0]
            take = min(room, starts.size)
            if take == starts.size:
                self.model_jobs.popleft()
                self._times.popleft()
            else:
                self.model_jobs[0] = (key, starts[take:], spans[take:],
                                      None if deltas is None else deltas[take:])
                starts, spans = starts[:take], spans[:take]
                deltas = None if deltas is None else deltas[:take]
            pieces.append((key, starts, spans, deltas))
            room -= take
        self.n_model -= self.batch_size - room
        inputs = np.concatenate([spans[:, :window] for _, _, spans, _ in pieces])
        if pieces[0][3] is not None:
            inputs = [inputs, np.concatenate([deltas for *_, deltas in pieces])]
        output = predict_padded(model, inputs, self.batch_size)
        self.calls += 1
        if output.ndim == 2:
            output = output[:, None, :]
        results, row = [], 0
        for key, starts, spans, _ in pieces:
            target = spans[:, window:] if horizon else spans
            part = output[row: row + starts.size]
            row += starts.size
            if part.shape != target.shape:
                raise ValueError(f"The model returned shape {part.shape} for windows of shape "
                                 f"{spans[:, :window].shape}; expected {target.shape}.")
            results.append((key, starts, squared_errors(target, part)))
        return results

    def _scorer_pass(self, scorers):
        jobs = list(self.scorer_jobs)
        self.scorer_jobs.clear()
        self.n_scorer = 0
        windows = np.concatenate([w for _, _, w in jobs])
        scores = np.column_stack([window_scores(scorer, windows) for scorer in scorers])
        results, row = [], 0
        for key, starts, _ in jobs:
            results.append((key, starts, scores[row: row + starts.size]))
            row += starts.size
        return results

    # ----------------------------------------------------------------- state
    def get_state(self, key_index):
        """Waiting windows as arrays (``key_index`` maps series keys to numbers)."""
        arrays, params = {}, {"model_jobs": [], "scorer_jobs": []}
        for i, (key, starts, spans, deltas) in enumerate(self.model_jobs):
            params["model_jobs"].append(key_index[key])
            arrays[f"model{i}.starts"], arrays[f"model{i}.spans"] = starts, spans
            if deltas is not None:
                arrays[f"model{i}.deltas"] = deltas
        for i, (key, starts, windows) in enumerate(self.scorer_jobs):
            params["scorer_jobs"].append(key_index[key])
            arrays[f"scorer{i}.starts"] = starts
            arrays[f"scorer{i}.windows"] = np.ascontiguousarray(windows)
        return params, arrays

    def set_state(self, params, arrays, keys):
        self.model_jobs.clear()
        self.scorer_jobs.clear()
        self._times.clear()
        self.oldest_scorer = None
        self.n_model = self.n_scorer = 0
        for i, number in enumerate(params["model_jobs"]):
            deltas = arrays.get(f"model{i}.deltas")
            self.add_model(keys[number], np.asarray(arrays[f"model{i}.starts"], dtype=np.int64),
                           np.asarray(arrays[f"model{i}.spans"], dtype=np.float32),
                           None if deltas is None else np.asarray(deltas, dtype=np.float32))
        for i, number in enumerate(params["scorer_jobs"]):
            self.add_scorer(keys[number], np.asarray(arrays[f"scorer{i}.starts"], dtype=np.int64),
                            np.asarray(arrays[f"scorer{i}.windows"], dtype=np.float64))


def window_scores(scorer, windows):
    """Raw scores of a batch of windows ``(b, window, f)`` by a fitted subsequence scorer.

    A scorer's public :meth:`~fusionlab.detection.scorers.BaseScorer.score`
    takes one contiguous series; windows of many series need the per-window
    score, which scorers give as ``score_windows`` when they have it, else
    through their ``_score`` (the method ``score`` itself calls).
    """
    public = getattr(scorer, "score_windows", None)
    if public is not None:
        return np.asarray(public(windows), dtype=np.float64)
    return np.asarray(scorer._score(windows), dtype=np.float64)
