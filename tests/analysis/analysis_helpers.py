"""Shared builders for the analysis tests: tiny hand-made metrics tables and targets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import pytest


@dataclass(frozen=True)
class Target:
    """A target as the scenario layer gives it (satisfies ``TargetLike``)."""

    name: str
    metric: str
    comparator: str
    threshold: float | None
    year: int
    level: str = "province"


MetricsBuilder = Callable[..., pd.DataFrame]


def _province_metrics(
    series: Mapping[str, Sequence[Sequence[float]]], base_year: int = 2017
) -> pd.DataFrame:
    """Long-format province metrics from ``{metric: [[run0 year0, year1, ...], [run1 ...]]}``."""
    rows = []
    for metric, runs in series.items():
        for rep, values in enumerate(runs):
            for offset, value in enumerate(values):
                rows.append(
                    {
                        "replication": rep,
                        "year": base_year + offset,
                        "level": "province",
                        "code": "JX",
                        "name": "江西省",
                        "metric": metric,
                        "value": float(value),
                    }
                )
    return pd.DataFrame(rows)


def _unit_metrics(
    metric: str,
    level: str,
    values: Mapping[str, Sequence[Sequence[float]]],
    base_year: int = 2017,
) -> pd.DataFrame:
    """Long-format unit metrics from ``{code: [[run0 year0, ...], [run1 ...]]}``."""
    rows = []
    for code, runs in values.items():
        for rep, series in enumerate(runs):
            for offset, value in enumerate(series):
                rows.append(
                    {
                        "replication": rep,
                        "year": base_year + offset,
                        "level": level,
                        "code": code,
                        "name": f"县{code}",
                        "metric": metric,
                        "value": float(value),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def province_metrics() -> MetricsBuilder:
    return _province_metrics


@pytest.fixture
def unit_metrics() -> MetricsBuilder:
    return _unit_metrics
