"""The subsequence scorers, their combination and the detector's default ensemble."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from fusionlab.datasets import SERIES_INCIDENTS, make_incident_series
from fusionlab.detection import AnomalyDetector
from fusionlab.detection.ensemble import (
    RobustScale,
    aggregate,
    check_scorers,
    combine_contributions,
)
from fusionlab.detection.flatness import FlatnessScorer
from fusionlab.detection.period import choose_scorer_window
from fusionlab.detection.residual import ResidualScorer
from fusionlab.detection.scorers import (
    BaseScorer,
    DiscordScorer,
    IsolationScorer,
    available_scorers,
    make_scorer,
    register_scorer,
    to_centres,
)

TINY = {"filters": (4,), "latent_channels": 2, "kernel_size": 3}


def sine(n=600, period=30, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) * 2 * np.pi / period) + rng.normal(0, 0.02, n)


# ------------------------------------------------------------------ scorers


def test_discord_finds_a_changed_shape_at_a_normal_level():
    x = sine()
    x[300:315] = x[300]  # a stuck stretch: no value out of the usual range
    scorer = DiscordScorer().fit(x[:, None], 30)
    scores, points = scorer.score_parts(x[:, None])
    assert scores.shape == (600,) and points.shape == (600, 1)
    assert 285 <= int(np.argmax(scores)) <= 330
    assert 290 <= int(np.argmax(points[:, 0])) <= 325
    np.testing.assert_array_equal(scorer.score(x[:, None]), scores)


def test_discord_scores_a_training_window_by_its_nearest_other_occurrence():
    # Scoring the training series again gives the same scores (the window
    # itself and its shifted copies are skipped, so they are not all 0).
    x = sine()
    scorer = DiscordScorer(max_reference=64).fit(x[:, None], 30)
    again = scorer.score(x[:, None])
    assert again.min() > 0
    np.testing.assert_array_equal(again, scorer.score(x[:, None]))
    assert scorer.reference_.shape[0] <= 64


def test_isolation_finds_unusual_values():
    x = sine()
    x[400:405] += 3.0
    scores = IsolationScorer(n_estimators=20).fit(x[:, None], 30, seed=0).score(x[:, None])
    assert 385 <= int(np.argmax(scores)) <= 420


def test_flatness_scores_exactly_the_stuck_run_of_the_stuck_feature():
    x = np.c_[sine(), sine(seed=1)]
    stuck = x.copy()
    stuck[250:300, 1] = stuck[250, 1]  # one sensor stuck at a normal level
    scorer = FlatnessScorer().fit(x, 30)
    scores, parts = scorer.score_parts(stuck)
    assert np.flatnonzero(scores > 0).tolist() == list(range(250, 300))
    assert parts[:, 0].max() == 0.0 and np.flatnonzero(parts[:, 1] > 0).tolist() == list(
        range(250, 300))
    # a shorter one is less surprising (a run is counted within one window);
    # normal data score exactly 0
    shorter = x.copy()
    shorter[250:270, 1] = shorter[250, 1]
    assert 0 < scorer.score(shorter).max() < scores.max()
    assert scorer.score(x).max() == 0.0


def test_flatness_leaves_series_whose_long_flat_stretches_are_normal():
    # A count that rests at 0 for a random while between bursts: long flat runs are normal.
    rng = np.random.default_rng(3)
    counts = np.zeros(1200)
    for start in range(0, 1200, 60):
        counts[start + rng.integers(0, 30): start + 40] = rng.poisson(5, 1)[0] + 1.0
    scorer = FlatnessScorer().fit(counts[:, None], 30)
    assert scorer.longest_[0] >= 30
    assert scorer.score(counts[:, None]).max() == 0.0


def test_flatness_checks_its_parameters_and_state():
    x = sine()[:, None]
    with pytest.raises(ValueError, match="tolerance"):
        FlatnessScorer(tolerance=-1).fit(x, 30)
    with pytest.raises(ValueError, match="contamination"):
        FlatnessScorer(contamination=0.9).fit(x, 30)
    params, arrays = FlatnessScorer().fit(x, 30).get_state()
    for key, bad in (("longest", np.array([1.0])), ("rate", np.array([np.nan])),
                     ("tolerance", np.array([0.1, 0.2]))):
        with pytest.raises(ValueError, match=f"`{key}`"):
            FlatnessScorer.from_state(params, {**arrays, key: bad})


def test_detector_with_the_flatness_scorer_finds_a_stuck_sensor_and_saves(tmp_path):
    x = np.c_[sine(900), sine(900, seed=1)]
    data = x.copy()
    data[500:560, 0] = data[500, 0]
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=1, window=30,
                          random_state=0, scorers=("reconstruction", "discord", "isolation",
                                                   "flatness")).fit(x)
    assert det.scorer_names_[-1] == "flatness"
    events = det.detect(data)
    hit = [e for e in events if e.start_index <= 560 and e.end_index >= 500]
    assert hit and hit[0].top_features[0][0] == "x0"
    loaded = AnomalyDetector.load(det.save(tmp_path / "flat.zip"))
    np.testing.assert_array_equal(loaded.score_samples(data), det.score_samples(data))


@pytest.mark.parametrize("cls", [DiscordScorer, IsolationScorer, FlatnessScorer,
                                 ResidualScorer])
def test_scorer_state_round_trip(cls):
    x = np.c_[sine(), sine(seed=1)]
    scorer = cls().fit(x, 20, seed=0)
    params, arrays = scorer.get_state()
    json.dumps(params)  # JSON data
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    rebuilt = cls.from_state(params, arrays)
    np.testing.assert_array_equal(rebuilt.score(x), scorer.score(x))


def test_scorers_check_their_input():
    scorer = DiscordScorer().fit(sine()[:, None], 30)
    with pytest.raises(ValueError, match="1 feature"):
        scorer.score(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="fewer than the window"):
        DiscordScorer().fit(np.zeros((10, 1)), 30)
    with pytest.raises(ValueError, match="k_distinct"):
        DiscordScorer(k_distinct=0).fit(sine()[:, None], 30)


def test_registry():
    assert {"discord", "isolation"} <= set(available_scorers())
    assert isinstance(make_scorer("discord"), DiscordScorer)
    with pytest.raises(ValueError, match="Unknown scorer"):
        make_scorer("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("discord", DiscordScorer)
    with pytest.raises(TypeError, match="BaseScorer subclass"):
        register_scorer("new_one", int)


def test_to_centres_places_each_window_score_on_its_centre():
    assert to_centres(np.array([5.0, 7.0]), 5, 4).tolist() == [5.0, 5.0, 5.0, 7.0, 7.0]
    assert issubclass(DiscordScorer, BaseScorer)


# ----------------------------------------------------------------- ensemble


def test_robust_scale_and_aggregate():
    scale = RobustScale.fit(np.r_[np.zeros(50), np.arange(50.0)])
    assert scale.median >= 0 and scale.iqr > 0
    constant = RobustScale.fit(np.ones(10))
    assert constant.iqr == 1.0 and constant.transform(np.array([3.0])).tolist() == [2.0]
    assert RobustScale.from_list(scale.to_list()).to_list() == scale.to_list()
    with pytest.raises(ValueError, match="positive iqr"):
        RobustScale.from_list([0.0, 0.0])
    with pytest.raises(ValueError, match="combine"):
        aggregate([np.zeros(3)], "median")
    shares = np.array([[0.25, 0.75], [1.0, 0.0]])
    contributions = combine_contributions(
        [np.array([2.0, 4.0]), np.array([6.0, 0.0])],
        [RobustScale(0.0, 1.0), RobustScale(0.0, 2.0)], shares)
    np.testing.assert_allclose(contributions.sum(axis=1), [2.5, 2.0])
    np.testing.assert_allclose(contributions[0], [0.625, 1.875])


@pytest.mark.parametrize(
    "scorers, error, match",
    [
        ("discord", TypeError, "list or tuple"),
        (("reconstruction", "nope"), ValueError, "must hold names"),
        (("reconstruction", "discord", "discord"), ValueError, "repeat"),
        (("discord",), ValueError, "must include 'reconstruction'"),
    ],
)
def test_bad_scorers(scorers, error, match):
    with pytest.raises(error, match=match):
        check_scorers(scorers)
    with pytest.raises(error, match=match):
        AnomalyDetector(scorers=scorers).fit(np.zeros((80, 1)))


def test_scorer_window_is_a_whole_period():
    assert choose_scorer_window(sine(4000, 288)) == 288
    assert choose_scorer_window(np.random.default_rng(0).normal(size=2000)) == 100
    assert choose_scorer_window(sine(200, 100)) == 50  # at most a quarter of the series


# ------------------------------------------------------- the default detector


@pytest.fixture(scope="module")
def ensemble():
    frame = make_incident_series(n_points=720, incidents=("spike", "stuck"), random_state=0)
    data = frame.set_index("timestamp")[["value"]]
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=2,
                          robust=False, random_state=0).fit(data)
    return det, data, frame


def test_default_combines_four_scorers(ensemble):
    det, data, frame = ensemble
    assert det.scorers == ("reconstruction", "discord", "isolation", "residual")
    assert [s.name for s in det.scorers_] == ["discord", "isolation", "residual"]
    assert det.scorer_window_ == 24  # the daily period of an hourly series
    assert det.smoothing_width_ == det.window_  # the model's window
    windowed = AnomalyDetector(smoothing="window", model="conv_autoencoder", model_params=TINY,
                               epochs=1, robust=False, random_state=0).fit(data)
    assert windowed.smoothing_width_ == windowed.scorer_window_ == 24
    assert len(det.scorer_scales_) == 4
    scores = det.score_samples(data).to_numpy()
    assert np.isfinite(scores).all() and (scores >= 0).all()
    np.testing.assert_allclose(scores, det.training_scores_, rtol=1e-6)
    explained = det.explain(data)
    np.testing.assert_allclose(explained.sum(axis=1), scores, rtol=1e-6)
    # Both incidents, the spike and the stuck sensor, are among the top scores.
    top = np.argsort(scores)[-36:]
    for kind in ("spike", "stuck"):
        where = np.flatnonzero(frame["incident"].to_numpy() == kind)
        assert np.any((top >= where[0] - 24) & (top <= where[-1] + 24)), kind


def test_default_save_load_gives_identical_scores(ensemble, tmp_path):
    det, data, _ = ensemble
    loaded = AnomalyDetector.load(det.save(tmp_path / "ensemble.zip"))
    np.testing.assert_array_equal(loaded.score_samples(data), det.score_samples(data))
    assert loaded.scorer_window_ == det.scorer_window_
    assert [s.to_list() for s in loaded.scorer_scales_] == [s.to_list() for s in det.scorer_scales_]


def _rewrite(path, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config, members)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_archives_before_the_scorers_load_with_the_model_alone(tmp_path):
    x = sine(300)
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=1, window=10,
                          robust=False, random_state=0, scorers=("reconstruction",),
                          smoothing=0.015).fit(x)
    path = det.save(tmp_path / "old.zip")

    def older(config, members):
        for name in ("scorers", "combine", "scorer_window"):
            del config["params"][name]
        for name in ("scorer_window_", "scorer_scales_", "exact_scales_"):
            del config["fitted"][name]
        del config["scorers"]

    _rewrite(path, older)
    loaded = AnomalyDetector.load(path)
    assert loaded.scorers == ("reconstruction",) and loaded.scorers_ == []
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))


def test_archives_before_exact_scales_score_by_the_older_rules(tmp_path):
    rng = np.random.default_rng(1)
    factor = np.sin(np.arange(500) * 2 * np.pi / 20)
    x = factor[:, None] * np.array([1.0, 0.7, 1.3]) + rng.normal(0, 0.05, (500, 3))
    x[420, 1] += 1.0
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=1, window=10,
                          robust=False, random_state=0).fit(x[:300])
    assert det.exact_scales_ is not None
    now = det.score_samples(x)
    path = det.save(tmp_path / "before.zip")

    def older(config, members):
        del config["fitted"]["exact_scales_"]

    _rewrite(path, older)
    loaded = AnomalyDetector.load(path)
    assert loaded.exact_scales_ is None
    det.exact_scales_ = None  # the older rules, in memory
    np.testing.assert_array_equal(loaded.score_samples(x), det.score_samples(x))
    np.testing.assert_array_equal(loaded.explain(x).to_numpy(), det.explain(x).to_numpy())
    assert not np.allclose(loaded.score_samples(x), now)


def test_tampered_scorer_state_is_refused(ensemble, tmp_path):
    det, _, _ = ensemble
    path = det.save(tmp_path / "t.zip")

    def drop_scale(config, members):
        config["fitted"]["scorer_scales_"] = config["fitted"]["scorer_scales_"][:2]

    _rewrite(path, drop_scale)
    with pytest.raises(ValueError, match="scorer_scales_"):
        AnomalyDetector.load(path)
    for exact, match in (([[0.0, 1.0]], "`exact_scales_` must hold 4 scale"),
                         ([[0.0, 0.0]] * 4, r"exact_scales_\[0\]"), ("x", "must be a list")):
        path = det.save(tmp_path / "e.zip")

        def bad_exact(config, members, exact=exact):
            config["fitted"]["exact_scales_"] = exact

        _rewrite(path, bad_exact)
        with pytest.raises((ValueError, TypeError), match=match):
            AnomalyDetector.load(path)
    path = det.save(tmp_path / "u.zip")

    def bad_reference(config, members):
        import io as _io
        buffer = _io.BytesIO()
        np.save(buffer, np.full((3, 3), np.nan, dtype=np.float32))
        members["scorer0.reference.npy"] = buffer.getvalue()

    _rewrite(path, bad_reference)
    with pytest.raises(ValueError, match="reference"):
        AnomalyDetector.load(path)


def test_bad_ensemble_parameters():
    x = np.zeros((80, 1))
    with pytest.raises(ValueError, match="combine"):
        AnomalyDetector(combine="median").fit(x)
    with pytest.raises(ValueError, match="scorer_window"):
        AnomalyDetector(scorer_window=0).fit(x)
    with pytest.raises(TypeError, match="`smoothing` must be a number.*'windows'"):
        AnomalyDetector(smoothing="windows").fit(x)


# --------------------------------------------------------------- generator


def test_incident_series():
    frame = make_incident_series(random_state=0)
    assert len(frame) == 1440 and frame["timestamp"].diff().dropna().eq(pd.Timedelta("1h")).all()
    sizes = frame.groupby("incident").size()
    assert sizes["spike"] == 3 and sizes["level_shift"] == 48 and sizes["drop"] == 12
    assert sizes["stuck"] == 48
    assert set(frame.loc[frame["label"] == 1, "incident"]) == set(SERIES_INCIDENTS)
    stuck = frame.loc[frame["incident"] == "stuck", "value"]
    normal = frame.loc[frame["label"] == 0, "value"]
    assert stuck.nunique() == 1 and normal.min() < stuck.iloc[0] < normal.max()
    drop = frame.loc[frame["incident"] == "drop", "value"]
    assert drop.max() < normal.min()
    clean = make_incident_series(incidents=(), random_state=0)
    assert clean["label"].sum() == 0
    with pytest.raises(ValueError, match="incidents"):
        make_incident_series(incidents=("fire",))
    with pytest.raises(ValueError, match="too small"):
        make_incident_series(n_points=100)
    with pytest.raises(TypeError, match="None"):
        make_incident_series(incidents=None)


# ------------------------------------------------------ held-out calibration


def _two_sensors(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.c_[np.sin(2 * np.pi * t / 60), np.cos(2 * np.pi * t / 60)] + rng.normal(
        0, 0.05, (n, 2))


def test_threshold_is_set_on_held_out_scores_so_a_clean_continuation_stays_quiet():
    x = _two_sensors(1200)
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=1, window=30,
                          random_state=0).fit(x[:400])
    assert det.scorer_window_ == 60
    # the next 800 clean points: in-sample calibration flagged most of them
    assert det.predict(x[400:]).mean() < 0.1
    # the scorers score their own training windows lower than new ones
    assert det.threshold_ > np.percentile(det.training_scores_, 95)
    np.testing.assert_array_equal(det.labels_, det.training_scores_ > det.threshold_)
    np.testing.assert_allclose(det.score_samples(x[:400]), det.training_scores_, rtol=1e-6)
    # a fault in the continuation is still found
    faulty = x[400:].copy()
    faulty[300:310, 0] += 3.0
    assert det.predict(faulty)[300:310].all()


def test_a_series_too_short_to_halve_is_calibrated_in_sample():
    from fusionlab.detection.ensemble import HELD_OUT_MIN_WINDOWS

    x = _two_sensors(300)
    det = AnomalyDetector(model="conv_autoencoder", model_params=TINY, epochs=1, window=30,
                          scorer_window=60, random_state=0).fit(x)
    assert 300 // 2 < HELD_OUT_MIN_WINDOWS * 60
    assert det.threshold_ == pytest.approx(np.percentile(det.training_scores_, 95))


def test_a_calibrated_scorer_is_added_to_the_others_not_averaged():
    from fusionlab.detection.ensemble import calibrated_flags, fit_scales

    names = ("reconstruction", "discord", "flatness")
    assert calibrated_flags(names) == [False, False, True]
    assert FlatnessScorer.calibrated and not DiscordScorer.calibrated
    raws = [np.arange(10.0), np.arange(10.0) * 2, np.r_[np.zeros(8), 30.0, 40.0]]
    scales = fit_scales(names, raws)
    assert scales[2].to_list() == [0.0, 1.0]  # kept in nats
    assert scales[0].to_list() == RobustScale.fit(raws[0]).to_list()
    shares = np.ones((10, 1))
    combined = combine_contributions(raws, scales, shares, added=calibrated_flags(names))[:, 0]
    expected = (scales[0].transform(raws[0]) + scales[1].transform(raws[1])) / 2 + raws[2]
    np.testing.assert_allclose(combined, expected)
    with pytest.raises(ValueError, match="one flag per score array"):
        aggregate([np.zeros(2)], added=[True, False])
    with pytest.raises(ValueError, match="not `added`"):
        aggregate([np.zeros(2)], added=[True])


def test_the_residual_scorer_sees_a_sensor_that_breaks_from_the_others():
    rng = np.random.default_rng(0)
    factor = np.sin(np.arange(900) * 2 * np.pi / 30)
    x = factor[:, None] * np.array([1.0, 0.8, 1.2, 0.9]) + rng.normal(0, 0.05, (900, 4))
    broken = x.copy()
    broken[600:612, 2] = -broken[600:612, 2]  # against the others, each value still usual
    scorer = ResidualScorer().fit(x, 30)
    assert scorer.components_.shape == (1, 4)  # one shared factor explains 90 %
    scores, parts = scorer.score_parts(broken)
    assert 598 <= int(np.argmax(scores)) <= 613
    assert int(np.argmax(parts[600:612].sum(axis=0))) == 2  # the broken sensor
    normal = scorer.score(x)
    assert np.median(scores[600:612]) > np.quantile(normal, 0.99)
    # one feature: nothing to agree with, every score 0 (the detector's ranking unchanged)
    assert float(ResidualScorer().fit(x[:, :1], 30).score(broken[:, :1]).max()) == 0.0
    params, arrays = scorer.get_state()
    rebuilt = ResidualScorer.from_state(params, arrays)
    np.testing.assert_array_equal(rebuilt.score(broken), scores)
    with pytest.raises(ValueError, match="variance"):
        ResidualScorer(variance=1.0).fit(x, 30)
    with pytest.raises(ValueError, match="`components`"):
        ResidualScorer.from_state(params, {**arrays, "components": np.ones((4, 4))})
    with pytest.raises(ValueError, match="`residual_scale`"):
        ResidualScorer.from_state(params, {**arrays, "residual_scale": np.zeros(4)})


def test_the_residual_scorer_stays_bounded_on_constant_and_duplicated_sensors():
    rng = np.random.default_rng(1)
    a = np.sin(np.arange(600) / 5) + rng.normal(0, 0.05, 600)
    constant = np.c_[a, np.zeros(600)]
    scorer = ResidualScorer().fit(constant, 20)
    assert scorer.active_.tolist() == [1.0, 0.0]
    moved = constant.copy()
    moved[300:310, 1] = 0.01  # the constant sensor moves: for the model to see, not here
    assert float(scorer.score(moved).max()) == 0.0
    twin = np.c_[a, a]
    scorer = ResidualScorer().fit(twin, 20)
    assert float(scorer.score(twin + 1e-9).max()) == 0.0  # rounding is not disagreement
    apart = twin.copy()
    apart[300:310, 1] += 0.5  # the twins part: scored, and finite
    scores = scorer.score(apart)
    assert np.isfinite(scores).all() and 290 <= int(np.argmax(scores)) <= 320
    assert scores.max() < 1e12


def test_a_point_exact_scorer_is_not_spread_by_the_smoothing():
    from fusionlab.detection.ensemble import exact_contributions, point_exact_flags
    from fusionlab.detection.scoring import keep_exact, smooth_errors

    names = ("reconstruction", "discord", "residual")
    assert point_exact_flags(names) == [False, False, True]
    assert ResidualScorer.point_exact and not DiscordScorer.point_exact
    raws = [np.zeros(9), np.zeros(9), np.r_[np.zeros(4), 9.0, np.zeros(4)]]
    scales = [RobustScale(0.0, 1.0)] * 3
    shares = np.ones((9, 1))
    # As a detector fitted before point-exact scorers were added on top.
    combined = combine_contributions(raws, scales, shares)
    exact = exact_contributions(raws, scales, shares, "mean", names)
    np.testing.assert_allclose(exact[:, 0], raws[2] / 3)  # its share of the mean
    assert exact_contributions(raws, scales, shares, "max", names)[4, 0] == 9.0
    smoothed = smooth_errors(combined, 3, 0.0)
    kept = keep_exact(smoothed, exact)[:, 0]
    assert kept[4] == 3.0 and kept[3] == kept[5] == 1.0  # the point keeps its height
    assert exact_contributions(raws, scales, shares, "mean", names[:2] + ("isolation",)) is None
    with pytest.raises(ValueError, match=r"`only` must hold one flag per score array \(3\)"):
        combine_contributions(raws, scales, shares, only=[True])


def test_a_point_exact_scorer_is_added_split_by_its_parts_and_kept_beyond_training():
    from fusionlab.detection.ensemble import (
        added_flags,
        exact_contributions,
        exact_scales,
        point_shares,
    )

    names = ("reconstruction", "discord", "residual")
    added = added_flags(names)
    assert added == [False, False, True] and added_flags(names, points=False) == [False] * 3
    raws = [np.full(6, 2.0), np.full(6, 4.0), np.array([0.0, 1.0, 2.0, 3.0, 8.0, 0.0])]
    scales = [RobustScale(0.0, 1.0)] * 3
    shares = np.tile([0.5, 0.5], (6, 1))
    own = [None, None, np.tile([0.0, 1.0], (6, 1))]
    rows = combine_contributions(raws, scales, shares, "mean", added, own=own)
    # The mean of the window scorers on the model's shares, the residual on its own.
    np.testing.assert_allclose(rows[:, 0], 1.5)
    np.testing.assert_allclose(rows[:, 1], 1.5 + raws[2])
    with pytest.raises(ValueError, match=r"only for `added`.*`own\[2\]` is not added"):
        combine_contributions(raws, scales, shares, "mean", [False] * 3, own=own)
    with pytest.raises(ValueError, match="one entry per score array"):
        combine_contributions(raws, scales, shares, "mean", added, own=own[:2])
    with pytest.raises(ValueError, match=r"`own\[2\]` must have the shape of `shares` \(6, 2\)"):
        combine_contributions(raws, scales, shares, "mean", added,
                              own=[None, None, np.ones((6, 3))])
    with pytest.raises(ValueError, match=r"`added` must hold one bool per score array \(3\)"):
        combine_contributions(raws, scales, shares, "mean", added[:2])
    with pytest.raises(ValueError, match="`added` must hold one bool"):
        combine_contributions(raws, scales, shares, "mean", names)  # names, not flags
    with pytest.raises(ValueError, match=r"`scales` must hold one scale per score array"):
        combine_contributions(raws, scales[:2], shares)
    # Kept unsmoothed only beyond the end of the training scores' tail:
    # their 95th percentile plus twice its distance from their median.
    floors = exact_scales(names, scales, [np.zeros(6), np.zeros(6), np.full(6, 3.0)])
    assert [s.to_list() for s in floors] == [[0.0, 1.0], [0.0, 1.0], [3.0, 1.0]]
    held = np.r_[np.zeros(50), np.arange(1.0, 51.0)]  # median 0.5, 95th percentile 45.05
    assert exact_scales(names, scales, [held] * 3)[2].median == pytest.approx(45.05 + 2 * 44.55)
    assert exact_scales(names, scales, [held] * 3, contamination=0.5)[2].median == 0.5
    # A training series' own anomalies (fewer than the contamination) leave it.
    spiked = np.r_[np.full(97, 3.0), 1e6, 1e6, 1e6]
    assert exact_scales(names, scales, [spiked] * 3)[2].median == 3.0
    with pytest.raises(ValueError, match="`contamination`"):
        exact_scales(names, scales, [held] * 3, contamination=1.5)
    with pytest.raises(ValueError, match=r"one entry per scorer name \(3\); received 3 and 2"):
        exact_scales(names, scales, [held] * 2)
    exact = exact_contributions(raws, floors, shares, "mean", names, added, own)
    np.testing.assert_allclose(exact.sum(axis=1), [0, 0, 0, 0, 5.0, 0])
    assert exact[4, 0] == 0.0  # on the residual's own feature
    # A residual scorer's shares name the sensor that broke.
    rng = np.random.default_rng(0)
    factor = np.sin(np.arange(400) * 2 * np.pi / 20)
    x = factor[:, None] * np.array([1.0, 0.8, 1.2]) + rng.normal(0, 0.05, (400, 3))
    scorer = ResidualScorer().fit(x, 20)
    broken = x.copy()
    broken[300, 2] += 2.0
    parts = point_shares(("reconstruction", "residual"), [scorer], broken)
    assert parts[0] is None and int(np.argmax(parts[1][300])) == 2
    np.testing.assert_allclose(scorer.point_parts(broken).sum(axis=1), scorer.score_points(broken))
    with pytest.raises(ValueError, match="3 feature"):
        scorer.point_parts(broken[:, :2])


def test_a_one_point_break_of_one_sensor_scores_highest_at_its_point():
    rng = np.random.default_rng(3)
    factor = np.sin(np.arange(700) * 2 * np.pi / 24)
    x = factor[:, None] * np.array([1.0, 0.8, 1.2, 0.9]) + rng.normal(0, 0.05, (700, 4))
    broken = x.copy()
    broken[450, 1] += 1.0  # one point of one sensor, within the sensors' range
    broken[696, 2] += 1.0  # and one in the last half scorer window
    detector = AnomalyDetector(model="conv_autoencoder", window=12, epochs=2, robust=False,
                               random_state=0).fit(x[:400])
    assert detector.exact_kept_ and "residual" in detector.scorer_names_
    assert 696 > 700 - detector.scorer_window_ // 2
    scores = np.asarray(detector.score_samples(broken))
    assert int(np.argmax(scores)) == 450
    assert int(np.argmax(scores[650:])) == 46  # scored on its own point, not a window's
    explained = detector.explain(broken).to_numpy()
    # Named by the residual's own parts: the sensor that broke, at its point.
    assert int(np.argmax(explained[450])) == 1 and int(np.argmax(explained[696])) == 2
    # As an archive fitted before: scored on window centres (the ends
    # repeating the nearest), averaged and smoothed with the others.
    detector.exact_kept_, detector.exact_scales_ = False, None
    spread = np.asarray(detector.score_samples(broken))
    assert scores[450] > spread[450]
    inner = slice(detector.scorer_window_ + detector.smoothing_width_,
                  -(detector.scorer_window_ + detector.smoothing_width_))
    assert np.all(scores[inner] >= spread[inner])
    assert scores[696] > 2 * spread[696]
