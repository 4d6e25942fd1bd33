"""Scoring throughput and memory of AnomalyDetector.score_samples.

For each case (default: 1,000,000 x 1 and 200,000 x 20), the default
detector (LSTM autoencoder) is trained briefly on a small slice, then

- ``score_samples`` on the whole series is timed (points/s), with the peak
  RSS of the process (``resource.getrusage``) and the peak of NumPy
  allocations during the call (``tracemalloc``);
- the baseline, ``model.predict`` on the same windows pre-built in memory
  (for a subsample of ``--baseline-windows`` windows when all of them would
  not fit), is timed in the same run (windows/s).

The ratio detector/baseline is scoring throughput relative to bare
inference (target >= 0.8; the scorer also cuts windows and accumulates
per-point errors).

Usage::

    python benchmarks/bench_detector_scoring.py              # full sizes
    python benchmarks/bench_detector_scoring.py --quick      # 50,000 x 1 and 20,000 x 20
    python benchmarks/bench_detector_scoring.py --cases 300000x1
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from fusionlab.detection import AnomalyDetector  # noqa: E402


def make_series(n_points, n_features, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_points, dtype=np.float64)[:, None]
    periods = rng.uniform(20, 60, n_features)
    values = np.sin(2 * np.pi * t / periods) + 0.1 * rng.normal(size=(n_points, n_features))
    return values


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(n_points, n_features, args):
    values = make_series(n_points, n_features)
    det = AnomalyDetector(
        epochs=args.epochs, random_state=0, robust=False, validation_split=0.0
    ).fit(values[: args.train_points])
    window = det.window_
    det.score_samples(values[: 4 * window])  # warm-up: trace the predict function

    tracemalloc.start()
    start = time.perf_counter()
    scores = det.score_samples(values)
    elapsed = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert scores.shape == (n_points,) and np.isfinite(scores).all()
    rss = peak_rss_mib()

    # Baseline: predict on pre-built windows (same scaling, same batch size).
    n_windows = min(n_points - window + 1, args.baseline_windows)
    scaled = det.scaler_.transform(values[: n_windows + window - 1]).astype(np.float32)
    windows = np.ascontiguousarray(
        np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0).transpose(0, 2, 1)
    )
    det.model_.predict(windows[: 4 * det.predict_batch_size],
                       batch_size=det.predict_batch_size, verbose=0)
    start = time.perf_counter()
    det.model_.predict(windows, batch_size=det.predict_batch_size, verbose=0)
    base = time.perf_counter() - start
    del windows
    det_rate = n_points / elapsed
    base_rate = n_windows / base
    return {
        "case": f"{n_points}x{n_features}",
        "window": window,
        "score_s": elapsed,
        "points_per_s": det_rate,
        "predict_windows_per_s": base_rate,
        "ratio": det_rate / base_rate,
        "peak_rss_mib": rss,
        "numpy_peak_mib": traced_peak / 2**20,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=None,
                        help="sizes as POINTSxFEATURES (default 1000000x1 200000x20)")
    parser.add_argument("--quick", action="store_true", help="50000x1 and 20000x20")
    parser.add_argument("--train-points", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--baseline-windows", type=int, default=200_000,
                        help="windows pre-built for the predict baseline")
    args = parser.parse_args(argv)
    cases = args.cases or (["50000x1", "20000x20"] if args.quick else ["1000000x1", "200000x20"])
    rows = [run_case(*map(int, c.lower().split("x")), args) for c in cases]
    header = (f"{'case':>12} {'window':>6} {'score s':>8} {'points/s':>10} "
              f"{'predict win/s':>13} {'ratio':>6} {'peak RSS MiB':>12} {'numpy peak MiB':>14}")
    print(header)
    for r in rows:
        print(f"{r['case']:>12} {r['window']:>6} {r['score_s']:>8.1f} {r['points_per_s']:>10.0f} "
              f"{r['predict_windows_per_s']:>13.0f} {r['ratio']:>6.2f} "
              f"{r['peak_rss_mib']:>12.0f} {r['numpy_peak_mib']:>14.1f}")
    print("targets: ratio >= 0.80, peak RSS < 2048 MiB (RSS is the process peak so far)")


if __name__ == "__main__":
    main()
