"""Benchmark of fusionlab.tabular on generated order sheets with planted rows.

Each sheet holds orders: an id, the customer's age, country and currency (the
currency follows the country), a status (one value in about a tenth of the
rows), a channel, a unit price, a quantity, the total (price times
quantity), a weight (that grows with the quantity), a rating, an express
flag, the order and delivery dates (delivery a few days after the order),
and missing values. ``k`` rows are then planted, the same number of each
kind:

``extreme``
    a number 30 to 3000 times its column's median, or its negative;
``sign``
    an impossible sign: a column that is never negative made negative, at
    its usual magnitude (an age of -45);
``combination``
    a rare combination of two common categories (a currency that does not
    match the country);
``relation``
    a broken relation between columns that always agreed: a total that is
    not price times quantity, or a delivery before its order, every value
    staying within its column's usual range;
``unseen``
    a category seen nowhere else (a country or status that exists once);
``small``
    many small deviations: four numeric columns each moved 2 to 2.5
    inter-quartile ranges away from the median, in the direction of the
    column's longer tail, staying inside the usual range.

Every method is fitted on the sheet and scores it (what
``detect_anomalies_in_excel(df)`` does). For each method and kind the table
gives the share of that kind's planted rows among the ``k`` highest scores
(recall of the kind at ``k``; over all kinds it is precision@k), the
average precision (AUC-PR) of the scores against the planted rows, the share
of the found rows (among the ``k`` highest) whose most blamed column is a
corrupted one (``blame``: for a broken relation or a rare combination, any
column of the pair or relation), and the seconds of fit + ``detect_anomalies`` (what ``detect_anomalies_in_excel(df)``
does; PyOD: fit, whose scores are those of the training rows). The
autoencoder method is run up to 10 000 rows (``--autoencoder-max-rows``).

Methods: fusionlab's default (``TabularAnomalyDetector()``, every parameter
at its default), ``method="isolation_forest"`` and
``method="autoencoder"`` when it is not the default, and, on the same
encoded data (:class:`~fusionlab.tabular.TabularPreprocessor`: robust-scaled
numbers and dates, one-hot categories; the benchmark-only ``bench`` extra
installs PyOD), PyOD's ``IForest``, ``ECOD`` and ``COPOD`` (blame: for ECOD
and COPOD the column whose encoded features have the largest per-dimension
outlier score; none for IForest).

The sheets of the table are generated with ``seed=0`` and the ``"bench"``
proportions; the defaults were chosen on sheets of ``seed=1`` and the
``"tune"`` proportions (other category shares, missing rates, skews and
number of planted rows; ``--profile tune --seed 1``).

Usage::

    pip install -e ".[bench]"
    python benchmarks/bench_tabular.py                          # 1k, 10k, 100k
    python benchmarks/bench_tabular.py 1000 10000 --profile tune --seed 1
    python benchmarks/bench_tabular.py 10000 --methods default,ecod
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from fusionlab.tabular import TabularAnomalyDetector, TabularPreprocessor
from fusionlab.tabular.column_typing import coerce_frame, infer_column_types

KINDS = ("extreme", "sign", "combination", "relation", "unseen", "small")
CURRENCY = {"DE": "EUR", "FR": "EUR", "IT": "EUR", "US": "USD", "GB": "GBP",
            "JP": "JPY"}
PROFILES = {
    # country shares (DE, FR, IT, US, GB, JP), status shares (paid, shipped,
    # refunded), channel shares, missing rates, price log-sd, planted share
    "bench": {"country": [0.25, 0.15, 0.10, 0.25, 0.15, 0.10],
              "status": [0.6, 0.3, 0.1], "channel": [0.5, 0.3, 0.2],
              "missing_age": 0.04, "missing_channel": 0.03, "price_sd": 0.6,
              "planted_per_row": 1 / 250, "express": 0.2},
    "tune": {"country": [0.3, 0.2, 0.05, 0.2, 0.1, 0.15],
             "status": [0.7, 0.2, 0.1], "channel": [0.6, 0.25, 0.15],
             "missing_age": 0.08, "missing_channel": 0.01, "price_sd": 0.8,
             "planted_per_row": 1 / 400, "express": 0.35},
}


def make_sheet(n, seed=0, profile="bench"):
    """Return ``(sheet, planted)``: ``planted = {row: (kind, blamable columns)}``."""
    p = PROFILES[profile]
    rng = np.random.default_rng(seed)
    country = rng.choice(list(CURRENCY), size=n, p=p["country"])
    price = np.round(np.exp(rng.normal(3.0, p["price_sd"], n)), 2)
    quantity = rng.poisson(1.5, n) + 1
    ordered = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 24 * 60, size=n), unit="min")
    sheet = pd.DataFrame({
        "order_id": [f"ORD-{i:07d}" for i in range(n)],
        "age": np.clip(np.round(rng.normal(42, 13, n)), 18, 90),
        "country": country,
        "currency": pd.Series(country).map(CURRENCY).to_numpy(),
        "status": rng.choice(["paid", "shipped", "refunded"], size=n, p=p["status"]),
        "channel": rng.choice(["web", "store", "phone"], size=n, p=p["channel"]),
        "price": price,
        "quantity": quantity.astype(float),
        "total": np.round(price * quantity, 2),
        "weight_kg": np.round(quantity * rng.gamma(4.0, 0.5, n), 2),
        "rating": rng.choice([1, 2, 3, 4, 5], size=n, p=[0.05, 0.1, 0.2, 0.35, 0.3]),
        "express": rng.random(n) < p["express"],
        "ordered": ordered,
        "delivered": ordered + pd.to_timedelta(rng.integers(1, 8, n), unit="D"),
    })
    sheet.loc[rng.random(n) < p["missing_age"], "age"] = np.nan
    sheet.loc[rng.random(n) < p["missing_channel"], "channel"] = None

    per_kind = max(2, round(n * p["planted_per_row"] / len(KINDS)))
    rows = rng.choice(n, size=per_kind * len(KINDS), replace=False)
    planted = {}
    numbers = ["age", "price", "quantity", "total", "weight_kg"]
    for i, row in enumerate(rows):
        kind = KINDS[i % len(KINDS)]
        row = int(row)
        if kind == "extreme":
            col = numbers[(i // len(KINDS)) % len(numbers)]
            median = float(sheet[col].median())
            sign = rng.choice([-1.0, 1.0], p=[0.25, 0.75])
            sheet.loc[row, col] = round(sign * median * rng.uniform(30, 3000), 2)
            planted[row] = (kind, {col})
        elif kind == "sign":
            col = numbers[(i // len(KINDS)) % len(numbers)]
            value = sheet.loc[row, col]
            if pd.isna(value):
                value = sheet[col].median()
            sheet.loc[row, col] = -float(value)
            planted[row] = (kind, {col})
        elif kind == "combination":
            true = sheet.loc[row, "country"]
            wrong = sorted({c for c in CURRENCY.values() if c != CURRENCY[true]})
            sheet.loc[row, "currency"] = rng.choice(wrong)
            planted[row] = (kind, {"country", "currency"})
        elif kind == "relation":
            if (i // len(KINDS)) % 2 == 0:
                # total within its usual range, but not price x quantity
                q = sheet.loc[row, "quantity"]
                factor = rng.choice([0.5, 2.0, 3.0]) if q > 1 else rng.choice([2.0, 3.0])
                sheet.loc[row, "total"] = round(sheet.loc[row, "price"] * q * factor, 2)
                planted[row] = (kind, {"total", "price", "quantity"})
            else:
                sheet.loc[row, "delivered"] = sheet.loc[row, "ordered"] - pd.Timedelta(
                    days=int(rng.integers(1, 8)))
                planted[row] = (kind, {"ordered", "delivered"})
        elif kind == "unseen":
            col = ["country", "status", "channel"][(i // len(KINDS)) % 3]
            sheet.loc[row, col] = f"{col}-{row}"  # a value no other row holds
            planted[row] = (kind, {col})
        else:  # small
            for col in ("age", "price", "weight_kg", "rating"):
                values = sheet[col].astype(float)
                q25, q50, q75 = values.quantile([0.25, 0.5, 0.75])
                up = (values.max() - q50) >= (q50 - values.min())
                step = rng.uniform(2.0, 2.5) * (q75 - q25)
                moved = q50 + step if up else q50 - step
                moved = float(np.clip(moved, values.quantile(0.01),
                                      values.quantile(0.99)))
                if col in ("age", "rating"):
                    moved = float(np.round(moved))
                sheet.loc[row, col] = moved
            sheet["rating"] = sheet["rating"].astype(int)
            # the total still price x quantity: only the four columns are odd
            sheet.loc[row, "total"] = round(sheet.loc[row, "price"]
                                            * sheet.loc[row, "quantity"], 2)
            planted[row] = (kind, {"age", "price", "weight_kg", "rating"})
    return sheet, planted


# -- baselines -----------------------------------------------------------------
def encoded(sheet):
    """The sheet as TabularPreprocessor encodes it, with each feature's column."""
    types, _, _ = infer_column_types(sheet)
    frame = coerce_frame(sheet, types, warn=False)
    pre = TabularPreprocessor(types).fit(frame)
    return pre.transform(frame), pre.feature_sources_


