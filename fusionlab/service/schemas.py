"""Request bodies and checked parameters (pydantic), and the checks of query values.

Every value a client sends is validated here or by FastAPI against these
models; a bad one gets a 4xx answer whose ``detail`` names the parameter,
what was expected and what was received (see :func:`bad_request`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "THEMES",
    "EXPORT_FORMATS",
    "bad_request",
    "parse_choices",
    "parse_time",
    "encode_cursor",
    "decode_cursor",
    "FilterBody",
    "ThemeBody",
    "LayoutBody",
    "CompareBody",
    "ExportCorrelationBody",
    "ExportBody",
    "TableParams",
    "DetectorParams",
    "DatasetParams",
    "check_filename",
    "AnomalyFilters",
    "ListingParams",
    "read_query",
    "query_parameters",
    "INVALID_QUERY",
]

#: The dashboard's colour schemes (``VisualizationTheme``).
THEMES = ("thermal", "plasma", "holographic", "contour")
#: Formats of ``/api/anomalies/export``.
EXPORT_FORMATS = ("csv", "json", "parquet")
#: Metrics ``/api/compare`` can compute.
COMPARE_METRICS = ("counts", "scores", "timings", "vus_pr", "auc_pr", "f1")
#: Largest integer the databases store (a larger one is refused, not overflowed).
INT64_MAX = 2**63 - 1
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def bad_request(detail: str, status: int = 422) -> HTTPException:
    """An :class:`HTTPException` with ``detail`` (422 by default)."""
    return HTTPException(status, detail)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnomalyFilters(BaseModel):
    """The filters of the anomaly listing, as they arrive in the query string.

    Read by :func:`read_query` from the request itself: the listing is the
    service's busiest route, and FastAPI's resolution of separate query
    parameters cost about a fifth of its CPU per request. Other parameters
    of the query string are left to the route.
    """

    model_config = ConfigDict(extra="ignore")

    severity: str | None = Field(None, description="severities, comma-separated")
    min_severity: str | None = Field(None, description="this severity or worse")
    anomaly_type: str | None = Field(None, description="types, comma-separated")
    model_id: str | None = Field(None, max_length=400, description="model ids, comma-separated")
    series_id: str | None = Field(None, max_length=200)
    dataset_id: str | None = Field(None, max_length=40)
    start: str | None = Field(None, description="epoch ms or ISO 8601 (peak time >= start)")
    end: str | None = Field(None, description="epoch ms or ISO 8601 (peak time <= end)")
    since_seq: int | None = Field(None, ge=0, le=INT64_MAX,
                                  description="only records with seq > since_seq, in seq order")


class ListingParams(AnomalyFilters):
    """The filters, the page size and the cursor of ``GET /api/anomalies``."""

    limit: int = Field(100, ge=1, description="records per page (at most the server's "
                                              "max_page)")
    cursor: str | None = Field(None, max_length=400,
                               description="next_cursor of the last page")


def read_query(model: type[BaseModel], request) -> BaseModel:
    """``model`` validated from the request's query string.

    Raises
    ------
    fastapi.exceptions.RequestValidationError
        As FastAPI raises for a bad query parameter (a 422 naming it).
    """
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]) from None


def query_parameters(model: type[BaseModel]) -> dict:
    """``openapi_extra`` documenting the (flat) fields of ``model`` as query
    parameters."""
    schema = model.model_json_schema()
    parameters = []
    for name, field in schema["properties"].items():
        parameter = {"name": name, "in": "query", "required": False, "schema": field}
        if "description" in field:
            parameter["description"] = field["description"]
        parameters.append(parameter)
    return {"parameters": parameters}


#: OpenAPI's 422 answer of a route that reads its query with :func:`read_query`
#: alone (FastAPI adds it to routes with parameters of their own).
INVALID_QUERY = {422: {"description": "A query parameter is invalid (`detail` names it)",
                       "content": {"application/json": {"schema": {
                           "type": "object", "properties": {"detail": {"type": "string"}}}}}}}


def parse_choices(value: str | None, name: str, choices) -> list[str] | None:
    """A comma-separated list of allowed words, or None.

    Raises
    ------
    HTTPException
        422 naming the unknown words and the allowed ones.
    """
    if value is None or value == "":
        return None
    words = [w.strip() for w in value.split(",") if w.strip()]
    unknown = [w for w in words if w not in choices]
    if unknown or not words:
        raise bad_request(f"`{name}` must be one or more of {list(choices)} separated by "
                          f"commas; received {value!r}.")
    return words


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch milliseconds from ``value``: an integer (already ms) or ISO 8601
    text (a time without zone is UTC).

    Raises
    ------
    HTTPException
        422 for anything else.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        number = int(text)
        if abs(number) > INT64_MAX:
            raise bad_request(f"`{name}` is out of range (at most {INT64_MAX} in absolute "
                              f"value); received {value[:40]!r}.")
        return number
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"`{name}` must be epoch milliseconds or an ISO 8601 time "
                          f"such as 2024-01-31T12:00:00Z; received {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def encode_cursor(data: dict) -> str:
    """An opaque cursor (URL-safe base64 of JSON)."""
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, keys: tuple[str, ...]) -> dict:
    """The content of a cursor made by :func:`encode_cursor`.

    Raises
    ------
    HTTPException
        400 when it is not one (edited, truncated, from another listing).
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(data, dict) or set(data) != set(keys):
            raise ValueError
        if not all(isinstance(data[k], int) and not isinstance(data[k], bool)
                   and abs(data[k]) <= INT64_MAX for k in keys):
            raise ValueError
    except (ValueError, UnicodeError, binascii.Error):
        raise bad_request(f"`cursor` is malformed ({cursor[:40]!r}): pass the `next_cursor` "
                          "of a previous page, unchanged, with the same ordering.",
                          400) from None
    return data


