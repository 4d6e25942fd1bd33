"""Anomalous rows in DataFrames, with the columns to blame."""

from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError

from .._validation import (
    check_non_negative_int,
    check_option,
    check_positive_int,
    check_rate,
)
from ..detection.base import BaseDetector
from ..detection.records import Anomaly, AnomalyList
from ..vocabulary import ROW_ANOMALY_TYPE, exceeds, severity_from_ratio
from . import _stored, save_folder
from .column_typing import (
    COLUMN_TYPES,
    NOTES_KEY,
    check_frame,
    coerce_frame,
    infer_column_types,
)
from .forest_encoding import ForestPreprocessor
from .isolation_trees import IsolationTrees
from .preprocessing import TabularPreprocessor
from .save_folder import read_config, saved_file, write_folder
from .signals import FLOOR, SanitySignals, Tail

__all__ = ["TabularAnomalyDetector", "to_json_value"]

METHODS = ("autoencoder", "isolation_forest")
_MIN_TRAIN_ROWS = 10
_FORMAT = "fusionlab.tabular.TabularAnomalyDetector/5"
# Version 4 held no sanity signals nor calibration tails: such a detector
# scores as it did (the model's score alone).
_V4_FORMAT = "fusionlab.tabular.TabularAnomalyDetector/4"
# Version 3 pickled the isolation forest (refused) and used fixed file names.
# Version 2 held no training scores (they load as None). Version 1 differed
# from 2 only in the isolation forest's encoding. Their autoencoder
# directories still load.
_V3_FORMAT = "fusionlab.tabular.TabularAnomalyDetector/3"
_V2_FORMAT = "fusionlab.tabular.TabularAnomalyDetector/2"
_OLD_FORMAT = "fusionlab.tabular.TabularAnomalyDetector/1"
#: Seed used when ``random_state`` is not given: two fits on the same data
#: give the same detector.
DEFAULT_RANDOM_STATE = 0
#: Most training rows each isolation tree is grown on (``max_samples``).
FOREST_MAX_SAMPLES = 16384
# Fixed file names of formats 1 to 3.
_KERAS_FILE = "autoencoder.keras"
_SCORES_FILE = "training_scores.npy"


