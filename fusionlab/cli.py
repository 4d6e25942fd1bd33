"""Command line interface: ``fusionlab detect``, ``fusionlab demo`` and ``fusionlab serve``."""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["main"]


def _print_events(events, out):
    if not events:
        print("No anomalous period found.", file=out)
        return
    print(f"{len(events)} anomalous period(s):", file=out)
    for e in events:
        features = ", ".join(f"{name} {share:.0%}" for name, share in e.top_features)
        print(
            f"  {e.start} -> {e.end}  ({e.length} points)  severity={e.severity}  "
            f"type={e.anomaly_type}  peak={e.peak_score:.3g}  [{features}]",
            file=out,
        )


def _write_events(events, path):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        events.to_json(path)
    elif ext in (".parquet", ".pq"):
        events.to_parquet(path)
    else:
        events.to_csv(path)


def _detector(args, progress):
    from .detection import AnomalyDetector, TqdmProgressBar

    callbacks = [] if not progress else [TqdmProgressBar(desc="training")]
    # Options left out keep the detector's own defaults.
    optional = {
        name: getattr(args, name)
        for name in ("smoothing", "peak_weight")
        if getattr(args, name) is not None
    }
    return AnomalyDetector(
        model=args.model,
        window=args.window,
        epochs=args.epochs,
        batch_size=args.batch_size,
        threshold=args.threshold,
        contamination=args.contamination,
        impute=args.impute,
        random_state=args.seed,
        callbacks=callbacks,
        **optional,
    )


def _cmd_detect(args, out):
    import pandas as pd

    from .plot import plot_detection

    frame = pd.read_csv(args.data)
    timestamps = None
    if args.time_col is not None:
        if args.time_col not in frame.columns:
            raise ValueError(
                f"--time-col {args.time_col!r} is not a column of {args.data}; columns: "
                f"{list(frame.columns)}."
            )
        timestamps = frame.pop(args.time_col)
        # Numbers (seconds, sample times) stay numbers: read as dates they
        # would be nanoseconds since 1970.
        if not pd.api.types.is_numeric_dtype(timestamps):
            timestamps = pd.to_datetime(timestamps)
    if args.columns:
        missing = [c for c in args.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"--columns {missing} not in {args.data}; columns: {list(frame.columns)}.")
        frame = frame[args.columns]
    det = _detector(args, progress=not args.quiet).fit(frame, timestamps=timestamps)
    events = det.detect(frame, timestamps=timestamps)
    if args.min_severity:
        events = events.filter(min_severity=args.min_severity)
    print(f"window={det.window_}  threshold={det.threshold_:.4g}  model={det.model_id_}", file=out)
    _print_events(events, out)
    if args.out:
        _write_events(events, args.out)
        print(f"Anomalies written to {args.out}", file=out)
    if args.plot:
        plot_detection(frame.to_numpy(dtype=float), det.training_scores_, det.threshold_,
                       events, path=args.plot,
                       time=None if timestamps is None else timestamps.to_numpy())
        print(f"Plot written to {args.plot}", file=out)
    return 0


def _cmd_demo(args, out):
    from .detection import AnomalyDetector, TqdmProgressBar
    from .plot import plot_detection

    os.makedirs(args.out_dir, exist_ok=True)
    from .datasets import make_sine_anomalies

    values = make_sine_anomalies(random_state=42)["value"].to_numpy()
    print(
        "Series: sin(t) + noise(0.1), t = 0..199.5 step 0.5 (400 points); injected "
        "+2.0 on indices 50-59 and -1.5 on 150-154.",
        file=out,
    )
    start = time.perf_counter()
    callbacks = [] if args.quiet else [TqdmProgressBar(desc="training")]
    det = AnomalyDetector(
        model="lstm_autoencoder", epochs=args.epochs, random_state=args.seed, callbacks=callbacks
    ).fit(values)
    events = det.detect(values)
    print(f"Fitted in {time.perf_counter() - start:.1f} s; window={det.window_}, "
          f"threshold={det.threshold_:.3g}", file=out)
    _print_events(events, out)
    csv_path = os.path.join(args.out_dir, "demo_anomalies.csv")
    png_path = os.path.join(args.out_dir, "demo_anomalies.png")
    events.to_csv(csv_path)
    plot_detection(values, det.training_scores_, det.threshold_, events, path=png_path,
                   title="fusionlab demo: sine with injected anomalies")
    print(f"Wrote {csv_path} and {png_path}", file=out)
    return 0


def _parser():
    from .detection import SEVERITIES, available_models
    from .detection.thresholds import THRESHOLDS

    parser = argparse.ArgumentParser(
        prog="fusionlab", description="Time-series anomaly detection with fusionlab."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    detect = sub.add_parser("detect", help="detect anomalies in a CSV file")
    detect.add_argument("data", help="CSV file, one row per time step")
    detect.add_argument("--time-col", help="column of timestamps (parsed as dates)")
    detect.add_argument("--columns", nargs="+", help="feature columns (default: all others)")
    detect.add_argument("--out", help="write the anomalies to .csv, .json or .parquet")
    detect.add_argument("--plot", help="write a PNG figure")
    detect.add_argument("--model", default="lstm_autoencoder", choices=available_models())
    detect.add_argument("--window", type=int, help="window length (default: from the data)")
    detect.add_argument("--epochs", type=int, default=15)
    detect.add_argument("--batch-size", type=int, default=64)
    detect.add_argument("--threshold", default="percentile", choices=sorted(THRESHOLDS))
    detect.add_argument("--contamination", type=float, default=0.05)
    detect.add_argument("--smoothing", type=float,
                        help="average the scores over this fraction of the series "
                             "(default 0.015; 0 keeps the raw point errors)")
    detect.add_argument("--peak-weight", type=float,
                        help="keep this fraction of a point's own error through the "
                             "smoothing (default 0.125)")
    detect.add_argument("--impute", choices=["linear", "ffill"], help="fill NaN/inf values")
    detect.add_argument("--min-severity", choices=SEVERITIES, help="report only these or worse")
    detect.add_argument("--seed", type=int, default=0)
    detect.add_argument("--quiet", action="store_true", help="no progress bar")

    demo = sub.add_parser("demo", help="run the detector on a generated series")
    demo.add_argument("--out-dir", default=".", help="where to write the CSV and PNG")
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    # Parsed by fusionlab.service.cli (see main), so that FastAPI is imported
    # only when the service runs.
    sub.add_parser("serve", add_help=False,
                   help="run the anomaly service (fusionlab serve --help)")
    return parser


def main(argv=None):
    """Entry point of the ``fusionlab`` command; returns the exit status.

    Examples
    --------
    ``fusionlab detect data.csv --time-col timestamp --out anomalies.csv --plot anomalies.png``
    ``fusionlab demo --out-dir results``
    ``fusionlab serve --port 8080`` (see :mod:`fusionlab.service.cli`)
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        from .service.cli import main as serve

        return serve(argv[1:])
    args = _parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    try:
        if args.command == "detect":
            return _cmd_detect(args, sys.stdout)
        return _cmd_demo(args, sys.stdout)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"fusionlab {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
