"""Domain-free sanity signals: how surprising each value of a row is, in nats.

:class:`SanitySignals` measures, for every row, a set of *signals*, each a
surprise ``-log p`` (in nats) where ``p`` estimates the probability of a
training row being at least as odd in that respect. Measured against the
training data each signal has the same scale, whatever its column's type or
units: a value as rare as one row in ``e**s`` has surprise ``s``. That makes
the columns' blames comparable (a category held by a tenth of the rows has a
surprise below 2.3 nats, an age of -5 where ages run from 18 to 90 one of
more than 20).

The signals:

* **range** (numeric and date columns): the two-sided tail of the value
  against the training values. Within the bulk of the training values it is
  their empirical tail share; beyond the ``TAIL_SHARE`` quantile (1 % on each
  side) the tail is extended exponentially, with the decay measured between
  the 10 % and 1 % quantiles (:class:`Tail`), so that the surprise grows
  with the distance beyond the usual range (a value twice as far out is
  about twice as surprising) instead of stopping at the most extreme
  training row. The upper tail of a column whose bulk is positive is
  measured on ``log(value)``, so a skewed column (prices, amounts) does not
  make its own largest values look extreme.
* **sign** (numeric columns whose training values have one sign, but for at
  most ``SIGN_SHARE`` of them): a value of the other sign has the surprise
  of that share, ``-log((n_other + 1) / (n + 1))``.
* **missing** (numeric and date columns): a missing value has the surprise
  of the missing share, ``-log((n_missing + 1) / (n + 1))``.
* **rarity** (categorical and boolean columns, missing being a value of its
  own): ``-log`` of the share of training rows holding a value at most as
  frequent as this one; a value never seen in training counts as one seen
  once (Good-Turing: new values are as likely as the values seen once).
* **relation** (numeric and date columns explained by the others): a
  least-squares fit of the column from all the others (robust-scaled
  numbers, their logarithms where positive, booleans, one-hot categories),
  trimmed of its worst-fitting rows and kept when it explains at least
  ``RELATION_MIN_R2`` of the column's variance; the signal is the two-sided
  tail (:class:`Tail`) of the row's residual. A total that is not price
  times quantity (``log total = log price + log quantity``), a delivery
  before its order, an amount in a currency it never has are found there.
* **pair** (pairs of categorical or boolean columns of at most
  ``PAIR_MAX_CARDINALITY`` values): how much rarer the pair of values is
  than its two values make it expected, ``max(0, log((e + 1) / (n_ab +
  1)))`` with ``e = n_a n_b / n``, calibrated against its training values
  by :class:`Tail`: a currency that does not match the country stands out,
  two unrelated columns whose rare values meet by chance do not.

A column's surprise (:meth:`SanitySignals.column_surprise`) is the largest
of its own signals plus its share of the relations and pairs it belongs to
(a relation is shared by its target and the columns its fit leans on, a
pair by its two columns). A row's evidence is what its signals show beyond
chance, ``max(0, s - floor_)``: ``floor_`` is the surprise the largest of a
row's ``m`` tests (columns, relations, pairs) reaches by chance, ``log m``
nats, at least :data:`FLOOR`. A row's score (:meth:`SanitySignals.row_score`)
sums that evidence, so that one impossible value and several odd ones both
count while the small surprises every row has do not add up; columns tied
by a close relation (R^2 of at least :data:`GROUP_R2`: price, quantity and
total) count their own evidence once, as do their relations.

Counts of categories and pairs leave the row itself out: a category held by
one training row is as rare as one never seen (the detector usually scores
the rows it was fitted on). On new data this makes a value seen once in
training count as unseen, a small bias towards flagging it.

All fitted state is plain numbers and strings (:meth:`to_dict`,
:meth:`from_dict`, which checks every field).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from . import _stored
from ._stored import at
from .preprocessing import MISSING_CATEGORY

__all__ = ["FLOOR", "GROUP_R2", "PAIR_MAX_CARDINALITY", "RELATION_MIN_R2",
           "RELATION_TOLERANCE", "SIGN_SHARE", "TAIL_SHARE", "SanitySignals", "Tail"]

#: Share of the training values beyond which a tail is extended exponentially.
TAIL_SHARE = 0.01
#: Largest share of training values of the minority sign for the sign signal.
SIGN_SHARE = 0.002
#: Least share of a column's variance the other columns must explain for
#: its relation signal.
RELATION_MIN_R2 = 0.5
#: Residual of a relation counted as rounding (in units of the target's
#: spread, or relative on the log scale), unless the target's own rounding
#: step is larger.
RELATION_TOLERANCE = 1e-3
#: Least R^2 of a relation whose columns count their own evidence once
#: (:meth:`SanitySignals.row_score`).
GROUP_R2 = 0.9
#: Most distinct training values of a column in a pair signal.
PAIR_MAX_CARDINALITY = 20
#: Most pairs of columns with a pair signal.
MAX_PAIRS = 45
#: Least surprise (nats) that a row's signals show by chance; only the excess
#: is evidence (``SanitySignals.floor_`` is ``log`` of the number of tests
#: when larger).
FLOOR = 2.0
# Order statistics kept per signal for the empirical bulk of its tail.
_GRID = 256
# Surprise beyond which the exponential tail grows logarithmically, so that
# no value gives an infinite or overflowing score.
_LINEAR_LIMIT = 60.0
# Categories one-hot encoded per column in the relation fits.
_FIT_CATEGORIES = 20
# Share of the worst-fitting rows left out of the second relation fit.
_TRIM = 0.02
_RIDGE = 1e-6
_TINY = 1e-12


def _log_positive(x, floor):
    return np.log(np.maximum(x, floor))


class Tail:
    """Upper-tail surprise of several signals, fitted on training values.

    For each signal (a column of the fitted matrix) it keeps ``_GRID`` order
    statistics of its training values, the quantile ``q_b`` above which lies
    a share ``tail`` of them, and a decay ``beta``: the distance between the
    ``10 * tail`` and the ``tail`` quantiles divided by ``log 10``, at least
    ``floor``. The surprise of a value ``v`` is ``-log S(v)``, with ``S(v)``
    the share of training values ``>= v`` up to ``q_b``, and
    ``-log(tail) + (v - q_b) / beta`` beyond it (growing only
    logarithmically past 60 nats). Missing values have surprise 0.

    Parameters
    ----------
    floor : array-like of shape (n_signals,)
        Least decay of each signal, in its units (a share of its spread), so
        that a signal whose training values are all equal does not turn any
        other value into an infinite surprise.
    """

    def __init__(self, floor):
        self.floor = floor

    def fit(self, V):
        V = np.asarray(V, dtype="float64")
        if V.ndim == 1:
            V = V[:, None]
        floor = np.broadcast_to(np.asarray(self.floor, dtype="float64"), V.shape[1])
        grids, bounds, betas, tails, shapes = [], [], [], [], []
        for j in range(V.shape[1]):
            v = np.sort(V[np.isfinite(V[:, j]), j])
            if len(v) == 0:
                v = np.zeros(1)
            tail = min(0.25, max(TAIL_SHARE, 5.0 / len(v)))
            mid = min(0.5, 10.0 * tail)
            q_b, q_2, q_4, q_m = np.quantile(v, [1.0 - tail, 1.0 - 2 * tail,
                                                  1.0 - 4 * tail, 1.0 - mid])
            # Pickands' estimate of the tail's shape: 0 for exponential or
            # lighter tails (Gaussian), > 0 for heavier ones, whose surprise
            # then grows only logarithmically with the distance.
            lo, hi = q_2 - q_4, q_b - q_2
            xi = float(np.clip(np.log(hi / lo) / np.log(2.0), 0.0, 1.0)) \
                if lo > 0 and hi > 0 else 0.0
            ratio = mid / tail
            if xi > 0:
                beta = xi * (q_b - q_m) / (ratio ** xi - 1.0) + xi * (q_b - q_m)
            else:
                beta = (q_b - q_m) / np.log(ratio)
            grids.append(np.quantile(v, (np.arange(_GRID) + 0.5) / _GRID))
            bounds.append(q_b)
            betas.append(max(beta, floor[j], _TINY))
            tails.append(tail)
            shapes.append(xi)
        self.grid_ = np.vstack(grids)
        self.bound_ = np.asarray(bounds)
        self.beta_ = np.asarray(betas)
        self.tail_ = np.asarray(tails)
        self.shape_ = np.asarray(shapes)
        return self

    def surprise(self, V):
        """Return the surprise (nats, >= 0) of each value of ``V``."""
        V = np.asarray(V, dtype="float64")
        single = V.ndim == 1
        if single:
            V = V[:, None]
        out = np.zeros(V.shape)
        for j in range(V.shape[1]):
            v = V[:, j]
            ok = np.isfinite(v)
            grid = self.grid_[j]
            # share of training values >= v
            share = (len(grid) - np.searchsorted(grid, v[ok], side="left")) / len(grid)
            body = -np.log(np.maximum(share, self.tail_[j]))
            with np.errstate(over="ignore", invalid="ignore"):
                excess = np.clip((v[ok] - self.bound_[j]) / self.beta_[j], 0.0, 1e300)
            xi = self.shape_[j]
            if xi > 0:
                excess = np.log1p(xi * excess) / xi
            excess = np.where(excess > _LINEAR_LIMIT,
                              _LINEAR_LIMIT + np.log1p(np.maximum(excess - _LINEAR_LIMIT,
                                                                  0.0)),
                              excess)
            beyond = v[ok] > self.bound_[j]
            s = np.where(beyond, -np.log(self.tail_[j]) + excess, body)
            out[ok, j] = np.maximum(s, 0.0)
        return out[:, 0] if single else out

    def to_dict(self):
        return {"grid": self.grid_.tolist(), "bound": self.bound_.tolist(),
                "beta": self.beta_.tolist(), "tail": self.tail_.tolist(),
                "shape": self.shape_.tolist()}

    @classmethod
    def from_dict(cls, params, *, source=None, prefix="tail", n_signals=None):
        def name(key):
            return at(source, f"{prefix}.{key}")

        def get(key):
            return _stored.field(params, key, source, prefix)

        bound = _stored.reals(get("bound"), name("bound"), length=n_signals)
        m = len(bound)
        self = cls(floor=np.zeros(m))
        self.bound_ = bound
        self.beta_ = _stored.reals(get("beta"), name("beta"), length=m, positive=True)
        self.tail_ = _stored.reals(get("tail"), name("tail"), length=m, positive=True)
        self.shape_ = _stored.reals(get("shape"), name("shape"), length=m, low=0.0)
        if (self.shape_ > 1).any():
            _stored.fail(name("shape"), "tail shapes in [0, 1]", get("shape"))
        if (self.tail_ > 0.5).any():
            _stored.fail(name("tail"), "shares in (0, 0.5]", get("tail"))
        self.grid_ = _stored.reals(get("grid"), name("grid"), shape=(m, _GRID))
        if m and (np.diff(self.grid_, axis=1) < 0).any():
            _stored.fail(name("grid"), "rows of sorted values", "unsorted values")
        return self


class _TwoSided:
    """Two-sided tail: the larger of the lower and upper surprises, less log 2.

    The upper side of a signal with ``log_upper`` is measured on the
    logarithm of the value (clipped at ``log_floor``).
    """

    def __init__(self, floor, log_upper, log_floor):
        self.floor = np.asarray(floor, dtype="float64")
        self.log_upper = np.asarray(log_upper, dtype=bool)
        self.log_floor = np.asarray(log_floor, dtype="float64")

    def _upper(self, V):
        logged = _log_positive(V, self.log_floor)
        return np.where(self.log_upper, logged, V)

    def fit(self, V):
        V = np.asarray(V, dtype="float64")
        up = self._upper(V)
        up_floor = np.where(self.log_upper, _upper_floor(up), self.floor)
        self.lower_ = Tail(self.floor).fit(-V)
        self.upper_ = Tail(up_floor).fit(up)
        return self

    def surprise(self, V):
        V = np.asarray(V, dtype="float64")
        s = np.maximum(self.lower_.surprise(-V), self.upper_.surprise(self._upper(V)))
        return np.maximum(0.0, s - np.log(2.0))

    def to_dict(self):
        return {"log_upper": self.log_upper.tolist(), "log_floor": self.log_floor.tolist(),
                "lower": self.lower_.to_dict(), "upper": self.upper_.to_dict()}

    @classmethod
    def from_dict(cls, params, *, source, prefix, n_signals):
        def get(key):
            return _stored.field(params, key, source, prefix)

        log_upper = get("log_upper")
        if (not isinstance(log_upper, list) or len(log_upper) != n_signals
                or not all(isinstance(b, bool) for b in log_upper)):
            _stored.fail(at(source, f"{prefix}.log_upper"),
                         f"a list of {n_signals} booleans", log_upper)
        log_floor = _stored.reals(get("log_floor"), at(source, f"{prefix}.log_floor"),
                                  length=n_signals, positive=True)
        self = cls(np.zeros(n_signals), log_upper, log_floor)
        self.lower_ = Tail.from_dict(get("lower"), source=source,
                                     prefix=f"{prefix}.lower", n_signals=n_signals)
        self.upper_ = Tail.from_dict(get("upper"), source=source,
                                     prefix=f"{prefix}.upper", n_signals=n_signals)
        return self


def _spread(V):
    """A robust spread per column of ``V`` (NaN ignored), never 0."""
    out = []
    for j in range(V.shape[1]):
        v = V[np.isfinite(V[:, j]), j]
        if len(v) == 0:
            out.append(1.0)
            continue
        q = np.quantile(v, [TAIL_SHARE, 0.25, 0.5, 0.75, 1 - TAIL_SHARE])
        spread = q[3] - q[1]
        if spread <= 0:
            spread = q[4] - q[0]
        if spread <= 0:
            spread = np.max(np.abs(v - q[2]))
        if spread <= 0:
            spread = max(abs(q[2]) * 1e-6, 1e-9)
        out.append(spread)
    return np.asarray(out)


def _quantum(V):
    """The smallest step between distinct values of each column (its rounding)."""
    out = []
    for j in range(V.shape[1]):
        u = np.unique(V[np.isfinite(V[:, j]), j])
        out.append(float(np.diff(u).min()) if len(u) > 1 else 0.0)
    return np.asarray(out)


def _upper_floor(logged):
    # Decay floor of a tail measured on logarithms: 5 % of their spread.
    return 0.05 * _spread(np.asarray(logged, dtype="float64"))


class SanitySignals:
    """Fit and compute the sanity signals of typed columns.

    See :mod:`fusionlab.tabular.signals` for the signals.

    Parameters
    ----------
    column_types : dict
        ``{column: type}`` (``"numeric"``, ``"boolean"``, ``"datetime"``,
        ``"categorical"``).

    Attributes
    ----------
    signal_names_ : list of str
        One name per signal (``"<col>:range"``, ``"<a>|<b>:pair"``...).
    signal_columns_ : numpy.ndarray of shape (n_signals, n_columns)
        Share of each signal given to each column of ``column_types`` (1 for
        a column's own signals, 1/2 for each column of a pair).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from fusionlab.tabular.signals import SanitySignals
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.integers(18, 90, 500).astype(float),
    ...                    "city": rng.choice(["Oslo", "Rome", "Lima"], 500,
    ...                                       p=[0.45, 0.45, 0.1])})
    >>> sig = SanitySignals({"age": "numeric", "city": "categorical"}).fit(df)
    >>> new = pd.DataFrame({"age": [40.0, -5.0, 40.0], "city": ["Lima", "Oslo", "Pisa"]})
    >>> sig.columns_
    ['age', 'city']
    >>> sig.column_surprise(sig.transform(new)).round(1)   # nats
    array([[ 0.5,  2.5],
           [12.7,  0.7],
           [ 0.5,  6.2]])
    >>> sig.row_score(sig.transform(new)).round(1)          # beyond chance
    array([ 0.5, 15. ,  4.2])
    """

    def __init__(self, column_types):
        self.column_types = dict(column_types)

    # -- layout --------------------------------------------------------------
    def _layout(self):
        types = self.column_types
        self.columns_ = list(types)
        self.dense_columns_ = [c for c in self.columns_
                               if types[c] in ("numeric", "datetime")]
        self.category_columns_ = [c for c in self.columns_
                                  if types[c] in ("categorical", "boolean")]

    def _dense(self, frame):
        """Numbers of the numeric and date columns (days since 1970 for dates)."""
        blocks = []
        for col in self.dense_columns_:
            values = frame[col]
            if self.column_types[col] == "datetime":
                stamps = pd.to_datetime(values)
                blocks.append(((stamps - pd.Timestamp("1970-01-01"))
                               / pd.Timedelta(days=1)).to_numpy(dtype="float64"))
            else:
                blocks.append(values.to_numpy(dtype="float64"))
        if not blocks:
            return np.empty((len(frame), 0))
        return np.column_stack(blocks)

    def _labels(self, frame):
        """Text labels of the categorical and boolean columns (missing its own)."""
        out = []
        for col in self.category_columns_:
            values = frame[col]
            if self.column_types[col] == "boolean":
                text = np.where(values.to_numpy(dtype="float64") > 0.5, "True", "False")
                out.append(np.where(values.isna(), MISSING_CATEGORY, text).astype(object))
            else:
                out.append(values.fillna(MISSING_CATEGORY).astype(str).to_numpy(object))
        return out

    # -- relation design -------------------------------------------------------
    def _design(self, D, labels, logs):
        """Features of the relation fits, and the column of each.

        Robust-scaled numbers (their scaled logarithms with ``logs``, for
        the columns whose bulk is positive), then one-hot categories and an
        intercept. Missing numbers are 0 (the median).
        """
        parts, owners = [], []
        for j in range(D.shape[1]):
            parts.append(self._scaled(D, j, logs and self.log_features_[j]))
            owners.append(j)
        n_dense = D.shape[1]
        for i, cats in enumerate(self.fit_categories_):
            for c in cats:
                parts.append((labels[i] == c).astype("float64"))
                owners.append(n_dense + i)
        parts.append(np.ones(len(D)))
        owners.append(-1)
        return np.column_stack(parts), np.asarray(owners)

    def _scaled(self, D, j, use_log, missing=0.0):
        if use_log:
            t = (_log_positive(D[:, j], self.log_floor_[j]) - self.log_center_[j]) \
                / self.log_scale_[j]
        else:
            t = (D[:, j] - self.center_[j]) / self.scale_[j]
        return np.where(np.isfinite(D[:, j]), np.clip(t, -50.0, 50.0), missing)

    def _fit_relations(self, D, labels):
        self.relation_targets_, self.relation_log_ = [], []
        self.relation_coef_, self.relation_r2_ = [], []
        self.relation_partners_ = []
        designs = {False: self._design(D, labels, False)}
        if any(self.log_features_):
            designs[True] = self._design(D, labels, True)
        for j in range(D.shape[1]):
            rows = np.isfinite(D[:, j])
            if rows.sum() < 20:
                continue
            best = None
            for use_log in [False] + ([True] if self.log_features_[j] else []):
                X, owners = designs[use_log]
                use = owners != j
                coef, r2 = _trimmed_fit(X[rows][:, use], self._scaled(D, j, use_log)[rows])
                if best is None or r2 > best[2]:
                    full = np.zeros(X.shape[1])
                    full[use] = coef
                    best = (use_log, full, r2)
            use_log, coef, r2 = best
            if r2 < RELATION_MIN_R2:
                continue
            X, owners = designs[use_log]
            # The columns the fit leans on: a broken relation is shared
            # between them and the target in the blame.
            weight = np.abs(coef) * X[rows].std(axis=0)
            groups = {}
            for o, w in zip(owners, weight, strict=True):
                if o >= 0 and o != j:
                    groups[int(o)] = groups.get(int(o), 0.0) + float(w)
            top = max(groups.values(), default=0.0)
            partners = sorted(o for o, w in groups.items() if top > 0 and w >= 0.25 * top)
            self.relation_partners_.append(partners)
            self.relation_targets_.append(j)
            self.relation_log_.append(bool(use_log))
            self.relation_coef_.append(coef)
            self.relation_r2_.append(float(r2))

    def _residuals(self, D, labels):
        """Residuals of the relation fits, then of the log ones in plain units.

        A relation fitted on logarithms (``log total = log price + log
        quantity``) is checked on both scales, and only a row that breaks it
        on both counts (:meth:`transform` keeps the smaller surprise): on
        the log scale alone, the rounding of small values (a total of 0.10
        rounded to the cent) looks like a broken relation; on the plain scale
        alone, the large values of a relation with proportional noise do.
        """
        if not self.relation_targets_:
            return np.empty((len(D), 0))
        designs = {lg: self._design(D, labels, lg)[0] for lg in set(self.relation_log_)}
        R, plain = [], []
        for j, use_log, coef in zip(self.relation_targets_, self.relation_log_,
                                    self.relation_coef_, strict=True):
            pred = designs[use_log] @ coef
            R.append(self._scaled(D, j, use_log, missing=np.nan) - pred)
            if use_log:
                with np.errstate(over="ignore"):
                    back = np.exp(np.clip(pred * self.log_scale_[j] + self.log_center_[j],
                                          -700.0, 700.0))
                plain.append(np.clip((D[:, j] - back) / self.scale_[j], -1e6, 1e6))
        R = np.column_stack(R)
        if plain:
            R = np.column_stack([R, *plain])
        # A relation holds to within its tolerance: rounding is no evidence.
        tol = self._residual_tolerance()
        return np.sign(R) * np.maximum(0.0, np.abs(R) - tol)

    def _residual_tolerance(self):
        """How far each residual may be from 0 as rounding: in scaled units,
        the target's rounding step or :data:`RELATION_TOLERANCE` (on the log
        scale: the tolerance, a relative one)."""
        steps = [max(RELATION_TOLERANCE, self.quantum_[j] / self.scale_[j])
                 for j in self.relation_targets_]
        logs = [RELATION_TOLERANCE if lg else s
                for s, lg in zip(steps, self.relation_log_, strict=True)]
        plain = [s for s, lg in zip(steps, self.relation_log_, strict=True) if lg]
        return np.asarray(logs + plain)

    # -- fit / transform -------------------------------------------------------
    def fit(self, frame: pd.DataFrame):
        """Fit on a frame already converted by ``coerce_frame``."""
        self._layout()
        n = len(frame)
        self.n_samples_ = n
        D = self._dense(frame)
        labels = self._labels(frame)
        # numeric statistics
        finite = np.isfinite(D)
        self.center_ = np.array([np.median(D[finite[:, j], j]) if finite[:, j].any()
                                 else 0.0 for j in range(D.shape[1])])
        self.scale_ = _spread(D) if D.shape[1] else np.empty(0)
        lows = np.array([np.quantile(D[finite[:, j], j], TAIL_SHARE) if finite[:, j].any()
                         else 0.0 for j in range(D.shape[1])])
        self.log_features_ = (lows > 0).tolist()
        # Logarithms of the values <= 0 (only where the bulk is positive) are
        # those of half the smallest positive training value.
        smallest = np.array([np.min(D[finite[:, j] & (D[:, j] > 0), j])
                             if (finite[:, j] & (D[:, j] > 0)).any() else 1.0
                             for j in range(D.shape[1])])
        self.log_floor_ = np.where(lows > 0, smallest / 2.0, 1.0)
        logged = np.where(np.asarray(self.log_features_, dtype=bool),
                          _log_positive(np.where(finite, D, np.nan), self.log_floor_), np.nan)
        self.log_center_ = np.array([np.nanmedian(logged[:, j]) if self.log_features_[j]
                                     else 0.0 for j in range(D.shape[1])])
        self.log_scale_ = (_spread(np.where(np.asarray(self.log_features_), logged, 0.0))
                           if D.shape[1] else np.empty(0))
        # range
        self.quantum_ = _quantum(D) if D.shape[1] else np.empty(0)
        self.range_ = None
        if D.shape[1]:
            self.range_ = _TwoSided(np.maximum(0.05 * self.scale_, self.quantum_),
                                    self.log_features_, self.log_floor_).fit(D)
        # sign
        n_obs = finite.sum(axis=0)
        neg = (np.where(finite, D, 0.0) < 0).sum(axis=0)
        pos = (np.where(finite, D, 0.0) > 0).sum(axis=0)
        sign = np.zeros(D.shape[1])
        sign[neg <= SIGN_SHARE * n_obs] = 1.0      # never (or almost never) negative
        sign[(pos <= SIGN_SHARE * n_obs) & (neg > SIGN_SHARE * n_obs)] = -1.0
        self.sign_ = sign
        self.sign_counts_ = np.where(sign > 0, neg, np.where(sign < 0, pos, 0)).astype(float)
        self.n_observed_ = n_obs.astype(float)
        self.missing_counts_ = (~finite).sum(axis=0).astype(float)
        # rarity
        self.categories_, self.counts_ = [], []
        for lab in labels:
            values, counts = np.unique(lab, return_counts=True)
            self.categories_.append([str(v) for v in values])
            self.counts_.append(counts.astype(float))
        self.fit_categories_ = []
        for cats, counts in zip(self.categories_, self.counts_, strict=True):
            order = sorted(zip(cats, counts, strict=True), key=lambda kv: (-kv[1], kv[0]))
            kept = [c for c, k in order[:_FIT_CATEGORIES] if k >= 5]
            self.fit_categories_.append(kept if len(kept) > 1 else [])
        # relations
        self._fit_relations(D, labels)
        self.residual_ = None
        if self.relation_targets_:
            R = self._residuals(D, labels)
            # The decay of a residual's tail is at least its tolerance, so
            # that a relation exact to rounding does not turn a small
            # mismatch into an infinite surprise.
            iqr = np.array([np.subtract(*np.nanquantile(r, [0.75, 0.25])) for r in R.T])
            floor = np.maximum(0.05 * iqr, self._residual_tolerance())
            self.residual_ = _TwoSided(floor, [False] * R.shape[1],
                                       np.ones(R.shape[1])).fit(R)
        # groups of columns tied by close relations (union-find)
        cols = self.columns_
        parent = list(range(len(cols)))

        def root(i):
            while parent[i] != i:
                i = parent[i]
            return i

        n_dense = len(self.dense_columns_)
        for j, partners, r2 in zip(self.relation_targets_, self.relation_partners_,
                                   self.relation_r2_, strict=True):
            if r2 < GROUP_R2:
                continue
            a = cols.index(self.dense_columns_[j])
            for o in partners:
                name = (self.dense_columns_[o] if o < n_dense
                        else self.category_columns_[o - n_dense])
                parent[root(cols.index(name))] = root(a)
        self.group_ = np.array([root(i) for i in range(len(cols))])
        # pairs
        self.pair_tail_ = None
        eligible = [i for i, cats in enumerate(self.categories_)
                    if len(cats) <= PAIR_MAX_CARDINALITY]
        self.pairs_ = list(combinations(eligible, 2))[:MAX_PAIRS]
        codes = [self._codes(i, lab) for i, lab in enumerate(labels)]
        self.pair_counts_ = []
        for a, b in self.pairs_:
            shape = (len(self.categories_[a]), len(self.categories_[b]))
            flat = np.ravel_multi_index((codes[a], codes[b]), shape)
            self.pair_counts_.append(np.bincount(flat, minlength=shape[0] * shape[1])
                                     .reshape(shape).astype(float))
        if self.pairs_:
            self.pair_tail_ = Tail(np.ones(len(self.pairs_))).fit(self._mismatch(codes))
        return self._finish()

    def _relation_surprise(self, R):
        S = self.residual_.surprise(R)
        m = len(self.relation_targets_)
        out = S[:, :m].copy()
        logs = np.flatnonzero(self.relation_log_)
        if len(logs):
            out[:, logs] = np.minimum(out[:, logs], S[:, m:])
        return out

    def _pair_surprise(self, M):
        # A pair at least e-fold rarer than expected is measured against the
        # pair's own training values (so that a pair of columns that always
        # agree, whose training mismatches are all 0, makes a mismatch stand
        # out); below that, the mismatch itself, so that the many small
        # mismatches of chance are not raised to the tail's 4.6 nats.
        return np.where(M >= 1.0, np.maximum(M, self.pair_tail_.surprise(M)), M)

    def _codes(self, i, lab):
        cats = np.asarray(self.categories_[i], dtype=object)
        pos = np.searchsorted(cats, lab)
        pos = np.minimum(pos, len(cats) - 1)
        return np.where(cats[pos] == lab, pos, -1)

    def _rarity(self, i, codes):
        # Counts leave the row itself out (see the module's description): a
        # value held by one training row is as rare as one never seen.
        counts = self.counts_[i]
        n = self.n_samples_
        order = np.sort(counts)
        at_most = np.cumsum(order)
        seen = codes >= 0
        count = np.where(seen, counts[np.maximum(codes, 0)], 1.0)
        idx = np.searchsorted(order, count, side="right")
        # rows holding a value at most as frequent, this row left out; an
        # unseen value: the rows of values seen once, plus one (Good-Turing)
        share = np.where(idx > 0, at_most[np.maximum(idx - 1, 0)], 0.0)
        share = np.where(seen, share - 1.0, share)
        return -np.log((share + 1.0) / (n + 1.0))

    def _mismatch(self, codes):
        out = []
        n = self.n_samples_
        for (a, b), table in zip(self.pairs_, self.pair_counts_, strict=True):
            ca, cb = codes[a], codes[b]
            seen = (ca >= 0) & (cb >= 0)
            # counts of the other rows (this one left out, as in _rarity)
            n_ab = np.where(seen, table[np.maximum(ca, 0), np.maximum(cb, 0)] - 1.0, 0.0)
            n_a = np.where(seen, self.counts_[a][np.maximum(ca, 0)] - 1.0, 0.0)
            n_b = np.where(seen, self.counts_[b][np.maximum(cb, 0)] - 1.0, 0.0)
            n_ab, n_a, n_b = (np.maximum(v, 0.0) for v in (n_ab, n_a, n_b))
            expected = n_a * n_b / max(n - 1, 1)
            m = np.log((expected + 1.0) / (n_ab + 1.0))
            out.append(np.where(seen, np.maximum(m, 0.0), 0.0))
        return np.column_stack(out) if out else np.empty((len(codes[0]), 0))

    def _finish(self):
        names, owners = [], []
        cols = self.columns_
        for c in self.dense_columns_:
            for kind in ("range", "sign", "missing"):
                names.append(f"{c}:{kind}")
                owners.append({c: 1.0})
        for c in self.category_columns_:
            names.append(f"{c}:rarity")
            owners.append({c: 1.0})
        n_dense = len(self.dense_columns_)
        for j, partners in zip(self.relation_targets_, self.relation_partners_,
                               strict=True):
            c = self.dense_columns_[j]
            members = [c] + [self.dense_columns_[o] if o < n_dense
                             else self.category_columns_[o - n_dense] for o in partners]
            names.append(f"{c}:relation")
            owners.append({m: 1.0 / len(members) for m in members})
        for a, b in self.pairs_:
            ca, cb = self.category_columns_[a], self.category_columns_[b]
            names.append(f"{ca}|{cb}:pair")
            owners.append({ca: 0.5, cb: 0.5})
        weights = np.zeros((len(names), len(cols)))
        for i, own in enumerate(owners):
            for c, w in own.items():
                weights[i, cols.index(c)] = w
        self.signal_names_ = names
        self.signal_columns_ = weights
        # Chance level of a row's largest surprise among its independent
        # tests (its columns, relations and pairs): about log(tests) nats.
        tests = len(cols) + len(self.relation_targets_) + len(self.pairs_)
        self.floor_ = max(FLOOR, float(np.log(max(tests, 1))))
        # Shared signals (relations, pairs) are split between their columns;
        # a column's own signals (range, sign, missing, rarity) are its alone.
        self.is_shared_ = np.array([n.endswith((":pair", ":relation")) for n in names],
                                   dtype=bool)
        self.is_pair_ = np.array([n.endswith(":pair") for n in names], dtype=bool)
        self.is_relation_ = np.array([n.endswith(":relation") for n in names], dtype=bool)
        # the group of each relation's target (-1 for the other signals)
        target_group = iter(self.group_[cols.index(self.dense_columns_[j])]
                            for j in self.relation_targets_)
        self.signal_group_ = np.array([next(target_group) if r else -1
                                       for r in self.is_relation_])
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the surprise (nats) of every signal of every row."""
        D = self._dense(frame)
        labels = self._labels(frame)
        blocks = []
        if D.shape[1]:
            finite = np.isfinite(D)
            rng = self.range_.surprise(D)
            sign = np.zeros(D.shape)
            wrong = ((self.sign_ > 0) & (D < 0)) | ((self.sign_ < 0) & (D > 0))
            sign_s = -np.log((self.sign_counts_ + 1.0) / (self.n_observed_ + 1.0))
            sign = np.where(wrong & finite, sign_s, 0.0)
            miss_s = -np.log((self.missing_counts_ + 1.0) / (self.n_samples_ + 1.0))
            missing = np.where(finite, 0.0, miss_s)
            per = np.stack([rng, sign, missing], axis=2).reshape(len(D), -1)
            blocks.append(per)
        codes = [self._codes(i, lab) for i, lab in enumerate(labels)]
        if codes:
            blocks.append(np.column_stack([self._rarity(i, c) for i, c in enumerate(codes)]))
        if self.relation_targets_:
            blocks.append(self._relation_surprise(self._residuals(D, labels)))
        if self.pairs_:
            blocks.append(self._pair_surprise(self._mismatch(codes)))
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.column_stack(blocks)

    # -- JSON round trip -------------------------------------------------------
    def to_dict(self) -> dict:
        """Return the fitted state as JSON-compatible data."""
        def floats(a):
            return np.asarray(a, dtype="float64").tolist()

        return {
            "column_types": self.column_types,
            "n_samples": int(self.n_samples_),
            "center": floats(self.center_), "scale": floats(self.scale_),
            "log_features": [bool(b) for b in self.log_features_],
            "log_floor": floats(self.log_floor_), "log_center": floats(self.log_center_),
            "log_scale": floats(self.log_scale_), "quantum": floats(self.quantum_),
            "range": None if self.range_ is None else self.range_.to_dict(),
            "sign": floats(self.sign_), "sign_counts": floats(self.sign_counts_),
            "n_observed": floats(self.n_observed_),
            "missing_counts": floats(self.missing_counts_),
            "categories": self.categories_, "counts": [floats(c) for c in self.counts_],
            "fit_categories": self.fit_categories_,
            "relations": [
                {"target": int(j), "log": bool(lg), "coef": floats(c), "r2": float(r2),
                 "partners": [int(o) for o in partners]}
                for j, lg, c, r2, partners in zip(
                    self.relation_targets_, self.relation_log_, self.relation_coef_,
                    self.relation_r2_, self.relation_partners_, strict=True)],
            "residual": None if self.residual_ is None else self.residual_.to_dict(),
            "group": [int(g) for g in self.group_],
            "pairs": [[int(a), int(b)] for a, b in self.pairs_],
            "pair_counts": [floats(t) for t in self.pair_counts_],
            "pair_tail": None if self.pair_tail_ is None else self.pair_tail_.to_dict(),
        }

    @classmethod
    def from_dict(cls, params: dict, *, source=None, prefix="signals") -> SanitySignals:
        """Rebuild fitted signals from :meth:`to_dict` output, checking every field.

        Raises
        ------
        ValueError
            Naming the field (``signals.relations``...) that is missing, of
            the wrong type or size, or not finite.
        """
        def name(key):
            return at(source, f"{prefix}.{key}")

        def get(key, mapping=params, where=prefix):
            return _stored.field(mapping, key, source, where)

        types = _stored.column_types(get("column_types"), name("column_types"),
                                     ("numeric", "boolean", "datetime", "categorical"))
        self = cls(types)
        self._layout()
        n_dense, n_cat = len(self.dense_columns_), len(self.category_columns_)
        self.n_samples_ = _stored.integer(get("n_samples"), name("n_samples"), low=1)
        for key in ("center", "log_center"):
            setattr(self, f"{key}_", _stored.reals(get(key), name(key), length=n_dense))
        for key in ("scale", "log_floor", "log_scale"):
            setattr(self, f"{key}_", _stored.reals(get(key), name(key), length=n_dense,
                                                    positive=True))
        for key in ("quantum", "sign_counts", "n_observed", "missing_counts"):
            setattr(self, f"{key}_", _stored.reals(get(key), name(key), length=n_dense,
                                                    low=0.0))
        self.sign_ = _stored.reals(get("sign"), name("sign"), length=n_dense, low=-1.0)
        if not np.isin(self.sign_, (-1.0, 0.0, 1.0)).all():
            _stored.fail(name("sign"), "signs -1, 0 or 1", get("sign"))
        logs = get("log_features")
        if (not isinstance(logs, list) or len(logs) != n_dense
                or not all(isinstance(b, bool) for b in logs)):
            _stored.fail(name("log_features"), f"a list of {n_dense} booleans", logs)
        self.log_features_ = list(logs)
        rng = get("range")
        if (rng is None) != (n_dense == 0):
            _stored.fail(name("range"), "the numeric and date columns' tails"
                         if n_dense else "null (no numeric or date column)", rng)
        self.range_ = None if rng is None else _TwoSided.from_dict(
            rng, source=source, prefix=f"{prefix}.range", n_signals=n_dense)
        categories, counts = get("categories"), get("counts")
        for key, value in (("categories", categories), ("counts", counts),
                           ("fit_categories", get("fit_categories"))):
            if not isinstance(value, list) or len(value) != n_cat:
                _stored.fail(name(key), f"a list of {n_cat} lists (one per categorical "
                             "or boolean column)", value)
        self.categories_ = [_stored.unique_texts(c, name("categories")) for c in categories]
        if any(c != sorted(c) for c in self.categories_):
            _stored.fail(name("categories"), "sorted lists of categories", categories)
        self.counts_ = [_stored.reals(c, name("counts"), length=len(cats), low=1.0)
                        for c, cats in zip(counts, self.categories_, strict=True)]
        self.fit_categories_ = []
        for kept, cats in zip(get("fit_categories"), self.categories_, strict=True):
            kept = _stored.text_list(kept, name("fit_categories"), unique=True)
            if not set(kept) <= set(cats):
                _stored.fail(name("fit_categories"), "categories of 'categories'", kept)
            self.fit_categories_.append(kept)
        width = n_dense + sum(len(k) for k in self.fit_categories_) + 1
        relations = get("relations")
        if not isinstance(relations, list):
            _stored.fail(name("relations"), "a list of relations", relations)
        self.relation_targets_, self.relation_log_, self.relation_coef_ = [], [], []
        self.relation_r2_, self.relation_partners_ = [], []
        for i, rel in enumerate(relations):
            where = f"{prefix}.relations[{i}]"
            target = _stored.integer(get("target", rel, where), at(source, f"{where}.target"))
            if target >= n_dense or target in self.relation_targets_:
                _stored.fail(at(source, f"{where}.target"),
                             f"a distinct position below {n_dense}", target)
            use_log = get("log", rel, where)
            if not isinstance(use_log, bool) or (use_log and not self.log_features_[target]):
                _stored.fail(at(source, f"{where}.log"),
                             "a boolean, true only for a column with log features", use_log)
            partners = get("partners", rel, where)
            if (not isinstance(partners, list) or not all(
                    isinstance(o, int) and not isinstance(o, bool)
                    and 0 <= o < n_dense + n_cat and o != target for o in partners)):
                _stored.fail(at(source, f"{where}.partners"),
                             f"a list of column positions below {n_dense + n_cat}", partners)
            self.relation_targets_.append(target)
            self.relation_log_.append(use_log)
            self.relation_coef_.append(_stored.reals(get("coef", rel, where),
                                                     at(source, f"{where}.coef"),
                                                     length=width))
            self.relation_r2_.append(_stored.real(get("r2", rel, where),
                                                  at(source, f"{where}.r2")))
            self.relation_partners_.append(list(partners))
        residual = get("residual")
        n_res = len(relations) + sum(self.relation_log_)
        if (residual is None) != (n_res == 0):
            _stored.fail(name("residual"), "the relations' residual tails"
                         if n_res else "null (no relation)", residual)
        self.residual_ = None if residual is None else _TwoSided.from_dict(
            residual, source=source, prefix=f"{prefix}.residual", n_signals=n_res)
        group = get("group")
        n_cols = len(self.columns_)
        if (not isinstance(group, list) or len(group) != n_cols or not all(
                isinstance(g, int) and not isinstance(g, bool) and 0 <= g < n_cols
                for g in group)):
            _stored.fail(name("group"), f"a list of {n_cols} column positions", group)
        self.group_ = np.asarray(group)
        pairs = get("pairs")
        if (not isinstance(pairs, list) or len(pairs) > MAX_PAIRS or not all(
                isinstance(p, list) and len(p) == 2
                and all(isinstance(i, int) and not isinstance(i, bool) for i in p)
                and 0 <= p[0] < p[1] < n_cat for p in pairs)):
            _stored.fail(name("pairs"), f"a list of [a, b] positions with 0 <= a < b < "
                         f"{n_cat}", pairs)
        self.pairs_ = [tuple(p) for p in pairs]
        tables = get("pair_counts")
        if not isinstance(tables, list) or len(tables) != len(pairs):
            _stored.fail(name("pair_counts"), f"{len(pairs)} tables of counts", tables)
        self.pair_counts_ = [
            _stored.reals(t, name("pair_counts"), low=0.0,
                          shape=(len(self.categories_[a]), len(self.categories_[b])))
            for (a, b), t in zip(self.pairs_, tables, strict=True)]
        pair_tail = get("pair_tail")
        if (pair_tail is None) != (not pairs):
            _stored.fail(name("pair_tail"), "the pairs' tails" if pairs
                         else "null (no pair)", pair_tail)
        self.pair_tail_ = None if pair_tail is None else Tail.from_dict(
            pair_tail, source=source, prefix=f"{prefix}.pair_tail", n_signals=len(pairs))
        return self._finish()

    # -- aggregation -----------------------------------------------------------
    def _per_column(self, S, combine):
        S = np.asarray(S, dtype="float64")
        out = np.zeros((len(S), len(self.columns_)))
        own = self.signal_columns_ * (~self.is_shared_)[:, None]
        for c in range(len(self.columns_)):
            idx = np.flatnonzero(own[:, c] > 0)
            if len(idx):
                out[:, c] = combine(S[:, idx], axis=1)
        if self.is_shared_.any():
            out = out + S[:, self.is_shared_] @ self.signal_columns_[self.is_shared_]
        return out

    def column_surprise(self, S):
        """Each column's surprise: the largest of its own signals, plus half of each pair."""
        return self._per_column(S, np.max)

    def row_evidence(self, S):
        """Per column, the evidence a row's signals add beyond :data:`FLOOR` (summed)."""
        return self._per_column(np.maximum(0.0, np.asarray(S, dtype="float64")
                                           - self.floor_),
                                np.sum)

    def row_score(self, S):
        """A row's score: the evidence of its signals beyond :data:`FLOOR`, summed.

        The own evidence (range, sign, missing, rarity) of columns tied by a
        close relation (``group_``: R^2 of at least :data:`GROUP_R2`, such
        as price, quantity and total) counts once per group, by its largest
        column: a large price makes a large total, which is no second
        piece of evidence.
        """
        E = np.maximum(0.0, np.asarray(S, dtype="float64") - self.floor_)
        own = self._per_column(np.where(self.is_shared_, 0.0, E), np.sum)
        score = E[:, self.is_pair_].sum(axis=1)
        for g in np.unique(self.group_):
            members = self.group_ == g
            score = score + own[:, members].max(axis=1)
            relations = self.is_relation_ & (self.signal_group_ == g)
            if relations.any():
                score = score + E[:, relations].max(axis=1)
        return score


def _trimmed_fit(X, t):
    """Ridge least squares, refitted without the worst-fitting rows; (coef, R^2)."""
    def solve(A, y):
        scale = np.sqrt((A ** 2).mean(axis=0)) + _TINY
        As = A / scale
        gram = As.T @ As + _RIDGE * len(A) * np.eye(A.shape[1])
        gram[-1, -1] -= _RIDGE * len(A)  # the intercept is not shrunk
        return np.linalg.solve(gram, As.T @ y) / scale

    coef = solve(X, t)
    r = t - X @ coef
    keep = np.abs(r) <= np.quantile(np.abs(r), 1.0 - _TRIM)
    if keep.sum() > X.shape[1]:
        coef = solve(X[keep], t[keep])
        r = t[keep] - X[keep] @ coef
        var = t[keep].var()
    else:
        var = t.var()
    r2 = 1.0 - r.var() / var if var > 0 else 0.0
    return coef, r2
