"""Composable Keras 3 components for time-series anomaly detection.

- :class:`ReconstructionAutoencoder` -- the base class of the three
  autoencoders below: one error method,
  :meth:`~ReconstructionAutoencoder.reconstruction_error`, and the
  ``takes_time_delta`` flag.
- :class:`ConvAutoencoderAnomaly` -- a 1D convolutional autoencoder, same
  contract, much faster on CPU.
- :class:`LSTMAutoencoderAnomaly` -- a model whose reconstruction error scores
  windows (unsupervised, trained on normal data).
- :class:`SequenceAnomalyScoreLayer` -- an MLP head that scores learned features.
- :class:`PredictionErrorAnomalyScore` -- scores sequences by forecast error.
- :class:`LiquidAutoencoderAnomaly` -- a CfC / LTC autoencoder for irregularly
  sampled sequences (the cells and layers come from :mod:`fusionlab.nn.liquid`
  and are re-exported here).
"""

from ..liquid import LTC, CfC, CfCCell, LTCCell
from .base import ReconstructionAutoencoder, weighted_reconstruction_error
from .conv_autoencoder import ConvAutoencoderAnomaly
from .liquid_autoencoder import LiquidAutoencoderAnomaly
from .lstm_autoencoder import LSTMAutoencoderAnomaly
from .prediction_error import PredictionErrorAnomalyScore
from .sequence_score import SequenceAnomalyScoreLayer

__all__ = [
    "CfC",
    "CfCCell",
    "ConvAutoencoderAnomaly",
    "LTC",
    "LTCCell",
    "LiquidAutoencoderAnomaly",
    "LSTMAutoencoderAnomaly",
    "PredictionErrorAnomalyScore",
    "ReconstructionAutoencoder",
    "SequenceAnomalyScoreLayer",
    "weighted_reconstruction_error",
]
