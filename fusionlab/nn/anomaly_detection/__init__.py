"""Composable Keras 3 components for time-series anomaly detection.

- :class:`LSTMAutoencoderAnomaly` -- a model whose reconstruction error scores
  windows (unsupervised, trained on normal data).
- :class:`SequenceAnomalyScoreLayer` -- an MLP head that scores learned features.
- :class:`PredictionErrorAnomalyScore` -- scores sequences by forecast error.
"""

from .lstm_autoencoder import LSTMAutoencoderAnomaly
from .prediction_error import PredictionErrorAnomalyScore
from .sequence_score import SequenceAnomalyScoreLayer

__all__ = [
    "LSTMAutoencoderAnomaly",
    "PredictionErrorAnomalyScore",
    "SequenceAnomalyScoreLayer",
]
