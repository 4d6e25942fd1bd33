"""Issue 14 on the tabular side: archives and input files that can be trusted.

Saved detectors are loaded without pickle and every stored field is checked;
spreadsheets are checked before they are parsed; saves are atomic.
"""

import json
import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from fusionlab.tabular import TabularAnomalyDetector, detect_anomalies_in_excel

FOREST = {"method": "isolation_forest", "n_estimators": 20, "random_state": 0}
SMALL_AE = {"encoding_dim": 2, "hidden_units": (8,), "random_state": 0, "epochs": 3}


def make_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "amount": rng.normal(100, 10, n),
        "age": rng.integers(20, 60, n).astype(float),
        "shop": rng.choice(["a", "b", "c"], n),
        "paid": rng.random(n) < 0.4,
    })
    df.loc[7, "amount"] = 5_000.0
    return df


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def forest(frame):
    return TabularAnomalyDetector(**FOREST).fit(frame)


class _Payload:
    """Unpickling it creates ``marker``: what a crafted model file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- item 1: no unpickling ----------------------------------------------------------
_UNPICKLE = re.compile(r"(joblib|pickle|cloudpickle|dill)\.loads?\(|allow_pickle=True")


def test_no_unpickling_call_in_the_tabular_package():
    package = Path(__file__).resolve().parents[1] / "fusionlab" / "tabular"
    found = [f"{path.name}: {line.strip()}"
             for path in sorted(package.glob("*.py"))
             for line in path.read_text().splitlines() if _UNPICKLE.search(line)]
    assert found == []


def test_a_pickled_forest_of_an_old_save_is_refused_unread(tmp_path, forest):
    folder = tmp_path / "model"
    forest.save(folder)
    config = json.loads((folder / "detector.json").read_text())
    # What format 3 wrote: the forest pickled by joblib under a fixed name.
    config["format"] = "fusionlab.tabular.TabularAnomalyDetector/3"
    config.pop("files", None)
    (folder / "detector.json").write_text(json.dumps(config))
    np.save(folder / "training_scores.npy", forest.training_scores_)
    marker = tmp_path / "code_ran"
    joblib.dump(_Payload(marker), folder / "isolation_forest.joblib")
    with pytest.raises(ValueError, match=r"older fusionlab.*never loaded.*train and save it again"):
        TabularAnomalyDetector.load(folder)
    assert not marker.exists()
    with pytest.raises(ValueError, match="never loaded"):
        detect_anomalies_in_excel(make_frame(), model_path=folder)
    assert not marker.exists()
    # Not retrained over either: the old files are still there.
    assert (folder / "isolation_forest.joblib").is_file()


def test_a_pickle_in_place_of_the_forest_arrays_is_refused(tmp_path, forest):
    folder = tmp_path / "model"
    forest.save(folder)
    config = json.loads((folder / "detector.json").read_text())
    model_file = folder / config["files"]["model"]
    marker = tmp_path / "code_ran"
    joblib.dump(_Payload(marker), model_file)
    with pytest.raises(ValueError, match=re.escape(model_file.name)):
        TabularAnomalyDetector.load(folder)
    assert not marker.exists()


def test_the_forest_is_saved_as_plain_arrays(tmp_path, forest, frame):
    folder = forest.save(tmp_path / "model")
    assert not list(folder.glob("*.joblib")) and not list(folder.glob("*.pkl"))
    config = json.loads((folder / "detector.json").read_text())
    with np.load(folder / config["files"]["model"], allow_pickle=False) as arrays:
        assert all(arrays[name].dtype.kind in "biuf" or arrays[name].dtype.kind == "U"
                   for name in arrays.files)
    loaded = TabularAnomalyDetector.load(folder)
    np.testing.assert_array_equal(loaded.score_samples(frame), forest.score_samples(frame))
    assert loaded.model_id_ == forest.model_id_


@pytest.mark.parametrize("params", [
    {"n_estimators": 25, "random_state": 0},
    {"n_estimators": 10, "max_samples": 64, "random_state": 3},
    {"n_estimators": 10, "max_features": 0.5, "random_state": 1},
    {"n_estimators": 5, "max_samples": 1, "random_state": 0},
])
def test_isolation_trees_score_bit_identically_to_scikit_learn(params):
    from fusionlab.tabular.isolation_trees import IsolationTrees

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[:, 2] = np.round(X[:, 2])  # ties at the thresholds
    forest = IsolationForest(**params).fit(X)
    trees = IsolationTrees.from_forest(forest, X)
    new = np.vstack([X, rng.normal(scale=50, size=(40, 5)), np.full((1, 5), 1e30),
                     X[:3] + np.float32(1e-7), np.where(np.eye(5, dtype=bool), np.nan, 0.0)])
    np.testing.assert_array_equal(trees.score_samples(new), forest.score_samples(new))
    again = IsolationTrees.from_arrays(trees.to_arrays(), source="test")
    np.testing.assert_array_equal(again.score_samples(new), forest.score_samples(new))
    assert again.max_samples_ == forest.max_samples_


# -- item 8: unseen categories when every training category is common -------------
def test_an_unseen_category_raises_the_score_when_all_categories_are_common():
    rng = np.random.default_rng(0)
    n = 300
    country = rng.choice(["DE", "FR", "US"], n)
    df = pd.DataFrame({"amount": rng.normal(100, 10, n),
                       "shop": rng.choice(["a", "b"], n),  # both common
                       "country": country,
                       "currency": pd.Series(country).map(
                           {"DE": "EUR", "FR": "EUR", "US": "USD"})})
    det = TabularAnomalyDetector(**FOREST).fit(df)
    row = df.iloc[[0, 1, 2]]
    seen = det.score_samples(row)
    unseen = det.score_samples(row.assign(shop="never seen"))
    assert (unseen > seen).all()
    # Two unseen values weigh more than one; a currency that does not go
    # with its country (both values seen) counts too.
    both = det.score_samples(row.assign(shop="never seen", country="XX"))
    assert (both > unseen).all()
    mismatch = det.score_samples(row.assign(country="US", currency="EUR"))
    assert (mismatch > det.score_samples(row.assign(country="US", currency="USD"))).all()


def test_training_scores_stay_those_of_scikit_learn(frame, forest):
    from fusionlab.tabular.column_typing import coerce_frame

    X = forest.preprocessor_.transform(coerce_frame(frame, forest.column_types_))
    sklearn_forest = IsolationForest(n_estimators=FOREST["n_estimators"],
                                     max_samples=len(X), random_state=0).fit(X)
    np.testing.assert_array_equal(forest.training_scores_, -sklearn_forest.score_samples(X))
