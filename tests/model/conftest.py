from __future__ import annotations

from pathlib import Path

import pytest

from policysim.scenario import LoadedScenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "jiangxi_baseline.yaml"


@pytest.fixture(scope="session")
def baseline_scenario() -> LoadedScenario:
    return load_scenario(BASELINE)
