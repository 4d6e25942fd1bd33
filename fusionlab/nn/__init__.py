"""Keras 3 layers, models and utilities of fusionlab.

Submodules are imported on first use, so ``fusionlab.nn.utils`` (numpy and
pandas only) does not start a Keras backend.
"""

import importlib

__all__ = ["AnomalyAwareForecaster"]


def __getattr__(name):
    if name == "AnomalyAwareForecaster":
        return importlib.import_module(".forecaster", __name__).AnomalyAwareForecaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
