"""Point-level localisation on the sine-with-injected-anomalies series.

Compares, in the same run, the average precision (AUC-PR,
``sklearn.metrics.average_precision_score``) of the point scores against
the injected anomalous indices for:

- ``AnomalyDetector()`` with its defaults (LSTM autoencoder, automatic
  window, robust two-stage training, errors averaged over covering windows,
  then smoothed over the model's window with large errors kept);
- the exercise recipe: ``LSTMAutoencoderAnomaly(latent_dim=8,
  lstm_units=16)``, window 20, 20 epochs, standardised data, each window's
  mean squared error assigned to its *last* point.

Usage::

    python benchmarks/bench_localisation.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fusionlab.datasets import make_sine_anomalies  # noqa: E402
from fusionlab.detection import AnomalyDetector  # noqa: E402
from fusionlab.nn.anomaly_detection import LSTMAutoencoderAnomaly  # noqa: E402


def recipe_scores(values, seed, window=20, epochs=20):
    keras.utils.set_random_seed(seed)
    scaled = StandardScaler().fit_transform(values[:, None]).astype("float32")
    windows = np.lib.stride_tricks.sliding_window_view(scaled[:, 0], window)[..., None]
    windows = np.ascontiguousarray(windows)
    model = LSTMAutoencoderAnomaly(latent_dim=8, lstm_units=16, activation="linear")
    model.compile(optimizer="adam", loss="mse")
    model.fit(windows, windows, epochs=epochs, batch_size=32, verbose=0)
    errors = keras.ops.convert_to_numpy(model.compute_reconstruction_error(windows))
    scores = np.zeros(values.size)
    scores[window - 1 :] = errors  # window error assigned to its last point
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    series = make_sine_anomalies(random_state=42)  # the exercise's series
    values, labels = series["value"].to_numpy(), series["label"].to_numpy()
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        det = AnomalyDetector(random_state=seed).fit(values)
        ap_det = average_precision_score(labels, det.score_samples(values))
        t_det = time.perf_counter() - start
        start = time.perf_counter()
        ap_rec = average_precision_score(labels, recipe_scores(values, seed))
        t_rec = time.perf_counter() - start
        rows.append((seed, det.window_, ap_det, t_det, ap_rec, t_rec))
    print(f"{'seed':>4} {'window':>6} {'AP detector':>11} {'fit s':>6} "
          f"{'AP recipe':>9} {'fit s':>6} {'AP ratio':>8}")
    for seed, window, ap_det, t_det, ap_rec, t_rec in rows:
        print(f"{seed:>4} {window:>6} {ap_det:>11.3f} {t_det:>6.1f} {ap_rec:>9.3f} "
              f"{t_rec:>6.1f} {ap_det / ap_rec:>8.2f}")
    det_mean = np.mean([r[2] for r in rows])
    rec_mean = np.mean([r[4] for r in rows])
    print(f"mean AP: detector {det_mean:.3f}, recipe {rec_mean:.3f}, "
          f"ratio {det_mean / rec_mean:.2f} (target: detector >= 0.8 and > recipe)")


if __name__ == "__main__":
    main()
