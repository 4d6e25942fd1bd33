"""Combining scorers: each on one robust scale, then one aggregate.

The detector's scorers are its model's reconstruction error
(``'reconstruction'``) and the subsequence scorers of
:mod:`~fusionlab.detection.scorers` (``'discord'``, ``'isolation'``...).
Every one describes *windows*: the reconstruction error of a point is
averaged over the model's window centred on it (the error of that window),
a subsequence scorer gives each window's score to its centre point.

Scorers measure different things on different scales (a squared
reconstruction error, a distance between window shapes, an isolation
depth). Each is put on one scale learned from its *training* scores -- how
many inter-quartile ranges a score lies above the training median, 0 at or
below it (:class:`RobustScale`) -- so a scorer that sees nothing unusual
stays near 0 and one that sees a clear anomaly stands out by many IQRs;
then the scaled scores are aggregated point by point (``'mean'``, the
default, or ``'max'``: :data:`AGGREGATORS`).

A *calibrated* scorer (``calibrated = True``: the flatness scorer) scores
in nats of surprise, exactly 0 on normal data, and sees what the others do
not (a stuck sensor at a normal level): it keeps its own scale
(:func:`fit_scales`) and is *added* to the aggregate of the others rather
than averaged with them, where the others' zeros would divide its evidence
by the number of scorers.

A *point-exact* scorer (``point_exact = True``: the residual scorer)
scores each point on its own values. It too sees what the window scorers
do not (sensors that stop agreeing while each stays in its range), so it
is added on top like a calibrated one (:func:`added_flags`), and its
share is split over the features by its own per-feature parts
(``point_parts``), not by the model's errors: the features it says
disagree are the ones named. The smoothing, which helps the window
scorers' ranking, would spread a one-point break over its neighbours:
each point keeps, unsmoothed, what these scorers give it beyond the end
of their training scores' tail, about the largest score of a clean training
series (:func:`exact_contributions`, on :func:`exact_scales`;
:func:`~fusionlab.detection.scoring.keep_exact`). Below that level their
score is the noise every normal point has, which smoothed with the rest
does not make one-point events.

Rank normalisation was measured too and does worse (it gives every scorer
the same top scores, whether or not it sees anything): see the detector
guide, "Several scorers".
"""

from __future__ import annotations

import numpy as np

from .._validation import check_option
from .scorers import available_scorers, make_scorer
from .scoring import moving_average, smooth_errors

__all__ = ["RECONSTRUCTION", "RobustScale", "AGGREGATORS", "aggregate", "check_scorers",
           "calibrated_flags", "point_exact_flags", "added_flags", "fit_scales",
           "exact_scales", "EXACT_TAIL", "located_scores", "point_shares",
           "fit_scorers", "scorer_scores", "raw_scores", "feature_shares", "error_shares",
           "combine_contributions",
           "exact_contributions",
           "square_scores", "MAX_COMBINED_SCORE", "held_out_raw_scores",
           "HELD_OUT_MIN_WINDOWS"]

#: Largest combined score before squaring: its square stays a finite float
#: (a far-out value scaled by a small IQR can exceed it).
MAX_COMBINED_SCORE = 1e150

#: Name of the model's reconstruction (or forecast) error among the scorers.
RECONSTRUCTION = "reconstruction"


