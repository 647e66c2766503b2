"""Science parks in the model (issue 13 item 8): a park brings firms to its host township and
counts as platforms in the county evaluation; the 科技扶贫 counts are reported."""

from __future__ import annotations

import dataclasses

import numpy as np
from test_model import _constant, _identical_counties

import policysim
from policysim.agents.places import park_entry, parks_per_county
from policysim.data.parks import PARK_KINDS, ParkArrays
from policysim.model import N_INSTRUMENTS, PolicyModel
from policysim.scenario import LoadedScenario
from policysim.simulation import baseline_for

HTZ = PARK_KINDS.index("national_high_tech_zone")
AGRI = PARK_KINDS.index("national_agri_science_park")


def test_park_entry_known_answer() -> None:
    township = np.array([2, 2, 0, -1])
    kind = np.array([HTZ, AGRI, HTZ, HTZ])
    active = np.array([True, True, False, True])
    out = park_entry(township, kind, active, np.array([10.0, 2.0]), 4)
    # township 2: one zone and one agricultural park; township 0's zone not yet active;
    # the unplaced park (-1) brings nobody
    np.testing.assert_array_equal(out, [0.0, 0.0, 12.0, 0.0])
    np.testing.assert_array_equal(parks_per_county(np.array([1, 1, 0]), active[:3], 3), [0, 2, 0])


def _one_park(m: PolicyModel, county: int, kind: int, active_from: int) -> ParkArrays:
    return ParkArrays(
        kind=np.array([kind]),
        county=np.array([county]),
        township=np.array([int(m.main_township[county])]),
        active_from=np.array([active_from]),
    )


def test_a_county_with_a_park_gains_firms_an_identical_one_does_not(
    baseline_scenario: LoadedScenario,
) -> None:
    """Four identical counties, the same funds; county 0 hosts a high-tech zone from 2018:
    on every seed it ends with more firms than each of the others, by about the zone's
    entrants less exits; without the zone it is no different from the others on average."""
    sc = baseline_scenario.scenario
    b = _identical_counties(baseline_for(sc))
    params = sc.parameters() | {"entrants_per_high_tech_zone": 30.0}
    params["hnte_stock_2017"] = float(b.enterprises["hnte"].sum())
    plan = np.full((len(b.counties), N_INSTRUMENTS), 1e6)
    with_park, without = [], []
    for seed in range(6):
        for out, park in ((with_park, True), (without, False)):
            m = PolicyModel(sc, b, params, np.random.default_rng(seed), _constant(plan))
            assert m.parks.n == 0  # codes 99xxxx: no embedded park is located here
            if park:
                m.parks = _one_park(m, 0, HTZ, 2018)
            for _ in range(5):
                m.step()
            firms = m.records[-1].firms
            out.append(firms[0] - firms[1:].mean())
    gain = np.array(with_park) - np.array(without)
    # 5 years x 30 entrants, less a few exits (5%/yr at most for small firms x2)
    assert (np.array(with_park) > 60).all()
    assert 100 < gain.mean() < 160
    assert abs(np.mean(without)) < 40


def test_a_park_counts_in_the_evaluation_from_its_year(
    baseline_scenario: LoadedScenario,
) -> None:
    """The platform indicator of the park's county rises by weight / 乡镇 from its active year;
    the other counties' indicators do not change."""
    sc = baseline_scenario.scenario
    b = _identical_counties(baseline_for(sc))
    params = sc.parameters() | {"park_platform_weight": 2.0}
    params["hnte_stock_2017"] = float(b.enterprises["hnte"].sum())
    m = PolicyModel(sc, b, params, np.random.default_rng(0))
    growth = np.zeros(m.n_counties)
    before = m._indicators(growth).platforms_per_xz
    m.parks = _one_park(m, 0, AGRI, m.year)
    after = m._indicators(growth).platforms_per_xz
    expected = np.zeros(m.n_counties)
    expected[0] = 2.0 / m.n_xz[0]
    np.testing.assert_allclose(after - before, expected)
    m.parks = dataclasses.replace(m.parks, active_from=np.array([m.year + 1]))
    np.testing.assert_allclose(m._indicators(growth).platforms_per_xz, before)


def test_park_and_poverty_counts_reported(baseline_scenario: LoadedScenario) -> None:
    """The province metrics count the located parks by year (九江's agricultural park in 修水, a
    poverty county, from 2018; the 丰城 and 共青城 zones from 2018) and the platforms and
    commissioners of the 25 poverty counties."""
    r = policysim.simulate(baseline_scenario, seed=3, township_metrics=())
    p = r.province()
    assert p.loc[2017, "national_high_tech_zones"] == 5
    assert p.loc[2018, "national_high_tech_zones"] == 7
    assert p.loc[2017, "national_agri_science_parks"] == 2
    assert p.loc[2018, "national_agri_science_parks"] == 3
    assert p.loc[2017, "poverty_county_parks"] == 3
    assert p.loc[2018, "poverty_county_parks"] == 4
    m = r.metrics
    t = m[(m["level"] == "township") & (m["metric"] == "platforms")]
    assert t.empty  # township metrics were not asked for; the province sums come from state
    assert (p["poverty_county_platforms"] <= p["platforms"]).all()
    assert (p["poverty_county_commissioners"] <= p["commissioners"]).all()
    assert (p["poverty_county_commissioners"] > 0).all()
