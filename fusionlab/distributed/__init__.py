"""Many series, many processes, a cluster.

- :func:`score_many` -- one shared detector scores many series; the windows
  of many series share each model call;
- :func:`fit_many` -- one detector per series, fitted in parallel worker
  processes or on a Dask cluster (``backend='dask'``, the ``dask`` extra);
- :class:`ManyResult` -- results keyed by series id, failures apart;
- :func:`data_parallel` -- train on several devices (TensorFlow's
  ``MirroredStrategy``, JAX's ``keras.distribution.DataParallel``).

Names are imported on first use.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "score_many": "many",
    "fit_many": "many",
    "ManyResult": "results",
    "SeriesFailure": "results",
    "ManySeriesError": "results",
    "as_series_map": "series",
    "data_parallel": "devices",
    "replica_count": "devices",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
