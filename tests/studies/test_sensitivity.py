"""Sensitivity studies: known indices through the same machinery (Ishigami, linear), scenario
studies with tiny designs, levers, scenario discovery with a planted answer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from policysim.analysis import sensitivity_problem
from policysim.errors import ScenarioError
from policysim.experiments import run_ensemble
from policysim.scenario import Target, load_scenario
from policysim.studies.discovery import describe_miss, discover, discover_runs, find_target
from policysim.studies.sensitivity import (
    LEVER_BUDGET,
    LEVER_WEIGHTS,
    _apply_levers,
    compute_indices,
    run_sensitivity,
    scenario_problem,
    scenario_sensitivity,
    write_sensitivity,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
#: Two uncertainties keep the designs tiny: Morris N=2 is 6 runs.
TWO = (
    "uncertainties={firm_entry_rate: {distribution: uniform, low: 0.03, high: 0.10}, "
    "hnte_stock_2017: {distribution: uniform, low: 1500, high: 2600}}",
)

# Ishigami (a=7, b=0.1) on [-pi, pi]^3: closed-form variance shares (Ishigami & Homma 1990;
# Sobol' & Levitan 1999). V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2.
A, B = 7.0, 0.1
V = A**2 / 8 + B * math.pi**4 / 5 + B**2 * math.pi**8 / 18 + 0.5
V1 = 0.5 * (1 + B * math.pi**4 / 5) ** 2
V2 = A**2 / 8
V13 = B**2 * math.pi**8 * (1 / 18 - 1 / 50)
ISHIGAMI_S1 = {"x1": V1 / V, "x2": V2 / V, "x3": 0.0}
ISHIGAMI_ST = {"x1": (V1 + V13) / V, "x2": V2 / V, "x3": V13 / V}


def ishigami(design: pd.DataFrame) -> pd.DataFrame:
    x = design[["x1", "x2", "x3"]].to_numpy()
    y = np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])
    return pd.DataFrame({"ishigami": y, "linear": 2.0 * x[:, 0] + x[:, 2], "flat": 3.0})


@pytest.fixture(scope="module")
def cube() -> dict[str, object]:
    return sensitivity_problem(["x1", "x2", "x3"], [(-math.pi, math.pi)] * 3)


def test_ishigami_sobol_within_intervals(cube: dict[str, object]) -> None:
    res = run_sensitivity(cube, ishigami, method="sobol", samples=1024, seed=11)
    assert res.n_runs == 1024 * 5
    rows = res.indices[res.indices["output"] == "ishigami"].set_index("parameter")
    for p in ("x1", "x2", "x3"):
        assert abs(rows.loc[p, "S1"] - ISHIGAMI_S1[p]) <= rows.loc[p, "S1_conf"], p
        assert abs(rows.loc[p, "ST"] - ISHIGAMI_ST[p]) <= rows.loc[p, "ST_conf"], p
        assert rows.loc[p, "S1_conf"] < 0.1
    # the known values themselves (hand arithmetic of the formulas above)
    assert ISHIGAMI_S1["x1"] == pytest.approx(0.3139, abs=1e-4)
    assert ISHIGAMI_ST["x3"] == pytest.approx(0.2437, abs=1e-4)


def test_linear_sobol_and_constant_output(cube: dict[str, object]) -> None:
    res = run_sensitivity(cube, ishigami, method="sobol", samples=256, seed=3)
    lin = res.indices[res.indices["output"] == "linear"].set_index("parameter")
    # y = 2 x1 + x3, equal variances: shares 4/5 and 1/5, no interaction, x2 inert
    # (estimator and sample variance: equal to sampling error, well inside the intervals)
    assert abs(lin.loc["x1", "S1"] - 0.8) <= min(0.01, lin.loc["x1", "S1_conf"])
    assert abs(lin.loc["x3", "ST"] - 0.2) <= min(0.01, lin.loc["x3", "ST_conf"])
    assert lin.loc["x2", "ST"] == pytest.approx(0.0, abs=1e-12)
    flat = res.indices[res.indices["output"] == "flat"]
    assert flat["constant"].all()
    assert flat[["S1", "ST"]].isna().all().all()


def test_linear_morris_known_effects(cube: dict[str, object]) -> None:
    res = run_sensitivity(cube, ishigami, method="morris", samples=12, seed=5)
    assert res.n_runs == 12 * 4
    lin = res.indices[res.indices["output"] == "linear"].set_index("parameter")
    # mu* = |slope| x range for a linear output; every elementary effect equal: sigma 0
    assert lin.loc["x1", "mu_star"] == pytest.approx(2 * 2 * math.pi)
    assert lin.loc["x3", "mu_star"] == pytest.approx(2 * math.pi)
    assert lin.loc["x2", "mu_star"] == 0.0
    assert lin["sigma"].max() < 1e-9


def test_design_is_deterministic(cube: dict[str, object]) -> None:
    a = run_sensitivity(cube, ishigami, method="sobol", samples=64, seed=2)
    b = run_sensitivity(cube, ishigami, method="sobol", samples=64, seed=2)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    c = run_sensitivity(cube, ishigami, method="sobol", samples=64, seed=4)
    assert not np.allclose(a.design.to_numpy(), c.design.to_numpy())


@pytest.mark.parametrize(
    ("method", "samples", "key"),
    [("sobel", 4, "--method"), ("sobol", 6, "--samples"), ("morris", 1, "--samples")],
)
def test_bad_method_or_size(cube: dict[str, object], method: str, samples: int, key: str) -> None:
    with pytest.raises(ScenarioError, match=key):
        run_sensitivity(cube, ishigami, method=method, samples=samples)  # type: ignore[arg-type]


def test_compute_indices_rejects_missing_outputs(cube: dict[str, object]) -> None:
    design = pd.DataFrame(np.zeros((4, 3)), columns=["x1", "x2", "x3"])
    with pytest.raises(ValueError, match="missing"):
        compute_indices(cube, "morris", design, pd.DataFrame({"y": [1.0, np.nan, 2, 3]}), 0)


# -- scenario studies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study() -> object:
    return scenario_sensitivity(SCENARIO, method="morris", samples=2, overrides=TWO, seed=7)


def test_scenario_study_outputs(study: object) -> None:
    from policysim.studies.sensitivity import SensitivityResult

    assert isinstance(study, SensitivityResult)
    assert study.problem["names"] == ["firm_entry_rate", "hnte_stock_2017"]
    assert study.n_runs == 2 * 3
    targets = study.loaded.scenario.targets if study.loaded else ()
    assert len(study.outputs.columns) == 2 * len(targets)
    # the draws the runs used are the design
    np.testing.assert_allclose(
        study.draws[study.problem["names"]].to_numpy(), study.design.to_numpy()
    )
    # attainment agrees with the metric value and the target's threshold in every run
    for t in targets:
        if t.comparator == "rising":
            continue
        met = study.outputs[f"{t.name} attainment"].to_numpy()
        value = study.outputs[f"{t.name} {t.metric} {t.year}"].to_numpy()
        assert t.threshold is not None
        np.testing.assert_array_equal(met == 1.0, value >= t.threshold)
    assert set(study.indices["quantity"]) == {"attainment", "value"}
    assert len(study.indices) == 2 * 2 * len(targets)
    assert any("Morris" in n for n in study.notes)


def test_scenario_study_writes_files(study: object, tmp_path: Path) -> None:
    from policysim.studies.sensitivity import SensitivityResult

    assert isinstance(study, SensitivityResult)
    written = write_sensitivity(study, tmp_path / "sa")
    for key in ("indices", "runs", "report", "discovery"):
        assert written[key].is_file()
    table = pd.read_csv(written["indices"])
    assert {"output", "parameter", "mu_star", "mu_star_conf", "sigma"} <= set(table.columns)
    html = written["report"].read_text(encoding="utf-8")
    assert "Sensitivity analysis" in html and "firm_entry_rate" in html
    assert not list((tmp_path / "sa").glob(".*.tmp"))


def test_scenario_study_same_seed_same_outputs(study: object) -> None:
    from policysim.studies.sensitivity import SensitivityResult

    assert isinstance(study, SensitivityResult)
    again = scenario_sensitivity(SCENARIO, method="morris", samples=2, overrides=TWO, seed=7)
    pd.testing.assert_frame_equal(study.outputs, again.outputs)


def test_levers_applied_and_problem() -> None:
    sc = load_scenario(SCENARIO).scenario
    row = {LEVER_BUDGET: 0.5, LEVER_WEIGHTS[0]: 1.0, LEVER_WEIGHTS[1]: 0.5, LEVER_WEIGHTS[2]: 0.5}
    changed = _apply_levers(sc, row)
    assert changed.budget.values[2020] == pytest.approx(sc.budget.values[2020] * 0.5)
    w = changed.allocation.factor_weights
    assert (w.research_capacity, w.fiscal_st_spending, w.management_capacity) == pytest.approx(
        (0.5, 0.25, 0.25)
    )
    assert sc.budget.values[2020] == pytest.approx(6.04)  # the original is untouched
    names = scenario_problem(sc, levers=True)["names"]
    assert names[-4:] == [LEVER_BUDGET, *LEVER_WEIGHTS]
    equal = load_scenario(SCENARIO, ("allocation.strategy=equal",)).scenario
    assert scenario_problem(equal, levers=True)["names"][-1] == LEVER_BUDGET


def test_levers_study_runs() -> None:
    res = scenario_sensitivity(
        SCENARIO,
        method="morris",
        samples=2,
        overrides=(*TWO, "allocation.strategy=equal"),
        levers=True,
        seed=3,
    )
    assert res.problem["names"] == ["firm_entry_rate", "hnte_stock_2017", LEVER_BUDGET]
    assert res.n_runs == 8
    assert res.draws is not None and LEVER_BUDGET in res.draws.columns


def test_levers_study_is_the_same_on_two_workers_and_resumed(tmp_path: Path) -> None:
    """Levers go through the one engine: 2 workers and a resumed store give the same indices."""
    kw: dict[str, Any] = {
        "method": "morris",
        "samples": 2,
        "overrides": (*TWO, "allocation.strategy=equal"),
        "levers": True,
        "seed": 3,
    }
    one = scenario_sensitivity(SCENARIO, **kw)
    two = scenario_sensitivity(SCENARIO, workers=2, store=tmp_path / "runs", **kw)
    pd.testing.assert_frame_equal(one.indices, two.indices)
    parts = sorted((tmp_path / "runs" / ".parts").glob("*"))
    assert parts, "the levered runs streamed to the store"
    again = scenario_sensitivity(SCENARIO, store=tmp_path / "runs", **kw)  # resumes: all done
    pd.testing.assert_frame_equal(one.indices, again.indices)


# -- scenario discovery -------------------------------------------------------------------------


def _planted(n: int = 200) -> tuple[pd.DataFrame, pd.DataFrame, Target]:
    """Runs miss a ">= 20" target exactly when a < 0.3; b is noise."""
    rng = np.random.default_rng(0)
    a = rng.random(n)
    b = rng.random(n)
    value = np.where(a < 0.3, 10.0, 30.0)
    draws = pd.DataFrame({"replication": np.arange(n), "seed_key": "", "a": a, "b": b})
    metrics = pd.DataFrame(
        {
            "replication": np.arange(n),
            "year": 2020,
            "level": "province",
            "code": "province",
            "name": "Jiangxi",
            "metric": "provincial_innovative_counties",
            "value": value,
        }
    )
    target = Target(
        name="t", metric="provincial_innovative_counties", comparator=">=", threshold=20, year=2020
    )
    return draws, metrics, target


def test_discovery_finds_planted_box() -> None:
    draws, metrics, target = _planted()
    prim = discover_runs(draws, metrics, target)
    box = prim.box
    # peeling may shave a miss off the low end of a: coverage at least 95% of the 53 misses
    assert box.density == 1.0 and box.coverage >= 0.95
    assert box.restricted == ("a",)
    # every run in the box misses: the upper limit of a sits just below 0.3
    assert 0.29 < box.upper["a"] < 0.3
    text = describe_miss(prim, target)
    assert "a <= 0.299" in text and "density 100%" in text
    assert text.startswith("Runs miss t (provincial_innovative_counties >= 20 in 2020) mostly when")


def test_discovery_all_met_and_unknown_target() -> None:
    draws, metrics, target = _planted()
    metrics["value"] = 50.0
    with pytest.raises(ScenarioError, match="every one of the 200 runs meets"):
        discover_runs(draws, metrics, target)
    with pytest.raises(ScenarioError, match="nope"):
        find_target([target], "nope")


def test_discover_on_ensemble() -> None:
    # the 2020 count hangs on the projected 2020 batch (5 + 6 documented seats before it), so
    # the planted ensemble varies the batch size
    planted = (
        "uncertainties={firm_entry_rate: {distribution: uniform, low: 0.03, high: 0.10}, "
        "county_batch_size: {distribution: uniform, low: 3, high: 12}}",
    )
    result = run_ensemble(SCENARIO, replications=8, overrides=planted, seed=5)
    flags = ~result.metrics.query(
        "level == 'province' and metric == 'provincial_innovative_counties' and year == 2020"
    ).set_index("replication")["value"].ge(20)
    if not flags.any() or flags.all():
        pytest.fail("the planted ensemble should have both misses and hits for counties_2020")
    prim = discover(result, "counties_2020", min_support=0.25)
    b = prim.box
    assert b.coverage * flags.sum() == pytest.approx(b.density * b.n_in_box)
    assert 0.0 < b.coverage <= 1.0
