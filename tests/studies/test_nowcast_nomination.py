"""The probability that a run's national nomination includes named counties, and the nomination
drawn given that it does (the fully adapted step of the nowcast's filter): known answers and
agreement with brute-force Gumbel draws of the model's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from policysim.studies.nowcast_nomination import draw_given_named, named_probability

N = 40


@pytest.fixture(scope="module")
def score() -> np.ndarray:
    return np.random.default_rng(3).normal(50.0, 10.0, N)


def candidates() -> np.ndarray:
    c = np.ones(N, bool)
    c[:4] = False  # e.g. districts or counties already national
    return c


def mask(*idx: int) -> np.ndarray:
    m = np.zeros(N, bool)
    m[list(idx)] = True
    return m


def brute_force(score: np.ndarray, named: np.ndarray, k: int, tau: float, n: int) -> tuple:
    """The model's rule itself: top k of score + tau * Gumbel among the candidates."""
    rng = np.random.default_rng(99)
    key = np.where(candidates(), score, -np.inf) + tau * rng.gumbel(size=(n, N))
    top = np.argpartition(-key, k - 1, axis=1)[:, :k]
    hit = np.zeros((n, N), bool)
    np.put_along_axis(hit, top, True, axis=1)
    ok = hit[:, named].all(axis=1)
    return ok.mean(), hit[ok].mean(axis=0)


def test_one_seat_is_the_logit_share(score: np.ndarray) -> None:
    tau = 6.0
    w = np.exp(score / tau) * candidates()
    for j in (5, 17, 30):
        p = named_probability(score, candidates(), mask(j), 1, tau)
        assert p == pytest.approx(w[j] / w.sum(), rel=1e-4)


def test_no_noise_is_the_ranking(score: np.ndarray) -> None:
    order = np.flatnonzero(candidates())[np.argsort(-score[candidates()])]
    assert named_probability(score, candidates(), mask(*order[:2]), 3, 0.0) == 1.0
    assert named_probability(score, candidates(), mask(order[0], order[5]), 3, 0.0) == 0.0


def test_impossible_events_have_probability_zero(score: np.ndarray) -> None:
    assert named_probability(score, candidates(), mask(1), 3, 10.0) == 0.0  # not a candidate
    assert named_probability(score, candidates(), mask(5, 6, 7), 2, 10.0) == 0.0  # 3 > 2 seats


@pytest.mark.parametrize(
    ("ranks", "k", "tau"), [((0, 3), 3, 5.0), ((1, 6, 12), 5, 10.0), ((15,), 4, 8.0)]
)
def test_agrees_with_the_models_rule_drawn_many_times(
    score: np.ndarray, ranks: tuple[int, ...], k: int, tau: float
) -> None:
    """Named counties given by their rank among the candidates (0 = highest score)."""
    order = np.flatnonzero(candidates())[np.argsort(-score[candidates()])]
    m = mask(*order[list(ranks)])
    p = named_probability(score, candidates(), m, k, tau)
    n = 100_000
    freq, cond = brute_force(score, m, k, tau, n)
    se = np.sqrt(freq * (1 - freq) / n)
    assert freq > 0.002  # the cases are chosen to be checkable
    assert abs(p - freq) < 4 * se + 1e-3 * p
    # drawn given the event: the named always in, k nominees, the others as often as the rule
    rng = np.random.default_rng(5)
    draws = np.array([draw_given_named(score, candidates(), m, k, tau, rng) for _ in range(1000)])
    assert draws[:, m].all()
    assert (draws.sum(axis=1) == k).all()
    assert not draws[:, ~candidates()].any()
    np.testing.assert_allclose(draws.mean(axis=0), cond, atol=0.07)


def test_more_noise_makes_a_low_ranked_county_likelier(score: np.ndarray) -> None:
    low = int(np.flatnonzero(candidates())[np.argmin(score[candidates()])])
    p = [named_probability(score, candidates(), mask(low), 5, t) for t in (2.0, 5.0, 20.0)]
    assert p[0] < p[1] < p[2]
