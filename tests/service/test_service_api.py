"""The REST contract against a real uvicorn server on SQLite."""

from __future__ import annotations

import io
import json
import time
import zipfile

import httpx
import numpy as np
import pandas as pd
import pytest

from .conftest import wait_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def populated(server, files, detector_archive):
    """A scanned workbook, a model fitted by the server (with labels), an
    uploaded archive scoring the same series."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        with open(files["sheet"], "rb") as handle:
            scan = http.post("/api/datasets/upload", files={"file": ("sales.xlsx", handle)},
                             data={"params": json.dumps({"method": "isolation_forest"})})
        assert scan.status_code == 202, scan.text
        with open(files["series"], "rb") as handle:
            fit = http.post("/api/models", files={"series": ("series.csv", handle)}, data={
                "time_column": "time", "label_column": "label", "series_id": "plant-1",
                "params": json.dumps(
                    {"model": "conv_autoencoder", "window": 16, "epochs": 1,
                     "robust": False})})
        assert fit.status_code == 202, fit.text
        with open(detector_archive, "rb") as handle:
            upload = http.post("/api/models", files={"file": ("det.zip", handle)},
                               data={"name": "uploaded"})
        assert upload.status_code == 202, upload.text
        jobs = {name: wait_job(http, answer.json()["job_id"])
                for name, answer in (("scan", scan), ("fit", fit), ("upload", upload))}
        assert all(j["status"] == "completed" for j in jobs.values()), jobs
        with open(files["series"], "rb") as handle:
            scored = http.post("/api/datasets/upload", files={"file": ("series.csv", handle)},
                               data={"model_id": upload.json()["model_id"],
                                     "time_column": "time", "label_column": "label",
                                     "series_id": "plant-1",
                                     "columns": json.dumps(["a", "b"])})
        assert scored.status_code == 202, scored.text
        jobs["score"] = wait_job(http, scored.json()["job_id"])
        assert jobs["score"]["status"] == "completed", jobs["score"]
        return {"scan": scan.json(), "fit": fit.json(), "upload": upload.json(),
                "score": scored.json(), "jobs": jobs}


def all_records(http, **params):
    out, cursor = [], None
    while True:
        page = http.get("/api/anomalies", params={**params, "limit": 7,
                                                  **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        out.extend(body["anomalies"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def test_health_reports_the_database(http):
    body = http.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "sqlite"
    assert body["schema"] == "0002" and body["auth"] == "local"


def test_scan_stores_each_anomalous_row_with_its_cells(http, populated):
    dataset = http.get(f"/api/datasets/{populated['scan']['dataset_id']}").json()
    assert dataset["status"] == "completed" and dataset["rows"] == 300
    rows = all_records(http, dataset_id=dataset["dataset_id"])
    assert len(rows) == dataset["anomaly_count"] == populated["jobs"]["scan"]["anomaly_count"]
    assert rows and all(r["anomaly_type"] == "row" for r in rows)
    worst = max(rows, key=lambda r: r["score"])
    assert worst["location"]["row_index"] == 7 and worst["location"]["sheet_name"] == "sales"
    assert worst["metadata"]["raw_data"]["amount"] == 10_000.0
    assert worst["metadata"]["anomalous_features"][0]["feature_name"] == "amount"
    assert worst["layer"] == "amount" and "row 7 of sheet 'sales'" in worst["description"]


def test_fitted_model_is_ready_and_its_events_are_stored(http, populated):
    model = http.get(f"/api/models/{populated['fit']['model_id']}").json()
    assert model["status"] == "ready" and model["window"] == 16
    assert model["feature_names"] == ["a", "b"] and model["fit_seconds"] > 0
    events = all_records(http, model_id=model["model_id"])
    assert len(events) == populated["jobs"]["fit"]["anomaly_count"] > 0
    # the injected bump (indices 300-305) is found, in time (ISO) and index terms
    bump = [e for e in events if e["location"]["start_index"] <= 305
            and e["location"]["end_index"] >= 300]
    assert bump and bump[0]["location"]["start"].startswith("2024-01-01T")
    start = pd.Timestamp(bump[0]["location"]["start"])
    end = pd.Timestamp(bump[0]["location"]["end"])
    peak = pd.Timestamp(bump[0]["timestamp"], unit="ms")
    assert start <= peak <= end


def test_listing_filters(http, populated):
    everything = all_records(http)
    assert len({r["id"] for r in everything}) == len(everything)
    for severity in ("low", "critical"):
        chosen = all_records(http, severity=severity)
        assert chosen == [r for r in everything if r["severity"] == severity]
    ranks = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    assert all_records(http, min_severity="medium") == [
        r for r in everything if ranks[r["severity"]] >= 1]
    assert all_records(http, anomaly_type="row") == [
        r for r in everything if r["anomaly_type"] == "row"]
    model_id = populated["fit"]["model_id"]
    mine = all_records(http, model_id=model_id)
    assert mine == [r for r in everything if r["model_id"] == model_id]
    stamps = sorted(r["timestamp"] for r in mine)
    low, high = stamps[0], stamps[len(stamps) // 2]
    window = all_records(http, model_id=model_id, start=str(low), end=str(high))
    assert window == [r for r in mine if low <= r["timestamp"] <= high]
    iso = pd.Timestamp(high, unit="ms").isoformat() + "Z"
    assert all_records(http, model_id=model_id, end=iso) == [
        r for r in mine if r["timestamp"] <= high]


def test_pages_are_newest_first_and_since_seq_is_in_seq_order(http, populated):
    everything = all_records(http)
    keys = [(r["timestamp"], r["id"]) for r in everything]
    assert keys == sorted(keys, reverse=True)
    after = http.get("/api/anomalies", params={"since_seq": 3, "limit": 1000}).json()
    seqs = [r["seq"] for r in after["anomalies"]]
    assert seqs == sorted(s for s in (r["seq"] for r in everything) if s > 3)


def test_single_record_and_unknown_id(http, populated):
    first = all_records(http)[0]
    assert http.get(f"/api/anomalies/{first['id']}").json() == first
    missing = http.get("/api/anomalies/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    huge = http.get(f"/api/anomalies/{10**30}")
    assert huge.status_code == 422 and "anomaly_id" in huge.json()["detail"]


@pytest.mark.parametrize("params, status, words", [
    ({"severity": "huge"}, 422, "`severity` must be one or more of"),
    ({"min_severity": "urgent"}, 422, "`min_severity` must be one of"),
    ({"anomaly_type": "blip"}, 422, "`anomaly_type` must be one or more of"),
    ({"limit": "-5"}, 422, "query parameter `limit`: Input should be greater than or equal to 1"),
    ({"limit": "5000"}, 422, "`limit` must be at most 1000"),
    ({"limit": "ten"}, 422, "query parameter `limit`: Input should be a valid integer"),
    ({"cursor": "not-a-cursor"}, 400, "`cursor` is malformed"),
    ({"cursor": "eyJ4IjoxfQ=="}, 400, "`cursor` is malformed"),
    ({"start": "yesterday"}, 422, "`start` must be epoch milliseconds or an ISO 8601 time"),
    ({"start": "2000", "end": "1000"}, 422, "must not be after `end`"),
    ({"since_seq": "-1"}, 422, "query parameter `since_seq`"),
    ({"since_seq": str(10**30)}, 422, "query parameter `since_seq`"),
    ({"start": str(10**30)}, 422, "`start` is out of range"),
    ({"cursor": "eyJ0IjoxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwLCJpIjoxfQ=="}, 400, "malformed"),
])
def test_bad_listing_parameters_get_4xx_saying_what_is_wrong(http, params, status, words):
    answer = http.get("/api/anomalies", params=params)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]


def test_exports_stream_every_record_in_three_formats(http, populated, tmp_path):
    everything = sorted(all_records(http), key=lambda r: r["id"])
    csv_text = http.get("/api/anomalies/export", params={"format": "csv"}).text
    frame = pd.read_csv(io.StringIO(csv_text))
    assert frame["id"].tolist() == [r["id"] for r in everything]
    assert frame["severity"].tolist() == [r["severity"] for r in everything]
    as_json = http.get("/api/anomalies/export", params={"format": "json"}).json()
    assert as_json == everything
    answer = http.get("/api/anomalies/export", params={"format": "parquet",
                                                        "severity": "low"})
    table = pd.read_parquet(io.BytesIO(answer.content))
    assert table["id"].tolist() == [r["id"] for r in everything if r["severity"] == "low"]
    assert json.loads(table["metadata"].iloc[0]) == next(
        r for r in everything if r["severity"] == "low")["metadata"]
    bad = http.get("/api/anomalies/export", params={"format": "xls"})
    assert bad.status_code == 422 and "`format` must be one of" in bad.json()["detail"]


def test_saved_filter_applies_to_listing_and_export_then_clears(http, populated):
    model_id = populated["fit"]["model_id"]
    saved = http.post("/api/filter", json={"model_ids": [model_id],
                                           "intensity_range": [1.0, 1e9]})
    assert saved.status_code == 200 and saved.json()["filter"]["model_ids"] == [model_id]
    try:
        listed = all_records(http)
        assert listed and {r["model_id"] for r in listed} == {model_id}
        exported = http.get("/api/anomalies/export", params={"format": "json"}).json()
        assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in listed)
        bounded = http.post("/api/filter", json={"spatial_bounds": {"time": [300, 305]}})
        assert bounded.status_code == 200
        assert all(r["location"]["start_index"] <= 305 and r["location"]["end_index"] >= 300
                   for r in all_records(http))
    finally:
        assert http.post("/api/filter", json={}).json() == {"filter": {}}
    assert len(all_records(http)) > len(listed)


@pytest.mark.parametrize("body, words", [
    ({"intensity_range": [3, 1]}, "low <= high"),
    ({"spatial_bounds": {"time": [0.5, 2]}}, "pair of integers"),
    ({"time_range": ["soon", None]}, "epoch milliseconds or an ISO 8601"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
])
def test_bad_filters_are_refused(http, body, words):
    answer = http.post("/api/filter", json=body)
    assert answer.status_code == 422 and words in answer.json()["detail"]


def test_theme_and_layout_round_trip_and_are_checked(http):
    assert http.post("/api/theme", json={"theme": "plasma"}).json() == {"theme": "plasma"}
    assert http.get("/api/theme").json() == {"theme": "plasma"}
    bad = http.post("/api/theme", json={"theme": "neon"})
    assert bad.status_code == 422 and "thermal" in bad.json()["detail"]
    layout = {"panels": [{"id": "heatmap", "x": 0}]}
    assert http.post("/api/layout", json={"layout": layout}).json() == {"layout": layout}
    assert http.get("/api/layout").json() == {"layout": layout}


def test_temporal_patterns_and_statistics(http, populated):
    model_id = populated["fit"]["model_id"]
    body = http.get("/api/temporal", params={"model_id": model_id}).json()
    assert body["model_id"] == model_id and body["time_unit"] == "ms"
    for pattern in body["patterns"]:
        assert pattern["pattern_type"] in ("periodic", "trend", "state_change")
        assert 0 <= pattern["confidence"] <= 1 and pattern["start_time"] <= pattern["end_time"]
    stats = http.get("/api/temporal/stats", params={"model_id": model_id}).json()
    assert stats["points"] == 480 and 0 < stats["anomaly_rate"] < 0.5
    assert stats["anomaly_count"] == populated["jobs"]["fit"]["anomaly_count"]
    assert sum(stats["counts_by_severity"].values()) == stats["anomaly_count"]
    only = http.get("/api/temporal", params={"model_id": model_id,
                                             "pattern_types": "state_change"}).json()
    assert all(p["pattern_type"] == "state_change" for p in only["patterns"])
    bad = http.get("/api/temporal", params={"model_id": model_id, "pattern_types": "cyclic"})
    assert bad.status_code == 422 and "`pattern_types`" in bad.json()["detail"]


def test_correlation_of_features_and_of_models(http, populated):
    fitted, uploaded = populated["fit"]["model_id"], populated["upload"]["model_id"]
    features = http.get("/api/correlation", params={"model_ids": fitted}).json()
    assert features["labels"] == ["a", "b"] and features["metadata"]["kind"] == "features"
    matrix = np.array(features["matrix"])
    assert matrix.shape == (2, 2) and np.allclose(np.diag(matrix), 1)
    assert np.allclose(matrix, matrix.T)
    models = http.get("/api/correlation", params={"model_ids": f"{fitted},{uploaded}"}).json()
    assert models["labels"] == [fitted, uploaded] and models["metadata"]["kind"] == "models"
    assert models["metadata"]["series_id"] == "plant-1"
    tabular = populated["scan"]["model_id"]
    answer = http.get("/api/correlation", params={"model_ids": f"{fitted},{tabular}"})
    assert answer.status_code == 409 and "common series" in answer.json()["detail"]
    answer = http.get("/api/correlation", params={"model_ids": fitted, "layer_ids": "zzz"})
    assert answer.status_code == 422 and "'zzz'" in answer.json()["detail"]


def test_compare_two_models_on_labelled_data(http, populated):
    fitted, uploaded = populated["fit"]["model_id"], populated["upload"]["model_id"]
    body = http.post("/api/compare", json={"model_ids": [fitted, uploaded]}).json()
    for model_id in (fitted, uploaded):
        entry = body["models"][model_id]
        assert 0 <= entry["vus_pr"] <= 1 and 0 <= entry["auc_pr"] <= 1
        assert 0 <= entry["f1"] <= 1
        assert entry["score_statistics"]["n_points"] == 480
        assert sum(entry["counts_by_severity"].values()) == entry["anomaly_count"]
    assert body["models"][fitted]["fit_seconds"] > 0
    assert np.array(body["similarity_matrix"]).shape == (2, 2)
    only = http.post("/api/compare", json={"model_ids": [fitted], "metrics": ["counts"]}).json()
    assert "vus_pr" not in only["models"][fitted] and "counts_by_severity" in only["models"][fitted]
    bad = http.post("/api/compare", json={"model_ids": [fitted], "metrics": ["accuracy"]})
    assert bad.status_code == 422 and "metrics" in bad.json()["detail"]


@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "/api/models/mdl_nope", {}),
    ("GET", "/api/temporal", {"params": {"model_id": "mdl_nope"}}),
    ("GET", "/api/temporal/stats", {"params": {"model_id": "mdl_nope"}}),
    ("GET", "/api/correlation", {"params": {"model_ids": "mdl_nope"}}),
    ("POST", "/api/compare", {"json": {"model_ids": ["mdl_nope"]}}),
    ("GET", "/api/jobs/job_nope", {}),
    ("GET", "/api/datasets/ds_nope", {}),
])
def test_unknown_ids_get_404_naming_them(http, method, path, kwargs):
    answer = http.request(method, path, **kwargs)
    assert answer.status_code == 404, answer.text
    assert "_nope" in answer.json()["detail"]


def test_scoring_with_an_unknown_or_tabular_model_is_refused(http, files, populated):
    with open(files["series"], "rb") as handle:
        answer = http.post("/api/datasets/upload", files={"file": ("s.csv", handle)},
                           data={"model_id": "mdl_nope"})
    assert answer.status_code == 404 and "mdl_nope" in answer.json()["detail"]
    with open(files["series"], "rb") as handle:
        answer = http.post("/api/datasets/upload", files={"file": ("s.csv", handle)},
                           data={"model_id": populated["scan"]["model_id"]})
    assert answer.status_code == 409 and "tabular" in answer.json()["detail"]


def test_correlation_export_is_confined_to_the_export_folder(http, populated, server):
    written = http.post("/api/export/correlation", json={
        "filename": "corr.csv", "model_ids": [populated["fit"]["model_id"]]})
    assert written.status_code == 200, written.text
    assert (server.data_dir / "exports" / "corr.csv").is_file()
    downloaded = http.get(written.json()["url"])
    assert downloaded.status_code == 200 and downloaded.text.startswith(",a,b")
    for name in ("../escape.csv", "/etc/passwd.csv", "a/b.csv", "..csv", ".hidden.csv"):
        answer = http.post("/api/export/correlation", json={"filename": name})
        assert answer.status_code == 400, name
        assert "`filename` must be a plain file name" in answer.json()["detail"]
    assert not (server.data_dir / "escape.csv").exists()
    wrong = http.post("/api/export/correlation", json={"filename": "c.json", "format": "csv"})
    assert wrong.status_code == 400 and "must end with" in wrong.json()["detail"]
    missing = http.get("/api/exports/..%2F..%2Fetc%2Fpasswd")
    assert missing.status_code in (400, 404)


def test_scores_are_downsampled_keeping_peaks(http, populated):
    model_id = populated["fit"]["model_id"]
    body = http.get("/api/scores", params={"model_id": model_id, "max_points": 48,
                                           "contributions": "true"}).json()
    assert body["n_points"] == 480 and len(body["scores"]) == 48
    assert len(body["contributions"]) == 48 and len(body["contributions"][0]) == 2
    full = http.get("/api/scores", params={"model_id": model_id, "max_points": 480}).json()
    assert max(body["scores"]) == pytest.approx(max(full["scores"]))


def test_metrics_are_prometheus_text(http, populated):
    text = http.get("/metrics").text
    assert "# TYPE fusionlab_http_requests_total counter" in text
    assert 'fusionlab_jobs{status="completed"}' in text
    assert "fusionlab_anomalies " in text


# ---------------------------------------------------------------- uploads
def test_oversized_upload_is_refused_with_413(http, files):
    blob = b"x," * (1_200_000)  # 2.4 MB, over the 2 MiB limit of this server
    answer = http.post("/api/datasets/upload", files={"file": ("big.csv", blob)})
    assert answer.status_code == 413
    assert "larger than the server's limit" in answer.json()["detail"]


def test_zip_bomb_workbook_is_refused_before_parsing(http, files, tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (600 * 1024 * 1024))
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with open(bomb, "rb") as handle:
        answer = http.post("/api/datasets/upload", files={"file": ("bomb.xlsx", handle)})
    assert answer.status_code == 413
    assert "zip bomb" in answer.json()["detail"] or "expands to" in answer.json()["detail"]


@pytest.mark.parametrize("name, content, status, words", [
    ("data.xls", b"abc", 415, "must be one of"),
    ("data.xlsx", b"not a zip at all", 400, "not a valid zip archive"),
    ("data.parquet", b"not parquet", 400, "not a Parquet file"),
    ("data.csv", b"", 400, "empty"),
])
def test_bad_files_are_refused(http, name, content, status, words):
    answer = http.post("/api/datasets/upload", files={"file": (name, content)})
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]


@pytest.mark.parametrize("data, words", [
    ({"params": "{not json"}, "form field `params` must be a JSON object"),
    ({"params": json.dumps({"method": "magic"})}, "form field `params.method`"),
    ({"params": json.dumps({"threshold_percentile": 10})}, "params.threshold_percentile"),
    ({"columns": "amount"}, "form field `columns` must be JSON text"),
    ({"colour": "red"}, "form field `colour`"),
])
def test_bad_upload_fields_get_422(http, files, data, words):
    with open(files["sheet"], "rb") as handle:
        answer = http.post("/api/datasets/upload", files={"file": ("s.xlsx", handle)},
                           data=data)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["detail"]


@pytest.mark.parametrize("smoothing", ["wide", 0.7, True])
def test_a_bad_smoothing_of_a_fit_gets_422(http, files, smoothing):
    with open(files["series"], "rb") as handle:
        answer = http.post("/api/models", files={"series": ("series.csv", handle)}, data={
            "time_column": "time", "params": json.dumps({"smoothing": smoothing})})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert ("form field `params.smoothing`: Value error, must be 'model', 'window', a number "
            "in [0, 0.5]") in detail
    assert detail.count("received") == 1


def test_upload_without_multipart_or_file_is_400(http):
    answer = http.post("/api/datasets/upload", json={"file": "x"})
    assert answer.status_code == 400 and "multipart/form-data" in answer.json()["detail"]
    answer = http.post("/api/datasets/upload", files={"other": ("a.csv", b"a\n1\n")})
    assert answer.status_code == 400 and "file field 'other'" in answer.json()["detail"]


def test_archive_checks(http, files, tmp_path):
    not_detector = tmp_path / "x.zip"
    with zipfile.ZipFile(not_detector, "w") as archive:
        archive.writestr("config.json", "{}")
    with open(not_detector, "rb") as handle:
        answer = http.post("/api/models", files={"file": ("x.zip", handle)})
    assert answer.status_code == 400 and "model.keras" in answer.json()["detail"]
    answer = http.post("/api/models", files={"file": ("model.pkl", b"\x80\x04")})
    assert answer.status_code == 415 and "AnomalyDetector.save" in answer.json()["detail"]
    with open(files["series"], "rb") as handle:
        answer = http.post("/api/models", files={"series": ("s.csv", handle)},
                           data={"params": json.dumps({"model": "transformer"})})
    assert answer.status_code == 422 and "params.model" in answer.json()["detail"]


def test_a_failed_job_records_its_error_and_stores_nothing(http, tmp_path):
    text_only = tmp_path / "words.csv"
    pd.DataFrame({"name": [f"n{i}" for i in range(50)]}).to_csv(text_only, index=False)
    before = http.get("/api/anomalies/export", params={"format": "json"}).json()
    with open(text_only, "rb") as handle:
        answer = http.post("/api/models", files={"series": ("words.csv", handle)},
                           data={"params": json.dumps({"model": "conv_autoencoder",
                                                       "epochs": 1})})
    job = wait_job(http, answer.json()["job_id"])
    assert job["status"] == "failed"
    assert "no numeric column" in job["error_message"]
    model = http.get(f"/api/models/{answer.json()['model_id']}").json()
    dataset = http.get(f"/api/datasets/{answer.json()['dataset_id']}").json()
    assert model["status"] == "failed" and dataset["status"] == "failed"
    assert "no numeric column" in dataset["error_message"]
    after = http.get("/api/anomalies/export", params={"format": "json"}).json()
    assert after == before


def test_cancel_a_queued_job_and_refuse_cancelling_a_finished_one(http, populated):
    done = http.post(f"/api/jobs/{populated['scan']['job_id']}/cancel")
    assert done.status_code == 409 and "completed" in done.json()["detail"]
    assert http.post("/api/jobs/job_nope/cancel").status_code == 404


def test_streaming_ingest_of_an_unknown_series_needs_its_model(http):
    # Was the 501 placeholder until the streaming issue (16) served the route.
    answer = http.post("/api/series/s1/points", json={"points": [1, 2]})
    assert answer.status_code == 404 and "give `model_id`" in answer.json()["detail"]


def test_tables_over_the_row_cap_are_refused_before_parsing(http, tmp_path):
    big = tmp_path / "rows.csv"
    pd.DataFrame({"x": np.arange(1500)}).to_csv(big, index=False)
    with open(big, "rb") as handle:
        answer = http.post("/api/datasets/upload", files={"file": ("rows.csv", handle)})
    assert answer.status_code == 413
    assert "1500 rows, more than the server's limit of 1000" in answer.json()["detail"]


def test_cancelling_a_running_job_stores_nothing(http, files):
    with open(files["series"], "rb") as handle:
        answer = http.post("/api/models", files={"series": ("series.csv", handle)}, data={
            "params": json.dumps({"model": "lstm_autoencoder", "window": 16, "epochs": 200,
                                  "robust": False})}).json()
    job_id = answer["job_id"]
    deadline = time.monotonic() + 120
    while http.get(f"/api/jobs/{job_id}").json()["message"] in ("queued", "started",
                                                                 "reading the data"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancel = http.post(f"/api/jobs/{job_id}/cancel")
    assert cancel.status_code in (200, 202), cancel.text
    job = wait_job(http, job_id)
    assert job["status"] == "cancelled" and job["error_message"] == "cancelled"
    assert http.get("/api/anomalies", params={"dataset_id": answer["dataset_id"]}).json()[
        "anomalies"] == []
    assert http.get(f"/api/models/{answer['model_id']}").json()["status"] == "failed"


def test_websocket_errors_say_what_was_wrong(server):
    import asyncio

    import websockets

    async def scenario():
        async with websockets.connect(server.url.replace("http", "ws") + "/ws") as ws:
            async def ask(text):
                await ws.send(text)
                return json.loads(await ws.recv())

            assert (await ask("not json"))["data"]["code"] == "bad_message"
            answer = await ask(json.dumps({"type": "dance", "id": "d1"}))
            assert answer["data"]["code"] == "unknown_type" and answer["id"] == "d1"
            assert "subscribe_" in answer["data"]["message"]
            answer = await ask(json.dumps({"type": "ingest", "data": {"points": [1]}}))
            assert answer["data"]["code"] == "bad_request" and "series_id" in answer[
                "data"]["message"]
            answer = await ask(json.dumps({"type": "subscribe_jobs", "data": {"since_seq": 1}}))
            assert answer["data"]["code"] == "bad_request" and "since_seq" in answer[
                "data"]["message"]
            answer = await ask(json.dumps({"type": "subscribe_anomalies",
                                           "data": {"model_ids": "m1"}}))
            assert "`model_ids` must be a list" in answer["data"]["message"]
            answer = await ask(json.dumps({"type": "subscribe_anomalies",
                                           "data": {"since_seq": -4}}))
            assert "`since_seq` must be an integer >= 0" in answer["data"]["message"]
            answer = await ask(json.dumps({"type": "subscribe_anomalies", "id": "a",
                                           "data": {"model_ids": ["no-such-model"]}}))
            assert answer["type"] == "subscribed" and answer["id"] == "a"
            assert isinstance(answer["data"]["last_seq"], int) and answer["data"]["last_seq"] >= 0
            answer = await ask(json.dumps({"type": "subscribe_heatmap", "id": "h"}))
            assert answer == {"type": "subscribed", "id": "h", "data": {"channel": "heatmap"}}
            answer = await ask(json.dumps({"type": "unsubscribe_heatmap", "id": "u"}))
            assert answer["type"] == "unsubscribed"

    asyncio.run(asyncio.wait_for(scenario(), 30))
