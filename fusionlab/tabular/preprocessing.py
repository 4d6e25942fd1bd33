"""Turn typed tabular columns into a numeric matrix, and back to JSON.

:class:`TabularPreprocessor` wraps one scikit-learn
:class:`~sklearn.compose.ColumnTransformer`:

* ``numeric`` columns: :class:`~sklearn.impute.SimpleImputer` (median), then
  :class:`~sklearn.preprocessing.RobustScaler` (median / inter-quartile range,
  so the anomalies being looked for do not set the scale), then
  :func:`soft_clip`;
* ``boolean`` columns: ``SimpleImputer`` (most frequent) on 0/1 values;
* ``datetime`` columns: :func:`datetime_features` (four numbers per column:
  ``<col>__days`` since 1970-01-01, ``<col>__month`` 1-12,
  ``<col>__dayofweek`` 0 = Monday, ``<col>__hour`` with minutes as a
  fraction), then the numeric chain;
* ``categorical`` columns: ``SimpleImputer`` (missing values become their
  own category ``"__missing__"``), then
  :class:`~sklearn.preprocessing.OneHotEncoder` with
  ``handle_unknown="ignore"`` over the ``max_categories`` most frequent
  training categories: an unseen (or rarer) category is encoded as all zeros
  and raises the column's ``<col>__unseen`` flag (:func:`unseen_flags`).

Every encoded feature remembers its source column in ``feature_sources_``
so that errors can be summed back to the user's columns.

The fitted parameters are plain numbers and strings (``to_dict``);
``from_dict`` rebuilds the same transformers without pickle: it fits them on
a one-row prototype (which sets scikit-learn's bookkeeping attributes) and
then restores the saved learned attributes (``statistics_``, ``center_``,
``scale_``), so the rebuilt transformer gives bit-identical output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

from . import _stored
from ._stored import at
from .column_typing import DATETIME_DTYPE

__all__ = [
    "DATETIME_PARTS",
    "MISSING_CATEGORY",
    "TabularPreprocessor",
    "datetime_features",
    "soft_clip",
    "unseen_flags",
]

#: Suffixes of the numeric features made from each datetime column.
DATETIME_PARTS = ("days", "month", "dayofweek", "hour")
#: Category given to missing values of categorical columns.
MISSING_CATEGORY = "__missing__"
_GROUPS = ("numeric", "boolean", "datetime", "categorical")
_EPOCH = pd.Timestamp("1970-01-01")


def datetime_features(X) -> np.ndarray:
    """Return four numeric features per datetime column of ``X``.

    For each column, in order: days since 1970-01-01 (fractional), month
    (1-12), day of week (0 = Monday) and hour of day (minutes as a fraction).
    Missing timestamps give ``NaN`` features, filled later by the imputer.
    """
    frame = pd.DataFrame(X)
    blocks = []
    for col in frame.columns:
        stamps = pd.to_datetime(frame[col])
        blocks.extend([
            (stamps - _EPOCH) / pd.Timedelta(days=1),
            stamps.dt.month,
            stamps.dt.day_of_week,
            stamps.dt.hour + stamps.dt.minute / 60.0,
        ])
    if not blocks:
        return np.empty((len(frame), 0))
    return np.column_stack([np.asarray(b, dtype="float64") for b in blocks])


def _datetime_feature_names(transformer, input_features):
    return np.asarray([f"{col}__{part}" for col in input_features
                       for part in DATETIME_PARTS], dtype=object)


def unseen_flags(X, sizes, columns=None) -> np.ndarray:
    """Append one "unseen category" flag per categorical column.

    ``X`` holds the one-hot blocks of the columns side by side, ``sizes`` the
    width of each block. A row whose block is all zeros (a category not kept
    in training) gets flag 1, otherwise 0. Training rows have flag 0 unless
    they hold a rare category beyond ``max_categories``, so a model that
    learned the data reconstructs 0 and an unseen category is evidence.
    ``columns`` (the source column names) only serves to name the flags.
    """
    X = np.asarray(X, dtype="float64")
    bounds = np.cumsum([0, *sizes])
    flags = [1.0 - X[:, a:b].sum(axis=1) for a, b in zip(bounds[:-1], bounds[1:],
                                                           strict=True)]
    return np.column_stack([X, *flags]) if flags else X


def _unseen_flag_names(transformer, input_features):
    columns = transformer.kw_args["columns"]
    return np.asarray([*input_features, *(f"{c}__unseen" for c in columns)],
                      dtype=object)


def soft_clip(X, limit: float = 20.0) -> np.ndarray:
    """Compress values beyond ``±limit`` logarithmically.

    ``|x| <= limit`` is unchanged; beyond it ``sign(x) * (limit + log1p(|x| -
    limit))``. The map is continuous and increasing, so extreme values keep
    their order (and stay the most anomalous) while a value of ``1e300`` maps
    to about 710: squared errors can neither overflow nor dominate training.
    """
    X = np.array(X, dtype="float64")
    over = np.abs(X) > limit
    X[over] = np.sign(X[over]) * (limit + np.log1p(np.abs(X[over]) - limit))
    return X


def _numeric_chain(clip: float, first=None) -> Pipeline:
    steps = [] if first is None else [("features", first)]
    steps += [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", RobustScaler()),
        ("clip", FunctionTransformer(soft_clip, kw_args={"limit": clip},
                                     feature_names_out="one-to-one")),
    ]
    return Pipeline(steps)


class TabularPreprocessor:
    """Impute, encode and scale typed columns with scikit-learn transformers.

    Parameters
    ----------
    column_types : dict
        ``{column: type}`` with types ``"numeric"``, ``"boolean"``,
        ``"datetime"`` or ``"categorical"`` (see
        :func:`~fusionlab.tabular.column_typing.infer_column_types`).
    max_categories : int, default=50
        Most frequent categories kept per categorical column.
    clip : float, default=20.0
        Limit of :func:`soft_clip`, in robust-scaled units.

    Attributes
    ----------
    transformer_ : sklearn.compose.ColumnTransformer
        The fitted transformer.
    feature_names_out_ : list of str
        Names of the encoded features (``get_feature_names_out``).
    feature_sources_ : list of str
        Source column of every encoded feature.
    fill_values_ : dict
        Training value used for a column missing at transform time: median
        (numeric), most frequent value (boolean, categorical), ``None``
        (datetime: each derived feature is then imputed by its median).

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.tabular.preprocessing import TabularPreprocessor
    >>> df = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None]})
    >>> pre = TabularPreprocessor({"x": "numeric", "c": "categorical"}).fit(df)
    >>> pre.feature_names_out_
    ['numeric__x', 'categorical__c___missing__', 'categorical__c_a',
     'categorical__c_b', 'categorical__c__unseen']
    >>> pre.feature_sources_
    ['x', 'c', 'c', 'c', 'c']
    >>> pre.transform(df).shape
    (4, 5)
    """

    def __init__(self, column_types, *, max_categories: int = 50, clip: float = 20.0):
        self.column_types = dict(column_types)
        self.max_categories = max_categories
        self.clip = clip

    def _groups(self):
        return {g: [c for c, t in self.column_types.items() if t == g] for g in _GROUPS}

    def _build(self, categories):
        groups = self._groups()
        transformers = []
        if groups["numeric"]:
            transformers.append(("numeric", _numeric_chain(self.clip), groups["numeric"]))
        if groups["boolean"]:
            transformers.append((
                "boolean",
                SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                groups["boolean"],
            ))
        if groups["datetime"]:
            first = FunctionTransformer(datetime_features,
                                        feature_names_out=_datetime_feature_names)
            transformers.append(("datetime", _numeric_chain(self.clip, first),
                                 groups["datetime"]))
        if groups["categorical"]:
            transformers.append(("categorical", Pipeline([
                ("impute", SimpleImputer(strategy="constant",
                                         fill_value=MISSING_CATEGORY,
                                         keep_empty_features=True)),
                ("encode", OneHotEncoder(categories=categories,
                                         handle_unknown="ignore",
                                         sparse_output=False, dtype="float64")),
                ("unseen", FunctionTransformer(
                    unseen_flags,
                    kw_args={"sizes": [len(c) for c in categories],
                             "columns": list(groups["categorical"])},
                    feature_names_out=_unseen_flag_names)),
            ]), groups["categorical"]))
        return ColumnTransformer(transformers, remainder="drop")

    def _finish(self):
        groups = self._groups()
        sources = []
        for name, _, cols in self.transformer_.transformers_:
            if name in ("numeric", "boolean"):
                sources.extend(cols)
            elif name == "datetime":
                sources.extend(c for c in cols for _ in DATETIME_PARTS)
            elif name == "categorical":
                sources.extend(c for c, cats in zip(cols, self.categories_, strict=True)
                               for _ in cats)
                sources.extend(cols)  # the unseen flags
        self.feature_names_out_ = [str(n) for n in self.transformer_.get_feature_names_out()]
        if len(sources) != len(self.feature_names_out_):  # pragma: no cover - invariant
            raise RuntimeError("encoded features and their sources do not line up")
        self.feature_sources_ = sources
        self.groups_ = groups
        return self

    def fit(self, frame: pd.DataFrame):
        """Fit on a frame already converted by ``coerce_frame``."""
        groups = self._groups()
        self.categories_ = []
        self.fill_values_ = {}
        for col in groups["categorical"]:
            counts = frame[col].fillna(MISSING_CATEGORY).value_counts()
            # Most frequent first, ties broken by name so the choice is stable.
            order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = sorted(k for k, _ in order[: self.max_categories])
            self.categories_.append(kept)
            self.fill_values_[col] = order[0][0]
        for col in groups["boolean"] + groups["numeric"]:
            # A column without any value (a type override that does not fit
            # it) has no mode or median; NaN would also fail `save` (JSON).
            if frame[col].isna().all():
                kind = self.column_types[col]
                raise ValueError(
                    f"Column {col!r} ({kind}) has no non-missing value to learn "
                    f"from: expected at least one {kind} value in the training "
                    f"frame; received {len(frame)} missing value(s). Check its "
                    "type in `column_types`."
                )
        for col in groups["boolean"]:
            self.fill_values_[col] = float(frame[col].mode().iloc[0])
        for col in groups["numeric"]:
            self.fill_values_[col] = float(frame[col].median())
        for col in groups["datetime"]:
            self.fill_values_[col] = None
        self.transformer_ = self._build(self.categories_ or "auto")
        self.transformer_.fit(frame[list(self.column_types)])
        return self._finish()

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the encoded ``float64`` matrix of a coerced frame."""
        return np.asarray(self.transformer_.transform(frame[list(self.column_types)]),
                          dtype="float64")

    # -- JSON round trip ---------------------------------------------------
    def _steps(self, name):
        return self.transformer_.named_transformers_[name]

    def to_dict(self) -> dict:
        """Return the fitted parameters as JSON-compatible data."""
        params = {
            "column_types": self.column_types,
            "max_categories": self.max_categories,
            "clip": self.clip,
            "categories": self.categories_,
            "fill_values": self.fill_values_,
        }
        for name in ("numeric", "datetime"):
            if name in self.transformer_.named_transformers_:
                pipe = self._steps(name)
                params[name] = {
                    "statistics": pipe.named_steps["impute"].statistics_.tolist(),
                    "center": pipe.named_steps["scale"].center_.tolist(),
                    "scale": pipe.named_steps["scale"].scale_.tolist(),
                }
        if "boolean" in self.transformer_.named_transformers_:
            params["boolean"] = {
                "statistics": self._steps("boolean").statistics_.astype("float64").tolist()
            }
        return params

    @classmethod
    def from_dict(cls, params: dict, *, source=None,
                  prefix="preprocessor") -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output.

        Every value is checked first (types, finite numbers, sizes that
        match the columns), so that a changed save cannot broadcast a
        mis-sized statistic or impute NaN.

        Parameters
        ----------
        params : dict
            The output of :meth:`to_dict`.
        source, prefix : str, optional
            How errors name the file and the field holding ``params``.

        Raises
        ------
        ValueError
            Naming the field (``preprocessor.numeric.center``...) that is
            missing or wrong.
        """
        def name(key):
            return at(source, f"{prefix}.{key}")

        def get(key, mapping=params, where=prefix):
            return _stored.field(mapping, key, source, where)

        types = _stored.column_types(get("column_types"), name("column_types"), _GROUPS)
        max_categories = _stored.integer(get("max_categories"), name("max_categories"),
                                         low=1)
        clip = _stored.real(get("clip"), name("clip"), low=1.0)
        self = cls(types, max_categories=max_categories, clip=clip)
        groups = self._groups()
        categories = get("categories")
        if not isinstance(categories, list) or len(categories) != len(groups["categorical"]):
            _stored.fail(name("categories"), f"a list of {len(groups['categorical'])} "
                         "lists of categories (one per categorical column)", categories)
        self.categories_ = [_stored.unique_texts(c, name("categories")) for c in categories]
        if any(len(c) > max_categories for c in self.categories_):
            _stored.fail(name("categories"), f"at most {max_categories} categories per "
                         "column (max_categories)", [len(c) for c in self.categories_])
        fill = get("fill_values")
        if not isinstance(fill, dict) or set(fill) != set(types):
            _stored.fail(name("fill_values"), f"a value for each of the columns "
                         f"{sorted(types)}", fill)
        for col in groups["numeric"] + groups["boolean"]:
            _stored.real(fill[col], name(f"fill_values.{col}"))
        for col in groups["categorical"]:
            _stored.text(fill[col], name(f"fill_values.{col}"))
        for col in groups["datetime"]:
            if fill[col] is not None:
                _stored.fail(name(f"fill_values.{col}"), "null (for a datetime column)",
                             fill[col])
        self.fill_values_ = dict(fill)
        sizes = {"numeric": len(groups["numeric"]),
                 "datetime": len(DATETIME_PARTS) * len(groups["datetime"])}
        stats = {}
        for group, size in sizes.items():
            if not size:
                continue
            block = get(group)
            stats[group] = {
                key: _stored.reals(get(key, block, f"{prefix}.{group}"),
                                   name(f"{group}.{key}"), length=size,
                                   positive=key == "scale")
                for key in ("statistics", "center", "scale")}
        if groups["boolean"]:
            block = get("boolean")
            stats["boolean"] = {"statistics": _stored.reals(
                get("statistics", block, f"{prefix}.boolean"),
                name("boolean.statistics"), length=len(groups["boolean"]))}
        prototype = {}
        for col in groups["numeric"] + groups["boolean"]:
            prototype[col] = [float(self.fill_values_[col])]
        for col in groups["datetime"]:
            prototype[col] = [_EPOCH]
        for col, cats in zip(groups["categorical"], self.categories_, strict=True):
            prototype[col] = pd.Series([cats[0]], dtype=object)
        frame = pd.DataFrame(prototype)[list(self.column_types)]
        for col in groups["datetime"]:
            frame[col] = frame[col].astype(DATETIME_DTYPE)
        self.transformer_ = self._build(self.categories_ or "auto")
        self.transformer_.fit(frame)
        for group in ("numeric", "datetime"):
            if group in stats:
                pipe = self._steps(group)
                pipe.named_steps["impute"].statistics_ = stats[group]["statistics"]
                pipe.named_steps["scale"].center_ = stats[group]["center"]
                pipe.named_steps["scale"].scale_ = stats[group]["scale"]
        if "boolean" in stats:
            self._steps("boolean").statistics_ = stats["boolean"]["statistics"]
        return self._finish()
