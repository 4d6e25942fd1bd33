"""Keras 3 layers, models and utilities of fusionlab."""

from .forecaster import AnomalyAwareForecaster

__all__ = ["AnomalyAwareForecaster"]
