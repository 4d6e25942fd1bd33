"""Detectors for the worker-failure tests of test_distributed (importable by spawned workers)."""

import os

from fusionlab.detection import AnomalyDetector


class DiesOnMarkedSeries(AnomalyDetector):
    """Kills its own process when fitted on a series whose first value is 666.0.

    Stands for a worker that dies (out of memory, a crash in native code).
    """

    def fit(self, X, y=None, timestamps=None):
        first = float(X.iloc[0, 0]) if hasattr(X, "iloc") else float(X[0])
        if first == 666.0:
            os._exit(3)
        return super().fit(X, y, timestamps=timestamps)
