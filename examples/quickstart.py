"""Quickstart: find the anomalies of a generated server-metrics series.

Fits :class:`fusionlab.detection.AnomalyDetector` on four correlated server
metrics with labelled incidents, prints the detected events and how well the
scores rank the labelled points, and writes a figure.

Run::

    python examples/quickstart.py [--epochs 15] [--out quickstart.png]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fusionlab.datasets import make_server_metrics  # noqa: E402
from fusionlab.detection import AnomalyDetector  # noqa: E402
from fusionlab.metrics import evaluate  # noqa: E402
from fusionlab.plot import plot_detection  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--model", default="lstm_autoencoder")
    parser.add_argument("--out", default="quickstart.png", help="figure to write")
    args = parser.parse_args(argv)

    frame = make_server_metrics(random_state=0).set_index("timestamp")
    features = frame[["cpu", "memory", "network", "response_time"]]
    detector = AnomalyDetector(model=args.model, epochs=args.epochs, random_state=0)
    detector.fit(features)
    print(f"window={detector.window_}, threshold={detector.threshold_:.3g}")

    events = detector.detect(features)
    columns = ["start", "end", "severity", "anomaly_type", "peak_score"]
    print(events.to_frame()[columns].to_string(index=False))

    row = evaluate(detector, features, frame["label"])
    print(row[["vus_pr", "auc_pr", "best_f1"]].round(3).to_string(index=False))

    plot_detection(
        features, detector.score_samples(features), detector.threshold_,
        events.to_frame(), path=args.out,
    )
    print(f"wrote {args.out}")
    return detector, events, row


if __name__ == "__main__":
    main()
