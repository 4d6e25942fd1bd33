"""Threshold strategies on extreme inputs and bad arguments (issue 14, item 12)."""

import numpy as np
import pytest

from fusionlab.detection import (
    ContaminationThreshold,
    DynamicThreshold,
    MeanStdThreshold,
    PercentileThreshold,
    SPOTThreshold,
)

SCALE = 2.0**1020  # ~1.1e307: the scores stay finite, their squares and sums do not.


@pytest.fixture(scope="module")
def exponential_scores():
    return np.random.default_rng(0).exponential(size=20000)


@pytest.mark.parametrize("strategy, rel", [
    (PercentileThreshold(99.0), 1e-15),
    (ContaminationThreshold(1e-4), 1e-15),   # midpoint of the two largest
    (MeanStdThreshold(3.0), 1e-15),          # std of huge values overflowed
    (DynamicThreshold(), 1e-15),
    # genpareto's fit is not exactly scale invariant; 1e-3 is far tighter
    # than the inf or the absurd gamma (~600) the unscaled fit gave.
    (SPOTThreshold(), 1e-3),
])
def test_thresholds_of_huge_scores_are_finite_and_scale_with_them(
        strategy, rel, exponential_scores):
    reference = strategy.clone().fit(exponential_scores).threshold_
    with np.errstate(all="raise"):  # no overflow on the way either
        huge = strategy.clone().fit(exponential_scores * SCALE)
    assert np.isfinite(huge.threshold_)
    assert huge.threshold_ == pytest.approx(reference * SCALE, rel=rel)


def test_spot_on_huge_and_tiny_scores_fits_the_same_tail(exponential_scores):
    reference = SPOTThreshold().fit(exponential_scores)
    for factor in (1e300, 1e-300):
        scaled = SPOTThreshold().fit(exponential_scores * factor)
        assert np.isfinite(scaled.threshold_)
        assert scaled.threshold_ == pytest.approx(reference.threshold_ * factor, rel=1e-3)
        assert scaled.gamma_ == pytest.approx(reference.gamma_, abs=1e-3)
        assert scaled.sigma_ == pytest.approx(reference.sigma_ * factor, rel=1e-3)


def test_a_threshold_beyond_float64_raises_instead_of_returning_inf(exponential_scores):
    # -log(1e-300) ~ 690 times a scale of 3.5e305 exceeds the float64 range.
    with pytest.raises(ValueError, match=r"SPOTThreshold.*not finite.*`q`"):
        SPOTThreshold(q=1e-300).fit(exponential_scores * 2.0**1015)
    with pytest.raises(ValueError, match=r"MeanStdThreshold.*not finite"):
        MeanStdThreshold(k=1e308).fit(exponential_scores * 4.0)


@pytest.mark.parametrize("bad, error", [
    ("ten", TypeError), (2.7, TypeError), (True, TypeError), (None, TypeError),
    (0, ValueError), (-3, ValueError),
])
def test_spot_min_excesses_must_be_a_positive_integer(bad, error, exponential_scores):
    with pytest.raises(error, match=r"`min_excesses` must be a positive integer.*received"):
        SPOTThreshold(min_excesses=bad).fit(exponential_scores)
