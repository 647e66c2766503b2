"""Designation that responds to money and behaviour (issue 13): the relative index, batches split
by functional class and limited by funds, the evaluation, pilots in the model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from test_model import _identical_counties

import policysim
from policysim.agents.counties import (
    INDEX_MEAN,
    INDEX_SD,
    DesignationState,
    can_match,
    class_percentile,
    cultivation_draws,
    designation_year,
    fundable_pilots,
    relative_index,
    select_pilots,
    split_batch,
    starter_draws,
    zscores,
    zscores_rows,
)
from policysim.agents.enterprises import Firms
from policysim.agents.places import CountyIndicators
from policysim.model import N_INSTRUMENTS, CountySummary, PolicyModel
from policysim.scenario import LoadedScenario, Scenario, load_scenario
from policysim.simulation import baseline_for

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "jiangxi_baseline.yaml"
WEIGHTS = (0.25, 0.25, 0.30, 0.20)
NOMINAL = ("gdp_per_capita", "patents_per_10k")  # indicators in money or counts per head


def _indicators(rng: np.random.Generator, n: int) -> CountyIndicators:
    return CountyIndicators(
        platforms_per_xz=rng.gamma(2.0, 0.1, n),
        commissioners_per_xz=rng.gamma(2.0, 0.5, n),
        management=rng.uniform(0.1, 0.9, n),
        rd_intensity=rng.gamma(2.0, 0.005, n),
        st_share=rng.gamma(2.0, 0.01, n),
        status_firms_per_100=rng.gamma(2.0, 2.0, n),
        patents_per_10k=rng.gamma(2.0, 1.0, n),
        township_share=rng.uniform(0.0, 0.3, n),
        gdp_per_capita=rng.lognormal(10.5, 0.4, n),
        gdp_growth=rng.normal(0.08, 0.02, n),
    )


# ------------------------------------------------------------------------------------------
# pure rules: known answers and properties


def test_first_batch_of_five_splits_two_two_one() -> None:
    # 35 development, 33 agricultural, 32 ecological counties: the documented first batch
    assert split_batch(5, np.array([35, 33, 32])).tolist() == [2, 2, 1]
    assert split_batch(6, np.array([35, 33, 32])).tolist() == [2, 2, 2]
    assert split_batch(2, np.array([35, 33, 32])).tolist() == [1, 1, 0]
    assert split_batch(4, np.array([1, 0, 10])).tolist() == [1, 0, 3]  # seats fit the classes
    assert split_batch(0, np.array([5, 5, 5])).tolist() == [0, 0, 0]


@given(
    size=st.integers(0, 30),
    counts=st.lists(st.integers(0, 40), min_size=3, max_size=3),
)
def test_split_batch_fills_what_it_can(size: int, counts: list[int]) -> None:
    seats = split_batch(size, np.array(counts))
    assert seats.sum() == min(size, sum(counts))
    assert (seats <= np.array(counts)).all()
    if size >= sum(c > 0 for c in counts):
        assert all(s >= 1 for s, c in zip(seats, counts, strict=True) if c > 0)


def test_select_pilots_ranks_within_each_class() -> None:
    # class 0 has the three best scores, but seats are per class
    score = np.array([90.0, 80.0, 70.0, 40.0, 30.0, 20.0])
    classes = np.array([0, 0, 0, 1, 1, 2])
    chosen = select_pilots(score, classes, np.ones(6, bool), 3, 3)
    assert chosen.tolist() == [True, False, False, True, False, True]
    # an ineligible county is never chosen
    eligible = np.array([False, True, True, True, True, True])
    chosen = select_pilots(score, classes, eligible, 3, 3)
    assert chosen.tolist() == [False, True, False, True, False, True]


def test_no_money_no_pilot() -> None:
    assert fundable_pilots(0.0, 0.4, 1e7, 0) == 0
    assert fundable_pilots(1e9, 0.4, 0.0, 0) == 0
    assert fundable_pilots(1e9, 0.4, 1e7, 0) == 40
    assert fundable_pilots(1e9, 0.4, 1e7, 35) == 5
    assert fundable_pilots(1e9, 0.4, 1e7, 50) == 0
    assert can_match(np.array([1e9, 1e8]), 1e7, 0.05).tolist() == [True, False]


def test_unfundable_batch_launches_no_pilot() -> None:
    s = designation_year(
        DesignationState.empty(4),
        2018,
        np.array([80.0, 70.0, 60.0, 50.0]),
        np.zeros(4, np.int64),
        1,
        build_cycle=3,
        batch_size=4,
        fundable=0,
        can_apply=np.ones(4, bool),
        min_gain=0.0,
        min_percentile=0.3,
        national_size=2,
    )
    assert not s.pilot.any()
    assert not s.national.any()  # national nominees come from provincial counties only


def test_evaluation_uses_own_start_and_standing() -> None:
    state = dataclasses.replace(
        DesignationState.empty(4),
        pilot=np.array([True, True, True, False]),
        pilot_since=np.array([2018, 2018, 2018, -1]),
        start_score=np.array([60.0, 60.0, 40.0, np.nan]),
    )
    kw = {
        "build_cycle": 3,
        "batch_size": 0,
        "fundable": 0,
        "can_apply": np.ones(4, bool),
        "min_gain": 0.0,
        "min_percentile": 0.3,
        "national_size": 1,
    }
    # county 0 improved and stands first; county 1 fell below its start; county 2 improved
    # (40 -> 45) but stands last in its class
    s = designation_year(
        state, 2021, np.array([65.0, 58.0, 45.0, 50.0]), np.zeros(4, np.int64), 1, **kw
    )
    assert s.designated.tolist() == [True, False, False, False]
    assert not s.pilot.any()
    assert s.national.tolist() == [True, False, False, False]


def test_class_percentile() -> None:
    pct = class_percentile(np.array([1.0, 3.0, 2.0, 5.0]), np.array([0, 0, 0, 1]), 2)
    assert pct.tolist() == [0.0, 1.0, 0.5, 0.5]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
    n=st.integers(5, 120),
)
def test_rescoring_invariant_to_a_common_nominal_scale(seed: int, scale: float, n: int) -> None:
    rng = np.random.default_rng(seed)
    ind = _indicators(rng, n)
    scaled = dataclasses.replace(ind, **{k: getattr(ind, k) * scale for k in NOMINAL})
    a, _ = relative_index(ind, WEIGHTS)
    b, _ = relative_index(scaled, WEIGHTS)
    np.testing.assert_allclose(a, b, atol=1e-8)
    assert a.mean() == pytest.approx(INDEX_MEAN)
    assert a.std() == pytest.approx(INDEX_SD)


@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e3))
def test_zscores_invariant_to_offset_and_scale(offset: float, scale: float) -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 3.0])
    np.testing.assert_allclose(zscores(offset + scale * x), zscores(x), atol=1e-6)
    assert not zscores(np.full(4, 7.0)).any()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3100),
    flat=st.lists(st.integers(0, 4), max_size=3),
)
def test_zscores_of_rows_equal_zscores_row_by_row(seed: int, n: int, flat: list[int]) -> None:
    """The index scores its ten indicators in one pass over the rows: exactly the numbers of
    :func:`zscores` row by row (constant rows included), at Jiangxi and national sizes."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 1.5, (5, n)) * rng.uniform(1e-3, 1e9, (5, 1))
    for row in flat:
        x[row] = 3.0
    np.testing.assert_array_equal(zscores_rows(x), np.vstack([zscores(r) for r in x]))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 9), sd=st.floats(0.0, 8.0))
