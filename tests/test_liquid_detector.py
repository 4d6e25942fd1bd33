"""The liquid models inside AnomalyDetector: registry, time deltas, save/load."""

import numpy as np
import pandas as pd
import pytest

from fusionlab.detection import AnomalyDetector, WindowDataset, available_models
from fusionlab.nn.anomaly_detection import LiquidAutoencoderAnomaly

TINY = {"hidden_size": 4, "backbone_units": 8, "ode_unfolds": 2}


@pytest.fixture
def irregular(rng):
    # 160 readings of a sine, every 60 s, with 25 % of them lost.
    stamps = pd.date_range("2024-01-01", periods=200, freq="60s")
    keep = np.sort(rng.choice(200, size=160, replace=False))
    t = np.arange(200)[keep]
    values = np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.05, t.size)
    values[80:83] += 3.0
    return pd.DataFrame({"value": values}, index=stamps[keep])


def test_cfc_and_ltc_are_registered():
    assert {"cfc", "ltc"} <= set(available_models())


def test_window_dataset_yields_time_delta_windows():
    deltas = np.arange(10, dtype="float32")
    ds = WindowDataset(np.arange(10.0), window=4, batch_size=3, time_delta=deltas)
    (x, dt), y = ds[1]
    assert x.shape == (3, 4, 1) and dt.shape == (3, 4, 1)
    np.testing.assert_array_equal(dt[0, :, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="time_delta.*>= 0"):
        WindowDataset(np.arange(10.0), window=4, time_delta=-deltas)
    with pytest.raises(ValueError, match="one value per point"):
        WindowDataset(np.arange(10.0), window=4, time_delta=deltas[:5])


@pytest.mark.parametrize("name", ["cfc", "ltc"])
def test_detector_derives_and_uses_time_deltas(irregular, name, tmp_path):
    det = AnomalyDetector(model=name, window=12, epochs=1, robust=False,
                          validation_split=0.0, model_params=TINY, random_state=0)
    det.fit(irregular)
    assert isinstance(det.model_, LiquidAutoencoderAnomaly)
    assert det.model_.cell_type == name
    assert det.time_scale_ == 60.0  # seconds: the median gap
    # Deltas in units of the median gap: 1 for a regular step, 2 after a loss.
    deltas = det._time_deltas(det.model_, irregular.index, len(irregular))
    gaps = np.diff(irregular.index.to_numpy()) / np.timedelta64(60, "s")
    np.testing.assert_allclose(deltas, np.r_[1.0, gaps])
    assert set(np.unique(deltas)) >= {1.0, 2.0}

    scores = det.score_samples(irregular)
    assert scores.shape == (160,) and np.isfinite(scores).all()
    # Same values on a regular clock: other deltas, so other scores.
    regular = irregular.set_index(pd.date_range("2024-01-01", periods=160, freq="60s"))
    assert not np.allclose(det.score_samples(regular).to_numpy(), scores.to_numpy())

    path = det.save(tmp_path / "det.zip")
    loaded = AnomalyDetector.load(path)
    assert loaded.time_scale_ == 60.0
    np.testing.assert_allclose(loaded.score_samples(irregular), scores, rtol=1e-5)


def test_without_timestamps_deltas_are_one(rng):
    values = np.sin(np.arange(100) / 3.0) + rng.normal(0, 0.05, 100)
    det = AnomalyDetector(model="cfc", window=10, epochs=1, robust=False,
                          validation_split=0.0, model_params=TINY, random_state=0)
    det.fit(values)
    assert det.time_scale_ is None
    np.testing.assert_array_equal(det._time_deltas(det.model_, None, 5), np.ones(5))
    numeric = det.score_samples(values, timestamps=np.arange(100) * 2.5)
    np.testing.assert_allclose(numeric, det.score_samples(values), rtol=1e-5)
