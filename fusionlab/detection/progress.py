"""A tqdm progress bar for Keras training."""

from __future__ import annotations

import keras
from tqdm.auto import tqdm

__all__ = ["TqdmProgressBar"]


class TqdmProgressBar(keras.callbacks.Callback):
    """Show training progress (batches of all epochs) as one tqdm bar.

    The bar's postfix shows the epoch and the last epoch's logs (loss...).

    Parameters
    ----------
    file : file-like, optional
        Where to draw the bar (default: ``sys.stderr``).
    disable : bool, default=False
    desc : str, default='training'

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from fusionlab.detection import AnomalyDetector, TqdmProgressBar
    >>> out = io.StringIO()
    >>> det = AnomalyDetector("conv_autoencoder", window=8, epochs=2,
    ...                       callbacks=[TqdmProgressBar(file=out)])
    >>> det = det.fit(np.sin(np.arange(100) / 3.0))
    >>> "epoch=2/2" in out.getvalue()
    True
    """

    def __init__(self, file=None, disable=False, desc="training"):
        super().__init__()
        self.file = file
        self.disable = disable
        self.desc = desc
        self._bar = None

    def on_train_begin(self, logs=None):
        epochs = self.params.get("epochs") or 1
        steps = self.params.get("steps")
        total = epochs * steps if steps else None
        self._bar = tqdm(total=total, desc=self.desc, file=self.file, disable=self.disable,
                         unit="batch", leave=True, mininterval=0.2)
        self._epochs = epochs

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            post = {"epoch": f"{epoch + 1}/{self._epochs}"}
            post.update({k: f"{float(v):.4g}" for k, v in (logs or {}).items()})
            self._bar.set_postfix(post, refresh=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
