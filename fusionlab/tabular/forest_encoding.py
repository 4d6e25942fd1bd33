"""Feature representation of the isolation-forest method, and its blame.

An isolation forest splits a random feature at a random value between the
smallest and the largest value of the rows in a node. Any small group of rows
sitting at the end of a feature's range is therefore cut off in a split or
two, however close that end is: a one-hot column of a 3 % category, the
joint of a few such columns, or the calendar parts of a date let it isolate
groups of normal rows as fast as real outliers. :class:`ForestPreprocessor`
builds features on which normal rows are either spread out or exactly
constant:

* ``numeric`` columns: median imputation, robust scaling (median and
  inter-quartile range) and :func:`~fusionlab.tabular.preprocessing.soft_clip`,
  the chain of :class:`~fusionlab.tabular.preprocessing.TabularPreprocessor`;
* ``datetime`` columns: only ``<col>__days`` (days since 1970-01-01) through
  the same chain, so that a date far from the others stands out. Month, day
  of week and hour are left out: they are spread evenly over normal rows and
  only made the forest spend splits on them (on the benchmark of
  ``benchmarks/bench_tabular.py`` keeping them lowered recall@k on 100 000
  rows from 0.86 to 0.66);
* ``boolean`` columns: 0/1, missing values replaced by the most frequent;
* ``categorical`` (and ``boolean``) columns: a *rarity* feature computed from
  the training count of the value (missing is a value of its own, a value
  never seen in training counts 0)::

      rarity = max(0, log((r + 1) / (count + 1))),   r = max(1 % of rows, 5)

  It is 0 for every value seen at least ``r`` times in training, so common
  categories form one point the forest cannot split, and grows as the value
  gets rarer (``log(r + 1)`` for an unseen one);
* pairs of categorical columns with at most :data:`PAIR_MAX_CARDINALITY`
  training values each (the first :data:`MAX_PAIRS` pairs in column order):
  a *mismatch* feature, comparing the training count ``n_ab`` of the pair of
  values with ``e_ab = n_a * n_b / n``, the count expected were the two
  columns unrelated::

      mismatch = max(0, min(log((e_ab + 1) / (n_ab + 1)),
                            log((r + 1) / (n_ab + 1))) - log 2)

  so a pair is flagged only when it is rare *and* at least twice rarer than
  its two values make it expected: a currency that does not match the country
  is, two unrelated columns whose rare values meet by chance are not.

Missing numeric values are imputed with the median, without a missing
indicator: on the benchmark, indicator columns let the forest isolate the
(normal) rows with a missing value and lowered recall@k on 100 000 rows from
0.86 to 0.69. A missing categorical value is a value of its own, so a column
that is rarely missing flags the rows where it is.

Blame (:meth:`ForestPreprocessor.blame`) is, per encoded feature, a deviation
mapped back to the user's columns: ``max(0, |z| - 1)`` for numeric and date
features (``z`` the robust z-score: how many inter-quartile ranges the value
lies beyond one inter-quartile range from the median, so that ordinary values
get none), the rarity of categorical and boolean values and half of a pair's
mismatch for each of its two columns. A row's column blames
are then divided by their sum, so that they are shares summing to 1.

All fitted parameters are plain numbers and strings (:meth:`to_dict`,
:meth:`from_dict`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OrdinalEncoder

from . import _stored
from ._stored import at
from .preprocessing import DATETIME_PARTS, MISSING_CATEGORY, TabularPreprocessor

__all__ = ["MAX_PAIRS", "PAIR_MAX_CARDINALITY", "RARE_SHARE", "ForestPreprocessor",
           "RarityEncoder"]

#: Share of the training rows below which a value counts as rare.
RARE_SHARE = 0.01
#: Fewest rows a value needs not to count as rare, whatever the share.
RARE_MIN_ROWS = 5
#: Most distinct training values a categorical column may have to be paired.
PAIR_MAX_CARDINALITY = 20
#: Most column pairs given a mismatch feature.
MAX_PAIRS = 15
# Robust z-scores within one inter-quartile range of the median are ordinary.
_BLAME_BAND = 1.0
_DATE_PARTS_DROPPED = tuple(p for p in DATETIME_PARTS if p != "days")


def _rarity(counts, rare):
    return np.maximum(0.0, np.log((rare + 1.0) / (counts + 1.0)))


class RarityEncoder(TransformerMixin, BaseEstimator):
    """Rarity of single values and mismatch of value pairs, from training counts.

    Values are mapped to codes by a scikit-learn
    :class:`~sklearn.preprocessing.OrdinalEncoder` (an unseen value gets code
    ``-1`` and count 0); the counts of each value and of each pair of values
    are learned by :meth:`fit`. See :mod:`fusionlab.tabular.forest_encoding`
    for the formulas.

    Parameters
    ----------
    pairs : list of tuple of int, default=()
        Pairs of column positions given a mismatch feature.

    Attributes
    ----------
    encoder_ : sklearn.preprocessing.OrdinalEncoder
    counts_ : list of numpy.ndarray
        Training count of every category of every column.
    pair_counts_ : list of numpy.ndarray
        Training count of every pair of categories (2-D) of every pair.
    n_samples_ : int
    rare_ : float
        Count below which a value is rare: ``max(RARE_SHARE * n, RARE_MIN_ROWS)``.
    """

    def __init__(self, pairs=()):
        self.pairs = pairs

    def _codes(self, X):
        return self.encoder_.transform(np.asarray(X, dtype=object)).astype(int)

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=object)
        self.encoder_ = OrdinalEncoder(handle_unknown="use_encoded_value",
                                       unknown_value=-1, dtype="float64").fit(X)
        codes = self._codes(X)
        self.n_samples_ = len(X)
        self.counts_ = [np.bincount(codes[:, j], minlength=len(cats)).astype("float64")
                        for j, cats in enumerate(self.encoder_.categories_)]
        self.pair_counts_ = []
        for a, b in self.pairs:
            shape = (len(self.counts_[a]), len(self.counts_[b]))
            flat = np.ravel_multi_index((codes[:, a], codes[:, b]), shape)
            self.pair_counts_.append(np.bincount(flat, minlength=shape[0] * shape[1])
                                     .reshape(shape).astype("float64"))
        self._set_rare()
        return self

    def _set_rare(self):
        self.rare_ = max(RARE_SHARE * self.n_samples_, float(RARE_MIN_ROWS))

    def transform(self, X):
        """Return the rarity of every column, then the mismatch of every pair."""
        codes = self._codes(X)
        out = []
        value_counts = []
        for j, counts in enumerate(self.counts_):
            c = np.where(codes[:, j] >= 0, counts[np.maximum(codes[:, j], 0)], 0.0)
            value_counts.append(c)
            out.append(_rarity(c, self.rare_))
        for (a, b), table in zip(self.pairs, self.pair_counts_, strict=True):
            seen = (codes[:, a] >= 0) & (codes[:, b] >= 0)
            n_ab = np.where(seen, table[np.maximum(codes[:, a], 0),
                                        np.maximum(codes[:, b], 0)], 0.0)
            expected = value_counts[a] * value_counts[b] / self.n_samples_
            surprise = np.minimum(np.log((expected + 1.0) / (n_ab + 1.0)),
                                  np.log((self.rare_ + 1.0) / (n_ab + 1.0)))
            out.append(np.maximum(0.0, surprise - np.log(2.0)))
        return np.column_stack(out) if out else np.empty((len(codes), 0))

    def to_dict(self):
        return {
            "pairs": [list(p) for p in self.pairs],
            "categories": [[str(c) for c in cats] for cats in self.encoder_.categories_],
            "counts": [c.tolist() for c in self.counts_],
            "pair_counts": [t.tolist() for t in self.pair_counts_],
            "n_samples": int(self.n_samples_),
        }

    @classmethod
    def from_dict(cls, params, *, source=None, prefix="rarity", n_columns=None):
        """Rebuild a fitted encoder from :meth:`to_dict` output, checking it.

        Raises
        ------
        ValueError
            Naming the field (``<prefix>.counts``...) that is missing, of the
            wrong type or size, negative or not finite.
        """
        def name(key):
            return at(source, f"{prefix}.{key}")

        def get(key):
            return _stored.field(params, key, source, prefix)

        categories = get("categories")
        if (not isinstance(categories, list) or not categories
                or (n_columns is not None and len(categories) != n_columns)):
            _stored.fail(name("categories"), f"a list of {n_columns or 'the'} columns' "
                         "lists of categories", categories)
        categories = [_stored.unique_texts(c, name("categories")) for c in categories]
        pairs = get("pairs")
        if (not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2
                and all(isinstance(i, int) and not isinstance(i, bool) for i in p)
                and 0 <= p[0] < p[1] < len(categories) for p in pairs)):
            _stored.fail(name("pairs"), f"a list of [a, b] column positions with "
                         f"0 <= a < b < {len(categories)}", pairs)
        self = cls(pairs=[tuple(p) for p in pairs])
        counts = get("counts")
        if not isinstance(counts, list) or len(counts) != len(categories):
            _stored.fail(name("counts"), f"{len(categories)} lists of counts", counts)
        self.counts_ = [_stored.reals(c, name("counts"), length=len(cats), low=0.0)
                        for c, cats in zip(counts, categories, strict=True)]
        tables = get("pair_counts")
        if not isinstance(tables, list) or len(tables) != len(pairs):
            _stored.fail(name("pair_counts"), f"{len(pairs)} tables of counts", tables)
        self.pair_counts_ = [
            _stored.reals(t, name("pair_counts"), low=0.0,
                          shape=(len(categories[a]), len(categories[b])))
            for (a, b), t in zip(self.pairs, tables, strict=True)]
        self.n_samples_ = _stored.integer(get("n_samples"), name("n_samples"), low=1)
        # Fitting on the categories themselves (one row per category, padded
        # with the first) gives the encoder exactly the saved categories.
        width = max(len(c) for c in categories)
        rows = np.array([[c[i] if i < len(c) else c[0] for c in categories]
                         for i in range(width)], dtype=object)
        self.encoder_ = OrdinalEncoder(categories=[np.array(c, dtype=object)
                                                   for c in categories],
                                       handle_unknown="use_encoded_value",
                                       unknown_value=-1, dtype="float64").fit(rows)
        self._set_rare()
        return self


class ForestPreprocessor:
    """Encode typed columns for :class:`~sklearn.ensemble.IsolationForest`.

    See :mod:`fusionlab.tabular.forest_encoding` for the features and the
    blame.

    Parameters
    ----------
    column_types : dict
        ``{column: type}`` (``"numeric"``, ``"boolean"``, ``"datetime"``,
        ``"categorical"``).
    clip : float, default=20.0
        Limit of :func:`~fusionlab.tabular.preprocessing.soft_clip`.

    Attributes
    ----------
    dense_ : TabularPreprocessor or None
        Numeric, boolean and date columns (all four date parts are computed;
        :attr:`keep_` selects the used ones).
    rarity_ : RarityEncoder or None
        Categorical and boolean columns.
    feature_names_out_ : list of str
        Names of the features given to the forest.
    blame_weights_ : numpy.ndarray
        ``(n_features, n_columns)``: share of each feature's deviation given
        to each column of ``column_types``.
    blame_offsets_ : numpy.ndarray
        Deviation that does not count, per feature (1 for robust z-scores).
    fill_values_ : dict
        Training value used for a column missing at transform time.

    Examples
    --------
    >>> import pandas as pd
    >>> from fusionlab.tabular.forest_encoding import ForestPreprocessor
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 5,
    ...                    "c": ["a"] * 19 + ["b"]})
    >>> pre = ForestPreprocessor({"x": "numeric", "c": "categorical"}).fit(df)
    >>> pre.feature_names_out_
    ['x', 'c__rarity']
    >>> pre.transform(df)[-2:, 1].round(2).tolist()   # "a" is common, "b" rare
    [0.0, 1.1]
    """

    def __init__(self, column_types, *, clip: float = 20.0):
        self.column_types = dict(column_types)
        self.clip = clip

    def _layout(self):
        types = self.column_types
        self.dense_columns_ = [c for c, t in types.items()
                               if t in ("numeric", "boolean", "datetime")]
        self.rarity_columns_ = [c for c, t in types.items()
                                if t in ("categorical", "boolean")]

    def _choose_pairs(self, frame):
        eligible = [i for i, c in enumerate(self.rarity_columns_)
                    if self.column_types[c] == "categorical"
                    and frame[c].fillna(MISSING_CATEGORY).nunique() <= PAIR_MAX_CARDINALITY]
        return list(combinations(eligible, 2))[:MAX_PAIRS]

    def _rarity_input(self, frame):
        blocks = []
        for col in self.rarity_columns_:
            values = frame[col]
            if self.column_types[col] == "boolean":  # 0.0 / 1.0 / NaN after coercion
                text = np.where(values.to_numpy(dtype="float64") > 0.5, "True", "False")
                blocks.append(np.where(values.isna(), MISSING_CATEGORY, text))
            else:
                blocks.append(values.fillna(MISSING_CATEGORY).astype(str).to_numpy())
        return np.column_stack(blocks).astype(object)

    def fit(self, frame: pd.DataFrame):
        """Fit on a frame already converted by ``coerce_frame``."""
        self._layout()
        self.dense_ = None
        if self.dense_columns_:
            self.dense_ = TabularPreprocessor(
                {c: self.column_types[c] for c in self.dense_columns_},
                clip=self.clip).fit(frame)
        self.rarity_ = None
        if self.rarity_columns_:
            self.rarity_ = RarityEncoder(self._choose_pairs(frame)).fit(
                self._rarity_input(frame))
        self.fill_values_ = {} if self.dense_ is None else dict(self.dense_.fill_values_)
        for col in self.rarity_columns_:
            if self.column_types[col] == "categorical":
                counts = frame[col].fillna(MISSING_CATEGORY).value_counts()
                self.fill_values_[col] = sorted(counts.items(),
                                                key=lambda kv: (-kv[1], kv[0]))[0][0]
        return self._finish()

    def _finish(self):
        columns = list(self.column_types)
        names, weights = [], []

        offsets = []

        def add(name, col_weights, offset=0.0):
            row = np.zeros(len(columns))
            for col, w in col_weights.items():
                row[columns.index(col)] = w
            names.append(name)
            weights.append(row)
            offsets.append(offset)

        self.keep_ = []
        if self.dense_ is not None:
            for j, (name, src) in enumerate(zip(self.dense_.feature_names_out_,
                                                self.dense_.feature_sources_,
                                                strict=True)):
                if name.split("__", 1)[0] == "datetime" and name.endswith(
                        tuple(f"__{p}" for p in _DATE_PARTS_DROPPED)):
                    continue
                self.keep_.append(j)
                # Booleans are blamed through their rarity feature instead.
                kind = self.column_types[src]
                add(name.split("__", 1)[1], {} if kind == "boolean" else {src: 1.0},
                    offset=_BLAME_BAND)
        if self.rarity_ is not None:
            for col in self.rarity_columns_:
                add(f"{col}__rarity", {col: 1.0})
            for a, b in self.rarity_.pairs:
                ca, cb = self.rarity_columns_[a], self.rarity_columns_[b]
                add(f"{ca}__{cb}__mismatch", {ca: 0.5, cb: 0.5})
        self.feature_names_out_ = names
        self.blame_weights_ = (np.vstack(weights) if weights
                               else np.zeros((0, len(columns))))
        self.blame_offsets_ = np.asarray(offsets, dtype="float64")
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the ``float64`` features of a coerced frame."""
        blocks = []
        if self.dense_ is not None:
            blocks.append(self.dense_.transform(frame)[:, self.keep_])
        if self.rarity_ is not None:
            blocks.append(self.rarity_.transform(self._rarity_input(frame)))
        return np.column_stack(blocks).astype("float64")

    def blame(self, X: np.ndarray) -> np.ndarray:
        """Return each row's blame per column of ``column_types``, as shares.

        ``X`` holds rows encoded by :meth:`transform`; every feature's value
        is already a deviation from the normal rows (a robust z-score, a
        rarity or a mismatch), so its absolute value, less
        :attr:`blame_offsets_` (1 for robust z-scores), is given to its
        column(s) through :attr:`blame_weights_`. Rows with no deviation at
        all get zeros.
        """
        raw = np.maximum(0.0, np.abs(X) - self.blame_offsets_) @ self.blame_weights_
        total = raw.sum(axis=1, keepdims=True)
        return np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)

    def to_dict(self) -> dict:
        """Return the fitted parameters as JSON-compatible data."""
        return {
            "column_types": self.column_types,
            "clip": self.clip,
            "dense": None if self.dense_ is None else self.dense_.to_dict(),
            "rarity": None if self.rarity_ is None else self.rarity_.to_dict(),
            "fill_values": self.fill_values_,
        }

    @classmethod
    def from_dict(cls, params: dict, *, source=None,
                  prefix="preprocessor") -> ForestPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output, checking it.

        Parameters
        ----------
        params : dict
            The output of :meth:`to_dict`.
        source, prefix : str, optional
            How errors name the file and the field holding ``params``.

        Raises
        ------
        ValueError
            Naming the field (``preprocessor.rarity.counts``...) that is
            missing or wrong.
        """
        def name(key):
            return at(source, f"{prefix}.{key}")

        def get(key):
            return _stored.field(params, key, source, prefix)

        types = _stored.column_types(get("column_types"), name("column_types"),
                                     ("numeric", "boolean", "datetime", "categorical"))
        self = cls(types, clip=_stored.real(get("clip"), name("clip"), low=1.0))
        self._layout()
        dense, rarity = get("dense"), get("rarity")
        self.dense_ = None
        if self.dense_columns_:
            if dense is None:
                _stored.fail(name("dense"), "the numeric, boolean and datetime columns' "
                             "preprocessing", dense)
            self.dense_ = TabularPreprocessor.from_dict(dense, source=source,
                                                        prefix=f"{prefix}.dense")
            expected = {c: types[c] for c in self.dense_columns_}
            if self.dense_.column_types != expected:
                _stored.fail(name("dense.column_types"), str(expected),
                             self.dense_.column_types)
        elif dense is not None:
            _stored.fail(name("dense"), "null (no numeric, boolean or datetime column)",
                         dense)
        self.rarity_ = None
        if self.rarity_columns_:
            if rarity is None:
                _stored.fail(name("rarity"), "the categorical columns' counts", rarity)
            self.rarity_ = RarityEncoder.from_dict(rarity, source=source,
                                                   prefix=f"{prefix}.rarity",
                                                   n_columns=len(self.rarity_columns_))
        elif rarity is not None:
            _stored.fail(name("rarity"), "null (no categorical or boolean column)", rarity)
        fill = get("fill_values")
        expected = set(self.dense_columns_) | {c for c in self.rarity_columns_
                                              if types[c] == "categorical"}
        if not isinstance(fill, dict) or set(fill) != expected:
            _stored.fail(name("fill_values"), f"a value for each of {sorted(expected)}",
                         fill)
        for col in expected:
            if types[col] == "categorical":
                _stored.text(fill[col], name(f"fill_values.{col}"))
            elif self.dense_ is not None and fill[col] != self.dense_.fill_values_[col]:
                _stored.fail(name(f"fill_values.{col}"),
                             f"the dense preprocessing's {self.dense_.fill_values_[col]!r}",
                             fill[col])
        self.fill_values_ = dict(fill)
        return self._finish()
