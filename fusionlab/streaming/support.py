"""Which detectors the streaming scorer follows exactly, and the proof on each.

The streaming scorer re-implements the detector's scoring stages
incrementally (:mod:`~fusionlab.streaming.stages`); a detector scored
otherwise -- a stage added to ``AnomalyDetector`` later, a subclass that
scores its own way, a scaler that is not row-wise -- would be scored
*differently*, silently. So every detector is checked before it is
streamed (:func:`check_supported`):

1. its configuration is one the stages know (the model's error, the
   ``'discord'``, ``'isolation'``, ``'residual'`` and ``'flatness'`` scorers
   combined by ``'mean'`` or ``'max'``, a calibrated one added on top, the
   smoothing, the threshold);
2. a probe series is scored both ways -- ``explain`` on the whole series,
   and the streaming stages point chunk by point chunk -- and the
   contributions must agree (:data:`PROBE_RTOL`).

A detector that fails either is refused with
:class:`StreamingUnsupportedError`, saying what differs.
"""

from __future__ import annotations

import numpy as np

from .batching import predict_padded, window_scores
from .pipeline import SeriesPipeline, Spec

__all__ = ["StreamingUnsupportedError", "check_supported", "score_offline", "PROBE_RTOL"]

#: Largest difference allowed between the probe's streamed and batch
#: contributions, relative to their largest value (the windows are scored
#: in other batches, which changes float32 results in their last bits).
PROBE_RTOL = 1e-5
#: The stages of combined scores the streaming stages know, newest first:
#: (the model's window error, the finish); see ``Spec.recon_rule``, ``Spec.finish``.
VARIANTS = (("peak", "squared"), ("average", "squared"), ("average", "plain"))


class StreamingUnsupportedError(ValueError):
    """The detector scores in a way the streaming scorer does not reproduce."""


_KNOWN_COMBINE = ("mean", "max")
#: Subsequence scorers the stages follow: scorer name -> class name. Each
#: gives every window one score from that window alone (to its centre), or
#: (the point-exact residual) every point one from that point alone; a
#: scorer of another class is refused.
_KNOWN_SCORERS = {"discord": "DiscordScorer", "isolation": "IsolationScorer",
                  "flatness": "FlatnessScorer", "residual": "ResidualScorer"}


def _check_config(detector):
    from sklearn.utils.validation import check_is_fitted

    from ..detection import AnomalyDetector

    if not isinstance(detector, AnomalyDetector):
        raise TypeError(f"`detector` must be a fitted fusionlab.detection.AnomalyDetector; "
                        f"received {type(detector).__name__}.")
    check_is_fitted(detector, ("model_", "threshold_"))
    if not np.isfinite(detector.threshold_):
        raise StreamingUnsupportedError(f"The detector's threshold is {detector.threshold_!r}; "
                                        "a stream needs a finite one.")
    scales = getattr(detector, "scorer_scales_", None) or []
    if scales:
        combine = getattr(detector, "combine", "mean")
        if combine not in _KNOWN_COMBINE:
            raise StreamingUnsupportedError(
                f"The detector combines its scorers with {combine!r}; streaming follows "
                f"{list(_KNOWN_COMBINE)} only.")
        fitted = getattr(detector, "scorer_names_", None)
        names = list(fitted if fitted is not None else detector.scorers)
        if len(scales) != len(names) or len(detector.scorers_) != len(names) - 1:
            raise StreamingUnsupportedError(
                f"The detector's scorers {names} do not match its fitted scales and scorers.")
        others = [n for n in names if n != "reconstruction"]
        for name, scorer in zip(others, detector.scorers_, strict=True):
            if _KNOWN_SCORERS.get(name) != type(scorer).__name__:
                raise StreamingUnsupportedError(
                    f"The detector uses the {name!r} scorer ({type(scorer).__name__}); "
                    f"streaming follows {sorted(_KNOWN_SCORERS)} only (each window or point "
                    "scored on its own). Fit the detector with scorers=('reconstruction', "
                    f"{', '.join(repr(n) for n in sorted(_KNOWN_SCORERS))}) or a subset.")


