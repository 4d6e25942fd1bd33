"""Dominant period of a series by autocorrelation, and the window it implies."""

from __future__ import annotations

import numpy as np

from .._validation import check_finite, check_non_negative_int

__all__ = ["autocorrelation", "dominant_period", "choose_window", "choose_scorer_window"]

#: Window used when the data show no clear period (then clipped to the bounds).
FALLBACK_WINDOW = 32
#: The subsequence scorers' window when the data show no clear period, and
#: their longest window (:func:`choose_scorer_window`).
SCORER_FALLBACK_WINDOW = 100
SCORER_MAX_WINDOW = 400


def autocorrelation(x, max_lag=None):
    """Autocorrelation of each column of ``x`` for lags ``0..max_lag``, by FFT.

    Parameters
    ----------
    x : array-like of shape (n,) or (n, n_features)
    max_lag : int, optional
        Largest lag returned (default ``n - 1``).

    Returns
    -------
    ndarray of shape (max_lag + 1,)
        The autocorrelation averaged over columns; 1 at lag 0. Constant
        columns are left out (they have no defined autocorrelation); when
        every column is constant the result is all zeros after lag 0.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.period import autocorrelation
    >>> acf = autocorrelation(np.sin(np.arange(200) * 2 * np.pi / 20))
    >>> int(np.argmax(acf[5:40])) + 5
    20
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"`x` must be a non-empty series of shape (n,) or (n, n_features); received "
            f"shape {x.shape}."
        )
    check_finite(x, "x")
    n = x.shape[0]
    max_lag = n - 1 if max_lag is None else min(check_non_negative_int(max_lag, "max_lag"), n - 1)
    x = x - x.mean(axis=0)
    power = np.sum(x * x, axis=0)
    keep = power > 0
    out = np.zeros(max_lag + 1)
    out[0] = 1.0
    if not keep.any():
        return out
    x = x[:, keep]
    # Zero padding to >= 2n makes the circular correlation a linear one.
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, n=size, axis=0)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[: max_lag + 1]
    return (acov / power[keep]).mean(axis=1)


def dominant_period(x, min_period=2, max_period=None, min_strength=0.3):
    """Dominant period of ``x`` (in samples), or ``None`` when there is no clear one.

    The period is the lag of the highest autocorrelation peak (a local
    maximum) in ``[min_period, max_period]`` that comes after the
    autocorrelation first drops below zero. It counts as *clear* when that
    peak's autocorrelation is at least ``min_strength``.

    Parameters
    ----------
    x : array-like of shape (n,) or (n, n_features)
        Features are averaged in the autocorrelation.
    min_period : int, default=2
    max_period : int, optional
        Default ``n // 2``.
    min_strength : float, default=0.3

    Returns
    -------
    int or None

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.period import dominant_period
    >>> t = np.arange(0, 200, 0.5)
    >>> dominant_period(np.sin(t))   # 2 * pi / 0.5 = 12.6 samples
    13
    >>> dominant_period(np.random.default_rng(0).normal(size=400)) is None
    True
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    max_period = n // 2 if max_period is None else min(int(max_period), n // 2)
    if n < 4 or max_period < max(min_period, 2):
        return None
    acf = autocorrelation(x, max_lag=max_period + 1)
    below = np.flatnonzero(acf < 0)
    if below.size == 0:
        return None
    first = max(int(below[0]), int(min_period))
    lags = np.arange(first, max_period + 1)
    lags = lags[(lags >= 1) & (lags + 1 < acf.size)]
    if lags.size == 0:
        return None
    peaks = lags[(acf[lags] >= acf[lags - 1]) & (acf[lags] >= acf[lags + 1])]
    if peaks.size == 0:
        return None
    best = int(peaks[np.argmax(acf[peaks])])
    if acf[best] < min_strength:
        return None
    # Refine to the nearest integer of the parabola through the peak, so a
    # non-integer period (12.57) is not biased to the sampled lag.
    y0, y1, y2 = acf[best - 1], acf[best], acf[best + 1]
    denom = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    return int(round(best + float(np.clip(shift, -0.5, 0.5))))


def choose_window(x, min_window=8, max_window=256, fallback=FALLBACK_WINDOW, period=None):
    """Window length for ``x``: its dominant period, bounded.

    The result is the dominant period (:func:`dominant_period`), or
    ``fallback`` (``FALLBACK_WINDOW``, 32) when there is no clear one,
    clipped to ``[min_window, min(max_window, n // 4)]`` (the upper bound
    never goes below ``min_window``, so short series get ``min_window``).
    ``period`` gives the dominant period already found (0 for none), so
    that several windows of one series cost one search.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.period import choose_window
    >>> choose_window(np.sin(np.arange(0, 200, 0.5)))
    13
    >>> choose_window(np.random.default_rng(0).normal(size=1000))
    32
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    upper = max(int(min_window), min(int(max_window), n // 4))
    if period is None:
        # Search all periods up to n // 2: a period longer than the bound
        # still means "as long as allowed", not "no period".
        period = dominant_period(x, min_period=2) or 0
    window = period if period else fallback
    return int(np.clip(window, min_window, upper))


def choose_scorer_window(x, min_window=8, max_window=SCORER_MAX_WINDOW):
    """Window of the subsequence scorers for ``x``: one whole period, bounded.

    The subsequence scorers (:mod:`~fusionlab.detection.scorers`) compare
    windows by their shape, which needs a whole cycle: the dominant period
    (:func:`dominant_period`), or :data:`SCORER_FALLBACK_WINDOW` (100) when
    there is no clear one, clipped to ``[min_window, min(max_window, n // 4)]``
    (``max_window`` 400 by default: a daily cycle at 5-minute sampling is 288
    points, a weekly one at hourly sampling 168).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.period import choose_scorer_window
    >>> choose_scorer_window(np.sin(np.arange(4000) * 2 * np.pi / 288))
    288
    >>> choose_scorer_window(np.random.default_rng(0).normal(size=1000))
    100
    """
    return choose_window(x, min_window, max_window, fallback=SCORER_FALLBACK_WINDOW)
