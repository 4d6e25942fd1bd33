"""fusionlab: Keras 3 components and detectors for time-series anomaly detection.

Subpackages are imported on first use (``fusionlab.detection.AnomalyDetector``
works after a plain ``import fusionlab``), so importing the package itself
starts no Keras backend.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "cli",
    "datasets",
    "detection",
    "distributed",
    "metrics",
    "nn",
    "plot",
    "tabular",
    "vocabulary",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
