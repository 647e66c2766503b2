"""Fixtures shared by every test package: repository paths, the tiny scenario, and a response
and plan cache folder private to this test session (never the user's or another session's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import policysim

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TINY = SCENARIOS / "tiny.yaml"
BASELINE = SCENARIOS / "jiangxi_baseline.yaml"


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder for this test session (``POLICYSIM_CACHE``, read by the coupling cache and
    inherited by worker processes), so tests never share cached response curves or plans with
    another checkout or an earlier run of different code."""
    path = tmp_path_factory.mktemp("policysim-cache")
    old = os.environ.get("POLICYSIM_CACHE")
    os.environ["POLICYSIM_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("POLICYSIM_CACHE", None)
    else:
        os.environ["POLICYSIM_CACHE"] = old


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    """The shipped ``scenarios/`` folder."""
    return SCENARIOS


@pytest.fixture(scope="session")
def tiny() -> policysim.LoadedScenario:
    """The tiny scenario (10 county-level units, about 2,800 firms; runs in a few ms)."""
    return policysim.load_scenario(TINY)
