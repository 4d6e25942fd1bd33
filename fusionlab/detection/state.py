"""What of a fitted :class:`~fusionlab.detection.AnomalyDetector` is stored, and how it comes back.

:func:`detector_state` turns a fitted detector into the ``(config, model,
arrays)`` triple that :mod:`fusionlab.detection.io` writes to an archive, and
:func:`detector_from_state` rebuilds the detector from it. The learned values
stored are listed once, in ``FITTED``: a new learned attribute is added there
(and set in ``fit``).

Nothing read back is trusted: every parameter is checked as ``fit`` checks
it, every learned value for its type, range and finiteness, the scaler's
arrays for their length, the training scores for finiteness, and the model
is run once on a window of the stored shape, so a tampered archive fails
with a ``ValueError`` naming the field instead of scoring silently.
"""

from __future__ import annotations

import keras
import numpy as np

from .. import __version__
from .._validation import (
    check_bool,
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_real,
    check_scores,
)
from . import io
from .ensemble import AGGREGATORS, RECONSTRUCTION, RobustScale, check_scorers
from .models import model_horizon
from .scorers import SCORERS

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


def _read_names(values):
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"`feature_names_in_` must be a list of str; received {values!r}.")
    return np.asarray(values, dtype=object)


def _read_history(value):
    history = io.decode(value)
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        raise TypeError("`history_` must map metric names to lists of numbers.")
    return history


def _read_str(name):
    def read(value):
        if not isinstance(value, str):
            raise TypeError(f"`{name}` must be a string; received {value!r}.")
        return value
    return read


def _scales(values):
    return [scale.to_list() for scale in values]


