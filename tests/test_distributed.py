"""Many series: score_many with one shared detector, fit_many in processes and on Dask."""

import numpy as np
import pandas as pd
import pytest

from fusionlab.detection import AnomalyDetector
from fusionlab.distributed import ManyResult, ManySeriesError, fit_many, score_many
from fusionlab.distributed.series import as_series_map, safe_name

from distributed_helpers import DiesOnMarkedSeries

TINY = dict(model="conv_autoencoder", window=16, epochs=1, robust=False, validation_split=0,
            model_params={"filters": (4,), "latent_channels": 2}, random_state=0)


def sine(n, seed, features=1):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] + np.arange(features)[None, :] * 3
    return np.sin(2 * np.pi * t / 16) + rng.normal(0, 0.05, (n, features))


@pytest.fixture(scope="module")
def fitted():
    return AnomalyDetector(**TINY).fit(sine(200, 0))


def test_score_many_gives_the_scores_of_score_samples(fitted):
    fleet = {f"s{i}": sine(n, i)[:, 0] for i, n in enumerate([16, 40, 200, 33, 17, 90])}
    # Small chunks and batches: series share model calls and cross chunk edges.
    result = score_many(fitted, fleet, chunk_size=4, batch_size=64, progress=False)
    assert isinstance(result, ManyResult) and result.ok and list(result) == list(fleet)
    for sid, values in fleet.items():
        # the same arithmetic; only the model's kernels may round a window
        # another way at another place in a shared batch (float32 ulps)
        np.testing.assert_allclose(result[sid], fitted.score_samples(values), rtol=1e-6)


def test_score_many_compiled_with_xla_gives_the_same_scores_closely(fitted):
    fleet = {"a": sine(60, 1)[:, 0], "b": sine(90, 2)[:, 0]}
    result = score_many(fitted, fleet, jit_compile=True, progress=False)
    for sid, values in fleet.items():
        np.testing.assert_allclose(result[sid], fitted.score_samples(values), rtol=1e-5)
    assert not fitted.model_.jit_compile  # the detector is left as it was


def test_score_many_writes_scores_per_series(fitted, tmp_path):
    fleet = {"a/1": sine(40, 1)[:, 0], "b": sine(50, 2)[:, 0]}
    result = score_many(fitted, fleet, out_dir=tmp_path, progress=False)
    for sid, values in fleet.items():
        assert result[sid].startswith(str(tmp_path))
        np.testing.assert_allclose(np.load(result[sid]), fitted.score_samples(values),
                                   rtol=1e-6)


def test_score_many_keeps_pandas_indexes_and_reads_long_tables(fitted):
    stamps = pd.date_range("2024-01-01", periods=60, freq="min")
    frames = {k: pd.DataFrame({"x0": sine(60, i)[:, 0]}, index=stamps) for i, k in enumerate("ab")}
    result = score_many(fitted, frames, progress=False)
    pd.testing.assert_series_equal(result["a"], fitted.score_samples(frames["a"]))
    long = pd.concat([f.assign(sensor=k).reset_index(names="time") for k, f in frames.items()])
    long = long.sample(frac=1.0, random_state=0)  # any row order
    mapped = score_many(fitted, long, id_col="sensor", time_col="time", value_cols=["x0"],
                        progress=False)
    np.testing.assert_array_equal(mapped["b"].to_numpy(), result["b"].to_numpy())


