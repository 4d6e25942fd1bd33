"""The whole state of a streaming detector as JSON data and NumPy arrays, and back.

:func:`snapshot` gives ``(state, arrays)``: ``state`` is JSON data (the
parameters, each series' counters, alerts, drift test and the nested
parameters of its stages), ``arrays`` maps names to NumPy arrays (the
values kept, the partial error sums, the averaging buffers, the open
event, the windows waiting for a model call). Nothing is pickled; with
``include_detector=True`` the detector's own archive (itself free of
pickle) is one more array of bytes. :func:`write_snapshot` /
:func:`read_snapshot` keep them in one zip file (``state.json`` and
``arrays/<name>.npy``), read back with ``allow_pickle=False`` and every
value checked, as a detector archive is.

A background refit in progress is not part of a snapshot.
"""

from __future__ import annotations

import io as _io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .. import __version__
from .alarms import AlarmPolicy, AlertBook
from .drift import PageHinkley
from .pipeline import SeriesPipeline

__all__ = ["FORMAT", "snapshot", "restore", "series_state", "restore_series",
           "write_snapshot", "read_snapshot", "pack_arrays", "unpack_arrays", "check_fingerprint"]

#: ``format`` of the snapshots of :class:`~fusionlab.streaming.StreamingDetector`.
FORMAT = "fusionlab.streaming.StreamingDetector/1"
_DETECTOR = "detector.archive"
#: Largest ``state.json`` and array member read back (bytes).
MAX_MEMBER_BYTES = 512 * 1024 * 1024


def _params(sd):
    return {
        "batch_size": sd.batch_size, "max_delay_ms": sd.max_delay_ms,
        "alarm_policy": sd.alarm_policy.to_dict(), "interim": sd.interim, "top_k": sd.top_k,
        "max_event_length": sd.max_event_length, "max_hold": sd.max_hold,
        "max_series": sd.max_series,
        "drift": sd.drift.params() if sd.drift is not None else None,
        "refit_policy": sd.refit_policy, "refit_every": sd.refit_every,
        "train_window": sd.train_window, "refit_params": sd.refit_params,
    }


def _json_number(value):
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    return value


def series_state(sd, series_id):
    """``(state, arrays)`` of one series of ``sd`` (what :func:`restore_series` takes)."""
    entry = sd._entry(series_id)
    params, arrays = entry.pipeline.get_state()
    state = {"id": entry.series_id, "stamp_kind": entry.stamp_kind, "tz": entry.tz,
             "last_stamp": _json_number(entry.last_stamp), "n_total": entry.n_total,
             "next_alert": entry.next_alert, "since_refit": entry.since_refit,
             "alerts": entry.alerts.get_state(),
             "drift": entry.drift.get_state() if entry.drift is not None else None,
             "model_version": sd.model_version, "model_id": str(sd.detector_.model_id_),
             "detector": sd._spec.fingerprint(), "pipeline": params}
    out = {f"pipeline.{k}": v for k, v in arrays.items()}
    if entry.train is not None:
        p, a = entry.train.get_state()
        state["train"] = p
        out.update({f"train.{k}": v for k, v in a.items()})
        if entry.train_stamps is not None:
            p, a = entry.train_stamps.get_state()
            state["train_stamps"] = p
            out.update({f"train_stamps.{k}": v for k, v in a.items()})
    return state, out


def restore_series(sd, state, arrays):
    """Put back into ``sd`` one series saved by :func:`series_state` (replacing it)."""
    try:
        _restore_series(sd, state, arrays)
    except KeyError as exc:
        raise ValueError(f"the series state lacks {exc}.") from exc
    except TypeError as exc:
        raise ValueError(f"the series state is malformed: {exc}") from exc


def _restore_series(sd, state, arrays):
    check_fingerprint(state["detector"], sd._spec.fingerprint(), f"series {state['id']!r}")
    kind, tz = state["stamp_kind"], state["tz"]
    pipeline = SeriesPipeline.from_state(sd._spec, state["pipeline"], _under(arrays, "pipeline"))
    entry = sd._new_series(str(state["id"]), kind, tz)
    entry.pipeline = pipeline
    last = state["last_stamp"]
    if last is not None:
        last = np.float64(last) if kind == "number" else np.int64(last)
    entry.last_stamp = last
    for key in ("n_total", "next_alert", "since_refit"):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"series state `{key}` must be a non-negative integer; received "
                             f"{value!r}.")
        setattr(entry, key, value)
    entry.alerts = AlertBook()
    entry.alerts.set_state(state["alerts"])
    if entry.drift is not None and state["drift"] is not None:
        entry.drift.set_state(state["drift"])
    if entry.train is not None and "train" in state:
        entry.train.set_state(state["train"], _under(arrays, "train"))
        if entry.train_stamps is not None and "train_stamps" in state:
            entry.train_stamps.set_state(state["train_stamps"], _under(arrays, "train_stamps"))


