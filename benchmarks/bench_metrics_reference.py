"""Compare fusionlab.metrics with the TSB-AD reference implementation.

Checks VUS-ROC, VUS-PR, range-based F1 (alpha=0.2, flat bias), point-adjusted
F1 and event-based F1 against TSB-AD's ``basic_metrics`` on random cases, then
times VUS on growing series (the reference, measured in the same run, is the
baseline).

TSB-AD is not a dependency of fusionlab. Install it without its (heavy)
dependencies where Python can find it, e.g.::

    pip install --no-deps --target /tmp/tsbad_ref TSB-AD
    PYTHONPATH=/tmp/tsbad_ref python benchmarks/bench_metrics_reference.py

Usage::

    python benchmarks/bench_metrics_reference.py [--cases 50] [--sizes 2000,20000]
        [--window 100] [--repeats 3] [--seed 0]

or the environment variables ``BENCH_CASES``, ``BENCH_SIZES``, ``BENCH_WINDOW``,
``BENCH_REPEATS``, ``BENCH_SEED``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from fusionlab.metrics import event_f1, point_adjusted_f1, range_precision_recall, vus

try:
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
except ImportError:  # pragma: no cover - depends on the machine
    basic_metricor = generate_curve = None


def random_case(rng, max_points):
    n = int(rng.integers(50, max_points))
    labels = np.zeros(n, dtype=int)
    for _ in range(int(rng.integers(1, 10))):
        start = int(rng.integers(0, n))
        labels[start:start + int(rng.integers(1, 50))] = 1
    if labels.all():
        labels[0] = 0
    kind = rng.integers(3)
    if kind == 0:
        scores = rng.random(n)                          # uninformative
    elif kind == 1:
        scores = labels + rng.normal(0.0, 0.7, n)       # informative
    else:
        scores = np.round(labels * 0.3 + rng.random(n), 1)  # many ties
    return labels, scores


def reference_metrics(labels, scores, preds, window):
    *_, vus_roc, vus_pr = generate_curve(labels, scores, window)
    grader = basic_metricor()
    return {
        "vus_roc": vus_roc,
        "vus_pr": vus_pr,
        "range_f1": grader.metric_RF1(labels, scores, preds=preds),
        "pa_f1": grader.metric_PointF1PA(labels, scores, preds=preds),
        "event_f1": grader.metric_EventF1PA(labels, scores, preds=preds),
    }


def our_metrics(labels, scores, preds, window):
    volume = vus(labels, scores, window=window)
    return {
        "vus_roc": volume.roc,
        "vus_pr": volume.pr,
        "range_f1": range_precision_recall(labels, preds, alpha=0.2).f1,
        "pa_f1": point_adjusted_f1(labels, preds).f1,
        "event_f1": event_f1(labels, preds).f1,
    }


def agreement(n_cases, seed):
    rng = np.random.default_rng(seed)
    worst = {}
    for _ in range(n_cases):
        labels, scores = random_case(rng, 2000)
        window = int(rng.integers(0, 120))
        preds = (scores >= np.quantile(scores, 0.9)).astype(int)
        ours = our_metrics(labels, scores, preds, window)
        ref = reference_metrics(labels, scores, preds, window)
        for key, value in ours.items():
            worst[key] = max(worst.get(key, 0.0), abs(value - ref[key]))
    print(f"Agreement on {n_cases} random cases (seed {seed}): max |ours - TSB-AD|")
    print(f"{'metric':<10} {'max abs diff':>14}")
    for key, diff in worst.items():
        print(f"{key:<10} {diff:>14.3e}")
    return worst


def best_time(func, args, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def _our_vus(labels, scores, window):
    return vus(labels, scores, window=window)


def timing(sizes, window, repeats, seed):
    rng = np.random.default_rng(seed)
    print(f"\nVUS-ROC + VUS-PR timing, window={window}, 250 thresholds, best of {repeats}")
    print(f"{'n_points':>9} {'events':>7} {'TSB-AD s':>10} {'ours s':>9} {'speed-up':>9}")
    for n in sizes:
        labels = np.zeros(n, dtype=int)
        n_events = max(1, n // 500)
        for start in rng.choice(n - 60, n_events, replace=False):
            labels[start:start + int(rng.integers(1, 60))] = 1
        scores = labels + rng.normal(0.0, 1.0, n)
        ref = best_time(generate_curve, (labels, scores, window), 1)
        ours = best_time(_our_vus, (labels, scores, window), repeats)
        print(f"{n:>9} {n_events:>7} {ref:>10.3f} {ours:>9.4f} {ref / ours:>8.0f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=int(os.environ.get("BENCH_CASES", 50)))
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "2000,20000"))
    parser.add_argument("--window", type=int, default=int(os.environ.get("BENCH_WINDOW", 100)))
    parser.add_argument("--repeats", type=int,
                        default=int(os.environ.get("BENCH_REPEATS", 3)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED", 0)))
    args = parser.parse_args(argv)
    if generate_curve is None:
        print("TSB-AD is not importable; install it with\n"
              "  pip install --no-deps --target /tmp/tsbad_ref TSB-AD\n"
              "and run with PYTHONPATH=/tmp/tsbad_ref.", file=sys.stderr)
        return 1
    agreement(args.cases, args.seed)
    timing([int(s) for s in args.sizes.split(",")], args.window, args.repeats, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
