"""Synthetic generators and the local NAB reader."""

import json

import numpy as np
import pandas as pd
import pytest

from fusionlab.datasets import (
    SEQUENCE_ANOMALY_KINDS,
    SERVER_INCIDENTS,
    list_nab,
    load_nab,
    make_sequence_anomalies,
    make_server_metrics,
    make_sine_anomalies,
)

# ---------------------------------------------------------------- sine series


def test_sine_defaults_reproduce_the_exercise_series():
    df = make_sine_anomalies()
    assert list(df.columns) == ["time", "value", "label"]
    t = np.arange(0, 200, 0.5)
    np.testing.assert_array_equal(df["time"].to_numpy(), t)
    expected_labels = np.zeros(400, dtype=int)
    expected_labels[50:60] = 1
    expected_labels[150:155] = 1
    np.testing.assert_array_equal(df["label"].to_numpy(), expected_labels)
    # Default seed: numpy's default_rng(42).
    noise = np.random.default_rng(42).normal(0, 0.1, 400)
    expected = np.sin(t) + noise
    expected[50:60] += 2.0
    expected[150:155] -= 1.5
    np.testing.assert_allclose(df["value"].to_numpy(), expected)


def test_sine_legacy_random_state_matches_np_random_seed():
    df = make_sine_anomalies(random_state=np.random.RandomState(42))
    # The exercise's legacy idiom, on purpose.
    np.random.seed(42)  # noqa: NPY002
    t = np.arange(0, 200, 0.5)
    legacy = np.sin(t) + np.random.normal(0, 0.1, len(t))  # noqa: NPY002
    legacy[50:60] += 2.0
    legacy[150:155] -= 1.5
    np.testing.assert_array_equal(df["value"].to_numpy(), legacy)


def test_sine_seeds_and_custom_anomalies():
    a = make_sine_anomalies(random_state=1)
    b = make_sine_anomalies(random_state=1)
    c = make_sine_anomalies(random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["value"], c["value"])
    clean = make_sine_anomalies(n_points=100, step=0.1, noise=0.0, anomalies=[(0, 1, 5.0)])
    assert clean["label"].tolist() == [1] + [0] * 99
    np.testing.assert_allclose(clean["value"].iloc[1:], np.sin(np.arange(1, 100) * 0.1))
    assert clean["value"].iloc[0] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_points": 0}, ValueError, "n_points"),
        ({"step": -1.0}, ValueError, "step"),
        ({"noise": np.nan}, ValueError, "noise"),
        ({"anomalies": [(390, 401, 1.0)]}, ValueError, r"anomalies\[0\]"),
        ({"anomalies": [(10, 5, 1.0)]}, ValueError, "start < end"),
        ({"anomalies": [(1, 2)]}, ValueError, "start, end, magnitude"),
        ({"anomalies": [(1, 2, np.inf)]}, ValueError, "magnitude"),
        ({"anomalies": None}, TypeError, "`anomalies` must be a sequence"),
        ({"anomalies": [(True, 5, 1.0)]}, ValueError, "integers"),
        ({"noise": "a"}, TypeError, "`noise` must be a number"),
        ({"random_state": "seed"}, TypeError, "random_state"),
        ({"random_state": -3}, ValueError, "random_state"),
    ],
)
def test_sine_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_sine_anomalies(**kwargs)


# ---------------------------------------------------------------- sequences


def test_sequences_shapes_labels_and_kinds():
    data = make_sequence_anomalies(120, 24, 3, anomaly_ratio=0.25, random_state=0)
    X, labels, kinds, deltas = data
    assert X.shape == (120, 24, 3) and X.dtype == np.float32
    assert labels.shape == (120,) and set(np.unique(labels)) == {0, 1}
    assert labels.sum() == 30
    assert deltas is None
    assert set(kinds[labels == 1]) <= set(SEQUENCE_ANOMALY_KINDS)
    assert set(kinds[labels == 0]) == {"normal"}
    assert np.isfinite(X).all()


def test_sequence_anomalies_stand_out():
    data = make_sequence_anomalies(400, 40, 2, anomaly_ratio=0.2, noise=0.05, random_state=3)
    # Normal windows are sines with little noise: bounded by ~1.2.
    peak = np.abs(data.X).max(axis=(1, 2))
    assert peak[data.labels == 0].max() < 1.3
    for kind in SEQUENCE_ANOMALY_KINDS:
        assert (data.kinds == kind).any()
        assert np.median(peak[data.kinds == kind]) > 1.5