def test_noise_never_changes_how_many_enter(seed: int, k: int, sd: float) -> None:
    """Seats are a batch decision: evaluation noise changes who enters, not how many."""
    rng = np.random.default_rng(seed)
    n = 30
    score = rng.normal(50, 10, n)
    classes = rng.integers(0, 3, n)
    eligible = rng.random(n) < 0.8
    a = select_pilots(score, classes, eligible, k, 3)
    b = select_pilots(score + rng.normal(0, sd, n), classes, eligible, k, 3)
    assert a.sum() == b.sum() == split_batch(k, np.bincount(classes[eligible], minlength=3)).sum()


def test_remapped_draws_raise_the_rate_by_the_extra() -> None:
    u = np.random.default_rng(0).random(200_000)
    extra = np.full(u.size, 0.1)
    assert np.mean(cultivation_draws(u, extra) < 0.2) == pytest.approx(0.3, abs=0.005)
    v = starter_draws(u, extra, 0.05)
    starts = v < 0.05
    assert starts.mean() == pytest.approx(0.15, abs=0.005)
    level = v[starts] / 0.05  # a starter's level stays uniform
    assert level.mean() == pytest.approx(0.5, abs=0.01)
    assert not (starter_draws(u, extra, 0.0) < 0.0).any()  # no start rule, no start


# ------------------------------------------------------------------------------------------
# the model


def _constant(plan: np.ndarray):  # type: ignore[no-untyped-def]
    def allocator(year: int, summary: CountySummary) -> np.ndarray:
        return plan

    return allocator


