"""A figure of a detection: the series with anomalous spans, and the scores."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_SEVERITY_COLOURS = {"low": "#f2c14e", "medium": "#f78154", "high": "#d1495b", "critical": "#7b0828"}


def plot_detection(values, scores, threshold, anomalies, path=None, *, x=None,
                   max_features=5, title=None):
    """Draw the series (top) and the scores with the threshold (bottom).

    Events are shaded by severity. Uses :class:`matplotlib.figure.Figure`
    directly (Agg canvas, no pyplot state). Returns the figure; saves it to
    ``path`` when given.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    scores = np.asarray(scores, dtype=float)
    x = np.arange(len(scores)) if x is None else np.asarray(x)
    fig = Figure(figsize=(10, 5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for j in range(min(values.shape[1], max_features)):
        top.plot(x, values[:, j], lw=1)
    bottom.plot(x, scores, lw=1, color="black", label="score")
    bottom.axhline(threshold, color="tab:red", ls="--", lw=1, label="threshold")
    for event in anomalies:
        lo, hi = x[event.start_index], x[event.end_index]
        colour = _SEVERITY_COLOURS.get(event.severity, "grey")
        for ax in (top, bottom):
            ax.axvspan(lo, hi, color=colour, alpha=0.3, lw=0)
    top.set_ylabel("value")
    bottom.set_ylabel("anomaly score")
    bottom.legend(loc="upper right")
    top.set_title(title or f"{len(anomalies)} anomalous period(s)")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
