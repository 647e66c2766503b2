"""Fixtures for the data tests: the embedded baseline and a tiny hand-made user directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policysim.data import Baseline, load_baseline

COUNTIES_HEADER = (
    "code,name,prefecture_code,prefecture,type,towns,townships,subdistricts,other_units,"
    "poverty_county,poverty_exit_year,poverty_status_source,population_2010_census,"
    "population_2020_census,functional_class"
)
COUNTIES_ROWS = (
    "990101,甲区,990100,甲市,district,1,0,2,0,0,,,300000,310000,",
    "990121,乙县,990100,甲市,county,2,1,0,1,1,2019,verified,500000,480000,农业主产区",
)
TOWNSHIPS_ROWS = (
    "990101001,甲一街道,990101,subdistrict",
    "990101002,甲二街道,990101,subdistrict",
    "990101100,甲镇,990101,town",
    "990121100,乙一镇,990121,town",
    "990121101,乙二镇,990121,town",
    "990121200,乙乡,990121,township",
    "990121400,乙农场,990121,other",
)
ECONOMY = (
    "code,gdp_cny,rd_enterprise_cny,n_enterprises,hnte_count\n"
    "990101,3.0e10,2.0e8,120,12\n"
    "990121,1.5e10,5.0e7,80,3\n"
)


def write_dir(
    root: Path,
    *,
    counties: str | None = None,
    townships: str | None = None,
    economy: str | None = None,
    history: str | None = None,
) -> Path:
    """Write a user baseline directory; ``None`` means the valid default (economy: absent)."""
    root.mkdir(parents=True, exist_ok=True)
    if counties is None:
        counties = "\n".join((COUNTIES_HEADER, *COUNTIES_ROWS)) + "\n"
    if townships is None:
        townships = "\n".join(("code,name,county_code,kind", *TOWNSHIPS_ROWS)) + "\n"
    (root / "counties.csv").write_text(counties, encoding="utf-8")
    (root / "townships.csv").write_text(townships, encoding="utf-8")
    if economy is not None:
        (root / "county_economy.csv").write_text(economy, encoding="utf-8")
    if history is not None:
        (root / "province_history.csv").write_text(history, encoding="utf-8")
    return root


def default_files() -> dict[str, str]:
    """Contents of the valid tiny baseline (counties, townships, economy)."""
    return {
        "counties": "\n".join((COUNTIES_HEADER, *COUNTIES_ROWS)) + "\n",
        "townships": "\n".join(("code,name,county_code,kind", *TOWNSHIPS_ROWS)) + "\n",
        "economy": ECONOMY,
    }


@pytest.fixture
def valid_files() -> dict[str, str]:
    """Contents of the valid tiny baseline, to be edited by a test."""
    return default_files()


@pytest.fixture
def user_dir(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a user baseline directory under ``tmp_path``."""

    def make(**files: str | None) -> Path:
        return write_dir(tmp_path / "baseline", **files)

    return make


@pytest.fixture(scope="session")
def jiangxi() -> Baseline:
    """The embedded baseline with default arguments."""
    return load_baseline()