def test_zero_budget_launches_no_pilot() -> None:
    zero = load_scenario(BASELINE, ["budget.values={2018: 0.0}", "allocation.floor_100m_cny=0"])
    for seed in range(3):
        p = policysim.simulate(zero, seed=seed).province()
        assert (p["provincial_innovative_counties"] == 0).all()
        # national nominations do not need provincial pilots (issue 19): the documented
        # batches (Jiangxi 1 in 2018, 5 in 2023) are nominated among the 县 and 县级市
        assert p["national_innovative_counties"].loc[2022] == 1
        assert p["national_innovative_counties"].loc[2023] == 6


def test_county_that_cannot_match_is_never_a_pilot(baseline_scenario: LoadedScenario) -> None:
    sc = baseline_scenario.scenario
    base = baseline_for(sc)
    # the first county of each class, made unable to carry the matching obligation
    counties = base.counties.copy()
    poor = [
        int(counties.index[counties["functional_class"] == c][0])
        for c in counties["functional_class"].unique()
    ]
    counties.loc[poor, "fiscal_expenditure_cny"] = 1e5
    b = dataclasses.replace(base, counties=counties)
    for seed in range(3):
        m = PolicyModel(sc, b, sc.parameters(), np.random.default_rng(seed), _constant_zero(b))
        for _ in sc.horizon.years:
            m.step()
        ever = np.any([r.provincial for r in m.records], axis=0)
        assert not ever[poor].any()
        assert ever.sum() > 0  # others do become pilots


def _constant_zero(b: policysim.data.Baseline):  # type: ignore[no-untyped-def]
    return _constant(np.zeros((len(b.counties), N_INSTRUMENTS)))


def test_funded_pilot_gains_more_than_the_same_county_unfunded() -> None:
    """A pilot's package reaches its firms: the first batch's R&D/GDP and HNTEs grow more over
    the cycle than the same counties' without provincial money (paired seeds)."""
    funded = load_scenario(BASELINE)
    gains_f, gains_u, hnte_f, hnte_u = [], [], [], []
    for seed in range(4):
        rf = policysim.simulate(
            funded, seed=seed, township_metrics=(), params={"pilot_support_cny": 3e7}
        )
        m = rf.metrics
        c = m[m["level"] == "county"]
        pil = c[(c["metric"] == "designated") & (c["year"] == 2018) & (c["value"] > 0)]["code"]
        assert len(pil) == 5
        # the same counties, same seed, no package for anyone
        ru = policysim.simulate(
            funded, seed=seed, township_metrics=(), params={"pilot_support_cny": 0.0}
        )
        for r, g, h in ((rf, gains_f, hnte_f), (ru, gains_u, hnte_u)):
            mm = r.metrics
            cc = mm[(mm["level"] == "county") & mm["code"].isin(pil)]

            def wide(metric: str, cc=cc):  # type: ignore[no-untyped-def]
                sel = cc[cc["metric"] == metric]
                return sel.pivot(index="year", columns="code", values="value")

            rd, hn = wide("rd_intensity_pct"), wide("hnte_count")
            g.append(float((rd.loc[2021] - rd.loc[2018]).mean()))
            h.append(float((hn.loc[2021] / hn.loc[2018].clip(lower=1)).mean()))
    assert np.mean(gains_f) > np.mean(gains_u) + 0.1
    assert np.mean(hnte_f) > np.mean(hnte_u)


def _rank_change(
    sc: Scenario,
    low: float,
    extra: float,
    seeds: int,
    params: dict[str, float] | None = None,
    years: int = 13,
) -> NDArray[np.float64]:
    """County 0 of four identical counties (the others' plans fixed) gets ``low`` or
    ``low + extra`` CNY a year over four instruments; on common seeds, the change of its index
    rank in each year: an array (seeds, years)."""
    b = _identical_counties(baseline_for(sc))
    values = sc.parameters() | (params or {})
    values["hnte_stock_2017"] = float(b.enterprises["hnte"].sum())
    n = len(b.counties)
    ranks = []
    for amount in (low, low + extra):
        plan = np.full((n, N_INSTRUMENTS), 1e5)
        plan[0, :4] = amount / 4
        by_seed = []
        for seed in range(seeds):
            m = PolicyModel(sc, b, values, np.random.default_rng(seed), _constant(plan))
            by_year = []
            for _ in range(years):
                m.step()
                by_year.append(float(np.argsort(np.argsort(m.index))[0]))
            by_seed.append(by_year)
        ranks.append(np.array(by_seed))
    diff: NDArray[np.float64] = ranks[1] - ranks[0]
    return diff


def _mean_and_se(x: NDArray[np.float64]) -> tuple[float, float]:
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.std() > 0 else 0.0
    return float(x.mean()), se


