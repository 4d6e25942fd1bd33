"""One detector contract (fusionlab.detection.base), checked on every detector.

The same suite runs on the time-series :class:`AnomalyDetector` and on the
:class:`TabularAnomalyDetector` with both of its methods: fit returns self,
the learned ``threshold_`` / ``training_scores_`` / ``labels_``, the strict
``score > threshold_`` rule, ``detect`` records, ``fit_detect``, checks that
``set_params`` cannot bypass, scikit-learn's ``clone``, ``NotFittedError``,
and :func:`fusionlab.metrics.evaluate` / :func:`fusionlab.metrics.compare`.
"""

import copy
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from fusionlab.detection import AnomalyDetector
from fusionlab.detection.base import BaseDetector
from fusionlab.detection.records import Anomaly, AnomalyList
from fusionlab.metrics import compare, evaluate
from fusionlab.tabular import TabularAnomalyDetector


def make_series(n=300):
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(n) * 2 * np.pi / 20) + rng.normal(0, 0.05, n)
    x[150:153] += 3.0
    labels = np.zeros(n, dtype=int)
    labels[150:153] = 1
    return x, labels


def make_table(n=200):
    rng = np.random.default_rng(0)
    country = rng.choice(["DE", "FR", "US"], n)
    df = pd.DataFrame({
        "amount": np.round(rng.normal(100, 10, n), 2),
        "age": rng.integers(20, 60, n).astype(float),
        "country": country,
        "currency": pd.Series(country).map({"DE": "EUR", "FR": "EUR", "US": "USD"}),
    })
    df.loc[5, "amount"] = 50_000.0
    df.loc[77, "age"] = 250.0
    labels = np.zeros(n, dtype=int)
    labels[[5, 77]] = 1
    return df, labels


@dataclass
class Case:
    make: type  # builds a fresh, unfitted detector
    data: object
    labels: np.ndarray
    bad_params: dict  # stored by set_params, refused by fit
    error: type
    match: str


SERIES, SERIES_LABELS = make_series()
TABLE, TABLE_LABELS = make_table()

CASES = {
    "series": Case(
        lambda: AnomalyDetector(model="conv_autoencoder", window=16, epochs=1,
                                robust=False, random_state=0),
        SERIES, SERIES_LABELS, {"epochs": 0}, ValueError, "epochs"),
    "table_forest": Case(
        lambda: TabularAnomalyDetector(method="isolation_forest", n_estimators=20,
                                       random_state=0),
        TABLE, TABLE_LABELS, {"n_estimators": 0}, ValueError, "n_estimators"),
    "table_autoencoder": Case(
        lambda: TabularAnomalyDetector(method="autoencoder", epochs=2, hidden_units=(8,),
                                       encoding_dim=2, random_state=0),
        TABLE, TABLE_LABELS, {"hidden_units": 8}, TypeError, "hidden_units"),
}


@pytest.fixture(params=list(CASES), scope="module")
def case(request):
    return CASES[request.param]


@pytest.fixture(scope="module")
def fitted(case):
    return case.make().fit(case.data)


def scores_of(det, X):
    return np.asarray(det.score_samples(X), dtype=float)


def test_subclasses_the_base_detector(fitted):
    assert isinstance(fitted, BaseDetector)


def test_fit_returns_self(case):
    det = case.make()
    assert det.fit(case.data) is det
    assert det.__sklearn_is_fitted__()


def test_learned_attributes(fitted, case):
    n = len(case.data)
    assert isinstance(fitted.threshold_, float) and np.isfinite(fitted.threshold_)
    training = fitted.training_scores_
    assert isinstance(training, np.ndarray) and training.shape == (n,)
    assert np.isfinite(training).all()
    # The training data scored again gives its training scores.
    np.testing.assert_allclose(scores_of(fitted, case.data), training, rtol=1e-6)
    assert fitted.labels_.shape == (n,) and set(np.unique(fitted.labels_)) <= {0, 1}
    np.testing.assert_array_equal(fitted.labels_, training > fitted.threshold_)
    assert 0 < fitted.labels_.sum() < n