def check_fingerprint(saved, current, what):
    """ValueError naming what differs between a saved detector's fingerprint and this one's."""
    if not isinstance(saved, dict):
        raise ValueError(f"{what}: the saved detector description is malformed.")
    # Both ways: a key only one side has (a rule added since) differs too.
    differ = [key for key in dict.fromkeys([*current, *saved])
              if saved.get(key) != current.get(key)]
    if differ:
        shown = ", ".join(f"{k} {saved.get(k)!r:.40} vs {current.get(k)!r:.40}"
                          for k in differ[:3])
        raise ValueError(f"{what} was streamed with another detector (model "
                         f"{saved.get('model_id')!r}; differs in {shown}); restore it with the "
                         "detector it was taken with.")


def _under(arrays, prefix):
    prefix += "."
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def snapshot(sd, include_detector=False):
    """``(state, arrays)`` of a :class:`~fusionlab.streaming.StreamingDetector`."""
    state = {"format": FORMAT, "fusionlab_version": __version__,
             "model_id": str(sd.detector_.model_id_), "detector": sd._spec.fingerprint(),
             "model_version": sd.model_version,
             "params": _params(sd), "points_total": sd.points_total, "series": []}
    arrays = {}
    index = {}
    for number, series_id in enumerate(sd._series):
        index[series_id] = number
        s, a = series_state(sd, series_id)
        state["series"].append(s)
        arrays.update({f"s{number}.{k}": v for k, v in a.items()})
    params, a = sd._batcher.get_state(index)
    state["batcher"] = {**params, "calls": sd._batcher.calls}
    arrays.update({f"batcher.{k}": v for k, v in a.items()})
    if include_detector:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "detector.zip"
            sd.detector_.save(path)
            arrays[_DETECTOR] = np.frombuffer(path.read_bytes(), dtype=np.uint8).copy()
    return state, arrays


def restore(cls, state, arrays, detector=None):
    """A ``cls`` streaming detector from :func:`snapshot`'s ``(state, arrays)``.

    Raises
    ------
    ValueError
        For anything but a sound snapshot of a detector of this ``model_id``.
    """
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a snapshot of a StreamingDetector (format {FORMAT!r} expected; "
                         f"received {state.get('format') if isinstance(state, dict) else state!r:.60}).")
    if _DETECTOR in arrays:
        from ..detection import AnomalyDetector

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "detector.zip"
            path.write_bytes(np.asarray(arrays[_DETECTOR], dtype=np.uint8).tobytes())
            detector = AnomalyDetector.load(path)
    if detector is None:
        raise ValueError("the snapshot does not hold its detector: pass `detector` (the one it "
                         "was taken with).")
    if str(detector.model_id_) != state["model_id"]:
        raise ValueError(f"the snapshot was taken with model {state['model_id']!r}; the "
                         f"detector given is {detector.model_id_!r}.")
    try:
        params = dict(state["params"])
        policy = AlarmPolicy(**params.pop("alarm_policy"))
        drift = params.pop("drift")
        sd = cls(detector, alarm_policy=policy,
                 drift=PageHinkley(**drift) if drift is not None else None, **params)
        check_fingerprint(state["detector"], sd._spec.fingerprint(), "the snapshot")
        sd.model_version = int(state["model_version"])
        sd.points_total = int(state["points_total"])
        keys = []
        for number, series in enumerate(state["series"]):
            restore_series(sd, series, _under(arrays, f"s{number}"))
            keys.append(str(series["id"]))
        sd._batcher.set_state(state["batcher"], _under(arrays, "batcher"), keys)
        sd._batcher.calls = int(state["batcher"].get("calls", 0))
    except KeyError as exc:
        raise ValueError(f"the snapshot lacks {exc}.") from exc
    except (TypeError, IndexError) as exc:
        raise ValueError(f"the snapshot is malformed: {exc}") from exc
    return sd


def pack_arrays(arrays):
    """Arrays as the bytes of one ``.npz`` file (no pickle)."""
    buffer = _io.BytesIO()
    np.savez(buffer, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return buffer.getvalue()


def unpack_arrays(data):
    """The arrays of :func:`pack_arrays`' bytes (object arrays refused)."""
    with np.load(_io.BytesIO(data), allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def write_snapshot(path, state, arrays):
    """``state.json`` and ``arrays/<name>.npy`` in a zip at ``path``, replaced atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("state.json", json.dumps(state, allow_nan=False))
            for name, array in arrays.items():
                buffer = _io.BytesIO()
                np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
                archive.writestr(f"arrays/{name}.npy", buffer.getvalue())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_snapshot(path, max_member_bytes=MAX_MEMBER_BYTES):
    """``(state, arrays)`` from a file of :func:`write_snapshot` (ValueError when unsound)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for member in members:
                if member.file_size > max_member_bytes:
                    raise ValueError(f"{path}: member {member.filename!r} expands to "
                                     f"{member.file_size} bytes, over {max_member_bytes}.")
            state = json.loads(archive.read("state.json"))
            arrays = {}
            for member in members:
                name = member.filename
                if name.startswith("arrays/") and name.endswith(".npy"):
                    arrays[name[len("arrays/"):-len(".npy")]] = np.load(
                        _io.BytesIO(archive.read(member)), allow_pickle=False)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise ValueError(f"{path} is not a streaming snapshot: {exc}") from exc
    return state, arrays