class RobustScale:
    """``max(0, (score - median) / iqr)`` with the training scores' median and IQR.

    The IQR is floored for scores that are mostly tied (a scorer whose
    training scores are constant over half the series): then the mean
    absolute deviation from the median, then 1.

    Parameters
    ----------
    median, iqr : float

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import RobustScale
    >>> scale = RobustScale.fit(np.arange(101.0))     # median 50, IQR 50
    >>> scale.transform(np.array([0.0, 50.0, 150.0])).tolist()
    [0.0, 0.0, 2.0]
    """

    def __init__(self, median, iqr):
        self.median = float(median)
        self.iqr = float(iqr)

    @classmethod
    def fit(cls, scores):
        """The scale of ``scores`` (finite, 1-D)."""
        scores = np.asarray(scores, dtype=np.float64).ravel()
        median = float(np.median(scores))
        q75, q25 = np.percentile(scores, [75, 25])
        iqr = float(q75 - q25)
        if not iqr > 0:
            iqr = float(np.mean(np.abs(scores - median)))
        if not iqr > 0:
            iqr = 1.0
        return cls(median, iqr)

    def transform(self, scores):
        """Scaled scores, >= 0."""
        return np.maximum((np.asarray(scores, dtype=np.float64) - self.median) / self.iqr, 0.0)

    def to_list(self):
        return [self.median, self.iqr]

    @classmethod
    def from_list(cls, values, name="scale"):
        """Rebuild from :meth:`to_list`; ``ValueError`` naming ``name`` if malformed."""
        if (not isinstance(values, (list, tuple)) or len(values) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
                or not all(np.isfinite(values)) or not values[1] > 0):
            raise ValueError(
                f"`{name}` must be [median, iqr] with a finite median and a positive iqr; "
                f"received {values!r}."
            )
        return cls(*values)


def _mean(stacked):
    return stacked.mean(axis=0)


def _max(stacked):
    return stacked.max(axis=0)


#: Aggregators of scaled scores ``(n_scorers, n_points)`` -> ``(n_points,)``.
AGGREGATORS = {"mean": _mean, "max": _max}


def aggregate(scaled, how="mean", added=None, only=None):
    """Aggregate a list of scaled score arrays point by point (:data:`AGGREGATORS`).

    ``added`` (one bool per array, optional) marks calibrated scores: they
    are summed on top of the aggregate of the others instead of entering it.
    ``only`` (one bool per array, optional) gives the marked arrays' share
    of that aggregate alone: the others count as 0 in it.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import aggregate
    >>> aggregate([np.array([0.0, 4.0]), np.array([2.0, 0.0])]).tolist()
    [1.0, 2.0]
    >>> aggregate([np.array([0.0, 4.0]), np.array([2.0, 0.0])], "max").tolist()
    [2.0, 4.0]
    >>> aggregate([np.array([0.0, 4.0]), np.array([2.0, 0.0]), np.array([5.0, 0.0])],
    ...           added=[False, False, True]).tolist()
    [6.0, 2.0]
    >>> aggregate([np.array([0.0, 4.0]), np.array([2.0, 0.0])], only=[False, True]).tolist()
    [1.0, 0.0]
    """
    how = check_option(how, "combine", tuple(AGGREGATORS))
    arrays = [np.asarray(s, dtype=np.float64) for s in scaled]
    added = [False] * len(arrays) if added is None else [bool(a) for a in added]
    if len(added) != len(arrays):
        raise ValueError(f"`added` must hold one flag per score array ({len(arrays)}); "
                         f"received {len(added)}.")
    if only is not None:
        if len(only) != len(arrays):
            raise ValueError(f"`only` must hold one flag per score array ({len(arrays)}); "
                             f"received {len(only)}.")
        arrays = [array if keep else np.zeros_like(array)
                  for array, keep in zip(arrays, only, strict=True)]
    kept = [a for a, extra in zip(arrays, added, strict=True) if not extra]
    if not kept:
        raise ValueError("`aggregate` needs at least one score array that is not `added`.")
    out = AGGREGATORS[how](np.stack(kept))
    for array, extra in zip(arrays, added, strict=True):
        if extra:
            out = out + array
    return out


def calibrated_flags(names):
    """One bool per scorer name: True for a calibrated scorer (``calibrated``), added on top.

    Examples
    --------
    >>> from fusionlab.detection.ensemble import calibrated_flags
    >>> calibrated_flags(("reconstruction", "discord", "flatness"))
    [False, False, True]
    """
    return _class_flags(names, "calibrated")


def point_exact_flags(names):
    """One bool per scorer name: True for a point-exact scorer (``point_exact``).

    Examples
    --------
    >>> from fusionlab.detection.ensemble import point_exact_flags
    >>> point_exact_flags(("reconstruction", "discord", "residual"))
    [False, False, True]
    """
    return _class_flags(names, "point_exact")


