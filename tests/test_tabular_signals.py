"""Issue 20: rows a person would flag, blamed on the right column.

Sanity signals (fusionlab.tabular.signals), their calibration into nats, the
blame that compares each column with its own training errors, the fixed
default seed, and the saves of format 5 (format 4 still loads).
"""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from fusionlab.tabular import TabularAnomalyDetector, detect_anomalies_in_excel
from fusionlab.tabular.column_typing import coerce_frame, infer_column_types
from fusionlab.tabular.detector import DEFAULT_RANDOM_STATE
from fusionlab.tabular.signals import FLOOR, SanitySignals, Tail

FOREST = {"method": "isolation_forest", "n_estimators": 30}
TINY_AE = {"encoding_dim": 4, "hidden_units": (16,), "epochs": 15, "batch_size": 64}


def make_orders(n=1500, seed=0):
    """Orders as in the issue: amount, age, status, country, items, plus a
    price x quantity = total relation and a currency that follows the country."""
    rng = np.random.default_rng(seed)
    country = rng.choice(["DE", "FR", "US", "JP"], n, p=[0.3, 0.25, 0.3, 0.15])
    price = np.round(np.exp(rng.normal(3.0, 0.5, n)), 2)
    items = rng.integers(1, 6, n).astype(float)
    return pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "status": rng.choice(["paid", "shipped", "refunded"], n, p=[0.6, 0.3, 0.1]),
        "country": country,
        "currency": pd.Series(country).map(
            {"DE": "EUR", "FR": "EUR", "US": "USD", "JP": "JPY"}).to_numpy(),
        "price": price,
        "items": items,
        "total": np.round(price * items, 2),
    })


@pytest.fixture(scope="module")
def orders():
    df = make_orders()
    df.loc[10, "age"] = -5.0                      # impossible sign
    df.loc[20, "total"] = df.loc[20, "total"] * 3  # broken relation
    df.loc[30, ["country", "currency"]] = ["JP", "EUR"]  # pair that never goes together
    df.loc[40, "country"] = "XX"                  # a category seen nowhere else
    return df


PLANTED = {10: {"age"}, 20: {"total", "price", "items"}, 30: {"country", "currency"},
           40: {"country"}}


def _frame(df):
    types, _, _ = infer_column_types(df)
    return types, coerce_frame(df, types, warn=False)


# -- the signals ----------------------------------------------------------------
def test_tail_surprise_grows_beyond_the_training_range():
    v = np.random.default_rng(0).normal(size=5000)
    tail = Tail(0.01).fit(v)
    s = tail.surprise(np.array([0.0, 2.0, 4.0, 8.0, 16.0, np.nan, 1e308]))
    assert s[0] < 1.0 and s[5] == 0.0 and np.isfinite(s).all()
    assert np.all(np.diff(s[:5]) > 0)
    # about 1 % of training values beyond the 99 % quantile: ~4.6 nats there
    assert tail.surprise(np.quantile(v, [0.99]))[0] == pytest.approx(np.log(100), abs=0.2)
    # beyond it, a value twice as far out is at least ~twice as surprising
    assert s[4] - s[3] > 0.8 * (s[3] - s[2])


def test_each_signal_finds_its_kind(orders):
    types, frame = _frame(orders)
    sig = SanitySignals(types).fit(frame)
    S = sig.transform(frame)
    names = sig.signal_names_
    col = sig.column_surprise(S)
    columns = sig.columns_
    assert S.shape == (len(orders), len(names)) and (S >= 0).all()
    age = columns.index("age")
    assert S[10, names.index("age:sign")] > np.log(len(orders) / 2)
    assert S[10, names.index("age:range")] > 10
    assert max(S[20, names.index(f"{c}:relation")] for c in ("total", "price")) > 20
    assert S[30, names.index("country|currency:pair")] > 8
    assert S[40, names.index("country:rarity")] == pytest.approx(np.log(len(orders) + 1))
    # A legitimate category held by a tenth of the rows is no anomaly: its
    # surprise stays below that of an impossible age by far.
    refunded = np.flatnonzero(orders["status"] == "refunded")
    assert col[refunded, columns.index("status")].max() < 3.0
    assert col[10, age] > 4 * col[refunded, columns.index("status")].max()
    assert sig.row_evidence(S)[refunded, columns.index("status")].max() < 1.0
    # each planted row is among the highest scores, blamed on its column(s)
    score = sig.row_score(S)
    top = set(np.argsort(-score)[:len(PLANTED)].tolist())
    assert top == set(PLANTED)
    evidence = sig.row_evidence(S)
    for row, expected in PLANTED.items():
        assert columns[int(np.argmax(evidence[row]))] in expected


