"""Every shipped scenario validates and runs, and its targets can be evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import policysim
from policysim.analysis import attainment

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_scenarios_are_shipped() -> None:
    names = {p.stem for p in SCENARIOS}
    for strategy in ("baseline", "equal", "needs_weighted", "optimal", "closed_loop", "hindcast"):
        assert f"jiangxi_{strategy}" in names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_runs(path: Path) -> None:
    loaded = policysim.load_scenario(path)
    if loaded.scenario.allocation.strategy in ("optimal", "closed_loop"):
        # the verification in the model, cut to a few runs (the full one is benchmarked)
        loaded = policysim.load_scenario(
            path,
            ("allocation.verification.replications=2", "allocation.verification.max_iterations=1"),
        )
    sc = loaded.scenario
    result = policysim.simulate(loaded, seed=0)
    prov = result.province()
    assert list(prov.index) == list(range(sc.horizon.base_year, sc.horizon.end_year + 1))
    # the allocation spends the budget of every year (strategies differ only in where it goes)
    for year in sc.horizon.years:
        assert prov.loc[year, "funds_100m_cny"] == pytest.approx(sc.budget.at(year), rel=1e-6)
    assert np.isfinite(result.metrics["value"]).all()
    table = attainment(result.metrics.assign(replication=0), sc.targets)
    assert len(table) == len(sc.targets)
    if sc.allocation.strategy in ("optimal", "closed_loop"):
        assert result.solves
        assert all(
            s["status"] in ("optimal", "feasible_with_gap", "time_limit") for s in result.solves
        )
