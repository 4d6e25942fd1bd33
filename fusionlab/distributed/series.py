"""Many series given in one argument: a mapping of series, or a long table.

:func:`as_series_map` turns what a user has -- ``{id: frame or array}`` or a
long DataFrame with a series-id column -- into one ordered
``{id: (values, timestamps)}`` mapping, the form every function of
:mod:`fusionlab.distributed` works on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pandas as pd

__all__ = ["as_series_map", "safe_name", "file_names"]


def as_series_map(series, *, id_col=None, time_col=None, value_cols=None):
    """``{series_id: (X, timestamps)}`` from a mapping or a long DataFrame.

    Parameters
    ----------
    series : mapping of id to DataFrame, Series or array-like, or DataFrame
        One entry per series (its rows along time), or a long table holding
        every series, told apart by ``id_col``.
    id_col : str, optional
        Column of series ids; required for a long table, ignored otherwise.
    time_col : str, optional
        Column of timestamps of a long table (its rows are sorted by it
        within each series).
    value_cols : list of str, optional
        Feature columns of a long table (default: every other column).

    Returns
    -------
    dict
        ``{id: (X, timestamps)}`` in the order of first appearance;
        ``timestamps`` is None unless ``time_col`` was given.

    Raises
    ------
    TypeError
        If ``series`` is neither a mapping nor a DataFrame.
    ValueError
        If it is empty, a long table lacks ``id_col`` or a named column.

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.distributed.series import as_series_map
    >>> long = pd.DataFrame({"sensor": ["a", "a", "b"], "t": [2, 1, 1], "v": [5.0, 4.0, 9.0]})
    >>> mapped = as_series_map(long, id_col="sensor", time_col="t")
    >>> {k: (x["v"].tolist(), t.tolist()) for k, (x, t) in mapped.items()}
    {'a': ([4.0, 5.0], [1, 2]), 'b': ([9.0], [1])}
    """
    if isinstance(series, pd.DataFrame):
        return _from_long(series, id_col, time_col, value_cols)
    if isinstance(series, Mapping):
        if not series:
            raise ValueError("`series` is empty; give at least one series.")
        return {key: (value, None) for key, value in series.items()}
    raise TypeError(
        "`series` must be a mapping {series_id: frame or array} or a long DataFrame "
        f"with a series-id column; received {type(series).__name__}."
    )


def _from_long(frame, id_col, time_col, value_cols):
    if id_col is None:
        raise ValueError(
            "`series` is a DataFrame: name its series-id column with `id_col=` (or pass "
            "a mapping {series_id: frame})."
        )
    missing = [c for c in [id_col, time_col, *(value_cols or [])]
               if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"`series` has no column(s) {missing}; columns: {list(frame.columns)}.")
    if frame.empty:
        raise ValueError("`series` is empty; give at least one series.")
    if frame[id_col].isna().any():
        raise ValueError(f"`series` has rows without a series id in column {id_col!r}.")
    columns = list(value_cols) if value_cols else [
        c for c in frame.columns if c not in (id_col, time_col)
    ]
    out = {}
    for key, group in frame.groupby(id_col, sort=False, observed=True):
        if time_col is not None:
            group = group.sort_values(time_col, kind="stable")
            stamps = pd.Index(group[time_col].to_numpy())
        else:
            stamps = None
        out[key] = (group[columns].reset_index(drop=True), stamps)
    return out


def safe_name(series_id) -> str:
    """A file name for ``series_id``.

    Its text when that is already a short, safe name (letters, digits,
    ``-``, ``_``, ``.``); otherwise the text made safe and cut to 80
    characters, with a hash of the id, so that different ids give different
    names (``1`` and ``'1'`` too).

    Examples
    --------
    >>> from fusionlab.distributed.series import safe_name
    >>> safe_name("pump-7"), safe_name("../etc/passwd")
    ('pump-7', 'etc_passwd-e96c47ea')
    """
    text = str(series_id)
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._")
    if isinstance(series_id, str) and clean == text and 0 < len(text) <= 100:
        return clean
    kind = "" if isinstance(series_id, str) else type(series_id).__name__ + ":"
    digest = hashlib.sha1((kind + text).encode("utf-8")).hexdigest()[:8]
    return f"{clean[:80] or 'series'}-{digest}"


def file_names(series_ids):
    """``{series_id: safe_name}`` for the ids of one call, refusing two that would share a file.

    Names are compared without case, as some file systems do.

    Raises
    ------
    ValueError
        Naming the ids whose names collide.
    """
    names, seen = {}, {}
    for series_id in series_ids:
        name = safe_name(series_id)
        other = seen.setdefault(name.lower(), series_id)
        if other is not series_id and other != series_id:
            raise ValueError(
                f"The series ids {other!r} and {series_id!r} would be written to the same "
                f"file ({name}); give them distinct ids."
            )
        names[series_id] = name
    return names
