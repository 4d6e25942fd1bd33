"""Benchmark the CfC and LTC autoencoders against the LSTM autoencoder.

Run by hand from the repository root::

    python benchmarks/bench_liquid.py [--samples 1000] [--steps 50]
        [--epochs 8] [--share 0.05] [--seed 0]

The same settings can be read from ``BENCH_SAMPLES``, ``BENCH_STEPS``,
``BENCH_EPOCHS``, ``BENCH_SHARE`` and ``BENCH_SEED``. Two data sets:

* ``sequences`` -- ``make_sequence_anomalies(samples, steps, 3, 0.1,
  irregular=True)``, one label per sequence;
* ``server`` -- ``make_server_metrics`` with 30 % of the readings dropped at
  random (irregular sampling), windows of 24 readings every third reading,
  a window being anomalous when it holds an incident reading.

Each model trains on all windows (unsupervised), the windows scoring above
the ``1 - share`` quantile are flagged, and the script prints precision,
recall and F1 of the flags, ROC AUC of the scores, the training time per
epoch (median of the epochs after the first, which includes compilation),
and ratios against the LSTM baseline measured in the same run. The liquid
models are scored with and without the inverse-delta weighting.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from sklearn.preprocessing import StandardScaler

from fusionlab.datasets import make_sequence_anomalies, make_server_metrics
from fusionlab.nn.anomaly_detection import (
    LiquidAutoencoderAnomaly,
    LSTMAutoencoderAnomaly,
)


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def make_models(n_features):
    return {
        "LSTM": lambda: LSTMAutoencoderAnomaly(
            latent_dim=8, lstm_units=16, n_features=n_features, activation="linear"),
        "CfC": lambda: LiquidAutoencoderAnomaly(
            hidden_size=16, n_features=n_features, cell_type="cfc", num_layers=1,
            backbone_units=32, backbone_layers=1),
        "LTC": lambda: LiquidAutoencoderAnomaly(
            hidden_size=8, n_features=n_features, cell_type="ltc", num_layers=1,
            ode_unfolds=3),
    }


def server_windows(seed, length=24, stride=3):
    frame = make_server_metrics(random_state=seed)
    rng = np.random.default_rng(seed)
    frame = frame[rng.random(len(frame)) > 0.3].reset_index(drop=True)
    gaps = frame["timestamp"].diff().dt.total_seconds().to_numpy(copy=True)
    gaps[0] = np.nanmedian(gaps)
    deltas = (gaps / np.median(gaps[1:])).astype("float32")
    columns = ["cpu", "memory", "network", "response_time"]
    values = StandardScaler().fit_transform(frame[columns]).astype("float32")

    def cut(array):
        view = np.lib.stride_tricks.sliding_window_view(array, length, axis=0)
        return view[::stride].swapaxes(1, -1).copy()

    labels = cut(frame["label"].to_numpy()[:, None]).max(axis=(1, 2))
    return cut(values), cut(deltas[:, None]), labels


def flags_report(labels, scores, share):
    flagged = scores > np.quantile(scores, 1 - share)
    p, r, f1, _ = precision_recall_fscore_support(
        labels, flagged, average="binary", zero_division=0)
    return p, r, f1, roc_auc_score(labels, scores)


def run(name, x, dt, labels, args):
    rows = []
    for model_name, factory in make_models(x.shape[-1]).items():
        keras.utils.set_random_seed(args.seed)
        model = factory()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        timer = EpochTimer()
        inputs = x if model_name == "LSTM" else [x, dt]
        start = time.perf_counter()
        history = model.fit(inputs, x, epochs=args.epochs, batch_size=50, verbose=0,
                            callbacks=[timer])
        total = time.perf_counter() - start
        per_epoch = float(np.median(timer.times[1:])) if args.epochs > 1 else total
        if model_name == "LSTM":
            variants = {"": keras.ops.convert_to_numpy(model.compute_reconstruction_error(x))}
        else:
            recon = model.predict([x, dt], batch_size=256, verbose=0)
            variants = {
                " (weighted)": model.compute_anomaly_score(x, dt, reconstructions=recon),
                " (plain)": model.compute_anomaly_score(
                    x, dt, weighting=None, reconstructions=recon),
            }
        for suffix, scores in variants.items():
            rows.append((model_name + suffix, *flags_report(labels, scores, args.share),
                         per_epoch, total, history.history["loss"][-1]))
    print(f"\n== {name}: {x.shape[0]} windows of {x.shape[1]} steps x {x.shape[2]} "
          f"features, {labels.mean():.1%} anomalous, top {args.share:.0%} flagged, "
          f"{args.epochs} epochs")
    header = (f"{'model':16} {'prec':>5} {'recall':>6} {'F1':>5} {'AUC':>6} "
              f"{'s/epoch':>8} {'fit s':>6} {'loss':>7} {'time x LSTM':>11}")
    print(header)
    base = next(r[5] for r in rows if r[0] == "LSTM")
    for label, p, r, f1, auc, per_epoch, total, loss in rows:
        print(f"{label:16} {p:5.2f} {r:6.2f} {f1:5.2f} {auc:6.3f} {per_epoch:8.2f} "
              f"{total:6.1f} {loss:7.4f} {per_epoch / base:11.2f}")


def main(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=int(env("BENCH_SAMPLES", 1000)))
    parser.add_argument("--steps", type=int, default=int(env("BENCH_STEPS", 50)))
    parser.add_argument("--epochs", type=int, default=int(env("BENCH_EPOCHS", 8)))
    parser.add_argument("--share", type=float, default=float(env("BENCH_SHARE", 0.05)))
    parser.add_argument("--seed", type=int, default=int(env("BENCH_SEED", 0)))
    args = parser.parse_args(argv)
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")

    data = make_sequence_anomalies(args.samples, args.steps, 3, 0.1, irregular=True,
                                   random_state=args.seed)
    run("sequences", data.X, data.time_deltas, data.labels, args)
    run("server", *server_windows(args.seed), args)


if __name__ == "__main__":
    main()
