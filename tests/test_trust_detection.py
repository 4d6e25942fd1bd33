"""Issue 14, series side: archives and inputs the detector can trust.

Each test reproduces a defect found by trying the detector as a careful user
and as an attacker would.
"""

import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest

from fusionlab.detection import AnomalyDetector, io
from fusionlab.detection.events import classify_segment, find_segments
from fusionlab.detection.export import to_json
from fusionlab.detection.period import autocorrelation
from fusionlab.detection.records import Anomaly
from fusionlab.vocabulary import severity_from_ratio

TINY_CONV = {"filters": (4,), "latent_channels": 2}


def sine(n=240, period=24, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / period) + rng.normal(0, 0.05, n)


@pytest.fixture(scope="module")
def fitted():
    x = sine()
    det = AnomalyDetector(model="conv_autoencoder", window=24, epochs=2, robust=False,
                          model_params=TINY_CONV, random_state=0).fit(x)
    return det, x


@pytest.fixture(scope="module")
def archive(fitted, tmp_path_factory):
    det, _ = fitted
    return det.save(tmp_path_factory.mktemp("archive") / "det.zip")


def rewrite(source, target, *, config=None, members=None, raw=None):
    """Copy the archive ``source`` to ``target`` with a changed config or members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "config.json" and config is not None:
                data = json.dumps(config(json.loads(data))).encode()
            if members and info.filename in members:
                data = members[info.filename]
            if raw and info.filename in raw:
                continue
            new.writestr(info.filename, data)
        for name, data in (raw or {}).items():
            new.writestr(name, data)
    return target


def edit_fitted(key, value):
    def change(config):
        config["fitted"][key] = value
        return config
    return change


# -- 2. decompression bombs ---------------------------------------------------------------------
def test_a_small_archive_holding_a_huge_config_is_refused_before_reading(archive, tmp_path,
                                                                           monkeypatch):
    bomb = tmp_path / "bomb.zip"
    # 64 MB of JSON white space compress to a few dozen kilobytes.
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "config.json":
                data = data + b" " * (64 << 20)
            new.writestr(info.filename, data)
    assert bomb.stat().st_size < 1 << 20
    monkeypatch.setattr(io, "MAX_CONFIG_BYTES", 16 << 20)
    with pytest.raises(ValueError, match=r"bomb\.zip.*config\.json.*bytes"):
        AnomalyDetector.load(bomb)


def test_the_member_limits_are_arguments_too(archive):
    with pytest.raises(ValueError, match=r"model\.keras.*more than the limit"):
        AnomalyDetector.load(archive, max_member_bytes=1000)


# -- 3. tampered archives ------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "value", "match"), [
    ("threshold_", float("nan"), "threshold_"),
    ("threshold_", "high", "threshold_"),
    ("window_", 12, "window_"),
    ("window_", -3, "window_"),
    ("n_features_in_", 3, "n_features_in_"),
    ("smoothing_width_", 0, "smoothing_width_"),
    ("feature_names_in_", ["a", "b"], "feature_names_in_"),
    ("time_scale_", -1.0, "time_scale_"),
])
def test_tampered_learned_values_are_refused(archive, tmp_path, key, value, match):
    bad = rewrite(archive, tmp_path / "bad.zip", config=edit_fitted(key, value))
    with pytest.raises(ValueError, match=rf"bad\.zip.*{match}"):
        AnomalyDetector.load(bad)


def test_a_mis_sized_scale_vector_is_refused(archive, tmp_path):
    def grow(config):
        fitted = config["scaler"]["fitted"]
        fitted["scale_"]["__ndarray__"] = fitted["scale_"]["__ndarray__"] * 3
        return config

    bad = rewrite(archive, tmp_path / "bad.zip", config=grow)
    with pytest.raises(ValueError, match=r"bad\.zip.*scaler.*scale_"):
        AnomalyDetector.load(bad)


def test_missing_keys_and_bad_parameters_are_refused(archive, tmp_path):
    def drop(config):
        del config["fitted"]["window_"]
        return config

    with pytest.raises(ValueError, match=r"bad\.zip.*window_"):
        AnomalyDetector.load(rewrite(archive, tmp_path / "bad.zip", config=drop))

    def bad_param(config):
        config["params"]["epochs"] = "many"
        return config

    with pytest.raises(ValueError, match=r"bad2\.zip.*epochs"):
        AnomalyDetector.load(rewrite(archive, tmp_path / "bad2.zip", config=bad_param))

    def bad_threshold(config):
        config["threshold"]["name"] = "oracle"
        return config

    with pytest.raises(ValueError, match=r"bad3\.zip.*threshold"):
        AnomalyDetector.load(rewrite(archive, tmp_path / "bad3.zip", config=bad_threshold))


def test_non_json_config_and_bad_arrays_are_refused(archive, tmp_path):
    bad = rewrite(archive, tmp_path / "bad.zip", members={"config.json": b"{not json"})
    with pytest.raises(ValueError, match=r"bad\.zip.*config\.json.*JSON"):
        AnomalyDetector.load(bad)
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.array([1.0, np.nan]))
    bad = rewrite(archive, tmp_path / "bad2.zip", members={"training_scores.npy": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"bad2\.zip.*training_scores"):
        AnomalyDetector.load(bad)
    bad = rewrite(archive, tmp_path / "bad3.zip", members={"training_scores.npy": b"\x93NUMPY junk"})
    with pytest.raises(ValueError, match=r"bad3\.zip.*training_scores"):
        AnomalyDetector.load(bad)


def test_corrupt_zip_members_raise_value_error(archive, tmp_path):
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo("config.json")
    # Flip bytes inside the compressed config: a bad CRC or a bad deflate stream.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 5, start + 25):
        data[offset] ^= 0xFF
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupt\.zip.*config\.json"):
        AnomalyDetector.load(corrupt)


# -- 5. float overflow ----------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [1e19, 1e25, 1e38])
def test_extreme_values_give_finite_scores_and_are_flagged(fitted, factor):
    det, x = fitted
    spiked = x.copy()
    spiked[100] = factor
    scores = det.score_samples(spiked)
    assert np.isfinite(scores).all()
    assert int(np.argmax(scores)) in range(100 - det.smoothing_width_, 101 + det.smoothing_width_)
    assert det.predict(spiked)[100] == 1
    # The points far from the spike keep their scores (a running-sum
    # average would lose them to rounding after the huge value).
    clean = det.score_samples(x)
    np.testing.assert_allclose(scores[160:], clean[160:], rtol=1e-6)


# -- 7. complex numbers ---------------------------------------------------------------------------
def test_complex_values_raise_type_error(fitted):
    det, x = fitted
    with pytest.raises(TypeError, match="complex"):
        AnomalyDetector(epochs=1).fit(x + 1j)
    with pytest.raises(TypeError, match="complex"):
        det.score_samples(x.astype(complex))
    with pytest.raises(TypeError, match=r"complex.*'v'"):
        det.score_samples(pd.DataFrame({"v": x.astype(complex)}))


# -- 10. duplicate column names -------------------------------------------------------------------
def test_duplicate_columns_get_a_clear_error():
    frame = pd.DataFrame(np.c_[sine(), sine(seed=1)], columns=["a", "a"])
    with pytest.raises(ValueError, match=r"duplicate column.*'a'"):
        AnomalyDetector(epochs=1).fit(frame)


# -- 12. smaller ones -----------------------------------------------------------------------------
def test_find_segments_refuses_nan_flags_and_bad_merge_gaps():
    with pytest.raises(ValueError, match="NaN"):
        find_segments([0.0, np.nan, 1.0])
    with pytest.raises(TypeError, match="merge_gap"):
        find_segments([0, 1, 1], merge_gap="2")


def test_classify_segment_refuses_nan_values_and_reversed_bounds():
    values = np.zeros(50)
    values[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        classify_segment(values, 5, 15)
    with pytest.raises(ValueError, match="end"):
        classify_segment(np.zeros(50), 20, 10)


def test_severity_of_nan_is_an_error_not_critical():
    with pytest.raises(ValueError, match="ratio"):
        severity_from_ratio(float("nan"))
    with pytest.raises(TypeError, match="ratio"):
        severity_from_ratio("2")
    assert severity_from_ratio(math.inf) == "critical"


def test_to_json_writes_valid_json():
    event = Anomaly(0, 1, 0, 1, math.inf, 1.0, "critical", "spike",
                    metadata={"std_ratio": math.inf, "r2": math.nan})
    text = to_json([event])
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert parsed[0]["peak_score"] == "inf" and parsed[0]["metadata"]["r2"] is None


def test_autocorrelation_of_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        autocorrelation([])


# -- from the review of the change ----------------------------------------------------------------
def test_default_scorers_keep_scores_finite_when_the_model_overflows():
    import keras

    # An exponential output overflows on a far-out value: its error is not finite.
    template = keras.Sequential([keras.Input((24, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(24, activation="exponential"),
                                 keras.layers.Reshape((24, 1))])
    x = sine()
    det = AnomalyDetector(model=template, window=24, epochs=1, robust=False,
                          random_state=0).fit(x)
    spiked = x.copy()
    spiked[120] = 1e30
    scores = det.score_samples(spiked)
    assert np.isfinite(scores).all() and det.predict(spiked)[120] == 1


def test_a_refit_refused_by_the_scorers_fails_before_training_and_keeps_the_detector():
    x = sine()
    det = AnomalyDetector(window=24, epochs=1, robust=False, random_state=0,
                          model="conv_autoencoder", model_params=TINY_CONV).fit(x)
    before = det.score_samples(x)
    det.set_params(scorer_window=1000)
    with pytest.raises(ValueError, match="scorers' window"):
        det.fit(pd.DataFrame({"a": x, "b": x}))
    # Nothing was learned from the refused data: the detector scores as before.
    assert det.n_features_in_ == 1
    np.testing.assert_array_equal(det.score_samples(x), before)


def test_parameters_changed_after_fit_change_nothing_until_the_next_fit(fitted):
    det, x = fitted
    before = det.predict(x)
    det.set_params(combine="max", scorers=("reconstruction", "discord"))
    try:
        np.testing.assert_array_equal(det.predict(x), before)
        assert det.labels_.sum() == before.sum()
    finally:
        det.set_params(combine="mean", scorers=("reconstruction", "discord", "isolation"))


@pytest.mark.parametrize(("key", "value"), [("segments", 0), ("segments", -4),
                                            ("k_distinct", "many")])
def test_tampered_scorer_parameters_are_refused(archive, tmp_path, key, value):
    def change(config):
        discord = next(s for s in config["scorers"] if s["name"] == "discord")
        discord[key] = value
        return config

    bad = rewrite(archive, tmp_path / "bad.zip", config=change)
    with pytest.raises(ValueError, match=rf"bad\.zip.*{key}"):
        AnomalyDetector.load(bad)


def test_saved_archives_get_the_permissions_of_a_new_file(fitted, tmp_path):
    import os

    det, _ = fitted
    path = det.save(tmp_path / "det.zip")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    det.save(path)  # a re-save keeps the file's own permissions
    assert path.stat().st_mode & 0o777 == 0o640


def test_values_beyond_float32_once_scaled_say_so(fitted):
    det, x = fitted
    spiked = x.copy()
    spiked[10] = 1e300
    with pytest.raises(ValueError, match="float32 range"):
        det.score_samples(spiked)
