"""Strategy comparison: self-comparison is exactly zero, marginal value pieces, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from policysim.commands.compare import register
from policysim.experiments import EnsembleResult, run_ensemble
from policysim.scenario import INSTRUMENT_NAMES, load_scenario
from policysim.studies.compare import ComparisonResult, compare_scenarios
from policysim.studies.marginal import (
    OUTCOME_METRIC,
    extra_plan,
    marginal_value,
    response_slopes,
)

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "jiangxi_baseline.yaml"
EQUAL = ROOT / "scenarios" / "jiangxi_equal.yaml"


@pytest.fixture(scope="module")
def self_comparison() -> ComparisonResult:
    return compare_scenarios([BASELINE, BASELINE], replications=5, seed=11, marginal_replications=0)


@pytest.fixture(scope="module")
def base_ensemble() -> EnsembleResult:
    return run_ensemble(BASELINE, replications=3, seed=5)


def test_self_comparison_is_exactly_zero(self_comparison: ComparisonResult) -> None:
    r = self_comparison
    assert list(r.results) == ["jiangxi_baseline", "jiangxi_baseline#2"]
    other = r.table[r.table["scenario"] == "jiangxi_baseline#2"]
    n_targets = len(load_scenario(BASELINE).scenario.targets)
    assert len(other) == n_targets
    for col in ("diff_vs_baseline", "diff_ci_low", "diff_ci_high", "metric_diff_mean"):
        assert (other[col] == 0.0).all(), col
    assert (other["metric_diff_ci_low"] == 0.0).all()
    assert (other["metric_diff_ci_high"] == 0.0).all()
    base_rows = r.table[r.table["scenario"] == "jiangxi_baseline"]
    np.testing.assert_array_equal(
        base_rows["probability"].to_numpy(), other["probability"].to_numpy()
    )
    m = r.metrics[r.metrics["scenario"] == "jiangxi_baseline#2"]
    assert len(m) and (m[["diff_vs_baseline", "diff_ci_low", "diff_ci_high"]] == 0.0).all().all()
    c = r.counties
    np.testing.assert_array_equal(c["p_jiangxi_baseline"], c["p_jiangxi_baseline#2"])
    assert (c["spread"] == 0.0).all()
    np.testing.assert_array_equal(c["funds_jiangxi_baseline"], c["funds_jiangxi_baseline#2"])
    assert len(c) == 100 and c["code"].is_unique


def test_county_funds_sum_to_the_budget(self_comparison: ComparisonResult) -> None:
    """Rule strategies spend the whole budget: county funds add up to the budget series."""
    sc = load_scenario(BASELINE).scenario
    total = sum(sc.budget_cny(y) for y in sc.horizon.years)
    assert self_comparison.counties["funds_jiangxi_baseline"].sum() == pytest.approx(
        total, rel=1e-9
    )


def test_extra_plan_known_answer() -> None:
    sc = load_scenario(BASELINE).scenario
    from policysim.simulation import baseline_for

    counties = baseline_for(sc).counties
    members = (counties["prefecture"] == "新余市").to_numpy()
    extra = extra_plan(sc, members, 0.02)
    assert extra.shape == (100, len(INSTRUMENT_NAMES))
    np.testing.assert_allclose(extra[members].sum(axis=1), 0.02e8)
    assert (extra[~members] == 0).all()
    k_pov = list(INSTRUMENT_NAMES).index("poverty_programme")
    poverty = counties["poverty_county"].to_numpy(bool)
    assert (extra[~poverty, k_pov] == 0).all()
    # a non-poverty member splits by the scenario's shares without the poverty programme
    i = int(np.flatnonzero(members & ~poverty)[0])
    shares = {str(k): v for k, v in sc.allocation.instrument_shares.items()}
    rest = 1.0 - shares["poverty_programme"]
    k_v = list(INSTRUMENT_NAMES).index("vouchers")
    assert extra[i, k_v] == pytest.approx(0.02e8 * shares["vouchers"] / rest)


def test_zero_perturbation_reproduces_the_ensemble(base_ensemble: EnsembleResult) -> None:
    """The perturbation runs are paired: with no extra money they equal the baseline runs, and
    a non-zero extra plan changes them (through the same engine as every ensemble)."""
    sc = base_ensemble.loaded.scenario
    years = [2020, 2030]

    def outcome(result: EnsembleResult) -> pd.Series:
        m = result.metrics
        rows = m[(m["level"] == "province") & (m["metric"] == OUTCOME_METRIC)]
        rows = rows[rows["year"].isin(years)]
        return rows.set_index(["replication", "year"])["value"].sort_index()

    zero = np.zeros((100, len(INSTRUMENT_NAMES)))
    got = run_ensemble(
        base_ensemble.loaded,
        seed=base_ensemble.root_seed,
        draws=base_ensemble.draws,
        extra_cny=zero,
    )
    ref, out = outcome(base_ensemble), outcome(got)
    assert list(out.index) == list(ref.index)
    np.testing.assert_array_equal(out.to_numpy(dtype=float), ref.to_numpy(dtype=float))
    rich = extra_plan(sc, np.ones(100, dtype=bool), 5.0)
    more = run_ensemble(
        base_ensemble.loaded,
        seed=base_ensemble.root_seed,
        draws=base_ensemble.draws,
        extra_cny=rich,
    )
    assert not np.array_equal(outcome(more).to_numpy(dtype=float), ref.to_numpy(dtype=float))


def test_response_slopes_are_flat_beyond_the_curves(base_ensemble: EnsembleResult) -> None:
    sc = base_ensemble.loaded.scenario
    near = response_slopes(sc, np.zeros(100))
    far = response_slopes(sc, np.full(100, 1e12))
    assert near.shape == (100,) and (near >= 0).all() and near.max() > 0
    np.testing.assert_array_equal(far, 0.0)
    # concave curves: the slope never rises with more money
    mid = response_slopes(sc, np.full(100, 0.1e8))
    assert (mid <= near + 1e-9).all()


def test_marginal_value_table(base_ensemble: EnsembleResult) -> None:
    mv = marginal_value(base_ensemble, replications=1, delta_100m_cny=0.05)
    assert len(mv.groups) == 11 * 2  # prefectures x deadlines
    g = mv.groups
    assert (g["replications"] == 1).all()
    # extra money: delta x counties x planning years up to the deadline
    nanchang = g[(g["group"] == "南昌市") & (g["year"] == 2020)].iloc[0]
    assert nanchang["extra_100m_cny"] == pytest.approx(0.05 * 9 * 3)
    c = mv.counties
    assert list(c["rank"]) == list(range(1, 101))
    ranked = c["marginal_designations_per_100m_cny"].to_numpy()
    assert (np.diff(ranked) <= 1e-12).all()
    assert c["optimal_dual_per_100m_cny"].isna().all()  # no optimal scenario given


def test_bad_inputs_are_scenario_errors(base_ensemble: EnsembleResult) -> None:
    from policysim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="delta_100m_cny"):
        marginal_value(base_ensemble, delta_100m_cny=0.0)
    with pytest.raises(ScenarioError, match="SCENARIOS"):
        compare_scenarios([])


def test_cli_compare_end_to_end(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    out = tmp_path / "cmp"
    res = CliRunner().invoke(
        app,
        [
            "compare",
            str(BASELINE),
            str(EQUAL),
            "--replications",
            "3",
            "--marginal",
            "--marginal-replications",
            "0",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    briefing = (out / "briefing.html").read_text(encoding="utf-8")
    assert "Best strategy" in briefing and "最佳方案" in briefing
    table = pd.read_csv(out / "comparison.csv")
    for col in ("scenario", "target", "year", "probability", "diff_vs_baseline", "diff_ci_low",
                "diff_ci_high"):  # fmt: skip
        assert col in table.columns
    assert set(table["scenario"]) == {"jiangxi_baseline", "jiangxi_equal"}
    for name in (
        "strategy_bars.png",
        "paired_difference.png",
        "map_jiangxi_baseline.png",
        "map_jiangxi_equal.png",
        "map_disagreement.png",
        "fan_provincial_innovative_counties.png",
    ):
        assert (out / "figures" / name).stat().st_size > 1000, name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "jiangxi_equal" in html and "<img" in html
    counties = pd.read_csv(out / "counties.csv", dtype={"code": str})
    assert {"p_jiangxi_equal", "spread", "funds_jiangxi_equal", "marginal_rank"} <= set(counties)


def test_cli_compare_marginal_study_is_opt_in(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    out = tmp_path / "cmp"
    res = CliRunner().invoke(
        app,
        ["compare", str(BASELINE), "--replications", "2", "--out", str(out), "--lang", "en"],
    )
    assert res.exit_code == 0, res.output
    counties = pd.read_csv(out / "counties.csv", dtype={"code": str})
    assert "marginal_rank" not in counties.columns
    assert not (out / "marginal_groups.csv").exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["marginal"] is None and "marginal" not in manifest["comparison"]["seconds"]
    # the briefing is printed (English only) and names every target whole
    assert "Verdicts" in res.output and "结论" not in res.output
    assert "county_rd_rising_2030" in res.output
    res = CliRunner().invoke(app, ["compare", str(BASELINE), "--lang", "fr", "--out", str(out)])
    assert res.exit_code == 2 and "--lang" in res.output and "Traceback" not in res.output


def test_cli_compare_bad_file_exits_2(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["compare", str(tmp_path / "missing.yaml"), "--quiet"])
    assert res.exit_code == 2
    assert "missing.yaml" in res.output and "Traceback" not in res.output


def test_cli_help_has_examples() -> None:
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["compare", "--help"])
    assert res.exit_code == 0 and "policysim compare" in res.output


def test_self_comparison_decisions(self_comparison: ComparisonResult) -> None:
    """Best strategy per target and on the objective: a tie, named as such, with zero paired
    differences; no optimiser, so no value-of-optimisation rows."""
    d = self_comparison.decisions
    n_targets = len(load_scenario(BASELINE).scenario.targets)
    assert set(d["kind"]) == {"objective", "best"}
    best = d[d["kind"] == "best"]
    assert len(best) == n_targets + 1
    assert (best["diff"] == 0.0).all()
    assert (best["diff_ci_low"] == 0.0).all() and (best["diff_ci_high"] == 0.0).all()
    assert (best["scenario"] == "jiangxi_baseline").all()  # ties go to the first
    assert best[best["target"] != "objective"]["note"].eq("tied with the runner-up").all()


def test_decisions_value_of_optimisation_and_replanning_known_answer() -> None:
    """Hand-made runs: the optimiser meets one target in 3 of 4 runs where the best rule meets it
    in 1 of 4; the value of optimisation on that target is +0.5 and on the objective (share of
    the targets met) +0.5 / n_targets."""
    from policysim.studies.compare import decisions

    loaded_rule = load_scenario(BASELINE)
    loaded_opt = load_scenario(ROOT / "scenarios" / "jiangxi_optimal.yaml")
    loaded_cl = load_scenario(ROOT / "scenarios" / "jiangxi_closed_loop.yaml")
    sc = loaded_rule.scenario
    target = sc.targets[0]

    def metrics(values: list[float]) -> pd.DataFrame:
        cells: dict[tuple[int, int, str], float] = {}
        for rep, v in enumerate(values):
            for t in sc.targets:
                for year in (sc.horizon.base_year, *sc.horizon.years):
                    cells.setdefault((rep, year, t.metric), float(year) - 3000.0)
            cells[(rep, target.year, target.metric)] = v
        rows = [(r, y, "province", "", "", m, v) for (r, y, m), v in cells.items()]
        return pd.DataFrame(
            rows, columns=["replication", "year", "level", "code", "name", "metric", "value"]
        )

    class R:
        def __init__(self, values: list[float]) -> None:
            self.metrics = metrics(values)

    thr = float(target.threshold)
    results = {
        "rule": R([thr, thr - 1, thr - 1, thr - 1]),
        "opt": R([thr, thr, thr, thr - 1]),
        "cl": R([thr, thr, thr, thr - 1]),
    }
    d = decisions(results, [loaded_rule, loaded_opt, loaded_cl])  # type: ignore[arg-type]
    vo = d[(d["kind"] == "value_of_optimisation") & (d["target"] == target.name)].iloc[0]
    assert vo["scenario"] == "opt" and vo["versus"] == "rule"
    assert vo["diff"] == pytest.approx(0.5)
    obj = d[(d["kind"] == "value_of_optimisation") & (d["target"] == "objective")].iloc[0]
    assert obj["diff"] == pytest.approx(0.5 / len(sc.targets))
    vr = d[(d["kind"] == "value_of_replanning") & (d["target"] == "objective")].iloc[0]
    assert vr["diff"] == pytest.approx(0.0) and "same solver mode" in vr["note"]
    best = d[(d["kind"] == "best") & (d["target"] == target.name)].iloc[0]
    assert best["scenario"] == "opt" and best["probability"] == pytest.approx(0.75)


def test_marginal_standout_only_where_the_interval_excludes_zero() -> None:
    from policysim.studies.marginal import MarginalValue, standout

    counties = pd.DataFrame(
        {
            "code": ["a", "b"],
            "name": ["A", "B"],
            "group": ["g1", "g2"],
            "group_ci_low": [-0.5, 0.1],
            "group_ci_high": [1.5, 0.9],
            "rank": [1, 2],
        }
    )
    groups = pd.DataFrame(
        {
            "group": ["g1", "g2"],
            "year": [2030, 2030],
            "replications": [20, 20],
            "designations_per_100m_cny": [0.5, 0.5],
            "ci_low_per_100m_cny": [-0.5, 0.1],
            "ci_high_per_100m_cny": [1.5, 0.9],
        }
    )
    mv = MarginalValue(counties, groups, pd.DataFrame(), 0.01, 2030)
    shown, sentence = standout(mv)
    assert list(shown["code"]) == ["b"] and "stand out" in sentence
    mv2 = MarginalValue(counties.iloc[:1], groups.iloc[:1], pd.DataFrame(), 0.01, 2030)
    shown2, sentence2 = standout(mv2)
    assert len(shown2) == 0 and "No county stands out" in sentence2
    # half-width 1.0 at 20 runs for an effect of 0.5: 20 * (1.0 / 0.5)^2 = 80 runs
    assert "about 80 paired runs" in sentence2
