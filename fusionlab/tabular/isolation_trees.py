"""A fitted isolation forest as plain arrays: saved without pickle, scored exactly.

:class:`IsolationTrees` holds the trees of a fitted scikit-learn
:class:`~sklearn.ensemble.IsolationForest` as flat NumPy arrays (each node's
children, split feature and threshold, training-sample count and the side
missing values take) and reproduces its
:meth:`~sklearn.ensemble.IsolationForest.score_samples` **bit for bit**: the
same float32 rounding of the inputs, the same ``x <= threshold`` descent, the
same path lengths added tree after tree, the same normalisation.

Why arrays rather than pickle (joblib) or a safe-persistence library such
as skops: nothing loaded from disk may be unpickled, because unpickling a
crafted file runs its code. skops would add a dependency and still rebuild
scikit-learn's private tree objects, whose layout changes between releases.
Arrays need neither: :meth:`IsolationTrees.save` writes an ``.npz`` with
``allow_pickle=False``, :meth:`IsolationTrees.load` reads it back with
``allow_pickle=False`` and checks every array (types, shapes, finite
thresholds, children below their parents, features in range) before any of
it is used, and the saved forest scores the same under any later
scikit-learn.

:meth:`IsolationTrees.anomaly_score` adds what the trees cannot see: an
encoded feature that was constant in training can never be split on, so a
row that differs there (a category never seen in a column whose training
values were all common) would keep the score of a normal row. Such a row is
scored as if each tree's root had also been offered a split on those
features: among the ``d`` features the trees can split on and the ``m`` on
which the row leaves its training constant, the root picks one of the ``m``
with probability ``p = m / (d + m)``, and that split isolates the row at
once (path length 1). Each tree's path length ``h`` becomes
``(1 - p) * h + p``: shorter, so the score is higher, and more so the more
such features the row differs on. Rows that differ on none, every training
row among them, keep scikit-learn's score exactly.
"""

from __future__ import annotations

import zipfile
import zlib

import numpy as np

from . import _stored

__all__ = ["IsolationTrees", "average_path_length"]

_FORMAT = "fusionlab.tabular.IsolationTrees/1"
# Rows descended at once: bounds the temporary arrays whatever the number of
# rows scored.
_CHUNK_ROWS = 1 << 16
_LEAF = -1
_NODE_ARRAYS = ("children_left", "children_right", "feature", "threshold",
                "n_node_samples", "missing_go_to_left")
_ARRAYS = ("format", "node_offsets", *_NODE_ARRAYS, "estimators_features",
           "max_samples", "n_features", "constant_features", "constant_values")


def average_path_length(n_samples):
    """Average path length of an unsuccessful search in a binary tree of ``n`` nodes.

    ``c(n) = 2 (ln(n - 1) + γ) - 2 (n - 1) / n`` for ``n > 2``, 1 for
    ``n = 2``, 0 for ``n <= 1``: the expected depth still to go below a leaf
    holding ``n`` training samples, and the normalisation of the scores.
    Computed with the same operations as scikit-learn, so that the scores
    match it to the last bit.
    """
    n = np.asarray(n_samples)
    out = np.zeros(n.shape)
    mask_1 = n <= 1
    mask_2 = n == 2
    rest = ~np.logical_or(mask_1, mask_2)
    out[mask_2] = 1.0
    out[rest] = (2.0 * (np.log(n[rest] - 1.0) + np.euler_gamma)
                 - 2.0 * (n[rest] - 1.0) / n[rest])
    return out


