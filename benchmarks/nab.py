"""NAB benchmark: fusionlab's detectors against baselines, file by file.

Runs on a local NAB corpus (``../shared/data/nab`` beside the repository, or
the folder in ``FUSIONLAB_NAB_ROOT`` / ``--root``); nothing is downloaded.
Every labelled file (files with at least one anomaly window) is scored by:

- ``fusionlab`` -- :class:`fusionlab.detection.AnomalyDetector` with its
  defaults, and the variants named by ``--variants`` when available
  (default: the ``conv_autoencoder`` and liquid ``cfc`` / ``ltc`` models, and
  ``raw_errors``, the default without its score smoothing; on request
  ``robust_tanh``, a robust scaler with bounded reconstructions, and
  ``moving_average``, the smoothing without ``peak_weight``);
- ``iforest`` -- scikit-learn's IsolationForest on sliding windows;
- ``pca`` -- a windowed-PCA reconstruction baseline;
- ``recipe`` -- the exercise recipe: LSTM autoencoder (latent 8, 16 units),
  window 20, 20 epochs, each window's error assigned to its last point.

Each method is unsupervised: it is fitted on the whole series, then scores it.
The baselines and our detector map window scores to points the way each is
described above. Printed: per-file and mean VUS-PR, AUC-PR, best-F1 and
seconds per file (mean and max), the means over the files every method
scored. Written: a CSV and a PNG of mean VUS-PR per method.

Run by hand::

    python benchmarks/nab.py                       # everything
    python benchmarks/nab.py --files nyc_taxi.csv --methods fusionlab pca
    python benchmarks/nab.py --quick               # 3 small files, recipe at 5 epochs
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fusionlab.datasets import list_nab, load_nab  # noqa: E402
from fusionlab.detection.scoring import PointErrorAccumulator  # noqa: E402
from fusionlab.metrics import auc_pr, best_f1, vus_pr  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "nab"
BASELINE_WINDOW = 32
QUICK_FILES = (
    "art_daily_jumpsup.csv",
    "ec2_request_latency_system_failure.csv",
    "rogue_agent_key_hold.csv",
)


# --------------------------------------------------------------- helpers
def windows_of(values: np.ndarray, window: int) -> np.ndarray:
    """Overlapping windows, one starting at every point: (n - window + 1, window)."""
    return np.lib.stride_tricks.sliding_window_view(values, window)


def spread_to_points(window_scores: np.ndarray, n: int, window: int) -> np.ndarray:
    """Average each point's score over every window covering it.

    ``window_scores`` is (n_windows,) (one score per window) or
    (n_windows, window) (a score per step of each window); the detector's own
    accumulator does the averaging.
    """
    if window_scores.ndim == 1:
        window_scores = np.repeat(window_scores[:, None], window, axis=1)
    accumulator = PointErrorAccumulator(n, 1, window)
    accumulator.add(np.arange(window_scores.shape[0]), window_scores[:, :, None])
    return accumulator.result()[0][:, 0]


# -------------------------------------------------------------- baselines
def iforest_scores(values: np.ndarray, seed: int) -> np.ndarray:
    scaled = StandardScaler().fit_transform(values[:, None]).ravel()
    win = windows_of(scaled, BASELINE_WINDOW)
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(win)
    window_scores = -forest.score_samples(win)
    return spread_to_points(window_scores, len(values), BASELINE_WINDOW)


def pca_scores(values: np.ndarray, seed: int) -> np.ndarray:
    scaled = StandardScaler().fit_transform(values[:, None]).ravel()
    win = windows_of(scaled, BASELINE_WINDOW)
    pca = PCA(n_components=0.9, svd_solver="full", random_state=seed).fit(win)
    recon = pca.inverse_transform(pca.transform(win))
    return spread_to_points((win - recon) ** 2, len(values), BASELINE_WINDOW)


def recipe_scores(values: np.ndarray, seed: int, epochs: int) -> np.ndarray:
    import keras

    from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly

    keras.utils.set_random_seed(seed)
    scaled = StandardScaler().fit_transform(values[:, None]).ravel().astype("float32")
    win = np.ascontiguousarray(windows_of(scaled, 20))[:, :, None]
    model = LSTMAutoencoderAnomaly(
        latent_dim=8, lstm_units=16, n_features=1, n_repeats=20, activation="linear"
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(win, win, epochs=epochs, batch_size=16, verbose=0)
    recon = model.predict(win, batch_size=512, verbose=0)
    errors = ((win - recon) ** 2).mean(axis=(1, 2))
    # The recipe: a window's error is the score of its last point; the first
    # 19 points, covered by no window's end, get the first window's error.
    scores = np.empty(len(values))
    scores[19:] = errors
    scores[:19] = errors[0]
    return scores


#: Detector settings of the variants besides the default (``--variants``).
VARIANTS = {
    "conv_autoencoder": {"model": "conv_autoencoder"},
    "cfc": {"model": "cfc"},
    "ltc": {"model": "ltc"},
    # Bounded reconstructions for extreme-value anomalies (see the docs of
    # AnomalyDetector's `scaler`).
    "robust_tanh": {"scaler": "robust", "model_params": {"activation": "tanh"}},
    # The default's score smoothing taken apart: raw point errors, and the
    # moving average without the isolated large errors kept.
    "raw_errors": {"smoothing": None},
    "moving_average": {"peak_weight": 0.0},
}


def fusionlab_scores(frame: pd.DataFrame, seed: int, variant: str | None) -> np.ndarray:
    from fusionlab.detection import AnomalyDetector

    params = VARIANTS[variant] if variant else {}
    detector = AnomalyDetector(random_state=seed, **params)
    # Only the liquid models use the time between samples. Two NAB files
    # repeat a timestamp (a clock change), which the detector rejects: there
    # the liquid models get regular steps (a delta of 1 between rows).
    timestamps = None
    if params.get("model") in ("cfc", "ltc"):
        stamps = pd.Index(frame["timestamp"])
        if stamps.is_unique and stamps.is_monotonic_increasing:
            timestamps = frame["timestamp"]
    detector.fit(frame[["value"]], timestamps=timestamps)
    return np.asarray(detector.score_samples(frame[["value"]]), dtype=float)


# ------------------------------------------------------------------- run
def run(args) -> pd.DataFrame:
    # Import Keras and the models before any timing: the first file would
    # otherwise pay a few seconds of imports.
    import fusionlab.detection  # noqa: F401
    import fusionlab.nn.anomaly_detection  # noqa: F401

    root = Path(args.root or os.environ.get("FUSIONLAB_NAB_ROOT") or DEFAULT_ROOT)
    names = list_nab(root)
    rows = []
    for name in names:
        if args.files and Path(name).name not in args.files:
            continue
        frame = load_nab(root, name)
        labels = frame["label"].to_numpy()
        if labels.sum() == 0:
            continue  # no anomaly window: ranking metrics are undefined
        values = frame["value"].to_numpy(dtype=float)
        methods = {
            "iforest": lambda v=values: iforest_scores(v, args.seed),
            "pca": lambda v=values: pca_scores(v, args.seed),
            "recipe": lambda v=values: recipe_scores(v, args.seed, args.recipe_epochs),
            "fusionlab": lambda f=frame: fusionlab_scores(f, args.seed, None),
        }
        for variant in args.variants:
            methods[f"fusionlab[{variant}]"] = lambda f=frame, m=variant: fusionlab_scores(
                f, args.seed, m
            )
        for method, score in methods.items():
            if args.methods and method.split("[")[0] not in args.methods and method not in args.methods:
                continue
            start = time.perf_counter()
            try:
                scores = score()
            except (ImportError, ValueError) as exc:  # variant not available
                print(f"  {method:<24} skipped on {name}: {exc}")
                continue
            seconds = time.perf_counter() - start
            row = {
                "file": name,
                "method": method,
                "n_points": len(values),
                "vus_pr": vus_pr(labels, scores, window=args.vus_window),
                "auc_pr": auc_pr(labels, scores),
                "best_f1": best_f1(labels, scores).f1,
                "seconds": seconds,
            }
            rows.append(row)
            print(
                f"  {name:<58} {method:<24} VUS-PR {row['vus_pr']:.3f}  "
                f"AUC-PR {row['auc_pr']:.3f}  best-F1 {row['best_f1']:.3f}  {seconds:6.1f} s",
                flush=True,
            )
    return pd.DataFrame(rows)


def report(results: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    out_dir.mkdir(parents=True, exist_ok=True)
    results.to_csv(out_dir / "nab_per_file.csv", index=False)
    # Means over the files every method scored, so that a method skipped on
    # a file is not ranked on an easier or harder set.
    scored = results.groupby("file")["method"].nunique()
    common = scored.index[scored == results["method"].nunique()]
    if len(common) < len(scored):
        print(f"\nMeans over the {len(common)} files every method scored; left out: "
              f"{sorted(set(scored.index) - set(common))}")
    results = results[results["file"].isin(common)]
    summary = (
        results.groupby("method")[["vus_pr", "auc_pr", "best_f1", "seconds"]]
        .mean()
        .sort_values("vus_pr", ascending=False)
    )
    summary["max_seconds"] = results.groupby("method")["seconds"].max()
    summary["files"] = results.groupby("method")["file"].count()
    summary.to_csv(out_dir / "nab_summary.csv")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    ax.barh(summary.index[::-1], summary["vus_pr"][::-1], color="tab:blue")
    ax.set_xlabel("mean VUS-PR over labelled NAB files")
    ax.set_title("NAB benchmark")
    fig.tight_layout()
    fig.savefig(out_dir / "nab_vus_pr.png", dpi=100)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="NAB folder (default: $FUSIONLAB_NAB_ROOT or ../shared/data/nab)")
    parser.add_argument("--files", nargs="*", default=None, help="file names to run (default: all labelled)")
    parser.add_argument("--methods", nargs="*", default=None, help="methods to run (default: all)")
    parser.add_argument("--variants", nargs="*", choices=sorted(VARIANTS),
                        default=["conv_autoencoder", "raw_errors", "cfc", "ltc"],
                        help="fusionlab detector variants besides the default")
    parser.add_argument("--recipe-epochs", type=int, default=20)
    parser.add_argument("--vus-window", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--quick", action="store_true", help="3 small files, recipe at 5 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.files = args.files or list(QUICK_FILES)
        args.recipe_epochs = 5
    results = run(args)
    if results.empty:
        raise SystemExit("No labelled NAB file was scored: check --root and --files.")
    summary = report(results, Path(args.out_dir))
    print("\nMean over files (sorted by VUS-PR):")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\nWrote {args.out_dir}/nab_per_file.csv, nab_summary.csv, nab_vus_pr.png")


if __name__ == "__main__":
    main()
