"""The detector archive: one zip file, read and written without pickle.

An archive holds:

- ``config.json`` -- JSON data (the detector's parameters and learned
  values; see :meth:`AnomalyDetector.get_state
  <fusionlab.detection.AnomalyDetector.get_state>`);
- ``model.keras`` -- the Keras model in the native ``.keras`` format;
- ``<name>.npy`` -- arrays (``numpy.save`` without pickle), such as
  ``training_scores.npy``.

This module knows the container, not the detector: :func:`write_archive`
and :func:`read_archive` move a ``(config, model, arrays)`` triple, and
:func:`encode` / :func:`decode` and :func:`scaler_state` /
:func:`scaler_from_state` turn NumPy values and scikit-learn scalers into JSON
data and back (likewise :func:`threshold_state` /
:func:`threshold_from_state` for threshold strategies). Only the scalers ``StandardScaler``, ``MinMaxScaler``,
``RobustScaler`` and ``MaxAbsScaler`` (or none) are stored, and custom Keras
classes must be registered with ``keras.saving.register_keras_serializable``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np
from sklearn import preprocessing

from .thresholds import THRESHOLDS

__all__ = [
    "CONFIG_MEMBER",
    "MODEL_MEMBER",
    "MAX_CONFIG_BYTES",
    "MAX_MEMBER_BYTES",
    "encode",
    "decode",
    "fitted_attributes",
    "scaler_state",
    "scaler_from_state",
    "threshold_state",
    "threshold_from_state",
    "check_serialisable",
    "write_archive",
    "read_archive",
]

CONFIG_MEMBER = "config.json"
MODEL_MEMBER = "model.keras"
#: Most bytes ``config.json`` may expand to (64 MiB).
MAX_CONFIG_BYTES = 64 << 20
#: Most bytes any other member (the model, an array) may expand to (4 GiB).
MAX_MEMBER_BYTES = 4 << 30
_SCALER_CLASSES = ("StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler")


def encode(value):
    """``value`` as JSON data: arrays and tuples tagged, NumPy scalars as Python ones."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot store {value!r} of type {type(value).__name__} as JSON.")


def decode(value):
    """The inverse of :func:`encode`."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def fitted_attributes(obj):
    """The public learned attributes of ``obj`` (names ending in ``_``), encoded."""
    return {
        k: encode(v)
        for k, v in vars(obj).items()
        if k.endswith("_") and not k.startswith("_")
    }


def scaler_state(scaler):
    """JSON data of a fitted scikit-learn scaler (None for no scaler).

    Raises
    ------
    TypeError
        For a scaler other than the four stored ones.
    """
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
        "params": encode(scaler.get_params()),
        "fitted": fitted_attributes(scaler),
    }


def scaler_from_state(state):
    """The fitted scaler described by :func:`scaler_state`'s data."""
    if state is None:
        return None
    if state["class"] not in _SCALER_CLASSES:
        raise ValueError(f"Unknown scaler class {state['class']!r} in the archive.")
    scaler = getattr(preprocessing, state["class"])(**decode(state["params"]))
    for key, value in decode(state["fitted"]).items():
        setattr(scaler, key, value)
    return scaler


def threshold_state(strategy):
    """JSON data of a fitted built-in threshold strategy.

    Raises
    ------
    TypeError
        For a strategy that is not one of :data:`~fusionlab.detection.thresholds.THRESHOLDS`
        (the loader rebuilds the strategy from its registered name).
    """
    if THRESHOLDS.get(strategy.name) is not type(strategy):
        raise TypeError(
            f"Cannot save the threshold strategy {type(strategy).__name__} (name "
            f"{strategy.name!r}): only the built-in strategies {sorted(THRESHOLDS)} "
            "are saved. Refit with one of them, or pickle the detector yourself."
        )
    return {
        "name": strategy.name,
        "config": encode(strategy.get_config()),
        "fitted": fitted_attributes(strategy),
    }


def threshold_from_state(state):
    """The fitted strategy described by :func:`threshold_state`'s data."""
    strategy = THRESHOLDS[state["name"]].from_config(decode(state["config"]))
    for key, value in decode(state["fitted"]).items():
        setattr(strategy, key, value)
    return strategy


def check_serialisable(model):
    """Raise ``TypeError`` unless every layer of ``model`` can be saved without pickle."""
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


def write_archive(path, config, model, arrays):
    """Write ``config`` (JSON data), ``model`` and ``arrays`` to the zip ``path``.

    The archive is written to a temporary file in the same folder and moved
    over ``path`` only once complete (``os.replace``), so an interrupted save
    (a full disk, a kill) never leaves a broken file where a good one was; it
    keeps the permissions of the file it replaces (a new one gets those of
    any new file).

    Parameters
    ----------
    path : str or os.PathLike
    config : dict
    model : keras.Model
    arrays : dict of str to ndarray
        Stored as ``<name>.npy`` members.

    Returns
    -------
    The ``path`` given.
    """
    check_serialisable(model)
    text = json.dumps(config, indent=2)
    folder = Path(path).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, MODEL_MEMBER)
        model.save(model_path)
        handle = tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{Path(path).name}.", suffix=".tmp", delete=False
        )
        try:
            with handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(CONFIG_MEMBER, text)
                archive.write(model_path, MODEL_MEMBER)
                for name, array in arrays.items():
                    buffer = io.BytesIO()
                    np.save(buffer, np.asarray(array), allow_pickle=False)
                    archive.writestr(f"{name}.npy", buffer.getvalue())
            # A temporary file is private (0600): give the archive the mode
            # of the one it replaces, else that of a new file.
            os.chmod(handle.name, _file_mode(path))
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    return path


