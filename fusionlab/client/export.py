"""``export_all`` and ``export_tensorboard``: the server's data as local files."""

from __future__ import annotations

import json
from pathlib import Path

from .records import ExportFormat

__all__ = ["export_all", "export_tensorboard"]


def _frame_writer(fmt):
    if fmt == "csv":
        return lambda frame, path: frame.to_csv(path, index=False)
    if fmt == "json":
        return lambda frame, path: frame.to_json(path, orient="records", indent=1)
    return lambda frame, path: frame.to_parquet(path, index=False)


async def export_all(client, output_dir, formats=None) -> dict:
    """Anomalies, correlations, temporal patterns and a summary in each format.

    Files: ``anomalies.<fmt>`` (streamed from the server),
    ``summary.<fmt>`` (counts by severity and type), ``patterns.<fmt>`` (one
    row per pattern and model), ``correlation_<model>.<fmt>`` (a labelled
    matrix); ``tensorboard/`` holds event files.
    """
    import pandas as pd

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [ExportFormat(getattr(f, "value", f)) for f in (formats or list(ExportFormat))]
    snapshot = await client._request("POST", "/api/export", json={})
    summary = snapshot["summary"]
    summary_rows = ([{"group": "severity", "name": k, "count": v}
                     for k, v in summary["counts_by_severity"].items()]
                    + [{"group": "type", "name": k, "count": v}
                       for k, v in summary["counts_by_type"].items()])
    pattern_rows = [{"model_id": model_id, **{k: (json.dumps(v) if k == "metadata" else v)
                                              for k, v in pattern.items()}}
                    for model_id, patterns in snapshot["patterns"].items()
                    for pattern in patterns]
    pattern_columns = ["model_id", "pattern_type", "frequency", "amplitude", "phase",
                       "confidence", "start_time", "end_time", "metadata"]
    written: dict[str, list[Path]] = {}
    for fmt in chosen:
        if fmt is ExportFormat.TENSORBOARD:
            written[fmt.value] = [await export_tensorboard(client, out / "tensorboard",
                                                           "fusionlab")]
            continue
        write = _frame_writer(fmt.value)
        paths = [await client.download_anomalies(out / f"anomalies.{fmt.value}")]
        path = out / f"summary.{fmt.value}"
        if fmt is ExportFormat.JSON:
            path.write_text(json.dumps(summary, indent=1))
        else:
            write(pd.DataFrame(summary_rows, columns=["group", "name", "count"]), path)
        paths.append(path)
        path = out / f"patterns.{fmt.value}"
        write(pd.DataFrame(pattern_rows, columns=pattern_columns), path)
        paths.append(path)
        for model_id, matrix in snapshot["correlations"].items():
            if matrix is None:
                continue
            frame = pd.DataFrame(matrix["matrix"], columns=matrix["labels"])
            frame.insert(0, "feature", matrix["labels"])
            path = out / f"correlation_{model_id}.{fmt.value}"
            write(frame, path)
            paths.append(path)
        written[fmt.value] = paths
    return written


async def export_tensorboard(client, output_dir, run_name="fusionlab") -> Path:
    """TensorBoard scalars in ``output_dir/run_name``:

    - ``anomalies/score/<model>`` and ``anomalies/severity_score/<model>``:
      each stored anomaly at step ``seq``;
    - ``anomalies/count/<severity>``: counts at step 0;
    - ``scores/<model>``: each model's stored score series (downsampled to
      2,000 points), step = point index, wall time = the point's time when
      the series has times.
    """
    from .tensorboard import ScalarWriter

    if not isinstance(run_name, str) or not run_name or "/" in run_name or ".." in run_name:
        raise ValueError(f"`run_name` must be a plain folder name; received {run_name!r}.")
    folder = Path(output_dir) / run_name
    counts: dict[str, int] = {}
    with ScalarWriter(folder) as writer:
        model_ids = set()
        async for anomaly in client.iter_anomalies(since_seq=0):
            model = anomaly.model_id or "none"
            model_ids.add(anomaly.model_id)
            step = anomaly.seq if anomaly.seq is not None else anomaly.id
            writer.add_scalar(f"anomalies/score/{model}", anomaly.score, step)
            writer.add_scalar(f"anomalies/severity_score/{model}", anomaly.severity_score, step)
            counts[anomaly.severity.value] = counts.get(anomaly.severity.value, 0) + 1
        for severity in ("low", "medium", "high", "critical"):
            writer.add_scalar(f"anomalies/count/{severity}", counts.get(severity, 0), 0)
        for model in await client.list_models():
            try:
                series = await client.get_scores(model["model_id"])
            except Exception:  # a model without stored scores
                continue
            timed = series["time_unit"] == "ms"
            for i, (t, value) in enumerate(zip(series["timestamps"], series["scores"],
                                               strict=True)):
                writer.add_scalar(f"scores/{model['model_id']}", value, i,
                                  wall_time=t / 1000 if timed else None)
    return folder