def test_ordinary_rows_get_little_evidence(orders):
    clean = make_orders(seed=3)
    types, frame = _frame(clean)
    sig = SanitySignals(types).fit(frame)
    score = sig.row_score(sig.transform(frame))
    assert np.median(score) == 0.0
    assert np.quantile(score, 0.95) < 6.0


def test_relation_is_found_on_the_log_scale_and_groups_its_columns(orders):
    types, frame = _frame(orders)
    sig = SanitySignals(types).fit(frame)
    relations = {sig.dense_columns_[j]: (lg, r2) for j, lg, r2 in zip(
        sig.relation_targets_, sig.relation_log_, sig.relation_r2_, strict=True)}
    assert relations["total"][0] and relations["total"][1] > 0.99
    assert "age" not in relations  # nothing explains an age
    group = dict(zip(sig.columns_, sig.group_, strict=True))
    assert group["price"] == group["items"] == group["total"] != group["age"]


def test_a_price_that_is_merely_large_is_not_a_broken_relation():
    df = make_orders(2000, seed=1)
    big = df["price"].idxmax()
    types, frame = _frame(df)
    sig = SanitySignals(types).fit(frame)
    S = sig.transform(frame)
    assert S[big, sig.signal_names_.index("total:relation")] < 6.0


def test_signals_round_trip_through_json(orders):
    types, frame = _frame(orders)
    sig = SanitySignals(types).fit(frame)
    again = SanitySignals.from_dict(json.loads(json.dumps(sig.to_dict())), source="f.json")
    np.testing.assert_array_equal(again.transform(frame), sig.transform(frame))
    assert again.signal_names_ == sig.signal_names_


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(n_samples=-1), "signals.n_samples"),
    (lambda d: d["scale"].__setitem__(0, 0.0), "signals.scale"),
    (lambda d: d["relations"][0].update(coef=[1.0]), "signals.relations[0].coef"),
    (lambda d: d["relations"][0].update(target=99), "signals.relations[0].target"),
    (lambda d: d["range"]["upper"].update(beta=[float("nan")] * 4), "signals.range.upper.beta"),
    (lambda d: d.update(pairs=[[2, 1]]), "signals.pairs"),
    (lambda d: d.update(group=[0]), "signals.group"),
    (lambda d: d.pop("counts"), "signals.counts"),
])
def test_tampered_signals_are_refused_naming_the_field(orders, edit, field):
    types, frame = _frame(orders)
    params = SanitySignals(types).fit(frame).to_dict()
    edit(params)
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        SanitySignals.from_dict(params, source="f.json")


def test_signals_of_a_table_without_numbers_or_categories():
    df = pd.DataFrame({"x": np.arange(50.0) % 7, "y": np.arange(50.0) % 5})
    sig = SanitySignals({"x": "numeric", "y": "numeric"}).fit(df)
    assert sig.transform(df).shape[0] == 50
    only_cats = pd.DataFrame({"c": ["a", "b"] * 25})
    sig = SanitySignals({"c": "categorical"}).fit(only_cats)
    assert sig.transform(only_cats).shape == (50, 1)
    again = SanitySignals.from_dict(json.loads(json.dumps(sig.to_dict())))
    np.testing.assert_array_equal(again.transform(only_cats), sig.transform(only_cats))


# -- the detector ----------------------------------------------------------------
@pytest.mark.parametrize("params", [FOREST, TINY_AE], ids=["forest", "autoencoder"])
def test_the_planted_rows_come_first_and_are_blamed_right(orders, params):
    det = TabularAnomalyDetector(**params).fit(orders)
    rows = det.detect_anomalies(orders)
    top = [r["row_index"] for r in rows[:len(PLANTED)]]
    assert set(top) == set(PLANTED)
    for r in rows[:len(PLANTED)]:
        assert r["anomalous_features"][0]["feature_name"] in PLANTED[r["row_index"]]
    # The impossible age ranks above every row whose only oddity is the
    # status held by a tenth of the rows.
    scores = det.score_samples(orders)
    refunded = (orders["status"] == "refunded").to_numpy().copy()
    refunded[list(PLANTED)] = False
    assert scores[10] > scores[refunded].max()