def _file_mode(path):
    """Permissions of ``path`` if it exists, else those a new file gets (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _where(path):
    """How messages name the archive: its path, quoted (or the object given)."""
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)


def _read_member(archive, name, limit, path):
    """The bytes of member ``name``, refusing more than ``limit`` bytes.

    The declared size is checked before anything is decompressed, and the
    read itself stops past the limit, whatever the header says.
    """
    size = archive.getinfo(name).file_size
    if size > limit:
        raise ValueError(
            f"{_where(path)}: member {name} would expand to {size} bytes, more than the limit "
            f"of {limit} bytes; refusing to read it (a corrupt file or a decompression "
            "bomb). Raise the limit only for an archive you trust."
        )
    try:
        with archive.open(name) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ValueError(f"{_where(path)}: member {name} is corrupt ({exc}).") from exc
    if len(data) > limit:
        raise ValueError(
            f"{_where(path)}: member {name} expands to more than the limit of {limit} bytes; "
            "refusing to read it."
        )
    return data


def _check_nested_zip(data, name, limit, path):
    """A ``.keras`` file is a zip too: check its members' sizes before Keras reads it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as nested:
            total = sum(info.file_size for info in nested.infolist())
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{_where(path)}: member {name} is not a Keras archive ({exc}).") from exc
    if total > limit:
        raise ValueError(
            f"{_where(path)}: member {name} would expand to {total} bytes, more than the limit "
            f"of {limit} bytes; refusing to read it."
        )


def read_archive(path, arrays=(), expected_format=None, *, max_config_bytes=None,
                 max_member_bytes=None):
    """Read an archive written by :func:`write_archive`.

    Every member's size is checked before it is decompressed (against
    :data:`MAX_CONFIG_BYTES` for ``config.json`` and :data:`MAX_MEMBER_BYTES`
    for the others, or the limits given), so a small file that would expand
    to gigabytes is refused at once.

    Parameters
    ----------
    path : str or os.PathLike
    arrays : sequence of str
        Names of the arrays that must be present.
    expected_format : str, optional
        Required value of the config's ``"format"`` key, checked before the
        model is read.
    max_config_bytes, max_member_bytes : int, optional
        Limits of this call (default: the module's).

    Returns
    -------
    config : dict
    model : keras.Model
        Loaded without compiling.
    arrays : dict of str to ndarray
        Every ``.npy`` member.

    Raises
    ------
    ValueError
        When ``path`` is not a zip archive, lacks a member, has another
        format, a member over its limit, a corrupt member (bad CRC or
        compressed data), a config that is not a JSON object, or an array or
        model that cannot be read; the message names the archive and the
        member.
    """
    config_limit = MAX_CONFIG_BYTES if max_config_bytes is None else int(max_config_bytes)
    member_limit = MAX_MEMBER_BYTES if max_member_bytes is None else int(max_member_bytes)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{_where(path)} is not a saved AnomalyDetector (not a zip archive).") from exc
    with archive, tempfile.TemporaryDirectory() as tmp:
        names = set(archive.namelist())
        required = {CONFIG_MEMBER, MODEL_MEMBER} | {f"{name}.npy" for name in arrays}
        missing = required - names
        if missing:
            raise ValueError(f"{_where(path)} is not a saved AnomalyDetector: missing {sorted(missing)}.")
        text = _read_member(archive, CONFIG_MEMBER, config_limit, path)
        try:
            config = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{_where(path)}: member {CONFIG_MEMBER} is not valid JSON ({exc}).") from exc
        if not isinstance(config, dict):
            raise ValueError(f"{_where(path)}: member {CONFIG_MEMBER} must hold a JSON object.")
        if expected_format is not None and config.get("format") != expected_format:
            raise ValueError(
                f"{_where(path)}: unsupported archive format {config.get('format')!r}; "
                f"expected {expected_format!r}."
            )
        model_bytes = _read_member(archive, MODEL_MEMBER, member_limit, path)
        _check_nested_zip(model_bytes, MODEL_MEMBER, member_limit, path)
        model_path = os.path.join(tmp, MODEL_MEMBER)
        with open(model_path, "wb") as handle:
            handle.write(model_bytes)
        try:
            model = keras.saving.load_model(model_path, compile=False)
        except Exception as exc:  # noqa: BLE001 - Keras raises many kinds on bad files
            raise ValueError(
                f"{_where(path)}: member {MODEL_MEMBER} could not be loaded by Keras "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        loaded = {}
        for name in sorted(n for n in names if n.endswith(".npy")):
            data = _read_member(archive, name, member_limit, path)
            try:
                loaded[name[: -len(".npy")]] = np.load(io.BytesIO(data), allow_pickle=False)
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"{_where(path)}: member {name} is not a NumPy array ({exc}).") from exc
    return config, model, loaded
