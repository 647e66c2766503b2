"""The enterprise rule of issue 14: HNTE notch known answers, take-up, the criteria choice, the
super-deduction property and bunching in annual reported intensity on a small population."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policysim.agents.calendar import YearRules, resolve_year
from policysim.agents.enterprises import (
    Draws,
    FirmParams,
    Firms,
    Support,
    band_threshold,
    claims_deduction,
    enterprise_year,
)
from policysim.agents.reference import ReferenceModel, reference_year
from policysim.errors import ScenarioError
from policysim.model import N_INSTRUMENTS, PolicyModel
from policysim.scenario import LoadedScenario, load_scenario
from policysim.simulation import baseline_for

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "jiangxi_baseline.yaml"


def _params(sc: LoadedScenario, **changes: float) -> FirmParams:
    p = dataclasses.replace(
        FirmParams.from_values(sc.scenario.parameters()),
        growth_scale=0.0,  # no growth noise: known answers
        growth_mean=0.0,
        sales_gain=0.0,
        adjustment=0.0,  # own intensity kept
        exit_rate=0.0,
        upgrade=0.0,
    )
    return dataclasses.replace(p, **changes)


def _firm(sales: float, r_now: float, hist: float, **over: object) -> Firms:
    """One profitable, claiming, non-HNTE firm meeting the other criteria."""
    values: dict[str, object] = {
        "firm_id": np.array([1]),
        "county": np.array([0]),
        "township": np.array([0]),
        "sector": np.array([0]),
        "manufacturing": np.array([True]),
        "other_ok": np.array([True]),
        "sales": np.array([sales]),
        "employees": np.array([800.0]),
        "age": np.array([5.0]),
        "r0": np.array([r_now]),
        "b0": np.array([1.0]),
        "own": np.array([r_now]),
        "gap": np.array([0.0]),
        "rd_real": np.array([r_now * sales]),
        "rd_reported": np.array([r_now * sales]),
        "hist1": np.array([hist]),
        "hist2": np.array([hist]),
        "hnte": np.array([False]),
        "hnte_expiry": np.array([-1]),
        "tech_sme": np.array([False]),
        "success": np.array([False]),
        "patents": np.array([0.0]),
        "claim_u": np.array([0.99]),
        "criteria_cost": np.array([1.0]),
        "cultivated": np.array([False]),
    }
    values.update({k: np.array([v]) for k, v in over.items()})
    return Firms(**values)  # type: ignore[arg-type]


NO_SUPPORT = Support(
    voucher=np.zeros(1), subsidy=np.zeros(1), credit_rd=np.zeros(1), boost=np.ones(1)
)
# median growth draw, no innovation, an application passes, no exit, reconsiders the criteria
PASS = Draws(*(np.full(1, u) for u in (0.5, 0.999, 0.0, 0.999, 0.0)))


def _rules(sc: LoadedScenario, year: int = 2019, **changes: float) -> YearRules:
    return dataclasses.replace(resolve_year(sc.scenario.policy, year), **changes)


def _b0(rules: YearRules, firm: Firms) -> Firms:
    """Base user cost = this year's, so that own R&D stays put."""
    from policysim.agents.enterprises import b_index, firm_tax

    claims = claims_deduction(firm.claim_u, rules, 0.15)
    tau, sd = firm_tax(rules, firm.hnte, firm.tech_sme, firm.manufacturing, claims)
    return dataclasses.replace(firm, b0=b_index(tau, sd))


def test_firm_exactly_at_threshold_certifies_without_bunching(
    baseline_scenario: LoadedScenario,
) -> None:
    rules = _rules(baseline_scenario)
    p = _params(baseline_scenario)
    theta = float(band_threshold(rules, np.array([3e8]))[0])
    assert theta == pytest.approx(0.03)
    f = _b0(rules, _firm(3e8, theta, theta))
    out = enterprise_year(f, rules, NO_SUPPORT, p, PASS)
    assert not out.bunched[0]
    assert out.certified[0] and out.firms.hnte[0]
    assert out.firms.hnte_expiry[0] == rules.year + rules.validity_years - 1
    assert out.firms.rd_reported[0] == pytest.approx(theta * 3e8, rel=1e-12)
    assert out.firms.gap[0] == 0.0