def test_more_money_raises_the_rank_of_a_county_funded_from_almost_nothing(
    baseline_scenario: LoadedScenario,
) -> None:
    """The counterexample Hypothesis once found (1,440 CNY against 2 M CNY a year), on 40
    seeds: averaged over 2018-2030 the county's rank rises (+0.86 with se 0.11 when written)."""
    diff = _rank_change(baseline_scenario.scenario, 1440.0, 2e6, 40)
    mean, se = _mean_and_se(diff.mean(axis=1))
    assert mean > 3.0 * se


def test_status_firms_are_not_diluted_by_small_entrants(
    baseline_scenario: LoadedScenario,
) -> None:
    """Money buys platforms and commissioners, which bring small entrant firms. Counted per
    100 firms, those entrants diluted the county's status firms, so money lowered the indicator
    (issue 13). Counted per 100 above-scale firms (规模以上), 50 small entrants without status
    change nothing, while one above-scale firm without status lowers it: a known answer."""
    sc = baseline_scenario.scenario
    b = baseline_for(sc)
    m = PolicyModel(sc, b, sc.parameters(), np.random.default_rng(3))
    m.step()
    f = m.firms  # (places the year's entrants)
    m._aggregate_firms(f)
    c = 0
    before = m._indicators(np.zeros(m.n_counties)).status_firms_per_100.copy()

    def entrants(k: int, sales: float) -> Firms:
        src = np.flatnonzero(f.county == c)[:k]
        new = f.take(src)
        return dataclasses.replace(
            new,
            sales=np.full(k, sales),
            hnte=np.zeros(k, bool),
            tech_sme=np.zeros(k, bool),
        )

    free = np.flatnonzero(f.township == m.n_townships)
    small = f.place(free, entrants(50, 1e6))
    m._aggregate_firms(small)
    after_small = m._indicators(np.zeros(m.n_counties)).status_firms_per_100
    np.testing.assert_array_equal(after_small, before)
    m.firms = small
    free = np.flatnonzero(small.township == m.n_townships)
    m._aggregate_firms(small.place(free, entrants(1, 5e7)))
    after_big = m._indicators(np.zeros(m.n_counties)).status_firms_per_100
    assert after_big[c] < before[c]
    np.testing.assert_array_equal(np.delete(after_big, c), np.delete(before, c))


def test_an_early_designation_ends_the_package_so_the_rank_dips_in_those_years(
    baseline_scenario: LoadedScenario,
) -> None:
    """Finding (issue 13): more money makes the county a pilot in an earlier batch; it passes
    and its support package ends while the other counties are still in their cycle, so its rank
    falls behind theirs in the years right after (2023-2024 here), and rises again after.
    This pins that timing: the dip exists and is shorter than the gain."""
    diff = _rank_change(baseline_scenario.scenario, 1440.0, 2e6, 40)
    by_year = diff.mean(axis=0)
    assert by_year[:4].min() > 1.0  # 2018-2021: the money and the earlier package
    assert by_year[4:7].min() < 0.0  # the dip after an early designation
    assert by_year[-3:].mean() > 0.0  # and the gain at the horizon


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(low=st.floats(0.0, 2e6), extra=st.floats(2e6, 2e7))
def test_more_money_for_one_county_never_lowers_its_expected_rank(
    baseline_scenario: LoadedScenario, low: float, extra: float
) -> None:
    """Two amounts for county 0 of four identical counties (others fixed), common seeds: its
    index rank averaged over 2018-2030 with more money is not lower (up to Monte Carlo error).
    Averaged over the horizon because an early designation ends the support package (the test
    above). Derandomised: the same examples in every run."""
    diff = _rank_change(baseline_scenario.scenario, low, extra, 8)
    mean, se = _mean_and_se(diff.mean(axis=1))
    assert mean >= -2.0 * se - 1e-9


@pytest.mark.parametrize("share", [0.02, 0.06])
def test_documented_national_batches_give_jiangxi_their_documented_number(
    baseline_scenario: LoadedScenario, share: float
) -> None:
    """The baseline documents Jiangxi's number in the 2018 (1: 井冈山市) and 2023 (5) national
    batches: whatever the uncertain share, Jiangxi has 1 national county from 2018 and 6 from
    2023; the share acts only on the undocumented 2028 batch (stochastic rounding)."""
    sc = baseline_scenario.scenario
    values = sc.parameters() | {"national_jiangxi_share": share}
    m = PolicyModel(sc, baseline_for(sc), values, np.random.default_rng(11))
    counts = {}
    for _ in range(11):
        m.step()
        counts[m.year] = int(m.designation.national.sum())
    assert counts[2018] == counts[2022] == 1
    assert counts[2023] == counts[2027] == 6
    assert counts[2028] - 6 in (int(np.floor(share * 90)), int(np.ceil(share * 90)))
