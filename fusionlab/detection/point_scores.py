"""A fitted series detector's per-point contributions, the input of every verdict.

The model's per-point errors (:func:`~fusionlab.detection.scoring.iter_point_errors`)
and, with subsequence scorers, their raw scores, each on its robust scale,
combined (:mod:`~fusionlab.detection.ensemble`), smoothed with isolated large
values kept (:func:`~fusionlab.detection.scoring.smooth_errors`) and the
point-exact scorers' share unsmoothed
(:func:`~fusionlab.detection.scoring.keep_exact`), and squared.
Rows sum to the point's score. The detector's ``score_samples``, ``explain``
and ``detect`` read them; :mod:`fusionlab.distributed` scores many series
through :func:`iter_contributions`, which shares the model calls.
"""

from __future__ import annotations

import numpy as np

from .ensemble import (
    combine_contributions,
    exact_contributions,
    feature_shares,
    held_out_raw_scores,
    raw_scores,
    square_scores,
)
from .inputs import time_deltas
from .models import time_aware
from .scoring import iter_point_errors, keep_exact, smooth_errors

__all__ = ["model_time_deltas", "iter_model_errors", "finish_contributions",
           "iter_contributions", "calibration_scores"]


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


def finish_contributions(detector, scaled, errors, raws=None):
    """Smoothed contributions from the model's point errors (and the scorers' raw scores)."""
    if not detector.scorer_scales_:
        return smooth_errors(errors, detector.smoothing_width_, detector.peak_weight)
    if raws is None:
        raws = scorer_raw_scores(detector, scaled, errors)
    shares = feature_shares(errors, detector.window_)
    names = detector.scorer_names_ if getattr(detector, "calibrated_added_", False) else None
    smoothed = smooth_errors(
        combine_contributions(raws, detector.scorer_scales_, shares, detector.combine_, names),
        detector.smoothing_width_, detector.peak_weight)
    if getattr(detector, "exact_kept_", False):
        smoothed = keep_exact(smoothed, exact_contributions(
            raws, detector.scorer_scales_, shares, detector.combine_, detector.scorer_names_))
    # Squared, as the model's squared error: the ranking is unchanged and
    # peak / threshold (the severity) keeps the meaning it has for errors.
    return square_scores(smoothed)


def iter_contributions(detector, prepared, batch_size=None):
    """``(index, contributions)`` of several ``(scaled, stamps)`` series."""
    for index, errors in iter_model_errors(detector, prepared, batch_size):
        yield index, finish_contributions(detector, prepared[index][0], errors)


def calibration_scores(detector, scaled, errors, raws, scores, seed=None):
    """The training scores the threshold is fitted on, as new data would score.

    The scorers score their own training windows lower than new ones, so
    ``scores`` (the training scores) are raised by that optimism: the median
    of the combined scores when each half of the series is scored by scorers
    fitted on the other half (:func:`~fusionlab.detection.ensemble.held_out_raw_scores`)
    less the median of ``scores``, never negative. A difference of medians,
    so the training data's own anomalies (which score far higher held out)
    do not lift it. Without scorers, or for a series too short to halve,
    ``scores`` as they are.
    """
    held = (held_out_raw_scores(detector.scorer_names_, detector.scorers_, raws, scaled,
                                detector.scorer_window_, seed) if raws else None)
    if held is None:
        return scores
    held_scores = finish_contributions(detector, scaled, errors, held).sum(axis=1)
    return scores + max(float(np.median(held_scores) - np.median(scores)), 0.0)