def test_sequences_irregular_deltas():
    data = make_sequence_anomalies(50, 16, 2, irregular=True, random_state=0)
    assert data.time_deltas.shape == (50, 16, 1)
    assert data.time_deltas.dtype == np.float32
    assert (data.time_deltas >= 0.5).all() and (data.time_deltas < 1.5).all()
    assert 0.9 < data.time_deltas.mean() < 1.1
    regular = make_sequence_anomalies(50, 16, 2, random_state=0)
    assert not np.allclose(regular.X, data.X)


def test_sequences_reproducible_and_ratio_extremes():
    a = make_sequence_anomalies(30, 8, 2, random_state=7)
    b = make_sequence_anomalies(30, 8, 2, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.kinds, b.kinds)
    assert make_sequence_anomalies(10, 8, 1, anomaly_ratio=0.0, random_state=0).labels.sum() == 0
    assert make_sequence_anomalies(10, 8, 1, anomaly_ratio=1.0, random_state=0).labels.sum() == 10


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"seq_length": 3}, ValueError, "seq_length"),
        ({"n_features": 1.5}, TypeError, "n_features"),
        ({"anomaly_ratio": 1.2}, ValueError, "anomaly_ratio"),
        ({"irregular": "yes"}, TypeError, "irregular"),
        ({"noise": -0.1}, ValueError, "noise"),
    ],
)
def test_sequences_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_sequence_anomalies(**kwargs)


# ---------------------------------------------------------------- server metrics


def test_server_metrics_columns_incidents_and_shape():
    df = make_server_metrics(random_state=0)
    assert list(df.columns) == ["timestamp", "cpu", "memory", "network", "response_time",
                                "label", "incident"]
    assert len(df) == 2016
    assert df["timestamp"].diff().iloc[1:].eq(pd.Timedelta("5min")).all()
    assert (df["label"] == (df["incident"] != "none")).all()
    assert set(df["incident"]) == {"none", *SERVER_INCIDENTS}
    by = df.groupby("incident")
    normal = by.get_group("none")
    assert by.get_group("cpu_memory")["cpu"].min() > 85
    assert by.get_group("network_latency")["network"].mean() < 0.5 * normal["network"].mean()
    assert by.get_group("network_latency")["response_time"].min() > normal[
        "response_time"].quantile(0.99)
    leak = by.get_group("cpu_memory")["memory"].to_numpy()
    assert leak[-1] - leak[0] > 15  # memory keeps climbing through the incident
    # Each incident is one contiguous run of 12-36 points.
    for kind in SERVER_INCIDENTS:
        index = np.flatnonzero(df["incident"] == kind)
        assert 12 <= len(index) <= 36 and np.all(np.diff(index) == 1)


def test_server_metrics_daily_shape():
    df = make_server_metrics(n_points=288 * 5, incidents=(), random_state=1)
    assert df["label"].sum() == 0
    hour = df["timestamp"].dt.hour
    assert df.loc[hour == 14, "cpu"].mean() > 2 * df.loc[hour == 4, "cpu"].mean()
    assert df.loc[hour == 14, "network"].mean() > 2 * df.loc[hour == 4, "network"].mean()
    assert df[["cpu", "memory"]].le(100).all().all() and (df["network"] >= 0).all()


def test_server_metrics_reproducible_and_options():
    a = make_server_metrics(n_points=500, freq="1min", random_state=5)
    b = make_server_metrics(n_points=500, freq="1min", random_state=5)
    pd.testing.assert_frame_equal(a, b)
    one = make_server_metrics(n_points=300, incidents="instability", incident_points=(5, 5),
                              random_state=0)
    assert one["label"].sum() == 5 and set(one["incident"]) == {"none", "instability"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"incidents": ("meteor",)}, "incidents"),
        ({"incident_points": (10, 5)}, "incident_points"),
        ({"incident_points": (0, 5)}, "incident_points"),
        ({"n_points": 50}, "too small"),
        ({"freq": "fortnightly-ish"}, "freq"),
    ],
)
def test_server_metrics_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_server_metrics(**kwargs)


def test_server_metrics_without_an_incident_list():
    with pytest.raises(TypeError, match="`incidents` must be a name or a sequence"):
        make_server_metrics(incidents=None)


# ---------------------------------------------------------------- NAB


