"""Tests of fusionlab.tabular: typing, encoding, detection, persistence, files."""

import copy
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from fusionlab.detection.base import BaseDetector
from fusionlab.detection.records import Anomaly, AnomalyList
from fusionlab.tabular import (
    TabularAnomalyDetector,
    TabularPreprocessor,
    detect_anomalies_in_excel,
    infer_column_types,
    read_table,
)
from fusionlab.tabular.column_typing import coerce_frame
from fusionlab.tabular.detector import to_json_value
from fusionlab.tabular.forest_encoding import MAX_PAIRS, ForestPreprocessor
from fusionlab.tabular.preprocessing import soft_clip
from fusionlab.vocabulary import severity_from_ratio

SMALL = {"method": "autoencoder", "encoding_dim": 2, "hidden_units": (8,),
         "random_state": 0}
FAST = {"epochs": 10, "batch_size": 32}
FOREST = {"method": "isolation_forest", "n_estimators": 10, "random_state": 0}
# pandas 2 parses text dates to nanoseconds only, so dates after 2262 are missing.
PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def make_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    country = rng.choice(["DE", "FR", "US"], n)
    df = pd.DataFrame({
        "order_id": np.arange(1, n + 1),
        "amount": np.round(rng.normal(100, 10, n), 2),
        "age": rng.integers(20, 60, n).astype(float),
        "country": country,
        "currency": pd.Series(country).map({"DE": "EUR", "FR": "EUR", "US": "USD"}),
        "express": rng.random(n) < 0.3,
        "date": pd.date_range("2024-01-01", periods=n, freq="h"),
    })
    df.loc[rng.choice(n, 15, replace=False), "age"] = np.nan
    return df


@pytest.fixture(scope="module")
def frame():
    df = make_frame()
    df.loc[5, "amount"] = 50_000.0
    return df


@pytest.fixture(scope="module")
def ae_detector(frame):
    return TabularAnomalyDetector(threshold_percentile=98, **SMALL).train(frame, **FAST)


@pytest.fixture(scope="module")
def if_detector(frame):
    return TabularAnomalyDetector(method="isolation_forest", threshold_percentile=98,
                                  random_state=0, n_estimators=50).train(frame)


# The models' own scores and blames, without the sanity signals (what every
# detector gave before format 5): the tests of the models' mechanics use them.
@pytest.fixture(scope="module")
def ae_raw(frame):
    return TabularAnomalyDetector(threshold_percentile=98, sanity_checks=False,
                                  **SMALL).train(frame, **FAST)


@pytest.fixture(scope="module")
def if_raw(frame):
    return TabularAnomalyDetector(method="isolation_forest", threshold_percentile=98,
                                  random_state=0, n_estimators=50,
                                  sanity_checks=False).train(frame)


