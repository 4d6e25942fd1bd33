"""Benchmark ``create_sequences`` against a per-window ``df.iloc`` loop.

Run by hand from the repository root::

    python benchmarks/bench_create_sequences.py [--rows 50000] [--columns 2]
        [--length 64] [--repeats 3]

The same sizes can be set with the environment variables ``BENCH_ROWS``,
``BENCH_COLUMNS``, ``BENCH_LENGTH`` and ``BENCH_REPEATS``. Each variant is
timed ``repeats`` times and the best time is kept; the baseline is measured
in the same run and the results of every variant are checked against it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from fusionlab.nn.utils import create_sequences


def iloc_loop(df: pd.DataFrame, sequence_length: int, target_col: str):
    """Straightforward baseline: one ``iloc`` slice per window."""
    sequences, targets = [], []
    target_pos = df.columns.get_loc(target_col)
    for start in range(len(df) - sequence_length):
        sequences.append(df.iloc[start : start + sequence_length].to_numpy())
        targets.append(df.iloc[start + sequence_length, target_pos])
    return np.array(sequences), np.array(targets)


def best_time(func, repeats: int):
    """Best wall-clock time of ``repeats`` calls and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(env("BENCH_ROWS", 50_000)))
    parser.add_argument("--columns", type=int, default=int(env("BENCH_COLUMNS", 2)))
    parser.add_argument("--length", type=int, default=int(env("BENCH_LENGTH", 64)))
    parser.add_argument("--repeats", type=int, default=int(env("BENCH_REPEATS", 3)))
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    columns = [f"c{i}" for i in range(args.columns)]
    df = pd.DataFrame(rng.standard_normal((args.rows, args.columns)), columns=columns)
    target = columns[-1]

    t_loop, (x_ref, y_ref) = best_time(
        lambda: iloc_loop(df, args.length, target), args.repeats
    )
    t_copy, (x_copy, y_copy) = best_time(
        lambda: create_sequences(df, args.length, target), args.repeats
    )
    t_view, (x_view, y_view) = best_time(
        lambda: create_sequences(df, args.length, target, copy=False), args.repeats
    )
    for name, (x, y) in {"copy=True": (x_copy, y_copy),
                         "copy=False": (x_view, y_view)}.items():
        if not (np.array_equal(x, x_ref) and np.array_equal(y, y_ref)):
            raise AssertionError(f"create_sequences({name}) differs from the baseline")

    print(f"rows={args.rows} columns={args.columns} sequence_length={args.length} "
          f"repeats={args.repeats} (best time) -> sequences {x_ref.shape}")
    print(f"{'method':<32}{'time [ms]':>12}{'speed-up':>12}")
    for name, t in [("df.iloc loop (baseline)", t_loop),
                    ("create_sequences(copy=True)", t_copy),
                    ("create_sequences(copy=False)", t_view)]:
        print(f"{name:<32}{t * 1e3:>12.2f}{t_loop / t:>11.1f}x")
    print("results equal to the baseline: yes")


if __name__ == "__main__":
    main()
