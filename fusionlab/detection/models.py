"""Built-in models of :class:`~fusionlab.detection.AnomalyDetector` and their registry.

A *model factory* is a callable ``factory(window, n_features, **params)``
returning an unbuilt or built :class:`keras.Model` that maps windows of shape
``(batch, window, n_features)`` to reconstructions of the same shape. Register
new ones with :func:`register_model` and pass their name as
``AnomalyDetector(model=...)``.

``'cfc'`` and ``'ltc'`` build a
:class:`~fusionlab.nn.anomaly_detection.LiquidAutoencoderAnomaly`; those
models also take the time elapsed before each step, which the detector
derives from the timestamps (see :func:`time_aware`).

:func:`make_model` turns ``AnomalyDetector(model=...)`` (a name or a model
used as a template) into a fresh model and tells whether it reconstructs or
forecasts; :func:`model_id` names a fitted model by its weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import keras
import numpy as np

from ..nn.anomaly_detection import (
    ConvAutoencoderAnomaly,
    LiquidAutoencoderAnomaly,
    LSTMAutoencoderAnomaly,
)

__all__ = [
    "register_model",
    "available_models",
    "build_model",
    "make_model",
    "model_horizon",
    "model_name",
    "model_id",
    "time_aware",
]

_REGISTRY: dict[str, Callable] = {}


def register_model(name: str, factory: Callable, *, overwrite: bool = False) -> None:
    """Register ``factory`` under ``name`` (lower-cased).

    Parameters
    ----------
    name : str
        Name used in ``AnomalyDetector(model=name)``.
    factory : callable
        ``factory(window, n_features, **params) -> keras.Model``.
    overwrite : bool, default=False
        Replace an existing entry instead of raising ``ValueError``.

    Examples
    --------
    >>> import keras
    >>> from fusionlab.detection import register_model, available_models
    >>> def dense_ae(window, n_features, units=8):
    ...     return keras.Sequential([
    ...         keras.Input((window, n_features)),
    ...         keras.layers.Flatten(),
    ...         keras.layers.Dense(units, activation="relu"),
    ...         keras.layers.Dense(window * n_features),
    ...         keras.layers.Reshape((window, n_features)),
    ...     ])
    >>> register_model("dense_ae", dense_ae, overwrite=True)
    >>> "dense_ae" in available_models()
    True
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; received {name!r}.")
    if not callable(factory):
        raise TypeError(f"`factory` must be callable; received {factory!r}.")
    key = name.lower()
    if key in _REGISTRY and not overwrite:
        raise ValueError(
            f"A model named {key!r} is already registered; pass overwrite=True "
            "to replace it."
        )
    _REGISTRY[key] = factory


def available_models() -> list[str]:
    """Names accepted by :func:`build_model`, sorted."""
    return sorted(_REGISTRY)


def build_model(name: str, window: int, n_features: int, **params) -> keras.Model:
    """Build the registered model ``name`` for windows ``(window, n_features)``.

    The model is built (its weights exist) but not compiled.

    Examples
    --------
    >>> from fusionlab.detection import build_model
    >>> model = build_model("conv_autoencoder", window=16, n_features=2)
    >>> tuple(model.compute_output_shape((None, 16, 2)))
    (None, 16, 2)
    """
    if not isinstance(name, str):
        raise TypeError(f"`model` name must be a string; received {name!r}.")
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(
            f"`model` must be one of {available_models()} or a keras.Model; "
            f"received {name!r}."
        )
    model = _REGISTRY[key](window, n_features, **params)
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"The factory registered as {key!r} must return a keras.Model; it "
            f"returned {type(model).__name__}."
        )
    if not model.built:
        model.build((None, window, n_features))
    return model


def _lstm_autoencoder(window, n_features, latent_dim=8, lstm_units=32, **params):
    # Small enough to train in seconds on a CPU; a linear output because the
    # detector standardises the data (values are not bounded to [-1, 1]).
    params.setdefault("activation", "linear")
    return LSTMAutoencoderAnomaly(
        latent_dim=latent_dim, lstm_units=lstm_units, n_features=n_features, **params
    )


def _conv_autoencoder(window, n_features, filters=(32, 16), latent_channels=8, **params):
    params.setdefault("activation", "linear")
    return ConvAutoencoderAnomaly(
        filters=filters,
        latent_channels=latent_channels,
        n_features=n_features,
        **params,
    )