def check_filename(name: str, suffixes=None) -> str:
    """A bare file name: letters, digits, ``.``, ``_``, ``-``; no folder, no ``..``.

    Raises
    ------
    HTTPException
        400 for a path, a hidden or an oddly named file, or a wrong suffix.
    """
    if not isinstance(name, str) or not _FILENAME.fullmatch(name) or ".." in name:
        raise bad_request(f"`filename` must be a plain file name (letters, digits, '.', "
                          f"'_', '-'; no folder, no '..'); received {name!r}.", 400)
    if suffixes is not None and not name.lower().endswith(tuple(suffixes)):
        raise bad_request(f"`filename` must end with one of {list(suffixes)}; received "
                          f"{name!r}.", 400)
    return name


def _pair(value, name, *, integer=False):
    if value is None:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) or
                   (isinstance(v, float) and not math.isfinite(v)) for v in value)):
        raise ValueError(f"`{name}` must be a pair [low, high] of numbers; received {value!r}.")
    low, high = value
    if low > high:
        raise ValueError(f"`{name}` must have low <= high; received {value!r}.")
    if integer and not all(float(v).is_integer() for v in value):
        raise ValueError(f"`{name}` must be a pair of integers; received {value!r}.")
    if integer and any(abs(v) > INT64_MAX for v in value):
        raise ValueError(f"`{name}` is out of range; received {value!r}.")
    return [int(v) for v in value] if integer else [float(v) for v in value]


class SpatialBounds(_Strict):
    """Ranges of feature index and time (point) index, both inclusive."""

    features: list | None = None
    time: list | None = None

    @field_validator("features", "time")
    @classmethod
    def _pairs(cls, value, info):
        return _pair(value, f"spatial_bounds.{info.field_name}", integer=True)


class FilterBody(_Strict):
    """``POST /api/filter``: what the caller's listings show (``{}`` clears)."""

    model_ids: list[str] | None = Field(None, max_length=100)
    layer_ids: list[str] | None = Field(None, max_length=1000)
    intensity_range: list | None = None
    spatial_bounds: SpatialBounds | None = None
    time_range: list | None = None

    @field_validator("intensity_range")
    @classmethod
    def _intensity(cls, value):
        return _pair(value, "intensity_range")

    @field_validator("time_range")
    @classmethod
    def _time(cls, value):
        if value is None:
            return None
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"`time_range` must be [start, end]; received {value!r}.")
        out = []
        for v in value:
            if isinstance(v, bool):
                raise ValueError(f"`time_range` values must be ms or ISO text; got {v!r}.")
            try:
                out.append(parse_time(str(v), "time_range") if v is not None else None)
            except HTTPException as exc:
                raise ValueError(exc.detail) from None
        if None not in out and out[0] > out[1]:
            raise ValueError(f"`time_range` must have start <= end; received {value!r}.")
        return out


