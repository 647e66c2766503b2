"""The province-wide macro shock to GDP and the national nomination (issue 19): their own streams
move no other draw; the shock is the AR(1) it says it is; nominees are 县 and 县级市."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import policysim
from policysim.model import PolicyModel
from policysim.scenario.parameters import BEHAVIOUR_DEFAULTS, BehaviourParams

#: Province and county metrics of the tiny scenario, seed 1, default parameters, computed on
#: main before the macro shock and the nomination noise were added (commit 7c1c3c4), then
#: regenerated at the merge with the science parks (which moved the numbers on purpose). A later
#: change that moves the model's numbers on purpose (and regenerates the golden data) must
#: regenerate this file too, with ``macro_shock_sd`` 0: the columns ``year, level, code, name,
#: metric, value`` of the province and county rows of ``policysim.simulate(tiny, seed=1,
#: params={"macro_shock_sd": 0.0}).metrics``. The stream tests below do not depend on it.
BEFORE = Path(__file__).resolve().parent / "data" / "tiny_seed1_before_macro_shock.parquet"

#: The only metrics the nomination mechanism may change: which counties are national.
NOMINATION_METRICS = ("national",)


def _metrics(tiny: policysim.LoadedScenario, **params: float) -> pd.DataFrame:
    m = policysim.simulate(tiny, seed=1, params=params).metrics
    m = m[m["level"].isin(["province", "county"])][
        ["year", "level", "code", "name", "metric", "value"]
    ].copy()
    for col in m.columns:
        if isinstance(m[col].dtype, pd.CategoricalDtype):
            m[col] = m[col].astype(str)
    return m


def test_with_shock_sd_zero_every_number_is_the_old_one(tiny: policysim.LoadedScenario) -> None:
    """The new streams are children spawned after the others: with the shock's sd 0 every firm,
    township, county and province number is the one main computed before the change, exactly
    (GDP too: the factor is exactly 1); only which counties are national may differ (the
    nomination is a new mechanism), not how many."""
    old = pd.read_parquet(BEFORE)
    new = _metrics(tiny, macro_shock_sd=0.0)
    keys = ["year", "level", "code", "metric"]
    both = old.merge(new, on=keys, suffixes=("_old", "_new"), validate="one_to_one")
    assert len(both) == len(old) == len(new)
    same = (both["value_old"] == both["value_new"]) | (
        both["value_old"].isna() & both["value_new"].isna()
    )
    moved = both[~same]
    assert set(moved["metric"]) <= set(NOMINATION_METRICS), moved.head()
    count = both[both["metric"] == "national_innovative_counties"]
    assert (count["value_old"] == count["value_new"]).all()


def test_the_shock_moves_gdp_and_what_follows_it(tiny: policysim.LoadedScenario) -> None:
    calm = _metrics(tiny, macro_shock_sd=0.0)
    shaken = _metrics(tiny, macro_shock_sd=0.03)

    def province(m: pd.DataFrame, metric: str) -> np.ndarray:
        rows = m[(m["level"] == "province") & (m["metric"] == metric)].sort_values("year")
        return rows["value"].to_numpy()

    gdp0, gdp1 = province(calm, "gdp_100m_cny"), province(shaken, "gdp_100m_cny")
    assert gdp0[0] == gdp1[0]  # the base year
    assert not np.allclose(gdp0[1:], gdp1[1:])
    # R&D intensity has GDP as its denominator
    assert not np.allclose(province(calm, "rd_intensity_pct"), province(shaken, "rd_intensity_pct"))


def _stub(sd: float, rho: float, seed: int) -> SimpleNamespace:
    values = {k: d.value for k, d in BEHAVIOUR_DEFAULTS.items()}
    values |= {"macro_shock_sd": sd, "macro_shock_persistence": rho}
    return SimpleNamespace(
        bp=BehaviourParams.from_values(values),
        rng_macro=np.random.default_rng(seed),
        macro_level=0.0,
        gdp=np.array([100.0, 300.0]),
        fiscal_exp=np.array([10.0, 20.0]),
        rd_non_enterprise=np.array([1.0, 2.0]),
    )


def test_the_shock_is_an_ar1_deviation_of_log_gdp_from_trend() -> None:
    """Known answer: with firm growth g, GDP_t = GDP_0 (1 + g)^t exp(x_t),
    x_t = rho x_(t-1) + sd e_t with e_t the stream's standard normals; fiscal spending follows
    GDP."""
    sd, rho, g, years = 0.03, 0.4, 0.05, 12
    m = _stub(sd, rho, seed=7)
    e = np.random.default_rng(7).standard_normal(years)
    x = 0.0
    gdp0 = m.gdp.copy()
    phi = m.bp.industry_share_of_gdp
    trend = 1.0 + (1.0 - phi) * m.bp.sales_growth_mean + phi * g
    for t in range(1, years + 1):
        PolicyModel._economy(m, np.full(2, g))
        x = rho * x + sd * e[t - 1]
        np.testing.assert_allclose(m.gdp, gdp0 * trend**t * np.exp(x), rtol=1e-12)
        np.testing.assert_allclose(m.fiscal_exp / m.gdp, [0.1, 20.0 / 300.0], rtol=1e-12)
        assert m.macro_level == pytest.approx(x, abs=1e-15)


def test_the_shock_has_the_stationary_moments_of_its_parameters() -> None:
    sd, rho, years = 0.02, 0.5, 20000
    m = _stub(sd, rho, seed=11)
    levels = np.empty(years)
    for t in range(years):
        PolicyModel._economy(m, np.zeros(2))
        m.gdp = np.array([100.0, 300.0])  # keep the numbers small; the level is the state
        m.fiscal_exp, m.rd_non_enterprise = np.ones(2), np.ones(2)
        levels[t] = m.macro_level
    assert levels.std() == pytest.approx(sd / np.sqrt(1 - rho**2), rel=0.05)
    d = levels - levels.mean()
    assert float((d[1:] * d[:-1]).mean() / d.var()) == pytest.approx(rho, abs=0.03)


def test_the_macro_and_nomination_streams_are_children_4_and_5(
    tiny: policysim.LoadedScenario,
) -> None:
    baseline = policysim.simulation.baseline_for(tiny.scenario, 2017)
    ss = np.random.SeedSequence(123)
    model = PolicyModel(
        tiny.scenario, baseline, tiny.scenario.parameters(), np.random.default_rng(ss)
    )
    children = np.random.SeedSequence(123).spawn(6)  # (ss itself has spawned its six)
    for rng, child in (
        (model.rng_eval, children[3]),
        (model.rng_macro, children[4]),
        (model.rng_nominate, children[5]),
    ):
        assert rng.random() == np.random.default_rng(child).random()


def test_national_nominees_are_counties_or_county_cities(tiny: policysim.LoadedScenario) -> None:
    for noise in (0.0, 20.0):
        m = _metrics(tiny, national_nomination_noise=noise)
        national = m[(m["metric"] == "national") & (m["value"] > 0)]
        assert not national.empty
        assert not national["name"].str.endswith("区").any()