def test_profitable_firm_just_below_bunches_at_threshold(
    baseline_scenario: LoadedScenario,
) -> None:
    """At 0.9 theta with a 3-year window at theta (nothing to catch up), reporting theta pays:
    reported = theta * sales; of it rho is relabelled, so real = max(real, (1 - rho) theta
    sales) = real (0.9 > 1 - 0.24): the whole step is relabelling."""
    rules = _rules(baseline_scenario)
    p = _params(baseline_scenario)
    theta = 0.03
    f = _b0(rules, _firm(3e8, 0.9 * theta, theta))
    out = enterprise_year(f, rules, NO_SUPPORT, p, PASS)
    assert out.bunched[0] and out.certified[0]
    assert out.firms.rd_reported[0] == pytest.approx(theta * 3e8, rel=1e-12)
    assert out.firms.rd_real[0] == pytest.approx(0.9 * theta * 3e8, rel=1e-12)
    assert out.firms.gap[0] == pytest.approx(0.1, rel=1e-9)


def test_catch_up_on_a_short_window(baseline_scenario: LoadedScenario) -> None:
    """History at 0.85 theta: the applicant reports 3 theta - 2 * 0.85 theta = 1.3 theta (the
    catch-up cap) when two years of status pay for the extra real R&D, and is certified now."""
    rules = _rules(baseline_scenario)
    p = _params(baseline_scenario, catchup=0.3)
    theta = 0.03
    f = _b0(rules, _firm(3e8, 0.95 * theta, 0.85 * theta))
    out = enterprise_year(f, rules, NO_SUPPORT, p, PASS)
    assert out.bunched[0] and out.certified[0]
    assert out.firms.rd_reported[0] == pytest.approx(1.3 * theta * 3e8, rel=1e-9)
    assert out.firms.rd_real[0] == pytest.approx(0.76 * 1.3 * theta * 3e8, rel=1e-9)


def test_bunching_does_not_pay_for_a_loss_making_firm(baseline_scenario: LoadedScenario) -> None:
    """A loss-making firm saves no tax at the HNTE rate; without a first-certification reward
    the notch is worth nothing, so it does not raise its R&D even just below the threshold; a
    profitable firm far below (0.45 theta: real R&D would have to rise by 0.31 theta * sales,
    at a user cost above the tax saved) does not bunch either."""
    rules = _rules(baseline_scenario, hnte_reward=0.0)
    p = _params(baseline_scenario)
    theta = 0.03
    loss = _b0(rules, _firm(3e8, 0.95 * theta, theta, claim_u=0.01))
    out = enterprise_year(loss, rules, NO_SUPPORT, p, PASS)
    assert not out.bunched[0] and not out.certified[0]
    assert out.firms.rd_reported[0] == pytest.approx(0.95 * theta * 3e8, rel=1e-12)
    # a candidate (window 0.3) for which the cost exceeds the gain
    p = _params(baseline_scenario, window=0.3)
    far = _b0(rules, _firm(3e8, 0.45 * theta, 0.45 * theta))
    value = (rules.cit - rules.hnte_tax) * (p.margin * 3e8 - rules.sd_all * 0.45 * theta * 3e8)
    cost = float(far.b0[0]) * (1.0 - p.relabel - 0.45) * theta * 3e8
    assert cost > value  # the premise: raising real R&D to (1 - rho) theta costs more
    out = enterprise_year(far, rules, NO_SUPPORT, p, PASS)
    assert not out.bunched[0] and not out.certified[0]


def test_renewal_has_its_own_pass_rate(baseline_scenario: LoadedScenario) -> None:
    rules = _rules(baseline_scenario)
    theta = 0.03
    due = _b0(rules, _firm(3e8, theta, theta, hnte=True, hnte_expiry=rules.year))
    # approval draw between approval 0.8 and renewal 0.9
    draw = Draws(*(np.full(1, u) for u in (0.5, 0.999, 0.85, 0.999, 0.999)))
    p = _params(baseline_scenario, approval=0.8, renewal=0.9)
    assert enterprise_year(due, rules, NO_SUPPORT, p, draw).certified[0]
    first = _b0(rules, _firm(3e8, theta, theta))
    assert not enterprise_year(first, rules, NO_SUPPORT, p, draw).certified[0]


