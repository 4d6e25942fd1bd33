"""Benchmark of fusionlab.tabular on generated order sheets with planted anomalies.

For each size, a sheet is generated (numbers, categories, a boolean, a date,
missing values, an id column) and ``k = max(6, n // 500)`` rows are corrupted,
in turn with an absurd amount, an impossible age or a currency that does not
match the country. Each method is fitted on the sheet and scores it; the
table gives recall@k (share of planted rows among the k highest scores), the
share of found planted rows whose top blamed column is the corrupted one, and
seconds (fit + score). Baselines measured in the same run: the isolation
forest, and the sum of absolute robust z-scores of the numeric columns.

Usage::

    python benchmarks/bench_tabular.py                 # 1k, 10k, 100k rows
    python benchmarks/bench_tabular.py 1000 5000       # other sizes
    FUSIONLAB_BENCH_SIZES=1000,2000 FUSIONLAB_BENCH_EPOCHS=10 python benchmarks/bench_tabular.py
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

from fusionlab.tabular import TabularAnomalyDetector

CURRENCY = {"DE": "EUR", "FR": "EUR", "US": "USD", "JP": "JPY", "GB": "GBP"}


def make_sheet(n, seed=0):
    """Return ``(sheet, planted)`` with ``planted = {row: corrupted column}``."""
    rng = np.random.default_rng(seed)
    country = rng.choice(list(CURRENCY), size=n, p=[0.3, 0.2, 0.3, 0.1, 0.1])
    sheet = pd.DataFrame({
        "order_id": np.arange(n),
        "customer_age": rng.integers(18, 80, size=n).astype(float),
        "country": country,
        "currency": pd.Series(country).map(CURRENCY).to_numpy(),
        "amount": np.round(rng.lognormal(4.0, 0.5, size=n), 2),
        "items": rng.integers(1, 6, size=n),
        "payment": rng.choice(["card", "transfer", "paypal"], size=n),
        "express": rng.random(n) < 0.2,
        "ordered": pd.Timestamp("2024-01-01")
        + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, size=n), unit="min"),
    })
    sheet["amount"] += sheet["items"] * 15.0  # a relation to learn
    sheet.loc[rng.choice(n, size=n // 25, replace=False), "customer_age"] = np.nan
    sheet.loc[rng.choice(n, size=n // 30, replace=False), "payment"] = None
    k = max(6, n // 500)
    rows = rng.choice(n, size=k, replace=False)
    planted = {}
    for i, row in enumerate(rows):
        kind = i % 3
        if kind == 0:
            sheet.loc[row, "amount"] = float(rng.choice([-1, 1]) * rng.uniform(5e3, 5e5))
            planted[int(row)] = "amount"
        elif kind == 1:
            sheet.loc[row, "customer_age"] = float(rng.choice([rng.uniform(130, 400),
                                                               rng.uniform(-90, -20)]))
            planted[int(row)] = "customer_age"
        else:
            true = sheet.loc[row, "country"]
            wrong = [c for c in sorted(set(CURRENCY.values())) if c != CURRENCY[true]]
            sheet.loc[row, "currency"] = rng.choice(wrong)
            planted[int(row)] = "currency"
    return sheet, planted


def recall_at_k(scores, planted):
    k = len(planted)
    top = set(np.argsort(-np.asarray(scores), kind="stable")[:k].tolist())
    return len(top & set(planted)) / k


def blame_accuracy(detector, sheet, planted):
    found = {a["row_index"]: a for a in detector.detect_anomalies(sheet)}
    hits = [found[r]["anomalous_features"][0]["feature_name"] in
            ({"country", "currency"} if col == "currency" else {col})
            for r, col in planted.items() if r in found]
    return (np.mean(hits) if hits else float("nan")), len(hits)


def robust_z_baseline(sheet):
    numeric = sheet[["customer_age", "amount", "items"]]
    median = numeric.median()
    iqr = (numeric.quantile(0.75) - numeric.quantile(0.25)).replace(0, 1)
    return ((numeric - median).abs() / iqr).fillna(0).sum(axis=1).to_numpy()


def main(argv):
    sizes = [int(s) for s in (argv or os.environ.get(
        "FUSIONLAB_BENCH_SIZES", "1000,10000,100000").split(","))]
    epochs = int(os.environ.get("FUSIONLAB_BENCH_EPOCHS", "30"))
    print(f"autoencoder: epochs={epochs}, batch_size=clip(n/100, 64, 512); "
          "isolation forest: 200 trees; threshold percentile 99")
    header = (f"{'rows':>7} {'k':>4} {'method':<17} {'recall@k':>8} "
              f"{'blame ok':>9} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    summary = []
    for n in sizes:
        sheet, planted = make_sheet(n)
        batch = int(np.clip(n // 100, 64, 512))
        results = {}
        for method in ("autoencoder", "isolation_forest"):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det = TabularAnomalyDetector(method=method, random_state=0,
                                             threshold_percentile=99)
                det.train(sheet, epochs=epochs, batch_size=batch)
                scores = det.score(sheet).to_numpy()
            seconds = time.perf_counter() - start
            blame, n_found = blame_accuracy(det, sheet, planted)
            results[method] = (recall_at_k(scores, planted), seconds)
            print(f"{n:>7} {len(planted):>4} {method:<17} {results[method][0]:>8.2f} "
                  f"{blame:>6.2f}/{n_found:<2} {seconds:>8.1f}")
        start = time.perf_counter()
        base = robust_z_baseline(sheet)
        seconds = time.perf_counter() - start
        print(f"{n:>7} {len(planted):>4} {'numeric robust z':<17} "
              f"{recall_at_k(base, planted):>8.2f} {'-':>9} {seconds:>8.2f}")
        ae, forest = results["autoencoder"], results["isolation_forest"]
        summary.append((n, ae[0] - forest[0], ae[1] / forest[1]))
    print()
    print("autoencoder vs isolation forest:")
    for n, gain, ratio in summary:
        print(f"  {n:>7} rows: recall@k {gain:+.2f}, time x{ratio:.1f}")
    print("blame ok: share of planted rows found above the threshold whose top "
          "blamed column is the corrupted one (country or currency for a "
          "mismatched pair) / how many were found.")


if __name__ == "__main__":
    main(sys.argv[1:])