def test_bad_series_fail_alone_with_their_reason(fitted):
    with_nan = sine(50, 1)[:, 0]
    with_nan[10] = np.nan
    fleet = {"good": sine(50, 2)[:, 0], "short": np.ones(5), "nan": with_nan,
             "two_features": sine(50, 3, features=2), "also_good": sine(70, 4)[:, 0]}
    result = score_many(fitted, fleet, progress=False)
    assert sorted(result) == ["also_good", "good"]
    assert {k: f.stage for k, f in result.failed.items()} == {
        "short": "input", "nan": "input", "two_features": "input"}
    assert "fewer than the window" in result.failed["short"].reason
    assert "NaN" in result.failed["nan"].reason
    assert "2 features" in result.failed["two_features"].reason
    summary = result.summary()
    assert summary.set_index("series_id").loc["nan", "status"] == "failed"
    with pytest.raises(KeyError, match="'short' failed at the input stage"):
        result["short"]
    with pytest.raises(ManySeriesError, match="3 of 5 series failed"):
        result.raise_if_failed()


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        score_many(None, {"a": np.ones(3)}, backend="spark")
    with pytest.raises(ValueError, match="id_col"):
        as_series_map(pd.DataFrame({"v": [1.0]}))
    with pytest.raises(TypeError, match="mapping"):
        as_series_map([np.ones(3)])
    with pytest.raises(ValueError, match="empty"):
        as_series_map({})
    with pytest.raises(TypeError, match="unfitted detector"):
        fit_many("lstm", {"a": np.ones(3)})
    assert safe_name("a/b") != safe_name("a_b") and "/" not in safe_name("a/b")
    # Ids that would share a file: 1 and "1" do not; "A" and "a" would on some
    # file systems and are refused before any work; long ids are cut.
    assert safe_name(1) != safe_name("1")
    assert len(safe_name("x" * 300)) < 100
    with pytest.raises(ValueError, match="'A' and 'a' would be written to the same file"):
        fit_many(AnomalyDetector(**TINY), {"A": np.ones(50), "a": np.ones(50)}, backend="serial")


def test_fit_many_in_processes_isolates_bad_series_and_dead_workers(tmp_path):
    fleet = {"pump 1": sine(120, 1)[:, 0], "pump/2": sine(120, 2)[:, 0], "short": np.ones(4)}
    marked = sine(120, 3)[:, 0]
    marked[0] = 666.0
    fleet["killer"] = marked
    result = fit_many(DiesOnMarkedSeries(**TINY), fleet, tmp_path, n_jobs=2, progress=False)
    assert sorted(result) == ["pump 1", "pump/2"]
    assert result.failed["short"].stage == "input"
    assert result.failed["killer"].stage == "worker"
    # Each archive holds the detector of its own series, as a fit here gives it.
    loaded = AnomalyDetector.load(result["pump/2"])
    direct = AnomalyDetector(**TINY).fit(fleet["pump/2"])
    # One thread per worker sums in another order than two here: equal to
    # rounding (scores near 0 differ by ~1e-11 in absolute terms).
    np.testing.assert_allclose(loaded.score_samples(fleet["pump/2"]),
                               direct.score_samples(fleet["pump/2"]), rtol=1e-6, atol=1e-9)
    assert {p.name for p in tmp_path.iterdir()} == {safe_name("pump 1") + ".zip",
                                                    safe_name("pump/2") + ".zip"}


def test_fit_many_serial(tmp_path):
    result = fit_many(AnomalyDetector(**TINY), {"a": sine(80, 0)[:, 0]}, tmp_path,
                      backend="serial", progress=False)
    assert result.ok and AnomalyDetector.load(result["a"]).window_ == 16


def test_dask_backend_fits_and_scores(tmp_path):
    distributed = pytest.importorskip("distributed")
    from fusionlab.distributed.dask_backend import dask_client

    fleet = {f"m{i}": sine(100, i)[:, 0] for i in range(3)}
    fleet["short"] = np.ones(3)
    # One LocalCluster of two single-threaded workers, as fit_many starts one.
    with dask_client(None, n_workers=2) as client:
        assert isinstance(client, distributed.Client)
        assert len(client.scheduler_info()["workers"]) == 2
        fits = fit_many(AnomalyDetector(**TINY), fleet, tmp_path, backend="dask",
                        client=client, progress=False)
        archive = fits["m0"]
        scores = score_many(archive, fleet, backend="dask", chunk_size=2, client=client,
                            progress=False)
    assert sorted(fits) == ["m0", "m1", "m2"] and fits.failed["short"].stage == "input"
    assert sorted(scores) == ["m0", "m1", "m2"] and scores.failed["short"].stage == "input"
    np.testing.assert_allclose(scores["m1"],
                               AnomalyDetector.load(archive).score_samples(fleet["m1"]),
                               rtol=1e-6)
