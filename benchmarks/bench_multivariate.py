"""Multivariate benchmark: fusionlab's detector against PCA, IsolationForest and ECOD on multi-sensor data.

Series (``--kinds``), each fitted on a clean period and scored on the next
(labels unused in fitting):

- ``correlation``, ``spike``, ``drift``, ``stuck``, ``level_shift`` --
  :func:`fusionlab.datasets.make_multisensor_series` (24 channels driven by
  three shared factors with daily and weekly cycles, 10-minute steps; two
  clean weeks to fit on, then two weeks holding three incidents of the kind);
  ``mixed`` -- one incident of every kind;
- ``server`` -- :func:`fusionlab.datasets.make_server_metrics`: a clean week
  to fit on, the next week with its three incidents.

Methods: the default ``AnomalyDetector()`` (``--params`` changes it) and, in
the same run, baselines on the standardised channels (scaler fitted on the
training period): PCA reconstruction error with the components that explain
90 % of the training variance, raw (``PCA``: the sum of squared residuals)
and standardised (``PCA-std``: each channel's residual over its training
residual standard deviation), scikit-learn's ``IsolationForest`` (200 trees)
and PyOD's ``ECOD`` (the ``bench`` extra).

Metrics per series: VUS-PR (at the window TSB-AD uses for multivariate
data: the period of the first channel), AUC-PR and AUC-ROC of the scores,
and the range-based F1 (Tatbul et al.) of the events: ``detect``'s for
fusionlab, the runs above the 95th percentile of the training scores for
the baselines. For the generated incidents, the explanation: the share of
each incident's channels among the channels with the largest contributions
over the incident (as many as it has), fusionlab's ``explain`` against
``PCA-std``'s per-channel residuals (level shifts, which move every
channel, are left out).

Usage::

    python benchmarks/bench_multivariate.py [--seeds 0 1 2] [--kinds mixed server]
        [--params '{"smoothing": null}'] [--out-dir benchmarks/results/multivariate]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_detectors import period  # noqa: E402

from fusionlab.datasets import (  # noqa: E402
    MULTISENSOR_INCIDENTS,
    make_multisensor_series,
    make_server_metrics,
)
from fusionlab.metrics import auc_pr, auc_roc, range_precision_recall, vus_pr  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KINDS = (*MULTISENSOR_INCIDENTS, "mixed", "server")
CLEAN = 2016
#: Incidents per generated series of one kind.
REPEATS = 3


def series(kind, seed):
    """``(train, test, incidents)``: frames of channels (timestamp index), and the incidents."""
    if kind == "server":
        train = make_server_metrics(incidents=(), random_state=10_000 + seed)
        step = train["timestamp"].iloc[1] - train["timestamp"].iloc[0]
        test = make_server_metrics(random_state=seed, start=train["timestamp"].iloc[-1] + step)
        incidents = []
        for name in dict.fromkeys(test["incident"]):
            if name != "none":
                where = np.flatnonzero(test["incident"].to_numpy() == name)
                incidents.append({"kind": name, "start": int(where[0]), "end": int(where[-1]),
                                  "channels": None})
        frames = (train, test)
    else:
        kinds = MULTISENSOR_INCIDENTS if kind == "mixed" else (kind,) * REPEATS
        whole = make_multisensor_series(incidents=kinds, clean_points=CLEAN, random_state=seed)
        incidents = [dict(i, start=i["start"] - CLEAN, end=i["end"] - CLEAN)
                     for i in whole.attrs["incidents"]]
        frames = (whole.iloc[:CLEAN], whole.iloc[CLEAN:].reset_index(drop=True))
    columns = [c for c in frames[0].columns if c not in ("timestamp", "label", "incident")]
    train, test = (f.set_index("timestamp")[columns] for f in frames)
    labels = frames[1]["label"].to_numpy()
    return train, test, labels, incidents


# ------------------------------------------------------------- baselines
def _pca(train, test, standardised):
    pca = PCA(n_components=0.9, svd_solver="full").fit(train)

    def residuals(x):
        return x - pca.inverse_transform(pca.transform(x))

    res = residuals(test)
    if standardised:
        spread = residuals(train).std(axis=0)
        res = res / np.where(spread > 0, spread, 1.0)
    return (res**2).sum(axis=1), res**2


def baselines(train, test, seed):
    """``{name: (test scores, train scores, per-channel test contributions or None)}``."""
    scaler = StandardScaler().fit(train)
    a, b = scaler.transform(train), scaler.transform(test)
    out = {}
    for name, standardised in (("PCA", False), ("PCA-std", True)):
        scores, parts = _pca(a, b, standardised)
        out[name] = (scores, _pca(a, a, standardised)[0], parts)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(a)
    out["IsolationForest"] = (-forest.score_samples(b), -forest.score_samples(a), None)
    try:
        from pyod.models.ecod import ECOD
    except ImportError as exc:  # the bench extra is missing
        print(f"  ECOD skipped: {exc}")
    else:
        ecod = ECOD().fit(a)
        out["ECOD"] = (ecod.decision_function(b), ecod.decision_scores_, None)
    return out


# --------------------------------------------------------------- metrics
def event_predictions(events, n):
    predictions = np.zeros(n, dtype=int)
    for event in events:
        predictions[event.start_index : event.end_index + 1] = 1
    return predictions


def explanation_accuracy(parts, incidents, names):
    """Mean share of each incident's channels among its top contributors (None if none apply)."""
    if parts is None:
        return None
    names = list(names)
    shares = []
    for incident in incidents:
        channels = incident["channels"]
        if channels is None or len(channels) == len(names):
            continue  # server incidents: no channel truth; level shifts: every channel
        total = np.asarray(parts[incident["start"] : incident["end"] + 1]).sum(axis=0)
        top = np.argsort(-total, kind="stable")[: len(channels)]
        shares.append(len({names[i] for i in top} & set(channels)) / len(channels))
    return float(np.mean(shares)) if shares else None