class IsolationTrees:
    """The trees of a fitted isolation forest, as arrays (see the module).

    Build it with :meth:`from_forest` (after fitting) or :meth:`load` /
    :meth:`from_arrays` (from a save); the constructor is not public.

    Attributes
    ----------
    max_samples_ : int
        Training rows each tree was grown on.
    n_features_in_ : int
        Width of the rows scored.
    n_estimators_ : int
        Number of trees.
    constant_features_ : numpy.ndarray of bool
        The features constant over the training rows (never split on).
    constant_values_ : numpy.ndarray of float64
        Their training value (0 for the other features).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from fusionlab.tabular.isolation_trees import IsolationTrees
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> forest = IsolationForest(n_estimators=10, random_state=0).fit(X)
    >>> trees = IsolationTrees.from_forest(forest, X)
    >>> bool((trees.score_samples(X) == forest.score_samples(X)).all())
    True
    """

    def __init__(self, arrays):
        self._arrays = arrays
        self.max_samples_ = int(arrays["max_samples"])
        self.n_features_in_ = int(arrays["n_features"])
        offsets = arrays["node_offsets"]
        self.n_estimators_ = len(offsets) - 1
        self.constant_features_ = arrays["constant_features"].astype(bool)
        self.constant_values_ = arrays["constant_values"]
        self.estimators_features_ = arrays["estimators_features"]
        # One tree at a time, as scikit-learn descends them: a tree's nodes
        # then stay in the processor's cache.
        self._trees = []
        for t in range(self.n_estimators_):
            nodes = slice(offsets[t], offsets[t + 1])
            left = arrays["children_left"][nodes]
            right = arrays["children_right"][nodes]
            leaf = left == _LEAF
            own = np.arange(len(left))
            # A leaf leads to itself, so every row can take the same number
            # of steps; children side by side: node 2 * i + (go right).
            children = np.stack([np.where(leaf, own, left), np.where(leaf, own, right)],
                                axis=1).ravel().astype(np.intp)
            feature = np.where(leaf, 0, arrays["feature"][nodes])
            if self._subsample():  # trees grown on a subset of the features
                feature = self.estimators_features_[t][feature]
            depth = _node_depths(left, right)
            # What a row ending at a node adds to the sum of path lengths, as
            # scikit-learn computes it: depth + c(n_node_samples) - 1.
            path = depth + average_path_length(arrays["n_node_samples"][nodes]) - 1.0
            self._trees.append((children, feature.astype(np.intp),
                                arrays["threshold"][nodes],
                                arrays["missing_go_to_left"][nodes].astype(bool),
                                path, int(depth.max()) - 1))

    def _subsample(self):
        return self.estimators_features_.shape[1] != self.n_features_in_

    # -- building ------------------------------------------------------------
    @classmethod
    def from_forest(cls, forest, X):
        """The trees of a fitted ``IsolationForest``; ``X``: its training rows.

        ``X`` (the rows the forest was fitted on) only serves to find the
        features constant in training (:attr:`constant_features_`).
        """
        trees = [estimator.tree_ for estimator in forest.estimators_]
        sizes = [t.node_count for t in trees]
        X = np.asarray(X, dtype="float64")
        constant = (X == X[:1]).all(axis=0) if len(X) else np.ones(X.shape[1], bool)
        arrays = {
            "format": np.asarray(_FORMAT),
            "node_offsets": np.concatenate([[0], np.cumsum(sizes)]),
            "children_left": np.concatenate([t.children_left for t in trees]),
            "children_right": np.concatenate([t.children_right for t in trees]),
            "feature": np.concatenate([t.feature for t in trees]),
            "threshold": np.concatenate([t.threshold for t in trees]),
            "n_node_samples": np.concatenate([t.n_node_samples for t in trees]),
            "missing_go_to_left": np.concatenate(
                [np.asarray(t.missing_go_to_left, dtype="uint8") for t in trees]),
            "estimators_features": np.asarray(forest.estimators_features_, dtype="int64"),
            "max_samples": np.asarray(forest.max_samples_, dtype="int64"),
            "n_features": np.asarray(forest.n_features_in_, dtype="int64"),
            "constant_features": constant.astype("uint8"),
            "constant_values": np.where(constant, X[0], 0.0) if len(X)
            else np.zeros(X.shape[1]),
        }
        return cls(_check_arrays(arrays, "IsolationForest"))

    def to_arrays(self):
        """The arrays :meth:`from_arrays` takes (copies)."""
        return {name: array.copy() for name, array in self._arrays.items()}

    @classmethod
    def from_arrays(cls, arrays, *, source="arrays"):
        """Rebuild from :meth:`to_arrays`, checking every array first.

        Raises
        ------
        ValueError
            Naming ``source`` and the array, if one is missing, of the wrong
            type or shape, or inconsistent with the others.
        """
        return cls(_check_arrays(dict(arrays), source))

    def save(self, file):
        """Write the arrays to ``file`` (``.npz``), without pickle."""
        np.savez_compressed(file, allow_pickle=False, **self._arrays)

    @classmethod
    def load(cls, file, *, max_bytes):
        """Read a file written by :meth:`save`, without pickle, and check it.

        Parameters
        ----------
        file : path-like
            The ``.npz`` file.
        max_bytes : int
            Largest uncompressed size accepted (checked before reading).

        Raises
        ------
        ValueError
            If the file is not such an archive (a pickle file among them),
            is corrupt, too large, or holds arrays that do not fit together.
        """
        source = str(file)
        infos = _stored.check_zip_sizes(file, max_bytes=max_bytes,
                                        what=f"The forest file {source}")
        names = sorted(i.filename for i in infos)
        expected = sorted(f"{name}.npy" for name in _ARRAYS)
        if names != expected:
            raise ValueError(f"{source} must hold exactly the arrays {sorted(_ARRAYS)}; "
                             f"found the members {names}.")
        arrays = {}
        try:
            with np.load(file, allow_pickle=False) as data:
                for name in _ARRAYS:
                    arrays[name] = data[name]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            # Object arrays (pickle), bad CRCs, bad deflate data and truncated
            # members end here.
            raise ValueError(f"{source} is not a readable forest file: "
                             f"{type(exc).__name__}: {exc}") from exc
        return cls.from_arrays(arrays, source=source)

    # -- scoring --------------------------------------------------------------
    def path_lengths(self, X):
        """Sum over the trees of each row's path length (as scikit-learn adds them)."""
        X = self._check_X(X)
        total = np.zeros(len(X))
        for start in range(0, len(X), _CHUNK_ROWS):
            chunk = X[start:start + _CHUNK_ROWS]
            cells = chunk.ravel()
            first = np.arange(len(chunk)) * chunk.shape[1]
            has_nan = bool(np.isnan(cells).any())
            depths = np.zeros(len(chunk))
            # Tree after tree, as scikit-learn adds them: a sum in another
            # order could differ in the last bit.
            for children, feature, threshold, missing_left, path, steps in self._trees:
                node = np.zeros(len(chunk), dtype=np.intp)
                for _ in range(steps):
                    value = cells[first + feature[node]]
                    if has_nan:
                        right = ~(value <= threshold[node])
                        nan = np.isnan(value)
                        right[nan] = ~missing_left[node[nan]]
                    else:
                        right = value > threshold[node]
                    node = children[2 * node + right]
                depths += path[node]
            total[start:start + _CHUNK_ROWS] = depths
        return total

    def _check_X(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"Expected rows of {self.n_features_in_} features; "
                             f"received an array of shape {X.shape}.")
        # scikit-learn descends the trees with float32 inputs.
        return np.ascontiguousarray(X, dtype=np.float32)

    def _normaliser(self):
        return self.n_estimators_ * average_path_length([self.max_samples_])

    def _to_score(self, depths):
        denominator = self._normaliser()
        # A forest of single-sample trees has a zero normaliser: score 1.
        return 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths),
                                where=denominator != 0))

    def score_samples(self, X):
        """scikit-learn's ``IsolationForest.score_samples``: lower is more abnormal."""
        return -self._to_score(self.path_lengths(X))

    def anomaly_score(self, X):
        """Anomaly scores in (0, 1], higher is more abnormal, with the deviation term.

        ``-score_samples(X)`` for rows that keep every training-constant
        feature at its training value; rows that leave ``m`` of them have
        each tree's path length ``h`` replaced by ``(1 - p) h + p``, ``p = m
        / (d + m)`` (see the module).
        """
        X = np.asarray(X, dtype="float64")
        depths = self.path_lengths(X)
        constant = self.constant_features_
        if constant.any():
            off = (X[:, constant] != self.constant_values_[constant]).sum(axis=1)
            changed = off > 0
            if changed.any():
                m = off[changed].astype("float64")
                p = m / ((~constant).sum() + m)
                depths = depths.copy()
                depths[changed] = (1.0 - p) * depths[changed] + p * self.n_estimators_
        return self._to_score(depths)

    def digest_arrays(self):
        """The arrays a hash of the fitted forest is made of, in a fixed order."""
        return [self._arrays[name] for name in _ARRAYS[1:]]


