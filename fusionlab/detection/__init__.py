"""High-level anomaly detection over fusionlab's Keras models.

Small swappable parts, one module each:

- :mod:`~fusionlab.detection.models` -- built-in models and their registry;
- :mod:`~fusionlab.detection.windowing` -- :class:`WindowDataset`, batches of
  windows cut on the fly;
- :mod:`~fusionlab.detection.period` -- window length from the dominant period;
- :mod:`~fusionlab.detection.scoring` -- window errors to point scores;
- :mod:`~fusionlab.detection.thresholds` -- threshold strategies;
- :mod:`~fusionlab.detection.events` -- grouping into :class:`Anomaly` records;
- :mod:`~fusionlab.detection.export` -- tables, filters and files;
- :mod:`~fusionlab.detection.io` -- save/load;
- :mod:`~fusionlab.detection.detector` -- :class:`AnomalyDetector`, tying them.
"""

from .detector import AnomalyDetector
from .events import (
    ANOMALY_TYPES,
    SEVERITIES,
    Anomaly,
    AnomalyList,
    classify_segment,
    find_segments,
    severity_from_ratio,
)
from .export import anomalies_to_frame, filter_anomalies, to_csv, to_json, to_parquet
from .io import load_detector, save_detector
from .models import available_models, build_model, register_model
from .period import autocorrelation, choose_window, dominant_period
from .progress import TqdmProgressBar
from .scoring import PointErrorAccumulator, point_errors
from .thresholds import (
    BaseThreshold,
    ContaminationThreshold,
    DynamicThreshold,
    MeanStdThreshold,
    PercentileThreshold,
    SPOTThreshold,
    get_threshold,
)
from .windowing import WindowDataset, window_starts

__all__ = [
    "ANOMALY_TYPES",
    "SEVERITIES",
    "Anomaly",
    "AnomalyDetector",
    "AnomalyList",
    "BaseThreshold",
    "ContaminationThreshold",
    "DynamicThreshold",
    "MeanStdThreshold",
    "PercentileThreshold",
    "PointErrorAccumulator",
    "SPOTThreshold",
    "TqdmProgressBar",
    "WindowDataset",
    "anomalies_to_frame",
    "autocorrelation",
    "available_models",
    "build_model",
    "choose_window",
    "classify_segment",
    "dominant_period",
    "filter_anomalies",
    "find_segments",
    "get_threshold",
    "load_detector",
    "point_errors",
    "register_model",
    "save_detector",
    "severity_from_ratio",
    "to_csv",
    "to_json",
    "to_parquet",
    "window_starts",
]