def row(kind, seed, method, labels, scores, predictions, window, seconds, explained):
    f1 = range_precision_recall(labels, predictions).f1 if predictions is not None else np.nan
    return {"kind": kind, "seed": seed, "method": method,
            "vus_pr": vus_pr(labels, scores, window=window), "auc_pr": auc_pr(labels, scores),
            "auc_roc": auc_roc(labels, scores), "range_f1": f1,
            "explanation": np.nan if explained is None else explained, "seconds": seconds}


def evaluate(kind, seed, params):
    from fusionlab.detection import AnomalyDetector

    train, test, labels, incidents = series(kind, seed)
    window = period(test.iloc[:, 0].to_numpy())
    rows = []
    start = time.perf_counter()
    detector = AnomalyDetector(random_state=seed, **params).fit(train)
    scores = np.asarray(detector.score_samples(test), dtype=float)
    events = detector.detect(test)
    seconds = time.perf_counter() - start
    explained = explanation_accuracy(detector.explain(test).to_numpy(), incidents, test.columns)
    rows.append(row(kind, seed, "fusionlab", labels, scores,
                    event_predictions(events, len(test)), window, seconds, explained))
    for name, (test_scores, train_scores, parts) in baselines(train.to_numpy(), test.to_numpy(),
                                                              seed).items():
        flags = test_scores > np.percentile(train_scores, 95)
        rows.append(row(kind, seed, name, labels, test_scores, flags.astype(int), window, np.nan,
                        explanation_accuracy(parts, incidents, test.columns)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--params", default="{}", help="AnomalyDetector parameters, as JSON")
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results" / "multivariate"))
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    rows = []
    for kind in args.kinds:
        for seed in args.seeds:
            for r in evaluate(kind, seed, params):
                rows.append(r)
                print(f"  {kind:<12} seed {seed} {r['method']:<16} VUS-PR {r['vus_pr']:.3f} "
                      f"AUC-PR {r['auc_pr']:.3f} AUC-ROC {r['auc_roc']:.3f} range-F1 "
                      f"{r['range_f1']:.3f} explanation {r['explanation']:.2f}", flush=True)
    results = pd.DataFrame(rows)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "multivariate_per_series.csv", index=False)
    metrics = ["vus_pr", "auc_pr", "auc_roc", "range_f1", "explanation"]
    summary = results.groupby("method")[metrics + ["seconds"]].mean().sort_values(
        "vus_pr", ascending=False)
    summary.to_csv(out / "multivariate_summary.csv")
    print("\nMean over every series (sorted by VUS-PR):")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    for metric in ("vus_pr", "auc_pr"):
        table = results.pivot_table(index="kind", columns="method", values=metric, aggfunc="mean")
        print(f"\n{metric} per kind (mean over seeds):")
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\nWrote {out}/multivariate_per_series.csv, multivariate_summary.csv")


if __name__ == "__main__":
    main()
