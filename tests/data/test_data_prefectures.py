"""Prefecture GDP totals of the synthesis, the check against the real county figures found, and
the synthetic-data caveat."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.data import (
    SYNTHETIC_CAVEAT,
    county_caveat,
    county_economy_synthetic,
    load_baseline,
)
from policysim.data.prefectures import (
    FOUND_COUNTIES_FILE,
    PREFECTURE_FILE,
    jiangxi_found_check,
    prefecture_gdp,
)
from policysim.data.readers import RawTable, embedded_file, read_table
from policysim.data.synthesis import SynthesisTargets, _scale_to_prefectures
from policysim.errors import DataError

SHARED = Path("/work/shared/data")
PACKAGE_DATA = Path(__file__).resolve().parents[2] / "src" / "policysim" / "data"
#: 2017 GDP of the revised series (亿元), verified rows (prefecture_indicators.csv)
VERIFIED = {
    "360100": 4547.63,
    "360700": 2805.93,
    "360400": 2545.34,
    "360900": 2224.64,
    "361100": 2023.64,
    "360800": 1633.47,
    "361000": 1235.94,
}
#: the derived rows (province revised total minus the 7, split by 2019 shares)
DERIVED = {"360500": 818.1, "360600": 799.9, "360200": 787.0, "360300": 789.1}
PROVINCE_GDP_2017 = 20818.5  # first published, province_history.csv


def _table() -> RawTable:
    return read_table(embedded_file(PREFECTURE_FILE), PREFECTURE_FILE)


def test_files_shipped_as_copies_of_shared_data() -> None:
    b = load_baseline()
    for name in (PREFECTURE_FILE, FOUND_COUNTIES_FILE):
        packaged = (PACKAGE_DATA / name).read_bytes()
        if SHARED.exists():
            assert packaged == (SHARED / name).read_bytes()
    assert PREFECTURE_FILE in b.checksums


def test_verified_rows_first_derived_only_where_none() -> None:
    counties = load_baseline().counties
    chosen = prefecture_gdp(_table(), counties, 2017).table.set_index("prefecture_code")
    assert len(chosen) == 11
    for code, value in VERIFIED.items():
        assert chosen.loc[code, "indicator"] == "gdp_revised"
        assert chosen.loc[code, "value_100m_cny"] == value
    for code, value in DERIVED.items():
        assert chosen.loc[code, "indicator"] == "gdp_revised_derived"
        assert chosen.loc[code, "value_100m_cny"] == value
    assert chosen["share"].sum() == pytest.approx(1.0, abs=1e-12)


def test_a_verified_row_replaces_the_derived_one() -> None:
    t = _table()
    extra = t.frame.iloc[[0]].copy()
    extra[["code", "prefecture", "indicator", "value", "year"]] = [
        "360500",
        "新余市",
        "gdp_revised",
        "900",
        "2017",
    ]
    changed = RawTable(t.name, pd.concat([t.frame, extra], ignore_index=True), t.sha256)
    with pytest.raises(DataError, match="prefecture GDP rows sum to"):
        prefecture_gdp(changed, load_baseline().counties, 2017)  # 900 breaks the province sum
    fixed = changed.frame.copy()
    fixed.loc[fixed.index[-1], "value"] = "818.1"
    chosen = prefecture_gdp(RawTable(t.name, fixed, t.sha256), load_baseline().counties, 2017)
    row = chosen.table.set_index("prefecture_code").loc["360500"]
    assert row["indicator"] == "gdp_revised"


def test_missing_prefecture_is_an_error() -> None:
    t = _table()
    kept = t.frame[t.frame["code"] != "360300"].reset_index(drop=True)
    with pytest.raises(
        DataError, match=r"no gdp_revised or gdp_revised_derived row .*360300 萍乡市"
    ):
        prefecture_gdp(RawTable(t.name, kept, t.sha256), load_baseline().counties, 2017)


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_prefecture_sums_match_for_any_seed(seed: int) -> None:
    c = load_baseline(synthesis_seed=seed).counties
    sums = c.groupby("prefecture_code")["gdp_cny"].sum() / 1e8
    values = {**VERIFIED, **DERIVED}
    total = sum(values.values())
    for code, value in values.items():
        # the revised share of each prefecture, at the province's first-published level
        assert sums[code] == pytest.approx(value / total * PROVINCE_GDP_2017, rel=1e-9)
    assert sums.sum() == pytest.approx(PROVINCE_GDP_2017, rel=1e-12)


def test_seeds_move_counties_not_prefectures() -> None:
    a, b = (load_baseline(synthesis_seed=s).counties for s in (3, 4))
    assert not np.allclose(a["gdp_cny"], b["gdp_cny"], rtol=0.01)
    pa_, pb = (x.groupby("prefecture_code")["gdp_cny"].sum() for x in (a, b))
    np.testing.assert_allclose(pa_.to_numpy(), pb.to_numpy(), rtol=1e-12)


def test_unlisted_prefectures_share_the_rest() -> None:
    counties = pd.DataFrame({"prefecture_code": ["A", "A", "B", "C", "C"]})
    raw = np.array([1.0, 3.0, 2.0, 1.0, 1.0])
    t = SynthesisTargets(100.0, 1.0, 0.84, 10, 1, prefecture_gdp_cny=(("A", 60.0),))
    gdp = _scale_to_prefectures(raw, counties, t)
    np.testing.assert_allclose(gdp, [15.0, 45.0, 20.0, 10.0, 10.0])
    too_much = dataclasses.replace(t, prefecture_gdp_cny=(("A", 120.0),))
    with pytest.raises(DataError, match="prefecture targets sum to"):
        _scale_to_prefectures(raw, counties, too_much)


def test_found_counties_within_stated_tolerance() -> None:
    """The 15 real county GDP figures (mixed years and quality, brought to 2017 with the province's
    revised growth) are a check, not a target. Stated tolerance, over seeds 0-9: the median ratio
    synthetic/real within [0.8, 1.5] (measured 0.95-1.34 over 40 seeds) and every ratio within a
    factor 5 (measured worst: 3.9)."""
    for seed in range(10):
        check = jiangxi_found_check(load_baseline(synthesis_seed=seed).counties, 2017)
        assert len(check) == 15
        assert 0.8 <= float(np.median(check["ratio"])) <= 1.5
        assert (check["ratio"].between(1 / 5, 5)).all()


def test_caveat_for_synthetic_economy_only(
    user_dir: Callable[..., Path], valid_files: dict[str, str]
) -> None:
    b = load_baseline()
    assert county_economy_synthetic(b)
    assert county_caveat(b) == SYNTHETIC_CAVEAT
    assert "synthetic" in SYNTHETIC_CAVEAT and "合成数据" in SYNTHETIC_CAVEAT
    assert "\n" not in SYNTHETIC_CAVEAT
    partial = load_baseline(user_dir(economy=valid_files["economy"]))
    assert county_caveat(partial) == SYNTHETIC_CAVEAT  # rd_cny, capacities... still synthesised
    full = (
        "code,gdp_cny,fiscal_expenditure_cny,fiscal_st_spending_cny,rd_cny,rd_enterprise_cny,"
        "n_enterprises,hnte_count,research_capacity,management_capacity\n"
        "990101,3.0e10,3.0e9,6.0e7,2.5e8,2.0e8,120,12,0.6,0.5\n"
        "990121,1.5e10,3.0e9,3.0e7,6.0e7,5.0e7,80,3,0.3,0.4\n"
    )
    real = load_baseline(user_dir(economy=full))
    assert not county_economy_synthetic(real)
    assert county_caveat(real) is None
