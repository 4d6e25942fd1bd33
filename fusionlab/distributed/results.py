"""Results of work over many series: values keyed by series id, and the failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = ["SeriesFailure", "ManyResult", "ManySeriesError"]


@dataclass(frozen=True)
class SeriesFailure:
    """Why one series failed.

    Attributes
    ----------
    series_id : object
    stage : str
        ``'input'`` (the series was refused: too short, NaN, another feature
        count...), ``'fit'``, ``'score'`` or ``'worker'`` (the process or
        cluster worker running it died).
    reason : str
        The error, in one line (``Type: message``).
    """

    series_id: object
    stage: str
    reason: str


class ManySeriesError(RuntimeError):
    """Raised by :meth:`ManyResult.raise_if_failed` when some series failed."""


class ManyResult(Mapping):
    """What :func:`~fusionlab.distributed.score_many` / ``fit_many`` return.

    A mapping ``{series_id: value}`` of the series that succeeded (scores,
    or the path of a fitted detector's archive), in the input's order, with
    the failures apart in :attr:`failed`: one bad series never loses the
    others.

    Attributes
    ----------
    failed : dict of series id to SeriesFailure
    seconds : float
        Wall time of the whole call.
    """

    def __init__(self, values, failed, seconds, order=None):
        self._values = dict(values)
        self.failed = dict(failed)
        self.seconds = float(seconds)
        self._order = list(order) if order is not None else list(self._values) + list(self.failed)

    def __getitem__(self, series_id):
        if series_id in self.failed:
            failure = self.failed[series_id]
            raise KeyError(
                f"series {series_id!r} failed at the {failure.stage} stage: {failure.reason}"
            )
        return self._values[series_id]

    def __iter__(self):
        return (key for key in self._order if key in self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return (f"ManyResult({len(self._values)} ok, {len(self.failed)} failed, "
                f"{self.seconds:.2f} s)")

    @property
    def ok(self):
        """Whether every series succeeded."""
        return not self.failed

    def summary(self):
        """One row per series: ``series_id``, ``status`` (ok / failed), ``stage``, ``reason``."""
        rows = []
        for key in self._order:
            failure = self.failed.get(key)
            rows.append({
                "series_id": key,
                "status": "failed" if failure else "ok",
                "stage": failure.stage if failure else None,
                "reason": failure.reason if failure else None,
            })
        return pd.DataFrame(rows, columns=["series_id", "status", "stage", "reason"])

    def raise_if_failed(self):
        """Raise :class:`ManySeriesError` listing the failures, if any; else return self."""
        if self.failed:
            lines = [f"{f.series_id!r} ({f.stage}): {f.reason}" for f in self.failed.values()]
            shown = "; ".join(lines[:10]) + (f"; ... {len(lines) - 10} more" if len(lines) > 10 else "")
            raise ManySeriesError(f"{len(lines)} of {len(self._order)} series failed: {shown}")
        return self
