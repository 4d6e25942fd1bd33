"""Receiving uploaded files safely.

- The request body is counted as it arrives and refused (413) past
  ``max_upload_bytes``, before it is all read (:func:`read_upload`).
- The file is stored under the data folder by a fresh id, never by the
  uploaded name (which is kept only as text).
- Its content must match its suffix (a zip for ``.xlsx`` and archives,
  ``PAR1`` for Parquet, text for CSV), and a zip's members' declared sizes
  (the uncompressed size and each member's ratio) are checked before anything
  opens it (:func:`check_zip`), so a zip bomb is refused unopened.
- The rows are counted without parsing the table (:func:`count_rows`: the
  CSV's lines, the sheet's ``dimension``, Parquet's metadata), so an upload
  over ``max_rows`` is refused at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile
from pathlib import Path

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

__all__ = ["TooLarge", "read_upload", "check_zip", "count_rows", "table_format",
           "TABLE_SUFFIXES"]

#: Suffix -> stored format of a table or series upload.
TABLE_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet",
                  ".pq": "parquet"}
_CHUNK = 1 << 20


class TooLarge(Exception):
    """The request body passed the upload limit."""


def _limited(receive, limit: int):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(seen)
        return message

    return wrapped


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The upload is larger than the server's limit of "
                              f"{limit} bytes ({limit / 2**20:.0f} MiB).")


async def read_upload(request: Request, limit: int, file_fields=("file",)):
    """Parse a multipart upload, refusing a body over ``limit`` bytes.

    Returns
    -------
    files : dict
        Field name -> :class:`~starlette.datastructures.UploadFile`.
    fields : dict
        The other (text) fields.

    Raises
    ------
    HTTPException
        413 past the limit, 400 for a body that is not multipart form data.
    """
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise HTTPException(400, "The upload must be multipart/form-data with the file in "
                                 f"the field {file_fields[0]!r}; received Content-Type "
                                 f"{content_type or 'none'!r}.")
    limited = Request(request.scope, _limited(request.receive, limit))
    try:
        form = await limited.form(max_files=len(file_fields), max_fields=50,
                                  max_part_size=1024 * 1024)
    except TooLarge:
        raise _too_large(limit) from None
    except HTTPException:
        raise
    except Exception as exc:  # the multipart parser's own errors
        raise HTTPException(400, f"The multipart body could not be read: {exc}") from None
    files, fields = {}, {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key not in file_fields:
                raise HTTPException(400, f"Unexpected file field {key!r}; expected "
                                         f"{list(file_fields)}.")
            files[key] = value
        else:
            fields[key] = value
    return files, fields


async def store_upload(upload: UploadFile, target: Path, limit: int) -> int:
    """Copy an uploaded file to ``target``; return its size."""
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with open(tmp, "wb") as out:
            while True:
                chunk = await upload.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                out.write(chunk)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    if size == 0:
        with contextlib.suppress(OSError):
            target.unlink()
        raise HTTPException(400, "The uploaded file is empty.")
    return size


def table_format(filename: str | None) -> str:
    """The stored format of an upload from its name's suffix.

    Raises
    ------
    HTTPException
        415 for another suffix.
    """
    suffix = Path(filename or "").suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise HTTPException(415, f"The file must be one of {sorted(TABLE_SUFFIXES)}; "
                                 f"received {filename!r}.")
    return TABLE_SUFFIXES[suffix]


def check_zip(path: Path, max_total: int, max_ratio: float, what: str = "file") -> list[str]:
    """Check a zip's declared member sizes before anything opens it; return
    the member names.

    Raises
    ------
    HTTPException
        400 when it is not a zip; 413 when it would expand past ``max_total``
        bytes or a member's ratio passes ``max_ratio`` (a zip bomb).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise HTTPException(400, f"The {what} is not a valid zip archive (an .xlsx workbook "
                                 "and a detector archive are zip files).") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > 10_000:
            raise HTTPException(413, f"The {what} holds {len(infos)} files; at most 10000 "
                                     "are accepted.")
        total = 0
        for info in infos:
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > max_ratio:
                raise HTTPException(413, f"The {what} looks like a zip bomb: its member "
                                         f"{info.filename!r} expands {ratio:.0f} times (at "
                                         f"most {max_ratio:.0f} accepted).")
        if total > max_total:
            raise HTTPException(413, f"The {what} expands to {total} bytes, more than the "
                                     f"server's limit of {max_total} bytes.")
        return [info.filename for info in infos]


_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')


def _sheet_rows(path: Path) -> int | None:
    """Rows of the first sheet of an .xlsx, from its ``dimension`` element."""
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist()
                       if n.startswith("xl/worksheets/") and n.endswith(".xml"))
        best = None
        for name in names:
            with archive.open(name) as handle:
                head = handle.read(4096)
            match = _DIMENSION.search(head)
            if match is not None:
                rows = int(match.group(1) or 1) - 1  # less the header row
                best = rows if best is None else max(best, rows)
        return best


def count_rows(path: Path, fmt: str) -> int | None:
    """Data rows of a stored table, without parsing it (None when unknown).

    Raises
    ------
    HTTPException
        400 when the content does not match the format.
    """
    if fmt == "parquet":
        with open(path, "rb") as handle:
            if handle.read(4) != b"PAR1":
                raise HTTPException(400, "The file is not a Parquet file (no PAR1 magic).")
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:
            raise HTTPException(400, f"The Parquet file could not be read: {exc}") from None
    if fmt == "xlsx":
        return _sheet_rows(path)
    with open(path, "rb") as handle:
        head = handle.read(4096)
        if b"\x00" in head:
            raise HTTPException(400, "The .csv file is not text (it holds NUL bytes).")
        lines = head.count(b"\n")
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)