def check_supported(detector, *, top_k=3, max_event_length=1024, max_hold=256,
                    batch_size=256):
    """The :class:`~fusionlab.streaming.pipeline.Spec` of a detector the stream reproduces.

    Raises
    ------
    TypeError
        When ``detector`` is not a fitted ``AnomalyDetector``.
    StreamingUnsupportedError
        When its configuration is unknown to the streaming stages, or its
        probe series streams to other contributions than ``explain`` gives.
    """
    _check_config(detector)
    spec = Spec.from_detector(detector, top_k=top_k, max_event_length=max_event_length,
                              max_hold=max_hold, queue=batch_size)
    rows, stamps = _probe_series(spec)
    expected = detector.explain(rows, timestamps=stamps).to_numpy(dtype=np.float64)
    scale = max(float(np.abs(expected).max()), abs(spec.threshold), 1e-12)
    # The combined scores' stages changed while the scorers were added
    # (issue 18); the probe tells which of the known ones this detector takes.
    variants = VARIANTS if spec.scales else VARIANTS[-1:]
    failures = []
    for recon_rule, finish in variants:
        spec.recon_rule, spec.finish = recon_rule, finish
        streamed = score_offline(spec, rows, stamps, chunks=(1, 7, 64), batch_size=batch_size)
        if streamed.shape != expected.shape:
            failures.append(f"{streamed.shape} contributions, not {expected.shape}")
            continue
        difference = np.abs(streamed - expected)
        worst = float(difference.max()) / scale
        if worst <= PROBE_RTOL:
            return spec
        point = int(np.unravel_index(np.argmax(difference), expected.shape)[0])
        failures.append(f"{worst:.3g} of the largest (first at point {point}) with the "
                        f"{recon_rule!r} window error and the {finish!r} finish")
    raise StreamingUnsupportedError(
        f"The detector scores in a way the streaming stages do not reproduce: on a probe "
        f"series of {rows.shape[0]} points their contributions differ by "
        f"{'; '.join(failures)} (tolerated {PROBE_RTOL:g}). Its scoring (scorers "
        f"{list(getattr(detector, 'scorers', ['reconstruction']))}, smoothing width "
        f"{spec.smoothing_width}) has a stage fusionlab.streaming does not follow.")


def _probe_series(spec):
    """A demanding series in the detector's units, long enough for every stage.

    Noise with, apart enough for each to stand alone: a lone extreme point
    in one feature (peak rules), a short burst in all, a flat stretch, a
    level shift and a stretch of tiny values, so that every rule of the
    scoring (averages, peaks kept, scales clipped at 0, shares) is used.
    """
    rng = np.random.default_rng(12345)
    part = spec.span + spec.delay + (spec.scorer_window or 0) + 2 * spec.smoothing_width
    n = max(8 * part, 400)
    scaled = rng.normal(size=(n, spec.n_features))
    scaled[n // 8, 0] += 40.0                                  # a lone extreme point
    scaled[2 * n // 8: 2 * n // 8 + 4] += 6.0                  # a short burst
    scaled[3 * n // 8: 3 * n // 8 + part // 2] = scaled[3 * n // 8]  # a stuck stretch
    scaled[4 * n // 8: 5 * n // 8, -1] += 3.0                  # a level shift
    scaled[6 * n // 8: 7 * n // 8] *= 0.01                     # almost nothing moves
    scaled[7 * n // 8 + part // 2, -1] -= 25.0                 # another lone one
    rows = scaled
    if spec.scaler is not None and hasattr(spec.scaler, "inverse_transform"):
        rows = np.asarray(spec.scaler.inverse_transform(scaled), dtype=np.float64)
    stamps = None
    if spec.time_aware and spec.time_scale:
        gaps = spec.time_scale * rng.choice([1.0, 1.0, 1.0, 2.0, 3.0], size=n)
        stamps = np.cumsum(gaps)
    return rows, stamps


def score_now(pipeline, spec, batch_size):
    """Score every window the pipeline has cut (direct model calls, no queue)."""
    model = spec.detector.model_
    cut = pipeline.model_windows()
    if cut is not None:
        starts, spans, deltas = cut
        for lo in range(0, starts.size, batch_size):
            piece = slice(lo, lo + batch_size)
            inputs = spans[piece, : spec.window]
            if deltas is not None:
                inputs = [inputs, deltas[piece]]
            output = predict_padded(model, inputs, batch_size)
            if output.ndim == 2:
                output = output[:, None, :]
            from .batching import squared_errors

            target = spans[piece, spec.window:] if spec.horizon else spans[piece]
            pipeline.add_model_errors(starts[piece], squared_errors(target, output))
    windows = pipeline.scorer_windows()
    if windows is not None:
        starts, w = windows
        scores = np.column_stack([window_scores(s, w) for s in spec.window_scorers])
        pipeline.add_scorer_scores(starts, scores)


def score_offline(spec, rows, stamps=None, chunks=(1,), batch_size=256):
    """Stream ``rows`` through a fresh pipeline in chunks of the given sizes (cycled); flush.

    Returns the contributions of every point, ``(n, n_features)``.
    """
    kind = "none" if stamps is None else "number"
    pipeline = SeriesPipeline(spec, stamp_kind=kind)
    out = []
    position, turn = 0, 0
    n = rows.shape[0]
    while position < n:
        size = chunks[turn % len(chunks)]
        turn += 1
        piece = slice(position, min(n, position + size))
        pipeline.accept(rows[piece], None if stamps is None else np.asarray(stamps)[piece])
        score_now(pipeline, spec, batch_size)
        block, _ = pipeline.advance()
        if block is not None:
            out.append(block.contributions)
        position = piece.stop
    pipeline.flush_input()
    score_now(pipeline, spec, batch_size)
    block, _ = pipeline.flush()
    if block is not None:
        out.append(block.contributions)
    return np.concatenate(out) if out else np.zeros((0, spec.n_features))
