"""fusionlab: Keras 3 components and detectors for time-series anomaly detection."""

__version__ = "0.1.0"

__all__ = ["__version__"]