@pytest.fixture
def tiny_nab(tmp_path):
    """A two-category NAB-style corpus written by the test itself."""
    root = tmp_path / "nab"
    (root / "data" / "artificialWithAnomaly").mkdir(parents=True)
    (root / "data" / "realTraffic").mkdir(parents=True)
    (root / "labels").mkdir()
    times = pd.date_range("2014-04-01", periods=10, freq="5min")
    pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"),
                  "value": np.arange(10.0)}).to_csv(
        root / "data" / "artificialWithAnomaly" / "art_a.csv", index=False)
    pd.DataFrame({"timestamp": times[:4].strftime("%Y-%m-%d %H:%M:%S"),
                  "value": [1, 2, 3, 4]}).to_csv(
        root / "data" / "realTraffic" / "speed.csv", index=False)
    windows = {
        # Inclusive window: 00:10 .. 00:20 covers rows 2, 3, 4.
        "artificialWithAnomaly/art_a.csv": [
            ["2014-04-01 00:10:00.000000", "2014-04-01 00:20:00.000000"],
            ["2014-04-01 00:45:00.000000", "2014-04-01 01:30:00.000000"],
        ],
        "realTraffic/speed.csv": [],
        "realTraffic/not_on_disk.csv": [],
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


def test_load_nab_one_series(tiny_nab):
    df = load_nab(tiny_nab, "artificialWithAnomaly/art_a.csv")
    assert list(df.columns) == ["timestamp", "value", "label"]
    assert df["label"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 1]
    assert pd.api.types.is_datetime64_any_dtype(df["timestamp"])
    assert df["value"].tolist() == list(np.arange(10.0))
    # Short names resolve when unique.
    pd.testing.assert_frame_equal(load_nab(tiny_nab, "art_a"), df)
    pd.testing.assert_frame_equal(load_nab(tiny_nab, "art_a.csv"), df)


def test_load_nab_all_series(tiny_nab):
    df = load_nab(tiny_nab)
    assert list(df.columns) == ["file", "timestamp", "value", "label"]
    assert df["file"].value_counts().to_dict() == {"artificialWithAnomaly/art_a.csv": 10,
                                                   "realTraffic/speed.csv": 4}
    assert df.loc[df["file"] == "realTraffic/speed.csv", "label"].sum() == 0
    assert list_nab(tiny_nab) == ["artificialWithAnomaly/art_a.csv", "realTraffic/speed.csv"]


def test_load_nab_root_from_environment(tiny_nab, monkeypatch):
    monkeypatch.setenv("FUSIONLAB_NAB_ROOT", str(tiny_nab))
    assert load_nab(name="speed")["value"].tolist() == [1, 2, 3, 4]


def test_load_nab_flat_layout(tiny_nab):
    # Category folders straight under the root also work.
    for category in ("artificialWithAnomaly", "realTraffic"):
        (tiny_nab / "data" / category).rename(tiny_nab / category)
    (tiny_nab / "data").rmdir()
    assert list_nab(tiny_nab) == ["artificialWithAnomaly/art_a.csv", "realTraffic/speed.csv"]
    assert load_nab(tiny_nab, "speed")["label"].tolist() == [0, 0, 0, 0]


def test_load_nab_errors(tiny_nab, tmp_path, monkeypatch):
    monkeypatch.delenv("FUSIONLAB_NAB_ROOT", raising=False)
    with pytest.raises(ValueError, match="FUSIONLAB_NAB_ROOT"):
        load_nab()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_nab(tmp_path / "missing")
    with pytest.raises(ValueError, match="not found. Available: artificialWithAnomaly/art_a.csv, "
                                         "realTraffic/speed.csv"):
        load_nab(tiny_nab, "nyc_taxi")
    with pytest.raises(TypeError, match="name"):
        load_nab(tiny_nab, 3)
    empty = tmp_path / "empty"
    (empty / "data").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="combined_windows.json"):
        load_nab(empty)


