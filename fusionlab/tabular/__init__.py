"""Anomalous rows in spreadsheets and DataFrames, with the columns to blame.

Modules:

- :mod:`~fusionlab.tabular.column_typing`: automatic column typing;
- :mod:`~fusionlab.tabular.preprocessing`: imputation, encoding, scaling;
- :mod:`~fusionlab.tabular.signals`: domain-free sanity signals in nats
  (range, sign, missing, rarity, relations between columns, pairs);
- :mod:`~fusionlab.tabular.autoencoder`: the dense Keras autoencoder;
- :mod:`~fusionlab.tabular.detector`: :class:`TabularAnomalyDetector`, which
  follows the detector contract of :mod:`fusionlab.detection.base`
  (``fit``, ``score_samples``, ``predict``, ``detect``);
- :mod:`~fusionlab.tabular.excel`: reading files, one-call detection.

:class:`TabularAutoencoder` is imported lazily, so that the isolation-forest
method (and the fallback to it) works where Keras cannot be imported.
"""

from .column_typing import infer_column_types
from .detector import TabularAnomalyDetector
from .excel import detect_anomalies_in_excel, read_table
from .preprocessing import TabularPreprocessor

__all__ = [
    "TabularAnomalyDetector",
    "TabularAutoencoder",
    "TabularPreprocessor",
    "detect_anomalies_in_excel",
    "infer_column_types",
    "read_table",
]


def __getattr__(name):
    if name == "TabularAutoencoder":
        from .autoencoder import TabularAutoencoder

        return TabularAutoencoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
