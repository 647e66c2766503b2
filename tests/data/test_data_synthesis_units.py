"""Unit tests of the synthesiser's building blocks and of the national synthetic province."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.data import hnte_threshold, load_baseline
from policysim.data.loader import _generate_townships
from policysim.data.synthesis import _select_per_group, assign_functional_classes


def test_hnte_threshold_bands() -> None:
    sales = np.array([1e6, 5e7, 5.0000001e7, 2e8, 2.1e8, 1e11])
    np.testing.assert_array_equal(hnte_threshold(sales), [0.05, 0.05, 0.04, 0.04, 0.03, 0.03])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.floats(-1e6, 1e6)), min_size=0, max_size=40),
    st.lists(st.integers(0, 6), min_size=4, max_size=4),
)
def test_select_per_group_takes_top_quota(
    members: list[tuple[int, float]], quota: list[int]
) -> None:
    group = np.array([g for g, _ in members], dtype=np.int64)
    priority = np.array([p for _, p in members], dtype=np.float64)
    chosen = _select_per_group(group, priority, np.array(quota, dtype=np.int64))
    for g in range(4):
        in_g = group == g
        assert chosen[in_g].sum() == min(quota[g], in_g.sum())
        if chosen[in_g].any() and (~chosen & in_g).any():
            assert priority[chosen & in_g].min() >= priority[~chosen & in_g].max()


def test_functional_class_rule_known_answer() -> None:
    counties = pd.DataFrame(
        {
            "type": ["district", "city", "county", "county", "county", "county", "county",
                     "county", "county", "city"],
            "poverty_county": [False, False, False, True, False, False, False, False, False, True],
            "population": [5, 9, 8, 7, 6, 1, 2, 3, 4, 10],
            "functional_class": ["", "", "", "", "", "", "农业主产区", "", "", ""],
        }
    )  # fmt: skip
    classes, synthetic = assign_functional_classes(counties)
    # 10 units → 4 (35%: round 3.5 = 4) 开发, 3 (32%) 生态, rest 农业
    assert list(classes) == [
        "重点开发区",  # district
        "重点开发区",  # largest non-poverty city
        "重点开发区",  # then counties by population: 8
        "重点生态区",  # poverty
        "重点开发区",  # population 6
        "重点生态区",  # smallest remaining (1)
        "农业主产区",  # confirmed
        "农业主产区",  # rest (生态 already has its 3)
        "农业主产区",  # rest
        "重点生态区",  # poverty city
    ]
    assert synthetic.tolist() == [True] * 6 + [False] + [True] * 3


def test_generated_townships() -> None:
    counties = pd.DataFrame(
        {
            "code": ["110101", "130102"],
            "name": ["东城区", "长安区"],
            "towns": [0, 2],
            "townships": [0, 1],
            "subdistricts": [2, 0],
            "other_units": [1, 0],
        }
    )
    t = _generate_townships(counties)
    assert t["code"].tolist() == ["110101001", "110101002", "110101003", "130102001",
                                  "130102002", "130102003"]  # fmt: skip
    assert t["name"].tolist()[0] == "东城区-T001"
    assert t["kind"].tolist() == ["subdistrict", "subdistrict", "other", "town", "town", "township"]
    assert t["county_idx"].tolist() == [0, 0, 0, 1, 1, 1]


def test_china_synthetic_small_scale() -> None:
    b = load_baseline("china-synthetic", enterprise_scale=0.02)
    assert b.name == "china-synthetic"
    c, t, e = b.counties, b.townships, b.enterprises
    assert len(c) == 3009
    assert len(t) == int(c[["towns", "townships", "subdistricts", "other_units"]].sum().sum())
    town_idx = t.loc[t["kind"] == "town", "county_idx"].to_numpy()
    np.testing.assert_array_equal(np.bincount(town_idx, minlength=len(c)), c["towns"])
    assert len(e) == 20_000
    assert (e["weight"] == 50.0).all()
    assert t["code"].is_unique
    assert t["name"].iloc[0] == f"{c['name'].iloc[0]}-T001"
    assert {"code", "name", "kind"} <= set(b.synthetic_columns["townships"])
    jx = load_baseline()
    ratio = c["population"].sum() / jx.counties["population"].sum()
    assert c["gdp_cny"].sum() == pytest.approx(jx.counties["gdp_cny"].sum() * ratio, rel=1e-9)
    assert (e["rd_cny"] * e["weight"]).sum() == pytest.approx(0.84 * c["rd_cny"].sum(), rel=1e-9)
    assert (c["type"] == "district").sum() > 900
    # districts (1,103 > 35%) all go to 重点开发区; 重点生态区 still gets its 32%
    n_dist = int((c["type"] == "district").sum())
    assert c["functional_class"].value_counts().to_dict() == {
        "重点开发区": n_dist, "重点生态区": round(0.32 * 3009),
        "农业主产区": 3009 - n_dist - round(0.32 * 3009),
    }  # fmt: skip


def test_china_synthetic_million_firms_in_seconds() -> None:
    start = time.perf_counter()
    b = load_baseline("china-synthetic", synthesis_seed=5)
    elapsed = time.perf_counter() - start
    assert len(b.enterprises) == 1_000_000
    assert elapsed < 10.0
    e = b.enterprises
    idx = e["county_idx"].to_numpy()
    np.testing.assert_allclose(
        np.bincount(idx, weights=e["rd_cny"].to_numpy(), minlength=len(b.counties)),
        b.counties["rd_enterprise_cny"].to_numpy(),
        rtol=1e-9,
    )
    assert int(e["hnte"].sum()) == 66_667
