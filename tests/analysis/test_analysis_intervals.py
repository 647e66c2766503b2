"""Wilson and paired intervals: hand-computed answers, properties, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysim.analysis.intervals import (
    mean_difference_interval,
    paired_proportion_difference,
    wilson_interval,
)


def test_wilson_eight_of_ten_by_hand() -> None:
    # p = 0.8, z = 1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10) = 0.716735,
    # half = z / (1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.226583
    lo, hi = wilson_interval(8, 10)
    assert float(lo) == pytest.approx(0.490162, abs=1e-5)
    assert float(hi) == pytest.approx(0.943318, abs=1e-5)


def test_wilson_extremes_and_empty() -> None:
    lo, hi = wilson_interval(np.array([0, 10, 0]), np.array([10, 10, 0]))
    # k = 0: hi = z^2 / (n + z^2) = 3.841459 / 13.841459; k = n: lo = n / (n + z^2)
    np.testing.assert_allclose(lo, [0.0, 10 / 13.841459, 0.0], atol=1e-6)
    np.testing.assert_allclose(hi, [3.841459 / 13.841459, 1.0, 1.0], atol=1e-6)


def test_wilson_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=1.0)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_contains_estimate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= float(lo) <= k / n <= float(hi) <= 1.0


def test_wilson_vectorised_matches_scalar() -> None:
    k = np.array([0, 3, 7, 50])
    n = np.array([5, 9, 20, 50])
    lo, hi = wilson_interval(k, n, 0.9)
    for i in range(k.size):
        lo_i, hi_i = wilson_interval(int(k[i]), int(n[i]), 0.9)
        assert float(lo_i) == lo[i]
        assert float(hi_i) == hi[i]


def test_paired_identical_is_exact_zero() -> None:
    x = np.array([True, False, True, True, False])
    assert paired_proportion_difference(x, x.copy()) == (0.0, 0.0, 0.0)


def test_paired_by_hand_no_correlation_term() -> None:
    # 8 both, 2 only in x: p1 = 1.0, p2 = 0.8; a zero margin makes phi = 0.
    # l1 = 10 / 13.841459 = 0.722467, u1 = 1; (l2, u2) = (0.490162, 0.943318)
    # lo = 0.2 - sqrt(0.277533^2 + 0.143318^2) = -0.112355
    # hi = 0.2 + sqrt(0 + 0.309838^2) = 0.509838
    x = np.ones(10, dtype=bool)
    y = np.array([True] * 8 + [False] * 2)
    diff, lo, hi = paired_proportion_difference(x, y)
    assert diff == pytest.approx(0.2)
    assert lo == pytest.approx(-0.112355, abs=1e-5)
    assert hi == pytest.approx(0.509838, abs=1e-5)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200))
def test_paired_interval_properties(pairs: list[tuple[bool, bool]]) -> None:
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    diff, lo, hi = paired_proportion_difference(x, y)
    assert -1.0 <= lo <= diff <= hi <= 1.0
    assert diff == pytest.approx(x.mean() - y.mean())
    # swapping the scenarios mirrors the interval
    d2, lo2, hi2 = paired_proportion_difference(y, x)
    assert d2 == pytest.approx(-diff)
    assert lo2 == pytest.approx(-hi)
    assert hi2 == pytest.approx(-lo)


def test_paired_coverage_near_nominal() -> None:
    # correlated pairs: P(x) = 0.6, P(y) = 0.5, shared uniform draws (common random numbers)
    rng = np.random.default_rng(20180104)
    n, sims, hits = 100, 1500, 0
    for _ in range(sims):
        u = rng.uniform(size=n)
        v = np.where(rng.uniform(size=n) < 0.7, u, rng.uniform(size=n))
        x, y = u < 0.6, v < 0.5
        _, lo, hi = paired_proportion_difference(x, y)
        hits += lo <= 0.1 <= hi
    assert 0.925 <= hits / sims <= 0.975


def test_mean_difference_interval() -> None:
    assert mean_difference_interval(np.zeros(7)) == (0.0, 0.0, 0.0)
    # mean 2, sd 1 (values 1, 2, 3), t(0.975, 2) = 4.302653: half-width 4.302653 / sqrt(3)
    m, lo, hi = mean_difference_interval([1.0, 2.0, 3.0])
    assert m == 2.0
    assert lo == pytest.approx(2.0 - 2.484138, abs=1e-5)
    assert hi == pytest.approx(2.0 + 2.484138, abs=1e-5)
    assert all(np.isnan(mean_difference_interval([np.nan])))