def added_flags(names, points=True):
    """One bool per scorer name: True for a scorer summed on top of the others' aggregate.

    The calibrated scorers, and with ``points`` the point-exact ones
    (False: a detector fitted before they were added averaged them).

    Examples
    --------
    >>> from fusionlab.detection.ensemble import added_flags
    >>> added_flags(("reconstruction", "discord", "residual", "flatness"))
    [False, False, True, True]
    >>> added_flags(("reconstruction", "discord", "residual", "flatness"), points=False)
    [False, False, False, True]
    """
    return [calibrated or (points and exact) for calibrated, exact
            in zip(calibrated_flags(names), point_exact_flags(names), strict=True)]


def _class_flags(names, attribute):
    """One bool per scorer name: the registered scorer class's ``attribute`` (False for the model)."""
    from .scorers import SCORERS

    return [name != RECONSTRUCTION and bool(getattr(SCORERS.get(name), attribute, False))
            for name in names]


def located_scores(names, raws):
    """The calibrated scorers' raw scores summed point by point, or None without one.

    They place an anomaly exactly (the points of a stuck run), so the event
    bounds count their positive points
    (:func:`~fusionlab.detection.events.refine_bounds`).
    """
    flags = calibrated_flags(names)
    if not any(flags):
        return None
    return np.sum([np.asarray(raw, dtype=np.float64)
                   for raw, flag in zip(raws, flags, strict=True) if flag], axis=0)


def fit_scales(names, raws):
    """The :class:`RobustScale` of each scorer's training scores ``raws``.

    A calibrated scorer keeps its own scale (median 0, IQR 1: its score as
    it is).
    """
    return [RobustScale(0.0, 1.0) if calibrated else RobustScale.fit(raw)
            for raw, calibrated in zip(raws, calibrated_flags(names), strict=True)]


#: How far beyond the training scores' ``1 - contamination`` quantile a
#: point-exact scorer's unsmoothed share starts, in multiples of that
#: quantile's distance from their median (:func:`exact_scales`).
EXACT_TAIL = 2.0


def exact_scales(names, scales, held, contamination=0.05):
    """The scale of each scorer's unsmoothed share: from the end of its training scores' tail up.

    For a point-exact scorer, its robust scale (``scales``) with the median
    replaced by where the upper tail of its training scores ``held`` (held
    out where the detector has them: :func:`held_out_raw_scores`) ends: their
    ``1 - contamination`` quantile plus :data:`EXACT_TAIL` times that
    quantile's distance from their median. On a clean series that is about
    its largest training score, and the training series' own anomalies (up
    to the ``contamination`` share) do not move it. So only what a point
    scores beyond anything normal is kept unsmoothed; any other scorer keeps
    its scale (it has no such share).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import RobustScale, exact_scales
    >>> scales = [RobustScale(1.0, 2.0), RobustScale(3.0, 0.5)]
    >>> held = [np.zeros(101), np.arange(101.0)]        # median 50, 95th percentile 95
    >>> [s.to_list() for s in exact_scales(("reconstruction", "residual"), scales, held)]
    [[1.0, 2.0], [185.0, 0.5]]
    """
    from .._validation import check_rate

    contamination = check_rate(contamination, "contamination", low=0.0, high=0.5)
    flags = point_exact_flags(names)
    if not len(scales) == len(held) == len(flags):
        raise ValueError(f"`scales` and `held` must hold one entry per scorer name "
                         f"({len(flags)}); received {len(scales)} and {len(held)}.")
    out = []
    for scale, raw, exact in zip(scales, held, flags, strict=True):
        if exact:
            median, tail = np.quantile(np.asarray(raw, dtype=np.float64),
                                       [0.5, 1.0 - contamination])
            scale = RobustScale(max(float(tail + EXACT_TAIL * (tail - median)), scale.median),
                                scale.iqr)
        out.append(scale)
    return out


