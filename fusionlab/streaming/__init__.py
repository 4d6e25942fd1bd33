"""Online scoring: a fitted detector's scores, events and alerts as points arrive.

:class:`StreamingDetector` wraps a fitted
:class:`~fusionlab.detection.AnomalyDetector` and takes points one by one
or in chunks, from many series at once. Its final scores equal the
detector's ``score_samples`` of the same series and its records those of
``detect``; before a score is final, an interim one raises alerts at once.
One module, one job:

- :mod:`~fusionlab.streaming.stages` -- the incremental counterparts of the
  batch scoring stages (per-point error sums, centred averages, the
  ensemble, the smoothing);
- :mod:`~fusionlab.streaming.inputs` -- checks of the points, timestamps,
  the ``impute`` rule point by point, the values kept;
- :mod:`~fusionlab.streaming.pipeline` -- one series' state, the stages in
  the detector's order;
- :mod:`~fusionlab.streaming.events` -- the open event and the records;
- :mod:`~fusionlab.streaming.batching` -- windows of many series in shared
  model calls;
- :mod:`~fusionlab.streaming.alarms` -- the alarm policy and the alerts;
- :mod:`~fusionlab.streaming.drift` -- the Page-Hinkley test of the scores;
- :mod:`~fusionlab.streaming.support` -- which detectors are followed
  exactly, proved on a probe series;
- :mod:`~fusionlab.streaming.snapshot` -- the whole state as JSON and arrays;
- :mod:`~fusionlab.streaming.detector` -- :class:`StreamingDetector`, the
  conductor.

Names are imported on first use (``import fusionlab.streaming`` does not
start Keras).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "StreamingDetector": "detector",
    "StreamResult": "detector",
    "ScoredPoints": "detector",
    "REFIT_POLICIES": "detector",
    "AlarmPolicy": "alarms",
    "Alert": "alarms",
    "PageHinkley": "drift",
    "DriftEvent": "drift",
    "PointError": "inputs",
    "StreamingUnsupportedError": "support",
    "check_supported": "support",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
