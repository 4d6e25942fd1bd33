"""The series detector's parameter checks, run by ``fit`` before any work.

Kept apart from :mod:`~fusionlab.detection.detector` so that the conductor
reads as the stages it runs; loading an archive runs the same checks
(:func:`~fusionlab.detection.state.detector_from_state`), so a ``set_params``
or a tampered archive cannot bypass them.
"""

from __future__ import annotations

import keras

from .._validation import (
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_rate,
)
from .ensemble import AGGREGATORS, check_scorers
from .inputs import IMPUTATIONS
from .scoring import check_smoothing
from .thresholds import get_threshold
from .training import TrainingSchedule

__all__ = ["check_detector_params"]


def check_detector_params(detector) -> TrainingSchedule:
    """Check every parameter of an :class:`~fusionlab.detection.AnomalyDetector`.

    Returns
    -------
    TrainingSchedule
        The training settings, checked.

    Raises
    ------
    ValueError, TypeError
        Naming the parameter, what it must be and what it is.

    Examples
    --------
    >>> from fusionlab.detection import AnomalyDetector
    >>> from fusionlab.detection.params import check_detector_params
    >>> check_detector_params(AnomalyDetector(epochs=2)).epochs
    2
    >>> check_detector_params(AnomalyDetector(min_window=40, max_window=20))
    Traceback (most recent call last):
        ...
    ValueError: `min_window` (40) must not exceed `max_window` (20).
    """
    d = detector
    schedule = TrainingSchedule(
        epochs=d.epochs,
        batch_size=d.batch_size,
        learning_rate=d.learning_rate,
        validation_split=d.validation_split,
        step=d.step,
        max_train_windows=d.max_train_windows,
        callbacks=list(d.callbacks or []),
        verbose=d.verbose,
        seed=None if d.random_state is None else int(d.random_state),
    )
    check_positive_int(d.predict_batch_size, "predict_batch_size")
    check_positive_int(d.window, "window", allow_none=True)
    check_positive_int(d.min_window, "min_window")
    check_positive_int(d.max_window, "max_window")
    check_non_negative_int(d.merge_gap, "merge_gap", allow_none=True)
    check_rate(d.contamination, "contamination", low=0.0, high=0.5)
    if d.contamination == 0:
        raise ValueError("`contamination` must be in (0, 0.5]; received 0.")
    if d.min_window > d.max_window:
        raise ValueError(
            f"`min_window` ({d.min_window}) must not exceed `max_window` ({d.max_window})."
        )
    # A bad threshold name or type fails here, not after the training.
    get_threshold(d.threshold, d.contamination)
    check_scorers(d.scorers)
    check_option(d.combine, "combine", tuple(AGGREGATORS))
    check_positive_int(d.scorer_window, "scorer_window", allow_none=True)
    check_smoothing(d.smoothing)
    check_rate(d.peak_weight, "peak_weight")
    if not isinstance(d.robust, bool):
        raise TypeError(f"`robust` must be True or False; received {d.robust!r}.")
    check_option(d.impute, "impute", IMPUTATIONS)
    if not isinstance(d.model, (str, keras.Model)):
        raise TypeError(
            "`model` must be a registered model name or a keras.Model; received "
            f"{d.model!r} of type {type(d.model).__name__}."
        )
    if d.model_params is not None and not isinstance(d.model_params, dict):
        raise TypeError(f"`model_params` must be a dict; received {d.model_params!r}.")
    return schedule