def test_take_up_and_loss_makers() -> None:
    u = np.array([0.05, 0.14, 0.16, 0.5, 0.6, 0.99])
    rules = YearRules(
        year=2018,
        cit=0.25,
        hnte_tax=0.15,
        sd_all=0.75,
        sd_tech_sme=0.75,
        sd_manufacturing=0.75,
        band_max_sales=np.array([np.inf]),
        band_min_rd=np.array([0.03]),
        validity_years=3,
        takeup=0.5,
    )
    # loss-makers below 0.15; profitable firms claim up to 0.15 + 0.85 * 0.5 = 0.575
    assert claims_deduction(u, rules, 0.15).tolist() == [False, False, True, True, False, False]


def test_cultivation_makes_meeting_the_criteria_pay(baseline_scenario: LoadedScenario) -> None:
    """A performer at its threshold not meeting the other criteria, whose cost of meeting them
    (3% of sales) exceeds three years of HNTE value, meets them once cultivation programmes
    bear 70% of that cost."""
    p = _params(baseline_scenario, upgrade=1.0, criteria_cost=0.03)
    theta = 0.03
    for share, expected in ((0.0, False), (0.7, True)):
        rules = _rules(baseline_scenario, cultivation=share, hnte_reward=0.0)
        f = _b0(rules, _firm(3e8, theta, theta, other_ok=False))
        out = enterprise_year(f, rules, NO_SUPPORT, p, PASS)
        assert bool(out.firms.other_ok[0]) is expected
        assert bool(out.certified[0]) is expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=st.floats(0.0, 0.5), year=st.sampled_from([2018, 2019, 2021, 2022]))
def test_raising_the_super_deduction_never_lowers_expected_rd(
    baseline_scenario: LoadedScenario, extra: float, year: int
) -> None:
    """Same firms and draws, a higher super-deduction rate for all firms: own R&D rises for
    every firm, and the population's real and reported R&D (the expectation over its firms)
    does not fall."""
    sc = baseline_scenario.scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    f = model.firms.take(np.arange(3000))
    rng = np.random.default_rng(2)
    n = f.n
    support = Support(np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n))
    draws = Draws(*(rng.random(n) for _ in range(5)))
    p = FirmParams.from_values(sc.parameters())
    low = resolve_year(sc.policy, year)
    high = dataclasses.replace(
        low,
        sd_all=low.sd_all + extra,
        sd_tech_sme=low.sd_tech_sme + extra,
        sd_manufacturing=low.sd_manufacturing + extra,
    )
    a = enterprise_year(f, low, support, p, draws).firms
    b = enterprise_year(f, high, support, p, draws).firms
    assert (b.own >= a.own - 1e-15).all()
    assert b.rd_real.sum() >= a.rd_real.sum() * (1 - 1e-12)
    assert b.rd_reported.sum() >= a.rd_reported.sum() * (1 - 1e-12)


def test_bunching_in_annual_intensity_on_a_small_population(
    baseline_scenario: LoadedScenario,
) -> None:
    """Three years of the rule on 6,000 firms: in each HNTE band, firms with annual reported
    R&D/sales in [theta, theta + 0.5pp) outnumber those in [theta - 0.5pp, theta) at least 1.5
    to 1; and relabelled R&D is 15-35% of the reported R&D of the firms that bunched."""
    sc = baseline_scenario.scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    f = model.firms.take(np.arange(6000))
    p = FirmParams.from_values(sc.parameters())
    rng = np.random.default_rng(3)
    n = f.n
    support = Support(np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n))
    for year in (2018, 2019, 2020):
        draws = Draws(*(rng.random(n) for _ in range(5)))
        out = enterprise_year(f, resolve_year(sc.policy, year), support, p, draws)
        f = out.firms
    rules = resolve_year(sc.policy, 2020)
    r = f.rd_reported / f.sales
    theta = band_threshold(rules, f.sales)
    band = np.searchsorted(rules.band_max_sales, f.sales, side="left")
    lo = theta * (1 - 1e-9)
    for k in range(3):
        above = ((r >= lo) & (r < theta + 0.005) & (band == k)).sum()
        below = ((r >= theta - 0.005) & (r < lo) & (band == k)).sum()
        assert above > 0 and above >= 1.5 * below, (k, above, below)
    bunched = out.bunched
    assert bunched.sum() >= 30
    relabelled = (f.rd_reported - f.rd_real)[bunched].sum() / f.rd_reported[bunched].sum()
    assert 0.15 <= relabelled <= 0.35, relabelled
    # without the notch (no tax gain, no reward) there is no mass point at the thresholds
    no_notch = dataclasses.replace(rules, hnte_tax=rules.cit, hnte_reward=0.0)
    g = enterprise_year(f, no_notch, support, p, draws)
    assert not g.bunched.any()


