"""The county and township rules as pure functions (issue 13 item 7): known answers and
properties that would catch a wrong sign, a lost yuan or a broken bound."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.agents.counties import (
    PROVINCIAL_LEARNING,
    RESEARCH_LEARNING_SHARE,
    CountyCapacity,
    county_year,
)
from policysim.agents.places import (
    adoption_year,
    commissioners_year,
    instrument_funds,
    platforms_year,
)

KW = {
    "spending_growth": 0.05,
    "standing_response": 0.02,
    "matching_rate": 0.3,
    "learning": 0.2,
    "half_funds_cny": 1e6,
}


def _two_counties() -> CountyCapacity:
    return CountyCapacity(
        st_spending=np.array([1e7, 1e7]),
        management=np.array([0.4, 0.4]),
        research=np.array([0.3, 0.3]),
    )


def test_county_year_known_answer() -> None:
    """County 0 has no money, standing 0 and no status; county 1 gets 1 M CNY (the half-
    saturation amount), standing 1 and is a pilot with 0.2 M CNY of matching."""
    c = county_year(
        _two_counties(),
        np.array([0.0, 1.0]),
        np.array([False, True]),
        allocated=np.array([0.0, 1e6]),
        received=np.array([0.0, 1e6]),
        matching=np.array([0.0, 2e5]),
        **KW,
    )
    np.testing.assert_allclose(c.st_spending, [1e7 * 1.05, 1e7 * 1.07 + 0.3e6 + 2e5])
    learn1 = 0.2 * (0.5 + PROVINCIAL_LEARNING)
    np.testing.assert_allclose(c.management, [0.4, 0.4 + learn1 * 0.6])
    np.testing.assert_allclose(c.research, [0.3, 0.3 + RESEARCH_LEARNING_SHARE * learn1 * 0.7])


@settings(max_examples=60, deadline=None)
@given(
    funds=st.floats(0.0, 1e9),
    more=st.floats(1.0, 1e9),
    management=st.floats(0.0, 1.0),
    research=st.floats(0.0, 1.0),
)
def test_more_money_never_lowers_a_county_s_capacity(
    funds: float, more: float, management: float, research: float
) -> None:
    start = CountyCapacity(
        st_spending=np.array([5e6, 5e6]),
        management=np.array([management, management]),
        research=np.array([research, research]),
    )
    got = np.array([funds, funds + more])
    c = county_year(
        start,
        np.array([0.5, 0.5]),
        np.array([False, False]),
        allocated=got,
        received=got,
        matching=np.zeros(2),
        **KW,
    )
    assert c.st_spending[1] >= c.st_spending[0]
    assert c.management[1] >= c.management[0]
    assert c.research[1] >= c.research[0]
    assert c.management.min() >= 0.0 and c.management.max() <= 1.0
    assert c.research.min() >= 0.0 and c.research.max() <= 1.0


@given(st.lists(st.floats(0.0, 1e8), min_size=3, max_size=3))
def test_instrument_funds_conserve_the_money(x: list[float]) -> None:
    p, c, v = (np.array([a]) for a in x)
    to_p, to_c = instrument_funds(p, c, v)
    np.testing.assert_allclose(to_p + to_c, p + c + v, rtol=1e-12, atol=1e-6)  # CNY
    assert (to_p >= p).all() and (to_c >= c).all()


def test_platforms_and_commissioners_known_answers() -> None:
    u = np.array([0.0, 0.999])
    # 2.5 platforms' worth of money: 3 with a low uniform, 2 with a high one
    np.testing.assert_array_equal(
        platforms_year(np.array([4.0, 4.0]), np.array([1.0, 0.0]), np.full(2, 7.5e6), 3e6, u),
        [4.0 - 1.0 + 3.0, 4.0 + 2.0],
    )
    got = commissioners_year(
        base=np.array([1.0, 0.0]),
        funds_t=np.array([1e5, 0.0]),
        cost=1e5,
        own_expected=np.array([0.0, 0.0]),
        u_funded=np.array([0.5, 0.5]),
        u_own=np.array([0.5, 0.5]),
        obliged=np.array([0.0, 3.0]),
    )
    np.testing.assert_array_equal(got, [2.0, 3.0])  # funded one; the obligation as a floor


@given(
    agri=st.floats(0.0, 1.0),
    commissioners=st.floats(0.0, 1e3),
    rate=st.floats(0.0, 1.0),
)
def test_adoption_stays_a_share_and_never_falls(
    agri: float, commissioners: float, rate: float
) -> None:
    out = adoption_year(np.array([agri]), np.array([commissioners]), rate)
    assert agri <= out[0] <= 1.0
