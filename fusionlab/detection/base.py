"""The contract every fusionlab detector follows.

In the spirit of scikit-learn's estimators and PyOD's ``BaseDetector``:

- ``__init__`` only stores its arguments; every check runs in ``fit`` (so
  ``set_params`` cannot bypass one) and ``get_params`` / ``clone`` work;
- ``fit(X, y=None)`` learns and returns ``self``; learned attributes end in
  ``_``: ``threshold_``, ``training_scores_`` (the scores of the training
  data) and ``labels_`` (their 0/1 flags);
- ``score_samples(X)``: one score per point (or row), **higher means more
  anomalous**; ``decision_function(X)`` is the same scores;
- ``predict(X)``: 1 where ``score > threshold_`` (strictly; see
  :func:`fusionlab.vocabulary.exceeds`), else 0;
- ``detect(X)``: the anomalies as an
  :class:`~fusionlab.detection.AnomalyList` of
  :class:`~fusionlab.detection.Anomaly` records (``to_frame()``,
  ``filter(...)``, ``to_csv``/``to_json``/``to_parquet``);
- ``fit_detect(X)``: ``fit(X).detect(X)``.

Subclasses implement ``fit``, ``score_samples`` and ``detect``, and call
:meth:`BaseDetector._set_training_scores` at the end of ``fit``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..vocabulary import exceeds

__all__ = ["BaseDetector"]


class BaseDetector(BaseEstimator):
    """Base class of :class:`~fusionlab.detection.AnomalyDetector` and
    :class:`~fusionlab.tabular.TabularAnomalyDetector`.

    Extra keyword arguments of ``predict``, ``decision_function`` and
    ``fit_detect`` (such as a series detector's ``timestamps``) are passed
    on to ``score_samples``, ``fit`` and ``detect``.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.base import BaseDetector
    >>> class AbsoluteValue(BaseDetector):
    ...     def __init__(self, limit=2.0):
    ...         self.limit = limit
    ...     def fit(self, X, y=None):
    ...         self._set_training_scores(self.score_samples(X), self.limit)
    ...         return self
    ...     def score_samples(self, X):
    ...         return np.abs(np.asarray(X, dtype=float))
    >>> det = AbsoluteValue().fit([0.5, -3.0, 1.0])
    >>> det.labels_.tolist(), det.predict([2.0, 2.5]).tolist()
    ([0, 1, 0], [0, 1])
    """

    def fit(self, X, y=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def score_samples(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def detect(self, X):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not list anomalies.")

    # -- shared by every detector ---------------------------------------------
    def _set_training_scores(self, scores, threshold):
        """Store ``training_scores_``, ``threshold_`` and ``labels_`` at the end of ``fit``."""
        self.training_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = float(threshold)
        self.labels_ = exceeds(self.training_scores_, self.threshold_).astype(int)

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(X) first."
            )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "threshold_")

    def decision_function(self, X, **kwargs):
        """Same as :meth:`score_samples` (higher means more anomalous, as in PyOD)."""
        return self.score_samples(X, **kwargs)

    def predict(self, X, **kwargs):
        """1 for points whose score exceeds ``threshold_`` (strictly), else 0.

        A pandas Series (named ``'anomaly'``) when ``score_samples`` returns
        one, else an int ndarray.
        """
        self._check_fitted()
        scores = self.score_samples(X, **kwargs)
        flags = exceeds(scores, self.threshold_).astype(int)
        if isinstance(scores, pd.Series):
            return pd.Series(np.asarray(flags), index=scores.index, name="anomaly")
        return np.asarray(flags)

    def fit_detect(self, X, y=None, **kwargs):
        """Fit on ``X`` and return the anomalies of ``X``: ``fit(X).detect(X)``."""
        return self.fit(X, y, **kwargs).detect(X, **kwargs)
