"""The folder a :class:`~fusionlab.tabular.TabularAnomalyDetector` is saved in.

Layout (format 4)::

    detector.json                        parameters and learned values (JSON)
    isolation_forest.<token>.npz         the trees as arrays, or
    autoencoder.<token>.keras            the Keras model
    training_scores.<token>.npy          the training scores

``detector.json`` names the other files in its ``files`` field; ``<token>``
is drawn afresh at every save. A save writes the new model and score files
under their new names, then writes ``detector.json`` to a temporary file and
renames it over the old one (:func:`os.replace`, atomic), and only then
removes the previous save's files. So at every moment the folder's
``detector.json`` names files that exist and belong to it: a save that fails
or is killed half-way leaves the previous detector loadable (and at most a
stray file of the failed save, removed by the next one).

Reading is bounded: ``detector.json`` beyond :data:`MAX_CONFIG_BYTES`, or a
model file that would expand beyond :data:`MAX_MODEL_BYTES`, is refused
before it is parsed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

from .._validation import check_positive_int
from . import _stored

__all__ = ["CONFIG_FILE", "MAX_CONFIG_BYTES", "MAX_MODEL_BYTES", "owned_files",
           "read_config", "saved_file", "write_folder"]

CONFIG_FILE = "detector.json"
#: Largest ``detector.json`` read, in bytes (the counts of a high-cardinality
#: column take a few MB; 1 GB of JSON takes several GB of memory to parse).
MAX_CONFIG_BYTES = 64 * 2**20
#: Largest uncompressed size of a saved model file read, in bytes (200 trees
#: grown on 16 384 rows take about 300 MB).
MAX_MODEL_BYTES = 2**30
_TOKEN = "[0-9a-f]{16}"
# Every file a save writes, under the names of this format and of the older
# ones (fixed names, and the pickled forest of formats 1 to 3, which is
# never read but is removed by a new save).
_OWNED = re.compile(
    rf"^(detector\.json|\.detector\.json\.{_TOKEN}\.tmp"
    rf"|autoencoder(\.{_TOKEN})?\.keras|isolation_forest(\.{_TOKEN})?\.npz"
    rf"|isolation_forest\.joblib|training_scores(\.{_TOKEN})?\.npy)$")


def owned_files(directory):
    """The files of ``directory`` that a save writes (of any format), sorted."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if _OWNED.match(p.name))


def _fsync(path):
    # Durable before the rename that makes it part of the save; some
    # systems (Windows) cannot open a directory, which only loses that.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_folder(directory, config, files):
    """Write a save into ``directory`` atomically (see the module).

    Parameters
    ----------
    directory : path-like
        The folder (created if needed).
    config : dict
        The content of ``detector.json``; its ``files`` field is added here.
    files : dict
        ``{key: (stem, suffix, write)}``: each file is written by
        ``write(path)`` to ``<stem>.<token><suffix>``.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    ValueError
        If ``config`` cannot be written as JSON (such as ``NaN``): nothing
        is written then, not even the folder.

    Examples
    --------
    >>> from pathlib import Path
    >>> from fusionlab.tabular.save_folder import read_config, write_folder
    >>> def write(path):
    ...     Path(path).write_text("scores")
    >>> folder = write_folder("saved", {"format": "demo"},
    ...                       {"training_scores": ("training_scores", ".npy", write)})
    >>> _, config = read_config(folder)
    >>> config["format"], config["files"]["training_scores"].startswith("training_scores.")
    ('demo', True)
    >>> folder = write_folder("saved", {"format": "again"},
    ...                       {"training_scores": ("training_scores", ".npy", write)})
    >>> len(list(folder.glob("training_scores.*")))  # the previous save's file is gone
    1
    """
    path = Path(directory)
    token = secrets.token_hex(8)
    names = {key: f"{stem}.{token}{suffix}" for key, (stem, suffix, _) in files.items()}
    # Serialised first: a value JSON cannot hold must fail before any write.
    text = json.dumps({**config, "files": names}, indent=1, allow_nan=False)
    path.mkdir(parents=True, exist_ok=True)
    temporary = path / f".{CONFIG_FILE}.{token}.tmp"
    written = []
    try:
        for key, (_, _, write) in files.items():
            target = path / names[key]
            written.append(target)
            write(target)
            _fsync(target)
        written.append(temporary)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path / CONFIG_FILE)
    except BaseException:
        # The old detector.json and its files were not touched.
        for file in written:
            file.unlink(missing_ok=True)
        raise
    _fsync(path)
    keep = {CONFIG_FILE, *names.values()}
    for file in owned_files(path):
        if file.name not in keep:
            file.unlink(missing_ok=True)
    return path


def read_config(directory, *, max_bytes=None):
    """Read ``detector.json`` of ``directory``, within the size limit.

    Returns
    -------
    config_file : pathlib.Path
    config : dict

    Raises
    ------
    FileNotFoundError
        If there is no ``detector.json``.
    ValueError
        If it is larger than ``max_bytes`` (default :data:`MAX_CONFIG_BYTES`),
        not UTF-8 JSON, or not a JSON object.
    """
    config_file = Path(directory) / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(
            f"`directory` must hold a detector saved by TabularAnomalyDetector.save; "
            f"{config_file} does not exist.")
    limit = MAX_CONFIG_BYTES if max_bytes is None else check_positive_int(
        max_bytes, "max_config_bytes")
    raw = _stored.read_text_limited(config_file, max_bytes=limit, what=str(config_file))
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{config_file} must hold a JSON object; found "
                         f"{type(config).__name__}.")
    return config_file, config


def saved_file(directory, config, config_file, key, stem, suffix):
    """The path of file ``key`` named in ``config['files']``, checked.

    The name must be one a save writes (``<stem>.<token><suffix>``, no
    folder part) and the file must exist.
    """
    files = _stored.field(config, "files", str(config_file))
    name = _stored.field(files, key, f"{config_file}: field 'files'")
    if not isinstance(name, str) or not re.fullmatch(
            rf"{re.escape(stem)}\.{_TOKEN}{re.escape(suffix)}", name):
        _stored.fail(f"{config_file}: field 'files.{key}'",
                     f"a file name {stem}.<16 hex digits>{suffix}", name)
    path = Path(directory) / name
    if not path.is_file():
        raise ValueError(f"{path} is missing: the save is incomplete (named by "
                         f"{config_file}, field 'files.{key}').")
    return path
