"""The high-level detector: model -> point scores -> threshold -> events."""

from __future__ import annotations

import hashlib
import warnings

import keras
import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d
from sklearn.base import BaseEstimator, clone
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    as_2d,
    check_finite,
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_rate,
)
from .events import (
    Anomaly,
    AnomalyList,
    classify_segment,
    find_segments,
    severity_from_ratio,
)
from .models import build_model, time_aware
from .period import choose_window
from .scoring import point_errors
from .thresholds import get_threshold
from .windowing import WindowDataset, window_starts

__all__ = ["AnomalyDetector"]

_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def _gaps(stamps):
    """Gaps between consecutive timestamps: seconds for datetimes, else numbers."""
    if pd.api.types.is_numeric_dtype(stamps.dtype):
        return np.diff(np.asarray(stamps, dtype=np.float64))
    try:
        stamps = pd.DatetimeIndex(stamps)
        return np.asarray((stamps[1:] - stamps[:-1]).total_seconds(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "Timestamps must be datetimes or numbers to derive time deltas; "
            f"received dtype {stamps.dtype}."
        ) from exc


def _median_gap(stamps):
    """Median gap of ``stamps`` (None without timestamps or with one point)."""
    if stamps is None or len(stamps) < 2:
        return None
    return float(np.median(_gaps(stamps)))


def _label(labels, position):
    """Name of the row at ``position``: its label, or the position itself."""
    if labels is None:
        return position
    label = labels[position]
    return int(label) if isinstance(labels, pd.RangeIndex) else label


def _core(start, end, width, segment_scores):
    """Bounds of the event ``start..end`` without what smoothing added.

    A centred average over ``width`` points lets a run of high errors cross
    the threshold up to ``width - 1`` points early or late in all, so the
    event's type is read on the span less those points; when nothing is
    left, on its highest-scoring point.
    """
    extra = width - 1
    low, high = start + extra // 2, end - (extra - extra // 2)
    if high < low:
        low = high = start + int(np.argmax(segment_scores))
    return low, high


class AnomalyDetector(BaseEstimator):
    """Unsupervised anomaly detector for (multivariate) time series.

    A pipeline of small swappable parts:

    1. **scaler** -- a scikit-learn transformer fitted on the training data;
    2. **model** -- a Keras model trained to reconstruct (or forecast) sliding
       windows of the scaled series, fed by a
       :class:`~fusionlab.detection.WindowDataset`;
    3. **scorer** -- the squared error of every step and feature of every
       window, averaged for each point over *all* the windows that cover it
       (:class:`~fusionlab.detection.scoring.PointErrorAccumulator`), then
       averaged over features: one score per time point, high where the
       anomaly actually is, smoothed over a centred stretch of the series
       with isolated large errors kept (``smoothing``, ``peak_weight``);
    4. **threshold** -- a strategy from :mod:`fusionlab.detection.thresholds`
       fitted on the training scores;
    5. **events** -- flagged points grouped into :class:`Anomaly` records
       with severity, type and top features.

    Parameters
    ----------
    model : str or keras.Model, default='lstm_autoencoder'
        A registered name (``'lstm_autoencoder'``, ``'conv_autoencoder'``,
        ``'cfc'``, ``'ltc'``; see :func:`~fusionlab.detection.register_model`) or a Keras model taking
        windows ``(batch, window, n_features)``. A model whose output has the
        input's shape is a *reconstruction* model; its error is
        ``(x - model(x))**2`` at every step. Any other output must be a
        *forecast* of the next ``h`` points, shape ``(batch, h, n_features)``
        (or ``(batch, n_features)`` for ``h = 1``); its error is the squared
        forecast error of those points, and the first ``window`` points of a
        series (which no forecast covers) get error 0 (smoothing then gives
        the last ones a part of their neighbours' errors). A model instance is a
        template: ``fit`` trains a clone (``keras.models.clone_model``) with
        fresh weights, compiled with Adam and the mean squared error.

        ``'cfc'`` and ``'ltc'`` (and any
        :class:`~fusionlab.nn.anomaly_detection.LiquidAutoencoderAnomaly`)
        are liquid autoencoders for irregularly sampled series: they also
        read the time elapsed before each point, which the detector derives
        from the timestamps (``timestamps`` or a non-range index of ``X``):
        the gap to the previous timestamp divided by ``time_scale_``, the
        median gap of the training timestamps (so a regularly sampled series
        has deltas of 1 and a point after two missing ones a delta of 3).
        Gaps of datetimes are measured in seconds, of numbers in their own
        unit; the first point gets delta 1, and without timestamps every
        delta is 1.
    window : int, optional
        Window length. ``None`` picks the dominant period of the training data
        (:func:`~fusionlab.detection.period.choose_window`): bounded to
        ``[min_window, min(max_window, n // 4)]``, 32 when there is no clear
        period.
    step : int, default=1
        Stride of the training windows (scoring always uses every window).
    max_train_windows : int or None, default=4096
        Upper bound on the number of training windows: a longer series is
        trained on every ``k``-th window (``k`` the smallest stride that
        keeps at most this many), so training time stops growing with the
        length of the series while scoring still uses every window. ``None``
        trains on every ``step``-th window whatever the length.
    scaler : {'standard', 'minmax', 'robust'}, None or transformer, default='standard'
        Scaling fitted on the training data (a transformer is cloned).
        Constant columns scale to constants, never NaN. For series whose
        anomalies are extreme values, ``scaler='robust'`` with
        ``model_params={'activation': 'tanh'}`` bounds the reconstruction to
        the usual range, so far-out values score by their distance (mean
        VUS-PR 0.415 against 0.393 on the NAB files, in the same time;
        ``benchmarks/nab.py``, variant ``robust_tanh``). The bound also
        clips normal values beyond the interquartile range (about a fifth
        of Gaussian data), so it is not the default.
    threshold : str or BaseThreshold, default='percentile'
        A name (``'percentile'``, ``'contamination'``, ``'mean_std'``,
        ``'spot'``, ``'dynamic'``; see
        :func:`~fusionlab.detection.thresholds.get_threshold`) or a strategy
        instance (cloned).
    contamination : float, default=0.05
        Expected fraction of anomalous points, used by the ``'percentile'``
        (the ``100 * (1 - contamination)`` percentile of the training scores)
        and ``'contamination'`` strategies. In (0, 0.5].
    epochs : int, default=15
    batch_size : int, default=64
        Training batch size.
    validation_split : float, default=0.1
        Fraction of the *last* points held out for validation (their windows
        lie entirely after the training windows, so nothing leaks). No
        validation when 0, or (with a ``UserWarning``) when either part would
        hold fewer points than a window.
    learning_rate : float, default=1e-3
    robust : bool, default=True
        Two-stage training, for training data that contain anomalies: a first
        model is trained on all windows and scores the training points; the
        windows covering the ``contamination`` fraction of highest-scoring
        points are left out and a *fresh* model is trained on the others (the
        validation windows are kept). Without it an autoencoder tends to
        learn to reconstruct the anomalies it was trained on (a level shift
        then only scores at its edges). Doubles the training time, except
        when those points are spread over more than half of the training
        windows (noise peaks rather than a few anomalies, 6 of the 13 NAB
        files): nothing is then left out and the first model is kept
        (``n_windows_left_out_`` is 0).
    callbacks : list of keras.callbacks.Callback, optional
        Passed to ``model.fit`` (not saved).
    random_state : int, optional
        Seeds Python, NumPy and the backend (``keras.utils.set_random_seed``)
        and the window shuffling, so fits are reproducible.
    impute : {None, 'linear', 'ffill'}, default=None
        ``None`` rejects NaN/inf with a ``ValueError``. ``'linear'``
        interpolates them linearly (extending the edge values), ``'ffill'``
        carries the last valid value forward (then the first one backward).
    smoothing : float or None, default=0.015
        Width of a centred moving average applied to the point errors, as a
        fraction of the length of the training series:
        ``smoothing_width_ = round(smoothing * n_points)``, at least 1 and at
        most ``10 * window_`` points (edges repeat the first/last error).
        ``None`` or 0 keeps the raw per-point errors. Smoothing makes an
        anomaly that lasts (an incident of hours, a level shift) score over
        its whole extent rather than at a few noisy peaks, and averages away
        the isolated noise peaks of normal stretches, as Hundman et al.
        (2018) and Orion smooth their error series. Measured
        (``benchmarks/nab.py``): on the NAB files, whose labelled windows are
        hundreds of points wide, the mean VUS-PR of the default detector is
        0.21 with raw errors and 0.39 with the default smoothing. The price
        is paid by short anomalies of moderate size, which are averaged with
        their neighbours: in the 400-point series of the detector guide
        (6-point average) a 3-point drop peaks at 1.5 times the threshold
        instead of 6 times with raw errors, and with ``contamination=0.03``
        it is not flagged at all. Set ``smoothing=None`` when the anomalies
        you look for last a few points and are not far out.
    peak_weight : float, default=0.125
        Keeps isolated large errors visible through the smoothing: the score
        of a point is ``max(smoothed error, peak_weight * raw error)``, so a
        point whose own error is more than ``1 / peak_weight`` (8) times its
        neighbourhood's average keeps that fraction of it instead of being
        averaged away (a 1-point spike in a 10,000-point series, where the
        average spans 150 points, would otherwise lose 99 % of its score).
        0 gives the plain moving average; 1 never scores a point below its
        raw error. In [0, 1]; no effect without smoothing.
        :meth:`explain` smooths each feature's errors the same way, so rows
        still sum to the score and a point near an anomaly is explained by
        the feature whose errors raised its average; ``robust`` training
        picks the windows to leave out from the raw errors.
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
    training_scores_ : ndarray of shape (n_points,)
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
    >>> 150 <= int(np.argmax(scores)) <= 152
    True
    """

    def __init__(
        self,
        model="lstm_autoencoder",
        window=None,
        step=1,
        max_train_windows=4096,
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
        smoothing=0.015,
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
        self.smoothing = smoothing
        self.peak_weight = peak_weight
        self.model_params = model_params
        self.min_window = min_window
        self.max_window = max_window
        self.predict_batch_size = predict_batch_size
        self.verbose = verbose

    # ----------------------------------------------------------- validation
    def _check_params(self):
        check_positive_int(self.step, "step")
        check_positive_int(self.max_train_windows, "max_train_windows", allow_none=True)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.predict_batch_size, "predict_batch_size")
        check_positive_int(self.window, "window", allow_none=True)
        check_positive_int(self.min_window, "min_window")
        check_positive_int(self.max_window, "max_window")
        check_non_negative_int(self.merge_gap, "merge_gap", allow_none=True)
        check_rate(self.validation_split, "validation_split", include_high=False)
        check_rate(self.contamination, "contamination", low=0.0, high=0.5)
        if self.contamination == 0:
            raise ValueError("`contamination` must be in (0, 0.5]; received 0.")
        check_rate(self.learning_rate, "learning_rate", low=0.0, high=np.inf)
        if self.learning_rate == 0:
            raise ValueError("`learning_rate` must be > 0; received 0.")
        if self.min_window > self.max_window:
            raise ValueError(
                f"`min_window` ({self.min_window}) must not exceed `max_window` "
                f"({self.max_window})."
            )
        # A bad threshold name or type fails here, not after the training.
        get_threshold(self.threshold, self.contamination)
        if self.smoothing is not None:
            check_rate(self.smoothing, "smoothing", low=0.0, high=1.0, include_high=False)
        check_rate(self.peak_weight, "peak_weight")
        if not isinstance(self.robust, bool):
            raise TypeError(f"`robust` must be True or False; received {self.robust!r}.")
        check_option(self.impute, "impute", (None, "linear", "ffill"))
        if not isinstance(self.model, (str, keras.Model)):
            raise TypeError(
                "`model` must be a registered model name or a keras.Model; received "
                f"{self.model!r} of type {type(self.model).__name__}."
            )
        if self.model_params is not None and not isinstance(self.model_params, dict):
            raise TypeError(f"`model_params` must be a dict; received {self.model_params!r}.")

    def _make_scaler(self):
        if self.scaler is None:
            return None
        if isinstance(self.scaler, str):
            key = check_option(self.scaler, "scaler", tuple(_SCALERS))
            return _SCALERS[key]()
        if hasattr(self.scaler, "fit") and hasattr(self.scaler, "transform"):
            return clone(self.scaler)
        raise TypeError(
            "`scaler` must be 'standard', 'minmax', 'robust', None or a scikit-learn "
            f"transformer; received {self.scaler!r}."
        )

    def _validate_data(self, X, timestamps, *, fitting):
        """Return (values float64 (n, f), names, index or None, timestamps or None)."""
        index = None
        if isinstance(X, pd.Series):
            X = X.to_frame(name=X.name if X.name is not None else "x0")
        if isinstance(X, pd.DataFrame):
            bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
            if bad:
                raise TypeError(
                    "`X` must hold numeric columns only; received non-numeric column(s) "
                    f"{bad} (dtypes {[str(X[c].dtype) for c in bad]}). Drop them or pass "
                    "the numeric columns."
                )
            index = X.index
            if all(isinstance(c, str) for c in X.columns):
                names = np.asarray(X.columns, dtype=object)
                has_names = True
            else:
                names = np.asarray([f"x{i}" for i in range(X.shape[1])], dtype=object)
                has_names = False
            values = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            try:
                values = np.asarray(X, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    "`X` must be a numeric array, DataFrame or Series of shape "
                    f"(n_points, n_features); could not convert it to float ({exc})."
                ) from exc
            values = as_2d(values, "X")
            names = np.asarray([f"x{i}" for i in range(values.shape[1])], dtype=object)
            has_names = False
        n, f = values.shape
        if n == 0 or f == 0:
            raise ValueError(
                f"`X` is empty: received shape {values.shape}; expected at least one "
                "row and one column."
            )
        if not fitting:
            if f != self.n_features_in_:
                raise ValueError(
                    f"`X` has {f} features but the detector was fitted with "
                    f"{self.n_features_in_} ({list(self.feature_names_in_)})."
                )
            if has_names and self._fitted_with_names and list(names) != list(
                self.feature_names_in_
            ):
                raise ValueError(
                    "The feature names of `X` differ from those seen at fit: "
                    f"received {list(names)}, expected {list(self.feature_names_in_)}."
                )
        stamps = self._validate_timestamps(timestamps, index, n)
        values = self._clean(values, names)
        return values, names, has_names, index, stamps

    @staticmethod
    def _validate_timestamps(timestamps, index, n):
        if timestamps is None:
            if index is None or isinstance(index, pd.RangeIndex):
                return None
            stamps, source = index, "the index of `X`"
        else:
            stamps, source = pd.Index(np.asarray(timestamps)), "`timestamps`"
            if len(stamps) != n:
                raise ValueError(
                    f"`timestamps` must have one value per row of `X` ({n}); received "
                    f"{len(stamps)}."
                )
        if stamps.hasnans:
            pos = int(np.flatnonzero(stamps.isna())[0])
            raise ValueError(
                f"{source} holds missing timestamps (first at position {pos}); every "
                "row needs a time."
            )
        if stamps.has_duplicates:
            dup = stamps[stamps.duplicated()][0]
            raise ValueError(f"{source} holds duplicate timestamps (first: {dup!r}).")
        if not stamps.is_monotonic_increasing:
            raw = np.asarray(stamps)
            pos = int(np.flatnonzero(raw[1:] < raw[:-1])[0]) + 1
            raise ValueError(
                f"{source} must be sorted in increasing order; received "
                f"{raw[pos - 1]!r} before {raw[pos]!r} (position {pos}). Sort the data "
                "by time first."
            )
        return stamps

    def _clean(self, values, names):
        bad = ~np.isfinite(values)
        if not bad.any():
            return values
        if self.impute is None:
            check_finite(values, "X")
        frame = pd.DataFrame(np.where(bad, np.nan, values))
        empty = [str(names[i]) for i in np.flatnonzero(frame.isna().all().to_numpy())]
        if empty:
            raise ValueError(
                f"Cannot impute column(s) {empty}: they hold no finite value."
            )
        if self.impute == "linear":
            frame = frame.interpolate(method="linear", limit_direction="both")
        else:
            frame = frame.ffill().bfill()
        return frame.to_numpy(dtype=np.float64)

    def _scale(self, values, *, fitting):
        if fitting:
            self.scaler_ = self._make_scaler()
            if self.scaler_ is not None:
                self.scaler_.fit(values)
        scaled = values if self.scaler_ is None else self.scaler_.transform(values)
        scaled = np.ascontiguousarray(scaled, dtype=np.float32)
        if not np.all(np.isfinite(scaled)):
            raise ValueError(
                "The scaler produced NaN or infinite values; check the data or the "
                f"scaler ({self.scaler_!r})."
            )
        return scaled

    # ---------------------------------------------------------------- model
    def _make_model(self, n_features):
        params = dict(self.model_params or {})
        if isinstance(self.model, str):
            return build_model(self.model, self.window_, n_features, **params), 0
        try:
            model = keras.models.clone_model(self.model)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot clone"
            raise TypeError(
                f"Could not clone the model {type(self.model).__name__} ({exc}). "
                "Give a Functional/Sequential model or register the subclass with "
                "keras.saving.register_keras_serializable and implement get_config."
            ) from exc
        probe = np.zeros((1, self.window_, n_features), dtype=np.float32)
        output = tuple(np.shape(keras.ops.convert_to_numpy(model(probe))))
        if output == probe.shape:
            return model, 0
        if len(output) == 2 and output == (1, n_features):
            return model, 1
        if len(output) == 3 and output[0] == 1 and output[2] == n_features:
            return model, int(output[1])
        raise ValueError(
            f"The model maps windows of shape (batch, {self.window_}, {n_features}) to "
            f"shape {('batch',) + output[1:]}; expected a reconstruction (batch, "
            f"{self.window_}, {n_features}) or a forecast (batch, h, {n_features}) / "
            f"(batch, {n_features})."
        )

    def _model_name(self):
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    def _compute_model_id(self):
        digest = hashlib.sha1()
        for weight in self.model_.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        return f"{self._model_name()}-{digest.hexdigest()[:12]}"

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
        self._check_params()
        values, names, has_names, _, stamps = self._validate_data(X, timestamps, fitting=True)
        n, n_features = values.shape
        self.time_scale_ = _median_gap(stamps)
        self.n_features_in_ = n_features
        self.feature_names_in_ = names
        self._fitted_with_names = has_names
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        scaled = self._scale(values, fitting=True)
        if self.window is None:
            self.window_ = choose_window(scaled, self.min_window, self.max_window)
        else:
            self.window_ = int(self.window)
        self.smoothing_width_ = int(
            np.clip(round((self.smoothing or 0.0) * n), 1, 10 * self.window_)
        )
        if n < self.window_:
            raise ValueError(
                f"`X` has {n} rows, fewer than the window length {self.window_}; "
                "give more data or a smaller `window`."
            )
        self.model_, self.horizon_ = self._train(scaled, n_features, stamps=stamps)
        self.n_windows_left_out_ = 0
        if self.robust:
            # Stage 2: leave out the windows that cover the highest-scoring
            # points and train a fresh model on the rest. Raw errors pick
            # them: smoothing would spend the budget on the widest anomaly
            # and let the model learn the short ones.
            scores = self._contributions(scaled, stamps, smooth=False).sum(axis=1)
            cut = np.quantile(scores, 1.0 - self.contamination)
            suspect = np.r_[0, np.cumsum(scores > cut)]
            span = self.window_ + self.horizon_
            starts, _ = self._training_windows(n, span, warn=False)
            # suspect is the cumulative count of suspect points: a window is
            # clean when the count does not grow over its span.
            clean = suspect[starts + span] == suspect[starts]
            # Suspects spread over most windows are noise peaks, not a few
            # anomalies: leaving them out would leave little to learn from
            # (on the NAB files keeping only the least suspect half scored
            # lower), so the first model is kept.
            if clean.sum() >= 0.5 * starts.size:
                self.model_, _ = self._train(
                    scaled, n_features, starts=starts[clean], stamps=stamps
                )
                self.n_windows_left_out_ = int(starts.size - clean.sum())
        contributions = self._contributions(scaled, stamps)
        self.training_scores_ = contributions.sum(axis=1)
        self.threshold_strategy_ = get_threshold(self.threshold, self.contamination)
        self.threshold_strategy_.fit(self.training_scores_)
        self.threshold_ = float(self.threshold_strategy_.threshold_)
        self.model_id_ = self._compute_model_id()
        return self

    def _time_deltas(self, model, stamps, n):
        """Time before each point for a liquid model, else None."""
        if not time_aware(model):
            return None
        if stamps is None:
            return np.ones(n, dtype=np.float32)
        gaps = _gaps(stamps)
        scale = self.time_scale_ if self.time_scale_ else _median_gap(stamps)
        return np.r_[1.0, gaps / scale].astype(np.float32)

    def _train(self, scaled, n_features, starts=None, stamps=None):
        n = scaled.shape[0]
        model, horizon = self._make_model(n_features)
        span = self.window_ + horizon
        if n < span:
            raise ValueError(
                f"`X` has {n} rows, fewer than window + forecast horizon = {span}."
            )
        self.horizon_ = horizon
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate), loss="mse"
        )
        deltas = self._time_deltas(model, stamps, n)
        train, valid = self._datasets(scaled, span, starts, deltas)
        history = model.fit(
            train,
            validation_data=valid,
            epochs=self.epochs,
            callbacks=list(self.callbacks or []),
            verbose=self.verbose,
        )
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return model, horizon

    def _training_windows(self, n, span, warn=True):
        """Starts of the training windows and the number of validation points."""
        n_valid = int(round(self.validation_split * n))
        if n_valid and (n_valid < span or n - n_valid < span):
            if warn:
                warnings.warn(
                    f"validation_split={self.validation_split} leaves {n_valid} "
                    f"validation and {n - n_valid} training points, fewer than the "
                    f"span of one window ({span}); training without validation.",
                    UserWarning,
                    stacklevel=5,
                )
            n_valid = 0
        starts = window_starts(n - n_valid, span, self.step)
        if self.max_train_windows is not None and starts.size > self.max_train_windows:
            starts = starts[:: -(-starts.size // self.max_train_windows)]
        return starts, n_valid

    def _datasets(self, scaled, span, starts=None, deltas=None):
        n = scaled.shape[0]
        seed = None if self.random_state is None else int(self.random_state)
        common = dict(
            window=self.window_, horizon=self.horizon_, batch_size=self.batch_size,
            time_delta=deltas,
        )
        all_starts, n_valid = self._training_windows(n, span)
        if starts is None:
            starts = all_starts
        train = WindowDataset(scaled, shuffle=True, seed=seed, starts=starts, **common)
        valid = None
        if n_valid:
            valid = WindowDataset(scaled, step=self.step, start=n - n_valid, **common)
        return train, valid

    # -------------------------------------------------------------- scoring
    def _contributions(self, scaled, stamps=None, smooth=True):
        errors, _ = point_errors(
            self.model_,
            scaled,
            self.window_,
            horizon=self.horizon_,
            batch_size=self.predict_batch_size,
            time_delta=self._time_deltas(self.model_, stamps, scaled.shape[0]),
        )
        contributions = errors / errors.shape[1]
        width = self.smoothing_width_ if smooth else 1
        if width == 1:
            return contributions
        # Each feature's errors averaged over the neighbourhood (they sum to
        # the averaged score), unless a fraction of the point's own error is
        # larger: lasting anomalies then score over their whole extent, a
        # far-out single point is not averaged away, and the score is
        # explained by the errors that made it.
        averaged = uniform_filter1d(contributions, width, axis=0, mode="nearest")
        peak = self.peak_weight * contributions
        own = peak.sum(axis=1) > averaged.sum(axis=1)
        return np.where(own[:, None], peak, averaged)

    def _prepare(self, X, timestamps=None):
        check_is_fitted(self, ("model_", "threshold_"))
        values, names, _, index, stamps = self._validate_data(X, timestamps, fitting=False)
        span = self.window_ + self.horizon_
        if values.shape[0] < span:
            raise ValueError(
                f"`X` has {values.shape[0]} rows, fewer than the window length "
                f"{span}; it cannot be scored."
            )
        return self._scale(values, fitting=False), index, stamps, isinstance(X, (pd.Series, pd.DataFrame))

    def _wrap(self, scores, index, is_pandas, name):
        if is_pandas:
            return pd.Series(scores, index=index, name=name)
        return scores

    def score_samples(self, X, timestamps=None):
        """Anomaly score of every point: higher is more anomalous.

        The score of point ``t`` is the squared reconstruction error of ``t``
        averaged over every window covering it and over features (forecast
        models: the squared forecast error of ``t`` averaged likewise; 0 for
        the first ``window_`` points, which nothing forecasts), then smoothed:
        the larger of its average over the ``smoothing_width_`` points
        centred on ``t`` and ``peak_weight`` times its own value (see
        ``smoothing``).

        Returns
        -------
        Series (same index as ``X``) when ``X`` is pandas, else ndarray of shape
        (n_points,).
        """
        scaled, index, stamps, is_pandas = self._prepare(X, timestamps)
        return self._wrap(
            self._contributions(scaled, stamps).sum(axis=1), index, is_pandas, "score"
        )

    def decision_function(self, X, timestamps=None):
        """Same as :meth:`score_samples` (higher means more anomalous, as in PyOD)."""
        return self.score_samples(X, timestamps)

    def predict(self, X, timestamps=None):
        """1 for points whose score exceeds ``threshold_``, else 0."""
        scaled, index, stamps, is_pandas = self._prepare(X, timestamps)
        scores = self._contributions(scaled, stamps).sum(axis=1)
        return self._wrap((scores > self.threshold_).astype(int), index, is_pandas, "anomaly")

    def explain(self, X, timestamps=None):
        """Per-point, per-feature contributions to the score.

        Returns
        -------
        DataFrame of shape (n_points, n_features)
            Columns are ``feature_names_in_``; each row sums to the point's
            score. The index is that of ``X`` (a range index for arrays).
        """
        scaled, index, stamps, _ = self._prepare(X, timestamps)
        contributions = self._contributions(scaled, stamps)
        return pd.DataFrame(
            contributions,
            index=index if index is not None else pd.RangeIndex(len(contributions)),
            columns=list(self.feature_names_in_),
        )

    def detect(self, X, timestamps=None, top_k=3):
        """Anomalous events of ``X``.

        Points with ``score > threshold_`` are grouped into segments (runs
        separated by at most ``merge_gap`` points merged; see
        :func:`~fusionlab.detection.events.find_segments`). Each becomes an
        :class:`Anomaly` with peak and mean score, severity from
        ``peak_score / threshold_``
        (:func:`~fusionlab.detection.events.severity_from_ratio`; ``'critical'``
        when ``threshold_ <= 0``, ``metadata["score_ratio"]`` then None), type
        from the scaled values of its top
        feature (:func:`~fusionlab.detection.events.classify_segment`) over
        the event less the ``smoothing_width_ - 1`` points that the score
        smoothing can add at its edges (its peak point when no more is left),
        and the ``top_k`` features with the largest share of its error.

        Returns
        -------
        AnomalyList
            Events in time order; ``.to_frame()`` gives a table.
        """
        top_k = check_positive_int(top_k, "top_k")
        scaled, index, stamps, _ = self._prepare(X, timestamps)
        # Events are named by timestamps, else by the labels of a range index
        # (as score_samples labels its Series), else by position.
        labels = stamps if stamps is not None else index
        contributions = self._contributions(scaled, stamps)
        scores = contributions.sum(axis=1)
        gap = self.merge_gap if self.merge_gap is not None else self.window_ // 4
        events = AnomalyList()
        names = list(self.feature_names_in_)
        for start, end in find_segments(scores > self.threshold_, gap):
            segment = scores[start : end + 1]
            peak = float(segment.max())
            ratio = peak / self.threshold_ if self.threshold_ > 0 else np.inf
            per_feature = contributions[start : end + 1].sum(axis=0)
            total = per_feature.sum()
            shares = per_feature / total if total > 0 else np.full_like(per_feature, 1 / len(names))
            order = np.argsort(-shares, kind="stable")[:top_k]
            kind, stats = classify_segment(
                scaled[:, order[0]], *_core(start, end, self.smoothing_width_, segment)
            )
            events.append(
                Anomaly(
                    start=_label(labels, start),
                    end=_label(labels, end),
                    start_index=start,
                    end_index=end,
                    peak_score=peak,
                    mean_score=float(segment.mean()),
                    severity=severity_from_ratio(ratio),
                    anomaly_type=kind,
                    top_features=tuple((names[i], float(shares[i])) for i in order),
                    model_id=self.model_id_,
                    metadata={
                        "threshold": self.threshold_,
                        # None rather than inf, which JSON cannot hold
                        "score_ratio": float(ratio) if np.isfinite(ratio) else None,
                        "window": self.window_,
                        "type_feature": names[order[0]],
                        **stats,
                    },
                )
            )
        return events

    # ------------------------------------------------------------------- io
    def save(self, path):
        """Save the fitted detector to one zip archive at ``path``.

        See :func:`fusionlab.detection.io.save_detector`.
        """
        from .io import save_detector

        return save_detector(self, path)

    @classmethod
    def load(cls, path):
        """Load a detector saved with :meth:`save`."""
        from .io import load_detector

        return load_detector(path)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "threshold_")

