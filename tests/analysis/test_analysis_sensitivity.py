"""Sensitivity: Ishigami known indices, Morris on a linear model, distributions, LHS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from policysim.analysis.sensitivity import (
    DistributionSpec,
    analyse,
    latin_hypercube,
    sample,
    sensitivity_problem,
    transform_unit_samples,
)
from policysim.errors import ScenarioError


def _ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    return np.asarray(y, dtype=np.float64)


def test_ishigami_sobol_indices() -> None:
    problem = sensitivity_problem(["x1", "x2", "x3"], [(-np.pi, np.pi)] * 3)
    X = sample(problem, "sobol", 2048, seed=42)
    assert X.shape == (2048 * 5, 3)
    assert X.min() >= -np.pi
    assert X.max() <= np.pi
    result = analyse(problem, "sobol", X, _ishigami(X), seed=43).set_index("parameter")
    s1 = np.array([0.3139, 0.4424, 0.0])
    st_ = np.array([0.5576, 0.4424, 0.2437])
    tol = 0.01
    assert np.all(np.abs(result["S1"].to_numpy() - s1) <= result["S1_conf"].to_numpy() + tol)
    assert np.all(np.abs(result["ST"].to_numpy() - st_) <= result["ST_conf"].to_numpy() + tol)
    # the intervals are informative, not huge
    assert result["S1_conf"].max() < 0.1


def test_sobol_is_deterministic_for_a_seed() -> None:
    problem = sensitivity_problem(["a", "b"], [(0.0, 1.0), (2.0, 3.0)])
    np.testing.assert_array_equal(sample(problem, "sobol", 64, 5), sample(problem, "sobol", 64, 5))
    assert not np.array_equal(sample(problem, "sobol", 64, 5), sample(problem, "sobol", 64, 6))


def test_morris_linear_model_known_effects() -> None:
    # y = 3 x1 - x3 on uniform ranges of width 2 pi, 2 and 4: an elementary effect is the
    # change over a unit step (SALib), i.e. coefficient x range: 3 * 2 pi, 0, 1 * 4
    problem = sensitivity_problem(
        ["x1", "x2", "x3"], {"x1": (-np.pi, np.pi), "x2": (0.0, 2.0), "x3": (1.0, 5.0)}
    )
    X = sample(problem, "morris", 50, seed=1)
    assert X.shape == (50 * 4, 3)
    Y = 3 * X[:, 0] - X[:, 2]
    result = analyse(problem, "morris", X, Y, seed=2).set_index("parameter")
    np.testing.assert_allclose(result["mu_star"], [6 * np.pi, 0.0, 4.0], atol=1e-9)
    np.testing.assert_allclose(result["sigma"], [0.0, 0.0, 0.0], atol=1e-9)
    assert list(result.columns) == ["mu_star", "mu_star_conf", "sigma"]


def test_transform_matches_scipy_quantiles() -> None:
    u = np.array([[0.1, 0.5, 0.9, 0.25, 0.75, 0.5]])
    dists = [
        DistributionSpec("uniform", low=2.0, high=4.0),
        DistributionSpec("triangular", low=0.0, mode=1.0, high=4.0),
        DistributionSpec("normal", mean=1.0, sd=2.0),
        DistributionSpec("normal", mean=0.0, sd=1.0, low=0.0, high=None),
        DistributionSpec("lognormal", mean_log=0.0, sd_log=0.5),
        DistributionSpec("beta", a=2.0, b=2.0, low=10.0, high=20.0),
    ]
    out = transform_unit_samples(u, dists)[0]
    assert out[0] == pytest.approx(2.2)
    # triangular(0, 1, 4): F(1) = 1/4, so the median is on the right limb: 4 - sqrt(0.5 * 4 * 3)
    assert out[1] == pytest.approx(4 - np.sqrt(6.0))
    assert out[2] == pytest.approx(1.0 + 2.0 * stats.norm.ppf(0.9))
    # half-normal: quantile 0.25 is norm.ppf(0.625)
    assert out[3] == pytest.approx(stats.norm.ppf(0.625))
    assert out[4] == pytest.approx(np.exp(0.5 * stats.norm.ppf(0.75)))
    assert out[5] == pytest.approx(15.0)  # symmetric beta: median at the centre


def test_transform_maps_unit_corners_to_finite_values() -> None:
    u = np.array([[0.0, 0.0], [1.0, 1.0]])
    out = transform_unit_samples(
        u, [DistributionSpec("normal", mean=0.0, sd=1.0), DistributionSpec("uniform", 0.0, 1.0)]
    )
    assert np.all(np.isfinite(out))
    assert out[1, 1] == 1.0


def test_bad_specs_raise_scenario_errors() -> None:
    with pytest.raises(ScenarioError, match=r"uncertainties\.p.*lacks mode"):
        sensitivity_problem(["p"], [DistributionSpec("triangular", low=0.0, high=1.0)])
    with pytest.raises(ScenarioError, match="unknown distribution"):
        sensitivity_problem(["p"], [DistributionSpec("gamma", low=0.0, high=1.0)])
    with pytest.raises(ScenarioError, match="low is not below high"):
        sensitivity_problem(["p"], [(1.0, 1.0)])
    with pytest.raises(ScenarioError, match="unique"):
        sensitivity_problem(["p", "p"], [(0.0, 1.0), (0.0, 1.0)])


def test_latin_hypercube_strata_and_seed() -> None:
    u = latin_hypercube(20, 3, np.random.default_rng(9))
    assert u.shape == (20, 3)
    # one point per stratum of width 1/20 in every dimension
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 20).astype(int).tolist()) == list(range(20))
    np.testing.assert_array_equal(u, latin_hypercube(20, 3, np.random.default_rng(9)))


def test_scenario_distribution_objects_are_accepted() -> None:
    schema = pytest.importorskip("policysim.scenario.schema")
    dist = schema.Distribution(distribution="beta", a=2.0, b=5.0, low=0.0, high=1.0)
    problem = sensitivity_problem(["voucher_additionality"], [dist])
    X = sample(problem, "sobol", 16, seed=0)
    assert np.all((X >= 0.0) & (X <= 1.0))
