"""Realistic small inputs for the figure tests, built here (no model run needed)."""

from __future__ import annotations

import dataclasses
import io
import logging
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

BOUNDARIES = Path(
    str(resources.files("policysim.data") / "jiangxi" / "counties_boundaries.geojson")
)
METRICS = ("provincial_innovative_counties", "innovative_township_share_pct", "rd_intensity_pct")


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    metric: str
    comparator: str
    threshold: float | None
    year: int
    level: str = "province"


def random_walk_metrics(
    rng: np.random.Generator, n_rep: int = 20, years: range = range(2017, 2031)
) -> pd.DataFrame:
    """Long metrics: province-level random walks plus three counties, ``n_rep`` replications."""
    rows = []
    units = [("province", "36", "江西省"), ("county", "360102", "东湖区")]
    units += [("county", "360121", "南昌县"), ("county", "360925", "靖安县")]
    for rep in range(n_rep):
        for level, code, name in units:
            for metric, start, drift in zip(
                METRICS, (8.0, 2.0, 1.28), (4.0, 2.0, 0.05), strict=True
            ):
                value = start
                for year in years:
                    value += drift + rng.normal(0.0, drift / 2)
                    rows.append((rep, year, level, code, name, metric, value))
    return pd.DataFrame(
        rows, columns=["replication", "year", "level", "code", "name", "metric", "value"]
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20180104)


@pytest.fixture
def metrics(rng: np.random.Generator) -> pd.DataFrame:
    return random_walk_metrics(rng)


@pytest.fixture
def targets() -> list[Target]:
    return [
        Target("provincial counties 2020", "provincial_innovative_counties", ">=", 20.0, 2020),
        Target("provincial counties 2030", "provincial_innovative_counties", ">=", 60.0, 2030),
        Target("township share 2030", "innovative_township_share_pct", ">=", 30.0, 2030),
        Target("R&D rising", "rd_intensity_pct", "rising", None, 2030),
    ]


@pytest.fixture
def attainment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": ["provincial counties", "township share", "national counties"],
            "metric": [
                "provincial_innovative_counties",
                "innovative_township_share_pct",
                "national_innovative_counties",
            ],
            "year": [2020, 2030, 2030],
            "comparator": [">=", ">=", ">="],
            "threshold": [20.0, 30.0, 5.0],
            "probability": [0.85, 0.55, 0.10],
            "ci_low": [0.64, 0.34, 0.03],
            "ci_high": [0.95, 0.74, 0.30],
            "median": [24.0, 31.0, 2.0],
            "p05": [18.0, 22.0, 0.0],
            "p95": [29.0, 40.0, 6.0],
            "status": ["met", "at risk", "missed"],
        }
    )


@pytest.fixture
def comparison() -> pd.DataFrame:
    rows = []
    for scenario, gain in (("baseline", 0.0), ("factor formula", 0.05), ("optimised", 0.15)):
        for target, year, base in (("provincial counties", 2020, 0.60), ("townships", 2030, 0.40)):
            diff = np.nan if scenario == "baseline" else gain
            rows.append((scenario, target, year, base + gain, diff, diff - 0.04, diff + 0.04))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "target",
            "year",
            "probability",
            "diff_vs_baseline",
            "diff_ci_low",
            "diff_ci_high",
        ],
    )


@pytest.fixture
def frontier() -> pd.DataFrame:
    rows = []
    for target, rate in (("counties 2030", 0.12), ("townships 2030", 0.06)):
        for budget in (5.0, 10.0, 15.0, 20.0, 25.0):
            p = 1.0 - np.exp(-rate * budget)
            rows.append((budget, target, p, max(p - 0.08, 0.0), min(p + 0.08, 1.0)))
    return pd.DataFrame(
        rows, columns=["budget_100m_cny", "target", "probability", "ci_low", "ci_high"]
    )


@pytest.fixture
def render(caplog: pytest.LogCaptureFixture) -> Callable[[Figure], bytes]:
    """Draw a figure to PNG bytes, failing on any warning or warning-level log record."""

    def _render(fig: Figure) -> bytes:
        buffer = io.BytesIO()
        with caplog.at_level(logging.WARNING), warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.savefig(buffer, format="png", dpi=60)
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert not problems, [r.getMessage() for r in problems]
        data = buffer.getvalue()
        assert data.startswith(b"\x89PNG")
        return data

    return _render
