"""TSB-AD's reference detectors, written again for the benchmarks.

The six univariate detectors that TSB-AD (Liu and Paparrizos, NeurIPS 2024)
ships with tuned settings (its ``Optimal_Uni_algo_HP_dict``), reimplemented
from their description on scikit-learn and NumPy, and on ``stumpy`` for the
matrix profile (the ``bench`` extra: ``pip install -e ".[bench]"``). Each
takes a 1-D series and returns one score per point, higher = more anomalous.
``benchmarks/tsbad_reference.py`` runs TSB-AD's own code on the same files
so the figures can be checked against each other.

Windows follow TSB-AD: ``period(x, rank)`` is the lag of the ``rank``-th
highest autocorrelation peak (125 when it lies outside 3..300), and a
window's score is given to its centre point, the first and last half
windows repeating the nearest score.

- :func:`sub_iforest` -- isolation forest (150 trees, each on one window
  position) on windows of one period, each position standardised;
- :func:`iforest` -- the same on windows of 100 points, 200 trees;
- :func:`sub_knn` -- distance to the 50th nearest neighbour among the
  z-normalised windows of the second period;
- :func:`sub_pca` -- distances of the standardised windows to the principal
  axes, weighted by the inverse explained variance;
- :func:`matrix_profile` -- the z-normalised nearest-neighbour distance of
  each window (``stumpy.stump``);
- :func:`poly` -- blocks of one period forecast by a degree-4 polynomial
  fitted on ten periods around them (the block left out), scored by the
  distance of the block to its forecast.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import argrelextrema
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from fusionlab.detection.period import autocorrelation

__all__ = ["period", "sub_iforest", "iforest", "sub_knn", "sub_pca", "matrix_profile", "poly",
           "REFERENCE_DETECTORS"]

#: TSB-AD's window when the autocorrelation shows no usable period.
FALLBACK_PERIOD = 125


def period(x, rank=1):
    """TSB-AD's sliding window: the lag of the ``rank``-th autocorrelation peak.

    The autocorrelation of the first 20,000 points up to lag 400 is searched
    from lag 3 for strict local maxima; ``rank=1`` takes the highest,
    ``rank=2`` the next highest one found at a larger lag than it. A lag
    below 6 or above 303 gives :data:`FALLBACK_PERIOD`.
    """
    x = np.asarray(x, dtype=float).ravel()[:20000]
    base = 3
    acf = autocorrelation(x, max_lag=400)[base:]
    peaks = argrelextrema(acf, np.greater)[0]
    if peaks.size == 0:
        return FALLBACK_PERIOD
    order = np.argsort(acf[peaks])[::-1]
    chosen = order[0]
    if rank == 2:
        later = [i for i in order[1:] if i > order[0]]
        if later:
            chosen = later[0]
    lag = peaks[chosen]
    if lag < 3 or lag > 300:
        return FALLBACK_PERIOD
    return int(lag + base)


def _windows(x, window):
    return np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=float).ravel(), window)


def _centred(window_scores, n, window):
    """Each window's score on its centre point, the edges repeating the nearest one."""
    before, after = -(-(window - 1) // 2), (window - 1) // 2
    return np.r_[np.repeat(window_scores[0], before), window_scores,
                 np.repeat(window_scores[-1], after)][:n]


def _zscore(values, axis, ddof):
    mean = values.mean(axis=axis, keepdims=True)
    std = values.std(axis=axis, ddof=ddof, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (values - mean) / std
    return np.nan_to_num(out)


def _isolation(x, window, n_estimators, seed):
    windows = _zscore(_windows(x, window), axis=0, ddof=0)
    # max_features=1 as TSB-AD's runner passes it: an integer, so each tree
    # splits on one window position drawn at random.
    forest = IsolationForest(n_estimators=n_estimators, contamination=0.1, max_features=1,
                             random_state=seed).fit(windows)
    return _centred(-forest.decision_function(windows), len(x), window)


def sub_iforest(x, seed=0):
    """Sub-IForest: 150 trees on windows of one period."""
    return _isolation(x, period(x, 1), 150, seed)


def iforest(x, seed=0):
    """IForest: 200 trees on windows of 100 points (TSB-AD's default window)."""
    return _isolation(x, 100, 200, seed)


def sub_knn(x, seed=0):
    """Sub-KNN: distance to the 50th neighbour of each z-normalised window of the second period."""
    window = period(x, 2)
    windows = _zscore(_windows(x, window), axis=1, ddof=1)
    distances, _ = NearestNeighbors(n_neighbors=50).fit(windows).kneighbors()
    return _centred(distances[:, -1], len(x), window)


def sub_pca(x, seed=0):
    """Sub-PCA: distances of the standardised windows to every principal axis over its variance share."""
    window = period(x, 1)
    windows = StandardScaler().fit_transform(_windows(x, window))
    windows = windows[:, np.any(windows != 0, axis=0)]
    pca = PCA(random_state=seed).fit(windows)
    # TSB-AD's score: the Euclidean distance of each window to each axis
    # vector (as a point), divided by that axis's explained variance ratio.
    squared = ((windows**2).sum(axis=1)[:, None] - 2 * windows @ pca.components_.T
               + (pca.components_**2).sum(axis=1)[None, :])
    distance = np.sqrt(np.maximum(squared, 0.0))
    return _centred((distance / pca.explained_variance_ratio_).sum(axis=1), len(x), window)


def matrix_profile(x, seed=0):
    """MatrixProfile: each window's z-normalised distance to its nearest non-trivial match."""
    import stumpy  # the bench extra

    window = period(x, 1)
    profile = stumpy.stump(np.asarray(x, dtype=float).ravel(), m=window)[:, 0].astype(float)
    scores = np.full(len(x), profile.min())
    scores[window // 2 : window // 2 + profile.size] = profile
    return scores


def _poly_fit(t, y, power):
    return np.poly1d(np.polyfit(t, y, power))


def poly(x, seed=0, power=4):
    """POLY: each block of one period against a polynomial fitted on its neighbourhood.

    The series is min-max scaled. Blocks start at multiples of the period
    after the first ``min(500, n // 10)`` points (which score 0); each
    block's forecast is a degree-``power`` polynomial of time fitted on
    ``neighbourhood = max(10 * period, 100)`` points around it without the
    block, and its score is the root-mean-square distance of block and
    forecast (TSB-AD's Fourier measure, by Parseval's identity).
    """
    x = np.asarray(x, dtype=float).ravel()
    window = period(x, 1)
    data = (x - x.min()) / (x.max() - x.min())
    n = data.size
    neighbourhood = min(max(10 * window, 100), n)
    half = neighbourhood // 2
    n_initial = min(500, int(0.1 * n))
    last, first = n // window, -(-n_initial // window)
    models = {}
    for i in range(first, last + 1):
        start = i * window
        if start + half < n and start - half > 0:
            t = np.r_[np.arange(start - half, start), np.arange(start + window, start + half)]
        elif start + half >= n and start + window < n:
            t = np.r_[np.arange(n - neighbourhood, start), np.arange(start + window, n)]
        elif start + window >= n:
            t = np.arange(n - neighbourhood, start)
        else:  # near the start: the first `neighbourhood` points less the block
            t = np.r_[np.arange(0, start), np.arange(start + window, neighbourhood)]
        models[start] = _poly_fit(t, data[t], power)
    estimate = np.zeros(n)
    for i in range(first, last):
        start = i * window
        estimate[start : start + window] = models[start](np.linspace(start, start + window, window))
    if n % last != 0:  # TSB-AD's condition for forecasting the last, partial block
        estimate[last * window :] = models[last * window](np.arange(last * window, n))
    scores = np.zeros(n)
    for i in range(first, last + 1):
        start = i * window
        block = slice(start, n if i == last else start + window)
        size = len(data[block])
        if size:
            scores[block] = np.linalg.norm(data[block] - estimate[block]) / np.sqrt(size)
    return scores


#: Name in the benchmark tables -> function(values, seed).
REFERENCE_DETECTORS = {
    "Sub-IForest": sub_iforest,
    "MatrixProfile": matrix_profile,
    "Sub-KNN": sub_knn,
    "IForest": iforest,
    "Sub-PCA": sub_pca,
    "POLY": poly,
}
