"""Helpers of the red-team tests: the shipped scenario and a tiny two-county user baseline."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"

COUNTIES = (
    "code,name,prefecture_code,prefecture,type,towns,townships,subdistricts,other_units,"
    "poverty_county,poverty_exit_year,poverty_status_source,population_2010_census,"
    "population_2020_census,functional_class\n"
    "990101,甲区,990100,甲市,district,1,0,2,0,0,,,300000,310000,\n"
    "990121,乙县,990100,甲市,county,2,1,0,1,1,2019,verified,500000,480000,农业主产区\n"
)
TOWNSHIPS = (
    "code,name,county_code,kind\n"
    "990101001,甲一街道,990101,subdistrict\n"
    "990101002,甲二街道,990101,subdistrict\n"
    "990101100,甲镇,990101,town\n"
    "990121100,乙一镇,990121,town\n"
    "990121101,乙二镇,990121,town\n"
    "990121200,乙乡,990121,township\n"
    "990121400,乙农场,990121,other\n"
)
ECONOMY = (
    "code,gdp_cny,rd_enterprise_cny,n_enterprises,hnte_count\n"
    "990101,3.0e10,2.0e8,120,12\n"
    "990121,1.5e10,5.0e7,80,3\n"
)


def write_baseline(root: Path, economy: str = ECONOMY) -> Path:
    """A two-county user baseline folder (the data tests' tiny baseline)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "counties.csv").write_text(COUNTIES, encoding="utf-8")
    (root / "townships.csv").write_text(TOWNSHIPS, encoding="utf-8")
    (root / "county_economy.csv").write_text(economy, encoding="utf-8")
    return root
