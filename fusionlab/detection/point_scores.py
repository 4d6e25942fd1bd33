"""A fitted series detector's per-point contributions, the input of every verdict.

The model's per-point errors (:func:`~fusionlab.detection.scoring.iter_point_errors`)
and, with subsequence scorers, their raw scores, each on its robust scale,
combined (:mod:`~fusionlab.detection.ensemble`), smoothed with isolated large
values kept (:func:`~fusionlab.detection.scoring.smooth_errors`) and what the
point-exact scorers give a point beyond the end of their training scores'
tail unsmoothed (:func:`~fusionlab.detection.scoring.keep_exact`), and squared.
Rows sum to the point's score. The detector's ``score_samples``, ``explain``
and ``detect`` read them; :mod:`fusionlab.distributed` scores many series
through :func:`iter_contributions`, which shares the model calls.
"""

from __future__ import annotations

import numpy as np

from .ensemble import (
    added_flags,
    combine_contributions,
    exact_contributions,
    feature_shares,
    held_out_raw_scores,
    point_shares,
    raw_scores,
    square_scores,
)
from .inputs import time_deltas
from .models import time_aware
from .scoring import iter_point_errors, keep_exact, smooth_errors

__all__ = ["model_time_deltas", "iter_model_errors", "finish_contributions",
           "iter_contributions", "exact_rules", "held_out_scores", "calibration_scores"]


def model_time_deltas(model, stamps, n, scale):
    """Time before each of ``n`` points for a time-aware model, else None."""
    if not time_aware(model):
        return None
    return time_deltas(stamps, n, scale)


def iter_model_errors(detector, prepared, batch_size=None):
    """``(index, errors)`` of several ``(scaled, stamps)`` series.

    ``errors`` is the model's per-point, per-feature error over
    ``n_features``, so that a row sums to the point's mean error. The
    series' windows share model calls of ``batch_size`` windows (default
    ``detector.predict_batch_size``).
    """
    errors = iter_point_errors(
        detector.model_,
        [scaled for scaled, _ in prepared],
        detector.window_,
        horizon=detector.horizon_,
        batch_size=batch_size or detector.predict_batch_size,
        time_deltas=[model_time_deltas(detector.model_, stamps, scaled.shape[0],
                                       detector.time_scale_)
                     for scaled, stamps in prepared],
    )
    for index, (mean_errors, _) in errors:
        yield index, mean_errors / mean_errors.shape[1]


def scorer_raw_scores(detector, scaled, errors):
    """Raw score arrays of the fitted scorers, in the order of ``scorer_names_``."""
    # Detectors fitted before point-exact scorers scored every point (and kept
    # their share through the smoothing) score them on window centres.
    return raw_scores(detector.scorer_names_, detector.scorers_, errors, scaled,
                      detector.window_, detector.peak_weight,
                      points=getattr(detector, "exact_kept_", False))


def exact_rules(detector):
    """The detector's ``exact_scales_`` where its point-exact scorers are added on top, else None.

    They are only where every earlier rule holds too (calibrated scorers
    added, point-exact ones scoring every point and kept through the
    smoothing), as every fit since sets them; an archive fitted before,
    or one whose flags were edited apart, scores by the older rules.
    """
    exact = getattr(detector, "exact_scales_", None)
    if exact is None or not (getattr(detector, "exact_kept_", False)
                             and getattr(detector, "calibrated_added_", False)):
        return None
    return exact


def finish_contributions(detector, scaled, errors, raws=None):
    """Smoothed contributions from the model's point errors (and the scorers' raw scores).

    A detector fitted before the point-exact scorers were added on top
    (no ``exact_scales_``) averages them with the others, splits them by
    the model's shares and keeps their whole share unsmoothed.
    """
    if not detector.scorer_scales_:
        return smooth_errors(errors, detector.smoothing_width_, detector.peak_weight)
    if raws is None:
        raws = scorer_raw_scores(detector, scaled, errors)
    names = detector.scorer_names_
    shares = feature_shares(errors, detector.window_)
    exact = exact_rules(detector)
    own = point_shares(names, detector.scorers_, scaled) if exact else None
    added = (added_flags(names, points=bool(exact))
             if getattr(detector, "calibrated_added_", False) else None)
    smoothed = smooth_errors(
        combine_contributions(raws, detector.scorer_scales_, shares, detector.combine_, added,
                              own=own),
        detector.smoothing_width_, detector.peak_weight)
    if getattr(detector, "exact_kept_", False):
        smoothed = keep_exact(smoothed, exact_contributions(
            raws, exact or detector.scorer_scales_, shares, detector.combine_, names, added, own))
    # Squared, as the model's squared error: the ranking is unchanged and
    # peak / threshold (the severity) keeps the meaning it has for errors.
    return square_scores(smoothed)


def iter_contributions(detector, prepared, batch_size=None):
    """``(index, contributions)`` of several ``(scaled, stamps)`` series."""
    for index, errors in iter_model_errors(detector, prepared, batch_size):
        yield index, finish_contributions(detector, prepared[index][0], errors)


def held_out_scores(detector, scaled, raws, seed=None):
    """The scorers' raw training scores as new data would score them, or None.

    :func:`~fusionlab.detection.ensemble.held_out_raw_scores` with the
    detector's scorers; None without scorers or for a series too short to
    halve.
    """
    if not raws:
        return None
    return held_out_raw_scores(detector.scorer_names_, detector.scorers_, raws, scaled,
                               detector.scorer_window_, seed)


def calibration_scores(detector, scaled, errors, held, scores):
    """The training scores the threshold is fitted on, as new data would score.

    The scorers score their own training windows lower than new ones, so
    ``scores`` (the training scores) are raised by that optimism: the median
    of the combined scores when each half of the series is scored by scorers
    fitted on the other half (``held``: :func:`held_out_scores`) less the
    median of ``scores``, never negative. A difference of medians, so the
    training data's own anomalies (which score far higher held out) do not
    lift it. Without held-out scores, ``scores`` as they are.
    """
    if held is None:
        return scores
    held_scores = finish_contributions(detector, scaled, errors, held).sum(axis=1)
    return scores + max(float(np.median(held_scores) - np.median(scores)), 0.0)
