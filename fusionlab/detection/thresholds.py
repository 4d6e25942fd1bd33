"""Threshold strategies: turn a score series into a decision threshold.

Every strategy is a small class with ``fit(scores)`` that sets
``threshold_`` and returns ``self``; ``predict(scores)`` flags the points whose
score is *strictly greater* than ``threshold_``. ``get_config`` /
``from_config`` round-trip the parameters through JSON.

A threshold is always finite: the strategies work on scores divided by a
power of two near their maximum (exact, so ordinary scores give the same
bits), so scores up to the float64 limit neither overflow nor lose the tail
fit; a threshold that itself lies beyond the float64 range raises
``ValueError`` rather than returning ``inf`` (which would never flag).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.exceptions import NotFittedError

from .._validation import (
    check_option,
    check_positive_int,
    check_rate,
    check_real,
    check_scores,
)
from ..vocabulary import exceeds

__all__ = [
    "BaseThreshold",
    "PercentileThreshold",
    "ContaminationThreshold",
    "MeanStdThreshold",
    "SPOTThreshold",
    "DynamicThreshold",
    "get_threshold",
    "THRESHOLDS",
]


def _power_of_two_scale(values) -> float:
    """A power of two within a factor 2 of ``max |values|`` (1.0 for zeros).

    Dividing by it is exact, and leaves the largest magnitude in ``[1, 2)``,
    far from overflow when squared or summed.
    """
    peak = float(np.max(np.abs(values)))
    if peak == 0.0:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(peak)[1]) - 1))


class BaseThreshold:
    """Base class: subclasses implement ``_compute(scores) -> float``."""

    #: Name used in :func:`get_threshold` and in saved configs.
    name = None
    _params: tuple = ()
    #: What to change when the threshold would not be finite.
    _non_finite_hint = "rescale the scores"

    def fit(self, scores):
        """Compute ``threshold_`` from ``scores`` (1D, finite); return ``self``.

        Raises
        ------
        ValueError
            If the scores are empty or not finite, or the threshold would not
            be finite (beyond the float64 range).
        """
        scores = check_scores(scores)
        with np.errstate(over="ignore"):  # overflow is reported just below
            threshold = float(self._compute(scores))
        if not np.isfinite(threshold):
            raise ValueError(
                f"{type(self).__name__} computed a threshold that is not finite "
                f"({threshold}) from scores in [{scores.min():.6g}, {scores.max():.6g}]"
                f"; it lies beyond the float64 range: {self._non_finite_hint}."
            )
        self.threshold_ = threshold
        return self

    def predict(self, scores):
        """1 where ``scores > threshold_``, else 0 (int array)."""
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(scores) first."
            )
        return exceeds(check_scores(scores), self.threshold_).astype(int)

    def get_config(self):
        return {p: getattr(self, p) for p in self._params}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        """A new, unfitted strategy with the same parameters."""
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class PercentileThreshold(BaseThreshold):
    """The ``q``-th percentile of the scores (linear interpolation).

    Examples
    --------
    >>> from fusionlab.detection import PercentileThreshold
    >>> PercentileThreshold(90).fit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).threshold_
    9.1
    """

    name = "percentile"
    _params = ("q",)

    def __init__(self, q=95.0):
        self.q = check_rate(q, "q", low=0.0, high=100.0)

    def _compute(self, scores):
        return np.percentile(scores, self.q)


class ContaminationThreshold(BaseThreshold):
    """Flag (about) the given fraction of the fitted scores.

    With ``k = round(contamination * n)`` (at least 1), the threshold is the
    midpoint between the ``k``-th and ``(k+1)``-th largest scores, so exactly
    ``k`` fitted points exceed it (fewer only with ties).

    Examples
    --------
    20 % of ten scores: the two largest exceed the threshold.

    >>> import numpy as np
    >>> from fusionlab.detection import ContaminationThreshold
    >>> scores = np.arange(1.0, 11.0)
    >>> strategy = ContaminationThreshold(0.2).fit(scores)
    >>> strategy.threshold_, strategy.predict(scores).tolist()
    (8.5, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    """

    name = "contamination"
    _params = ("contamination",)

    def __init__(self, contamination=0.05):
        self.contamination = check_real(
            contamination, "contamination", low=0.0, high=0.5, include_low=False
        )

    def _compute(self, scores):
        ordered = np.sort(scores)[::-1]
        k = min(max(int(round(self.contamination * scores.size)), 1), scores.size)
        if k == scores.size:
            return min(ordered[-1] - 1.0, float(np.nextafter(ordered[-1], -np.inf)))
        # Halves first: the same value as (a + b) / 2, without overflow.
        return 0.5 * ordered[k - 1] + 0.5 * ordered[k]


class MeanStdThreshold(BaseThreshold):
    """``mean + k * std`` of the scores (population std).

    Examples
    --------
    >>> from fusionlab.detection import MeanStdThreshold
    >>> MeanStdThreshold(k=2).fit([1, 1, 1, 5]).threshold_   # 2 + 2 * sqrt(3)
    5.464101615137754
    """

    name = "mean_std"
    _params = ("k",)
    _non_finite_hint = "lower `k` or rescale the scores"

    def __init__(self, k=3.0):
        self.k = check_real(k, "k", low=0.0)

    def _compute(self, scores):
        # Exact power-of-two scaling keeps the squares of huge scores finite.
        scale = _power_of_two_scale(scores)
        scaled = scores / scale
        return scale * (scaled.mean() + self.k * scaled.std())


class SPOTThreshold(BaseThreshold):
    """Peaks-over-threshold threshold (SPOT, Siffer et al., 2017), fitted once.

    1. ``t`` = the ``level`` quantile of the scores (initial threshold).
    2. The ``N_t`` excesses ``scores[scores > t] - t`` are fitted with a
       generalised Pareto distribution (shape ``gamma``, scale ``sigma``,
       location 0) by maximum likelihood (:func:`scipy.stats.genpareto.fit`).
    3. The threshold is the value exceeded with probability ``q``:

       ``z_q = t + sigma / gamma * ((q * n / N_t) ** -gamma - 1)``
       (``t - sigma * log(q * n / N_t)`` when ``gamma == 0``).

    Parameters
    ----------
    q : float, default=1e-4
        Risk: the probability of a normal score exceeding the threshold.
        Must be below ``1 - level`` (the threshold extrapolates the tail).
    level : float, default=0.98
        Quantile of the initial threshold.
    min_excesses : int, default=10
        Fewer excesses raise ``ValueError`` (the fit would be meaningless).

    Attributes
    ----------
    threshold_, initial_threshold_, gamma_, sigma_, n_excesses_

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import SPOTThreshold
    >>> scores = np.random.default_rng(0).exponential(size=20000)
    >>> spot = SPOTThreshold(q=1e-4, level=0.98).fit(scores)
    >>> round(spot.threshold_, 1)    # exponential tail: -log(1e-4) = 9.2
    9.2

    References
    ----------
    Siffer, A., Fouque, P.-A., Termier, A. and Largouet, C. (2017). Anomaly
    detection in streams with extreme value theory. KDD 2017.
    """

    name = "spot"
    _params = ("q", "level", "min_excesses")
    _non_finite_hint = "raise `q` (a less extreme quantile) or rescale the scores"

    def __init__(self, q=1e-4, level=0.98, min_excesses=10):
        self.level = check_rate(level, "level", low=0.0, high=1.0, include_high=False)
        self.q = check_rate(q, "q", low=0.0, high=1.0, include_high=False)
        if not 0.0 < self.q < 1.0 - self.level:
            raise ValueError(
                f"`q` must be in (0, 1 - level) = (0, {1 - self.level:g}); "
                f"received q={self.q:g}."
            )
        self.min_excesses = check_positive_int(min_excesses, "min_excesses")

    def _compute(self, scores):
        n = scores.size
        t = float(np.quantile(scores, self.level))
        excesses = scores[scores > t] - t
        if excesses.size < self.min_excesses:
            raise ValueError(
                f"SPOTThreshold needs at least {self.min_excesses} scores above the "
                f"level={self.level} quantile to fit the tail; received "
                f"{excesses.size} out of {n}. Use more data or a lower `level`."
            )
        # scipy's maximum-likelihood fit overflows (or stops on absolute
        # tolerances) for excesses far from 1, e.g. 1e300 or 1e-300: fit
        # those in units of a power of two; the GPD scale scales with them.
        scale = _power_of_two_scale(excesses)
        if 2.0**-20 <= scale <= 2.0**20:
            scale = 1.0  # ordinary magnitudes: fit the excesses as they are
        gamma, _, sigma = stats.genpareto.fit(excesses / scale, floc=0.0)
        self.initial_threshold_ = t
        self.gamma_ = float(gamma)
        self.sigma_ = float(sigma) * scale
        self.n_excesses_ = int(excesses.size)
        ratio = self.q * n / excesses.size
        if abs(gamma) < 1e-12:
            return t - scale * (sigma * np.log(ratio))
        return t + scale * (sigma / gamma * (ratio ** (-gamma) - 1.0))


class DynamicThreshold(BaseThreshold):
    """Non-parametric dynamic threshold (Hundman et al., 2018).

    1. Smooth the scores with an exponentially weighted moving average
       (``pandas.Series.ewm(span=smoothing_span, adjust=False)``; no smoothing
       when ``smoothing_span`` is None) into ``e_s`` of mean ``mu`` and std
       ``sigma``.
    2. For every ``z`` in ``z_values`` (default ``2, 2.5, ..., 10``) the
       candidate ``eps = mu + z * sigma`` splits ``e_s`` into the anomalous
       points ``e_a = {e_s > eps}``, forming ``E_seq`` contiguous sequences,
       and the rest. With ``d_mu`` / ``d_sigma`` the drop of the mean / std
       when the anomalous points are removed, the chosen ``eps`` maximises

       ``(d_mu / mu + d_sigma / sigma) / (|e_a| + |E_seq| ** 2)``

       (the first ``z`` wins ties; candidates flagging nothing are skipped;
       when all are, ``eps = mu + max(z) * sigma``).
    3. Optional pruning (``prune=p``): the sequences' maxima, sorted in
       decreasing order and followed by the largest non-anomalous value, are
       scanned for relative drops ``(m_i - m_{i+1}) / m_i``; the sequences
       after the last drop larger than ``p`` are pruned, and the threshold is
       raised to the largest pruned maximum so they are no longer flagged.

    The threshold is chosen on the smoothed scores; :meth:`predict` and the
    detector compare it with the raw scores.

    Parameters
    ----------
    z_values : sequence of float, optional
    smoothing_span : float or None, default=5
    prune : float or None, default=None
        Minimum relative drop ``p`` (Hundman et al. use 0.13).

    Attributes
    ----------
    threshold_, z_ (the chosen z; None when nothing is flagged)

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import DynamicThreshold
    >>> scores = np.r_[np.tile([1.0, 2.0], 20), 9.0, 9.0, np.tile([1.0, 2.0], 20)]
    >>> dyn = DynamicThreshold(smoothing_span=None).fit(scores)
    >>> dyn.z_, round(dyn.threshold_, 3)
    (2.0, 4.199)
    >>> int(dyn.predict(scores).sum())
    2

    References
    ----------
    Hundman, K., Constantinou, V., Laporte, C., Colwell, I. and Soderstrom, T.
    (2018). Detecting spacecraft anomalies using LSTMs and nonparametric
    dynamic thresholding. KDD 2018.
    """

    name = "dynamic"
    _params = ("z_values", "smoothing_span", "prune")

    def __init__(self, z_values=None, smoothing_span=5, prune=None):
        if z_values is None:
            z_values = np.arange(2.0, 10.0 + 1e-9, 0.5)
        z_values = [float(z) for z in np.asarray(z_values, dtype=float).ravel()]
        if not z_values or not np.all(np.isfinite(z_values)):
            raise ValueError(f"`z_values` must be finite numbers; received {z_values!r}.")
        self.z_values = z_values
        self.smoothing_span = check_real(smoothing_span, "smoothing_span", low=1.0,
                                         allow_none=True)
        self.prune = check_real(prune, "prune", low=0.0, high=1.0, allow_none=True)

    def smooth(self, scores):
        """The smoothed scores ``e_s``."""
        scores = check_scores(scores)
        if self.smoothing_span is None:
            return scores
        return pd.Series(scores).ewm(span=self.smoothing_span, adjust=False).mean().to_numpy()

    @staticmethod
    def _sequences(flags):
        padded = np.r_[False, flags, False].astype(np.int8)
        edges = np.diff(padded)
        return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1

    def _compute(self, scores):
        # The objective is scale free; exact power-of-two scaling keeps the
        # std of huge scores finite and gives the same bits otherwise.
        scale = _power_of_two_scale(scores)
        return scale * self._compute_scaled(scores / scale)

    def _compute_scaled(self, scores):
        e_s = self.smooth(scores)
        mu, sigma = e_s.mean(), e_s.std()
        self.z_ = None
        if sigma == 0 or mu == 0:
            # Constant (or zero-mean) errors: the objective is undefined;
            # flag nothing.
            return float(e_s.max())
        best, best_eps = -np.inf, mu + max(self.z_values) * sigma
        for z in self.z_values:
            eps = mu + z * sigma
            flags = e_s > eps
            n_a = int(flags.sum())
            if n_a == 0 or n_a == e_s.size:
                continue
            n_seq = self._sequences(flags)[0].size
            below = e_s[~flags]
            objective = ((mu - below.mean()) / mu + (sigma - below.std()) / sigma) / (
                n_a + n_seq**2
            )
            if objective > best:
                best, best_eps, self.z_ = objective, eps, z
        if self.prune is not None and self.z_ is not None:
            best_eps = self._prune(e_s, best_eps)
        return best_eps

    def _prune(self, e_s, eps):
        flags = e_s > eps
        starts, ends = self._sequences(flags)
        maxima = np.sort([e_s[s : e + 1].max() for s, e in zip(starts, ends, strict=True)])[::-1]
        rest = e_s[~flags]
        extended = np.r_[maxima, rest.max() if rest.size else 0.0]
        drops = (extended[:-1] - extended[1:]) / extended[:-1]
        significant = np.flatnonzero(drops > self.prune)
        kept = 0 if significant.size == 0 else int(significant[-1]) + 1
        if kept < maxima.size:
            return float(max(eps, maxima[kept]))
        return eps


#: Threshold strategies by name.
THRESHOLDS = {
    cls.name: cls
    for cls in (
        PercentileThreshold,
        ContaminationThreshold,
        MeanStdThreshold,
        SPOTThreshold,
        DynamicThreshold,
    )
}


def get_threshold(spec, contamination=0.05):
    """A new, unfitted threshold strategy from a name or an instance.

    ``'percentile'`` gives ``PercentileThreshold(100 * (1 - contamination))``,
    ``'contamination'`` gives ``ContaminationThreshold(contamination)``; the
    other names (``'mean_std'``, ``'spot'``, ``'dynamic'``) use their defaults.
    An instance is cloned (its parameters kept, its fit dropped).
    """
    if isinstance(spec, BaseThreshold):
        return spec.clone()
    if isinstance(spec, str):
        key = check_option(spec, "threshold", tuple(THRESHOLDS))
        if key == "percentile":
            return PercentileThreshold(100.0 * (1.0 - contamination))
        if key == "contamination":
            return ContaminationThreshold(contamination)
        return THRESHOLDS[key]()
    raise TypeError(
        f"`threshold` must be one of {sorted(THRESHOLDS)} or a BaseThreshold "
        f"instance; received {spec!r}."
    )
