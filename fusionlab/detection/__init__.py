"""High-level anomaly detection over fusionlab's Keras models.

Every detector follows one contract (:mod:`~fusionlab.detection.base`):
``fit(X)`` returns the detector, ``score_samples(X)`` gives one score per
point, **higher meaning more anomalous**, ``predict(X)`` flags
``score > threshold_``, ``detect(X)`` lists :class:`Anomaly` records.

Small swappable parts, one module each, data flowing one way:

- :mod:`~fusionlab.detection.inputs` -- input checks, timestamps,
  imputation, scaling, time deltas;
- :mod:`~fusionlab.detection.period` -- window length from the dominant period;
- :mod:`~fusionlab.detection.models` -- built-in models and their registry;
- :mod:`~fusionlab.detection.windowing` -- :class:`WindowDataset`, batches of
  windows cut on the fly;
- :mod:`~fusionlab.detection.training` -- the training schedule and the
  robust second stage;
- :mod:`~fusionlab.detection.scoring` -- window errors to point scores and
  their smoothing;
- :mod:`~fusionlab.detection.thresholds` -- threshold strategies;
- :mod:`~fusionlab.detection.events` -- flagged runs to :class:`Anomaly`
  records, with severity and type;
- :mod:`~fusionlab.detection.records` and :mod:`~fusionlab.detection.export`
  -- the records, their filters, tables and files;
- :mod:`~fusionlab.detection.state` and :mod:`~fusionlab.detection.io` --
  what a fitted detector stores, and the archive that holds it;
- :mod:`~fusionlab.detection.detector` -- :class:`AnomalyDetector`, the
  conductor.

Names are imported on first use, so ``import fusionlab.detection`` does not
start Keras; the model-related ones do.
"""

from .._lazy import lazy_exports

# Public name -> submodule that defines it.
_EXPORTS = {
    "BaseDetector": "base",
    "AnomalyDetector": "detector",
    "load_detector": "detector",
    "save_detector": "detector",
    "ANOMALY_TYPES": "events",
    "SEVERITIES": "events",
    "classify_segment": "events",
    "find_segments": "events",
    "severity_from_ratio": "events",
    "Anomaly": "records",
    "AnomalyList": "records",
    "filter_anomalies": "records",
    "anomalies_to_frame": "export",
    "to_csv": "export",
    "to_json": "export",
    "to_parquet": "export",
    "available_models": "models",
    "build_model": "models",
    "register_model": "models",
    "autocorrelation": "period",
    "choose_window": "period",
    "dominant_period": "period",
    "TqdmProgressBar": "progress",
    "PointErrorAccumulator": "scoring",
    "point_errors": "scoring",
    "smooth_errors": "scoring",
    "BaseThreshold": "thresholds",
    "ContaminationThreshold": "thresholds",
    "DynamicThreshold": "thresholds",
    "MeanStdThreshold": "thresholds",
    "PercentileThreshold": "thresholds",
    "SPOTThreshold": "thresholds",
    "get_threshold": "thresholds",
    "WindowDataset": "windowing",
    "window_starts": "windowing",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
