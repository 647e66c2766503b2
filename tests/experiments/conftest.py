"""Shared fixtures of the experiments tests: the shipped scenario with a small ensemble."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.scenario import LoadedScenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
#: Small draw batches so that a few runs span several batches.
SMALL = ("ensemble.batch_size=3", "ensemble.max_replications=9")


@pytest.fixture(scope="session")
def scenario_path() -> Path:
    return SCENARIO


@pytest.fixture(scope="session")
def small() -> LoadedScenario:
    return load_scenario(SCENARIO, SMALL)