def _node_depths(left, right):
    """Depth of every node of one tree (the root at 1, as scikit-learn counts)."""
    depth = np.zeros(len(left), dtype="int64")
    depth[0] = 1
    level = np.array([0])
    while level.size:
        inner = level[left[level] != _LEAF]
        children = np.concatenate([left[inner], right[inner]])
        depth[children] = np.concatenate([depth[inner], depth[inner]]) + 1
        level = children
    return depth


def _check_arrays(arrays, source):
    """Check the arrays of a forest; return them with canonical dtypes."""
    def array(name, kinds, ndim):
        if name not in arrays:
            raise ValueError(f"{source}: array {name!r} is missing.")
        value = np.asarray(arrays[name])
        if value.dtype.kind not in kinds or value.ndim != ndim:
            raise ValueError(
                f"{source}: array {name!r} must be {ndim}-D of kind {kinds!r}; found "
                f"dtype {value.dtype} and shape {value.shape}.")
        return value

    def bad(name, what):
        raise ValueError(f"{source}: array {name!r} {what}.")

    unknown = sorted(set(arrays) - set(_ARRAYS))
    if unknown:
        raise ValueError(f"{source}: unexpected arrays {unknown}.")
    if str(array("format", "U", 0)) != _FORMAT:
        bad("format", f"must be {_FORMAT!r}")
    out = {"format": np.asarray(_FORMAT)}
    max_samples = int(array("max_samples", "iu", 0))
    n_features = int(array("n_features", "iu", 0))
    if max_samples < 1:
        bad("max_samples", f"must be >= 1; found {max_samples}")
    if n_features < 1:
        bad("n_features", f"must be >= 1; found {n_features}")
    out["max_samples"] = np.asarray(max_samples, dtype="int64")
    out["n_features"] = np.asarray(n_features, dtype="int64")
    offsets = array("node_offsets", "iu", 1).astype("int64")
    if len(offsets) < 2 or offsets[0] != 0 or (np.diff(offsets) < 1).any():
        bad("node_offsets", "must start at 0 and increase strictly (one tree at least)")
    n_nodes = int(offsets[-1])
    n_trees = len(offsets) - 1
    for name in _NODE_ARRAYS:
        kinds = "f" if name == "threshold" else ("biu" if name == "missing_go_to_left"
                                                 else "iu")
        value = array(name, kinds, 1)
        if len(value) != n_nodes:
            bad(name, f"must have {n_nodes} entries (node_offsets[-1]); found {len(value)}")
        out[name] = value.astype("float64" if name == "threshold" else (
            "uint8" if name == "missing_go_to_left" else "int64"))
    features = array("estimators_features", "iu", 2).astype("int64")
    if features.shape[0] != n_trees or not 1 <= features.shape[1] <= n_features:
        bad("estimators_features", f"must have shape ({n_trees}, k) with 1 <= k <= "
            f"{n_features}; found {features.shape}")
    if features.size and (features.min() < 0 or features.max() >= n_features):
        bad("estimators_features", f"must hold features in [0, {n_features})")
    out["estimators_features"] = features
    out["node_offsets"] = offsets
    tree = np.repeat(np.arange(n_trees), np.diff(offsets))
    local = np.arange(n_nodes) - offsets[:-1][tree]
    size = np.diff(offsets)[tree]
    left, right = out["children_left"], out["children_right"]
    leaf = left == _LEAF
    if not np.array_equal(leaf, right == _LEAF):
        bad("children_right", "must be -1 exactly where children_left is")
    inner = ~leaf
    # A child numbered after its parent, inside its tree: the descent ends.
    for name, child in (("children_left", left), ("children_right", right)):
        if ((child[inner] <= local[inner]) | (child[inner] >= size[inner])).any():
            bad(name, "must number each child after its parent, inside its tree")
    feature = out["feature"]
    if ((feature[inner] < 0) | (feature[inner] >= features.shape[1])).any():
        bad("feature", f"must hold split features in [0, {features.shape[1]})")
    if not np.isfinite(out["threshold"]).all():
        bad("threshold", "must hold finite numbers")
    if (out["n_node_samples"] < 1).any():
        bad("n_node_samples", "must hold counts >= 1")
    if (out["missing_go_to_left"] > 1).any():
        bad("missing_go_to_left", "must hold 0 or 1")
    constant = array("constant_features", "biu", 1)
    values = array("constant_values", "f", 1).astype("float64")
    if len(constant) != n_features or len(values) != n_features:
        bad("constant_features", f"and 'constant_values' must have {n_features} entries")
    if (constant.astype("int64") > 1).any() or (constant.astype("int64") < 0).any():
        bad("constant_features", "must hold 0 or 1")
    if not np.isfinite(values).all():
        bad("constant_values", "must hold finite numbers")
    out["constant_features"] = constant.astype("uint8")
    out["constant_values"] = values
    return out