def _read_scales(values, name="scorer_scales_"):
    if not isinstance(values, list):
        raise TypeError(f"`{name}` must be a list; received {values!r}.")
    return [RobustScale.from_list(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _positive(name, allow_none=False):
    return lambda v: check_real(v, name, low=0.0, include_low=False, allow_none=allow_none)


#: Learned values of an archive's ``"fitted"`` section: key -> (attribute,
#: to JSON, from JSON (checking the value), value for archives written before
#: the key existed, or a marker for keys every archive has).
FITTED = {
    "window_": ("window_", int, lambda v: check_positive_int(v, "window_"), _REQUIRED),
    "horizon_": ("horizon_", int, lambda v: check_non_negative_int(v, "horizon_"), _REQUIRED),
    "threshold_": ("threshold_", float, lambda v: check_real(v, "threshold_"), _REQUIRED),
    "n_features_in_": ("n_features_in_", int,
                       lambda v: check_positive_int(v, "n_features_in_"), _REQUIRED),
    "feature_names_in_": ("feature_names_in_", _names, _read_names, _REQUIRED),
    "fitted_with_names": ("_fitted_with_names", bool,
                          lambda v: check_bool(v, "fitted_with_names"), _REQUIRED),
    "history_": ("history_", io.encode, _read_history, _REQUIRED),
    "model_id_": ("model_id_", _same, _read_str("model_id_"), _REQUIRED),
    "time_scale_": ("time_scale_", _same, _positive("time_scale_"), None),
    # Archives written before score smoothing existed scored raw errors.
    "smoothing_width_": ("smoothing_width_", int,
                         lambda v: check_positive_int(v, "smoothing_width_"), 1),
    # Unknown for archives written before it was recorded.
    "n_windows_left_out_": ("n_windows_left_out_", int,
                            lambda v: check_non_negative_int(v, "n_windows_left_out_"), None),
    # Archives written before the subsequence scorers scored with the model alone.
    "scorer_window_": ("scorer_window_", _same,
                       lambda v: check_positive_int(v, "scorer_window_"), None),
    "scorer_scales_": ("scorer_scales_", _scales, _read_scales, []),
    # The scorers and their combination as fitted (the parameters may change
    # after fit); archives that predate them scored with their parameters.
    "scorer_names_": ("scorer_names_", list, lambda v: check_scorers(tuple(v)), None),
    "combine_": ("combine_", _same, lambda v: check_option(v, "combine_", tuple(AGGREGATORS)),
                 None),
    # Archives written before the event bounds were read on the point errors:
    # no floor (only the share of the event's largest error counts).
    "point_error_level_": ("point_error_level_", float,
                           lambda v: check_real(v, "point_error_level_", low=0.0), 0.0),
    # Archives written before calibrated scorers (flatness) were added on top
    # of the others' aggregate averaged them with the others.
    "calibrated_added_": ("calibrated_added_", bool,
                          lambda v: check_bool(v, "calibrated_added_"), False),
    # Archives written before point-exact scorers scored every point and kept
    # their share through the smoothing scored them on window centres and
    # smoothed them with the others.
    "exact_kept_": ("exact_kept_", bool, lambda v: check_bool(v, "exact_kept_"), False),
    # Archives written before point-exact scorers were added on top, split by
    # their own parts and kept unsmoothed only beyond the end of the training
    # scores' tail, averaged them with the others (None).
    "exact_scales_": ("exact_scales_", lambda v: None if v is None else _scales(v),
                      lambda v: _read_scales(v, "exact_scales_"), None),
}
#: Prefix of the subsequence scorers' arrays in an archive: ``scorer<i>.<name>``.
SCORER_ARRAYS = "scorer"


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
    arrays = {TRAINING_SCORES: np.asarray(detector.training_scores_)}
    scorers = []
    for index, scorer in enumerate(detector.scorers_):
        params, scorer_arrays = scorer.get_state()
        scorers.append(params)
        arrays.update({f"{SCORER_ARRAYS}{index}.{k}": np.asarray(v)
                       for k, v in scorer_arrays.items()})
    # The scorers' parameters beside the learned values: their arrays are
    # members of their own, which FITTED's one-value entries cannot hold.
    config["scorers"] = scorers
    return config, detector.model_, arrays


def _check_scaler(scaler, n_features):
    """Every fitted array of the scaler is finite and holds one value per feature."""
    if scaler is None:
        return
    for key, value in vars(scaler).items():
        if not (key.endswith("_") and isinstance(value, np.ndarray)) or value.dtype == object:
            continue
        if value.shape != (n_features,):
            raise ValueError(
                f"the scaler's `{key}` must hold {n_features} values (one per feature); "
                f"received shape {value.shape}."
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"the scaler's `{key}` holds NaN or infinite values.")


def _built_shape(model):
    """``(steps, features)`` the model was built for, as far as Keras recorded it."""
    try:
        shape = (model.get_build_config() or {}).get("input_shape")
    except (AttributeError, NotImplementedError):
        return None, None
    if shape and isinstance(shape[0], (list, tuple)):  # [windows, deltas]
        shape = shape[0]
    if not shape or len(shape) != 3:
        return None, None
    return shape[1], shape[2]


def _check_model(detector, model):
    """The model is built for, and maps, windows of the stored shape as the stored horizon says."""
    steps, features = _built_shape(model)
    for name, built, stored in (("window_", steps, detector.window_),
                                ("n_features_in_", features, detector.n_features_in_)):
        if built is not None and built != stored:
            raise ValueError(
                f"`{name}` is {stored} but the model was built for {built}."
            )
    try:
        horizon = model_horizon(model, detector.window_, detector.n_features_in_)
    except ValueError as exc:
        raise ValueError(
            f"the model does not take windows of `window_`={detector.window_} steps and "
            f"`n_features_in_`={detector.n_features_in_} features: {exc}"
        ) from exc
    if horizon != detector.horizon_:
        raise ValueError(
            f"the model's forecast horizon is {horizon} but `horizon_` is {detector.horizon_}."
        )


def detector_from_state(cls, config, model, arrays):
    """A fitted ``cls`` detector from :func:`detector_state`'s triple.

    Raises
    ------
    ValueError
        When a parameter or learned value is missing, of the wrong type, out
        of range, not finite, or inconsistent with the model or the other
        values; the message names it.
    """
    try:
        return _from_state(cls, config, model, arrays)
    except KeyError as exc:
        raise ValueError(f"missing key {exc} in the stored state.") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc


def _from_state(cls, config, model, arrays):
    params = io.decode(config["params"])
    if not isinstance(params, dict):
        raise TypeError("`params` must be a JSON object.")
    # Older archives lack the newer parameters; fill them with the values
    # those versions used (raw errors, then a plain moving average) so the
    # loaded detector's parameters describe the scores it gives.
    params.setdefault("smoothing", None)
    params.setdefault("peak_weight", 0.0)
    params.setdefault("scorers", (RECONSTRUCTION,))
    params.setdefault("combine", "mean")
    params.setdefault("scorer_window", None)
    scaler = io.scaler_from_state(config["scaler"])
    try:
        strategy = io.threshold_from_state(config["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the threshold strategy cannot be rebuilt: {exc}") from exc
    detector = cls(
        model=config["model"] if config["model"] is not None else model,
        scaler=config["scaler_param"] if config["scaler"] is None or config["scaler_param"] else scaler,
        threshold=config["threshold_param"] or strategy.clone(),
        **params,
    )
    # The parameters are checked as fit checks them.
    detector._check_params()
    detector.model_ = model
    detector.scaler_ = scaler
    detector.threshold_strategy_ = strategy
    fitted = config["fitted"]
    for key, (attribute, _, from_json, default) in FITTED.items():
        if key not in fitted and default is _REQUIRED:
            raise KeyError(f"fitted.{key}")
        value = fitted.get(key, default)
        setattr(detector, attribute, None if value is None else from_json(value))
    if detector.scorer_names_ is None:
        detector.scorer_names_ = check_scorers(detector.scorers)
    if detector.combine_ is None:
        detector.combine_ = detector.combine
    if len(detector.feature_names_in_) != detector.n_features_in_:
        raise ValueError(
            f"`feature_names_in_` holds {len(detector.feature_names_in_)} names but "
            f"`n_features_in_` is {detector.n_features_in_}."
        )
    detector.scorers_ = _read_scorers(detector, config.get("scorers", []), arrays)
    _check_scaler(scaler, detector.n_features_in_)
    _check_model(detector, model)
    scores = check_scores(arrays[TRAINING_SCORES], TRAINING_SCORES)
    detector._set_training_scores(scores, detector.threshold_)
    return detector


def _read_scorers(detector, states, arrays):
    """The fitted subsequence scorers of an archive, checked against the parameters."""
    names = [name for name in detector.scorer_names_ if name != RECONSTRUCTION]
    if not isinstance(states, list) or len(states) != len(names):
        raise ValueError(
            f"`scorers` must hold the state of the scorers {names}; received {states!r:.200}."
        )
    expected = len(detector.scorer_names_) if names else 0
    if len(detector.scorer_scales_) != expected:
        raise ValueError(
            f"`scorer_scales_` must hold {expected} scale(s), one per scorer; received "
            f"{len(detector.scorer_scales_)}."
        )
    if detector.exact_scales_ is not None and len(detector.exact_scales_) != expected:
        raise ValueError(f"`exact_scales_` must hold {expected} scale(s), one per scorer; "
                         f"received {len(detector.exact_scales_)}.")
    if names and detector.scorer_window_ is None:
        raise ValueError("`scorer_window_` is missing for the scorers " f"{names}.")
    scorers = []
    for index, (name, state) in enumerate(zip(names, states, strict=True)):
        if not isinstance(state, dict) or state.get("name") != name:
            raise ValueError(f"`scorers[{index}]` must be the state of the {name!r} scorer.")
        prefix = f"{SCORER_ARRAYS}{index}."
        own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            scorer = SCORERS[name].from_state(state, own)
        except KeyError as exc:
            raise ValueError(f"`scorers[{index}]` lacks {exc}.") from exc
        if scorer.window_ != detector.scorer_window_ or scorer.n_features_ != detector.n_features_in_:
            raise ValueError(
                f"`scorers[{index}]` was fitted on windows of {scorer.window_} steps and "
                f"{scorer.n_features_} feature(s), not {detector.scorer_window_} and "
                f"{detector.n_features_in_}."
            )
        scorers.append(scorer)
    return scorers
