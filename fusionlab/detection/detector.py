"""The series detector: a thin conductor of the stages scaler -> windows -> model -> scores -> threshold -> events."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._validation import check_positive_int
from . import io
from .base import BaseDetector
from .ensemble import (
    check_scorers,
    exact_scales,
    fit_scales,
    fit_scorers,
    located_scores,
)
from .events import build_events
from .inputs import make_scaler, median_gap, read_series, scale_values
from .models import make_model, model_id, model_name
from .params import check_detector_params
from .period import choose_window
from .point_scores import (
    calibration_scores,
    finish_contributions,
    held_out_scores,
    iter_contributions,
    iter_model_errors,
    model_time_deltas,
    scorer_raw_scores,
)
from .scoring import smoothing_width
from .state import FORMAT, TRAINING_SCORES, detector_from_state, detector_state
from .thresholds import get_threshold
from .training import fit_model

__all__ = ["AnomalyDetector", "save_detector", "load_detector"]

class AnomalyDetector(BaseDetector):
    """Unsupervised anomaly detector for (multivariate) time series.

    Follows the detector contract (:class:`~fusionlab.detection.base.BaseDetector`):
    ``fit`` returns the detector, scores are higher for more anomalous
    points, ``predict`` flags ``score > threshold_``. A conductor of small
    swappable stages, each a module of its own:

    1. **scaler** -- a scikit-learn transformer fitted on the training data
       (:mod:`~fusionlab.detection.inputs`, which also checks the data,
       timestamps and imputation);
    2. **model** -- a Keras model trained to reconstruct (or forecast) sliding
       windows of the scaled series, fed by a
       :class:`~fusionlab.detection.WindowDataset`
       (:mod:`~fusionlab.detection.models`, :mod:`~fusionlab.detection.training`);
    3. **scorers** -- the model's squared error of every step and feature
       of every window, averaged for each point over *all* the windows that
       cover it (:class:`~fusionlab.detection.scoring.PointErrorAccumulator`),
       then over features; beside it, by default, subsequence scorers that
       compare each window's shape and values with the training windows'
       (:mod:`~fusionlab.detection.scorers`), each on a robust scale and
       combined (``scorers``, ``combine``;
       :mod:`~fusionlab.detection.ensemble`): one score per time point,
       smoothed over a centred stretch with isolated large values kept
       (``smoothing``, ``peak_weight``; :mod:`~fusionlab.detection.scoring`);
    4. **threshold** -- a strategy from :mod:`fusionlab.detection.thresholds`
       fitted on the training scores;
    5. **events** -- flagged points grouped into :class:`Anomaly` records
       with severity, type and top features (:mod:`~fusionlab.detection.events`).

    Parameters
    ----------
    model : str or keras.Model, default='lstm_autoencoder'
        A registered name (``'lstm_autoencoder'``, ``'conv_autoencoder'``,
        ``'cfc'``, ``'ltc'``; :func:`~fusionlab.detection.register_model`) or
        a Keras model of windows ``(batch, window, n_features)``, used as a
        template (:func:`~fusionlab.detection.models.make_model`): a
        *reconstruction* model (output shaped like its input; error
        ``(x - model(x))**2`` at every step) or a *forecast* of the next
        ``h`` points (error of those points; the first ``window`` points of
        a series, which nothing forecasts, get error 0).

        ``'cfc'``, ``'ltc'`` and any model whose ``takes_time_delta`` is True
        (:class:`~fusionlab.nn.anomaly_detection.LiquidAutoencoderAnomaly`)
        also read the time elapsed before each point, derived from the
        timestamps (``timestamps`` or a non-range index of ``X``): the gap
        to the previous one over ``time_scale_``, the median training gap
        (seconds for datetimes), so a regular series has deltas of 1 and a
        point after two missing ones 3; the first point, and every point
        without timestamps, gets 1.
    window : int, optional
        Window length. ``None`` picks the dominant period of the training data
        (:func:`~fusionlab.detection.period.choose_window`): bounded to
        ``[min_window, min(max_window, n // 4)]``, 32 when there is no clear
        period.
    step : int, default=1
        Stride of the training windows (scoring always uses every window).
    max_train_windows : int or None, default=2048
        Most training windows: a longer series is trained on every ``k``-th
        window, so training time stops growing with the length of the
        series (scoring still uses every window). ``None``: no bound. On
        NAB, 4096 took 36 % longer per file for 0.013 more mean VUS-PR
        (see the detector guide).
    scaler : {'standard', 'minmax', 'robust'}, None or transformer, default='standard'
        Scaling fitted on the training data (a transformer is cloned).
        Constant columns scale to constants, never NaN. For series whose
        anomalies are extreme values, ``scaler='robust'`` with
        ``model_params={'activation': 'tanh'}`` bounds the reconstruction to
        the usual range (see the detector guide for its measured effect).
    threshold : str or BaseThreshold, default='percentile'
        A name (``'percentile'``, ``'contamination'``, ``'mean_std'``,
        ``'spot'``, ``'dynamic'``; see
        :func:`~fusionlab.detection.thresholds.get_threshold`) or a strategy
        instance (cloned), fitted on the training series' calibration scores
        (see ``threshold_strategy_``).
    contamination : float, default=0.05
        Expected fraction of anomalous points, used by the ``'percentile'``
        (the ``100 * (1 - contamination)`` percentile of the calibration
        scores) and ``'contamination'`` strategies. In (0, 0.5].
    epochs, batch_size, learning_rate : int, int, float, default=15, 64, 1e-3
        Training settings (:class:`~fusionlab.detection.training.TrainingSchedule`).
    validation_split : float, default=0.1
        Fraction of the *last* points held out for validation (nothing
        leaks); none when 0 or (with a ``UserWarning``) when either part
        would hold fewer points than a window. Its windows are strided as
        the training windows are (``max_train_windows``).
    robust : bool, default=True
        Two-stage training for data that contain anomalies
        (:func:`~fusionlab.detection.training.fit_model`): a fresh model is
        trained without the windows covering the ``contamination`` share of
        highest-scoring points of the first, which would otherwise learn to
        reconstruct them. The first model is kept when those points are
        spread over most windows (``n_windows_left_out_`` is then 0).
    callbacks : list of keras.callbacks.Callback, optional
        Passed to ``model.fit`` (not saved).
    random_state : int, optional
        Seeds Python, NumPy and the backend (``keras.utils.set_random_seed``)
        and the window shuffling, so fits are reproducible.
    impute : {None, 'linear', 'ffill'}, default=None
        ``None`` rejects NaN/inf with a ``ValueError``. ``'linear'``
        interpolates them linearly (extending the edge values), ``'ffill'``
        carries the last valid value forward (then the first one backward).
    scorers : tuple of str, default=('reconstruction', 'discord', 'isolation', 'residual')
        ``'reconstruction'``, the model's error (always present: it also
        explains each point by feature), and subsequence scorers
        (:mod:`~fusionlab.detection.scorers`: ``'discord'``, each window's
        *shape* against the other training windows'; ``'isolation'``, an
        isolation forest on the windows' *values*; ``'residual'``, each
        point's principal-component residual over the features, what the
        others do not explain, 0 for a single feature; ``'flatness'``, a
        stuck sensor, not in the default). Each is put on a robust
        scale learned from its training scores and the scaled scores are
        combined (``combine``; :mod:`~fusionlab.detection.ensemble`).
        ``('reconstruction',)``: the model's error alone, as before.
    combine : {'mean', 'max'}, default='mean'
        How the scaled scores of several scorers are combined, point by point.
    scorer_window : int, optional
        Window of the subsequence scorers. ``None`` takes one whole period of
        the training data
        (:func:`~fusionlab.detection.period.choose_scorer_window`: the
        dominant period, 100 without a clear one, bounded to
        ``[min_window, min(400, n // 4)]``).
    smoothing : 'model', 'window', float or None, default='model'
        Width of a centred moving average of the scores
        (:func:`~fusionlab.detection.scoring.smooth_errors`). ``'model'``:
        the model's window (``smoothing_width_ = window_``), so each point
        scores the mean of the model window centred on it, however long the
        series. ``'window'``: the scorers' window (``scorer_window_``, else
        ``window_``; on NAB as good, but it widens short incidents into
        day-long events on 5-minute data). A number: a fraction of the
        training series, ``round(smoothing * n_points)`` in ``[1, 10 *
        window_]`` (0.015 was the default before: a width that grows with
        the series).
        ``None`` or 0: raw scores. Lasting anomalies then score over their
        whole extent and noise peaks are averaged away (as Hundman et al.,
        2018, smooth their errors); short anomalies of moderate size pay
        for it (the detector guide, "Smoothing the scores"). What a
        point-exact scorer (``'residual'``) gives a point beyond the end of
        its training scores' tail is not smoothed away: no point scores
        below it (:func:`~fusionlab.detection.scoring.keep_exact`).
    peak_weight : float, default=0.125
        Keeps isolated large errors visible through the smoothing: the score
        of a point is ``max(smoothed error, peak_weight * raw error)``, so a
        point whose own error is more than ``1 / peak_weight`` (8) times its
        neighbourhood's average keeps that fraction of it instead of being
        averaged away. 0 gives the plain moving average; 1 never scores a
        point below its raw error. In [0, 1]; no effect without smoothing.
        :meth:`explain` smooths each feature's errors the same way, so rows
        still sum to the score.
    merge_gap : int, optional
        :meth:`detect` merges flagged runs separated by at most ``merge_gap``
        points; ``None`` means ``window_ // 4``.
    model_params : dict, optional
        Keyword arguments of the built-in model factory (e.g.
        ``{'latent_dim': 4, 'lstm_units': 16}``).
    min_window, max_window : int, default=8, 64
        Bounds of the automatic window.
    predict_batch_size : int, default=1024
        Windows per batch when scoring.
    verbose : int, default=0
        Keras ``fit`` verbosity.

    Attributes
    ----------
    model_ : keras.Model
    scaler_ : transformer or None
    window_ : int
    horizon_ : int
        0 for reconstruction models, ``h`` for forecast models.
    threshold_ : float
    threshold_strategy_ : BaseThreshold
        Fitted on the training series' *calibration* scores: with
        subsequence scorers, the training scores raised by the scorers'
        optimism -- the median of the scores the series gets when each half
        is scored by scorers fitted on the other half
        (:func:`~fusionlab.detection.ensemble.held_out_raw_scores`), less
        the median of its training scores (never negative); with the model
        alone (or a series too short to halve), the training scores
        themselves.
    training_scores_ : ndarray of shape (n_points,)
        Scores of the training points (``score_samples`` of the training
        data).
    labels_ : ndarray of int, shape (n_points,)
        Their flags, ``training_scores_ > threshold_``.
    history_ : dict
        ``keras.callbacks.History.history`` of the training (of the model
        kept, the second one when ``robust`` training left windows out).
    n_windows_left_out_ : int
        Training windows the ``robust`` second stage left out (0 when it
        kept the first model or ``robust`` is False; None for a detector
        loaded from an archive that predates it).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names (``'x0'``, ``'x1'``... for arrays).
    model_id_ : str
        Model name and a hash of its weights.
    smoothing_width_ : int
        Points averaged by the score smoothing (1: none).
    point_error_level_ : float
        The ``1 - contamination`` quantile of the training points' own
        (unsmoothed) model errors: an event's bounds hold only points whose
        error exceeds it (:func:`~fusionlab.detection.events.refine_bounds`).
    calibrated_added_ : bool
        True: calibrated scorers (``'flatness'``) are added on top of the
        others' aggregate; False for an archive fitted before that, which
        averaged them with the others.
    exact_kept_ : bool
        True: point-exact scorers (``'residual'``) score every point on its
        own values and no point is smoothed below their unsmoothed share
        (:func:`~fusionlab.detection.scoring.keep_exact`; beyond their
        ``exact_scales_``); False for an archive fitted before that, which
        scored them on window centres and smoothed them with the others.
    exact_scales_ : list of RobustScale or None
        One per scorer name: for a point-exact scorer, the scale of what a
        point keeps unsmoothed, from where the tail of its held-out training
        scores ends up (:func:`~fusionlab.detection.ensemble.exact_scales`).
        With it, point-exact scorers are added on top of the others'
        aggregate and split over the features by their own per-feature
        parts. None without scorers, and for an archive fitted before
        that, which averaged them with the others, split them by the
        model's shares and kept their whole share unsmoothed.
    scorers_ : list of BaseScorer
        The fitted subsequence scorers (empty with the model's error alone).
    scorer_window_ : int or None
        Their window (None without any).
    scorer_scales_ : list of RobustScale
        The scale of each scorer's training scores, in the order of
        ``scorers`` (empty with the model's error alone).
    scorer_names_, combine_ : tuple of str, str
        ``scorers`` and ``combine`` as fitted: scoring reads these, so a
        ``set_params`` after ``fit`` changes nothing until the next ``fit``.
    time_scale_ : float or None
        Median gap between the training timestamps (seconds for datetimes),
        the unit of the time deltas fed to liquid models; None without
        timestamps.

    Examples
    --------
    >>> import numpy as np
    >>> from fusionlab.detection import AnomalyDetector
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.arange(300) * 2 * np.pi / 20) + rng.normal(0, 0.05, 300)
    >>> x[150:153] += 3.0
    >>> det = AnomalyDetector(model="conv_autoencoder", epochs=3, random_state=0)
    >>> det = det.fit(x)
    >>> det.window_
    20
    >>> scores = det.score_samples(x)
    >>> scores.shape
    (300,)
    >>> flags = det.predict(x)                  # 1 where score > threshold_
    >>> bool(flags[150:153].all()), bool(flags[:140].any() or flags[165:].any())
    (True, False)
    """

    def __init__(
        self,
        model="lstm_autoencoder",
        window=None,
        step=1,
        max_train_windows=2048,
        scaler="standard",
        threshold="percentile",
        contamination=0.05,
        epochs=15,
        batch_size=64,
        validation_split=0.1,
        learning_rate=1e-3,
        robust=True,
        callbacks=None,
        random_state=None,
        impute=None,
        merge_gap=None,
        scorers=("reconstruction", "discord", "isolation", "residual"),
        combine="mean",
        scorer_window=None,
        smoothing="model",
        peak_weight=0.125,
        model_params=None,
        min_window=8,
        max_window=64,
        predict_batch_size=1024,
        verbose=0,
    ):
        self.model = model
        self.window = window
        self.step = step
        self.max_train_windows = max_train_windows
        self.scaler = scaler
        self.threshold = threshold
        self.contamination = contamination
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.learning_rate = learning_rate
        self.robust = robust
        self.callbacks = callbacks
        self.random_state = random_state
        self.impute = impute
        self.merge_gap = merge_gap
        self.scorers = scorers
        self.combine = combine
        self.scorer_window = scorer_window
        self.smoothing = smoothing
        self.peak_weight = peak_weight
        self.model_params = model_params
        self.min_window = min_window
        self.max_window = max_window
        self.predict_batch_size = predict_batch_size
        self.verbose = verbose

    # ----------------------------------------------------------- validation
    def _check_params(self):
        """Check every parameter before any work; return the training schedule."""
        return check_detector_params(self)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, timestamps=None):
        """Fit the scaler, train the model on windows of ``X``, fit the threshold.

        Parameters
        ----------
        X : DataFrame, Series or array-like of shape (n_points, n_features)
            Time along the rows, numeric columns.
        y : ignored
            Unsupervised; present for scikit-learn's ``fit(X, y)``.
        timestamps : array-like of shape (n_points,), optional
            Sorted, unique times of the rows (defaults to a non-range index
            of ``X``). Liquid models (``'cfc'``, ``'ltc'``) train on the
            time deltas derived from them; other models ignore them.

        Returns
        -------
        self
        """
        schedule = self._check_params()
        series = read_series(X, timestamps, impute=self.impute)
        n, n_features = series.values.shape
        time_scale = median_gap(series.timestamps)
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        scaler = make_scaler(self.scaler)
        if scaler is not None:
            scaler.fit(series.values)
        scaled = scale_values(scaler, series.values)
        if self.window is None:
            window = choose_window(scaled, self.min_window, self.max_window)
        else:
            window = int(self.window)
        if n < window:
            raise ValueError(
                f"`X` has {n} rows, fewer than the window length {window}; "
                "give more data or a smaller `window`."
            )
        seed = None if self.random_state is None else int(self.random_state)
        # The subsequence scorers need no model: fitted first, so that a
        # setting they refuse fails before the training.
        scorers, scorer_window = fit_scorers(self.scorers, scaled, self.scorer_window,
                                             min_window=self.min_window, seed=seed)
        trained = fit_model(
            lambda: make_model(self.model, window, n_features, self.model_params),
            scaled,
            window,
            schedule,
            deltas_for=lambda model: model_time_deltas(model, series.timestamps, n, time_scale),
            robust=self.robust,
            contamination=self.contamination,
            predict_batch_size=self.predict_batch_size,
        )
        # Every learned attribute is set here, once nothing more can fail
        # but the scoring of the training data with them.
        self.time_scale_ = time_scale
        self.n_features_in_ = n_features
        self.feature_names_in_ = series.names
        self._fitted_with_names = series.has_names
        self.scaler_ = scaler
        self.window_ = window
        self.scorer_names_ = check_scorers(self.scorers)
        self.combine_ = self.combine
        self.scorers_, self.scorer_window_ = scorers, scorer_window
        self.smoothing_width_ = smoothing_width(self.smoothing, n, window, scorer_window or window)
        self.model_ = trained.model
        self.horizon_ = trained.horizon
        self.history_ = trained.history
        self.n_windows_left_out_ = trained.n_windows_left_out
        self.model_id_ = model_id(trained.model, model_name(self.model))
        self.scorer_scales_ = []
        self.calibrated_added_ = True
        self.exact_kept_ = True
        try:
            errors = next(iter_model_errors(self, [(scaled, series.timestamps)]))[1]
            raws = scorer_raw_scores(self, scaled, errors) if self.scorers_ else None
            # Each scorer's scale is learned from its training scores.
            self.scorer_scales_ = fit_scales(self.scorer_names_, raws) if raws else []
            held = held_out_scores(self, scaled, raws, seed)
            # What a point-exact scorer keeps unsmoothed starts where its
            # training scores' tail ends, held out where the series allows.
            self.exact_scales_ = (exact_scales(self.scorer_names_, self.scorer_scales_,
                                               raws if held is None else held,
                                               self.contamination)
                                  if raws else None)
            scores = finish_contributions(self, scaled, errors, raws).sum(axis=1)
            # The level most training points' own errors stay under: an event's
            # bounds hold only points above it (refine_bounds' floor).
            self.point_error_level_ = float(np.quantile(errors.sum(axis=1),
                                                        1.0 - self.contamination))
            calibration = calibration_scores(self, scaled, errors, held, scores)
            self.threshold_strategy_ = get_threshold(self.threshold,
                                                     self.contamination).fit(calibration)
        except BaseException:
            # A half-fitted detector must not pass for a fitted one.
            self.__dict__.pop("threshold_", None)
            self.__dict__.pop("point_error_level_", None)
            raise
        self._set_training_scores(scores, self.threshold_strategy_.threshold_)
        return self

    def _time_deltas(self, model, stamps, n):
        """Time before each point for a time-aware model, else None."""
        return model_time_deltas(model, stamps, n, self.time_scale_)

    # -------------------------------------------------------------- scoring
    def _contributions(self, scaled, stamps=None):
        """Smoothed per-point, per-feature contributions (rows sum to the score)."""
        return next(self._iter_contributions([(scaled, stamps)]))[1]

    def _iter_contributions(self, prepared, batch_size=None):
        """``(index, contributions)`` of several ``(scaled, stamps)`` series, sharing
        model calls (:func:`~fusionlab.detection.point_scores.iter_contributions`)."""
        return iter_contributions(self, prepared, batch_size)

    def _prepare(self, X, timestamps=None):
        check_is_fitted(self, ("model_", "threshold_"))
        series = read_series(
            X, timestamps, impute=self.impute, n_features=self.n_features_in_,
            feature_names=self.feature_names_in_, compare_names=self._fitted_with_names,
        )
        span = self.window_ + self.horizon_
        if series.values.shape[0] < span:
            raise ValueError(
                f"`X` has {series.values.shape[0]} rows, fewer than the window length "
                f"{span}; it cannot be scored."
            )
        return series, scale_values(self.scaler_, series.values)

    def score_samples(self, X, timestamps=None):
        """Anomaly score of every point: higher is more anomalous.

        The squared error of each point averaged over the windows covering it
        and over features (0 for the first ``window_`` points of a forecast
        model, which nothing forecasts), smoothed as ``smoothing`` and
        ``peak_weight`` say.

        Returns
        -------
        Series (same index as ``X``) when ``X`` is pandas, else ndarray of shape
        (n_points,).
        """
        series, scaled = self._prepare(X, timestamps)
        scores = self._contributions(scaled, series.timestamps).sum(axis=1)
        if isinstance(X, (pd.Series, pd.DataFrame)):
            return pd.Series(scores, index=series.index, name="score")
        return scores

    def decision_function(self, X, timestamps=None):
        """Same as :meth:`score_samples` (higher means more anomalous, as in PyOD)."""
        return self.score_samples(X, timestamps)

    def predict(self, X, timestamps=None):
        """1 for points whose score exceeds ``threshold_``, else 0."""
        return super().predict(X, timestamps=timestamps)

    def explain(self, X, timestamps=None):
        """Per-point, per-feature contributions to the score.

        Returns
        -------
        DataFrame of shape (n_points, n_features)
            Columns are ``feature_names_in_``; each row sums to the point's
            score. The index is that of ``X`` (a range index for arrays).
        """
        series, scaled = self._prepare(X, timestamps)
        contributions = self._contributions(scaled, series.timestamps)
        index = series.index
        return pd.DataFrame(
            contributions,
            index=index if index is not None else pd.RangeIndex(len(contributions)),
            columns=list(self.feature_names_in_),
        )

    def detect(self, X, timestamps=None, top_k=3):
        """Anomalous events of ``X``.

        Runs of points with ``score > threshold_`` (merged over gaps of at
        most ``merge_gap`` points) become :class:`Anomaly` records bounded
        by the model's unsmoothed point errors (the points whose own error
        reaches a tenth of the event's largest:
        :func:`~fusionlab.detection.events.refine_bounds`), with peak and
        mean score, severity from ``peak_score / threshold_``, the type read
        from the scaled values of the top feature, and the ``top_k``
        features with the largest share of the error: the rules of
        :func:`~fusionlab.detection.events.build_events`.

        Returns
        -------
        AnomalyList
            Events in time order; ``.to_frame()`` gives a table.
        """
        top_k = check_positive_int(top_k, "top_k")
        series, scaled = self._prepare(X, timestamps)
        errors = next(iter_model_errors(self, [(scaled, series.timestamps)]))[1]
        raws = scorer_raw_scores(self, scaled, errors) if self.scorer_scales_ else None
        contributions = finish_contributions(self, scaled, errors, raws)
        # Events are named by timestamps, else by the labels of a range index
        # (as score_samples labels its Series), else by position.
        labels = series.timestamps if series.timestamps is not None else series.index
        return build_events(
            contributions.sum(axis=1),
            contributions,
            scaled,
            self.threshold_,
            feature_names=self.feature_names_in_,
            merge_gap=self.merge_gap if self.merge_gap is not None else self.window_ // 4,
            smoothing_width=self.smoothing_width_,
            labels=labels,
            top_k=top_k,
            model_id=self.model_id_,
            window=self.window_,
            evidence=errors.sum(axis=1),
            evidence_floor=getattr(self, "point_error_level_", 0.0),
            located=located_scores(self.scorer_names_, raws) if raws else None,
        )

    # ---------------------------------------------------------------- state
    def get_state(self):
        """The fitted state as ``(config, model, arrays)``, what an archive holds.

        See :func:`fusionlab.detection.state.detector_state`; :meth:`from_state`
        rebuilds the detector.
        """
        check_is_fitted(self, ("model_", "threshold_"))
        return detector_state(self)

    @classmethod
    def from_state(cls, config, model, arrays):
        """A fitted detector from :meth:`get_state`'s ``(config, model, arrays)``.

        Its ``callbacks`` are ``None``; a custom model or scaler given at
        construction is replaced by the fitted one (``model_``/``scaler_``).
        """
        return detector_from_state(cls, config, model, arrays)

    def save(self, path):
        """Save the fitted detector to one zip archive at ``path``; return ``path``.

        The archive (see :mod:`fusionlab.detection.io`) holds
        :meth:`get_state`: nothing is pickled. It is written to a temporary
        file first and moved over ``path`` when complete, so an interrupted
        save never breaks an older archive.
        """
        return io.write_archive(path, *self.get_state())

    @classmethod
    def load(cls, path, *, max_config_bytes=None, max_member_bytes=None):
        """Load a detector saved with :meth:`save`; it gives the same scores.

        Nothing is unpickled, and nothing read is trusted: members are
        size-checked before they are decompressed (``max_config_bytes`` and
        ``max_member_bytes`` override :data:`fusionlab.detection.io.MAX_CONFIG_BYTES`
        and :data:`~fusionlab.detection.io.MAX_MEMBER_BYTES`), and every
        parameter and learned value is checked
        (:func:`~fusionlab.detection.state.detector_from_state`).

        Raises
        ------
        ValueError
            For anything but a sound archive; the message names the archive
            and the member or field at fault.
        """
        config, model, arrays = io.read_archive(
            path, arrays=(TRAINING_SCORES,), expected_format=FORMAT,
            max_config_bytes=max_config_bytes, max_member_bytes=max_member_bytes,
        )
        try:
            return cls.from_state(config, model, arrays)
        except ValueError as exc:
            raise ValueError(f"{str(path)!r} holds an invalid detector: {exc}") from exc


def save_detector(detector, path):
    """Write a fitted detector to the zip archive ``path``; return ``path``.

    Same as ``detector.save(path)``.
    """
    return detector.save(path)


def load_detector(path):
    """Read a detector written by :func:`save_detector` (``AnomalyDetector.load``)."""
    return AnomalyDetector.load(path)
