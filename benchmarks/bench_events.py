"""Do the events of ``detect`` fit the incidents? Range-based precision and recall.

For generated series with labelled incidents -- ``make_server_metrics``
(four metrics, 5-minute steps, a week) and ``make_incident_series`` (hourly,
60 days: a 3-point spike, a 48-point level shift, a 12-point drop and a
48-point stuck sensor) -- the default ``AnomalyDetector()`` is fitted on the
series and its ``detect`` events become point predictions (1 inside an
event). Printed per series and seed: range-based precision and recall
(Tatbul et al., 2018; ``fusionlab.metrics.range_precision_recall`` with
its defaults, alpha=0.2, flat bias, reciprocal cardinality), the number of
events, the false ones (overlapping no incident) and the one-point false
ones, and for each incident the event that overlaps it (its length against
the incident's).

Usage::

    python benchmarks/bench_events.py [--seeds 0 1 2] [--series incidents server]
        [--params '{"model": "conv_autoencoder"}']
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from fusionlab.datasets import make_incident_series, make_server_metrics  # noqa: E402
from fusionlab.detection import AnomalyDetector  # noqa: E402
from fusionlab.metrics import range_precision_recall  # noqa: E402

SERIES = {
    "incidents": lambda seed: make_incident_series(random_state=seed),
    "server": lambda seed: make_server_metrics(random_state=seed),
}


def event_predictions(events, n):
    predictions = np.zeros(n, dtype=int)
    for event in events:
        predictions[event.start_index : event.end_index + 1] = 1
    return predictions


def evaluate(frame, params, seed):
    columns = [c for c in frame.columns if c not in ("timestamp", "label", "incident")]
    data = frame.set_index("timestamp")[columns]
    labels = frame["label"].to_numpy()
    start = time.perf_counter()
    detector = AnomalyDetector(random_state=seed, **params).fit(data)
    events = detector.detect(data)
    seconds = time.perf_counter() - start
    predictions = event_predictions(events, len(frame))
    prf = range_precision_recall(labels, predictions)
    false = [e for e in events if labels[e.start_index : e.end_index + 1].sum() == 0]
    kinds = frame["incident"].to_numpy()
    matched = []
    for kind in [k for k in dict.fromkeys(kinds) if k != "none"]:
        where = np.flatnonzero(kinds == kind)
        hits = [e for e in events if e.start_index <= where[-1] and e.end_index >= where[0]]
        lengths = [e.end_index - e.start_index + 1 for e in hits]
        matched.append(f"{kind} {where.size}->{'+'.join(map(str, lengths)) or 'missed'}")
    return {
        "precision": prf.precision,
        "recall": prf.recall,
        "events": len(events),
        "false": len(false),
        "one_point_false": sum(e.start_index == e.end_index for e in false),
        "matched": ", ".join(matched),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--series", nargs="+", choices=sorted(SERIES), default=sorted(SERIES))
    parser.add_argument("--params", default="{}", help="AnomalyDetector parameters, as JSON")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    rows = []
    for name in args.series:
        for seed in args.seeds:
            row = evaluate(SERIES[name](seed), params, seed)
            rows.append((name, row))
            print(f"{name:<10} seed {seed}: range precision {row['precision']:.3f} recall "
                  f"{row['recall']:.3f}  events {row['events']} (false {row['false']}, one-point "
                  f"false {row['one_point_false']})  {row['seconds']:.1f} s  [{row['matched']}]",
                  flush=True)
    for name in args.series:
        mine = [row for series, row in rows if series == name]
        print(f"{name:<10} mean range precision {np.mean([r['precision'] for r in mine]):.3f}, "
              f"recall {np.mean([r['recall'] for r in mine]):.3f}, one-point false events "
              f"{sum(r['one_point_false'] for r in mine)} (target: >= 0.7, >= 0.7, 0)")


if __name__ == "__main__":
    main()