def to_json_value(value):
    """Return ``value`` as a plain JSON-serialisable Python value.

    Numpy scalars become ``bool``/``int``/``float``; missing values (``NaN``,
    ``None``, ``pd.NA``, ``NaT``) become ``None``; infinite floats the
    strings ``"inf"``/``"-inf"`` (JSON has no infinity); timestamps and dates
    ISO 8601 strings; anything else its ``str``.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real | decimal.Decimal):
        number = float(value)
        if np.isnan(number):
            return None
        if np.isinf(number):
            return "inf" if number > 0 else "-inf"
        return number
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # array-like cells
        pass
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    return str(value)


def _iqr(values):
    """Inter-quartile range of ``values``, or their range where it is 0."""
    values = np.asarray(values, dtype="float64")
    q0, q25, q75, q100 = np.quantile(values, [0.0, 0.25, 0.75, 1.0])
    return float(q75 - q25) if q75 > q25 else float(q100 - q0)


def _import_autoencoder():
    # Keras (and its backend) is imported only when the deep method is used,
    # so the isolation forest works, and is the fallback, without it.
    from .autoencoder import TabularAutoencoder

    return TabularAutoencoder


def _index_label(label):
    """An index label as a plain Python value where it is a NumPy number."""
    # Timestamps stay timestamps (AnomalyList.filter compares them); only
    # NumPy numbers are unwrapped (np.datetime64.item() would give an int).
    if isinstance(label, np.number | np.bool_):
        return label.item()
    return label


def _file_notes(df):
    """The notes :func:`~fusionlab.tabular.read_table` left in ``df.attrs``."""
    notes = getattr(df, "attrs", {}).get(NOTES_KEY)
    if not isinstance(notes, Mapping):
        return {}
    return {str(col): str(note) for col, note in notes.items()}


class TabularAnomalyDetector(BaseDetector):
    """Find anomalous rows of a table and the columns that make them so.

    It follows fusionlab's detector contract
    (:class:`~fusionlab.detection.base.BaseDetector`): :meth:`fit` learns
    from a DataFrame and returns the detector, :meth:`score_samples` gives
    one score per row (**higher means more anomalous**), :meth:`predict`
    flags the rows whose score is strictly above ``threshold_``, and
    :meth:`detect` lists them as :class:`~fusionlab.detection.Anomaly`
    records (type ``'row'``) in an :class:`~fusionlab.detection.AnomalyList`.
    :meth:`detect_anomalies` gives the same rows as plain, JSON-ready
    dictionaries, most anomalous first.

    Columns are typed automatically (see
    :func:`~fusionlab.tabular.column_typing.infer_column_types`: numeric,
    categorical, boolean and datetime columns are used; identifier-like,
    all-missing and constant columns are excluded, with the reason in
    ``excluded_columns_``), then encoded for the chosen method.

    A row's score adds two kinds of evidence, both in nats (a value as rare
    as one training row in ``e**s`` has a surprise of ``s``), so that every
    column is measured against its own training values, like with like:

    - the **sanity signals** (:class:`~fusionlab.tabular.signals.SanitySignals`,
      ``signals_``): a number or date far in its column's tails, a sign the
      column never has, a missing value where values seldom are, a category
      few other rows hold, a number that does not fit the relation the other
      columns predict (a total that is not price times quantity), two
      categories that never go together; each row's evidence is what they
      show beyond chance (:meth:`~fusionlab.tabular.signals.SanitySignals.row_score`);
    - the **model's** score (isolation forest by default, or autoencoder),
      turned into a surprise against the training rows' scores
      (``score_tail_``, a :class:`~fusionlab.tabular.signals.Tail`), of
      which the excess over :data:`~fusionlab.tabular.signals.FLOOR` is
      added and shared between the columns by the model's own blame.

    A column's blame (``reconstruction_error`` in :meth:`detect_anomalies`)
    is its signals' evidence plus its share of the model's. With
    ``sanity_checks=False`` the score and blame are the model's own,
    described below, as for every detector saved before format 5.

    With ``method="autoencoder"`` the columns are imputed, one-hot encoded
    and robust-scaled by
    :class:`~fusionlab.tabular.preprocessing.TabularPreprocessor` and a dense
    :class:`~fusionlab.tabular.autoencoder.TabularAutoencoder` learns to
    reconstruct the encoded rows. Each encoded feature's squared
    reconstruction error is divided by its mean over the training rows
    (``feature_error_scale_``), so that a feature the model always rebuilds
    well (a one-hot column tied to another column) weighs as much as a noisy
    one; a row's score is the mean of these normalised errors and a column's
    blame their sum over the encoded features it produced (all one-hot
    columns and the unseen flag of a category, the four features of a date).
    With the sanity checks, each column's summed error is measured against
    that column's own training errors (``column_tail_``), so that the many
    one-hot features of a category do not outweigh a number's single one.

    With ``method="isolation_forest"``, the default (on the benchmark of
    ``benchmarks/bench_tabular.py`` it finds as many planted rows as the
    autoencoder at a tenth of the time or less), the columns are
    encoded by :class:`~fusionlab.tabular.forest_encoding.ForestPreprocessor`
    (robust-scaled numbers and dates, 0/1 booleans, the *rarity* of each
    categorical value computed from its training count instead of one-hot
    columns, and a *mismatch* feature for pairs of categorical columns whose
    values rarely go together), the score is scikit-learn's
    :class:`~sklearn.ensemble.IsolationForest` anomaly score
    (``-score_samples``; each tree grown on up to
    :data:`FOREST_MAX_SAMPLES` rows, so that rare outliers are in the trees'
    samples), computed from the trees held as plain arrays
    (:class:`~fusionlab.tabular.isolation_trees.IsolationTrees`, which
    reproduce it bit for bit and are saved without pickle), raised for a row
    that leaves a feature constant in training (which no tree can split on,
    such as an unseen category where every training category is common; see
    :meth:`~fusionlab.tabular.isolation_trees.IsolationTrees.anomaly_score`),
    and a column's blame is its share of the row's deviations: the
    absolute robust z-score of its numbers or date, the rarity of its value
    and half the mismatch of each pair it belongs to, divided by their sum
    over the columns (see :mod:`fusionlab.tabular.forest_encoding`). The
    isolation forest is also used, with a warning, when Keras cannot be
    imported (and Keras is imported only by the autoencoder).

    Rows whose score is above ``threshold_``, the ``threshold_percentile``
    percentile of the training scores, are anomalies (``score > threshold_``,
    strictly: :func:`fusionlab.vocabulary.exceeds`).

    The constructor only stores its arguments; they are all checked by
    :meth:`fit` (and :meth:`train`), before any training work, so that
    :meth:`set_params` cannot bypass a check.

    Parameters
    ----------
    encoding_dim : int, default=8
        Width of the autoencoder's bottleneck.
    hidden_units : sequence of int, default=(64, 32)
        Encoder hidden layers; the decoder mirrors them.
    threshold_percentile : float, default=95
        Percentile (0-100) of the training scores used as threshold.
    method : {"autoencoder", "isolation_forest"}, default="isolation_forest"
        Scoring model (until issue 20 the default was the autoencoder).
    random_state : int or None, default=0
        Seed (:data:`DEFAULT_RANDOM_STATE`: fixed, so that two identical
        runs give the same detector and flag the same rows; ``None`` draws
        a new one each time). For the autoencoder it is passed to
        :func:`keras.utils.set_random_seed`, which also seeds Python's and
        NumPy's global generators.
    activation : str, default="tanh"
        Activation of the autoencoder's hidden layers. The bounded ``tanh``
        cannot extrapolate an extreme input linearly to the output (ReLU
        layers can), so extreme values are not reconstructed.
    input_dropout : float, default=0.2
        Share of the inputs dropped at random while training, so that the
        model learns to rebuild each column from the others (for example a
        currency from its country) rather than to copy it.
    learning_rate : float, default=1e-3
        Adam learning rate of the autoencoder.
    epochs : int, default=50
        Autoencoder training epochs (ignored by the isolation forest).
    batch_size : int, default=32
        Autoencoder batch size.
    validation_split : float, default=0.2
        Share of the (shuffled) rows the autoencoder holds out to report
        ``val_loss`` in ``history_``; the threshold uses all rows.
    n_estimators : int, default=200
        Trees of the isolation forest.
    max_categories : int, default=50
        Most frequent categories one-hot encoded per categorical column by
        the autoencoder; rarer ones are encoded like unseen ones (all zeros).
        (The isolation forest keeps the count of every training value.)
    clip : float, default=20.0
        Robust-scaled values beyond ``±clip`` are compressed logarithmically
        (:func:`~fusionlab.tabular.preprocessing.soft_clip`) so that huge
        magnitudes neither overflow nor dominate training.
    column_types : dict, optional
        ``{column: type}`` overriding the automatic typing; types are
        ``"numeric"``, ``"categorical"``, ``"boolean"``, ``"datetime"`` or
        ``"exclude"``.
    top_features : int, default=3
        Columns listed in ``top_features`` of each :class:`Anomaly` and in
        ``anomalous_features`` of each anomaly.
    sanity_checks : bool, default=True
        Add the sanity signals to the model's score (see above); ``False``
        gives the model's own score and blame.
    verbose : int, default=0
        Keras training verbosity.

    Attributes
    ----------
    method_ : str
        Method actually used (``"isolation_forest"`` after a fallback).
    feature_names_in_ : list of str
        All columns seen in training (as strings).
    n_features_in_ : int
        Their number.
    column_types_ : dict
        ``{column: type}`` of the columns used.
    excluded_columns_ : dict
        ``{column: reason}`` of the columns left out.
    column_notes_ : dict
        ``{column: note}`` for used columns whose values needed conversion
        (numbers or dates stored as text, mixed types, many categories), and
        the notes :func:`~fusionlab.tabular.read_table` made on reading the
        file (formula cells read as missing, decimal commas), for used and
        excluded columns (an excluded column's reason then ends with it).
    preprocessor_ : TabularPreprocessor or ForestPreprocessor
        The fitted preprocessing (the latter for the isolation forest).
    encoded_feature_names_ : list of str
        Names of the encoded features.
    model_ : TabularAutoencoder or IsolationTrees
        The fitted model: the Keras autoencoder, or the isolation forest's
        trees as arrays (:class:`~fusionlab.tabular.isolation_trees.IsolationTrees`,
        built from the fitted :class:`~sklearn.ensemble.IsolationForest`).
    threshold_ : float
        Score above which a row is anomalous.
    training_scores_ : numpy.ndarray of shape (n_rows,) or None
        Scores of the training rows (None for a detector loaded from a save
        older than format 3, which did not store them).
    labels_ : numpy.ndarray of shape (n_rows,) or None
        Their 0/1 flags, ``training_scores_ > threshold_`` (None likewise).
    model_id_ : str
        The method and a short hash of the fitted state (preprocessing,
        model weights or trees, threshold), written into every
        :class:`Anomaly`.
    history_ : dict
        Keras training history (Huber loss per epoch); empty for the forest.
    feature_error_scale_ : numpy.ndarray or None
        Mean training squared error of each encoded feature (autoencoder).
    signals_ : SanitySignals or None
        The fitted sanity signals (None with ``sanity_checks=False``).
    score_tail_ : Tail or None
        The model's training scores' tail, which turns a score into nats.
    column_tail_ : Tail or None
        The autoencoder's training column errors' tails.

    Notes
    -----
    At detection time, a categorical value not seen in training (or rarer
    than the ``max_categories`` kept) is encoded as all zeros: the model
    cannot reconstruct it well, so it counts as evidence against the row
    (for the isolation forest it has count 0, the largest rarity, and raises
    the row's score even when every training category was common). A
    training column missing from the data is filled with its training median
    (numeric), most frequent value (categorical, boolean) or the per-feature
    medians (datetime), with a warning naming it; such a column contributes
    no evidence and its ``actual_value`` is ``None``. Columns not seen in
    training are ignored, with a warning. Values that cannot be read as their
    column's type (text in a numeric column, infinities) are treated as
    missing and imputed, with a warning giving their count.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from fusionlab.tabular import TabularAnomalyDetector
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"amount": rng.normal(100, 5, 200),
    ...                    "shop": rng.choice(["a", "b"], 200)})
    >>> df.loc[7, "amount"] = 10_000
    >>> det = TabularAnomalyDetector(method="isolation_forest", random_state=0)
    >>> det = det.fit(df)
    >>> det.score_samples(df).shape, int(det.predict(df).sum()) == int(det.labels_.sum())
    ((200,), True)
    >>> first = det.detect(df).filter(min_severity="high")[0]
    >>> first.start, first.anomaly_type, first.top_features[0][0]
    (7, 'row', 'amount')
    >>> top = det.detect_anomalies(df)[0]
    >>> top["row_index"], top["anomalous_features"][0]["feature_name"]
    (7, 'amount')
    """

    def __init__(self, encoding_dim=8, hidden_units=(64, 32), threshold_percentile=95,
                 method="isolation_forest", random_state=DEFAULT_RANDOM_STATE, *,
                 activation="tanh",
                 input_dropout=0.2, learning_rate=1e-3, epochs=50, batch_size=32,
                 validation_split=0.2, n_estimators=200, max_categories=50, clip=20.0,
                 column_types=None, top_features=3, sanity_checks=True, verbose=0):
        # Only stored, unchanged, so that get_params/set_params/clone work;
        # `fit` checks them all.
        self.encoding_dim = encoding_dim
        self.hidden_units = hidden_units
        self.threshold_percentile = threshold_percentile
        self.method = method
        self.random_state = random_state
        self.activation = activation
        self.input_dropout = input_dropout
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.n_estimators = n_estimators
        self.max_categories = max_categories
        self.clip = clip
        self.column_types = column_types
        self.top_features = top_features
        self.sanity_checks = sanity_checks
        self.verbose = verbose

    # -- checks -------------------------------------------------------------
    def _check_params(self, epochs=None, batch_size=None, validation_split=None):
        """Check every parameter; return the training settings of this call.

        ``epochs``, ``batch_size`` and ``validation_split`` given to
        :meth:`train` override the parameters of the same name for that call
        (the parameters are checked either way).
        """
        check_positive_int(self.encoding_dim, "encoding_dim")
        hidden_units = self.hidden_units
        if isinstance(hidden_units, int | str) or hidden_units is None:
            raise TypeError("`hidden_units` must be a sequence of positive integers "
                            f"such as (64, 32); received {hidden_units!r}.")
        for i, units in enumerate(hidden_units):
            check_positive_int(units, f"hidden_units[{i}]")
        check_rate(self.threshold_percentile, "threshold_percentile", low=0.0, high=100.0)
        method = check_option(self.method, "method", METHODS)
        check_non_negative_int(self.random_state, "random_state", allow_none=True)
        if not isinstance(self.activation, str):
            raise TypeError(f"`activation` must be a Keras activation name; "
                            f"received {self.activation!r}.")
        check_rate(self.input_dropout, "input_dropout", include_high=False)
        check_rate(self.learning_rate, "learning_rate", low=0.0, high=10.0)
        if self.learning_rate == 0:
            raise ValueError("`learning_rate` must be > 0; received 0.")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_rate(self.validation_split, "validation_split", include_high=False)
        check_positive_int(self.n_estimators, "n_estimators")
        check_positive_int(self.max_categories, "max_categories")
        check_rate(self.clip, "clip", low=1.0, high=1e6)
        if self.column_types is not None and not isinstance(self.column_types, Mapping):
            raise TypeError("`column_types` must be a dict {column: type} or None; "
                            f"received {type(self.column_types).__name__}.")
        check_positive_int(self.top_features, "top_features")
        if not isinstance(self.sanity_checks, bool | np.bool_):
            raise TypeError("`sanity_checks` must be True or False; received "
                            f"{self.sanity_checks!r}.")
        check_non_negative_int(self.verbose, "verbose")
        return method, {
            "epochs": check_positive_int(
                self.epochs if epochs is None else epochs, "epochs"),
            "batch_size": check_positive_int(
                self.batch_size if batch_size is None else batch_size, "batch_size"),
            "validation_split": check_rate(
                self.validation_split if validation_split is None else validation_split,
                "validation_split", include_high=False),
        }

    # -- training -----------------------------------------------------------
    def fit(self, df, y=None):
        """Learn the column typing, the preprocessing, the model and the threshold.

        Parameters
        ----------
        df : pandas.DataFrame
            Training rows (mostly normal), at least 10.
        y : ignored
            Unsupervised; present for scikit-learn's ``fit(X, y)``.

        Returns
        -------
        self : TabularAnomalyDetector

        Raises
        ------
        TypeError, ValueError
            For a bad parameter (before any training work) or bad data.
        """
        return self.train(df)

    def train(self, df, epochs=None, batch_size=None, validation_split=None):
        """:meth:`fit`, with the autoencoder's training settings given for this call.

        A value given here is used for this call only: the parameters
        (:meth:`get_params`) are not changed.

        Parameters
        ----------
        df : pandas.DataFrame
            Training rows (mostly normal), at least 10.
        epochs : int, optional
            Autoencoder epochs (ignored by the isolation forest); default:
            the ``epochs`` parameter.
        batch_size : int, optional
            Autoencoder batch size; default: the ``batch_size`` parameter.
        validation_split : float, optional
            Share of the rows held out to report ``val_loss``; default: the
            ``validation_split`` parameter.

        Returns
        -------
        self : TabularAnomalyDetector
        """
        method, settings = self._check_params(epochs, batch_size, validation_split)
        file_notes = _file_notes(df)
        df = check_frame(df)
        if len(df) < _MIN_TRAIN_ROWS:
            raise ValueError(
                f"`df` must have at least {_MIN_TRAIN_ROWS} rows to learn what is "
                f"normal; received {len(df)}."
            )
        types, excluded, notes = infer_column_types(
            df, self.column_types, max_categories=self.max_categories)
        for col, note in file_notes.items():
            if col in excluded:
                excluded[col] = f"{excluded[col]}; {note}"
            if col in df.columns:
                notes[col] = f"{notes[col]}; {note}" if col in notes else note
        if not types:
            reasons = "; ".join(f"{c!r}: {r}" for c, r in excluded.items())
            raise ValueError(f"`df` has no usable column: {reasons}.")
        # A column none of whose values fits its (overridden) type fails here,
        # naming it, rather than later in the preprocessing or in `save`.
        frame = coerce_frame(df, types, name="df", require_values=True)

        if method == "autoencoder":
            try:
                autoencoder_cls = _import_autoencoder()
            except ImportError as exc:
                warnings.warn(
                    f"Keras could not be imported ({exc}); falling back to "
                    "method='isolation_forest'.", UserWarning, stacklevel=2)
                method = "isolation_forest"
        self.history_ = {}
        self.feature_error_scale_ = None
        if method == "autoencoder":
            preprocessor = TabularPreprocessor(
                types, max_categories=self.max_categories, clip=float(self.clip)).fit(frame)
            X = preprocessor.transform(frame)
            self.model_ = self._train_autoencoder(autoencoder_cls, X, **settings)
        else:
            preprocessor = ForestPreprocessor(types, clip=float(self.clip)).fit(frame)
            X = preprocessor.transform(frame)
            forest = IsolationForest(
                n_estimators=self.n_estimators,
                max_samples=min(len(X), FOREST_MAX_SAMPLES),
                random_state=self.random_state).fit(X)
            # Scored from its arrays, before and after a save alike.
            self.model_ = IsolationTrees.from_forest(forest, X)

        self.method_ = method
        if method == "autoencoder":
            self._set_error_scale(X)
        self.feature_names_in_ = list(df.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        self.column_types_ = types
        self.excluded_columns_ = excluded
        self.column_notes_ = notes
        self.preprocessor_ = preprocessor
        self.encoded_feature_names_ = list(preprocessor.feature_names_out_)
        self._fit_calibration(frame, X)
        scores, _ = self._scores_and_blame(frame, X)
        self._set_training_scores(
            scores, np.percentile(scores, float(self.threshold_percentile)))
        self.model_id_ = self._compute_model_id()
        return self

    def _train_autoencoder(self, autoencoder_cls, X, epochs, batch_size, validation_split):
        import keras

        if self.random_state is not None:
            keras.utils.set_random_seed(self.random_state)
        n_val = int(len(X) - np.ceil(len(X) * (1.0 - validation_split)))
        if validation_split > 0 and (n_val < 1 or n_val >= len(X)):
            raise ValueError(
                f"`validation_split={validation_split}` leaves {n_val} validation "
                f"row(s) out of {len(X)}; use 0 or a split that keeps rows on both sides."
            )
        # Keras validates on the last rows: shuffle so they are a random sample.
        order = np.random.default_rng(self.random_state).permutation(len(X))
        data = X[order].astype("float32")
        # Huber loss: the few anomalies in the training rows must not pull the
        # model into reconstructing them, as a squared loss would.
        model = autoencoder_cls(
            n_features=X.shape[1], encoding_dim=self.encoding_dim,
            hidden_units=tuple(self.hidden_units), activation=self.activation,
            input_dropout=float(self.input_dropout))
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss=keras.losses.Huber(delta=1.0))
        history = model.fit(data, data, epochs=epochs, batch_size=batch_size,
                            validation_split=validation_split, shuffle=True,
                            verbose=self.verbose)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return model

    def _fit_calibration(self, frame, X):
        """Fit the sanity signals and the tails that put scores in nats."""
        self.signals_ = self.score_tail_ = self.column_tail_ = None
        if not self.sanity_checks:
            return  # the model's own score and blame
        raw, columns = self._model_scores(X)
        self.score_tail_ = Tail(0.05 * _iqr(raw)).fit(raw)
        if self.method_ == "autoencoder":
            floor = np.array([0.05 * _iqr(c) for c in columns.T])
            self.column_tail_ = Tail(floor).fit(columns)
        self.signals_ = SanitySignals(self.column_types_).fit(frame)

    def _set_error_scale(self, X):
        errors = np.square(X - self._reconstruct(X))
        mean = errors.mean(axis=0)
        # Floor: a feature reconstructed perfectly in training must not turn
        # a rounding difference into a huge blame.
        self.feature_error_scale_ = np.maximum(mean, 1e-2 * mean.mean() + 1e-12)

    def _reconstruct(self, X):
        return np.asarray(self.model_.predict(X.astype("float32"), batch_size=1024,
                                              verbose=0), dtype="float64")

    def _compute_model_id(self):
        """``method_`` and a short hash of what the scores depend on."""
        digest = hashlib.sha1()
        digest.update(json.dumps(self.preprocessor_.to_dict(), sort_keys=True,
                                 default=str).encode())
        digest.update(repr(float(self.threshold_)).encode())
        calibration = {
            name: getattr(self, name).to_dict()
            for name in ("signals_", "score_tail_", "column_tail_")
            if getattr(self, name, None) is not None}
        if calibration:
            digest.update(json.dumps(calibration, sort_keys=True).encode())
        if self.method_ == "autoencoder":
            arrays = list(self.model_.get_weights()) + [self.feature_error_scale_]
        else:
            arrays = self.model_.digest_arrays()
        for array in arrays:
            digest.update(np.ascontiguousarray(array).tobytes())
        return f"{self.method_}-{digest.hexdigest()[:12]}"

    # -- scoring --------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "threshold_"):
            raise NotFittedError(
                "This TabularAnomalyDetector is not trained yet: call "
                "`fit(df)` (or `train(df)`) first, or load a saved one with "
                "`TabularAnomalyDetector.load(directory)`."
            )

    def _encode(self, df):
        """Check ``df`` against the training columns and encode it."""
        missing = [c for c in self.column_types_ if c not in df.columns]
        extra = [c for c in df.columns if c not in self.feature_names_in_]
        if extra:
            warnings.warn(f"Columns not seen in training are ignored: {extra}.",
                          UserWarning, stacklevel=3)
        if missing:
            warnings.warn(
                f"Training columns missing from the data are filled with their "
                f"training value (median / most frequent): {missing}.",
                UserWarning, stacklevel=3)
            fill = self.preprocessor_.fill_values_
            df = df.assign(**{c: (pd.NaT if fill[c] is None else fill[c])
                              for c in missing})
        frame = coerce_frame(df, self.column_types_, name="df")
        return frame, self.preprocessor_.transform(frame)

    def _score_matrix(self, X):
        """Return the model's row scores and per-encoded-feature errors (float64).

        For the isolation forest the "errors" are already the per-column
        blame shares. These are the scores of a detector without
        calibration (``sanity_checks=False``, or saved before format 5).
        """
        if self.method_ == "autoencoder":
            errors = np.square(X - self._reconstruct(X)) / self.feature_error_scale_
            scores = errors.mean(axis=1)
        else:
            scores = self.model_.anomaly_score(X)
            errors = self.preprocessor_.blame(X)
        return scores, errors

    def _column_errors(self, errors):
        """Sum encoded-feature errors back to their source columns."""
        columns = list(self.column_types_)
        if self.method_ != "autoencoder":
            return errors, columns
        sources = self.preprocessor_.feature_sources_
        membership = np.zeros((len(sources), len(columns)))
        for j, src in enumerate(sources):
            membership[j, columns.index(src)] = 1.0
        return errors @ membership, columns

    def _model_scores(self, X):
        """The model's row scores and its per-column errors (in column order).

        The autoencoder's: the mean normalised squared error and each
        column's summed normalised errors; the isolation forest's: its
        anomaly score and each column's share of the row's deviations.
        """
        scores, errors = self._score_matrix(X)
        return scores, self._column_errors(errors)[0]

    def _scores_and_blame(self, frame, X):
        """Return row scores and per-column blames (both float64).

        A detector saved before format 5 has no calibration: its score is
        the model's and its blame the model's per-column errors. Otherwise
        the model's score is turned into a surprise in nats by
        ``score_tail_`` and only its excess over :data:`~fusionlab.tabular.signals.FLOOR`
        counts, added to the sanity signals' score
        (:meth:`~fusionlab.tabular.signals.SanitySignals.row_score`); a
        column's blame is its signals' evidence plus its share of the
        model's excess (the autoencoder's shares are each column's error
        as a surprise against that column's own training errors, by
        ``column_tail_``).
        """
        raw, columns = self._model_scores(X)
        if getattr(self, "score_tail_", None) is None:
            return raw, columns
        if self.column_tail_ is not None:
            columns = self.column_tail_.surprise(columns)
        total = columns.sum(axis=1, keepdims=True)
        shares = np.divide(columns, total, out=np.zeros_like(columns), where=total > 0)
        excess = np.maximum(0.0, self.score_tail_.surprise(raw) - FLOOR)
        scores, blame = excess, excess[:, None] * shares
        S = self.signals_.transform(frame)
        return scores + self.signals_.row_score(S), blame + self.signals_.row_evidence(S)

    def _prepare(self, df):
        self._check_fitted()
        return check_frame(df, allow_empty=True)

    def _scores(self, df):
        """Scores of the rows of an already checked frame."""
        if len(df) == 0:
            return np.empty(0, dtype="float64")
        scores, _ = self._scores_and_blame(*self._encode(df))
        return scores

    def score_samples(self, df) -> np.ndarray:
        """Return one anomaly score per row: higher means more anomalous.

        Parameters
        ----------
        df : pandas.DataFrame
            Rows to score; an empty frame gives an empty array.

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            The autoencoder's mean normalised squared reconstruction error,
            or the isolation forest's anomaly score (see the class
            description). :meth:`score` gives them as a Series.
        """
        return self._scores(self._prepare(df))

    def score(self, df) -> pd.Series:
        """Return :meth:`score_samples` as a Series named ``"anomaly_score"``.

        Parameters
        ----------
        df : pandas.DataFrame
            Rows to score; an empty frame gives an empty series.

        Returns
        -------
        pandas.Series
            Named ``"anomaly_score"``, with the index of ``df``.
        """
        df = self._prepare(df)
        return pd.Series(self._scores(df), index=df.index, dtype="float64",
                         name="anomaly_score")

    def _severity_reference(self):
        """The typical training score that severities are measured from."""
        if self.training_scores_ is None:  # loaded from a format-2 save
            return 0.0
        return float(np.median(self.training_scores_))

    def detect(self, df) -> AnomalyList:
        """List the anomalous rows of ``df`` as :class:`~fusionlab.detection.Anomaly` records.

        One record per row whose score is above ``threshold_``, in row order:

        - ``start`` = ``end``: the row's index label; ``start_index`` =
          ``end_index``: its position in ``df``;
        - ``peak_score`` = ``mean_score``: its score;
        - ``anomaly_type``: ``'row'``;
        - ``top_features``: the ``top_features`` columns most to blame, each
          with its share of the row's blame (the shares of all used columns
          sum to 1; equal shares when the row has no blame at all);
        - ``severity``: from ``score_ratio = (score - m) / (threshold_ - m)``,
          where ``m`` is the median training score, through
          :func:`~fusionlab.vocabulary.severity_from_ratio` (``'low'`` below
          1.5, ``'medium'`` below 2.5, ``'high'`` below 4, else
          ``'critical'``): how many times further above the typical row the
          row lies than the threshold does. Measuring from the median, not
          from 0, lets the severity mean something for both methods: the
          isolation forest's scores all lie near 0.5, so their plain ratio
          to the threshold is about 1 for every row. The forest's scores
          are bounded (below 1), so its ratios seldom reach 4: a gross
          outlier is typically ``'high'`` there, ``'critical'`` for the
          autoencoder, whose errors are unbounded. ``'critical'``
          (``score_ratio`` None) when ``threshold_`` is not above ``m``;
          ``m`` is 0 for a detector loaded from a save without training
          scores;
        - ``model_id``: ``model_id_``;
        - ``metadata``: ``threshold``, ``score_ratio``, ``anomalous_features``
          and ``raw_data`` (as in :meth:`detect_anomalies`).

        Parameters
        ----------
        df : pandas.DataFrame
            Rows to examine; an empty frame gives an empty list.

        Returns
        -------
        AnomalyList
            ``.to_frame()``, ``.filter(min_severity=...)``, ``.to_json()``...
        """
        df = self._prepare(df)
        anomalies = AnomalyList()
        if len(df) == 0:
            return anomalies
        scores, col_errors = self._scores_and_blame(*self._encode(df))
        columns = list(self.column_types_)
        reference = self._severity_reference()
        excess = self.threshold_ - reference
        k = min(self.top_features, len(columns))
        for pos in np.flatnonzero(exceeds(scores, self.threshold_)):
            row = df.iloc[pos]
            blame = col_errors[pos]
            total = blame.sum()
            shares = blame / total if total > 0 else np.full(len(columns), 1.0 / len(columns))
            top = np.argsort(-blame, kind="stable")[:k]
            score = float(scores[pos])
            ratio = (score - reference) / excess if excess > 0 else np.inf
            label = _index_label(df.index[pos])
            anomalies.append(Anomaly(
                start=label,
                end=label,
                start_index=int(pos),
                end_index=int(pos),
                peak_score=score,
                mean_score=score,
                severity=severity_from_ratio(ratio),
                anomaly_type=ROW_ANOMALY_TYPE,
                top_features=tuple((columns[j], float(shares[j])) for j in top),
                model_id=self.model_id_,
                metadata={
                    "threshold": self.threshold_,
                    # None rather than inf, which JSON cannot hold
                    "score_ratio": float(ratio) if np.isfinite(ratio) else None,
                    "anomalous_features": [
                        {
                            "feature_name": columns[j],
                            "actual_value": (to_json_value(row[columns[j]])
                                             if columns[j] in df.columns else None),
                            "reconstruction_error": float(col_errors[pos, j]),
                        }
                        for j in top
                    ],
                    "raw_data": {str(c): to_json_value(v) for c, v in row.items()},
                },
            ))
        return anomalies

    def detect_anomalies(self, df) -> list:
        """List the rows scored above ``threshold_``, most anomalous first.

        The rows of :meth:`detect`, as plain dictionaries.

        Returns
        -------
        list of dict
            Plain, JSON-serialisable dictionaries::

                {"row_index": <index label>,
                 "anomaly_score": float,
                 "anomalous_features": [
                     {"feature_name": column, "actual_value": value,
                      "reconstruction_error": float}, ...],   # top_features
                 "raw_data": {column: value, ...}}

            ``reconstruction_error`` is the column's blame: the sum of its
            encoded features' squared reconstruction errors, each divided by
            its mean training error (autoencoder), or its share (0 to 1,
            summing to 1 over the columns) of the row's deviations: absolute
            robust z-scores, rarities and pair mismatches (isolation forest;
            see :mod:`fusionlab.tabular.forest_encoding`). Missing values are
            ``None``. Rows of equal score keep their order in ``df``.
        """
        rows = sorted(self.detect(df), key=lambda a: -a.peak_score)  # stable
        return [
            {
                "row_index": to_json_value(a.start),
                "anomaly_score": a.peak_score,
                "anomalous_features": a.metadata["anomalous_features"],
                "raw_data": a.metadata["raw_data"],
            }
            for a in rows
        ]

    # -- persistence ----------------------------------------------------------
    def save(self, directory):
        """Save the trained detector to ``directory`` (created if needed).

        Writes ``detector.json`` (parameters, column typing, the fitted
        preprocessing statistics, categories and, for the isolation forest,
        the training counts of values and pairs; threshold, model id), the
        training scores (``training_scores.<token>.npy``, a plain NumPy
        array) and the model: ``autoencoder.<token>.keras`` (the native
        Keras format) or ``isolation_forest.<token>.npz``, the trees as
        plain arrays (:class:`~fusionlab.tabular.isolation_trees.IsolationTrees`).
        Nothing is pickled, and :meth:`load` unpickles nothing.

        The save is atomic (see :mod:`fusionlab.tabular.save_folder`): the
        new files are written first, then ``detector.json`` replaces the old
        one in a single rename, then the previous save's files are removed.
        A save that fails or is interrupted leaves the previous detector in
        ``directory`` loadable. Other files in ``directory`` are left alone.

        Returns
        -------
        pathlib.Path
            The directory.

        Raises
        ------
        ValueError
            If a learned value cannot be written as JSON (such as ``NaN``);
            nothing is written then.
        """
        self._check_fitted()
        params = self.get_params()
        params["hidden_units"] = list(params["hidden_units"])
        config = {
            "format": _FORMAT,
            "params": params,
            "method_": self.method_,
            "threshold_": self.threshold_,
            "model_id_": self.model_id_,
            # What the loader checks the files against: mixed or changed
            # files are refused.
            "state_digest": self._compute_model_id(),
            "feature_names_in_": self.feature_names_in_,
            "column_types_": self.column_types_,
            "excluded_columns_": self.excluded_columns_,
            "column_notes_": self.column_notes_,
            "preprocessor": self.preprocessor_.to_dict(),
            "history_": self.history_,
            "signals_": None if self.signals_ is None else self.signals_.to_dict(),
            "score_tail_": (None if self.score_tail_ is None
                            else self.score_tail_.to_dict()),
            "column_tail_": (None if self.column_tail_ is None
                             else self.column_tail_.to_dict()),
        }
        if self.method_ == "autoencoder":
            config["feature_error_scale_"] = self.feature_error_scale_.tolist()
            files = {"model": ("autoencoder", ".keras", self.model_.save)}
        else:
            files = {"model": ("isolation_forest", ".npz", self.model_.save)}
        if self.training_scores_ is not None:
            scores = np.asarray(self.training_scores_, dtype="float64")
            files["training_scores"] = (
                "training_scores", ".npy",
                lambda file: np.save(file, scores, allow_pickle=False))
        return write_folder(directory, config, files)

    @classmethod
    def load(cls, directory, *, max_config_bytes=None, max_model_bytes=None):
        """Load a detector written by :meth:`save`, checking every field.

        Nothing is unpickled. Every stored value is checked before it is
        used: its type, that numbers are finite, that array sizes agree
        with the encoded features, that the files belong together (a digest
        of the loaded state must match the one saved).

        A save of format 2 or 3 with the autoencoder still loads (format 2,
        without ``training_scores.npy``, with ``training_scores_`` and
        ``labels_`` None: the training rows are not stored, so they cannot
        be recomputed; severities are then measured from 0, see
        :meth:`detect`). An isolation forest saved by fusionlab before
        format 4 was pickled (``isolation_forest.joblib``): it is refused,
        never read, with a message saying how to train it again.

        Parameters
        ----------
        directory : str or os.PathLike
            The folder :meth:`save` wrote.
        max_config_bytes : int, optional
            Largest ``detector.json`` read; default
            :data:`fusionlab.tabular.save_folder.MAX_CONFIG_BYTES`.
        max_model_bytes : int, optional
            Largest uncompressed model file read; default
            :data:`fusionlab.tabular.save_folder.MAX_MODEL_BYTES`.

        Raises
        ------
        FileNotFoundError
            If ``directory`` holds no saved detector.
        ValueError
            If the saved files are not in the expected format, too large,
            corrupt, or hold a value that is missing, of the wrong type, not
            finite or inconsistent; the message names the file and the field.
        """
        path = Path(directory)
        config_file, config = read_config(path, max_bytes=max_config_bytes)
        limit = (save_folder.MAX_MODEL_BYTES if max_model_bytes is None
                 else check_positive_int(max_model_bytes, "max_model_bytes"))
        source = str(config_file)
        fmt = config.get("format")
        if fmt not in (_FORMAT, _V4_FORMAT, _V3_FORMAT, _V2_FORMAT, _OLD_FORMAT):
            raise ValueError(f"{config_file} is not a saved TabularAnomalyDetector "
                             f"(expected format {_FORMAT!r}).")

        def where(name):
            return f"{source}: field {name!r}"

        def get(name):
            return _stored.field(config, name, source)

        method = get("method_")
        if method not in METHODS:
            _stored.fail(where("method_"), f"one of {METHODS}", method)
        if fmt not in (_FORMAT, _V4_FORMAT) and method == "isolation_forest":
            raise ValueError(
                f"{config_file} holds an isolation forest saved by an older fusionlab "
                f"(format {fmt.rsplit('/', 1)[1]}), which pickled it to "
                "isolation_forest.joblib; a pickle file is never loaded, because "
                "unpickling a crafted file runs its code. To use it, train and save it "
                "again: TabularAnomalyDetector(method='isolation_forest', ...)"
                ".fit(df).save(directory).")
        self = cls(**cls._stored_params(get("params"), where("params")))
        try:
            self._check_params()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where('params')}: {exc}") from exc
        self.method_ = method
        threshold = _stored.real(get("threshold_"), where("threshold_"))
        self.feature_names_in_ = _stored.text_list(
            get("feature_names_in_"), where("feature_names_in_"), unique=True,
            nonempty=True)
        self.n_features_in_ = len(self.feature_names_in_)
        self.column_types_ = cls._stored_types(
            get("column_types_"), where("column_types_"), self.feature_names_in_)
        self.excluded_columns_ = _stored.text_dict(get("excluded_columns_"),
                                                   where("excluded_columns_"))
        self.column_notes_ = _stored.text_dict(get("column_notes_"),
                                               where("column_notes_"))
        preprocessor_cls = (TabularPreprocessor if method == "autoencoder"
                            else ForestPreprocessor)
        try:
            self.preprocessor_ = preprocessor_cls.from_dict(get("preprocessor"),
                                                            source=source)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            # Every field is checked (ValueError naming it); this is a net.
            raise ValueError(f"{where('preprocessor')} is not a fitted "
                             f"{preprocessor_cls.__name__}: {exc}") from exc
        if self.preprocessor_.column_types != self.column_types_:
            _stored.fail(where("preprocessor.column_types"),
                         f"the column types of 'column_types_' {self.column_types_}",
                         self.preprocessor_.column_types)
        self.encoded_feature_names_ = list(self.preprocessor_.feature_names_out_)
        n_encoded = len(self.encoded_feature_names_)
        self.history_ = cls._stored_history(get("history_"), where("history_"))
        self.feature_error_scale_ = None
        if fmt in (_FORMAT, _V4_FORMAT):
            stem, suffix = (("autoencoder", ".keras") if method == "autoencoder"
                            else ("isolation_forest", ".npz"))
            model_file = saved_file(path, config, config_file, "model", stem, suffix)
        else:
            model_file = path / _KERAS_FILE
            if not model_file.is_file():
                raise ValueError(f"{model_file} is missing: the save is incomplete.")
        if method == "autoencoder":
            self.feature_error_scale_ = _stored.reals(
                get("feature_error_scale_"), where("feature_error_scale_"),
                length=n_encoded, positive=True)
            self.model_ = cls._load_keras(model_file, limit, n_encoded)
        else:
            self.model_ = IsolationTrees.load(model_file, max_bytes=limit)
            if self.model_.n_features_in_ != n_encoded:
                raise ValueError(
                    f"{model_file} holds trees of {self.model_.n_features_in_} features; "
                    f"{config_file} encodes {n_encoded}: the files do not belong together.")
        scores = None
        if (fmt in (_FORMAT, _V4_FORMAT)
                and "training_scores" in _stored.field(config, "files", source)):
            scores = cls._load_scores(saved_file(
                path, config, config_file, "training_scores", "training_scores", ".npy"),
                limit)
        elif fmt == _V3_FORMAT:
            scores = cls._load_scores(path / _SCORES_FILE, limit)
        if scores is not None:
            self._set_training_scores(scores, threshold)
        else:
            self.threshold_ = threshold
            self.training_scores_ = None
            self.labels_ = None
        self._load_calibration(config, fmt, source, n_encoded)
        if fmt in (_FORMAT, _V4_FORMAT, _V3_FORMAT):
            self.model_id_ = _stored.text(get("model_id_"), where("model_id_"))
        else:
            self.model_id_ = self._compute_model_id()
        if fmt in (_FORMAT, _V4_FORMAT):
            digest = _stored.text(get("state_digest"), where("state_digest"))
            if digest != self._compute_model_id():
                raise ValueError(
                    f"{where('state_digest')} does not match the loaded state: the "
                    f"files of {path} were changed or mixed with another save's. "
                    "Save the detector again.")
        return self

    def _load_calibration(self, config, fmt, source, n_encoded):
        """The signals and tails of a format-5 save (None before: the model's score)."""
        self.signals_ = self.score_tail_ = self.column_tail_ = None
        if fmt != _FORMAT:
            # Saved without the sanity signals: it scores as it did.
            self.sanity_checks = False
            return

        def get(name):
            return _stored.field(config, name, source)

        signals = get("signals_")
        score_tail, column_tail = get("score_tail_"), get("column_tail_")
        if not self.sanity_checks:
            for name, value in (("signals_", signals), ("score_tail_", score_tail),
                                ("column_tail_", column_tail)):
                if value is not None:
                    _stored.fail(_stored.at(source, name),
                                 "null (params.sanity_checks is false)", value)
            return
        if signals is not None:
            self.signals_ = SanitySignals.from_dict(signals, source=source,
                                                    prefix="signals_")
            if self.signals_.column_types != self.column_types_:
                _stored.fail(_stored.at(source, "signals_.column_types"),
                             f"the column types of 'column_types_' {self.column_types_}",
                             self.signals_.column_types)
        else:
            _stored.fail(_stored.at(source, "signals_"),
                         "the sanity signals (params.sanity_checks is true)", signals)
        self.score_tail_ = Tail.from_dict(score_tail, source=source,
                                          prefix="score_tail_", n_signals=1)
        if (column_tail is None) != (self.method_ != "autoencoder"):
            _stored.fail(_stored.at(source, "column_tail_"),
                         "the columns' error tails" if self.method_ == "autoencoder"
                         else "null (isolation forest)", column_tail)
        if column_tail is not None:
            self.column_tail_ = Tail.from_dict(column_tail, source=source,
                                               prefix="column_tail_",
                                               n_signals=len(self.column_types_))

    @classmethod
    def _stored_params(cls, params, source):
        if not isinstance(params, dict):
            _stored.fail(source, "a JSON object of parameters", params)
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            _stored.fail(source, f"parameters of {cls.__name__}",
                         f"unknown parameter(s) {unknown}")
        params = dict(params)
        if "hidden_units" in params:
            if not isinstance(params["hidden_units"], list):
                _stored.fail(f"{source}.hidden_units", "a list of positive integers",
                             params["hidden_units"])
            params["hidden_units"] = tuple(params["hidden_units"])
        return params

    @staticmethod
    def _stored_types(types, source, names):
        if not isinstance(types, dict) or not types:
            _stored.fail(source, "a non-empty JSON object {column: type}", types)
        for col, kind in types.items():
            if col not in names:
                _stored.fail(source, "columns of 'feature_names_in_'", col)
            if kind not in COLUMN_TYPES or kind == "exclude":
                _stored.fail(f"{source}[{col!r}]", "a column type", kind)
        return dict(types)

    @staticmethod
    def _stored_history(history, source):
        if not isinstance(history, dict):
            _stored.fail(source, "a JSON object {metric: [values]}", history)
        return {_stored.text(k, source): _stored.reals(v, f"{source}[{k!r}]").tolist()
                for k, v in history.items()}

    @staticmethod
    def _load_keras(file, limit, n_features):
        _stored.check_zip_sizes(file, max_bytes=limit, what=f"The model file {file}")
        autoencoder_cls = _import_autoencoder()  # registers the class with Keras
        import keras

        try:
            # safe_mode (the default) refuses to deserialise Python code.
            model = keras.saving.load_model(file, safe_mode=True)
        except Exception as exc:  # Keras raises many kinds for a corrupt file
            raise ValueError(f"{file} is not a readable Keras model: "
                             f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(model, autoencoder_cls) or model.n_features != n_features:
            raise ValueError(
                f"{file} must hold a TabularAutoencoder of {n_features} features; "
                f"found {type(model).__name__} of "
                f"{getattr(model, 'n_features', 'unknown')} features.")
        return model

    @staticmethod
    def _load_scores(file, limit):
        if not file.is_file():
            raise ValueError(f"{file} is missing: the save is incomplete.")
        if file.stat().st_size > limit:
            raise ValueError(f"{file} holds {file.stat().st_size:,} bytes, more than "
                             f"the limit of {limit:,}.")
        try:
            # allow_pickle=False: a plain array of numbers, never an object.
            scores = np.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{file} is not a plain array of training scores: {exc}") from exc
        if scores.ndim != 1 or scores.dtype.kind != "f" or len(scores) == 0:
            raise ValueError(f"{file} must hold a 1-D float array; received shape "
                             f"{scores.shape} of dtype {scores.dtype}.")
        if not np.isfinite(scores).all():
            raise ValueError(f"{file} must hold finite training scores; found "
                             f"{int((~np.isfinite(scores)).sum())} NaN or infinite.")
        return scores