def check_scorers(scorers):
    """``scorers`` as a tuple of unique registered names holding ``'reconstruction'``.

    Raises
    ------
    TypeError
        When ``scorers`` is not a list or tuple of strings.
    ValueError
        For an unknown or repeated name, or without ``'reconstruction'``.
    """
    if isinstance(scorers, str) or not isinstance(scorers, (list, tuple)) or not all(
            isinstance(name, str) for name in scorers):
        raise TypeError(
            "`scorers` must be a list or tuple of scorer names such as "
            f"('reconstruction', 'discord', 'isolation'); received {scorers!r}."
        )
    known = [RECONSTRUCTION, *available_scorers()]
    for name in scorers:
        if name not in known:
            raise ValueError(f"`scorers` must hold names from {known}; received {name!r}.")
    if len(set(scorers)) != len(scorers):
        raise ValueError(f"`scorers` must not repeat a name; received {scorers!r}.")
    if RECONSTRUCTION not in scorers:
        raise ValueError(
            f"`scorers` must include {RECONSTRUCTION!r} (the model's error, which also "
            f"explains each point by feature); received {scorers!r}."
        )
    return tuple(scorers)


def fit_scorers(names, scaled, window=None, *, min_window=8, seed=None):
    """The fitted subsequence scorers of ``names`` and their window.

    ``window=None`` takes one whole period of ``scaled``
    (:func:`~fusionlab.detection.period.choose_scorer_window`). With
    ``'reconstruction'`` alone there is nothing to fit: ``([], None)``.

    Returns
    -------
    scorers : list of BaseScorer
        In the order of ``names``, ``'reconstruction'`` left out.
    window : int or None
    """
    from .period import choose_scorer_window

    names = check_scorers(names)
    if names == (RECONSTRUCTION,):
        return [], None
    n = scaled.shape[0]
    window = choose_scorer_window(scaled, min_window) if window is None else int(window)
    if n < window:
        raise ValueError(
            f"`X` has {n} rows, fewer than the scorers' window {window}; give more data "
            "or a smaller `scorer_window`."
        )
    return [make_scorer(name).fit(scaled, window, seed=seed)
            for name in names if name != RECONSTRUCTION], window


def scorer_scores(scorer, values, points=True):
    """A fitted scorer's raw score of every point of ``values``.

    A point-exact scorer (``point_exact``) scores each point on its own
    (``score_points``) when ``points``; any other, or with ``points=False``
    (a detector fitted before point-exact scorers scored every point), its
    windows' scores on their centre points (``score``).
    """
    if points and getattr(scorer, "point_exact", False):
        return scorer.score_points(values)
    return scorer.score(values)


def raw_scores(names, scorers, reconstruction, scaled, model_window, peak_weight=0.125,
               points=True):
    """One raw score array per name: the window errors of the model, then each scorer's.

    ``reconstruction`` is the model's per-point, per-feature error; its
    window error is the moving average of the point errors over
    ``model_window``, an isolated large error keeping ``peak_weight`` of
    itself (:func:`~fusionlab.detection.scoring.smooth_errors`), so a
    far-out point still scores highest where it is. The scorers score as
    :func:`scorer_scores` says (``points``).
    """
    fitted = iter(scorers)
    out = []
    for name in names:
        if name == RECONSTRUCTION:
            total = reconstruction.sum(axis=1)[:, None]
            out.append(smooth_errors(total, model_window, peak_weight)[:, 0])
        else:
            out.append(scorer_scores(next(fitted), scaled, points))
    return out


#: Each half of the training series must hold this many scorer windows for
#: :func:`held_out_raw_scores`; a shorter series is calibrated in sample.
HELD_OUT_MIN_WINDOWS = 3


