"""What of a fitted :class:`~fusionlab.detection.AnomalyDetector` is stored, and how it comes back.

:func:`detector_state` turns a fitted detector into the ``(config, model,
arrays)`` triple that :mod:`fusionlab.detection.io` writes to an archive, and
:func:`detector_from_state` rebuilds the detector from it. The learned values
stored are listed once, in ``FITTED``: a new learned attribute is added there
(and set in ``fit``).
"""

from __future__ import annotations

import keras
import numpy as np

from .. import __version__
from . import io

__all__ = ["FORMAT", "TRAINING_SCORES", "FITTED", "detector_state", "detector_from_state"]

#: ``format`` of the archives :meth:`AnomalyDetector.save` writes.
FORMAT = "fusionlab.detection.AnomalyDetector/1"
#: Name of the array of training scores in an archive.
TRAINING_SCORES = "training_scores"
# Parameters that are not JSON data; restored by other means or dropped.
_SKIPPED_PARAMS = ("model", "callbacks", "scaler", "threshold")
_REQUIRED = object()


def _same(value):
    return value


def _names(values):
    return [str(name) for name in values]


#: Learned values of an archive's ``"fitted"`` section: key -> (attribute,
#: to JSON, from JSON, value for archives written before the key existed, or
#: a marker for keys every archive has).
FITTED = {
    "window_": ("window_", int, int, _REQUIRED),
    "horizon_": ("horizon_", int, int, _REQUIRED),
    "threshold_": ("threshold_", float, float, _REQUIRED),
    "n_features_in_": ("n_features_in_", int, int, _REQUIRED),
    "feature_names_in_": ("feature_names_in_", _names,
                          lambda v: np.asarray(v, dtype=object), _REQUIRED),
    "fitted_with_names": ("_fitted_with_names", bool, bool, _REQUIRED),
    "history_": ("history_", io.encode, io.decode, _REQUIRED),
    "model_id_": ("model_id_", _same, _same, _REQUIRED),
    "time_scale_": ("time_scale_", _same, _same, None),
    # Archives written before score smoothing existed scored raw errors.
    "smoothing_width_": ("smoothing_width_", int, int, 1),
    # Unknown for archives written before it was recorded.
    "n_windows_left_out_": ("n_windows_left_out_", int, _same, None),
}


def detector_state(detector):
    """``(config, model, arrays)`` of a fitted detector.

    ``config`` is JSON data: the format, versions, the parameters, the
    scaler's and the threshold strategy's state and the learned values of
    :data:`FITTED`; ``model`` is the Keras model; ``arrays`` is
    ``{'training_scores': training_scores_}``.

    Raises
    ------
    TypeError
        When the scaler cannot be stored without pickling, or the threshold
        strategy is not one of the built-in ones.
    """
    params = {
        k: io.encode(v)
        for k, v in detector.get_params(deep=False).items()
        if k not in _SKIPPED_PARAMS
    }
    plain_scaler = isinstance(detector.scaler, str) or detector.scaler is None
    config = {
        "format": FORMAT,
        "fusionlab_version": __version__,
        "keras_version": keras.__version__,
        "params": params,
        "model": detector.model if isinstance(detector.model, str) else None,
        "scaler_param": detector.scaler if plain_scaler else None,
        "threshold_param": detector.threshold if isinstance(detector.threshold, str) else None,
        "scaler": io.scaler_state(detector.scaler_),
        "threshold": io.threshold_state(detector.threshold_strategy_),
        "fitted": {
            key: to_json(getattr(detector, attribute))
            for key, (attribute, to_json, _, _) in FITTED.items()
        },
    }
    return config, detector.model_, {TRAINING_SCORES: np.asarray(detector.training_scores_)}


def detector_from_state(cls, config, model, arrays):
    """A fitted ``cls`` detector from :func:`detector_state`'s triple."""
    params = io.decode(config["params"])
    # Older archives lack the newer parameters; fill them with the values
    # those versions used (raw errors, then a plain moving average) so the
    # loaded detector's parameters describe the scores it gives.
    params.setdefault("smoothing", None)
    params.setdefault("peak_weight", 0.0)
    scaler = io.scaler_from_state(config["scaler"])
    strategy = io.threshold_from_state(config["threshold"])
    detector = cls(
        model=config["model"] if config["model"] is not None else model,
        scaler=config["scaler_param"] if config["scaler"] is None or config["scaler_param"] else scaler,
        threshold=config["threshold_param"] or strategy.clone(),
        **params,
    )
    detector.model_ = model
    detector.scaler_ = scaler
    detector.threshold_strategy_ = strategy
    fitted = config["fitted"]
    for key, (attribute, _, from_json, default) in FITTED.items():
        value = fitted[key] if key in fitted or default is _REQUIRED else default
        setattr(detector, attribute, None if value is None else from_json(value))
    detector._set_training_scores(arrays[TRAINING_SCORES], detector.threshold_)
    return detector