# -- column typing -------------------------------------------------------------
def test_infer_column_types_covers_every_kind():
    n = 40
    df = pd.DataFrame({
        "row": np.arange(n),
        "customer_id": np.arange(n)[::-1],
        "amount": np.linspace(1, 2, n),
        "city": ["Oslo", "Rome"] * (n // 2),
        "paid": [True, False] * (n // 2),
        "paid_obj": pd.Series([True, None, False, True] * (n // 4), dtype=object),
        "when": pd.date_range("2023-01-01", periods=n),
        "when_text": [str(d.date()) for d in pd.date_range("2023-01-01", periods=n)],
        "num_text": [str(i) for i in range(n)],
        "mostly_num": ["x"] + [str(i) for i in range(n - 1)],
        "num_and_text": [1, "a"] * (n // 2),
        "constant": 7,
        "empty": np.nan,
        "comment": [f"note {i}" for i in range(n)],
    })
    types, excluded, notes = infer_column_types(df, max_categories=10)
    assert types == {
        "amount": "numeric", "city": "categorical", "paid": "boolean",
        "paid_obj": "boolean", "when": "datetime", "when_text": "datetime",
        "num_text": "numeric", "mostly_num": "numeric", "num_and_text": "categorical",
    }
    assert set(excluded) == {"row", "customer_id", "constant", "empty", "comment"}
    assert "identifier" in excluded["row"] and "identifier" in excluded["comment"]
    assert "constant" in excluded["constant"] and "missing" in excluded["empty"]
    assert "mixed types" in notes["mostly_num"] and "mixed types" in notes["num_and_text"]


def test_overrides_and_bad_overrides():
    df = pd.DataFrame({"code": [1, 2, 3, 1] * 5, "x": np.arange(20.0) % 7})
    types, excluded, _ = infer_column_types(df, {"code": "categorical", "x": "exclude"})
    assert types == {"code": "categorical"} and "user" in excluded["x"]
    with pytest.raises(ValueError, match="not in the data"):
        infer_column_types(df, {"nope": "numeric"})
    with pytest.raises(ValueError, match=r"column_types\['x'\]"):
        infer_column_types(df, {"x": "float"})


def test_month_names_codes_and_times_are_not_dates():
    # pandas 3 reads "Jan" and "T1" as dates in year 1 and "12:30" as today.
    n = 24
    df = pd.DataFrame({
        "month": ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] * 2,
        "term": ["T1", "T2", "T3", "T4"] * (n // 4),
        "time": ["08:00", "12:30", "17:45"] * (n // 3),
        "day": [f"2024-01-{d:02d}" for d in range(1, n + 1)],
        "stamp": ["2024-01-01T00:00:00+01:00", "2024-01-02 10:00"] * (n // 2),
    })
    types, _, notes = infer_column_types(df)
    assert types == {"month": "categorical", "term": "categorical", "time": "categorical",
                     "day": "datetime", "stamp": "datetime"}
    assert notes["day"] == "dates stored as text"


def test_placeholder_and_year_one_dates_do_not_crash():
    # datetime64[ns] ends in 2262: a "never" date such as 9999-12-31 raised
    # OutOfBoundsDatetime when training and scoring.
    n = 30
    df = pd.DataFrame({
        "amount": np.linspace(10.0, 20.0, n),
        "start": [f"2024-01-{d:02d}" for d in range(1, n + 1)],
        "end": ["9999-12-31"] * (n - 5) + [f"2025-02-0{d}" for d in range(1, 6)],
    })
    det = TabularAnomalyDetector(**FOREST).train(df)
    new = df.iloc[:2].assign(start=["0001-01-01", "9999-12-31"])
    scores = det.score(new)
    assert scores.index.equals(new.index) and np.isfinite(scores).all()
    if PANDAS_3:
        assert det.column_types_["end"] == "datetime"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing is treated as missing
            out = coerce_frame(new, {"start": "datetime", "end": "datetime"})
        assert out["start"].tolist() == [pd.Timestamp("0001-01-01"),
                                         pd.Timestamp("9999-12-31")]
        assert out["end"].iloc[0] == pd.Timestamp("9999-12-31")


def test_integer_id_with_a_blank_is_still_an_identifier():
    # One blank turns an integer column into floats.
    n = 30
    row = np.arange(100.0, 100.0 + n)
    row[7] = np.nan
    customer_id = np.random.default_rng(0).permutation(n).astype(float)
    customer_id[3] = np.nan
    df = pd.DataFrame({"row": row, "customer_id": customer_id,
                       "amount": np.linspace(1, 2, n), "qty": np.arange(n) % 4 * 1.0})
    types, excluded, _ = infer_column_types(df)
    assert types == {"amount": "numeric", "qty": "numeric"}
    assert excluded == {
        "row": "identifier-like: a distinct integer on every non-missing row",
        "customer_id": "identifier-like: a distinct integer on every non-missing row"}


def test_category_labels_do_not_depend_on_blanks():
    # With a blank the column is float: 1.0 must still be the category "1".
    types = {"code": "categorical"}
    with_blank = coerce_frame(pd.DataFrame({"code": [1.0, 2.0, np.nan, 2.5]}), types)
    assert with_blank["code"].tolist()[:2] == ["1", "2"] and with_blank["code"][3] == "2.5"
    assert pd.isna(with_blank["code"][2])
    pre = TabularPreprocessor(types).fit(with_blank)
    X = pre.transform(coerce_frame(pd.DataFrame({"code": [1, 2, 2, 1]}), types))
    assert (X[:, -1] == 0).all()  # no unseen flag: the training categories


def test_boolean_override_reads_yes_no_text():
    df = pd.DataFrame({"flag": ["yes", "No", "Y", "n", "TRUE", "false", "1", "0", None]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every value is readable
        out = coerce_frame(df, {"flag": "boolean"})
    assert out["flag"].tolist()[:8] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert np.isnan(out["flag"].iloc[8])


def test_override_that_fits_no_value_is_refused_at_training():
    n = 20
    df = pd.DataFrame({"x": np.arange(n) % 7 * 1.0, "flag": ["maybe", "perhaps"] * (n // 2),
                       "v": ["a", "b"] * (n // 2), "blank": np.nan})
    # An IndexError (mode of nothing) before; numeric text failed only in `save`.
    with pytest.raises(ValueError, match=r"Column 'flag' is typed 'boolean'.*'maybe'"):
        TabularAnomalyDetector(column_types={"flag": "boolean"}, **FOREST).train(df)
    with pytest.raises(ValueError, match=r"Column 'v' is typed 'numeric'.*'a'"):
        TabularAnomalyDetector(column_types={"v": "numeric"}, **FOREST).train(df)
    with pytest.raises(ValueError, match=r"Column 'blank'.*all its values are missing"):
        TabularAnomalyDetector(column_types={"blank": "numeric"}, **FOREST).train(df)
    with pytest.raises(ValueError, match=r"Column 'b' \(boolean\) has no non-missing value"):
        TabularPreprocessor({"b": "boolean"}).fit(pd.DataFrame({"b": [np.nan] * 3}))


def test_coerce_frame_warns_about_unreadable_values():
    df = pd.DataFrame({"x": pd.Series([1, "oops", np.inf, 4.0], dtype=object)})
    with pytest.warns(UserWarning, match=r"'x': 1 infinite value\(s\); 'x': 1 value\(s\) not readable"):
        out = coerce_frame(df, {"x": "numeric"})
    assert out["x"].isna().tolist() == [False, True, True, False]


# -- preprocessing --------------------------------------------------------------
def test_preprocessor_encodes_and_round_trips_through_json():
    df = pd.DataFrame({
        "x": [1.0, 2.0, np.nan, 4.0, 1e300], "c": ["a", "b", "a", None, "b"],
        "b": [True, False, True, np.nan, False],
        "d": pd.to_datetime(["2024-01-01 10:30", None, "2024-02-03 00:00",
                             "2024-03-04 00:00", "2024-05-06 00:00"]),
    })
    types = {"x": "numeric", "c": "categorical", "b": "boolean", "d": "datetime"}
    frame = coerce_frame(df, types)
    pre = TabularPreprocessor(types).fit(frame)
    X = pre.transform(frame)
    assert pre.feature_sources_ == ["x", "b", "d", "d", "d", "d", "c", "c", "c", "c"]
    assert pre.feature_names_out_[-1] == "categorical__c__unseen"
    assert pre.feature_names_out_[2:6] == [f"datetime__d__{p}" for p in
                                           ("days", "month", "dayofweek", "hour")]
    assert np.isfinite(X).all() and X[4, 0] < 750  # soft-clipped, not overflowed
    # Categories are sorted: "__missing__", "a", "b"; then the unseen flag.
    np.testing.assert_array_equal(X[:, 6:], [[0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0],
                                             [1, 0, 0, 0], [0, 0, 1, 0]])
    rebuilt = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(rebuilt.transform(frame), X)
    unseen = frame.assign(c=["zzz"] * 5)
    assert (rebuilt.transform(unseen)[:, 6:9] == 0).all()
    assert (rebuilt.transform(unseen)[:, 9] == 1).all()


def test_soft_clip_is_monotone_and_finite():
    x = np.array([-1e308, -25.0, -3.0, 0.0, 19.9, 21.0, 1e308])
    y = soft_clip(x, limit=20.0)
    assert np.isfinite(y).all() and (np.diff(y) > 0).all()
    np.testing.assert_array_equal(y[2:5], x[2:5])


def test_max_categories_keeps_the_most_frequent():
    df = pd.DataFrame({"c": ["a"] * 10 + ["b"] * 5 + ["c"] * 2 + ["d"]})
    frame = coerce_frame(df, {"c": "categorical"})
    pre = TabularPreprocessor({"c": "categorical"}, max_categories=2).fit(frame)
    assert pre.categories_ == [["a", "b"]]
    assert pre.transform(frame)[-1].tolist() == [0.0, 0.0, 1.0]


# -- detection --------------------------------------------------------------------
def test_learned_attributes(ae_detector, frame):
    det = ae_detector
    assert det.method_ == "autoencoder"
    assert det.feature_names_in_ == list(frame.columns)
    assert det.excluded_columns_ == {
        "order_id": "identifier-like: a distinct integer on every row"}
    assert det.column_types_ == {"amount": "numeric", "age": "numeric",
                                 "country": "categorical", "currency": "categorical",
                                 "express": "boolean", "date": "datetime"}
    assert len(det.history_["loss"]) == FAST["epochs"] and "val_loss" in det.history_
    scores = det.score(frame)
    assert scores.index.equals(frame.index) and scores.name == "anomaly_score"
    assert np.isclose((scores > det.threshold_).mean(), 0.02, atol=0.01)
    assert det.predict(frame).sum() == (scores > det.threshold_).sum()


def test_blame_is_summed_back_to_source_columns(ae_raw, frame):
    det = ae_raw
    anomalies = det.detect_anomalies(frame)
    assert anomalies and anomalies[0]["row_index"] == 5
    assert anomalies[0]["anomalous_features"][0]["feature_name"] == "amount"
    assert anomalies[0]["anomalous_features"][0]["actual_value"] == 50_000.0
    # Recompute the per-feature errors by hand and group them by source column.
    X = det.preprocessor_.transform(coerce_frame(frame, det.column_types_))
    recon = np.asarray(det.model_.predict(X.astype("float32"), verbose=0), "float64")
    errors = pd.DataFrame(np.square(X - recon) / det.feature_error_scale_,
                          columns=det.preprocessor_.feature_sources_)
    by_column = errors.T.groupby(level=0, sort=False).sum().T
    for anomaly in anomalies:
        pos = frame.index.get_loc(anomaly["row_index"])
        assert anomaly["anomaly_score"] == pytest.approx(errors.iloc[pos].mean())
        for feat in anomaly["anomalous_features"]:
            assert feat["feature_name"] in det.column_types_
            assert feat["reconstruction_error"] == pytest.approx(
                by_column.iloc[pos][feat["feature_name"]])
        blames = [f["reconstruction_error"] for f in anomaly["anomalous_features"]]
        assert blames == sorted(blames, reverse=True) and len(blames) == 3
    assert [a["anomaly_score"] for a in anomalies] == sorted(
        (a["anomaly_score"] for a in anomalies), reverse=True)


def test_output_is_plain_json(ae_detector, frame):
    anomalies = ae_detector.detect_anomalies(frame)
    text = json.dumps(anomalies, allow_nan=False)  # fails on NaN or numpy types
    assert json.loads(text) == anomalies
    first = anomalies[0]
    assert set(first) == {"row_index", "anomaly_score", "anomalous_features", "raw_data"}
    assert list(first["raw_data"]) == list(frame.columns)
    assert first["raw_data"]["date"].startswith("2024-01-01T05")
    with_nan = next(i for i in frame.index if np.isnan(frame.loc[i, "age"]))
    rows = ae_detector.detect_anomalies(frame.loc[[with_nan]].assign(amount=1e6))
    assert rows[0]["raw_data"]["age"] is None


def test_to_json_value():
    assert to_json_value(np.int64(3)) == 3 and type(to_json_value(np.int64(3))) is int
    assert to_json_value(np.float32(1.5)) == 1.5 and to_json_value(np.bool_(True)) is True
    assert to_json_value(np.nan) is None and to_json_value(pd.NaT) is None
    assert to_json_value(pd.NA) is None and to_json_value(-np.inf) == "-inf"
    assert to_json_value(pd.Timestamp("2024-01-02")) == "2024-01-02T00:00:00"


def test_unseen_categories_missing_and_extra_columns(ae_detector, frame):
    det = ae_detector
    base = det.score(frame.iloc[:20])
    unseen = frame.iloc[:20].assign(country="Atlantis")
    # All-zero one-hot plus a raised unseen flag: evidence against the row.
    assert det.score(unseen).mean() > 1.5 * base.drop(index=5).mean()
    with pytest.warns(UserWarning, match=r"missing from the data.*\['age', 'country'\]"):
        scores = det.score(frame.iloc[:20].drop(columns=["age", "country"]))
    assert np.isfinite(scores).all()
    with pytest.warns(UserWarning, match=r"missing from the data.*\['age'\]"):
        rows = det.detect_anomalies(frame.drop(columns=["age"]))
    ages = [f for r in rows for f in r["anomalous_features"] if f["feature_name"] == "age"]
    assert all(f["actual_value"] is None for f in ages)
    with pytest.warns(UserWarning, match=r"not seen in training.*\['bonus'\]"):
        det.score(frame.iloc[:5].assign(bonus=1))


def test_isolation_forest_path(if_raw, frame):
    det = if_raw
    assert det.method_ == "isolation_forest" and det.history_ == {}
    assert isinstance(det.preprocessor_, ForestPreprocessor)
    assert det.model_.max_samples_ == len(frame)  # below FOREST_MAX_SAMPLES
    assert "date__days" in det.encoded_feature_names_
    assert not any(f.endswith("__month") for f in det.encoded_feature_names_)
    anomalies = det.detect_anomalies(frame)
    assert anomalies[0]["row_index"] == 5
    assert anomalies[0]["anomalous_features"][0]["feature_name"] == "amount"
    # Blames are shares of the row's deviations, largest first.
    shares = [f["reconstruction_error"] for f in anomalies[0]["anomalous_features"]]
    assert shares == sorted(shares, reverse=True) and shares[0] > 0.9
    assert all(0 <= s <= 1 for a in anomalies for s in
               (f["reconstruction_error"] for f in a["anomalous_features"]))
    json.dumps(anomalies, allow_nan=False)


def test_forest_encoding_rarity_mismatch_and_blame():
    n = 400
    rng = np.random.default_rng(1)
    country = rng.choice(["DE", "FR", "US"], n)
    df = pd.DataFrame({
        "x": rng.normal(0, 1, n),
        "country": country,
        "currency": pd.Series(country).map({"DE": "EUR", "FR": "EUR", "US": "USD"}),
        "flag": rng.random(n) < 0.5,
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
    })
    df.loc[0, "currency"] = "USD" if df.loc[0, "country"] != "US" else "EUR"  # mismatch
    df.loc[1, "country"] = "JP"  # a rare value (JP/EUR or JP/USD: a rare pair too)
    types = {"x": "numeric", "country": "categorical", "currency": "categorical",
             "flag": "boolean", "when": "datetime"}
    frame = coerce_frame(df, types)
    pre = ForestPreprocessor(types).fit(frame)
    assert pre.feature_names_out_ == [
        "x", "flag", "when__days", "country__rarity", "currency__rarity",
        "flag__rarity", "country__currency__mismatch"]
    X = pre.transform(frame)
    names = pre.feature_names_out_
    rarity, mismatch = X[:, names.index("country__rarity")], X[:, names.index(
        "country__currency__mismatch")]
    rare = max(0.01 * n, 5)
    assert rarity[1] == pytest.approx(np.log((rare + 1) / 2)) and (rarity[2:] == 0).all()
    # Seen once where ~100 were expected: capped by the rarity, less log 2.
    assert mismatch[0] == pytest.approx(np.log((rare + 1) / 2) - np.log(2))
    assert (mismatch[2:] == 0).all()
    # Unseen value: count 0, the largest rarity; the pair is unseen too.
    unseen = pre.transform(frame.iloc[:3].assign(country="Atlantis"))
    assert unseen[:, names.index("country__rarity")] == pytest.approx(np.log(rare + 1))
    # Blame: shares summing to 1, the pair's mismatch split between its columns.
    blame = pre.blame(X)
    assert np.allclose(blame[blame.sum(axis=1) > 0].sum(axis=1), 1.0)
    columns = list(types)
    assert blame[0, columns.index("country")] == pytest.approx(
        blame[0, columns.index("currency")])
    assert columns[int(np.argmax(blame[1]))] == "country"
    outlier = pre.transform(frame.iloc[[5]].assign(x=50.0))
    assert columns[int(np.argmax(pre.blame(outlier)[0]))] == "x"
    # |z| within one IQR of the median is no deviation at all.
    ordinary = pre.transform(frame.iloc[[5]].assign(x=frame["x"].median()))
    assert pre.blame(ordinary)[0, columns.index("x")] == 0
    rebuilt = ForestPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(rebuilt.transform(frame), X)
    assert rebuilt.feature_names_out_ == names


def test_forest_pairs_are_bounded_to_low_cardinality_columns():
    rng = np.random.default_rng(2)
    n = 300
    cols = {f"c{i}": rng.choice(list("abc"), n) for i in range(7)}
    cols["many"] = [f"v{i % 40}" for i in range(n)]  # too many values to pair
    types = {c: "categorical" for c in cols}
    frame = coerce_frame(pd.DataFrame(cols), types)
    pre = ForestPreprocessor(types).fit(frame)
    pairs = [f for f in pre.feature_names_out_ if f.endswith("__mismatch")]
    assert len(pairs) == MAX_PAIRS == 15  # 21 possible pairs of c0..c6
    assert not any("many" in f for f in pairs)


def test_isolation_forest_finds_a_mismatched_pair():
    rng = np.random.default_rng(4)
    n = 1000
    country = rng.choice(["DE", "FR", "US", "JP"], n)
    df = pd.DataFrame({
        "amount": rng.normal(100, 10, n), "country": country,
        "currency": pd.Series(country).map(
            {"DE": "EUR", "FR": "EUR", "US": "USD", "JP": "JPY"})})
    df.loc[[10, 20], "currency"] = ["JPY", "USD"]
    df.loc[[10, 20], "country"] = ["DE", "JP"]
    det = TabularAnomalyDetector(method="isolation_forest", random_state=0,
                                 threshold_percentile=99).train(df)
    top = det.score(df).nlargest(2).index
    assert set(top) == {10, 20}
    found = {a["row_index"]: a for a in det.detect_anomalies(df)}
    for row in (10, 20):
        blamed = {f["feature_name"] for f in found[row]["anomalous_features"][:2]}
        assert blamed == {"country", "currency"}


def test_keras_missing_falls_back_to_isolation_forest(monkeypatch, frame):
    monkeypatch.setitem(sys.modules, "keras", None)  # makes `import keras` fail
    monkeypatch.delitem(sys.modules, "fusionlab.tabular.autoencoder", raising=False)
    with pytest.warns(UserWarning, match="falling back to method='isolation_forest'"):
        det = TabularAnomalyDetector(method="autoencoder", random_state=0,
                                     n_estimators=20).train(frame)
    assert det.method_ == "isolation_forest" and det.method == "autoencoder"
    assert isinstance(det.preprocessor_, ForestPreprocessor)
    assert det.detect_anomalies(frame)[0]["row_index"] == 5
    assert det.detect(frame).filter(limit=1)[0].start == 5


@pytest.mark.parametrize("name", ["ae_detector", "if_detector"])
def test_save_load_gives_identical_scores(request, tmp_path, frame, name):
    det = request.getfixturevalue(name)
    det.save(tmp_path / "model")
    assert not list((tmp_path / "model").glob("*.pkl"))
    config = json.loads((tmp_path / "model" / "detector.json").read_text())
    assert config["column_types_"] == det.column_types_
    loaded = TabularAnomalyDetector.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.score(frame), det.score(frame))
    assert loaded.detect_anomalies(frame) == det.detect_anomalies(frame)
    assert loaded.get_params() == det.get_params()
    assert loaded.excluded_columns_ == det.excluded_columns_
    assert loaded.encoded_feature_names_ == det.encoded_feature_names_
    new_rows = frame.iloc[:5].assign(country="Atlantis", amount=1e7)
    np.testing.assert_array_equal(loaded.score(new_rows), det.score(new_rows))
    np.testing.assert_array_equal(loaded.training_scores_, det.training_scores_)
    np.testing.assert_array_equal(loaded.labels_, det.labels_)
    assert loaded.model_id_ == det.model_id_ and loaded.threshold_ == det.threshold_
    assert loaded.detect(frame) == det.detect(frame)


def test_old_forest_directory_is_refused(tmp_path, if_detector):
    det = if_detector
    det.save(tmp_path)
    config = json.loads((tmp_path / "detector.json").read_text())
    config["format"] = "fusionlab.tabular.TabularAnomalyDetector/1"
    (tmp_path / "detector.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="older fusionlab.*train and save it again"):
        TabularAnomalyDetector.load(tmp_path)


def test_failed_save_writes_nothing(tmp_path, if_detector):
    det = copy.copy(if_detector)
    det.threshold_ = float("nan")  # JSON cannot hold it
    with pytest.raises(ValueError, match="not JSON compliant"):
        det.save(tmp_path / "model")
    # Before, the model file was written first, leaving a directory that
    # looked saved but had no detector.json.
    assert not (tmp_path / "model").exists()


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="detector.json"):
        TabularAnomalyDetector.load(tmp_path)
    (tmp_path / "detector.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a saved TabularAnomalyDetector"):
        TabularAnomalyDetector.load(tmp_path)


def test_sklearn_conventions(frame):
    det = TabularAnomalyDetector(method="isolation_forest", n_estimators=10,
                                 random_state=1)
    assert clone(det).get_params() == det.get_params()
    assert det.fit(frame) is det


@pytest.mark.parametrize("kwargs, error, match", [
    ({"encoding_dim": 0}, ValueError, "encoding_dim"),
    ({"hidden_units": 64}, TypeError, "hidden_units"),
    ({"hidden_units": (64, -1)}, ValueError, r"hidden_units\[1\]"),
    ({"threshold_percentile": 120}, ValueError, "threshold_percentile"),
    ({"method": "lof"}, ValueError, "method"),
    ({"random_state": -1}, ValueError, "random_state"),
    ({"learning_rate": 0}, ValueError, "learning_rate"),
    ({"clip": 0.5}, ValueError, "clip"),
    ({"column_types": ["a"]}, TypeError, "column_types"),
])
def test_bad_constructor_arguments(frame, kwargs, error, match):
    # The constructor only stores its arguments; `fit` checks them, before
    # any training work.
    det = TabularAnomalyDetector(**kwargs)
    with pytest.raises(error, match=match):
        det.fit(frame)
    assert not hasattr(det, "threshold_") and not hasattr(det, "column_types_")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"encoding_dim": 0}, ValueError, "encoding_dim"),
    ({"method": "lof"}, ValueError, "method"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"batch_size": 1.5}, TypeError, "batch_size"),
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"top_features": 0}, ValueError, "top_features"),
])
def test_set_params_cannot_bypass_the_checks(frame, kwargs, error, match):
    det = TabularAnomalyDetector(**FOREST)
    det.set_params(**kwargs)  # stores only
    with pytest.raises(error, match=match):
        det.fit(frame)
    with pytest.raises(error, match=match):
        det.train(frame)
    fitted = TabularAnomalyDetector(**FOREST).fit(frame)
    with pytest.raises(error, match=match):
        fitted.set_params(**kwargs).fit(frame)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs"), ({"batch_size": -2}, "batch_size"),
    ({"validation_split": 1.0}, "validation_split"),
])
def test_bad_train_arguments(frame, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TabularAnomalyDetector(**SMALL).train(frame, **kwargs)


# -- the detector contract ---------------------------------------------------------
def test_follows_the_base_contract(if_detector, frame):
    det = if_detector
    assert isinstance(det, BaseDetector)
    scores = det.score_samples(frame)
    assert isinstance(scores, np.ndarray) and scores.shape == (len(frame),)
    np.testing.assert_array_equal(scores, det.score(frame).to_numpy())
    np.testing.assert_array_equal(det.decision_function(frame), scores)
    np.testing.assert_array_equal(det.training_scores_, scores)
    np.testing.assert_array_equal(det.labels_, (scores > det.threshold_).astype(int))
    assert det.threshold_ == np.percentile(scores, 98)
    # The flag rule is strict: a row scored exactly at the threshold is normal.
    tied = copy.copy(det)
    tied.threshold_ = float(scores[7])
    flags = tied.predict(frame)
    assert flags[7] == 0 and flags.dtype.kind == "i"
    np.testing.assert_array_equal(flags, (scores > scores[7]).astype(int))
    assert det.score_samples(frame.iloc[:0]).shape == (0,)


def test_training_settings_are_parameters(frame):
    det = TabularAnomalyDetector(epochs=3, batch_size=64, validation_split=0.0, **SMALL)
    assert det.get_params()["epochs"] == 3
    det.fit(frame)
    assert len(det.history_["loss"]) == 3 and "val_loss" not in det.history_
    # `train` overrides them for one call without changing the parameters.
    params = det.get_params()
    det.train(frame, epochs=2, validation_split=0.2)
    assert len(det.history_["loss"]) == 2 and "val_loss" in det.history_
    assert det.get_params() == params
    defaults = TabularAnomalyDetector().get_params()
    assert (defaults["epochs"], defaults["batch_size"], defaults["validation_split"]) == (
        50, 32, 0.2)


@pytest.mark.parametrize("name", ["ae_raw", "if_raw"])
def test_detect_lists_row_records(request, frame, name):
    det = request.getfixturevalue(name)
    records = det.detect(frame)
    assert isinstance(records, AnomalyList) and all(isinstance(a, Anomaly) for a in records)
    flagged = np.flatnonzero(det.predict(frame))
    assert [a.start_index for a in records] == flagged.tolist()  # row order
    scores = det.score_samples(frame)
    X = det.preprocessor_.transform(coerce_frame(frame, det.column_types_))
    _, errors = det._score_matrix(X)
    col_errors, columns = det._column_errors(errors)
    median = np.median(det.training_scores_)
    for a in records:
        pos = a.start_index
        assert a.end_index == pos and a.start == a.end == frame.index[pos]
        assert a.peak_score == a.mean_score == pytest.approx(scores[pos])
        assert a.anomaly_type == "row" and a.length == 1
        assert a.model_id == det.model_id_ and a.model_id.startswith(det.method_ + "-")
        shares = col_errors[pos] / col_errors[pos].sum()
        assert [name for name, _ in a.top_features] == [
            columns[j] for j in np.argsort(-shares, kind="stable")[:3]]
        for column, share in a.top_features:
            assert share == pytest.approx(shares[columns.index(column)])
        ratio = (a.peak_score - median) / (det.threshold_ - median)
        assert a.metadata["score_ratio"] == pytest.approx(ratio) and ratio > 1
        assert a.severity == severity_from_ratio(ratio)
        assert a.metadata["threshold"] == det.threshold_
    # The planted 50 000 is the most severe row, at least 'high', for both
    # methods (the forest's scores sit near 0.5: its plain score / threshold
    # ratio is below 1.5, 'low', for every row).
    if det.method_ == "isolation_forest":
        assert max(scores) / det.threshold_ < 1.5
    assert [a.start for a in records.filter(min_severity="high")] == [5]
    assert records[0].start == 5 and records[0].peak_score == max(scores)


@pytest.mark.parametrize("name", ["ae_detector", "if_detector"])
def test_detect_anomalies_is_derived_from_detect(request, frame, name):
    det = request.getfixturevalue(name)
    records = det.detect(frame)
    rows = det.detect_anomalies(frame)
    assert len(rows) == len(records)
    by_label = {a.start: a for a in records}
    for row in rows:
        a = by_label[row["row_index"]]
        assert row["anomaly_score"] == a.peak_score
        assert row["anomalous_features"] == a.metadata["anomalous_features"]
        assert row["raw_data"] == a.metadata["raw_data"]
        assert [f["feature_name"] for f in row["anomalous_features"]] == [
            c for c, _ in a.top_features]
    assert [r["anomaly_score"] for r in rows] == sorted(
        (a.peak_score for a in records), reverse=True)
    table = records.to_frame()
    assert len(table) == len(records) and set(table["anomaly_type"]) == {"row"}
    assert json.loads(records.to_json())[0]["metadata"]["raw_data"] == (
        records[0].metadata["raw_data"])


def test_detect_with_a_date_index(if_detector, frame):
    df = frame.set_index(pd.date_range("2024-03-01", periods=len(frame), freq="D"))
    records = if_detector.detect(df)
    label = pd.Timestamp("2024-03-06")  # the sixth row holds the 50 000
    assert label in [a.start for a in records]
    assert [a.start for a in records.filter(start=label, end="2024-03-06")] == [label]
    assert if_detector.detect_anomalies(df)[0]["row_index"] == "2024-03-06T00:00:00"
    assert if_detector.detect(df.iloc[:0]) == [] and isinstance(
        if_detector.detect(df.iloc[:0]), AnomalyList)


def test_a_row_without_blame_gets_equal_shares(if_raw, frame):
    det = copy.copy(if_raw)
    det.threshold_ = -np.inf  # every row is flagged
    median_row = frame.iloc[[0]].assign(amount=frame["amount"].median(),
                                        age=frame["age"].median())
    X = det.preprocessor_.transform(coerce_frame(median_row, det.column_types_))
    blame = det.preprocessor_.blame(X)[0]
    record = det.detect(median_row)[0]
    if blame.sum() == 0:
        assert {s for _, s in record.top_features} == {1 / len(det.column_types_)}
    else:
        assert sum(s for _, s in record.top_features) <= 1 + 1e-12
    assert record.severity == "critical" and record.metadata["score_ratio"] is None


def test_fit_detect_is_fit_then_detect(frame):
    det = TabularAnomalyDetector(**FOREST)
    records = det.fit_detect(frame)
    assert records == det.detect(frame) and len(records) == det.labels_.sum()
    again = TabularAnomalyDetector(**FOREST).fit(frame)
    assert again.model_id_ == det.model_id_ and again.detect(frame) == records


def test_model_id_changes_with_the_fitted_state(frame):
    a = TabularAnomalyDetector(**FOREST).fit(frame)
    b = TabularAnomalyDetector(**{**FOREST, "random_state": 1}).fit(frame)
    c = TabularAnomalyDetector(**{**FOREST, "threshold_percentile": 90}).fit(frame)
    assert len({a.model_id_, b.model_id_, c.model_id_}) == 3


def _as_old_layout(folder, fmt):
    """Turn a format-4 save of the autoencoder into what format 2 or 3 wrote:
    fixed file names, no ``files`` or ``state_digest`` field."""
    config = json.loads((folder / "detector.json").read_text())
    files = config.pop("files")
    del config["state_digest"]
    config["format"] = f"fusionlab.tabular.TabularAnomalyDetector/{fmt}"
    (folder / files["model"]).rename(folder / "autoencoder.keras")
    (folder / files["training_scores"]).rename(folder / "training_scores.npy")
    (folder / "detector.json").write_text(json.dumps(config))
    return config


def test_format_2_save_loads_without_training_scores(tmp_path, ae_raw, frame):
    # Format 2 pickled isolation forests (refused now): its autoencoder saves load.
    det = ae_raw
    det.save(tmp_path)
    config = _as_old_layout(tmp_path, 2)
    assert (tmp_path / "training_scores.npy").is_file()
    # What format 2 wrote: no training scores, no model id, no training
    # settings among the parameters.
    del config["model_id_"]
    for key in ("epochs", "batch_size", "validation_split"):
        del config["params"][key]
    (tmp_path / "detector.json").write_text(json.dumps(config))
    (tmp_path / "training_scores.npy").unlink()
    old = TabularAnomalyDetector.load(tmp_path)
    assert old.training_scores_ is None and old.labels_ is None
    assert old.model_id_ == det.model_id_  # recomputed from the fitted state
    np.testing.assert_array_equal(old.predict(frame), det.predict(frame))
    assert old.detect_anomalies(frame) == det.detect_anomalies(frame)
    # Severities are measured from 0 without the training scores.
    for a in old.detect(frame):
        assert a.metadata["score_ratio"] == pytest.approx(a.peak_score / old.threshold_)


def test_a_save_missing_its_training_scores_is_refused(tmp_path, ae_detector):
    # Format 3's fixed names (format 4's are in tests/test_tabular_trust.py).
    ae_detector.save(tmp_path)
    _as_old_layout(tmp_path, 3)
    assert TabularAnomalyDetector.load(tmp_path).model_id_ == ae_detector.model_id_
    (tmp_path / "training_scores.npy").unlink()
    with pytest.raises(ValueError, match="training_scores.npy is missing"):
        TabularAnomalyDetector.load(tmp_path)
    np.save(tmp_path / "training_scores.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="1-D float array"):
        TabularAnomalyDetector.load(tmp_path)


def test_isolation_forest_contract_does_not_import_keras():
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from fusionlab.tabular import TabularAnomalyDetector\n"
        "df = pd.DataFrame({'x': np.random.default_rng(0).normal(size=50)})\n"
        "det = TabularAnomalyDetector(method='isolation_forest', n_estimators=5,"
        " random_state=0)\n"
        "det.fit_detect(df).to_frame(); det.predict(df)\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


# -- bad input -----------------------------------------------------------------------
def test_empty_frame(if_detector):
    with pytest.raises(ValueError, match="empty"):
        TabularAnomalyDetector().train(pd.DataFrame())
    with pytest.raises(ValueError, match="empty"):
        TabularAnomalyDetector().train(pd.DataFrame({"a": []}))
    empty = if_detector.score(pd.DataFrame(columns=["amount"]))
    assert empty.empty and if_detector.detect_anomalies(pd.DataFrame()) == []


def test_single_row(if_detector, frame):
    with pytest.raises(ValueError, match="at least 10 rows.*received 1"):
        TabularAnomalyDetector().train(frame.iloc[:1])
    assert len(if_detector.score(frame.iloc[[5]])) == 1
    assert if_detector.detect_anomalies(frame.iloc[[5]])[0]["row_index"] == 5


def test_all_nan_and_constant_columns_are_excluded():
    df = make_frame(60).assign(blank=np.nan, same="x")
    det = TabularAnomalyDetector(method="isolation_forest", n_estimators=10,
                                 random_state=0).train(df)
    assert "blank" in det.excluded_columns_ and "same" in det.excluded_columns_
    only_bad = pd.DataFrame({"blank": [np.nan] * 20, "same": [1] * 20})
    with pytest.raises(ValueError, match="no usable column.*'blank': all values are missing"):
        TabularAnomalyDetector().train(only_bad)


def test_only_non_numeric_columns():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.choice(["x", "y"], 100), "b": rng.choice(["u", "v"], 100)})
    df["b"] = np.where(df["a"] == "x", "u", "v")
    df.loc[7, "b"] = "u" if df.loc[7, "a"] == "y" else "v"  # a broken pairing
    det = TabularAnomalyDetector(threshold_percentile=97, learning_rate=0.01,
                                 **SMALL).train(df, epochs=15)
    assert det.column_types_ == {"a": "categorical", "b": "categorical"}
    assert 7 in [a["row_index"] for a in det.detect_anomalies(df)]


def test_mixed_types_within_a_column(frame):
    df = frame.assign(amount=frame["amount"].astype(object))
    df.loc[10, "amount"] = "n/a"
    with pytest.warns(UserWarning, match=r"'amount': 1 value\(s\) not readable as numeric"):
        det = TabularAnomalyDetector(method="isolation_forest", n_estimators=10,
                                     random_state=0).train(df)
    assert det.column_types_["amount"] == "numeric"
    assert "mixed types" in det.column_notes_["amount"]


def test_huge_magnitudes_stay_finite(frame):
    df = frame.copy()
    df.loc[3, "amount"] = 1e300
    df.loc[4, "amount"] = -1e300
    det = TabularAnomalyDetector(**SMALL).train(df, **FAST)
    scores = det.score(df)
    assert np.isfinite(scores).all()
    assert set(scores.nlargest(3).index) >= {3, 4}


def test_duplicate_column_names(if_detector, frame):
    dup = pd.concat([frame[["amount"]], frame[["amount"]]], axis=1)
    with pytest.raises(ValueError, match=r"duplicated column names \['amount'\]"):
        TabularAnomalyDetector().train(dup)
    with pytest.raises(ValueError, match="duplicated"):
        if_detector.score(dup)
    clash = pd.DataFrame({1: range(20), "1": range(20)})
    with pytest.raises(ValueError, match=r"\['1'\]"):
        TabularAnomalyDetector().train(clash)


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="pandas DataFrame; received ndarray"):
        TabularAnomalyDetector().train(np.zeros((20, 2)))


def test_score_before_train(frame):
    det = TabularAnomalyDetector()
    for call in (det.score, det.detect_anomalies, det.predict):
        with pytest.raises(NotFittedError, match="not trained yet"):
            call(frame)
    with pytest.raises(NotFittedError):
        det.save("unused")


# -- files -----------------------------------------------------------------------------
def test_read_table_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"must end with one of.*'data.json'"):
        read_table(tmp_path / "data.json")
    with pytest.raises(ValueError, match="Legacy .xls"):
        read_table(tmp_path / "data.xls")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_table(tmp_path / "missing.xlsx")
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"this is not a workbook")
    with pytest.raises(ValueError, match="not a readable .xlsx"):
        read_table(corrupt)
    # Encrypted workbooks are OLE containers holding an "EncryptedPackage"
    # stream; this minimal stand-in has the same signature and stream name.
    encrypted = tmp_path / "locked.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56
                          + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 64)
    with pytest.raises(ValueError, match="password-protected"):
        read_table(encrypted)
    legacy = tmp_path / "old.xlsx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 120)
    with pytest.raises(ValueError, match="legacy binary"):
        read_table(legacy)
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        read_table(empty_csv)


