"""Saving and loading a fitted :class:`~fusionlab.detection.AnomalyDetector`.

The artifact is one zip archive holding:

- ``model.keras`` -- the Keras model in the native ``.keras`` format;
- ``config.json`` -- the detector's parameters, learned values (window,
  threshold, feature names, history...), the threshold strategy's parameters
  and fitted values, and the scaler's class, parameters and fitted arrays;
- ``training_scores.npy`` -- ``training_scores_`` (``numpy.save`` without
  pickle).

Nothing is pickled: only the scikit-learn scalers ``StandardScaler``,
``MinMaxScaler``, ``RobustScaler`` and ``MaxAbsScaler`` (or no scaler) can be
saved, and custom Keras classes must be registered with
``keras.saving.register_keras_serializable``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import keras
import numpy as np
from sklearn import preprocessing
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .thresholds import THRESHOLDS

__all__ = ["save_detector", "load_detector"]

FORMAT = "fusionlab.detection.AnomalyDetector/1"
_SCALER_CLASSES = ("StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler")
# Parameters that are not JSON data; restored by other means or dropped.
_SKIPPED_PARAMS = ("model", "callbacks", "scaler", "threshold")


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot store {value!r} of type {type(value).__name__} as JSON.")


def _decode(value):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _fitted_attributes(obj):
    return {
        k: _encode(v)
        for k, v in vars(obj).items()
        if k.endswith("_") and not k.startswith("_")
    }


def _scaler_state(scaler):
    if scaler is None:
        return None
    name = type(scaler).__name__
    if name not in _SCALER_CLASSES or type(scaler) is not getattr(preprocessing, name):
        raise TypeError(
            f"Cannot save a detector whose scaler is {type(scaler).__name__}: only "
            f"{', '.join(_SCALER_CLASSES)} or None are saved (no pickling)."
        )
    return {
        "class": name,
        "params": _encode(scaler.get_params()),
        "fitted": _fitted_attributes(scaler),
    }


def _scaler_from_state(state):
    if state is None:
        return None
    if state["class"] not in _SCALER_CLASSES:
        raise ValueError(f"Unknown scaler class {state['class']!r} in the archive.")
    scaler = getattr(preprocessing, state["class"])(**_decode(state["params"]))
    for key, value in _decode(state["fitted"]).items():
        setattr(scaler, key, value)
    return scaler


def _check_serialisable(model):
    try:
        layers = list(model._flatten_layers(include_self=True, recursive=True))
    except AttributeError:  # pragma: no cover - older private API
        layers = [model, *model.layers]
    for layer in layers:
        cls = type(layer)
        if cls.__module__.split(".")[0] == "keras":
            continue
        registered = keras.saving.get_registered_name(cls)
        if keras.saving.get_registered_object(registered) is not cls:
            raise TypeError(
                f"Cannot save the model: {cls.__module__}.{cls.__qualname__} is not "
                "registered as serialisable. Decorate it with "
                "@keras.saving.register_keras_serializable(package=...) and implement "
                "get_config."
            )


def save_detector(detector, path):
    """Write a fitted detector to the zip archive ``path``; return ``path``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the detector is not fitted.
    TypeError
        When the scaler or a model class cannot be saved without pickling,
        or the threshold strategy is not one of the built-in ones.
    """
    check_is_fitted(detector, ("model_", "threshold_"))
    _check_serialisable(detector.model_)
    params = {
        k: _encode(v)
        for k, v in detector.get_params(deep=False).items()
        if k not in _SKIPPED_PARAMS
    }
    strategy = detector.threshold_strategy_
    if THRESHOLDS.get(strategy.name) is not type(strategy):
        # The loader rebuilds the strategy from its registered name.
        raise TypeError(
            f"Cannot save the threshold strategy {type(strategy).__name__} (name "
            f"{strategy.name!r}): only the built-in strategies {sorted(THRESHOLDS)} "
            "are saved. Refit with one of them, or pickle the detector yourself."
        )
    config = {
        "format": FORMAT,
        "fusionlab_version": __version__,
        "keras_version": keras.__version__,
        "params": params,
        "model": detector.model if isinstance(detector.model, str) else None,
        "scaler_param": detector.scaler if isinstance(detector.scaler, str) or detector.scaler is None else None,
        "threshold_param": detector.threshold if isinstance(detector.threshold, str) else None,
        "scaler": _scaler_state(detector.scaler_),
        "threshold": {
            "name": strategy.name,
            "config": _encode(strategy.get_config()),
            "fitted": _fitted_attributes(strategy),
        },
        "fitted": {
            "window_": detector.window_,
            "horizon_": detector.horizon_,
            "threshold_": detector.threshold_,
            "n_features_in_": detector.n_features_in_,
            "feature_names_in_": [str(n) for n in detector.feature_names_in_],
            "fitted_with_names": bool(detector._fitted_with_names),
            "history_": _encode(detector.history_),
            "model_id_": detector.model_id_,
            "time_scale_": detector.time_scale_,
            "smoothing_width_": int(detector.smoothing_width_),
            "n_windows_left_out_": int(detector.n_windows_left_out_),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.keras")
        detector.model_.save(model_path)
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(detector.training_scores_), allow_pickle=False)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", json.dumps(config, indent=2))
            archive.write(model_path, "model.keras")
            archive.writestr("training_scores.npy", buffer.getvalue())
    return path


def load_detector(path):
    """Read a detector written by :func:`save_detector`.

    The loaded detector gives the same scores as the saved one. Its
    ``callbacks`` are ``None``; a custom model or scaler given at
    construction is replaced by the fitted one (``model_``/``scaler_``).
    """
    from .detector import AnomalyDetector

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path!r} is not a saved AnomalyDetector (not a zip archive).") from exc
    with archive, tempfile.TemporaryDirectory() as tmp:
        names = set(archive.namelist())
        missing = {"config.json", "model.keras", "training_scores.npy"} - names
        if missing:
            raise ValueError(f"{path!r} is not a saved AnomalyDetector: missing {sorted(missing)}.")
        config = json.loads(archive.read("config.json"))
        if config.get("format") != FORMAT:
            raise ValueError(
                f"Unsupported archive format {config.get('format')!r}; expected {FORMAT!r}."
            )
        archive.extract("model.keras", tmp)
        model = keras.saving.load_model(os.path.join(tmp, "model.keras"), compile=False)
        scores = np.load(io.BytesIO(archive.read("training_scores.npy")), allow_pickle=False)

    params = _decode(config["params"])
    # Older archives lack the newer parameters; fill them with the values
    # those versions used (raw errors, then a plain moving average) so the
    # loaded detector's parameters describe the scores it gives.
    params.setdefault("smoothing", None)
    params.setdefault("peak_weight", 0.0)
    scaler = _scaler_from_state(config["scaler"])
    threshold_cfg = config["threshold"]
    strategy = THRESHOLDS[threshold_cfg["name"]].from_config(_decode(threshold_cfg["config"]))
    for key, value in _decode(threshold_cfg["fitted"]).items():
        setattr(strategy, key, value)
    detector = AnomalyDetector(
        model=config["model"] if config["model"] is not None else model,
        scaler=config["scaler_param"] if config["scaler"] is None or config["scaler_param"] else scaler,
        threshold=config["threshold_param"] or strategy.clone(),
        **params,
    )
    fitted = config["fitted"]
    detector.model_ = model
    detector.scaler_ = scaler
    detector.threshold_strategy_ = strategy
    detector.window_ = int(fitted["window_"])
    detector.horizon_ = int(fitted["horizon_"])
    detector.threshold_ = float(fitted["threshold_"])
    detector.n_features_in_ = int(fitted["n_features_in_"])
    detector.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    detector._fitted_with_names = bool(fitted["fitted_with_names"])
    detector.history_ = _decode(fitted["history_"])
    detector.model_id_ = fitted["model_id_"]
    detector.time_scale_ = fitted.get("time_scale_")
    # Archives written before score smoothing existed scored raw errors.
    detector.smoothing_width_ = int(fitted.get("smoothing_width_", 1))
    # Unknown for archives written before it was recorded.
    detector.n_windows_left_out_ = fitted.get("n_windows_left_out_")
    detector.training_scores_ = scores
    return detector
