"""Hindcast study: the shipped hindcast scenario and observed files, known-answer scoring,
self-consistency (a calibrated model's own draws are covered at nominal rates), errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.agents.calendar import resolve_year
from policysim.errors import DataError
from policysim.experiments import run_ensemble
from policysim.scenario import load_scenario
from policysim.studies.hindcast import (
    HINDCAST_INDICATORS,
    held_out_scores,
    interval_coverage,
    read_hindcast_observed,
    run_hindcast,
    score_ensemble,
    synthetic_observations,
    write_hindcast,
)

ROOT = Path(__file__).resolve().parents[2]
HINDCAST = ROOT / "scenarios" / "jiangxi_hindcast.yaml"
OBSERVED = ROOT / "scenarios" / "observed"
HISTORY = ROOT / "src" / "policysim" / "data" / "jiangxi" / "province_history.csv"
#: Short horizon for fast ensembles (the 2020 targets then lie outside it and are dropped).
SHORT = ("horizon.end_year=2019", "targets=[]")


def _metrics(values: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """Long ensemble metrics at province level from {(metric, year): values over runs}."""
    rows = []
    for (metric, year), xs in values.items():
        for rep, x in enumerate(xs):
            rows.append(
                {
                    "replication": rep,
                    "year": year,
                    "level": "province",
                    "code": "province",
                    "name": "Jiangxi",
                    "metric": metric,
                    "value": float(x),
                }
            )
    return pd.DataFrame(rows)


# -- the shipped scenario and files -----------------------------------------------------------


def test_hindcast_scenario_calendar_and_funds() -> None:
    sc = load_scenario(HINDCAST).scenario
    assert (sc.horizon.base_year, sc.horizon.end_year) == (2017, 2023)
    assert all(t.year <= 2023 for t in sc.targets)
    # super-deduction by year as enacted (PARAMETERS.md calendar)
    expected = {  # year: (all, tech SMEs, manufacturing)
        2017: (0.50, 0.75, 0.50),
        2018: (0.75, 0.75, 0.75),
        2020: (0.75, 0.75, 0.75),
        2021: (0.75, 0.75, 1.00),
        2022: (0.75, 1.00, 1.00),
        2023: (1.00, 1.00, 1.00),
    }
    for year, (all_, sme, manu) in expected.items():
        rules = resolve_year(sc.policy, year)
        assert (rules.sd_all, rules.sd_tech_sme, rules.sd_manufacturing) == pytest.approx(
            (all_, sme, manu)
        ), year
    # 40% of the special funds: 2019 about 9.5亿元, 2020 15.1亿元 (PARAMETERS.md)
    assert sc.budget.at(2019) == pytest.approx(0.4 * 9.5)
    assert sc.budget.at(2020) == pytest.approx(0.4 * 15.1)
    assert sc.budget.at(2021) == pytest.approx(0.4 * 15.1 * 1.03)


def test_observed_files_match_history_and_mark_status() -> None:
    with HISTORY.open(encoding="utf-8") as f:
        history = {(r["indicator"], int(r["year"])): float(r["value"]) for r in csv.DictReader(f)}
    sc = load_scenario(HINDCAST).scenario
    for name in ("jiangxi_2017.csv", "jiangxi_2017_2022.csv"):
        path = OBSERVED / name
        obs = read_hindcast_observed(path, sc)
        with path.open(encoding="utf-8") as f:
            raw = list(csv.DictReader(f))
        assert all(r["status"].strip() and r["source"].strip() for r in raw)
        for row in obs.itertuples(index=False):
            if row.year == 2017:
                assert history[(row.indicator, 2017)] == pytest.approx(row.value)
    base = read_hindcast_observed(OBSERVED / "jiangxi_2017.csv", sc)
    assert set(base["year"]) == {2017}
    assert len(base) == 3


def test_hindcast_against_2017_history(tmp_path: Path) -> None:
    result = run_hindcast(HINDCAST, OBSERVED / "jiangxi_2017.csv", replications=6, overrides=SHORT)
    t = result.table.set_index("indicator")
    # the model starts from the history's R&D and GDP: no spread, observation matched exactly
    for indicator in ("rd_expenditure_100m_cny", "gdp_100m_cny"):
        assert not t.loc[indicator, "informative"]
        assert t.loc[indicator, "in50"]
        assert t.loc[indicator, "pit"] == 0.5
        assert t.loc[indicator, "abs_pct_error"] < 1e-9
    # R&D intensity is not an input: the base-year value is what the synthesis gives
    intensity = t.loc["rd_intensity_pct"]
    assert not intensity["informative"]
    assert intensity["in90"] == (abs(intensity["median"] - 1.28) < 1e-6)
    written = write_hindcast(result, tmp_path)
    for key in ("hindcast", "summary", "report", "plot_gdp_100m_cny", "manifest"):
        assert written[key].is_file()


# -- known answers ----------------------------------------------------------------------------


def test_score_known_answer() -> None:
    metrics = _metrics(
        {
            ("gdp_100m_cny", 2018): [1.0, 2.0, 3.0, 4.0, 5.0],
            ("gdp_100m_cny", 2017): [10.0, 10.0 + 1e-12, 10.0, 10.0, 10.0 - 1e-12],
            ("hnte_count", 2017): [7.0] * 5,
        }
    )
    obs = pd.DataFrame(
        {
            "indicator": ["gdp_100m_cny", "gdp_100m_cny", "hnte_count"],
            "year": [2018, 2017, 2017],
            "value": [4.5, 10.0, 8.0],
        }
    )
    table, summary = score_ensemble(metrics, obs)
    r = table.iloc[0]
    # numpy linear quantiles of 1..5: p25 = 2, p75 = 4, p05 = 1.2, p95 = 4.8; 4 of 5 below 4.5
    assert (r["median"], r["p25"], r["p75"]) == pytest.approx((3.0, 2.0, 4.0))
    assert (r["p05"], r["p95"]) == pytest.approx((1.2, 4.8))
    assert (bool(r["in50"]), bool(r["in90"]), bool(r["informative"])) == (False, True, True)
    assert r["pit"] == pytest.approx(0.8)
    assert r["abs_pct_error"] == pytest.approx(100 * 1.5 / 4.5)
    noisy = table.iloc[1]  # rounding noise only: matched, mid-rank
    assert (bool(noisy["in50"]), bool(noisy["informative"]), noisy["pit"]) == (True, False, 0.5)
    missed = table.iloc[2]  # constant 7 against 8: outside, above every run
    assert (bool(missed["in90"]), missed["pit"]) == (False, 1.0)
    assert summary["gdp_100m_cny"]["coverage50"] == pytest.approx(0.5)
    assert summary["gdp_100m_cny"]["coverage90"] == pytest.approx(1.0)
    assert summary["gdp_100m_cny"]["n_informative"] == 1
    assert summary["hnte_count"]["coverage90"] == 0.0
    assert np.isnan(summary["hnte_count"]["coverage90_informative"])


def test_interval_coverage_known_answer() -> None:
    table = pd.DataFrame(
        {
            "in50": [True, False, False, True],
            "in90": [True] * 4,
            "pit": [0.125, 0.375, 0.625, 0.875],
        }
    )
    c = interval_coverage(table)
    assert (c["coverage50"], c["coverage90"], c["mean_pit"]) == (0.5, 1.0, 0.5)
    assert c["pit_ks"] == pytest.approx(0.125)


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=2, max_size=30
    ),
    a=st.floats(-2e6, 2e6, allow_nan=False),
    b=st.floats(-2e6, 2e6, allow_nan=False),
)
def test_scores_are_ordered(members: list[float], a: float, b: float) -> None:
    """The 50% interval lies inside the 90% one and PIT rises with the observation."""
    metrics = _metrics({("gdp_100m_cny", 2018): members})
    lo, hi = min(a, b), max(a, b)
    obs = pd.DataFrame({"indicator": ["gdp_100m_cny"] * 2, "year": [2018] * 2, "value": [lo, hi]})
    table, _ = score_ensemble(metrics, obs)
    assert (table["in90"] | ~table["in50"]).all()
    assert table["pit"].iloc[0] <= table["pit"].iloc[1]
    assert ((table["pit"] >= 0) & (table["pit"] <= 1)).all()


# -- self-consistency: the model's own draws as observations ---------------------------------


@pytest.fixture(scope="module")
def own_ensemble() -> pd.DataFrame:
    result = run_ensemble(HINDCAST, replications=60, workers=1, overrides=SHORT)
    assert result.n_failed == 0
    return result.metrics


CONTINUOUS = ("rd_expenditure_100m_cny", "rd_intensity_pct", "gdp_100m_cny", "hnte_count")


def _expected_coverage(n: int, q: float) -> float:
    """P(an exchangeable draw lies in [q, 1 - q] linear quantiles of n members)."""
    return 1.0 - 2.0 * (1.0 + q * (n - 1)) / (n + 1)


def test_coverage_of_own_draws_is_nominal(own_ensemble: pd.DataFrame) -> None:
    """20 runs play the history, the other 40 the ensemble: 4 indicators x 2 years x 20 = 160
    checks. Expected: about 0.48 (50% interval) and 0.86 (90%) for 40 members; the tolerances
    allow for the correlation of the 8 checks of one truth run (their effective number is
    nearer 20-40 than 160, so the standard error of the 90% coverage is about 0.05)."""
    table = held_out_scores(own_ensemble, range(20), CONTINUOUS, years=(2018, 2019))
    assert len(table) == 160
    assert table["informative"].all()
    c = interval_coverage(table)
    assert abs(c["coverage50"] - _expected_coverage(40, 0.25)) < 0.15
    assert abs(c["coverage90"] - _expected_coverage(40, 0.05)) < 0.12
    assert abs(c["mean_pit"] - 0.5) < 0.1
    assert c["pit_ks"] < 0.2


def test_leave_one_out_coverage_matches_the_rank_formula(own_ensemble: pd.DataFrame) -> None:
    """Every run held out in turn against the other 59: the ranks are a permutation, so the
    coverage must equal the formula up to ties (HNTE counts are integers)."""
    table = held_out_scores(own_ensemble, None, CONTINUOUS, years=(2018, 2019))
    assert len(table) == 60 * 8
    c = interval_coverage(table)
    assert c["coverage50"] == pytest.approx(_expected_coverage(59, 0.25), abs=0.03)
    assert c["coverage90"] == pytest.approx(_expected_coverage(59, 0.05), abs=0.03)
    assert c["mean_pit"] == pytest.approx(0.5, abs=0.01)
    assert c["pit_ks"] < 0.05


def test_coverage_detects_a_biased_model(own_ensemble: pd.DataFrame) -> None:
    """The same check fails when the observations run 10% above the model."""
    table = held_out_scores(own_ensemble, range(20), CONTINUOUS, years=(2018, 2019))
    biased_rows = []
    others = own_ensemble[~own_ensemble["replication"].isin(range(20))]
    for r in range(20):
        obs = synthetic_observations(own_ensemble, r, CONTINUOUS, (2018, 2019))
        obs["value"] *= 1.10
        biased_rows.append(score_ensemble(others, obs)[0])
    biased = interval_coverage(pd.concat(biased_rows, ignore_index=True))
    assert biased["coverage90"] < 0.5
    assert biased["mean_pit"] > 0.75
    assert interval_coverage(table)["coverage90"] - biased["coverage90"] > 0.3


def test_synthetic_observations_are_the_run(own_ensemble: pd.DataFrame) -> None:
    obs = synthetic_observations(own_ensemble, 3, ("gdp_100m_cny",))
    run = own_ensemble[
        (own_ensemble["replication"] == 3)
        & (own_ensemble["level"] == "province")
        & (own_ensemble["metric"] == "gdp_100m_cny")
    ].sort_values("year")
    assert obs["year"].tolist() == [2017, 2018, 2019]
    np.testing.assert_array_equal(obs["value"].to_numpy(), run["value"].to_numpy())
    # scored against an ensemble that contains it, a run ties with itself: mid-rank PIT is
    # strictly between 0 and 1 (at least 0.5 / 60 from either end)
    table, _ = score_ensemble(own_ensemble, obs)
    informative = table[table["informative"]]
    assert len(informative) == 2
    assert ((informative["pit"] >= 0.5 / 60) & (informative["pit"] <= 1 - 0.5 / 60)).all()


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("patents,2018,10", "row 2, column 'indicator': value 'patents': unknown indicator"),
        ("gdp_100m_cny,2024,30000", "row 2, column 'year': value 2024: year outside"),
        ("gdp_100m_cny,2016,18364.4", "row 2, column 'year': value 2016: year outside"),
    ],
)
def test_bad_rows_name_the_row(tmp_path: Path, row: str, expected: str) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(f"indicator,year,value\n{row}\n", encoding="utf-8")
    sc = load_scenario(HINDCAST).scenario
    with pytest.raises(DataError) as info:
        read_hindcast_observed(path, sc)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_empty_observed_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("indicator,year,value\n", encoding="utf-8")
    with pytest.raises(DataError, match="no observations"):
        read_hindcast_observed(path, load_scenario(HINDCAST).scenario)


def test_base_year_is_inside_the_horizon(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("indicator,year,value\nhnte_count,2017,2000\nhnte_count,2023,3000\n")
    obs = read_hindcast_observed(path, load_scenario(HINDCAST).scenario)
    assert obs["year"].tolist() == [2017, 2023]
    assert set(obs["indicator"]) <= set(HINDCAST_INDICATORS)