def held_out_raw_scores(names, scorers, raws, scaled, window, seed=None):
    """The raw scores ``raws`` of the training series, each scorer's as if the series were new.

    A scorer scores the windows it learned from lower than new windows of
    the same process (a discord's nearest neighbour is its own noise's best
    match; an isolation forest's trees were grown around them): a
    threshold set on those in-sample scores flags much of the next clean
    stretch. Here the series is cut into two contiguous halves and each
    half is scored by a copy of the scorer (same parameters, same seed)
    fitted on the other half, as a time-series cross-validation. The
    model's entry (``'reconstruction'``) is kept as it is.

    Returns
    -------
    list of ndarray or None
        Like ``raws``; None when a half holds fewer than
        :data:`HELD_OUT_MIN_WINDOWS` scorer windows (or there are no scorers).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import held_out_raw_scores
    >>> from fusionlab.detection.scorers import DiscordScorer
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.arange(600) * 2 * np.pi / 30)[:, None] + rng.normal(0, 0.05, (600, 1))
    >>> scorer = DiscordScorer().fit(x, 30)
    >>> in_sample = [scorer.score(x)]
    >>> held = held_out_raw_scores(("discord",), [scorer], in_sample, x, 30)
    >>> bool(np.median(held[0]) > np.median(in_sample[0]))
    True
    >>> held_out_raw_scores(("discord",), [scorer], in_sample, x[:150], 30) is None
    True
    """
    n = scaled.shape[0]
    half = n // 2
    if not scorers or half < HELD_OUT_MIN_WINDOWS * window:
        return None
    first, second = slice(0, half), slice(half, n)
    held = list(raws)
    fitted = iter(scorers)
    for position, name in enumerate(names):
        if name == RECONSTRUCTION:
            continue
        scorer = next(fitted)
        parts = [scorer_scores(type(scorer)(**scorer._params()).fit(scaled[fit_on], window,
                                                                    seed=seed),
                               scaled[score_on])
                 for fit_on, score_on in ((second, first), (first, second))]
        held[position] = np.concatenate(parts)
    return held


def feature_shares(reconstruction, model_window):
    """Each point's share per feature of the model's window error (rows sum to 1)."""
    return error_shares(moving_average(reconstruction, model_window))


def error_shares(errors):
    """Each row of ``errors`` ``(n, n_features)`` over its sum; an even split where it is 0."""
    total = errors.sum(axis=1, keepdims=True)
    even = np.full_like(errors, 1.0 / errors.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, errors / np.where(total > 0, total, 1.0), even)


def point_shares(names, scorers, values):
    """Each point-exact scorer's per-feature shares of its score of ``values``; None for the others.

    One entry per name (None for the model's and every other scorer): the
    rows of the scorer's ``point_parts`` over their sums, an even split
    where a point scores 0 (:func:`error_shares`).
    """
    fitted = iter(scorers)
    out = []
    for name, exact in zip(names, point_exact_flags(names), strict=True):
        scorer = None if name == RECONSTRUCTION else next(fitted)
        out.append(error_shares(scorer.point_parts(values)) if exact else None)
    return out


