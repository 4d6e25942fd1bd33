"""NAB benchmark: fusionlab's detector against TSB-AD's reference detectors, file by file.

Runs on a local NAB corpus (``../shared/data/nab`` beside the repository, or
the folder in ``FUSIONLAB_NAB_ROOT`` / ``--root``); nothing is downloaded.
Every labelled file (files with at least one anomaly window) is scored by:

- ``fusionlab`` -- :class:`fusionlab.detection.AnomalyDetector` with its
  defaults (timed: fit and score), and the variants named by ``--variants``
  (other models, or the default's parts taken apart);
- TSB-AD's reference detectors with TSB-AD's tuned settings
  (``benchmarks/reference_detectors.py``: Sub-IForest, MatrixProfile,
  Sub-KNN, IForest, Sub-PCA, POLY; MatrixProfile needs ``stumpy``, the
  ``bench`` extra). They reproduce TSB-AD's own scores (checked by
  ``benchmarks/tsbad_reference.py`` in a throw-away environment, then
  ``--check-tsbad`` here);
- on request (``--methods recipe``) the exercise recipe: an LSTM
  autoencoder (latent 8, 16 units), window 20, 20 epochs, each window's
  error given to its last point.

Each method is unsupervised: it is fitted on the whole series, then scores
it. VUS-PR is computed with ``fusionlab.metrics.vus_pr`` (which matches
TSB-AD's code) at TSB-AD's window, the series' period as TSB-AD finds it
(``--vus-window period``, the default; a number fixes it). Printed: per-file
VUS-PR, AUC-PR and seconds, the means, the rank of ``fusionlab`` on each
file among the reference detectors, and with ``--post-variants`` the
leave-one-file-out figure of the default's post-processing (the setting
chosen on the other files, scored on the one left out). Written: a CSV and a
PNG of mean VUS-PR per method.

Run by hand::

    python benchmarks/nab.py                       # everything
    python benchmarks/nab.py --files nyc_taxi.csv --methods fusionlab Sub-KNN
    python benchmarks/nab.py --quick               # 3 small files
    python benchmarks/nab.py --check-tsbad         # baselines vs TSB-AD's own run
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_detectors import REFERENCE_DETECTORS, period  # noqa: E402

from fusionlab.datasets import list_nab, load_nab  # noqa: E402
from fusionlab.metrics import auc_pr, vus_pr  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "nab"
QUICK_FILES = (
    "art_daily_jumpsup.csv",
    "ec2_request_latency_system_failure.csv",
    "rogue_agent_key_hold.csv",
)
#: TSB-AD's names of the reference detectors (its tsbad_reference.csv).
TSBAD_NAMES = {"Sub-IForest": "Sub_IForest", "MatrixProfile": "MatrixProfile",
               "Sub-KNN": "Sub_KNN", "IForest": "IForest", "Sub-PCA": "Sub_PCA", "POLY": "POLY"}


# ------------------------------------------------------------- the recipe
def recipe_scores(values: np.ndarray, seed: int, epochs: int) -> np.ndarray:
    import keras

    from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly

    keras.utils.set_random_seed(seed)
    scaled = StandardScaler().fit_transform(values[:, None]).ravel().astype("float32")
    win = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(scaled, 20))[:, :, None]
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


# -------------------------------------------------------------- fusionlab
#: Detector settings of the variants besides the default (``--variants``).
VARIANTS = {
    "conv_autoencoder": {"model": "conv_autoencoder"},
    "cfc": {"model": "cfc"},
    "ltc": {"model": "ltc"},
    # The default's scorers taken apart.
    "reconstruction_only": {"scorers": ("reconstruction",)},
    "no_isolation": {"scorers": ("reconstruction", "discord")},
    "no_discord": {"scorers": ("reconstruction", "isolation")},
    # The pre-ensemble default: the model's error alone, smoothed over 1.5 %
    # of the series.
    "previous_default": {"scorers": ("reconstruction",), "smoothing": 0.015},
    # Training budgets: the previous default (4096 windows) and a larger batch
    # (issue 18's time per file).
    "max_train_windows=4096": {"max_train_windows": 4096},
    "batch_size=128": {"batch_size": 128},
    # The flatness scorer (a stuck sensor) added to the default's scorers.
    "with_flatness": {"scorers": ("reconstruction", "discord", "isolation", "flatness")},
}

#: Post-processing settings scored from the one fitted default detector
#: (``--post-variants``), among which the leave-one-file-out figure chooses.
POST_VARIANTS = {
    "smoothing=window": {"smoothing": "window"},
    "smoothing=None": {"smoothing": None},
    "smoothing=0.015": {"smoothing": 0.015},
    "combine=max": {"combine": "max"},
}


def fit_fusionlab(frame: pd.DataFrame, seed: int, variant: str | None):
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
    return detector.fit(frame[["value"]], timestamps=timestamps)


def post_variant_scores(detector, frame):
    """Scores of the fitted default under each of :data:`POST_VARIANTS`."""
    from fusionlab.detection.scoring import smoothing_width

    original = detector.get_params()
    width, combine = detector.smoothing_width_, detector.combine_
    out = {}
    try:
        for name, params in POST_VARIANTS.items():
            detector.set_params(**{**{k: original[k] for k in ("smoothing", "combine")},
                                   **params})
            # The detector scores with what it learned at fit: set those too.
            detector.combine_ = detector.combine
            detector.smoothing_width_ = smoothing_width(
                detector.smoothing, len(frame), detector.window_,
                detector.scorer_window_ or detector.window_)
            out[name] = np.asarray(detector.score_samples(frame[["value"]].to_numpy()), float)
    finally:
        detector.set_params(**{k: original[k] for k in ("smoothing", "combine")})
        detector.smoothing_width_, detector.combine_ = width, combine
    return out


# ------------------------------------------------------------------- run
def _row(name, method, labels, scores, seconds, window):
    return {
        "file": name,
        "method": method,
        "n_points": len(labels),
        "vus_window": window,
        "vus_pr": vus_pr(labels, scores, window=window),
        "auc_pr": auc_pr(labels, scores),
        "seconds": seconds,
    }


def run(args) -> pd.DataFrame:
    # Import Keras and the models before any timing: the first file would
    # otherwise pay a few seconds of imports.
    import fusionlab.detection  # noqa: F401
    import fusionlab.nn.anomaly_detection  # noqa: F401

    root = Path(args.root or os.environ.get("FUSIONLAB_NAB_ROOT") or DEFAULT_ROOT)
    wanted = set(args.methods) if args.methods else None
    rows = []
    for name in list_nab(root):
        if args.files and Path(name).name not in args.files:
            continue
        frame = load_nab(root, name)
        labels = frame["label"].to_numpy()
        if labels.sum() == 0:
            continue  # no anomaly window: ranking metrics are undefined
        values = frame["value"].to_numpy(dtype=float)
        window = period(values) if args.vus_window == "period" else int(args.vus_window)
        methods = {"fusionlab": lambda f=frame: fit_fusionlab(f, args.seed, None)}
        for variant in args.variants:
            methods[f"fusionlab[{variant}]"] = (
                lambda f=frame, m=variant: fit_fusionlab(f, args.seed, m))
        for method, detect in REFERENCE_DETECTORS.items():
            methods[method] = lambda v=values, d=detect: d(v, args.seed)
        methods["recipe"] = lambda v=values: recipe_scores(v, args.seed, args.recipe_epochs)
        for method, score in methods.items():
            selected = method in wanted if wanted else method != "recipe"
            if not selected and not (wanted and method.split("[")[0] in wanted):
                continue
            start = time.perf_counter()
            try:
                result = score()
                detector = None
                if not isinstance(result, np.ndarray):  # a fitted detector
                    detector = result
                    result = np.asarray(detector.score_samples(frame[["value"]]), dtype=float)
            except ImportError as exc:  # a method whose extra is missing
                print(f"  {method:<28} skipped on {name}: {exc}")
                continue
            seconds = time.perf_counter() - start
            row = _row(name, method, labels, result, seconds, window)
            rows.append(row)
            print(f"  {name:<58} {method:<28} VUS-PR {row['vus_pr']:.3f}  "
                  f"AUC-PR {row['auc_pr']:.3f}  {seconds:6.1f} s", flush=True)
            if detector is not None and method == "fusionlab" and args.post_variants:
                for post, scores in post_variant_scores(detector, frame).items():
                    rows.append(_row(name, f"fusionlab{{{post}}}", labels, scores, np.nan, window))
    return pd.DataFrame(rows)


def ranks(results: pd.DataFrame, method="fusionlab") -> pd.Series:
    """Rank of ``method`` on each file among itself and the reference detectors (1 = best)."""
    table = results.pivot(index="file", columns="method", values="vus_pr")
    pool = [m for m in (method, *REFERENCE_DETECTORS) if m in table]
    return table[pool].rank(axis=1, ascending=False, method="min")[method]


def leave_one_out(results: pd.DataFrame) -> tuple[float, pd.Series]:
    """Mean VUS-PR when each file gets the post-processing best on the other files."""
    table = results.pivot(index="file", columns="method", values="vus_pr")
    options = [c for c in table if c.startswith("fusionlab{")]
    chosen = {}
    for held in table.index:
        others = table.drop(index=held)[options].mean()
        chosen[held] = others.idxmax()
    picked = pd.Series({f: table.loc[f, chosen[f]] for f in table.index})
    return float(picked.mean()), pd.Series(chosen)


def check_tsbad(results: pd.DataFrame, out_dir: Path):
    """Our baselines against TSB-AD's own run (``tsbad_reference.csv``), file by file."""
    path = out_dir / "tsbad_reference.csv"
    if not path.exists():
        print(f"\nNo {path}: run benchmarks/tsbad_reference.py in a TSB-AD environment first.")
        return None
    reference = pd.read_csv(path)
    reference["method"] = reference["method"].map({v: k for k, v in TSBAD_NAMES.items()})
    merged = results.merge(reference[["file", "method", "vus_pr_period"]], on=["file", "method"])
    merged["difference"] = merged["vus_pr"] - merged["vus_pr_period"]
    means = merged.groupby("method")[["vus_pr", "vus_pr_period"]].mean()
    means["difference"] = means["vus_pr"] - means["vus_pr_period"]
    means["max_file_difference"] = merged.groupby("method")["difference"].apply(
        lambda d: d.abs().max())
    print("\nBaselines against TSB-AD's own code (VUS-PR at the period window):")
    print(means.rename(columns={"vus_pr": "ours", "vus_pr_period": "TSB-AD"})
          .to_string(float_format=lambda v: f"{v:.4f}"))
    return means