def test_predict_is_strictly_above_the_threshold(fitted, case):
    scores = scores_of(fitted, case.data)
    flags = np.asarray(fitted.predict(case.data))
    np.testing.assert_array_equal(flags, (scores > fitted.threshold_).astype(int))
    # A tie: the threshold set to one point's exact score leaves it normal.
    tie = int(np.argsort(scores, kind="stable")[int(0.9 * len(scores))])
    tied = copy.copy(fitted)
    tied.threshold_ = float(scores[tie])
    flags = np.asarray(tied.predict(case.data))
    assert flags[tie] == 0 and flags.sum() > 0
    np.testing.assert_array_equal(flags, (scores > scores[tie]).astype(int))


def test_decision_function_is_score_samples(fitted, case):
    np.testing.assert_array_equal(np.asarray(fitted.decision_function(case.data)),
                                  scores_of(fitted, case.data))


def test_detect_returns_an_anomaly_list(fitted, case):
    records = fitted.detect(case.data)
    assert isinstance(records, AnomalyList) and len(records) > 0
    assert all(isinstance(a, Anomaly) for a in records)
    flagged = np.flatnonzero(np.asarray(fitted.predict(case.data)))
    covered = np.zeros(len(case.data), dtype=bool)
    for a in records:
        assert 0 <= a.start_index <= a.end_index < len(case.data)
        assert a.peak_score > fitted.threshold_ and a.peak_score >= a.mean_score
        # A series event's bounds are read on the point errors; the span of
        # its flagged points is in its metadata and overlaps them.
        first = a.metadata.get("flagged_start_index", a.start_index)
        last = a.metadata.get("flagged_end_index", a.end_index)
        assert first <= a.end_index and last >= a.start_index
        covered[first:last + 1] = True
        shares = [share for _, share in a.top_features]
        assert a.top_features and 0 < sum(shares) <= 1 + 1e-9
    assert covered[flagged].all()  # every flagged point is in a record's flagged span
    table = records.to_frame()
    assert len(table) == len(records)
    assert table["start_index"].tolist() == [a.start_index for a in records]
    assert records.filter(min_severity="low") == records
    kept = records.filter(types=records[0].anomaly_type)
    assert records[0] in kept and all(a.anomaly_type == records[0].anomaly_type for a in kept)
    assert records.filter(limit=1)[0].peak_score == max(a.peak_score for a in records)
    exported = json.loads(records.to_json())
    assert [e["start_index"] for e in exported] == [a.start_index for a in records]


def test_fit_detect_is_fit_then_detect(case):
    det = case.make()
    records = det.fit_detect(case.data)
    assert det.__sklearn_is_fitted__()
    assert records == det.detect(case.data)


def test_set_params_then_fit_raises(case):
    det = case.make()
    assert det.set_params(**case.bad_params) is det  # stored, not checked
    with pytest.raises(case.error, match=case.match):
        det.fit(case.data)
    assert not det.__sklearn_is_fitted__()


def test_clone_and_get_params_round_trip(fitted, case):
    params = fitted.get_params()
    assert clone(fitted).get_params() == params
    assert type(fitted)(**params).get_params() == params
    with pytest.raises(NotFittedError):
        clone(fitted).score_samples(case.data)


def test_unfitted_detector_raises(case):
    det = case.make()
    for method in (det.score_samples, det.decision_function, det.predict, det.detect):
        with pytest.raises(NotFittedError):
            method(case.data)


def test_evaluate_accepts_the_detector(fitted, case):
    row = evaluate(fitted, case.data, case.labels, vus_window=10)
    assert row.loc[type(fitted).__name__, "threshold_source"] == "detector"
    assert row["threshold"].iloc[0] == fitted.threshold_
    assert row["n_points"].iloc[0] == len(case.data)
    # The metrics flag exactly the points the detector predicts.
    flags = np.asarray(fitted.predict(case.data)).astype(bool)
    hits = int((flags & (case.labels == 1)).sum())
    assert row["recall"].iloc[0] == pytest.approx(hits / case.labels.sum())
    assert row["precision"].iloc[0] == pytest.approx(hits / flags.sum())


def test_compare_accepts_the_detector(fitted, case):
    table = compare({"fresh": case.make()}, case.data, case.labels, vus_window=10)
    assert table.index.tolist() == ["fresh"] and table.loc["fresh", "fit_seconds"] > 0
    assert table.loc["fresh", "threshold_source"] == "detector"
    unfitted_again = compare({"fitted": fitted}, case.data, case.labels, fit=False,
                             vus_window=10)
    assert unfitted_again.loc["fitted", "threshold"] == fitted.threshold_
    assert np.isnan(unfitted_again.loc["fitted", "fit_seconds"])