def _liquid(cell_type):
    def factory(window, n_features, hidden_size=16, num_layers=1, backbone_units=32,
                backbone_layers=1, ode_unfolds=3, **params):
        # Small defaults: liquid cells run step by step and cost more per
        # step than an LSTM on a CPU.
        return LiquidAutoencoderAnomaly(
            hidden_size=hidden_size, n_features=n_features, cell_type=cell_type,
            num_layers=num_layers, backbone_units=backbone_units,
            backbone_layers=backbone_layers, ode_unfolds=ode_unfolds, **params,
        )

    factory.__name__ = f"_{cell_type}_autoencoder"
    return factory


def time_aware(model) -> bool:
    """Whether ``model`` takes ``[windows, time_deltas]`` rather than windows.

    Read from the model's ``takes_time_delta`` attribute: True for
    :class:`~fusionlab.nn.anomaly_detection.LiquidAutoencoderAnomaly` (so for
    the ``'cfc'`` and ``'ltc'`` models), and for any model of yours that sets
    ``takes_time_delta = True`` and accepts ``[windows, deltas]``.
    """
    return bool(getattr(model, "takes_time_delta", False))


def make_model(spec, window: int, n_features: int, params=None):
    """A fresh model for windows ``(window, n_features)`` and its forecast horizon.

    Parameters
    ----------
    spec : str or keras.Model
        A registered name (built by :func:`build_model` with ``params``), or a
        model used as a template: it is cloned with fresh weights
        (``keras.models.clone_model``) and probed with one window.
    window, n_features : int
    params : dict, optional
        Keyword arguments of the registered factory.

    Returns
    -------
    model : keras.Model
    horizon : int
        0 for a reconstruction model (output shaped like its input), ``h``
        for a forecast of the next ``h`` points (output ``(batch, h,
        n_features)``, or ``(batch, n_features)`` for ``h = 1``).

    Raises
    ------
    TypeError
        When a template cannot be cloned.
    ValueError
        When its output is neither a reconstruction nor a forecast.
    """
    if isinstance(spec, str):
        return build_model(spec, window, n_features, **dict(params or {})), 0
    try:
        model = keras.models.clone_model(spec)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot clone"
        raise TypeError(
            f"Could not clone the model {type(spec).__name__} ({exc}). "
            "Give a Functional/Sequential model or register the subclass with "
            "keras.saving.register_keras_serializable and implement get_config."
        ) from exc
    return model, model_horizon(model, window, n_features)


def model_horizon(model, window: int, n_features: int) -> int:
    """Run ``model`` on one window of zeros: 0 for a reconstruction, ``h`` for a forecast.

    A time-aware model (:func:`time_aware`) gets deltas of 1.

    Raises
    ------
    ValueError
        When the model fails on such a window, or its output is neither a
        reconstruction ``(batch, window, n_features)`` nor a forecast
        ``(batch, h, n_features)`` / ``(batch, n_features)``.
    """
    probe = np.zeros((1, window, n_features), dtype=np.float32)
    inputs = [probe, np.ones((1, window, 1), dtype=np.float32)] if time_aware(model) else probe
    try:
        output = tuple(np.shape(keras.ops.convert_to_numpy(model(inputs))))
    except Exception as exc:  # noqa: BLE001 - a model rejects a shape in many ways
        raise ValueError(
            f"The model fails on windows of shape (batch, {window}, {n_features}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if output == probe.shape:
        return 0
    if len(output) == 2 and output == (1, n_features):
        return 1
    if len(output) == 3 and output[0] == 1 and output[2] == n_features:
        return int(output[1])
    raise ValueError(
        f"The model maps windows of shape (batch, {window}, {n_features}) to "
        f"shape {('batch',) + output[1:]}; expected a reconstruction (batch, "
        f"{window}, {n_features}) or a forecast (batch, h, {n_features}) / "
        f"(batch, {n_features})."
    )


def model_name(spec) -> str:
    """The registered name, or the class name of a model template."""
    return spec if isinstance(spec, str) else type(spec).__name__


def model_id(model, name: str) -> str:
    """``'<name>-<12 hex digits>'``: the name and a hash of the model's weights."""
    digest = hashlib.sha1()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return f"{name}-{digest.hexdigest()[:12]}"


register_model("lstm_autoencoder", _lstm_autoencoder)
register_model("conv_autoencoder", _conv_autoencoder)
register_model("cfc", _liquid("cfc"))
register_model("ltc", _liquid("ltc"))