def pyod_method(name):
    def run(sheet, seed):
        from pyod.models.copod import COPOD
        from pyod.models.ecod import ECOD
        from pyod.models.iforest import IForest

        X, sources = encoded(sheet)
        model = {"pyod IForest": lambda: IForest(random_state=seed),
                 "pyod ECOD": ECOD, "pyod COPOD": COPOD}[name]()
        model.fit(X)
        scores = model.decision_scores_
        per_dim = getattr(model, "O", None)
        blame = None
        if per_dim is not None and np.shape(per_dim) == X.shape:
            columns = sorted(set(sources), key=sources.index)
            member = np.array([[s == c for c in columns] for s in sources], dtype=float)
            summed = np.asarray(per_dim) @ member
            blame = [columns[j] for j in np.argmax(summed, axis=1)]
        return scores, blame
    return run


def fusionlab_method(params):
    def run(sheet, seed):
        # What detect_anomalies_in_excel(df) does: fit, then list the rows.
        det = TabularAnomalyDetector(**params).fit(sheet)
        det.detect_anomalies(sheet)
        scores = det.training_scores_  # = det.score_samples(sheet)

        def blame():
            return {a.start_index: a.top_features[0][0] for a in _all_rows(det, sheet)}
        return scores, blame
    return run


def _all_rows(det, sheet):
    # The blame of every row, not only those above the threshold: the
    # benchmark ranks rows by score and looks at the k highest.
    threshold = det.threshold_
    try:
        det.threshold_ = -np.inf
        return det.detect(sheet)
    finally:
        det.threshold_ = threshold


