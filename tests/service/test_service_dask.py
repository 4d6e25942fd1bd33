"""`fusionlab serve --dask-scheduler ADDRESS`: the service's jobs on a Dask cluster (issue 19)."""

from __future__ import annotations

import httpx
import pytest

from fusionlab.service.config import Settings
from fusionlab.service.launch import LocalServer

from .conftest import make_sheet, wait_job


@pytest.fixture(scope="module")
def dask_server(tmp_path_factory):
    distributed = pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        server = LocalServer(folder / "data",
                             args=["--dask-scheduler", cluster.scheduler_address]).start()
        try:
            yield server, folder, cluster
        finally:
            server.stop()


def test_a_dataset_scan_runs_on_the_dask_cluster(dask_server):
    server, folder, cluster = dask_server
    sheet = make_sheet(folder / "sheet.xlsx", n=200, seed=4, outlier_rows=(9,))
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/health").json()["jobs"] == "dask"
        with open(sheet, "rb") as handle:
            answer = http.post("/api/datasets/upload", files={"file": ("sheet.xlsx", handle)})
        job = wait_job(http, answer.json()["job_id"], timeout=120)
        assert job["status"] == "completed", job
        rows = http.get("/api/anomalies", params={"dataset_id": answer.json()["dataset_id"],
                                                  "limit": 1000}).json()["anomalies"]
        assert len(rows) == job["anomaly_count"] > 0
        assert max(rows, key=lambda r: r["score"])["location"]["row_index"] == 9
    # The task ran on the cluster (its scheduler saw it), not in the server.
    assert any("fusionlab" in name for name in cluster.scheduler.task_prefixes)


def test_dask_jobs_need_a_scheduler():
    with pytest.raises(ValueError, match="--dask-scheduler"):
        Settings(jobs="dask")