def report(results: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    out_dir.mkdir(parents=True, exist_ok=True)
    results.to_csv(out_dir / "nab_per_file.csv", index=False)
    timed = results[~results["method"].str.startswith("fusionlab{")]
    # Means over the files every method scored, so that a method skipped on
    # a file is not ranked on an easier or harder set.
    scored = timed.groupby("file")["method"].nunique()
    common = scored.index[scored == timed["method"].nunique()]
    if len(common) < len(scored):
        print(f"\nMeans over the {len(common)} files every method scored; left out: "
              f"{sorted(set(scored.index) - set(common))}")
    timed = timed[timed["file"].isin(common)]
    summary = (
        timed.groupby("method")[["vus_pr", "auc_pr", "seconds"]]
        .mean()
        .sort_values("vus_pr", ascending=False)
    )
    summary["max_seconds"] = timed.groupby("method")["seconds"].max()
    summary["files"] = timed.groupby("method")["file"].count()
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
    parser.add_argument("--methods", nargs="*", default=None,
                        help="methods to run (default: fusionlab, its variants and the references)")
    parser.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), default=[],
                        help="fusionlab detector variants besides the default")
    parser.add_argument("--post-variants", action="store_true",
                        help="score the default's post-processing options; leave-one-out figure")
    parser.add_argument("--recipe-epochs", type=int, default=20)
    parser.add_argument("--vus-window", default="period",
                        help="VUS window: 'period' (TSB-AD's, the default) or a number of points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--quick", action="store_true", help="3 small files, recipe at 5 epochs")
    parser.add_argument("--check-tsbad", action="store_true",
                        help="compare the reference detectors with TSB-AD's run (tsbad_reference.csv)")
    args = parser.parse_args(argv)
    if args.quick:
        args.files = args.files or list(QUICK_FILES)
        args.recipe_epochs = 5
    results = run(args)
    if results.empty:
        raise SystemExit("No labelled NAB file was scored: check --root and --files.")
    out_dir = Path(args.out_dir)
    summary = report(results, out_dir)
    print("\nMean over files (sorted by VUS-PR):")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    table = results.pivot(index="file", columns="method", values="vus_pr")
    print("\nVUS-PR per file:")
    print(table.rename(index=lambda f: Path(f).stem).to_string(float_format=lambda v: f"{v:.3f}"))
    if "fusionlab" in table and any(m in table for m in REFERENCE_DETECTORS):
        rank = ranks(results)
        print(f"\nfusionlab first or second among the reference detectors on "
              f"{int((rank <= 2).sum())} of {len(rank)} files (first on {int((rank == 1).sum())})")
    if args.post_variants:
        loo, chosen = leave_one_out(results)
        print(f"\nLeave-one-file-out mean VUS-PR of the post-processing choice: {loo:.3f} "
              f"(choices: {chosen.value_counts().to_dict()})")
    if args.check_tsbad:
        check_tsbad(results, out_dir)
    print(f"\nWrote {args.out_dir}/nab_per_file.csv, nab_summary.csv, nab_vus_pr.png")


if __name__ == "__main__":
    main()
