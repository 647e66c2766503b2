"""Attainment, first-year distribution, unit probabilities, fans, precision: hand-made tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import MetricsBuilder, Target
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.analysis.targets import (
    UnitCounts,
    attainment,
    combine_unit_counts,
    fan_quantiles,
    first_year_met,
    max_half_width,
    met,
    unit_counts,
    unit_probabilities,
    unit_probabilities_from_counts,
)
from policysim.errors import DataError, ScenarioError

# 5 runs x 4 years (2017-2020) of the count of provincial innovative counties
COUNTIES = [
    [0, 5, 12, 20],  # meets ">= 20" in 2020
    [0, 6, 14, 19],
    [0, 8, 20, 25],  # first meets in 2019
    [0, 4, 10, 18],
    [0, 9, 21, 22],  # first meets in 2019
]
# county R&D: runs 0, 2 rise strictly every year; run 1 stalls in 2019; run 3 dips in 2018
COUNTY_RD = [
    [10, 11, 12, 13],
    [10, 11, 11, 14],
    [10, 12, 13, 15],
    [10, 9, 12, 14],
    [10, 11, 12, 12],
]


@pytest.fixture
def metrics(province_metrics: MetricsBuilder) -> pd.DataFrame:
    return province_metrics(
        {"provincial_innovative_counties": COUNTIES, "county_rd_100m_cny": COUNTY_RD}
    )


def test_met_comparators() -> None:
    v = np.array([1.0, 2.0, 3.0, np.nan])
    assert met(v, ">=", 2).tolist() == [False, True, True, False]
    assert met(v, ">", 2).tolist() == [False, False, True, False]
    assert met(v, "<=", 2).tolist() == [True, True, False, False]
    assert met(v, "<", 2).tolist() == [True, False, False, False]
    rising = np.array([[1, 2, 3], [1, 1, 2], [3, 2, 4], [1, 2, np.nan]])
    assert met(rising, "rising", None).tolist() == [True, False, False, False]


def test_met_rejects_bad_comparator_and_threshold() -> None:
    with pytest.raises(ScenarioError, match="unknown comparator"):
        met([1.0], "==", 1.0)
    with pytest.raises(ScenarioError, match="threshold is required"):
        met([1.0], ">=", None)
    with pytest.raises(ScenarioError, match="no threshold"):
        met([[1.0, 2.0]], "rising", 1.0)


def test_attainment_by_hand(metrics: pd.DataFrame) -> None:
    targets = [
        Target("counties_2020", "provincial_innovative_counties", ">=", 20, 2020),
        Target("rd_rising_2020", "county_rd_100m_cny", "rising", None, 2020),
        Target("rd_rising_2019", "county_rd_100m_cny", "rising", None, 2019),
    ]
    table = attainment(metrics, targets)
    assert list(table.columns) == [
        "target", "metric", "year", "comparator", "threshold", "probability", "ci_low",
        "ci_high", "median", "p05", "p95", "n_runs", "status",
    ]  # fmt: skip
    c = table.set_index("target")
    # 2020 values 20, 19, 25, 18, 22: three of five >= 20
    assert c.loc["counties_2020", "probability"] == pytest.approx(0.6)
    assert c.loc["counties_2020", "median"] == pytest.approx(20.0)
    # numpy linear quantile of (18, 19, 20, 22, 25): 5% at position 0.2 -> 18.2; 95% at 3.8 -> 24.4
    assert c.loc["counties_2020", "p05"] == pytest.approx(18.2)
    assert c.loc["counties_2020", "p95"] == pytest.approx(24.4)
    assert c.loc["counties_2020", "status"] == "at risk"
    assert c.loc["counties_2020", "n_runs"] == 5
    # rising to 2020: runs 0 and 2 only; to 2019 also run 4 (its stall is in 2020)
    assert c.loc["rd_rising_2020", "probability"] == pytest.approx(0.4)
    assert c.loc["rd_rising_2020", "status"] == "missed"
    assert c.loc["rd_rising_2019", "probability"] == pytest.approx(0.6)
    assert table["threshold"].isna().tolist() == [False, True, True]
    assert (table["ci_low"] <= table["probability"]).all()
    assert (table["probability"] <= table["ci_high"]).all()


def test_status_thresholds_are_keywords(metrics: pd.DataFrame) -> None:
    target = [Target("c", "provincial_innovative_counties", ">=", 20, 2020)]
    assert attainment(metrics, target, met_at=0.6)["status"].iloc[0] == "met"
    assert attainment(metrics, target, met_at=0.9, at_risk_at=0.7)["status"].iloc[0] == "missed"


def test_attainment_errors(metrics: pd.DataFrame) -> None:
    with pytest.raises(ScenarioError, match="hnte_count"):
        attainment(metrics, [Target("h", "hnte_count", ">=", 1, 2020)])
    with pytest.raises(ScenarioError, match="2030"):
        attainment(metrics, [Target("c", "provincial_innovative_counties", ">=", 20, 2030)])
    with pytest.raises(ScenarioError, match="base year"):
        attainment(metrics, [Target("r", "county_rd_100m_cny", "rising", None, 2017)])
    mixed = [
        Target("c", "provincial_innovative_counties", ">=", 20, 2020),
        Target("h", "hnte_count", ">=", 1, 2020),
    ]
    with pytest.raises(ScenarioError, match=r"hnte_count.*county_rd_100m_cny"):
        attainment(metrics, mixed)
    with pytest.raises(DataError, match="missing column"):
        attainment(metrics.drop(columns="level"), [])


def test_first_year_distribution(metrics: pd.DataFrame) -> None:
    targets = [
        Target("counties", "provincial_innovative_counties", ">=", 20, 2020),
        Target("rd", "county_rd_100m_cny", "rising", None, 2020),
    ]
    table = first_year_met(metrics, targets)
    c = table[table["target"] == "counties"].set_index("label")["share"]
    # first years: run0 2020, run1 never, run2 2019, run3 never, run4 2019
    assert c.to_dict() == pytest.approx(
        {"2017": 0.0, "2018": 0.0, "2019": 0.4, "2020": 0.2, "never": 0.4}
    )
    r = table[table["target"] == "rd"].set_index("label")["share"]
    # rising from 2017 holds first in 2018 for runs 0, 1, 2, 4; run 3 dips in 2018 -> never
    assert r.to_dict() == pytest.approx(
        {"2017": 0.0, "2018": 0.8, "2019": 0.0, "2020": 0.0, "never": 0.2}
    )
    assert table.groupby("target")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert table["year"].isna().sum() == 2


def test_unit_probabilities(unit_metrics: MetricsBuilder) -> None:
    # 4 runs; county A designated by 2020 in 3 runs, B in 1; years 2017..2020
    values = {
        "A": [[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 1, 1], [0, 0, 0, 0]],
        "B": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
    }
    table = unit_probabilities(unit_metrics("designated", "county", values), years=(2019, 2020))
    t = table.set_index("code")
    assert t.loc["A", "p_2020"] == pytest.approx(0.75)
    assert t.loc["A", "p_2019"] == pytest.approx(0.5)
    assert t.loc["B", "p_2020"] == pytest.approx(0.25)
    assert t.loc["B", "p_2019"] == 0.0
    assert t.loc["B", "p_2019_ci_low"] == 0.0
    assert t.loc["A", "name"] == "县A"
    assert (t["n_runs"] == 4).all()
    bad = unit_metrics("designated", "county", {"A": [[0, 2]]})
    with pytest.raises(DataError, match="not 0 or 1"):
        unit_probabilities(bad, years=(2018,))


def test_fan_quantiles(metrics: pd.DataFrame) -> None:
    fan = fan_quantiles(metrics, "provincial_innovative_counties", quantiles=(0.0, 0.5, 1.0))
    assert list(fan.index) == [2017, 2018, 2019, 2020]
    assert fan.loc[2020].to_numpy().tolist() == [18.0, 20.0, 25.0]
    assert fan.loc[2018].to_numpy().tolist() == [4.0, 6.0, 9.0]


def test_fan_needs_code_for_many_units(unit_metrics: MetricsBuilder) -> None:
    data = unit_metrics("index", "county", {"A": [[1, 2]], "B": [[3, 4]]})
    with pytest.raises(ScenarioError, match="2 units"):
        fan_quantiles(data, "index", level="county")
    assert fan_quantiles(data, "index", "county", code="B", quantiles=(0.5,))[0.5].tolist() == [
        3.0,
        4.0,
    ]


def test_max_half_width(metrics: pd.DataFrame) -> None:
    targets = [
        Target("c", "provincial_innovative_counties", ">=", 20, 2020),
        Target("r", "county_rd_100m_cny", "rising", None, 2020),
    ]
    table = attainment(metrics, targets)
    expected = float(((table["ci_high"] - table["ci_low"]) / 2).max())
    assert max_half_width(metrics, targets) == pytest.approx(expected)
    assert 0.0 < expected < 0.5


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3),
        min_size=1,
        max_size=30,
    ),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([">=", ">", "<=", "<", "rising"]),
)
def test_attainment_properties(runs: list[list[float]], threshold: float, comparator: str) -> None:
    from analysis_helpers import _province_metrics

    data = _province_metrics({"m": runs})
    t = Target("t", "m", comparator, None if comparator == "rising" else threshold, 2019)
    row = attainment(data, [t]).iloc[0]
    assert 0.0 <= row["ci_low"] <= row["probability"] <= row["ci_high"] <= 1.0
    firsts = first_year_met(data, [t])
    assert firsts["share"].sum() == pytest.approx(1.0)
    assert (firsts["share"] >= 0).all()


def _indicator_rows(
    values: np.ndarray, level: str, metric: str, base_year: int = 2017
) -> pd.DataFrame:
    """Long rows of a 0/1 indicator from an array ``(runs, units, years)``."""
    runs, units, years = np.indices(values.shape)
    return pd.DataFrame(
        {
            "replication": runs.ravel(),
            "year": base_year + years.ravel(),
            "level": level,
            "code": [f"U{u:02d}" for u in units.ravel()],
            "name": [f"单位{u}" for u in units.ravel()],
            "metric": metric,
            "value": values.ravel().astype(float),
        }
    )


@given(
    flags=st.lists(st.lists(st.booleans(), min_size=9, max_size=9), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=4),
    drop=st.integers(0, 200),
)
@settings(max_examples=60, deadline=None)
def test_unit_probabilities_from_chunk_counts_equal_rows(
    flags: list[list[bool]], cuts: list[int], drop: int
) -> None:
    """Counts summed over chunks of runs (in any order) give the table computed from the rows,
    including a unit-year missing in one run."""
    n_runs = len(flags)
    values = np.array(flags, dtype=float).reshape(n_runs, 3, 3)  # runs x 3 units x 3 years
    county = _indicator_rows(values, "county", "designated")
    township = _indicator_rows(1.0 - values, "township", "innovative")
    province = county.assign(level="province", code="JX", name="江西省", metric="x")
    rows = pd.concat([province, county, township], ignore_index=True)
    rows = rows.drop(index=len(province) + drop % len(county)).reset_index(drop=True)
    bounds = sorted({0, n_runs, *(min(c, n_runs) for c in cuts)})
    chunks = [
        unit_counts(
            rows[rows["replication"].between(lo, hi - 1)],
            [("county", "designated"), ("township", "innovative")],
            (2018, 2019),
        )
        for lo, hi in itertools.pairwise(bounds)
    ]
    combined = combine_unit_counts(chunks)
    reverse = combine_unit_counts(reversed(chunks))
    pd.testing.assert_frame_equal(combined.cells, reverse.cells)
    pd.testing.assert_frame_equal(combined.runs, reverse.runs)
    for level, metric in (("county", "designated"), ("township", "innovative")):
        expected = unit_probabilities(rows, metric, level, years=(2018, 2019))
        got = unit_probabilities_from_counts(combined, metric, level, years=(2018, 2019))
        pd.testing.assert_frame_equal(got, expected)
        assert (got["n_runs"] == n_runs).all()


def test_unit_counts_errors_and_empty(unit_metrics: MetricsBuilder) -> None:
    rows = unit_metrics("designated", "county", {"A": [[0, 1, 1]], "B": [[0, 0.5, 1]]})
    counts = unit_counts(rows, [("county", "designated")])
    assert counts.cells["n_bad"].tolist() == [0, 0, 0, 1, 0, 0]  # A 2017-19, B 2017-19
    with pytest.raises(DataError, match="unit B in 2018 is not 0 or 1 in 1 run"):
        unit_probabilities_from_counts(counts, years=(2019,))
    good = unit_counts(rows[rows["code"] == "A"], [("county", "designated")], (2019,))
    with pytest.raises(ScenarioError, match="year not simulated"):
        unit_probabilities_from_counts(good, years=(2018,))
    with pytest.raises(ScenarioError, match="metric not in the results"):
        unit_probabilities_from_counts(good, "national", years=(2019,))
    assert unit_probabilities_from_counts(good, years=(2019,))["p_2019"].tolist() == [1.0]
    nothing = combine_unit_counts([UnitCounts.empty(), unit_counts(rows, [("township", "x")])])
    assert nothing.cells.empty and nothing.runs.empty
    pd.testing.assert_frame_equal(combine_unit_counts([good, UnitCounts.empty()]).cells, good.cells)
