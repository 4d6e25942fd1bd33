"""Metrics of fusionlab.metrics against hand-worked cases and edge cases."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from fusionlab.metrics import (
    auc_pr,
    auc_roc,
    best_f1,
    compare,
    evaluate,
    event_f1,
    point_adjust,
    point_adjusted_f1,
    point_f1,
    range_f1,
    range_precision_recall,
    vus,
    vus_pr,
    vus_roc,
)
from fusionlab.metrics.evaluate import METRIC_COLUMNS
from fusionlab.metrics.vus import _detected_event_counts

# ---------------------------------------------------------------- point-wise


def test_point_f1_hand_counts():
    labels = [0, 1, 1, 1, 0, 0, 1, 0]
    preds = [1, 1, 0, 1, 0, 0, 0, 0]
    # TP = 2 (positions 1, 3), flagged = 3, positives = 4.
    prf = point_f1(labels, preds)
    assert prf.precision == pytest.approx(2 / 3)
    assert prf.recall == pytest.approx(2 / 4)
    assert prf.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert prf.f1 == pytest.approx(f1_score(labels, preds))


def test_point_f1_threshold_is_strict():
    # The one flag rule (fusionlab.vocabulary.exceeds): score > threshold.
    # Before it, the metrics flagged score >= threshold and this test
    # asserted that threshold=0.5 flagged the 0.5 score.
    labels = [0, 1, 0]
    scores = [0.2, 0.5, 0.7]
    assert point_f1(labels, scores, threshold=0.49) == (0.5, 1.0, pytest.approx(2 / 3))
    assert point_f1(labels, scores, threshold=0.5).recall == 0.0
    assert point_f1(labels, scores, threshold=0.51).recall == 0.0


def test_point_f1_nothing_flagged_gives_zero_not_nan():
    prf = point_f1([0, 1, 0], [0.1, 0.2, 0.3], threshold=5.0)
    assert prf == (0.0, 0.0, 0.0)


def test_point_f1_matches_sklearn_on_random_case():
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.1).astype(int)
    scores = rng.random(500)
    prf = point_f1(labels, scores, threshold=0.8)
    preds = (scores >= 0.8).astype(int)
    assert prf.precision == pytest.approx(precision_score(labels, preds))
    assert prf.recall == pytest.approx(recall_score(labels, preds))
    assert prf.f1 == pytest.approx(f1_score(labels, preds))


def test_best_f1_with_ties():
    # Thresholds 0.5 -> P=2/3, R=1, F1=0.8 ; 0.1 -> P=1/2, R=1, F1=2/3.
    best = best_f1([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.1])
    assert best.f1 == pytest.approx(0.8)
    assert best.precision == pytest.approx(2 / 3)
    assert best.recall == 1.0
    # Strict rule: the threshold lies between the lowest flagged score (0.5)
    # and the next lower one (0.1), and reproduces the F1 it reports.
    assert best.threshold == pytest.approx(0.3)
    assert point_f1([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.1], best.threshold).f1 == pytest.approx(0.8)


def test_best_f1_is_the_maximum_over_all_thresholds():
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = np.round(labels * 0.3 + rng.random(300), 2)
    best = best_f1(labels, scores)
    brute = max(point_f1(labels, scores, threshold=t).f1 for t in np.unique(scores))
    assert best.f1 == pytest.approx(brute)
    assert point_f1(labels, scores, threshold=best.threshold).f1 == pytest.approx(best.f1)


def test_perfect_and_inverted_scores():
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 0])
    perfect = labels * 2.0 + 0.1
    assert auc_roc(labels, perfect) == 1.0
    assert auc_pr(labels, perfect) == 1.0
    assert best_f1(labels, perfect).f1 == 1.0
    assert auc_roc(labels, -perfect) == 0.0
    # Inverted: the anomalies come last; AP is then the anomaly rate at full recall.
    assert auc_pr(labels, -perfect) == pytest.approx(3 / 8)
    assert vus(labels, perfect, window=4) == (1.0, 1.0)


def test_auc_hand_case():
    # Positives 0.35, 0.8 ; negatives 0.1, 0.4. Pairs won: (0.35>0.1), (0.8>0.1),
    # (0.8>0.4) -> 3 of 4.
    assert auc_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # Ranking 0.8(+), 0.4(-), 0.35(+), 0.1(-): AP = 0.5*1 + 0.5*(2/3).
    assert auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 + 1 / 3)


def test_constant_scores():
    labels = [0, 1, 0, 0]
    assert auc_roc(labels, [1, 1, 1, 1]) == 0.5
    assert auc_pr(labels, [1, 1, 1, 1]) == pytest.approx(0.25)


# ---------------------------------------------------------------- event-based


def test_point_adjust_and_adjusted_f1_hand_case():
    labels = [0, 1, 1, 1, 0, 1, 0, 0]
    preds = [0, 0, 1, 0, 1, 0, 0, 1]
    # Event [1, 3] is hit at 2 -> all of it counts; event [5] is missed.
    assert point_adjust(labels, preds).tolist() == [0, 1, 1, 1, 1, 0, 0, 1]
    prf = point_adjusted_f1(labels, preds)
    # TP = 3, flagged = 5, positives = 4.
    assert prf.precision == pytest.approx(3 / 5)
    assert prf.recall == pytest.approx(3 / 4)
    assert prf.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)


def test_point_adjust_event_at_series_edges():
    labels = [1, 1, 0, 0, 1, 1]
    preds = [0, 1, 0, 0, 1, 0]
    assert point_adjust(labels, preds).tolist() == [1, 1, 0, 0, 1, 1]


def test_event_f1_hand_case():
    labels = [0, 1, 1, 1, 0, 1, 0, 0]
    preds = [0, 0, 1, 0, 1, 0, 0, 1]
    prf = event_f1(labels, preds)
    # 1 of 2 events found; point-wise precision 1 of 3 flagged.
    assert prf.recall == 0.5
    assert prf.precision == pytest.approx(1 / 3)
    assert prf.f1 == pytest.approx(2 * 0.5 / 3 / (0.5 + 1 / 3))


def test_single_point_events_make_adjustment_a_no_op():
    rng = np.random.default_rng(1)
    labels = np.zeros(200, dtype=int)
    labels[rng.choice(np.arange(0, 200, 2), 15, replace=False)] = 1
    scores = rng.random(200)
    assert point_adjusted_f1(labels, scores, 0.7) == point_f1(labels, scores, 0.7)
    assert event_f1(labels, scores, 0.7) == point_f1(labels, scores, 0.7)


def test_point_adjustment_inflates_random_scores():
    rng = np.random.default_rng(2)
    labels = np.zeros(2000, dtype=int)
    for start in (200, 700, 1300, 1800):
        labels[start:start + 60] = 1
    scores = rng.random(2000)
    threshold = np.quantile(scores, 0.98)
    assert point_f1(labels, scores, threshold).f1 < 0.15
    assert point_adjusted_f1(labels, scores, threshold).f1 > 0.7


# ---------------------------------------------------------------- range-based


def test_range_recall_cardinality_and_precision_hand_case():
    labels = [0, 1, 1, 1, 1, 0, 0, 0]
    preds = [0, 1, 0, 1, 1, 0, 1, 0]
    # Real range [1, 4]: covered 3/4, split over 2 predicted ranges -> 3/4 * 1/2.
    # Predicted ranges [1], [3, 4], [6]: precisions 1, 1, 0.
    prf = range_precision_recall(labels, preds, alpha=0.0)
    assert prf.recall == pytest.approx(0.375)
    assert prf.precision == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 * 0.375 * (2 / 3) / (0.375 + 2 / 3))
    assert range_precision_recall(labels, preds, alpha=0.0,
                                  cardinality="one").recall == pytest.approx(0.75)
    # Existence reward: alpha + (1 - alpha) * 0.375.
    assert range_precision_recall(labels, preds, alpha=0.5).recall == pytest.approx(
        0.5 + 0.5 * 0.375)


@pytest.mark.parametrize(
    ("bias", "expected"),
    [
        ("flat", 1 / 4),     # weights 1, 1, 1, 1
        ("front", 4 / 10),   # weights 4, 3, 2, 1
        ("back", 1 / 10),    # weights 1, 2, 3, 4
        ("middle", 1 / 6),   # weights 1, 2, 2, 1
    ],
)
def test_range_positional_bias(bias, expected):
    labels = [0, 1, 1, 1, 1, 0]
    preds = [0, 1, 0, 0, 0, 0]  # only the first point of the range
    assert range_precision_recall(labels, preds, alpha=0.0, bias=bias).recall == (
        pytest.approx(expected))
    # The lone predicted point lies fully inside the real range.
    assert range_precision_recall(labels, preds, bias=bias).precision == 1.0


def test_range_metrics_average_over_ranges():
    labels = [1, 1, 0, 0, 1, 1, 1, 1, 0, 0]
    preds = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    # Ranges: first fully found (1), second missed (0) -> mean 0.5.
    prf = range_precision_recall(labels, preds, alpha=0.0)
    assert prf.recall == 0.5
    assert prf.precision == 1.0
    assert range_f1(labels, preds, alpha=0.0) == pytest.approx(2 / 3)


def test_predicted_range_spanning_two_real_ranges_is_penalised_in_precision():
    labels = [1, 1, 0, 0, 1, 1]
    preds = [1, 1, 1, 1, 1, 1]
    prf = range_precision_recall(labels, preds, alpha=0.0)
    assert prf.recall == 1.0
    # One predicted range, 4 of 6 points real, overlapping 2 ranges -> 4/6 * 1/2.
    assert prf.precision == pytest.approx(1 / 3)


def test_range_nothing_flagged():
    assert range_precision_recall([0, 1, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"alpha": 1.5}, ValueError),
        ({"alpha": "high"}, TypeError),
        ({"bias": "left"}, ValueError),
        ({"cardinality": "square"}, ValueError),
    ],
)
def test_range_option_errors(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        range_precision_recall([0, 1], [0, 1], **kwargs)


# ---------------------------------------------------------------- VUS


def test_vus_hand_case():
    labels = [0, 1, 0, 0, 0]
    scores = [0.6, 0.4, 0.8, 0.2, 0.0]
    # With 5 thresholds every score is a threshold: 0.8, 0.6, 0.4, 0.2, 0.0.
    # w = 0 and w = 1 (no buffer): TPR 0, 0, 1, 1, 1 ; FPR .25, .5, .5, .75, 1 ;
    # precision 0, 0, 1/3, 1/4, 1/5 -> ROC area 0.5, PR area 1/3.
    roc0, pr0 = 0.5, 1 / 3
    # w = 2: one buffer point each side (0 and 2) of weight r = sqrt(1 - 1/2);
    # the buffered event [0, 2] is found from the first threshold on.
    r = math.sqrt(0.5)
    tp = [r, 2 * r, 1 + 2 * r, 1 + 2 * r, 1 + 2 * r]
    p_new = [1 + r / 2, 1 + r, 1 + r, 1 + r, 1 + r]
    flagged = [1, 2, 3, 4, 5]
    tpr = [min(t / p, 1.0) for t, p in zip(tp, p_new, strict=True)]
    fpr = [(f - t) / (5 - p) for f, t, p in zip(flagged, tp, p_new, strict=True)]
    precision = [t / f for t, f in zip(tp, flagged, strict=True)]
    xs, ys = [0.0, *fpr, 1.0], [0.0, *tpr, 1.0]
    roc2 = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(len(xs) - 1))
    pr2 = sum((b - a) * p for a, b, p in zip([0.0, *tpr[:-1]], tpr, precision, strict=True))
    assert roc2 == pytest.approx(0.90899, abs=2e-5)  # by hand, 5 digits
    assert pr2 == pytest.approx(0.72386, abs=2e-5)

    result = vus(labels, scores, window=2, n_thresholds=5)
    assert result.roc == pytest.approx((roc0 + roc0 + roc2) / 3)
    assert result.pr == pytest.approx((pr0 + pr0 + pr2) / 3)
    assert vus(labels, scores, window=0, n_thresholds=5) == (
        pytest.approx(roc0), pytest.approx(pr0))
    assert vus_roc(labels, scores, window=2, n_thresholds=5) == result.roc
    assert vus_pr(labels, scores, window=2, n_thresholds=5) == result.pr


def test_vus_buffer_rewards_near_misses():
    labels = np.zeros(300, dtype=int)
    labels[150:160] = 1
    late = np.zeros(300)
    late[161:166] = 1.0  # fires just after the event
    assert vus(labels, late, window=0).roc < vus(labels, late, window=20).roc
    assert vus(labels, late, window=0).pr < vus(labels, late, window=20).pr


def test_vus_merges_events_whose_buffers_touch():
    # Events 40-41 and 45-46 are 4 points apart: buffers of half-length 1
    # keep them apart, of half-length 2 (buffer length w >= 4) they touch and
    # the two count as one event, found by the point flagged at 40.
    events = np.array([[40, 41], [45, 46]])
    first_flag = np.full(100, 3)  # index of the first threshold flagging each point
    first_flag[40] = 0  # only point 40 is flagged, from the first threshold on
    counts, groups = _detected_event_counts(events, first_flag, 100, 1, 3)
    assert groups == 2 and counts.tolist() == [1, 1, 1]  # 1 of 2 events
    counts, groups = _detected_event_counts(events, first_flag, 100, 2, 3)
    assert groups == 1 and counts.tolist() == [1, 1, 1]  # the merged event


def test_vus_ties_and_random_scores_are_bounded():
    rng = np.random.default_rng(5)
    labels = (rng.random(1000) < 0.03).astype(int)
    scores = np.round(rng.random(1000), 1)
    result = vus(labels, scores, window=30)
    assert 0.0 <= result.pr <= 1.0
    assert 0.0 <= result.roc <= 1.0


def test_vus_argument_errors():
    with pytest.raises(ValueError, match="window"):
        vus([0, 1], [0, 1], window=-1)
    with pytest.raises(TypeError, match="n_thresholds"):
        vus([0, 1], [0, 1], n_thresholds=2.5)
    with pytest.raises(ValueError, match="no normal point"):
        vus([1, 1], [0, 1])


def test_vus_rejects_a_window_longer_than_the_series():
    # Issue 14, item 9: window=10**6 on 100 points allocated gigabytes.
    labels = np.zeros(100, dtype=int)
    labels[40:45] = 1
    scores = labels + np.linspace(0.0, 0.5, 100)
    for window in (101, 10**4, 10**6):
        with pytest.raises(ValueError, match=r"`window` must be at most the series length \(100 points\); "
                           r"received " + str(window)):
            vus(labels, scores, window=window)
    with pytest.raises(ValueError, match=r"`vus_window`.*\(100 points\)"):
        evaluate(scores, None, labels, vus_window=10**6)
    with pytest.raises(ValueError, match=r"`vus_window`.*\(100 points\)"):
        compare({"abs": _Identity()}, scores, labels, vus_window=101)
    # The longest accepted window is the series length.
    assert 0.0 <= vus(labels, scores, window=100).roc <= 1.0


class _Identity:
    """Scores are the data themselves (for compare)."""

    def fit(self, X):
        self.threshold_ = 0.5
        return self

    def score_samples(self, X):
        return np.asarray(X, dtype=float)


def test_vus_more_thresholds_than_points_is_the_same_as_one_per_point():
    # Beyond one threshold per point the sampled ranks repeat, so capping
    # n_thresholds at n changes nothing, and a huge value cannot allocate.
    rng = np.random.default_rng(3)
    labels = (rng.random(60) < 0.1).astype(int)
    labels[[0, 1]] = [1, 0]
    scores = rng.random(60)
    reference = vus(labels, scores, window=6, n_thresholds=60)
    assert vus(labels, scores, window=6, n_thresholds=61) == reference
    assert vus(labels, scores, window=6, n_thresholds=10**9) == reference


# ---------------------------------------------------------------- input checks

ALL_SCORE_METRICS = [
    auc_roc, auc_pr, best_f1, vus,
    lambda y, s: point_f1(y, s, 0.5),
    lambda y, s: point_adjusted_f1(y, s, 0.5),
    lambda y, s: event_f1(y, s, 0.5),
    lambda y, s: range_precision_recall(y, s, 0.5),
]


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [False] * 4, np.zeros(4, bool)])
@pytest.mark.parametrize("metric", ALL_SCORE_METRICS)
def test_all_zero_labels_raise(metric, labels):
    # Boolean labels (df.label == 1) get the same checks as 0/1 integers.
    with pytest.raises(ValueError, match="no anomalous point"):
        metric(labels, [0.1, 0.9, 0.3, 0.2])


@pytest.mark.parametrize(
    "metric", [auc_roc, vus, lambda y, s: evaluate(np.asarray(s), None, y)]
)
def test_all_true_labels_raise_where_both_classes_are_needed(metric):
    with pytest.raises(ValueError, match="no normal point"):
        metric([True] * 4, [0.1, 0.9, 0.3, 0.2])


def test_boolean_labels_score_like_integers():
    labels, scores = [0, 1, 1, 0, 0, 1], [0.1, 0.8, 0.7, 0.3, 0.2, 0.9]
    booleans = np.asarray(labels, dtype=bool)
    assert vus(booleans, scores, window=2) == vus(labels, scores, window=2)
    assert best_f1(booleans, scores) == best_f1(labels, scores)


@pytest.mark.parametrize("metric", ALL_SCORE_METRICS)
def test_length_mismatch_raises(metric):
    with pytest.raises(ValueError, match="same length.*4 labels and 3 scores"):
        metric([0, 1, 0, 0], [0.1, 0.9, 0.3])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("metric", ALL_SCORE_METRICS)
def test_non_finite_scores_raise(metric, bad):
    with pytest.raises(ValueError, match="`scores` contains 1 NaN or infinite"):
        metric([0, 1, 0, 0], [0.1, bad, 0.3, 0.2])


@pytest.mark.parametrize("metric", ALL_SCORE_METRICS)
def test_non_binary_labels_raise(metric):
    with pytest.raises(ValueError, match="`labels` must be binary"):
        metric([0, 2, 0, 1], [0.1, 0.9, 0.3, 0.2])


def test_other_label_and_score_errors():
    with pytest.raises(ValueError, match="no normal point"):
        auc_roc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="one-dimensional"):
        auc_pr(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty"):
        best_f1([], [])
    with pytest.raises(TypeError, match="`scores` must be numeric"):
        auc_pr([0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="`labels` must hold 0/1"):
        auc_pr(["x", "y"], [0.1, 0.2])
    # Without a threshold, scores must be 0/1 predictions.
    with pytest.raises(ValueError, match="`scores` must be binary"):
        point_f1([0, 1], [0.2, 0.7])
    with pytest.raises(TypeError, match="`threshold`"):
        point_f1([0, 1], [0.2, 0.7], threshold="0.5")
    with pytest.raises(ValueError, match="`threshold` must be finite"):
        point_f1([0, 1], [0.2, 0.7], threshold=np.nan)


def test_accepted_input_forms():
    labels = pd.Series([False, True, True, False])
    scores = np.array([[0.1], [0.9], [0.8], [0.2]])  # a model's (n, 1) output
    assert auc_roc(labels, scores) == 1.0
    assert point_f1([0.0, 1.0, 1.0, 0.0], [0, 1, 1, 1]).recall == 1.0


# ---------------------------------------------------------------- evaluate / compare


class ThresholdDetector:
    """Scores each point by its absolute first feature."""

    def __init__(self, threshold=2.0, power=1):
        self.threshold = threshold
        self.power = power

    def fit(self, X, timestamps=None):
        self.threshold_ = self.threshold
        self.n_fit_ = len(X)
        return self

    def score_samples(self, X):
        return np.abs(np.asarray(X)[:, 0]) ** self.power


class RandomDetector:
    """Ignores the data."""

    def fit(self, X, timestamps=None):
        self.threshold_ = 0.9
        return self

    def score_samples(self, X):
        return np.random.default_rng(0).random(len(X))


@pytest.fixture
def spiky_data():
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0, size=(400, 2))
    labels = np.zeros(400, dtype=int)
    labels[100:110] = 1
    labels[300:303] = 1
    X[labels == 1, 0] += 8.0
    return X, labels


def test_evaluate_detector_uses_its_threshold(spiky_data):
    X, labels = spiky_data
    detector = ThresholdDetector(threshold=4.0).fit(X)
    row = evaluate(detector, X, labels, vus_window=10)
    assert list(row.columns) == list(METRIC_COLUMNS)
    assert row.index.tolist() == ["ThresholdDetector"]
    record = row.iloc[0]
    assert record["threshold"] == 4.0
    assert record["threshold_source"] == "detector"
    scores = detector.score_samples(X)
    expected = point_f1(labels, scores, 4.0)
    assert record["f1"] == pytest.approx(expected.f1)
    assert record["auc_roc"] == pytest.approx(auc_roc(labels, scores))
    assert record["vus_pr"] == pytest.approx(vus_pr(labels, scores, window=10))
    assert record["range_f1"] == pytest.approx(range_f1(labels, scores, 4.0))
    assert (record["n_points"], record["n_anomalies"], record["n_events"]) == (400, 13, 2)

    given = evaluate(detector, X, labels, threshold=1e9, name="strict", vus_window=10)
    assert given.index.tolist() == ["strict"]
    assert given.iloc[0]["threshold_source"] == "given"
    assert given.iloc[0]["recall"] == 0.0


def test_evaluate_scores_reports_best_f1_threshold(spiky_data):
    X, labels = spiky_data
    scores = np.abs(X[:, 0])
    row = evaluate(scores, None, labels, vus_window=10).iloc[0]
    best = best_f1(labels, scores)
    assert row["threshold_source"] == "best_f1"
    assert row["threshold"] == row["best_f1_threshold"] == best.threshold
    assert row["f1"] == pytest.approx(best.f1)


def test_evaluate_errors(spiky_data):
    X, labels = spiky_data
    with pytest.raises(ValueError, match="threshold_"):
        evaluate(ThresholdDetector(), X, labels)  # not fitted
    with pytest.raises(ValueError, match="same length"):
        evaluate(np.zeros(10), None, labels)
    with pytest.raises(TypeError, match="threshold"):
        evaluate(np.abs(X[:, 0]), None, labels, threshold="high")


def test_compare_fits_times_and_sorts(spiky_data):
    X, labels = spiky_data
    detectors = {"random": RandomDetector(), "abs": ThresholdDetector(),
                 "squared": ThresholdDetector(power=2, threshold=9.0)}
    table = compare(detectors, X, labels, vus_window=10)
    assert set(table.index) == {"random", "abs", "squared"}
    assert table.index[-1] == "random"
    assert table["vus_pr"].is_monotonic_decreasing
    assert (table["fit_seconds"] >= 0).all() and (table["score_seconds"] >= 0).all()
    assert detectors["abs"].n_fit_ == 400
    assert table.loc["squared", "threshold"] == 9.0


def test_compare_list_names_and_prefitted(spiky_data):
    X, labels = spiky_data
    fitted = [ThresholdDetector().fit(X), ThresholdDetector(power=3).fit(X)]
    table = compare(fitted, X, labels, fit=False, vus_window=10)
    assert sorted(table.index) == ["ThresholdDetector", "ThresholdDetector_2"]
    assert table["fit_seconds"].isna().all()


def test_compare_errors(spiky_data):
    X, labels = spiky_data
    with pytest.raises(ValueError, match="empty"):
        compare({}, X, labels)
    with pytest.raises(TypeError, match="dict name -> detector"):
        compare(ThresholdDetector(), X, labels)
    with pytest.raises(TypeError, match="score_samples"):
        compare({"bad": object()}, X, labels)


def test_best_f1_threshold_reproduces_its_f1_at_large_magnitudes():
    # "One below the lowest score" is lost to rounding at 1e17: the next
    # float below is used there.
    labels, scores = [1, 1, 0, 1], [1e17, 1e17, 1e17 + 64, 1e17]
    best = best_f1(labels, scores)
    assert point_f1(labels, scores, best.threshold).f1 == pytest.approx(best.f1)