def combine_contributions(raws, scales, shares, how="mean", added=None, only=None, own=None):
    """Per-point, per-feature contributions of the combined score.

    Each raw score array is scaled (:class:`RobustScale`), the scaled
    arrays aggregated (``how``; those flagged in ``added`` summed on top)
    and the result split over the features by ``shares``, so each row sums
    to the combined score. ``only`` (one bool per array, optional) keeps
    the share of the marked arrays alone: the others count as 0 in the
    aggregate. ``own`` (one entry per array, optional) gives an added
    scorer its own per-feature shares ``(n_points, n_features)``: its part
    is split by them instead of ``shares`` (None: by ``shares``).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import RobustScale, combine_contributions
    >>> raws = [np.array([2.0]), np.array([4.0])]          # model, an added scorer
    >>> scales = [RobustScale(0.0, 1.0)] * 2
    >>> combine_contributions(raws, scales, np.array([[0.5, 0.5]]), added=[False, True],
    ...                       own=[None, np.array([[0.0, 1.0]])]).tolist()
    [[1.0, 5.0]]
    """
    if len(scales) != len(raws):
        raise ValueError(f"`scales` must hold one scale per score array ({len(raws)}); "
                         f"received {len(scales)}.")
    scaled = [scale.transform(raw) for raw, scale in zip(raws, scales, strict=True)]
    n = len(scaled)
    own = [None] * n if own is None else list(own)
    if added is None:
        added = [False] * n
    elif len(added) != n or not all(isinstance(a, (bool, np.bool_)) for a in added):
        raise ValueError(f"`added` must hold one bool per score array ({n}); received "
                         f"{list(added)!r:.80}.")
    if len(own) != n:
        raise ValueError(f"`own` must hold one entry per score array ({n}); received {len(own)}.")
    for index, (shares_own, extra) in enumerate(zip(own, added, strict=True)):
        if shares_own is None:
            continue
        if not extra:
            raise ValueError("`own` shares are only for `added` score arrays, whose part of "
                             f"the aggregate is their own; `own[{index}]` is not added.")
        if np.shape(shares_own) != np.shape(shares):
            raise ValueError(f"`own[{index}]` must have the shape of `shares` "
                             f"{np.shape(shares)}; received {np.shape(shares_own)}.")
    kept = [True] * n if only is None else list(only)
    if len(kept) != n:
        raise ValueError(f"`only` must hold one flag per score array ({n}); "
                         f"received {len(kept)}.")
    split = [keep and o is None for keep, o in zip(kept, own, strict=True)]
    out = aggregate(scaled, how, added, split)[:, None] * shares
    for array, keep, shares_own in zip(scaled, kept, own, strict=True):
        if keep and shares_own is not None:
            out = out + array[:, None] * shares_own
    return out


def exact_contributions(raws, scales, shares, how, names, added=None, own=None):
    """The point-exact scorers' share of :func:`combine_contributions`, or None without one.

    What the aggregate would be if every other scorer scored 0 (their own
    score where they are ``added``; under ``'mean'`` their share of the
    mean, under ``'max'`` their score, for a detector fitted before),
    split over the features by ``own`` where given, else ``shares``. With
    :func:`exact_scales` for ``scales``, only what exceeds the end of the
    training scores' tail counts. The smoothed contributions are kept at least
    this high point by point
    (:func:`~fusionlab.detection.scoring.keep_exact`), so a scorer that
    places an anomaly on its point is not spread by the smoothing.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import RobustScale, exact_contributions
    >>> raws = [np.array([0.0, 6.0]), np.array([3.0, 0.0])]   # model, residual
    >>> scales = [RobustScale(0.0, 1.0)] * 2
    >>> shares = np.full((2, 1), 1.0)
    >>> exact_contributions(raws, scales, shares, "mean",
    ...                     ("reconstruction", "residual")).ravel().tolist()
    [1.5, 0.0]
    >>> exact_contributions(raws, scales, shares, "mean", ("reconstruction", "residual"),
    ...                     added=[False, True]).ravel().tolist()
    [3.0, 0.0]
    >>> exact_contributions(raws, scales, shares, "mean", ("reconstruction", "discord")) is None
    True
    """
    flags = point_exact_flags(names)
    if not any(flags):
        return None
    return combine_contributions(raws, scales, shares, how, added, only=flags, own=own)


def square_scores(contributions):
    """Per-feature contributions whose row sums are the squared row sums of ``contributions``.

    Each row ``c`` becomes ``c * c.sum()``: the ranking of the points is
    unchanged and ``peak / threshold`` keeps the meaning it has for squared
    errors. A row sum above :data:`MAX_COMBINED_SCORE` counts as that much,
    so the square never overflows to infinity (nor a zero share to NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection.ensemble import square_scores
    >>> square_scores(np.array([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[4.0, 12.0], [0.0, 0.0]]
    >>> bool(np.isfinite(square_scores(np.array([[1e300, 1e300]]))).all())
    True
    """
    total = contributions.sum(axis=1, keepdims=True)
    if np.all(total <= MAX_COMBINED_SCORE):
        return contributions * total
    capped = np.minimum(total, MAX_COMBINED_SCORE)
    share = contributions / np.where(total > 0, total, 1.0)
    # Rows under the cap are squared as they are; the others are the cap's square.
    return share * capped * np.where(total <= MAX_COMBINED_SCORE, total, capped)
