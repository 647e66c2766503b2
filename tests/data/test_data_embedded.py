"""The embedded Jiangxi 2017 baseline: real units intact, synthetic totals exact, rules held."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.data import (
    FUNCTIONAL_CLASSES,
    SECTORS,
    SYNTHESIS_VERSION,
    Baseline,
    hnte_threshold,
    load_baseline,
    province_summary,
)
from policysim.data.loader import _cached
from policysim.data.schema import (
    COUNTY_SYNTHETIC_COLUMNS,
    ENTERPRISE_COLUMNS,
    TOWNSHIP_SYNTHETIC_COLUMNS,
)
from policysim.errors import ScenarioError

SHARED = Path("/work/shared/data")
PACKAGE_DATA = Path(__file__).resolve().parents[2] / "src" / "policysim" / "data"
SEEDS = (0, 1, 2017, 99)


def test_units_counts(jiangxi: Baseline) -> None:
    assert jiangxi.name == "jiangxi-2017 (embedded)"
    assert jiangxi.base_year == 2017
    assert len(jiangxi.counties) == 100
    assert len(jiangxi.townships) == 1783
    assert int(jiangxi.counties["poverty_county"].sum()) == 25
    kinds = jiangxi.townships["kind"].value_counts().to_dict()
    assert kinds == {"town": 826, "township": 579, "other": 226, "subdistrict": 152}
    assert jiangxi.counties["type"].value_counts().to_dict() == {
        "county": 64,
        "district": 25,
        "city": 11,
    }
    assert isinstance(jiangxi.counties.index, pd.RangeIndex)
    assert isinstance(jiangxi.townships.index, pd.RangeIndex)
    assert isinstance(jiangxi.enterprises.index, pd.RangeIndex)


def test_chinese_names_intact(jiangxi: Baseline) -> None:
    by_code = dict(zip(jiangxi.counties["code"], jiangxi.counties["name"], strict=True))
    assert by_code["360102"] == "东湖区"
    with (PACKAGE_DATA / "jiangxi" / "townships.csv").open(encoding="utf-8") as fh:
        raw = {row["code"]: row["name"] for row in csv.DictReader(fh)}
    names = dict(zip(jiangxi.townships["code"], jiangxi.townships["name"], strict=True))
    assert names == raw
    assert names["360102001"] == "公园街道办事处"


def test_every_township_county_exists(jiangxi: Baseline) -> None:
    t = jiangxi.townships
    idx = t["county_idx"].to_numpy()
    assert idx.min() >= 0
    assert idx.max() < len(jiangxi.counties)
    assert (jiangxi.counties["code"].to_numpy()[idx] == t["county_code"].to_numpy()).all()
    # ordered by county so that county blocks are contiguous
    assert (np.diff(idx) >= 0).all()


def test_embedded_files_are_copies_of_shared_data(jiangxi: Baseline) -> None:
    for name in ("jiangxi/counties.csv", "jiangxi/townships.csv", "jiangxi/province_history.csv"):
        packaged = (PACKAGE_DATA / name).read_bytes()
        assert hashlib.sha256(packaged).hexdigest() == jiangxi.checksums[name]
        if SHARED.exists():
            assert packaged == (SHARED / name).read_bytes()


def test_boundaries_cover_every_county(jiangxi: Baseline) -> None:
    assert jiangxi.boundaries is not None
    geo = json.loads(jiangxi.boundaries.read_text(encoding="utf-8"))
    codes = {f["properties"]["code"] for f in geo["features"]}
    assert codes == set(jiangxi.counties["code"])


def test_population_imputation_flagged(jiangxi: Baseline) -> None:
    c = jiangxi.counties
    imputed = set(c.loc[c["population_imputed"], "code"])
    assert imputed == {"360112", "360482"}  # 新建区, 共青城市: blank 2010 census
    assert (c["population"] > 0).all()
    # 东湖区: 2010 census value kept as in the file
    assert int(c.loc[c["code"] == "360102", "population"].iloc[0]) == 575489


@pytest.mark.parametrize("seed", SEEDS)
def test_totals_match_history(seed: int) -> None:
    b = load_baseline(synthesis_seed=seed)
    c = b.counties
    assert c["gdp_cny"].sum() / 1e8 == pytest.approx(20818.5, rel=1e-3)
    assert c["rd_cny"].sum() / 1e8 == pytest.approx(255.8, rel=1e-3)
    assert c["rd_enterprise_cny"].sum() / c["rd_cny"].sum() == pytest.approx(0.84, rel=1e-3)
    e = b.enterprises
    assert 1500 <= int(e["hnte"].sum()) <= 2600
    assert 20_000 <= len(e) <= 40_000


@pytest.mark.parametrize("seed", SEEDS)
def test_county_columns_are_sums_over_firms(seed: int) -> None:
    b = load_baseline(synthesis_seed=seed)
    e = b.enterprises
    n = len(b.counties)
    idx = e["county_idx"].to_numpy()
    np.testing.assert_allclose(
        np.bincount(idx, weights=e["rd_cny"].to_numpy(), minlength=n),
        b.counties["rd_enterprise_cny"].to_numpy(),
        rtol=1e-9,
    )
    assert (np.bincount(idx, minlength=n) == b.counties["n_enterprises"].to_numpy()).all()
    hnte = np.bincount(idx, weights=e["hnte"].to_numpy(), minlength=n).astype(int)
    assert (hnte == b.counties["hnte_count"].to_numpy()).all()
    assert (b.counties["rd_cny"] >= b.counties["rd_enterprise_cny"]).all()
    tidx = e["township_idx"].to_numpy()
    assert (b.townships["county_idx"].to_numpy()[tidx] == idx).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_structural_ordering(seed: int) -> None:
    c = load_baseline(synthesis_seed=seed).counties
    pc = c["gdp_cny"] / c["population"]
    assert pc[c["poverty_county"]].mean() < pc[~c["poverty_county"]].mean()
    assert pc[c["type"] == "district"].mean() > pc[c["type"] == "county"].mean()
    # R&D concentrated: elasticity of R&D per head on GDP per head above 1
    slope = np.polyfit(np.log(pc), np.log(c["rd_cny"] / c["population"]), 1)[0]
    assert slope > 1.0
    share = c["fiscal_st_spending_cny"] / c["fiscal_expenditure_cny"]
    assert share.between(0.01, 0.03).all()
    for col in ("research_capacity", "management_capacity"):
        assert c[col].between(0.0, 1.0).all()
    # capacities increase in R&D and fiscal S&T spending per head (rank correlation)
    rd_pc = c["rd_cny"] / c["population"]
    assert rd_pc.corr(c["research_capacity"], method="spearman") > 0.5
    st_pc = c["fiscal_st_spending_cny"] / c["population"]
    assert st_pc.corr(c["management_capacity"], method="spearman") > 0.5


def test_functional_classes(jiangxi: Baseline) -> None:
    c = jiangxi.counties
    assert c["functional_class"].value_counts().to_dict() == {
        FUNCTIONAL_CLASSES[0]: 35,
        FUNCTIONAL_CLASSES[1]: 33,
        FUNCTIONAL_CLASSES[2]: 32,
    }
    confirmed = c[~c["functional_class_synthetic"]]
    assert dict(zip(confirmed["code"], confirmed["functional_class"], strict=True)) == {
        "360104": "重点开发区",
        "360323": "重点生态区",
        "360502": "重点开发区",
        "360702": "重点开发区",
        "360722": "农业主产区",
        "360828": "重点生态区",
        "361024": "农业主产区",
    }
    assert (c.loc[c["type"] == "district", "functional_class"] == "重点开发区").all()
    rest = c[c["functional_class_synthetic"] & c["poverty_county"] & (c["type"] != "district")]
    assert (rest["functional_class"] == "重点生态区").all()


def test_townships_xiangzhen_flag() -> None:
    without = load_baseline().townships
    with_sub = load_baseline(include_subdistricts=True).townships
    assert int(without["counts_as_xiangzhen"].sum()) == 826 + 579
    assert int(with_sub["counts_as_xiangzhen"].sum()) == 826 + 579 + 152
    assert not without.loc[without["kind"] == "other", "counts_as_xiangzhen"].any()
    assert len(with_sub) == len(without) == 1783
    for col in ("platforms", "commissioners"):
        assert (without[col] >= 0).all()
    assert without["agri_tech_adoption"].between(0.0, 1.0).all()


def test_firm_placement_respects_subdistrict_flag(jiangxi: Baseline) -> None:
    t = jiangxi.townships
    kinds = t["kind"].to_numpy()[jiangxi.enterprises["township_idx"].to_numpy()]
    assert (kinds != "other").all()
    hosts = t.iloc[jiangxi.enterprises["township_idx"].to_numpy()]
    in_sub = hosts[hosts["kind"] == "subdistrict"]
    # only 浔阳区 (no towns or townships at all) falls back to its subdistricts
    assert set(in_sub["county_code"]) <= {"360403"}
    with_sub = load_baseline(include_subdistricts=True)
    kinds_sub = with_sub.townships["kind"].to_numpy()[with_sub.enterprises["township_idx"]]
    assert (kinds_sub == "subdistrict").sum() > 500
    towns = (kinds == "town").sum() / 826
    townships = (kinds == "township").sum() / 579
    assert towns > 1.5 * townships  # towns weigh more than 乡


def test_enterprise_rules(jiangxi: Baseline) -> None:
    e = jiangxi.enterprises
    assert tuple(e.columns) == ENTERPRISE_COLUMNS
    assert (e["firm_id"].to_numpy() == np.arange(len(e))).all()
    assert ((e["sales_cny"] >= 2e7) == e["above_scale"]).all()
    assert e["sector"].between(0, len(SECTORS) - 1).all()
    assert not e.loc[e["sector"] == SECTORS.index("other"), "manufacturing"].any()
    h = e[e["hnte"]]
    threshold = hnte_threshold(h["sales_cny"].to_numpy())
    assert (h["rd_intensity_3y"].to_numpy() >= threshold).all()
    assert h["other_criteria_ok"].all()
    assert (h["rd_cny"] > 0).all()
    assert h["hnte_cert_year"].between(2015, 2017).all()
    assert (h["hnte_cert_year"] >= 2018 - h["age_years"]).all()
    assert set(h["hnte_cert_year"]) == {2015, 2016, 2017}
    assert (e.loc[~e["hnte"], "hnte_cert_year"] == -1).all()
    assert (e["age_years"] >= 1).all()
    assert (e["employees"] >= 1).all()
    above = e[e["above_scale"]]
    performing = (above["rd_cny"] > 0).mean()
    assert 0.15 < performing < 0.30  # ~19.2% of above-scale firms do R&D (PARAMETERS)
    assert (e.loc[e["above_scale"], "rd_cny"] > 0).mean() > (
        e.loc[~e["above_scale"], "rd_cny"] > 0
    ).mean() * 0.5
    small_share = (e.loc[~e["above_scale"], "rd_cny"] > 0).mean()
    assert small_share < performing
    assert (e.loc[e["tech_sme"], "sales_cny"] <= 2e8).all()


def test_size_distribution_tail_exponent(jiangxi: Baseline) -> None:
    sales = jiangxi.enterprises["sales_cny"].to_numpy()
    x_min = np.quantile(sales, 0.5)
    tail = sales[(sales >= x_min) & (sales < 1e10)]
    # Hill-type MLE of the density exponent on the (lightly truncated) tail
    alpha = 1.0 + tail.size / np.log(tail / x_min).sum()
    assert alpha == pytest.approx(2.1, abs=0.1)


def test_same_seed_identical_other_seed_different() -> None:
    first = load_baseline(synthesis_seed=7)
    _cached.cache_clear()
    second = load_baseline(synthesis_seed=7)
    assert first is not second
    for name in ("counties", "townships", "enterprises"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    other = load_baseline(synthesis_seed=8)
    assert not np.allclose(first.counties["gdp_cny"], other.counties["gdp_cny"])
    assert not first.enterprises["rd_cny"].equals(other.enterprises["rd_cny"])
    # real columns do not depend on the seed
    pd.testing.assert_series_equal(first.counties["name"], other.counties["name"])


def test_second_call_is_fast() -> None:
    load_baseline(synthesis_seed=11)
    start = time.perf_counter()
    for _ in range(100):
        again = load_baseline(synthesis_seed=11)
    per_call = (time.perf_counter() - start) / 100
    assert again is load_baseline(synthesis_seed=11)
    assert per_call < 1e-4


def test_synthetic_columns_exact(jiangxi: Baseline) -> None:
    synth = jiangxi.synthetic_columns
    assert set(synth) == {"counties", "townships", "enterprises"}
    assert synth["counties"] == COUNTY_SYNTHETIC_COLUMNS
    assert synth["townships"] == TOWNSHIP_SYNTHETIC_COLUMNS
    assert synth["enterprises"] == tuple(jiangxi.enterprises.columns)
    real_county = {
        "code", "name", "prefecture_code", "prefecture", "type", "towns", "townships",
        "subdistricts", "other_units", "poverty_county", "poverty_exit_year", "population",
        "population_imputed", "functional_class", "functional_class_synthetic",
    }  # fmt: skip
    assert set(jiangxi.counties.columns) - set(synth["counties"]) == real_county
    real_township = {"code", "name", "county_code", "kind", "county_idx", "counts_as_xiangzhen"}
    assert set(jiangxi.townships.columns) - set(synth["townships"]) == real_township
    with pytest.raises(TypeError):
        synth["counties"] = ()  # type: ignore[index]


def test_enterprise_scale_keeps_money_totals() -> None:
    full = load_baseline()
    half = load_baseline(enterprise_scale=0.5)
    assert len(half.enterprises) == pytest.approx(len(full.enterprises) / 2, abs=1)
    assert (half.enterprises["weight"] == 2.0).all()
    weighted = (half.enterprises["rd_cny"] * half.enterprises["weight"]).sum()
    assert weighted == pytest.approx(full.enterprises["rd_cny"].sum(), rel=1e-9)
    idx = half.enterprises["county_idx"].to_numpy()
    np.testing.assert_allclose(
        2.0 * np.bincount(idx, weights=half.enterprises["rd_cny"].to_numpy(), minlength=100),
        half.counties["rd_enterprise_cny"].to_numpy(),
        rtol=1e-9,
    )
    # rows are single firms: size rules hold on each row, sizes as at full scale
    assert ((half.enterprises["sales_cny"] >= 2e7) == half.enterprises["above_scale"]).all()
    assert half.enterprises["above_scale"].mean() == pytest.approx(11_500 / 30_000, abs=0.01)
    assert half.counties["rd_cny"].sum() == pytest.approx(full.counties["rd_cny"].sum())
    assert int(half.counties["hnte_count"].sum()) == pytest.approx(2000, abs=50)
    assert int(half.enterprises["hnte"].sum()) == 1000
    summary = province_summary(half).set_index("quantity")
    assert summary.loc["enterprises", "baseline_value"] == pytest.approx(30_000, abs=2)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_enterprise_scale_rejected(bad: float) -> None:
    with pytest.raises(ScenarioError, match="enterprise_scale"):
        load_baseline(enterprise_scale=bad)


def test_province_summary(jiangxi: Baseline) -> None:
    s = province_summary(jiangxi).set_index("quantity")
    assert list(s.columns) == [
        "unit",
        "baseline_value",
        "history_value",
        "status",
        "diff_pct",
    ]
    assert s.loc["GDP", "unit"] == "亿元"
    assert s.loc["GDP", "baseline_value"] == pytest.approx(20818.5, rel=1e-6)
    assert s.loc["GDP", "history_value"] == 20818.5
    assert s.loc["R&D expenditure", "status"] == "recalled"
    # 255.8 / 20818.5 = 1.2287%: the 1.28% of the history file used a revised GDP
    assert s.loc["R&D intensity", "baseline_value"] == pytest.approx(1.2287, abs=1e-4)
    assert s.loc["R&D intensity", "history_value"] == 1.28
    assert s.loc["R&D intensity", "diff_pct"] == pytest.approx(-4.007, abs=0.01)
    assert s.loc["enterprise share of R&D", "baseline_value"] == pytest.approx(84.0)
    assert s.loc["county-level units", "baseline_value"] == 100
    assert s.loc["county-level units", "status"] == "verified"
    assert s.loc["poverty counties", "diff_pct"] == 0.0
    assert s.loc["towns (镇)", "history_value"] == 826
    assert s.loc["乡镇 counted by the scenario", "baseline_value"] == 1405
    assert s.loc["HNTEs", "baseline_value"] == jiangxi.enterprises["hnte"].sum()
    assert s["history_value"].isna()["HNTEs"]  # the file has no 2017 stock
    assert s.loc["synthesis seed", "baseline_value"] == 2017
    assert s.loc["synthesis version", "baseline_value"] == SYNTHESIS_VERSION


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_totals_hold_for_any_seed(seed: int) -> None:
    b = load_baseline(synthesis_seed=seed)
    c = b.counties
    assert c["gdp_cny"].sum() == pytest.approx(20818.5e8, rel=1e-9)
    assert c["rd_cny"].sum() == pytest.approx(255.8e8, rel=1e-9)
    assert b.enterprises["rd_cny"].sum() == pytest.approx(0.84 * 255.8e8, rel=1e-9)
    assert int(b.enterprises["hnte"].sum()) == 2000
    assert (c["rd_cny"] >= c["rd_enterprise_cny"]).all()
    assert (c[list(COUNTY_SYNTHETIC_COLUMNS)] >= 0).all().all()
