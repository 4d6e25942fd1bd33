"""Checks of values read back from files, and reading within size limits.

A saved detector or a spreadsheet may have been cut, edited or crafted. What
is read back from one is checked here before it is used: each check raises a
:class:`ValueError` naming where the value came from (``source``, a file and
a field such as ``detector.json: field 'threshold_'``), what was expected
and what was found. Zip containers (``.xlsx``, ``.npz``, ``.keras``) are
checked from their members' declared uncompressed sizes before anything is
decompressed: Python's :mod:`zipfile` never inflates a member beyond its
declared size (it fails its CRC check instead), so these sizes bound the
memory a read can take.
"""

from __future__ import annotations

import math
import numbers
import zipfile
from pathlib import Path

import numpy as np

__all__ = []  # private helpers of fusionlab.tabular


def at(source, name):
    """How a message names field ``name`` of ``source`` (a file, or None)."""
    return f"{source}: field {name!r}" if source else f"field {name!r}"


def fail(source, expected, value):
    """Raise the ValueError of a stored value that is not what was expected."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise ValueError(f"{source} must be {expected}; found {shown}.")


def field(mapping, key, source, prefix=None):
    """``mapping[key]``, or a ValueError saying that the field is missing.

    ``prefix`` names ``mapping`` itself inside ``source`` (``"preprocessor"``
    for ``preprocessor.clip``).
    """
    name = key if prefix is None else f"{prefix}.{key}"
    if not isinstance(mapping, dict):
        fail(source if prefix is None else at(source, prefix), "a JSON object", mapping)
    if key not in mapping:
        raise ValueError(f"{at(source, name)} is missing.")
    return mapping[key]


def unique_texts(value, source):
    """A non-empty list of distinct strings."""
    return text_list(value, source, unique=True, nonempty=True)


def column_types(value, source, allowed):
    """A non-empty ``{column: type}`` mapping with types in ``allowed``."""
    if (not isinstance(value, dict) or not value
            or not all(v in allowed for v in value.values())):
        fail(source, f"a non-empty JSON object {{column: type}} with types in {allowed}",
             value)
    return dict(value)


def real(value, source, *, low=None, positive=False):
    """A finite real number (not a bool) as ``float``."""
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not math.isfinite(float(value))):
        fail(source, "a finite number", value)
    value = float(value)
    if positive and value <= 0:
        fail(source, "a number > 0", value)
    if low is not None and value < low:
        fail(source, f"a number >= {low}", value)
    return value


def integer(value, source, *, low=0):
    """An integer (not a bool) >= ``low`` as ``int``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        fail(source, f"an integer >= {low}", value)
    return int(value)


def text(value, source):
    if not isinstance(value, str):
        fail(source, "a string", value)
    return value


def text_list(value, source, *, unique=False, nonempty=False):
    """A list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(source, "a list of strings", value)
    if nonempty and not value:
        fail(source, "a non-empty list of strings", value)
    if unique and len(set(value)) != len(value):
        fail(source, "a list of distinct strings", value)
    return list(value)


def text_dict(value, source):
    """A ``{str: str}`` mapping."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        fail(source, "a JSON object of strings", value)
    return dict(value)


def reals(value, source, *, length=None, positive=False, low=None, shape=None):
    """A list (nested for ``shape``) of finite numbers, as a float64 array.

    Only JSON numbers are accepted: not booleans, not numbers written as text.
    """
    if shape is None:
        shape = (length,)
    expected = "an array of shape (" + ", ".join(
        "n" if s is None else str(s) for s in shape) + ") of finite numbers"
    if not isinstance(value, list):
        fail(source, expected, value)
    try:
        cells = np.array(value, dtype=object)
    except ValueError:  # ragged nested lists
        fail(source, expected, value)
    if (cells.ndim != len(shape)
            or any(s is not None and s != n for s, n in zip(shape, cells.shape, strict=True))
            or not all(type(v) in (int, float) for v in cells.ravel())):
        fail(source, expected, value)
    array = cells.astype("float64")
    if not np.isfinite(array).all():
        fail(source, "finite numbers (no NaN or infinity)", value)
    if positive and not (array > 0).all():
        fail(source, "numbers > 0", value)
    if low is not None and not (array >= low).all():
        fail(source, f"numbers >= {low}", value)
    return array


def check_zip_sizes(path, *, max_bytes, what, member_prefix=""):
    """Check a zip file's declared uncompressed sizes; return its ``ZipInfo`` list.

    Parameters
    ----------
    path : path-like
        The zip file.
    max_bytes : int
        Largest total uncompressed size of the members (whose name starts
        with ``member_prefix``).
    what : str
        How the error names the file (``"the workbook x.xlsx"``).

    Raises
    ------
    ValueError
        If the file is not a zip archive, or expands beyond ``max_bytes``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{what} is not a readable zip archive: {exc}") from exc
    total = sum(i.file_size for i in infos if i.filename.startswith(member_prefix))
    if total > max_bytes:
        largest = max(infos, key=lambda i: i.file_size)
        raise ValueError(
            f"{what} would expand to {total:,} bytes when decompressed (its largest "
            f"member, {largest.filename}, to {largest.file_size:,} bytes from "
            f"{largest.compress_size:,}); the limit is {max_bytes:,} bytes. It is "
            "refused before being read, as a decompression bomb would be; if the "
            "file is genuine, raise the limit."
        )
    return infos


def read_text_limited(path, *, max_bytes, what):
    """The UTF-8 text of ``path``, refused beyond ``max_bytes`` before it is read."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{what} holds {size:,} bytes, more than the limit of "
                         f"{max_bytes:,}; it is refused unread.")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)  # the file may grow after stat
    if len(data) > max_bytes:
        raise ValueError(f"{what} holds more than the limit of {max_bytes:,} bytes; "
                         "it is refused.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 text: {exc}") from exc