def test_read_table_sheets(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": [1, 2]}).to_excel(writer, sheet_name="first", index=False)
        pd.DataFrame({"b": [3]}).to_excel(writer, sheet_name="second", index=False)
    assert read_table(path).columns.tolist() == ["a"]
    assert read_table(path, sheet_name="second").columns.tolist() == ["b"]
    with pytest.raises(ValueError, match="sheet_name='third'"):
        read_table(path, sheet_name="third")
    with pytest.raises(TypeError, match="sheet_name"):
        read_table(path, sheet_name=None)


def test_read_table_csv_missing_markers_and_separator(tmp_path):
    comma = tmp_path / "comma.csv"
    comma.write_text("country,qty,note\nNA,1,None\nDE,,x\nFR,3,NULL\n")
    df = read_table(comma)
    # "NA" is Namibia and "None" a text; pandas' defaults made them missing.
    assert df["country"].tolist() == ["NA", "DE", "FR"]
    assert df["note"].tolist()[:2] == ["None", "x"] and pd.isna(df["note"][2])
    assert df["qty"].isna().tolist() == [False, True, False]
    semi = tmp_path / "semi.csv"  # as Excel writes it where "," is the decimal mark
    semi.write_text("country;qty;note\nNA;1;a, b\nDE;2;#N/A\n")
    df = read_table(semi)
    assert df.columns.tolist() == ["country", "qty", "note"]
    assert df["country"].tolist() == ["NA", "DE"] and df["qty"].tolist() == [1, 2]
    assert df["note"][0] == "a, b" and pd.isna(df["note"][1])
    single = tmp_path / "single.csv"
    single.write_text("a\n1\n2\n")
    assert read_table(single).to_dict("list") == {"a": [1, 2]}


def test_missing_openpyxl_names_the_extra(monkeypatch, tmp_path):
    path = tmp_path / "book.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(path, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(ImportError, match=r'pip install "fusionlab-learn\[excel\]"'):
        read_table(path)


def test_detect_anomalies_in_excel_trains_saves_and_loads(tmp_path, frame):
    path = tmp_path / "orders.xlsx"
    frame.to_excel(path, index=False)
    model = tmp_path / "model"
    anomalies, det = detect_anomalies_in_excel(
        path, model_path=model, method="isolation_forest", random_state=0,
        n_estimators=30, threshold_percentile=98)
    assert (model / "detector.json").is_file() and det.n_estimators == 30
    assert anomalies[0]["row_index"] == 5
    with pytest.warns(UserWarning, match=r"ignored"):
        again, loaded = detect_anomalies_in_excel(path, model_path=model,
                                                  train_if_needed=False, epochs=9)
    assert again == anomalies and loaded is not det
    csv = tmp_path / "orders.csv"
    frame.to_csv(csv, index=False)
    from_csv, _ = detect_anomalies_in_excel(csv, model_path=model)
    assert [a["row_index"] for a in from_csv] == [a["row_index"] for a in anomalies]


def test_detect_anomalies_in_excel_errors(tmp_path, frame):
    with pytest.raises(FileNotFoundError, match="train_if_needed=False"):
        detect_anomalies_in_excel(frame, train_if_needed=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        detect_anomalies_in_excel(frame, model_path=tmp_path / "none",
                                  train_if_needed=False)
    with pytest.raises(TypeError, match="epoch"):
        detect_anomalies_in_excel(frame, epoch=3)
    with pytest.raises(TypeError, match="path"):
        detect_anomalies_in_excel(42)


def test_empty_model_directory_is_trained_into(tmp_path, frame):
    # An empty (or half-written) directory holds no detector: only
    # detector.json, written last by `save`, says that one was saved.
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no saved detector"):
        detect_anomalies_in_excel(frame, model_path=model, train_if_needed=False)
    anomalies, det = detect_anomalies_in_excel(frame, model_path=model, **FOREST)
    assert (model / "detector.json").is_file() and anomalies[0]["row_index"] == 5
    again, _ = detect_anomalies_in_excel(frame, model_path=model, train_if_needed=False)
    assert again == anomalies


def test_detect_anomalies_in_excel_keywords(frame):
    anomalies, det = detect_anomalies_in_excel(df=frame, **FOREST)
    assert anomalies[0]["row_index"] == 5
    old, _ = detect_anomalies_in_excel(df_or_path=frame, **FOREST)
    positional, _ = detect_anomalies_in_excel(frame, None, True, **FOREST)
    assert old == positional == anomalies
    with pytest.raises(TypeError, match="not both"):
        detect_anomalies_in_excel(frame, df_or_path=frame)
    with pytest.raises(TypeError, match="pass `df`"):
        detect_anomalies_in_excel(**FOREST)
    _, det = detect_anomalies_in_excel(df=frame, epochs=4, batch_size=16, **SMALL)
    assert det.get_params()["epochs"] == 4 and det.batch_size == 16
    assert len(det.history_["loss"]) == 4


def test_dataframe_input_with_autoencoder(frame):
    anomalies, det = detect_anomalies_in_excel(frame, threshold_percentile=98,
                                               **SMALL, **FAST)
    assert det.method_ == "autoencoder" and anomalies[0]["row_index"] == 5


def test_no_warning_on_clean_data(if_detector, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if_detector.detect_anomalies(frame)