def test_blames_are_evidence_in_nats(orders):
    det = TabularAnomalyDetector(**FOREST).fit(orders)
    record = {a.start: a for a in det.detect(orders)}[10]
    blame = {f["feature_name"]: f["reconstruction_error"]
             for f in record.metadata["anomalous_features"]}
    assert blame["age"] > 10  # far beyond FLOOR: many nats of evidence
    assert sum(s for _, s in record.top_features) <= 1 + 1e-12
    assert record.top_features[0][0] == "age" and record.top_features[0][1] > 0.5
    assert FLOOR > 0


def test_default_seed_makes_two_one_call_runs_identical(orders):
    assert TabularAnomalyDetector().random_state == DEFAULT_RANDOM_STATE == 0
    first, a = detect_anomalies_in_excel(orders, **FOREST)
    second, b = detect_anomalies_in_excel(orders, **FOREST)
    assert first == second and a.model_id_ == b.model_id_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, _ = detect_anomalies_in_excel(orders, **TINY_AE)
        second, _ = detect_anomalies_in_excel(orders, **TINY_AE)
    assert [r["row_index"] for r in first] == [r["row_index"] for r in second]
    # the seed can be overridden
    other = TabularAnomalyDetector(**FOREST, random_state=5).fit(orders)
    assert other.model_id_ != a.model_id_


def test_sanity_checks_must_be_a_boolean(orders):
    with pytest.raises(TypeError, match="sanity_checks"):
        TabularAnomalyDetector(**FOREST, sanity_checks="yes").fit(orders)


@pytest.mark.parametrize("params", [FOREST, TINY_AE], ids=["forest", "autoencoder"])
def test_format_5_save_scores_identically(tmp_path, orders, params):
    det = TabularAnomalyDetector(**params).fit(orders)
    det.save(tmp_path)
    config = json.loads((tmp_path / "detector.json").read_text())
    assert config["format"].endswith("/5") and config["signals_"] is not None
    loaded = TabularAnomalyDetector.load(tmp_path)
    np.testing.assert_array_equal(loaded.score_samples(orders), det.score_samples(orders))
    assert loaded.detect_anomalies(orders) == det.detect_anomalies(orders)
    assert loaded.model_id_ == det.model_id_ and loaded.sanity_checks


def test_a_format_4_save_still_loads_and_scores_as_it_did(tmp_path, orders):
    det = TabularAnomalyDetector(**FOREST, sanity_checks=False).fit(orders)
    det.save(tmp_path)
    config = json.loads((tmp_path / "detector.json").read_text())
    # what format 4 wrote: no signals, no tails, no sanity_checks parameter
    config["format"] = "fusionlab.tabular.TabularAnomalyDetector/4"
    for key in ("signals_", "score_tail_", "column_tail_"):
        del config[key]
    del config["params"]["sanity_checks"]
    (tmp_path / "detector.json").write_text(json.dumps(config))
    old = TabularAnomalyDetector.load(tmp_path)
    assert old.sanity_checks is False and old.signals_ is None
    np.testing.assert_array_equal(old.score_samples(orders), det.score_samples(orders))
    assert old.detect_anomalies(orders) == det.detect_anomalies(orders)


@pytest.mark.parametrize("edit, field", [
    (lambda c: c.update(signals_=None), "signals_"),
    (lambda c: c["signals_"].update(n_samples="many"), "signals_.n_samples"),
    (lambda c: c["score_tail_"].update(tail=[0.9]), "score_tail_.tail"),
    (lambda c: c.update(column_tail_={"grid": []}), "column_tail_"),
])
def test_a_tampered_calibration_is_refused_naming_the_field(tmp_path, orders, edit, field):
    det = TabularAnomalyDetector(**FOREST).fit(orders)
    det.save(tmp_path)
    path = tmp_path / "detector.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=field):
        TabularAnomalyDetector.load(tmp_path)
