"""Composable Keras 3 components for time-series anomaly detection.

- :class:`ConvAutoencoderAnomaly` -- a 1D convolutional autoencoder, same
  contract, much faster on CPU.
- :class:`LSTMAutoencoderAnomaly` -- a model whose reconstruction error scores
  windows (unsupervised, trained on normal data).
- :class:`SequenceAnomalyScoreLayer` -- an MLP head that scores learned features.
- :class:`PredictionErrorAnomalyScore` -- scores sequences by forecast error.
"""

from .conv_autoencoder import ConvAutoencoderAnomaly
from .lstm_autoencoder import LSTMAutoencoderAnomaly
from .prediction_error import PredictionErrorAnomalyScore
from .sequence_score import SequenceAnomalyScoreLayer

__all__ = [
    "ConvAutoencoderAnomaly",
    "LSTMAutoencoderAnomaly",
    "PredictionErrorAnomalyScore",
    "SequenceAnomalyScoreLayer",
]
