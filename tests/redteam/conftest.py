"""Fixtures of the red-team tests: a tiny user baseline (fast runs) and a private cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from redteam_helpers import write_baseline


@pytest.fixture
def baseline_dir(tmp_path: Path) -> Path:
    return write_baseline(tmp_path / "baseline")


@pytest.fixture
def tiny(baseline_dir: Path) -> tuple[str, ...]:
    """Overrides running the shipped scenario on the two-county baseline, 2017-2020."""
    return (f"baseline.source={baseline_dir}", "targets=[]", "horizon.end_year=2020")


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test uses its own cache folder."""
    monkeypatch.setenv("POLICYSIM_CACHE", str(tmp_path_factory.mktemp("cache")))