def test_load_nab_ambiguous_unlabelled_and_bad_files(tiny_nab):
    other = tiny_nab / "data" / "realTraffic" / "art_a.csv"
    other.write_text("timestamp,value\n2014-04-01 00:00:00,1\n")
    with pytest.raises(ValueError, match="ambiguous"):
        load_nab(tiny_nab, "art_a")
    with pytest.raises(ValueError, match="no entry"):
        load_nab(tiny_nab, "realTraffic/art_a.csv")
    windows = json.loads((tiny_nab / "labels" / "combined_windows.json").read_text())
    windows["realTraffic/art_a.csv"] = []
    (tiny_nab / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    other.write_text("timestamp,value\n2014-04-01 00:00:00,\n")
    with pytest.raises(ValueError, match="missing or non-numeric"):
        load_nab(tiny_nab, "realTraffic/art_a.csv")
    other.write_text("time,reading\n2014-04-01 00:00:00,1\n")
    with pytest.raises(ValueError, match="'timestamp,value'"):
        load_nab(tiny_nab, "realTraffic/art_a.csv")


def test_load_nab_bad_dates_name_the_file_and_the_row(tiny_nab):
    # Issue 14, item 12: pandas' date error named neither the file nor the row.
    path = tiny_nab / "data" / "realTraffic" / "speed.csv"
    path.write_text("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n"
                    "2014-13-45 00:10:00,3\n")
    with pytest.raises(ValueError, match=r"speed\.csv.*timestamp.*row 2.*'2014-13-45 00:10:00'"):
        load_nab(tiny_nab, "speed")
    path.write_text("timestamp,value\n2014-04-01 00:00:00,1\n,2\n")
    with pytest.raises(ValueError, match=r"speed\.csv.*timestamp.*row 1"):
        load_nab(tiny_nab, "speed")
    # The whole corpus fails the same way, naming the bad file.
    with pytest.raises(ValueError, match=r"speed\.csv.*row 1"):
        load_nab(tiny_nab)


@pytest.mark.parametrize("window, match", [
    (["2014-04-01 00:10:00", "tomorrow"], r"'tomorrow'"),
    ([None, "2014-04-01 00:10:00"], r"None is not"),
    (["", "2014-04-01 00:10:00"], r"'' is not"),
    (["2014-04-01 00:10:00"], r"\[start, end\] pair"),
    ("2014-04-01", r"\[start, end\] pair"),
])
def test_load_nab_bad_label_windows_name_the_label_file_and_entry(tiny_nab, window, match):
    labels = tiny_nab / "labels" / "combined_windows.json"
    windows = json.loads(labels.read_text())
    windows["realTraffic/speed.csv"] = [window]
    labels.write_text(json.dumps(windows))
    with pytest.raises(ValueError, match=r"combined_windows\.json.*realTraffic/speed\.csv.*"
                                         r"window 0.*" + match):
        load_nab(tiny_nab, "speed")


# ------------------------------------------------------------- multisensor
def test_multisensor_series_holds_each_incident_where_its_record_says():
    from fusionlab.datasets import MULTISENSOR_INCIDENTS, make_multisensor_series

    df = make_multisensor_series(random_state=0)
    again = make_multisensor_series(random_state=0)
    pd.testing.assert_frame_equal(df, again)
    assert df.attrs["incidents"] == again.attrs["incidents"]
    channels = [c for c in df.columns if c.startswith("s")]
    assert len(channels) == 24 and df["timestamp"].is_monotonic_increasing
    assert [i["kind"] for i in df.attrs["incidents"]] == list(MULTISENSOR_INCIDENTS)
    clean = df.iloc[:2016]
    assert clean["label"].sum() == 0 and set(clean["incident"]) == {"none"}
    for record in df.attrs["incidents"]:
        span = df.iloc[record["start"]: record["end"] + 1]
        assert (span["label"] == 1).all() and (span["incident"] == record["kind"]).all()
        if record["kind"] == "stuck":
            assert span[record["channels"][0]].nunique() == 1
        if record["kind"] == "correlation":
            # each changed channel stays within its normal range
            for name in record["channels"]:
                assert clean[name].min() - 1e-9 <= span[name].min()
                assert span[name].max() <= clean[name].max() + 0.5 * clean[name].std()
        if record["kind"] == "level_shift":
            assert record["channels"] == channels
    assert df["label"].sum() == sum(i["end"] - i["start"] + 1 for i in df.attrs["incidents"])
    # channels of one factor group are strongly correlated in the clean period
    assert clean["s00"].corr(clean["s03"]) > 0.6


def test_multisensor_series_refuses_bad_arguments():
    from fusionlab.datasets import make_multisensor_series

    with pytest.raises(ValueError, match="n_channels"):
        make_multisensor_series(n_channels=4)
    with pytest.raises(ValueError, match="incidents"):
        make_multisensor_series(incidents=("meteor",))
    with pytest.raises(ValueError, match="clean_points"):
        make_multisensor_series(n_points=100, clean_points=100)
    with pytest.raises(ValueError, match="too few"):
        make_multisensor_series(n_points=600, clean_points=300)
    assert make_multisensor_series(incidents=(), random_state=1)["label"].sum() == 0