def test_reference_equals_vectorised_with_upgrades_and_take_up(
    baseline_scenario: LoadedScenario,
) -> None:
    """The per-object reference equals the vectorised rule when firms reconsider the criteria,
    take-up is partial and cultivation bears part of the cost."""
    sc = baseline_scenario.scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    f = model.firms.take(np.arange(500))
    rng = np.random.default_rng(4)
    n = f.n
    support = Support(rng.uniform(0, 1e5, n), rng.uniform(0, 1e5, n), np.zeros(n), np.ones(n) * 1.2)
    draws = Draws(*(rng.random(n) for _ in range(5)))
    p = dataclasses.replace(FirmParams.from_values(sc.parameters()), upgrade=0.6)
    rules = dataclasses.replace(resolve_year(sc.policy, 2019), takeup=0.6, cultivation=0.4)
    fast = enterprise_year(f, rules, support, p, draws)
    slow = reference_year(ReferenceModel(f), rules, support, p, draws)
    for field in dataclasses.fields(fast.firms):
        np.testing.assert_allclose(
            getattr(fast.firms, field.name), getattr(slow.firms, field.name), rtol=1e-10
        )
    assert np.array_equal(fast.bunched, slow.bunched)
    assert np.array_equal(fast.certified, slow.certified)
    assert (fast.firms.other_ok & ~f.other_ok).any()  # some firms came to meet the criteria


@pytest.mark.parametrize(
    "key",
    ["policy.super_deduction_takeup.values.2018", "policy.hnte.cultivation_cost_share.values.2019"],
)
def test_share_series_out_of_range_is_an_error(key: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(BASELINE, (f"{key}=1.5",))
    message = str(err.value)
    assert "1.5" in message and "expected 0..1" in message and "\n" not in message.strip()


def test_pool_firm_restated_history_certifies_now(baseline_scenario: LoadedScenario) -> None:
    """At 0.55 theta for three years (margin 3%): outside the pool the notch (relabelling at
    most 24%) costs real R&D of (0.76 - 0.55) theta * sales, more than the tax saved. In the
    cultivation pool (relabelling 40%) the special audit restates the past two years to
    1.1 theta / 0.6 = 1.833 theta, so the applicant catches up with x = 3 theta - 1.833 theta =
    1.167 theta (below the 1.3 theta cap), of which 60% is real, and is certified now."""
    rules = _rules(baseline_scenario, hnte_reward=0.0)
    p = _params(
        baseline_scenario, window=0.5, relabel=0.24, pool_relabel=0.4, pool_window=0.3, margin=0.03
    )
    theta, sales = 0.03, 3e8
    f = _b0(rules, _firm(sales, 0.55 * theta, 0.55 * theta))
    value = (rules.cit - rules.hnte_tax) * (p.margin - rules.sd_all * 0.55 * theta) * sales
    assert float(f.b0[0]) * (0.76 - 0.55) * theta * sales > value  # the premise
    out = enterprise_year(f, rules, NO_SUPPORT, p, PASS)
    assert not out.bunched[0] and not out.certified[0]
    admitted = dataclasses.replace(NO_SUPPORT, admitted=np.array([True]))
    pool = enterprise_year(f, rules, admitted, p, PASS)
    assert pool.firms.cultivated[0]
    assert pool.bunched[0] and pool.certified[0]
    x = 3.0 * theta - 1.1 * theta / 0.6
    assert pool.firms.rd_reported[0] == pytest.approx(x * sales, rel=1e-9)
    assert pool.firms.rd_real[0] == pytest.approx(0.6 * x * sales, rel=1e-9)
    # the published history is not rewritten (the audit serves the application only)
    assert pool.firms.hist1[0] == pytest.approx(0.55 * theta)
    # a pool firm below the pool window (0.25 < 0.3 theta) does not consider the notch
    low = _b0(rules, _firm(sales, 0.25 * theta, 0.25 * theta, cultivated=True))
    assert not enterprise_year(low, rules, NO_SUPPORT, p, PASS).bunched[0]


def test_reference_equals_vectorised_with_cultivation_pool(
    baseline_scenario: LoadedScenario,
) -> None:
    """The per-object reference equals the vectorised rule when some firms are in the
    cultivation pool and others are admitted this year."""
    sc = baseline_scenario.scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    f = model.firms.take(np.arange(800))
    rng = np.random.default_rng(5)
    n = f.n
    f = dataclasses.replace(f, cultivated=f.cultivated | (rng.random(n) < 0.2))
    admitted = rng.random(n) < 0.2
    support = Support(np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n), admitted=admitted)
    draws = Draws(*(rng.random(n) for _ in range(5)))
    p = dataclasses.replace(FirmParams.from_values(sc.parameters()), upgrade=0.3)
    rules = dataclasses.replace(resolve_year(sc.policy, 2019), takeup=0.7, cultivation=0.5)
    fast = enterprise_year(f, rules, support, p, draws)
    slow = reference_year(ReferenceModel(f), rules, support, p, draws)
    for field in dataclasses.fields(fast.firms):
        np.testing.assert_allclose(
            getattr(fast.firms, field.name), getattr(slow.firms, field.name), rtol=1e-10
        )
    assert np.array_equal(fast.bunched, slow.bunched)
    assert np.array_equal(fast.certified, slow.certified)
    pool = f.cultivated | admitted
    assert (fast.certified & pool & ~f.hnte).any()  # the pool certifies some first applicants


