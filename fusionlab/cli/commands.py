"""``fusionlab detect`` and ``fusionlab demo``: what each command does once parsed."""

from __future__ import annotations

import os
import time

from .backend import import_backend
from .files import (
    CommandError,
    check_input,
    check_output,
    check_plot,
    read_series_file,
    write_events,
)

__all__ = ["detect", "demo"]


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


def _detector(args):
    from ..detection import AnomalyDetector, TqdmProgressBar

    callbacks = [] if args.quiet else [TqdmProgressBar(desc="training")]
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


def _missing_values(frame):
    """A CommandError for NaN/inf values, or None."""
    import numpy as np

    values = frame.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    row, col = np.argwhere(bad)[0]
    return CommandError(
        f"{int(bad.sum())} missing or infinite value(s) (first: column "
        f"{frame.columns[col]!r}, row {int(row) + 1} of the data); fill them with "
        "--impute linear or --impute ffill, or clean the file."
    )


def detect(args, out):
    """Run ``fusionlab detect``: read, check, fit, detect, print and write."""
    path = check_input(args.data)
    out_path = check_output(args.out)
    plot_path = check_plot(args.plot)
    frame, timestamps = read_series_file(path, args.time_col, args.columns)
    if args.impute is None:
        problem = _missing_values(frame)
        if problem is not None:
            raise problem
    import_backend(verbose=args.verbose)
    from ..detection.inputs import impute_values

    det = _detector(args).fit(frame, timestamps=timestamps)
    events = det.detect(frame, timestamps=timestamps)
    if args.min_severity:
        events = events.filter(min_severity=args.min_severity)
    print(f"window={det.window_}  threshold={det.threshold_:.4g}  model={det.model_id_}", file=out)
    _print_events(events, out)
    if out_path is not None:
        write_events(events, out_path)
        print(f"Anomalies written to {out_path}", file=out)
    if plot_path is not None:
        from ..plot import plot_detection

        # The values the detector saw: imputed as --impute says.
        values = impute_values(frame.to_numpy(dtype=float), list(frame.columns), args.impute)
        plot_detection(values, det.training_scores_, det.threshold_, events, path=plot_path,
                       time=None if timestamps is None else timestamps.to_numpy())
        print(f"Plot written to {plot_path}", file=out)
    return 0


def demo(args, out):
    """Run ``fusionlab demo``: a generated sine with injected anomalies."""
    out_dir = args.out_dir
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CommandError(f"--out-dir {out_dir} is a file, not a folder.")
    os.makedirs(out_dir, exist_ok=True)
    import_backend(verbose=args.verbose)
    from ..datasets import make_sine_anomalies
    from ..detection import AnomalyDetector, TqdmProgressBar
    from ..plot import plot_detection

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
    csv_path = os.path.join(out_dir, "demo_anomalies.csv")
    png_path = os.path.join(out_dir, "demo_anomalies.png")
    events.to_csv(csv_path)
    plot_detection(values, det.training_scores_, det.threshold_, events, path=png_path,
                   title="fusionlab demo: sine with injected anomalies")
    print(f"Wrote {csv_path} and {png_path}", file=out)
    return 0