METHODS = {
    "default": fusionlab_method({}),
    "isolation_forest": fusionlab_method({"method": "isolation_forest"}),
    "autoencoder": fusionlab_method({"method": "autoencoder"}),
    "ecod": pyod_method("pyod ECOD"),
    "copod": pyod_method("pyod COPOD"),
    "iforest": pyod_method("pyod IForest"),
}
LABELS = {"default": "fusionlab default", "isolation_forest": "fl isolation_forest",
          "autoencoder": "fl autoencoder", "ecod": "pyod ECOD", "copod": "pyod COPOD",
          "iforest": "pyod IForest"}


def evaluate(scores, blame, planted):
    """Per kind and overall: (found at k, kind rows, blame right, blamed, AUC-PR)."""
    scores = np.asarray(scores, dtype="float64")
    k = len(planted)
    top = np.argsort(-scores, kind="stable")[:k]
    top_set = set(top.tolist())
    labels = np.zeros(len(scores))
    labels[list(planted)] = 1
    out = {}
    for kind in (*KINDS, "all"):
        rows = [r for r, (kd, _) in planted.items() if kind in ("all", kd)]
        found = [r for r in rows if r in top_set]
        right = None
        if blame is not None:
            right = sum(blame[r] in planted[r][1] for r in found)
        if kind == "all":
            ap = average_precision_score(labels, scores)
        else:
            # AUC-PR of this kind against the normal rows (other kinds left out)
            keep = np.ones(len(scores), dtype=bool)
            keep[[r for r in planted if planted[r][0] != kind]] = False
            ap = average_precision_score(labels[keep], scores[keep])
        out[kind] = (len(found), len(rows), right, ap)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="bench", choices=sorted(PROFILES))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--autoencoder-max-rows", type=int, default=10_000,
                        help="largest sheet the autoencoder method is run on (it "
                        "takes minutes beyond)")
    args = parser.parse_args(argv)
    sizes = args.sizes or [int(s) for s in os.environ.get(
        "FUSIONLAB_BENCH_SIZES", "1000,10000,100000").split(",")]
    methods = args.methods.split(",")
    default_method = TabularAnomalyDetector().method
    if default_method in methods and "default" in methods:
        methods.remove(default_method)  # the same run as "default"
    print(f"profile={args.profile} seed={args.seed}; default method: "
          f"{default_method!r}; load average at start: {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    head = f"{'rows':>7} {'method':<20} " + " ".join(f"{k:>13}" for k in KINDS)
    head += f" {'p@k':>5} {'AUC-PR':>6} {'blame':>10} {'s':>6}"
    print("cells: found/planted at k, blame right/found, AUC-PR of the kind")
    print(head)
    print("-" * len(head))
    for n in sizes:
        sheet, planted = make_sheet(n, seed=args.seed, profile=args.profile)
        for name in methods:
            method = TabularAnomalyDetector().method if name == "default" else name
            if method == "autoencoder" and n > args.autoencoder_max_rows:
                continue
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores, blame = METHODS[name](sheet, args.seed)
                seconds = time.perf_counter() - start
                if callable(blame):  # the blame of every row, outside the timing
                    blame = blame()
            res = evaluate(scores, blame, planted)
            cells = []
            for kind in KINDS:
                f, t, right, ap = res[kind]
                b = "-" if right is None else f"{right}"
                cells.append(f"{f}/{t} {b:>2} {ap:.2f}")
            f, t, right, ap = res["all"]
            b = "-" if right is None else f"{right}/{f} {right / max(f, 1):.2f}"
            print(f"{n:>7} {LABELS[name]:<20} " + " ".join(f"{c:>13}" for c in cells)
                  + f" {f / t:>5.2f} {ap:>6.3f} {b:>10} {seconds:>6.1f}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
