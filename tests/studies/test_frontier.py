"""Budget frontier: levels, scaling, monotonicity (property over seeds), the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from policysim.commands.compare import register
from policysim.errors import ScenarioError
from policysim.experiments import run_ensemble
from policysim.scenario import load_scenario
from policysim.studies.frontier import (
    budget_frontier,
    budget_override,
    first_year_budget,
    frontier_violations,
    parse_budgets,
)

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "jiangxi_baseline.yaml"
METRIC = "provincial_innovative_counties"


def test_parse_budgets_known_answers() -> None:
    assert parse_budgets("2:10:9") == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert parse_budgets("1, 2.5,4") == [1.0, 2.5, 4.0]
    for bad in ("2:10", "a,b", "5:2:3", "2:10:1", ""):
        with pytest.raises(ScenarioError, match="--budgets"):
            parse_budgets(bad)


def test_budget_override_scales_the_whole_series() -> None:
    loaded = load_scenario(BASELINE)
    assert first_year_budget(loaded) == 3.2
    override, scale = budget_override(loaded, 6.4)
    assert scale == 2.0
    scaled = load_scenario(BASELINE, (override,)).scenario
    for year in range(2018, 2031):
        assert scaled.budget.at(year) == pytest.approx(2.0 * loaded.scenario.budget.at(year))
    with pytest.raises(ScenarioError, match="--budgets"):
        budget_override(loaded, -1.0)


def _designations(seed: int, scale: float) -> pd.DataFrame:
    loaded = load_scenario(BASELINE)
    override, _ = budget_override(loaded, first_year_budget(loaded) * scale)
    r = run_ensemble(load_scenario(BASELINE, (override,)), replications=4, seed=seed)
    m = r.metrics
    rows = m[(m["level"] == "province") & (m["metric"] == METRIC) & m["year"].isin([2020, 2030])]
    return rows.pivot_table(index="replication", columns="year", values="value", observed=True)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_larger_budget_never_lowers_expected_designations(seed: int) -> None:
    """Factor formula: doubling the budget never lowers the expected number of provincial
    innovative counties at either deadline, beyond Monte Carlo error (paired runs: the mean
    paired difference may fall below 0 by at most 3 standard errors)."""
    low = _designations(seed, 1.0)
    high = _designations(seed, 2.0)
    for year in (2020, 2030):
        diff = high[year].to_numpy(dtype=float) - low[year].to_numpy(dtype=float)
        se = float(np.std(diff, ddof=1)) / math.sqrt(diff.size)
        assert diff.mean() >= -3.0 * se - 1e-12, (year, diff)


def test_frontier_monotone_within_its_intervals() -> None:
    fr = budget_frontier(BASELINE, [6.4, 1.6, 3.2, 3.2], replications=4, seed=3)
    assert sorted(fr.results) == [1.6, 3.2, 6.4]  # duplicates dropped, sorted
    t = fr.table
    assert len(t) == 3 * len(load_scenario(BASELINE).scenario.targets)
    assert list(t["scale"].unique()) == [0.5, 1.0, 2.0]
    assert frontier_violations(t).empty

    # expected designations in 2030 never fall as the budget grows, beyond Monte Carlo error of
    # the paired runs (each run on its own synthetic province: the same one at every budget)
    def counties_2030(b: float) -> np.ndarray:
        m = fr.results[b].metrics
        rows = m[(m["level"] == "province") & (m["metric"] == METRIC) & (m["year"] == 2030)]
        return rows.sort_values("replication")["value"].to_numpy(dtype=float)

    for lo, hi in ((1.6, 3.2), (3.2, 6.4)):
        diff = counties_2030(hi) - counties_2030(lo)
        se = float(np.std(diff, ddof=1)) / math.sqrt(diff.size)
        assert diff.mean() >= -3.0 * se - 1e-12, (lo, hi, diff)
    for name, value in fr.smallest.items():
        rows = t[t["target"] == name].sort_values("budget_100m_cny")
        reached = rows[rows["probability"] >= 0.8]["budget_100m_cny"]
        assert value == (None if reached.empty else reached.iloc[0])


def test_frontier_violations_detects_a_fall() -> None:
    table = pd.DataFrame(
        {
            "budget_100m_cny": [1.0, 2.0, 3.0],
            "target": ["a", "a", "a"],
            "probability": [0.9, 0.2, 0.25],
            "ci_low": [0.8, 0.1, 0.15],
            "ci_high": [0.95, 0.3, 0.35],
        }
    )
    v = frontier_violations(table)
    assert len(v) == 1 and v.iloc[0]["budget_low"] == 1.0 and v.iloc[0]["budget_high"] == 2.0
    # overlapping intervals are not a violation
    table.loc[1, ["probability", "ci_low", "ci_high"]] = [0.85, 0.7, 0.95]
    table.loc[2, ["probability", "ci_low", "ci_high"]] = [0.8, 0.7, 0.9]
    assert frontier_violations(table).empty


def test_cli_frontier_end_to_end(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    out = tmp_path / "fr"
    res = CliRunner().invoke(
        app,
        [
            "frontier",
            str(BASELINE),
            "--budgets",
            "0.5,1",
            "--factors",
            "--replications",
            "2",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "frontier.csv")
    assert sorted(table["budget_100m_cny"].unique()) == [1.6, 3.2]
    assert (out / "figures" / "frontier.png").stat().st_size > 1000
    assert (out / "report.html").is_file() and (out / "smallest_budget.csv").is_file()


def test_cli_frontier_bad_budgets_exit_2(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["frontier", str(BASELINE), "--budgets", "9:1:3", "--quiet"])
    assert res.exit_code == 2 and "--budgets" in res.output
