"""Known answers for the policy calendar, the user cost of R&D, the index and designation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.agents.calendar import resolve_year
from policysim.agents.counties import DesignationState, designation_year
from policysim.agents.enterprises import b_index, band_threshold, firm_tax
from policysim.agents.places import top_k
from policysim.agents.random import poisson_from_uniform, poisson_quantile, uniforms
from policysim.agents.support import share_by_group
from policysim.scenario import LoadedScenario


@pytest.mark.parametrize(
    ("year", "sd_all", "sd_tech", "sd_manu"),
    [
        (2017, 0.50, 0.75, 0.50),  # 财税〔2017〕34号: tech SMEs 75%
        (2018, 0.75, 0.75, 0.75),  # 财税〔2018〕99号: all 75%
        (2021, 0.75, 0.75, 1.00),  # 2021年第13号: manufacturing 100%
        (2022, 0.75, 1.00, 1.00),  # 2022年第16号: tech SMEs 100%
        (2023, 1.00, 1.00, 1.00),  # 2023年第7号: all 100%
    ],
)
def test_super_deduction_calendar(
    baseline_scenario: LoadedScenario, year: int, sd_all: float, sd_tech: float, sd_manu: float
) -> None:
    rules = resolve_year(baseline_scenario.scenario.policy, year)
    assert (rules.sd_all, rules.sd_tech_sme, rules.sd_manufacturing) == (sd_all, sd_tech, sd_manu)
    assert rules.cit == 0.25
    assert rules.hnte_tax == 0.15


def test_hnte_bands_by_regime(baseline_scenario: LoadedScenario) -> None:
    policy = baseline_scenario.scenario.policy
    sales = np.array([1e7, 5e7, 5.1e7, 2e8, 3e8])
    assert band_threshold(resolve_year(policy, 2018), sales).tolist() == [
        0.05,
        0.05,
        0.04,
        0.04,
        0.03,
    ]
    assert band_threshold(resolve_year(policy, 2012), sales)[0] == 0.06


def test_firm_tax_takes_the_largest_applicable_deduction(baseline_scenario: LoadedScenario) -> None:
    rules = resolve_year(baseline_scenario.scenario.policy, 2021)  # manufacturing 100%, else 75%
    hnte = np.array([False, True, False, True, False])
    tech_sme = np.array([False, False, True, True, False])
    manufacturing = np.array([False, False, False, True, True])
    tau, sd = firm_tax(rules, hnte, tech_sme, manufacturing)
    assert tau.tolist() == [0.25, 0.15, 0.25, 0.15, 0.25]
    assert sd.tolist() == [0.75, 0.75, 0.75, 1.0, 1.0]


def test_b_index_known_values() -> None:
    # PARAMETERS.md: tax value of the extra deduction = rate x CIT; B = (1 - t(1+sd)) / (1 - t)
    assert b_index(0.25, 0.75) == pytest.approx((1 - 0.25 * 1.75) / 0.75)
    assert b_index(0.25, 0.0) == pytest.approx(1.0)
    # an HNTE gets less from the super-deduction than a firm taxed at 25%
    assert b_index(0.15, 0.75) > b_index(0.25, 0.75)


def test_share_by_group_spends_each_total() -> None:
    group = np.array([0, 0, 1, 1, 1, 2])
    weights = np.array([1.0, 3.0, 0.0, 1.0, 1.0, 0.0])
    out = share_by_group(np.array([4.0, 10.0, 7.0]), group, weights, 3)
    assert out.tolist() == [1.0, 3.0, 0.0, 5.0, 5.0, 0.0]  # group 2 has no weight: nothing spent


def test_top_k_and_designation_cycle() -> None:
    assert top_k(
        np.array([True, True, False, True]), np.array([1.0, 3.0, 9.0, 2.0]), 2
    ).tolist() == [False, True, False, True]
    state = DesignationState.empty(3)
    one_class = np.zeros(3, np.int64)
    kw = {
        "build_cycle": 3,
        "fundable": 10,
        "can_apply": np.ones(3, bool),
        "min_gain": 0.0,
        "min_percentile": 0.5,
        "national_size": 0,
    }

    def year(s: DesignationState, y: int, score: list[float], size: int) -> DesignationState:
        return designation_year(s, y, np.array(score), one_class, 1, batch_size=size, **kw)

    s = year(state, 2018, [70.0, 61.0, 50.0], 1)
    assert s.pilot.tolist() == [True, False, False]
    assert s.start_score[0] == 70.0
    s = year(s, 2019, [70.0, 61.0, 50.0], 1)
    assert s.pilot.tolist() == [True, True, False]
    # 2021: county 0 completes its 3-year cycle, gained (72 >= 70) and stands first: passes;
    # county 1 is still building
    s = year(s, 2021, [72.0, 50.0, 50.0], 0)
    assert s.designated.tolist() == [True, False, False]
    assert s.pilot.tolist() == [False, True, False]
    # 2022: county 1 lost ground over its cycle (55 < 61): fails and leaves the pilot
    s = year(s, 2022, [72.0, 55.0, 50.0], 0)
    assert s.pilot.tolist() == [False, False, False]
    assert s.designated.tolist() == [True, False, False]


def test_counter_based_uniforms_follow_identity() -> None:
    ids = np.arange(1000, dtype=np.int64)
    u = uniforms(7, ids, 2020, 1)
    perm = np.random.default_rng(0).permutation(1000)
    assert np.array_equal(uniforms(7, ids[perm], 2020, 1), u[perm])
    assert not np.array_equal(uniforms(8, ids, 2020, 1), u)
    assert 0.45 < u.mean() < 0.55
    assert u.min() >= 0.0
    assert u.max() < 1.0


@pytest.mark.parametrize("mean", [0.0, 0.4, 1.7, 6.0])
def test_poisson_table_equals_inversion(mean: float) -> None:
    u = np.random.default_rng(2).random(20_000)
    u[:3] = [0.0, np.exp(-mean), 1.0 - 1e-16]  # the CDF's first step and the top
    expected = poisson_from_uniform(np.full(u.size, mean), u)
    assert np.array_equal(poisson_quantile(mean, u), expected)


def test_poisson_inversion_mean() -> None:
    u = np.random.default_rng(1).random(200_000)
    k = poisson_from_uniform(np.full(u.size, 3.0), u)
    assert k.mean() == pytest.approx(3.0, abs=0.02)
    assert k.var() == pytest.approx(3.0, abs=0.05)


def _top_k_by_stable_sort(candidates: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Reference: the first k candidates of a stable sort by descending score."""
    chosen = np.zeros(candidates.shape, dtype=bool)
    idx = np.flatnonzero(candidates)
    if k > 0 and idx.size:
        chosen[idx[np.argsort(-score[idx], kind="stable")[:k]]] = True
    return chosen


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, 7.0, float("nan"), float("inf")])
            | st.floats(-10, 10),
        ),
        max_size=60,
    ),
    k=st.integers(-1, 70),
)
def test_top_k_equals_a_stable_sort(data: list[tuple[bool, float]], k: int) -> None:
    """top_k picks by partition: exactly the set of a stable sort, ties broken by position
    (many ties, signed zeros, infinities and NaN scores included)."""
    candidates = np.array([c for c, _ in data], dtype=bool)
    score = np.array([s for _, s in data], dtype=np.float64)
    np.testing.assert_array_equal(
        top_k(candidates, score, k), _top_k_by_stable_sort(candidates, score, k)
    )