class ThemeBody(_Strict):
    """``POST /api/theme``."""

    theme: Literal["thermal", "plasma", "holographic", "contour"]


class LayoutBody(_Strict):
    """``POST /api/layout``: the dashboard's panels (any JSON object, <= 64 kB)."""

    layout: dict[str, Any]

    @field_validator("layout")
    @classmethod
    def _size(cls, value):
        if len(json.dumps(value)) > 65536:
            raise ValueError("`layout` must be at most 64 kB of JSON.")
        return value


class CompareBody(_Strict):
    """``POST /api/compare``."""

    model_ids: list[str] = Field(..., min_length=1, max_length=20)
    metrics: list[Literal["counts", "scores", "timings", "vus_pr", "auc_pr", "f1"]] | None = None
    dataset_id: str | None = None


class ExportCorrelationBody(_Strict):
    """``POST /api/export/correlation``: a file written in the export folder."""

    filename: str
    format: Literal["csv", "json"] = "csv"
    model_ids: list[str] | None = Field(None, max_length=20)
    layer_ids: list[str] | None = None


class ExportBody(_Strict):
    """``POST /api/export``: a snapshot of the analyses for ``export_all``."""

    model_ids: list[str] | None = Field(None, max_length=20)


class TableParams(_Strict):
    """Parameters of the tabular detector for a dataset scan."""

    method: Literal["autoencoder", "isolation_forest"] = "isolation_forest"
    threshold_percentile: float = Field(95, ge=50, le=100)
    random_state: int | None = Field(0, ge=0)
    n_estimators: int = Field(200, ge=10, le=2000)
    encoding_dim: int = Field(8, ge=1, le=256)
    epochs: int = Field(20, ge=1, le=500)
    batch_size: int = Field(64, ge=1, le=4096)
    top_features: int = Field(3, ge=1, le=20)


class DetectorParams(_Strict):
    """Parameters of :class:`~fusionlab.detection.AnomalyDetector` for a fit job."""

    model: Literal["lstm_autoencoder", "conv_autoencoder", "cfc", "ltc"] = "lstm_autoencoder"
    window: int | None = Field(None, ge=2, le=1024)
    epochs: int = Field(15, ge=1, le=500)
    batch_size: int = Field(64, ge=1, le=4096)
    contamination: float = Field(0.05, gt=0, le=0.5)
    threshold: Literal["percentile", "contamination", "mean_std", "spot", "dynamic"] = "percentile"
    robust: bool = True
    random_state: int | None = Field(0, ge=0)
    impute: Literal["linear", "ffill"] | None = None
    #: 'model' (the model's window), 'window' (the scorers' window), a
    #: fraction of the training series in [0, 0.5], or None (raw scores).
    smoothing: Literal["model", "window"] | Annotated[float, Field(ge=0, le=0.5)] | None = "model"
    learning_rate: float = Field(1e-3, gt=0, le=1)
    validation_split: float = Field(0.1, ge=0, lt=0.5)

    @field_validator("smoothing", mode="before")
    @classmethod
    def _smoothing(cls, value):
        if value is None or value in ("model", "window"):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool) and (
                0 <= value <= 0.5):
            return float(value)
        raise ValueError("must be 'model', 'window', a number in [0, 0.5] (a fraction of the "
                         "series) or null")


class DatasetParams(_Strict):
    """Form fields of an upload (``/api/datasets/upload``, ``/api/models``)."""

    sheet_name: str | int = 0
    model_id: str | None = None
    series_id: str | None = Field(None, min_length=1, max_length=200)
    time_column: str | None = None
    label_column: str | None = None
    columns: list[str] | None = Field(None, min_length=1, max_length=10_000)
    name: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _distinct(self):
        if self.time_column is not None and self.time_column == self.label_column:
            raise ValueError("`time_column` and `label_column` must differ.")
        return self
