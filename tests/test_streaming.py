"""Online scoring (fusionlab.streaming): the stream gives the batch detector's scores and events.

The key test streams series point by point and in chunks (1, 7, 100) through
several detectors (whatever ``score_samples``/``detect`` compute now, so a
change of the detector's scoring shows here) and compares the final scores
with ``score_samples`` and the records with ``detect``.
"""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from fusionlab.detection import AnomalyDetector
from fusionlab.streaming import (
    AlarmPolicy,
    PageHinkley,
    StreamingDetector,
    StreamingUnsupportedError,
    StreamResult,
)
from fusionlab.streaming.alarms import AlertBook, record_from_json, record_to_json
from fusionlab.streaming.snapshot import read_snapshot

N = 480
PARAMS = set(AnomalyDetector().get_params())


def detector(**kw):
    """An AnomalyDetector of tiny, reproducible settings (parameters this version has)."""
    base = dict(epochs=2, robust=False, validation_split=0.0, random_state=0)
    base.update(kw)
    return AnomalyDetector(**{k: v for k, v in base.items() if k in PARAMS})


def series(n=N, seed=0, events=True):
    """Two features, period 24, a spike at 300, a shift at 380-420, a lone point at 450."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.column_stack([np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 24)])
    x += rng.normal(0, 0.05, x.shape)
    if events:
        x[300:303, 0] += 3.0
        x[380:420, 1] += 1.5
        if n > 450:
            x[450, 1] += 6.0  # a lone extreme point (the scorers' peak rules)
    return x


def irregular_times(n, seed=0):
    rng = np.random.default_rng(seed)
    gaps = rng.choice([60, 60, 60, 120, 180], size=n)
    return pd.DatetimeIndex(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(gaps), "s"))


@pytest.fixture(scope="module")
def data():
    return series()


@pytest.fixture(scope="module")
def detectors(data, tmp_path_factory):
    """Several models and scoring settings, fitted on the first half."""
    train = data[:240]
    stamps = irregular_times(N)
    forecast = keras.Sequential([keras.Input((16, 2)), keras.layers.Flatten(),
                                 keras.layers.Dense(2)])
    small_conv = {"filters": (8,), "latent_channels": 4}
    fitted = {
        # the detector's own defaults for scoring, whatever they are now
        "default": (detector(model="conv_autoencoder", window=16, model_params=small_conv)
                    .fit(train), None),
        "smoothed": (detector(model="conv_autoencoder", window=16, scorers=("reconstruction",),
                              smoothing=0.03, peak_weight=0.25, model_params=small_conv)
                     .fit(train), None),
        "lstm_max": (detector(model="lstm_autoencoder", window=12,
                              scorers=("reconstruction", "discord"), combine="max",
                              smoothing=None, model_params={"lstm_units": 8, "latent_dim": 4})
                     .fit(train), None),
        "liquid": (detector(model="cfc", window=12, epochs=1, scorers=("reconstruction",
                                                                         "isolation"),
                            smoothing=0.01, model_params={"hidden_size": 8})
                   .fit(train, timestamps=stamps[:240]), stamps),
        "forecast": (detector(model=forecast, window=16, scorers=("reconstruction",),
                              smoothing=0.02).fit(train), None),
        # a point-exact scorer alone beside the model: no scorer windows at all
        "pointwise": (detector(model="conv_autoencoder", window=16, model_params=small_conv,
                               scorers=("reconstruction", "residual")).fit(train), None),
        # two scorers added on top of the others, under 'max'
        "added_max": (detector(model="conv_autoencoder", window=16, model_params=small_conv,
                               scorers=("reconstruction", "discord", "flatness", "residual"),
                               combine="max").fit(train), None),
    }
    # The default as an archive fitted before the residual was added on top,
    # split by its own parts and kept only beyond its training scores' tail.
    path = fitted["default"][0].save(tmp_path_factory.mktemp("legacy") / "legacy.zip")
    legacy = AnomalyDetector.load(path)
    assert legacy.exact_scales_ is not None
    legacy.exact_scales_ = None
    fitted["legacy"] = (legacy, None)
    return fitted


def stream(sd, series_id, x, stamps=None, chunk=1, flush=True):
    """Every result of streaming ``x`` in chunks, then flushing."""
    out = StreamResult()
    for lo in range(0, len(x), chunk):
        part = None if stamps is None else stamps[lo:lo + chunk]
        out.extend(sd.update(series_id, x[lo:lo + chunk], part))
    if flush:
        out.extend(sd.flush(series_id))
    return out


def final_scores(result, series_id):
    parts = [p for p in result.scores if p.series_id == series_id]
    assert [p.start for p in parts] == [0] + [p.stop for p in parts[:-1]]  # in order, no gap
    return np.concatenate([p.scores for p in parts])


def assert_same_events(streamed, batch, threshold):
    def key(e):
        return (e.start_index, e.end_index, e.severity, e.anomaly_type, e.start, e.end,
                [name for name, _ in e.top_features])

    assert [key(e) for e in streamed] == [key(e) for e in batch]
    for s, b in zip(streamed, batch, strict=True):
        assert_scores([s.peak_score, s.mean_score], [b.peak_score, b.mean_score], threshold)
        np.testing.assert_allclose([v for _, v in s.top_features],
                                   [v for _, v in b.top_features], rtol=1e-5, atol=1e-7)
        assert s.model_id == b.model_id


def assert_scores(got, expected, threshold):
    """Equal within 1e-6 of the threshold or of the score (float32 model outputs differ in
    their last bits with the composition of a batch)."""
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * threshold)


def lazy(det, **kw):
    """Micro-batching that only scores full batches until the flush."""
    return StreamingDetector(det, batch_size=64, max_delay_ms=1e9, **kw)


# ------------------------------------------------------------------ the key test
@pytest.mark.parametrize("name", ["default", "smoothed", "lstm_max", "liquid", "forecast",
                                  "pointwise", "added_max", "legacy"])
@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_final_scores_and_events_equal_the_batch_detector(detectors, data, name, chunk):
    det, stamps = detectors[name]
    expected = det.score_samples(data, timestamps=stamps)
    events = det.detect(data, timestamps=stamps)
    result = stream(lazy(det), "s", data, stamps, chunk)
    scores = final_scores(result, "s")
    assert_scores(scores, expected, det.threshold_)
    assert np.array_equal(scores > det.threshold_, expected > det.threshold_)
    assert_same_events(result.events_of("s"), events, det.threshold_)
    assert len(events) >= 2  # the spike and the shift at least
    assert all(e.metadata["interim"] is False and e.metadata["model_version"] == 0
               for e in result.events)


@pytest.mark.parametrize("name", ["smoothed", "default"])
def test_many_series_share_model_calls_and_each_gets_its_own_scores(detectors, name):
    det, _ = detectors[name]
    fleet = {f"s{i}": series(150 + 37 * i, seed=i) for i in range(6)}
    for i, x in enumerate(fleet.values()):
        x[60 + 7 * i, i % 2] += 8.0  # lone extreme points here and there
    sd = lazy(det)
    result = StreamResult()
    longest = max(len(x) for x in fleet.values())
    for lo in range(0, longest, 5):  # round robin, 5 points per series and call
        result.extend(sd.update_many([(sid, x[lo:lo + 5]) for sid, x in fleet.items()
                                      if lo < len(x)]))
    result.extend(sd.flush())
    windows = sum(len(x) - det.window_ + 1 for x in fleet.values())
    assert sd.model_calls == -(-windows // 64)  # every call full but the last
    for sid, x in fleet.items():
        assert_scores(final_scores(result, sid), det.score_samples(x), det.threshold_)
        assert_same_events(result.events_of(sid), det.detect(x), det.threshold_)
    assert sd.series_ids == []  # flushed series are forgotten


def test_the_probe_tells_the_known_scoring_variants_apart(detectors):
    from fusionlab.streaming.support import (
        PROBE_RTOL,
        VARIANTS,
        _probe_series,
        check_supported,
        score_offline,
    )

    det, _ = detectors["default"]
    spec = check_supported(det)
    if not spec.scales:
        pytest.skip("this detector scores with its model's error alone")
    rows, stamps = _probe_series(spec)
    expected = det.explain(rows, timestamps=stamps).to_numpy()
    chosen = (spec.recon_rule, spec.finish)
    for variant in VARIANTS:
        spec.recon_rule, spec.finish = variant
        worst = np.abs(score_offline(spec, rows, stamps) - expected).max() / np.abs(
            expected).max()
        assert (worst <= PROBE_RTOL) == (variant == chosen), (variant, worst)


def test_a_waiting_batch_is_scored_after_max_delay(detectors, data):
    det, _ = detectors["smoothed"]
    sd = StreamingDetector(det, batch_size=256, max_delay_ms=30)
    first = sd.update("s", data[:40])
    assert not first.scores and 0 < sd.next_deadline() <= 0.03
    import time

    time.sleep(sd.next_deadline() + 0.005)
    later = sd.poll()
    assert later.scores and sd.next_deadline() is None
    zero = StreamingDetector(det, max_delay_ms=0)
    assert zero.update("s", data[:40]).scores  # scored at once


def test_delay_says_when_scores_become_final(detectors, data):
    det, _ = detectors["smoothed"]
    sd = StreamingDetector(det, max_delay_ms=0)
    result = sd.update("s", data[:200])
    final = final_scores(result, "s")
    assert final.size == 200 - sd.delay
    expected_delay = (det.window_ - 1) + (det.smoothing_width_ - 1 - det.smoothing_width_ // 2)
    assert sd.delay == expected_delay
    # A point scorer's scores are known at once: the model's window sets the delay.
    det, _ = detectors["pointwise"]
    sd = StreamingDetector(det, max_delay_ms=0)
    final = final_scores(sd.update("s", data[:200]), "s")
    w, s = det.window_, det.smoothing_width_
    assert sd.delay == (w - 1) + (w - 1 - w // 2) + (s - 1 - s // 2)
    assert final.size == 200 - sd.delay


def test_interim_scores_are_those_of_the_series_ending_now(detectors, data):
    for name in ("smoothed", "default"):
        det, _ = detectors[name]
        sd = StreamingDetector(det, max_delay_ms=0)
        for t in (40, 77, 301):
            result = sd.update("s", data[t - (40 if t == 40 else 37 if t == 77 else 224):t])
            (view,) = result.interim
            truncated = det.score_samples(data[:t])
            assert view.stop == t and view.interim
            assert_scores(view.scores, truncated[view.start:], det.threshold_)


# ----------------------------------------------------------------------- alerts
def ramp_series(n=360, seed=1):
    """A slowly growing excursion of feature 0 (an event that grows in severity)."""
    x = series(n, seed)[:, :]
    x[250:, :] = series(n, seed + 5)[250:, :]
    x[200:230, 0] += np.linspace(0.4, 4.0, 30)
    return x


def test_interim_alert_fires_at_once_is_upgraded_and_finalised(detectors):
    det, _ = detectors["smoothed"]
    x = ramp_series()
    sd = StreamingDetector(det, max_delay_ms=0, alarm_policy=AlarmPolicy(min_severity="medium"))
    timeline = []
    for t in range(len(x)):
        for alert in sd.update("s", x[t]).alerts:
            timeline.append((t, alert))
    for alert in sd.flush().alerts:
        timeline.append((len(x), alert))
    (batch_event,) = [e for e in det.detect(x) if 195 <= e.start_index <= 235]
    mine = [(t, a) for t, a in timeline if a.alert_id == timeline[0][1].alert_id]
    reasons = [a.reason for _, a in mine]
    assert reasons[0] == "fired" and reasons[-1] == "final" and "upgraded" in reasons
    fired_at = mine[0][0]
    # interim: raised while the event's scores were not final yet
    assert mine[0][1].interim and fired_at < batch_event.start_index + sd.delay
    ranks = [["low", "medium", "high", "critical"].index(a.severity) for _, a in mine[:-1]]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)  # only upgrades
    final = mine[-1][1]
    assert not final.interim and final.status == "resolved"
    assert (final.anomaly.start_index, final.anomaly.end_index, final.anomaly.severity) == (
        batch_event.start_index, batch_event.end_index, batch_event.severity)
    assert final.anomaly.metadata["alert_id"] == final.alert_id


def test_alarm_policy_min_severity_min_points_and_suppression(detectors, data):
    det, _ = detectors["smoothed"]
    events = det.detect(data)

    def alerts(policy):
        result = stream(StreamingDetector(det, max_delay_ms=0, alarm_policy=policy), "s", data,
                        chunk=5)
        fired = [a for a in result.alerts if a.reason == "fired"]
        finals = [a for a in result.alerts if a.reason == "final"]
        return fired, finals, result

    fired, _, result = alerts(AlarmPolicy(min_severity="low"))
    # every event is a record whatever the policy; with 'low', every one alerts once
    assert len(result.events) == len(events)
    assert {a.alert_id for a in fired} == {a.alert_id for a in result.alerts}
    high_ids = {a.alert_id for a in result.alerts
                if a.reason == "final" and a.anomaly.severity in ("high", "critical")}
    fired_high, finals_high, _ = alerts(AlarmPolicy(min_severity="high"))
    assert len(fired_high) == len(high_ids) > 0
    assert all(a.anomaly.severity in ("high", "critical") for a in finals_high)
    longest = max(e.metadata["n_flagged"] for e in result.events)
    fired_long, _, _ = alerts(AlarmPolicy(min_severity="low", min_points=longest))
    assert 0 < len(fired_long) < len(fired)
    assert all(a.anomaly.metadata["n_flagged"] >= longest for a in fired_long)
    # suppression: after one alert, none for the next suppress_points points
    fired_quiet, _, _ = alerts(AlarmPolicy(min_severity="low", suppress_points=N))
    assert len(fired_quiet) == 1


def test_an_unconfirmed_interim_alert_is_withdrawn():
    from fusionlab.detection.records import Anomaly

    def record(start, end, severity):
        return Anomaly(start, end, start, end, 5.0, 4.0, severity, "spike",
                       metadata={"n_flagged": end - start + 1})

    book, ids = AlertBook(), iter(range(1, 10))
    policy = AlarmPolicy()
    (fired,) = book.interims([record(10, 12, "high")], policy, lambda: next(ids), "s", 0, 2)
    assert fired.reason == "fired" and fired.interim
    # final scores reached past the alert and no event overlaps it: withdrawn
    assert book.withdraw(14, None, [], "s", 0, 2) == []  # not yet past merge_gap + 1
    (gone,) = book.withdraw(20, None, [], "s", 0, 2)
    assert (gone.reason, gone.status, gone.alert_id) == ("withdrawn", "resolved", 1)
    assert book.active == []
    # an open event overlapping it keeps it
    book.interims([record(30, 31, "critical")], policy, lambda: next(ids), "s", 0, 2)
    assert book.withdraw(40, 29, [], "s", 0, 2) == [] and len(book.active) == 1
    back = record_from_json(json.loads(json.dumps(record_to_json(record(3, 4, "low")))))
    assert back == record(3, 4, "low")


# ---------------------------------------------------------------------- state
@pytest.mark.parametrize("name", ["default", "pointwise", "legacy"])
def test_snapshot_restore_round_trips_the_whole_state(detectors, data, tmp_path, name):
    det, _ = detectors[name]
    stamps = pd.date_range("2024-01-01", periods=N, freq="min", tz="Europe/Paris")
    sd = StreamingDetector(det, batch_size=32, max_delay_ms=1e9,
                           alarm_policy=AlarmPolicy(min_severity="low"), drift=True)
    head = StreamResult()
    head.extend(stream(sd, "a", data[:305], stamps[:305], chunk=7, flush=False))
    head.extend(stream(sd, "b", data[::-1][:200], None, chunk=13, flush=False))
    sd.update("c", data[:5])  # not one window yet
    assert sd._batcher.pending > 0  # windows waiting are part of the state
    state, arrays = sd.snapshot()
    json.dumps(state, allow_nan=False)  # plain JSON
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    path = sd.save(tmp_path / "stream.zip")
    copies = [StreamingDetector.restore(state, arrays, det), StreamingDetector.load(path, det)]
    _, stored = read_snapshot(path)
    assert set(stored) == set(arrays)

    def rest(target):
        out = StreamResult()
        out.extend(stream(target, "a", data[305:], stamps[305:], chunk=11, flush=False))
        out.extend(target.update("b", data[::-1][200:]))
        out.extend(target.update("c", data[5:100]))
        out.extend(target.flush())
        return out

    reference = rest(sd)
    for copy in copies:
        again = rest(copy)
        for sid in ("a", "b", "c"):
            assert again.scores_of(sid)[0] == reference.scores_of(sid)[0]
            np.testing.assert_array_equal(again.scores_of(sid)[1], reference.scores_of(sid)[1])
            assert [(e.start, e.end, e.severity) for e in again.events_of(sid)] == \
                [(e.start, e.end, e.severity) for e in reference.events_of(sid)]
        assert [(a.alert_id, a.reason) for a in again.alerts] == \
            [(a.alert_id, a.reason) for a in reference.alerts]
    joined = np.concatenate([final_scores(head, "a"), reference.scores_of("a")[1]])
    assert_scores(joined, det.score_samples(data, timestamps=stamps), det.threshold_)
    with pytest.raises(ValueError, match="another detector.*differs in"):
        StreamingDetector.restore(state, arrays, detectors["smoothed"][0])
    # The same model scored by the other rules (with or without exact scales):
    # refused whichever side has the rule the other lacks.
    other = detectors["default" if name == "legacy" else "legacy"][0]
    if name != "pointwise":
        with pytest.raises(ValueError, match="another detector.*differs in exact_scales"):
            StreamingDetector.restore(state, arrays, other)
    if name == "pointwise":  # the point scores waiting for the model's are state too
        assert any(key.endswith("combiner.points_queue") for key in arrays)
    with pytest.raises(ValueError, match="does not hold its detector"):
        StreamingDetector.restore(state, arrays)
    with_model = StreamingDetector.restore(*sd.snapshot(include_detector=True))
    assert with_model.detector_.model_id_ == det.model_id_
    broken = dict(arrays)
    broken["s0.pipeline.values.rows"] = broken["s0.pipeline.values.rows"][:3]
    with pytest.raises(ValueError, match="rows"):
        StreamingDetector.restore(state, broken, det)


def test_state_per_series_is_bounded(detectors):
    det, _ = detectors["default"]
    sd = StreamingDetector(det, batch_size=256, max_delay_ms=1e9)
    rng = np.random.default_rng(3)

    def size():
        _, arrays = sd.snapshot()
        return sum(a.nbytes for a in arrays.values())

    x = series(20_000, seed=4)
    x[::997] += rng.normal(0, 3, x[::997].shape)  # events now and then
    sd.update("s", x[:5000])  # the values kept are full by now
    sd.poll(force=True)
    early = size()
    for lo in range(5000, 20_000, 500):
        sd.update("s", x[lo:lo + 500])
    sd.poll(force=True)
    assert size() <= early * 1.05  # 4x the points, no more memory


def test_a_long_event_is_split_at_max_event_length(detectors):
    det, _ = detectors["smoothed"]
    x = series(600, seed=2)
    x[200:500, 0] += 5.0
    result = stream(StreamingDetector(det, max_delay_ms=0, max_event_length=100), "s", x,
                    chunk=50)
    long = [e for e in result.events if e.metadata["split"]]
    assert long and all(e.end_index - e.start_index < 100 for e in result.events)
    batch = [e for e in det.detect(x) if e.length > 100]
    assert batch  # the batch detector sees one long event where the stream splits it


# ------------------------------------------------------------------ score()
@pytest.mark.parametrize("name", ["lstm_max", "pointwise"])
def test_score_has_no_side_effects(detectors, data, name):
    det, _ = detectors[name]
    sd = lazy(det)
    head = stream(sd, "s", data[:200], chunk=9, flush=False)
    before = sd.snapshot()
    peeked = sd.score("s", data[200:260])
    assert_scores(peeked, det.score_samples(data[:260])[200:], det.threshold_)
    after = sd.snapshot()
    assert json.dumps(before[0], sort_keys=True) == json.dumps(after[0], sort_keys=True)
    assert all(np.array_equal(before[1][k], after[1][k]) for k in before[1])
    rest = stream(sd, "s", data[200:], chunk=9)
    joined = np.concatenate([final_scores(head, "s"), rest.scores_of("s")[1]])
    assert_scores(joined, det.score_samples(data), det.threshold_)
    assert_scores(sd.score("new", data[:100]), det.score_samples(data[:100]), det.threshold_)
    assert "new" not in sd.series_ids


# ---------------------------------------------------------------- bad input
def test_bad_points_are_refused_alone_and_the_stream_goes_on(detectors, data):
    det, _ = detectors["smoothed"]
    stamps = np.arange(N, dtype=float) * 10.0
    sd = StreamingDetector(det, max_delay_ms=0)
    everything = sd.update("s", data[:100], stamps[:100])
    messy_values = np.concatenate([data[100:110], data[105:106], data[50:51], data[110:200]])
    messy_stamps = np.concatenate([stamps[100:110], stamps[105:106], [stamps[50]],
                                   stamps[110:200]])
    result = sd.update("s", messy_values, messy_stamps)
    assert [(e.code, e.position) for e in result.errors] == [("duplicate_timestamp", 10),
                                                             ("out_of_order", 11)]
    assert "already received" in result.errors[0].message
    assert sd.n_points("s") == 200
    everything.extend(result)
    nan = data[200:210].copy()
    nan[3, 1] = np.nan
    result = sd.update("s", nan, stamps[200:210])
    assert [(e.code, e.position) for e in result.errors] == [("non_finite", 3)]
    assert "impute" in result.errors[0].message
    everything.extend(result)
    rest = sd.update("s", data[210:], stamps[210:])
    assert not rest.errors
    everything.extend(rest).extend(sd.flush("s"))
    accepted = np.delete(np.arange(N), 203)
    expected = det.score_samples(data[accepted], timestamps=stamps[accepted])
    assert_scores(final_scores(everything, "s"), expected, det.threshold_)
    assert everything.scores[0].labels[0] == 0.0  # labelled by their timestamps


def test_structural_errors_raise_and_change_nothing(detectors, data):
    det, _ = detectors["smoothed"]
    sd = StreamingDetector(det, max_delay_ms=0)
    sd.update("s", data[:50])
    with pytest.raises(ValueError, match="3 feature.*fitted with 2"):
        sd.update("s", np.zeros((5, 3)))
    with pytest.raises(TypeError, match="real numbers|numbers"):
        sd.update("s", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="no timestamps"):
        sd.update("s", data[50:60], np.arange(10.0))
    with pytest.raises(ValueError, match="Unknown series 'nope'"):
        sd.flush("nope")
    with pytest.raises(TypeError, match="series_id"):
        sd.update(None, data[:3])
    frame = pd.DataFrame(data[:5], columns=["p", "q"])
    named = detector(model="conv_autoencoder", window=16, scorers=("reconstruction",),
                     epochs=1, model_params={"filters": (4,), "latent_channels": 2}).fit(
        pd.DataFrame(data[:120], columns=["a", "b"]))
    with pytest.raises(ValueError, match="feature names"):
        StreamingDetector(named).update("s", frame)
    assert sd.n_points("s") == 50
    # in update_many a bad chunk is reported and the others go on
    result = sd.update_many([("s", np.zeros((2, 3))), ("t", data[:30])])
    assert [e.code for e in result.errors] == ["bad_values"] and sd.n_points("t") == 30
    # a new series beyond max_series is refused with its own code
    full = StreamingDetector(named, max_series=1)
    result = full.update_many([("a", data[:5]), ("b", data[:5])])
    assert [(e.series_id, e.code) for e in result.errors] == [("b", "too_many_series")]
    assert "max_series" in result.errors[0].message and full.n_points("a") == 5


@pytest.mark.parametrize("rule", ["linear", "ffill"])
def test_missing_values_follow_the_detectors_impute_rule(data, rule):
    det = detector(model="conv_autoencoder", window=16, scorers=("reconstruction",),
                   impute=rule, model_params={"filters": (4,), "latent_channels": 2}).fit(
        data[:240])
    x = data.copy()
    x[0:2, 0] = np.nan        # the start: the first valid value backward
    x[150:156, 1] = np.nan    # inside: interpolated or carried forward
    x[151, 0] = np.inf
    x[-3:, 0] = np.nan        # the end: carried forward at the flush
    for chunk in (1, 25):
        result = stream(lazy(det), "s", x, chunk=chunk)
        assert not result.errors
        assert_scores(final_scores(result, "s"), det.score_samples(x), det.threshold_)


def test_unsupported_detectors_are_refused_with_a_clear_error(data):
    from sklearn.base import BaseEstimator, TransformerMixin

    class ChunkCentred(TransformerMixin, BaseEstimator):
        """Not row-wise: each call subtracts the mean of the rows it is given."""

        def fit(self, x, y=None):
            return self

        def transform(self, x):
            return np.asarray(x) - np.asarray(x).mean(axis=0)

    det = detector(model="conv_autoencoder", window=16, scorers=("reconstruction",),
                   scaler=ChunkCentred(), model_params={"filters": (4,), "latent_channels": 2}
                   ).fit(data[:240])
    with pytest.raises(StreamingUnsupportedError, match="do not reproduce"):
        StreamingDetector(det)
    with pytest.raises(TypeError, match="fitted fusionlab.detection.AnomalyDetector"):
        StreamingDetector(object())
    liquid = detector(model="cfc", window=12, epochs=1, scorers=("reconstruction",),
                      model_params={"hidden_size": 4}).fit(data[:120])
    with pytest.raises(ValueError, match="fitted without timestamps"):
        StreamingDetector(liquid).update("s", data[:20], np.arange(20.0))


def test_parameters_are_checked():
    det = object()
    with pytest.raises(ValueError, match="batch_size"):
        StreamingDetector(det, batch_size=0)
    with pytest.raises(ValueError, match="refit_every"):
        StreamingDetector(det, refit_policy="every")
    with pytest.raises(ValueError, match="refit_policy"):
        StreamingDetector(det, refit_policy="sometimes")
    with pytest.raises(ValueError, match="min_severity"):
        AlarmPolicy(min_severity="huge")
    with pytest.raises(ValueError, match="min_points"):
        AlarmPolicy(min_points=0)


# ------------------------------------------------------------- drift, refit
def test_page_hinkley_finds_a_lasting_rise_not_a_spike():
    test = PageHinkley(lambda_=20.0, min_points=50)
    spike = np.full(400, 0.3)
    spike[200] = 1e6
    assert test.update(spike, threshold=1.0) == []
    test.reset()
    shifted = np.r_[np.full(200, 0.3), np.full(200, 1.0)]
    (found,) = test.update(shifted, threshold=1.0)
    assert 200 < found < 260


def test_drift_refits_in_the_background_and_swaps_the_model(detectors):
    det, _ = detectors["smoothed"]
    x = series(1400, seed=7, events=False)
    x[700:] = 3.0 * x[700:] + 2.0  # a new regime for good
    sd = StreamingDetector(det, max_delay_ms=0, refit_policy="drift", train_window=300,
                           drift=PageHinkley(lambda_=30.0, min_points=100),
                           refit_params={"epochs": 1})
    result = StreamResult()
    swapped_at = None
    for lo in range(0, len(x), 20):
        result.extend(sd.update("s", x[lo:lo + 20]))
        if sd.refitting:
            assert sd.wait_for_refit(120)
        if result.refits and swapped_at is None:
            swapped_at = lo + 20
    result.extend(sd.flush())
    assert result.drifts and result.drifts[0].index > 700 and result.drifts[0].model_version == 0
    (refit,) = result.refits[:1]
    assert refit["reason"] == "drift" and refit["model_version"] == 1 == sd.model_version
    assert sd.detector_ is not det and sd.detector_.model_id_ == refit["model_id"]
    versions = [p.model_version for p in result.scores]
    assert versions == sorted(versions) and versions[0] == 0 and versions[-1] >= 1
    # after the swap the stream starts again with the new model: its own scores
    new = [p for p in result.scores if p.model_version == 1]
    start = new[0].start
    expected = sd.detector_.score_samples(x[start:])
    got = np.concatenate([p.scores for p in new])
    assert_scores(got, expected[: got.size], sd.detector_.threshold_)
    assert all(e.metadata["model_version"] == (0 if e.start_index < start else 1)
               for e in result.events)


def test_refit_every_n_points(detectors):
    det, _ = detectors["smoothed"]
    sd = StreamingDetector(det, max_delay_ms=0, refit_policy="every", refit_every=400,
                           train_window=300, refit_params={"epochs": 1})
    x = series(900, seed=8)
    result = sd.update("s", x[:450])
    assert sd.wait_for_refit(120)
    result.extend(sd.update("s", x[450:]))
    assert [r["reason"] for r in result.refits] == ["every"] and sd.model_version == 1


def test_a_detector_with_the_flatness_scorer_streams_as_it_detects():
    # the flatness scorer is calibrated: added on top of the others' mean, in
    # the batch detector and in the stream alike
    clean = series(events=False)
    stuck = clean.copy()
    stuck[330:372, 0] = stuck[330, 0]
    det = detector(model="conv_autoencoder", window=16,
                   scorers=("reconstruction", "discord", "flatness"),
                   model_params={"filters": (8,), "latent_channels": 4}).fit(clean[:240])
    assert det.scorer_scales_[-1].to_list() == [0.0, 1.0]  # its own scale
    expected = det.score_samples(stuck)
    result = stream(lazy(det), "s", stuck, chunk=7)
    assert_scores(final_scores(result, "s"), expected, det.threshold_)
    events = det.detect(stuck)
    assert_same_events(result.events_of("s"), events, det.threshold_)
    assert any(e.start_index <= 372 and e.end_index >= 330 for e in events), events.to_frame()
    # every point scored at once: interim records (read on the peeked errors
    # and calibrated scores) while the stuck stretch is open, then the same events
    eager = StreamingDetector(det, max_delay_ms=0, alarm_policy=AlarmPolicy(min_severity="low"))
    interim = StreamResult()
    for lo in range(0, len(stuck), 5):
        interim.extend(eager.update("s", stuck[lo:lo + 5]))
    interim.extend(eager.flush("s"))
    assert any(a.interim for a in interim.alerts)
    assert_same_events(interim.events_of("s"), events, det.threshold_)
    # archives fitted before calibrated scorers were added on top averaged them
    det.calibrated_added_ = False
    averaged = det.score_samples(stuck)
    det.calibrated_added_ = True
    assert not np.allclose(averaged, expected)


def test_a_snapshot_saved_before_the_point_errors_were_kept_still_restores(detectors, data):
    # States written before the event bounds were read on the point errors
    # hold no `point_errors` and no `previous_end`: they restore, and the
    # stream goes on with the scores it would have given.
    det, _ = detectors["default"]
    sd = lazy(det)
    stream(sd, "a", data[:300], chunk=9, flush=False)
    state, arrays = sd.snapshot()
    for series in state["series"]:
        del series["pipeline"]["point_errors"]
        del series["pipeline"]["events"]["previous_end"]
    arrays = {k: v for k, v in arrays.items() if ".point_errors." not in k}
    old = StreamingDetector.restore(state, arrays, det)
    rest = StreamResult()
    rest.extend(old.update("a", data[300:]))
    rest.extend(old.flush())
    reference = StreamResult()
    reference.extend(sd.update("a", data[300:]))
    reference.extend(sd.flush())
    np.testing.assert_array_equal(rest.scores_of("a")[1], reference.scores_of("a")[1])
    assert [e.metadata["flagged_start_index"] for e in rest.events_of("a")] == \
        [e.metadata["flagged_start_index"] for e in reference.events_of("a")]
