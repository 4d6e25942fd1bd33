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

import importlib

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


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