def test_pool_admissions_pick_the_closest_uncertified_performers(
    baseline_scenario: LoadedScenario,
) -> None:
    """Admissions: round(firms * scale / weight) R&D performers not certified, not yet in the
    pool, at least a year old, with the highest own intensity relative to their threshold."""
    sc = baseline_scenario.scenario
    values = dict(sc.parameters(), cultivation_pool_scale=0.5)
    model = PolicyModel(sc, baseline_for(sc), values, np.random.default_rng(1))
    rules = model.rules_of(2019)
    f = model.firms
    admitted = model._pool_admissions(rules, 600.0)
    assert admitted is not None
    assert int(admitted.sum()) == round(600.0 * 0.5 / model.weight)
    assert not (admitted & f.cultivated).any()
    assert not (admitted & f.hnte & (f.hnte_expiry >= 2019)).any()
    assert (f.age[admitted] >= 1.0).all()
    score = f.own / band_threshold(rules, f.sales)
    eligible = (
        ~f.cultivated
        & ~(f.hnte & (f.hnte_expiry >= 2019))
        & (f.age >= 1.0)
        & (f.own >= model.fp.pool_window * float(rules.band_min_rd.min()))
        & (f.township < model.n_townships)
    )
    assert score[admitted].min() >= score[eligible & ~admitted].max()
    assert model._pool_admissions(rules, 0.0) is None


def test_negative_pool_admissions_are_an_error() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(BASELINE, ("policy.hnte.cultivation_pool_firms.values.2019=-5",))
    message = str(err.value)
    assert "cultivation_pool_firms" in message and "-5" in message and "0..1e7" in message


def test_support_for_performers_alone_gives_the_per_firm_numbers(
    baseline_scenario: LoadedScenario,
) -> None:
    """The model passes support for the R&D performers alone (``Support.performers``): the
    rule gives exactly the numbers of the same support spread over every firm."""
    sc = baseline_scenario.scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    plan = np.full((model.n_counties, N_INSTRUMENTS), 2e6)
    rules = model.rules_of(2018)
    support = model._support(plan, rules)
    f = model.firms
    assert support.performers is not None
    np.testing.assert_array_equal(support.performers, np.flatnonzero(f.r0 > 0.0))
    assert support.voucher.any() and support.subsidy.any() and support.credit_rd.any()
    draws = Draws(*(np.random.default_rng(5).random(f.n) for _ in range(5)))
    a = enterprise_year(f, rules, support, model.fp, draws)
    b = enterprise_year(f, rules, support.per_firm(f.n), model.fp, draws)
    for name in ("own", "rd_real", "rd_reported", "hnte", "success", "patents", "tech_sme"):
        np.testing.assert_array_equal(getattr(a.firms, name), getattr(b.firms, name))
    np.testing.assert_array_equal(a.exits, b.exits)
    np.testing.assert_array_equal(a.bunched, b.bunched)
