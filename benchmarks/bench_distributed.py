"""Scale-out benchmark (run by hand): many series, several processes, a Dask cluster.

Three measurements, each against a baseline measured in the same run:

1. ``score_many`` with one shared detector over N series of 2,000 points,
   against a loop of per-series ``score_samples`` (and the scores compared);
2. peak memory of ``score_many`` writing per series (``out_dir``) over N and
   2N series with the same chunk size: bounded by the chunk, not by N;
3. ``fit_many`` of 16 per-series detectors on a Dask ``LocalCluster`` with
   2 workers against 1 worker (and the local process pool likewise).

Run::

    python benchmarks/bench_distributed.py [--series 1000] [--fits 16] [--model lstm_autoencoder]
    python benchmarks/bench_distributed.py --only score      # one part

On a GPU the same script measures what the accelerator changes (part 1 and
3 with ``--threads-per-job 0`` to let each worker use the device).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from fusionlab.detection import AnomalyDetector  # noqa: E402
from fusionlab.distributed import fit_many, score_many  # noqa: E402


def fleet(n_series, n_points, features=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_points)
    out = {}
    for i in range(n_series):
        base = np.sin(2 * np.pi * (t[:, None] + 7 * i + 5 * np.arange(features)) / 32)
        values = base + rng.normal(0, 0.05, (n_points, features))
        values[rng.integers(100, n_points - 100)] += 3.0
        out[f"sensor-{i:04d}"] = values
    return out


def part_score(args):
    series = fleet(args.series, 2000)
    first = next(iter(series.values()))
    detector = AnomalyDetector(model=args.model, window=32, epochs=2, robust=False,
                               random_state=0).fit(first)
    detector.score_samples(first)  # trace the predict function once
    start = time.perf_counter()
    loop = {sid: detector.score_samples(x) for sid, x in series.items()}
    loop_s = time.perf_counter() - start
    rows = [("loop of score_samples", loop_s, 1.0, True)]
    for batch, jit in ((None, False), (4096, False), (4096, True)):
        start = time.perf_counter()
        many = score_many(detector, series, batch_size=batch, jit_compile=jit, progress=False)
        seconds = time.perf_counter() - start
        identical = all(np.array_equal(many[k], loop[k]) for k in series)
        worst = max(float(np.max(np.abs(many[k] - loop[k]) / np.maximum(loop[k], 1e-12)))
                    for k in series)
        label = f"score_many (batch {batch or detector.predict_batch_size}{', XLA' if jit else ''})"
        rows.append((label, seconds, loop_s / seconds, identical if identical else f"{worst:.1e}"))
    print(f"\n1. {args.series} series x 2000 points, {args.model}, window 32")
    print(f"{'method':34s} {'seconds':>8s} {'x loop':>7s}  identical (else max rel. diff)")
    for label, seconds, ratio, identical in rows:
        print(f"{label:34s} {seconds:8.2f} {ratio:7.2f}  {identical}")


def part_memory(args):
    (first,) = fleet(1, 2000).values()
    detector = AnomalyDetector(model="conv_autoencoder", window=32, epochs=1, robust=False,
                               random_state=0).fit(first)
    print("\n2. peak memory of score_many(out_dir=...) (tracemalloc), chunk_size=64")
    print(f"{'series':>7s} {'peak MB':>8s}")
    for n in (args.series // 4, args.series // 2, args.series):
        series = fleet(n, 2000)
        with tempfile.TemporaryDirectory() as out:
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            score_many(detector, series, chunk_size=64, out_dir=out, progress=False)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        print(f"{n:7d} {(peak - base) / 2**20:8.1f}")
        del series


def part_fit(args):
    series = fleet(args.fits, 3000, seed=1)
    template = AnomalyDetector(model=args.model, window=32, epochs=args.epochs, random_state=0)
    print(f"\n3. fit_many of {args.fits} detectors ({args.model}, {args.epochs} epochs, "
          "3000 points each)")
    print(f"{'backend':24s} {'workers':>7s} {'seconds':>8s} {'speed-up':>8s}")
    threads = args.threads_per_job or None
    for backend in ("dask", "processes"):
        base = None
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                result = fit_many(template, series, out, backend=backend, n_jobs=workers,
                                  threads_per_job=threads, progress=False)
                seconds = time.perf_counter() - start
            assert result.ok, result.failed
            base = base or seconds
            print(f"{backend:24s} {workers:7d} {seconds:8.1f} {base / seconds:8.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--fits", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model", default="lstm_autoencoder")
    parser.add_argument("--threads-per-job", type=int, default=1)
    parser.add_argument("--only", choices=["score", "memory", "fit"])
    args = parser.parse_args(argv)
    parts = {"score": part_score, "memory": part_memory, "fit": part_fit}
    for name, part in parts.items():
        if args.only in (None, name):
            part(args)


if __name__ == "__main__":
    main()
