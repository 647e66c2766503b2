"""ABC calibration: known-answer distances and fits, recovery of known parameters from synthetic
observations, the fitted scenario file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from policysim.errors import DataError, ScenarioError
from policysim.experiments import run_ensemble
from policysim.scenario import Distribution, load_scenario
from policysim.studies.calibrate import (
    CalibrationResult,
    abc_distances,
    calibrate,
    fit_parameter,
    null_width_ratio,
    write_calibrated,
)
from policysim.studies.hindcast import synthetic_observations

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "jiangxi_baseline.yaml"
PRIORS = {
    "hnte_stock_2017": {"distribution": "uniform", "low": 1500.0, "high": 2600.0},
    "sales_growth_mean": {"distribution": "uniform", "low": 0.05, "high": 0.11},
}
TRUTH = {"hnte_stock_2017": 2300.0, "sales_growth_mean": 0.07}


def two_parameter_scenario(folder: Path) -> Path:
    """The baseline with only two uncertainties, a 2017-2018 horizon and no targets; no
    province-wide GDP shock (with its default sd of 2% a year, one year of GDP would say little
    of ``sales_growth_mean``: this test is of the calibration, not of how much a year's GDP
    tells)."""
    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    data["metadata"]["name"] = "two_parameters"
    data.setdefault("behaviour", {})["macro_shock_sd"] = {
        "value": 0.0,
        "unit": "share",
        "source": "test: no year shock",
    }
    data["horizon"]["end_year"] = 2018
    data["targets"] = []
    data["uncertainties"] = PRIORS
    path = folder / "two_parameters.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- known answers ----------------------------------------------------------------------------


def test_abc_distances_known_answer() -> None:
    sim = np.array([[1.0, 2.0, 5.0], [3.0, 4.0, 9.0], [1.0, np.nan, 0.0]])
    obs = np.array([1.0, 4.0, 0.0])
    scales = np.array([1.0, 2.0, 0.0])  # the third observation is dropped (zero scale)
    d = abc_distances(sim, obs, scales)
    np.testing.assert_allclose(d[:2], [1.0, 2.0])  # sqrt(0 + 1), sqrt(4 + 0)
    assert d[2] == np.inf  # missing value at a used observation
    with pytest.raises(ValueError, match="do not match"):
        abc_distances(sim, obs[:2], scales[:2])


def test_fit_parameter_narrow_and_wide() -> None:
    prior = Distribution(distribution="uniform", low=0.0, high=10.0)
    draws = np.linspace(0.0, 10.0, 101)
    narrow = fit_parameter("x", prior, draws, np.array([4.0, 4.5, 5.0, 5.5, 6.0]))
    assert narrow.fitted is not None
    f = narrow.fitted
    # accepted range 4..6 widened by 10% of 2 on each side: 3.8..6.2, mode = median 5
    assert (f.distribution, f.low, f.mode, f.high) == ("triangular", 3.8, 5.0, 6.2)
    assert narrow.width_ratio == pytest.approx((5.9 - 4.1) / (9.5 - 0.5))
    clipped = fit_parameter("x", prior, draws, np.array([0.0, 0.2, 0.5, 1.0]), shape="uniform")
    assert clipped.fitted is not None
    assert (clipped.fitted.distribution, clipped.fitted.low) == ("uniform", 0.0)  # prior support
    wide = fit_parameter("x", prior, draws, np.array([0.5, 3.0, 6.0, 9.5]))
    assert wide.fitted is None  # not narrowed: the prior is kept
    assert not wide.identified


def test_max_ratio_keeps_the_prior() -> None:
    prior = Distribution(distribution="uniform", low=0.0, high=10.0)
    draws = np.linspace(0.0, 10.0, 101)
    accepted = np.array([4.0, 4.5, 5.0, 5.5, 6.0])  # width ratio 0.2
    assert fit_parameter("x", prior, draws, accepted, max_ratio=0.25).identified
    assert not fit_parameter("x", prior, draws, accepted, max_ratio=0.15).identified


def test_null_width_ratio() -> None:
    draws = np.linspace(0.0, 1.0, 200)
    rng = np.random.default_rng(1)
    assert null_width_ratio(draws, 200, rng) == pytest.approx(1.0)  # the whole sample
    small = null_width_ratio(draws, 5, rng)
    # 5 uniform draws: the 5-95% width (linear quantiles) is 0.9 x range of 5, and the range of
    # 5 uniforms falls below 0.4 with probability 5 * 0.4^4 - 4 * 0.4^5 = 0.087
    assert 0.15 < small < 0.5
    assert null_width_ratio(draws, 5, np.random.default_rng(1)) == null_width_ratio(
        draws, 5, np.random.default_rng(1)
    )
    with pytest.raises(ValueError, match="expected 2 <= k"):
        null_width_ratio(draws, 1, rng)


# -- recovery of known parameters ---------------------------------------------------------------


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> tuple[CalibrationResult, Path]:
    folder = tmp_path_factory.mktemp("calibrate")
    scenario = two_parameter_scenario(folder)
    truth = run_ensemble(scenario, draws=pd.DataFrame([TRUTH]), seed=999)
    observed = synthetic_observations(truth.metrics, 0, ("hnte_count", "gdp_100m_cny"))
    result = calibrate(scenario, observed, replications=100, accept=0.1, seed=2024)
    return result, folder


def test_recovers_known_parameters(recovered: tuple[CalibrationResult, Path]) -> None:
    result, _ = recovered
    assert len(result.runs) == 100
    assert result.n_accepted == 10
    fit = result.fit.set_index(["indicator", "year"])
    assert not fit.loc[("gdp_100m_cny", 2017), "used"]  # the base year is fixed: no information
    assert fit.loc[("hnte_count", 2017), "used"]
    for p in result.parameters:
        assert p.fitted is not None, p.name
        low, high = p.fitted.support()
        prior_low, prior_high = p.prior.support()
        assert low <= TRUTH[p.name] <= high, (p.name, low, high)
        assert high - low < 0.6 * (prior_high - prior_low), p.name
        assert p.width_ratio < 0.5, p.name
    # the accepted runs reproduce the observations better than the prior runs
    used = result.fit[result.fit["used"]]
    prior_err = np.abs(used["prior_median"] - used["observed"]) / used["scale"]
    post_err = np.abs(used["post_median"] - used["observed"]) / used["scale"]
    assert post_err.sum() < prior_err.sum()


def test_fitted_scenario_extends_the_input(recovered: tuple[CalibrationResult, Path]) -> None:
    result, folder = recovered
    written = write_calibrated(result, folder / "out" / "fitted.yaml")
    text = written["scenario"].read_text(encoding="utf-8")
    assert "extends: ../two_parameters.yaml" in text
    assert text.startswith("# Generated by `policysim calibrate`")
    loaded = load_scenario(written["scenario"])
    assert loaded.name == "two_parameters_calibrated"
    assert loaded.chain[0] == (folder / "two_parameters.yaml").resolve()
    for p in result.parameters:
        assert loaded.scenario.uncertainties[p.name] == p.fitted
    # everything else is the input's
    base = load_scenario(folder / "two_parameters.yaml").scenario
    assert loaded.scenario.budget == base.budget
    assert loaded.scenario.horizon == base.horizon
    assert written["fit"].name == "fitted.fit.json"
    assert written["fit"].is_file()


def test_calibration_errors(tmp_path: Path) -> None:
    scenario = two_parameter_scenario(tmp_path)
    obs = pd.DataFrame({"indicator": ["gdp_100m_cny"], "year": [2017], "value": [20818.5]})
    with pytest.raises(ScenarioError, match="--replications"):
        calibrate(scenario, obs, replications=5)
    with pytest.raises(ScenarioError, match="--accept"):
        calibrate(scenario, obs, replications=20, accept=0.0)
    with pytest.raises(ScenarioError, match="nothing to calibrate"):
        calibrate(scenario, obs, replications=20, overrides=["uncertainties={}"])
    # the base-year GDP is the same in every run: no observation informs the parameters
    with pytest.raises(DataError, match="no observation varies"):
        calibrate(scenario, obs, replications=20)
