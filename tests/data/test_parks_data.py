"""The science parks and programme facts shipped with the package (issue 13 item 8): every row
names codes that exist in the embedded division data, with a status and a source address."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from policysim.data import Baseline
from policysim.data.cells import RawTable
from policysim.data.parks import (
    PARK_KINDS,
    STATUSES,
    load_park_facts,
    load_parks,
    park_arrays,
    parse_parks,
)
from policysim.errors import DataError


def test_parks_load_with_codes_and_names_of_the_division_data(jiangxi: Baseline) -> None:
    parks = load_parks()
    assert len(parks) == 10
    assert set(parks["kind"]) == set(PARK_KINDS)
    assert set(parks["status"]) <= set(STATUSES)
    counties = jiangxi.counties.set_index("code")["name"]
    assert parks["county_code"].isin(counties.index).all()
    assert (parks["county"].to_numpy() == counties.loc[parks["county_code"]].to_numpy()).all()
    named = parks[parks["township_code"] != ""]
    towns = jiangxi.townships.set_index("code")
    assert named["township_code"].isin(towns.index).all()
    assert (named["township"].to_numpy() == towns.loc[named["township_code"], "name"]).all()
    assert (towns.loc[named["township_code"], "county_code"] == named["county_code"].values).all()
    assert parks["source"].str.contains("http|NBS division codes").all()


def test_documented_parks_in_poverty_counties(jiangxi: Baseline) -> None:
    """修水 (九江 agricultural park, 2018), 赣县区 (赣州 zone and agricultural park) and 吉安县
    (吉安 zone) are on the 2017 poverty list."""
    parks = load_parks()
    poor = set(jiangxi.counties.loc[jiangxi.counties["poverty_county"], "code"])
    in_poor = parks[parks["county_code"].isin(poor)]
    assert set(in_poor["park_id"]) == {"ganzhou_htz", "ganzhou_agri", "jian_htz", "jiujiang_agri"}
    assert int(parks.set_index("park_id").loc["jiujiang_agri", "active_from"]) == 2018


def test_park_facts_load_with_known_codes(jiangxi: Baseline) -> None:
    facts = load_park_facts()
    codes = set(jiangxi.counties["code"]) | set(jiangxi.counties["prefecture_code"])
    assert facts["code"].isin(codes | {"360000", "100000"}).all()
    assert set(facts["status"]) <= set(STATUSES)
    row = facts.set_index("fact").loc["national_agri_science_parks"]
    assert row["value"] == "9"
    assert "jxjaw.cn" in row["source"]


def test_parks_placed_in_host_townships(jiangxi: Baseline) -> None:
    """A named township that hosts firms is kept; a non-host unit (kind other) or a blank one
    falls back to the county's main township; a park of another province is dropped."""
    parks = load_parks()
    t = jiangxi.townships
    hosts = t["counts_as_xiangzhen"].to_numpy()
    main = np.full(len(jiangxi.counties), -1, dtype=np.int64)
    for i in range(len(jiangxi.counties)):
        idx = np.flatnonzero(t["county_idx"].to_numpy() == i)
        host = idx[hosts[idx]]
        main[i] = host[0] if host.size else -1
    county_codes = tuple(jiangxi.counties["code"])
    town_codes = tuple(t["code"])
    arr = park_arrays(parks, county_codes, town_codes, hosts, main)
    assert arr.n == len(parks)
    pos = {p: i for i, p in enumerate(parks["park_id"])}
    assert town_codes[arr.township[pos["fengcheng_htz"]]] == "360981126"  # 曲江镇, a town
    jdz = arr.county[pos["jingdezhen_htz"]]
    assert arr.township[pos["jingdezhen_htz"]] == main[jdz]  # 360203400 is kind other
    # a baseline without those counties has no parks
    none = park_arrays(parks, ("990000",), ("990000001",), np.array([True]), np.array([0]))
    assert none.n == 0


def _raw(rows: list[dict[str, str]]) -> RawTable:
    frame = pd.DataFrame(rows).astype(str)
    return RawTable("parks.csv", frame, hashlib.sha256(b"").hexdigest())


def _row(**over: str) -> dict[str, str]:
    row = load_parks().astype(str).iloc[0].to_dict()
    row.update(over)
    return row


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"status": "recalled"}, "unknown value"),
        ({"source": "a newspaper"}, "source without an address"),
        ({"township_code": "360111490"}, "bad township code"),
        ({"active_from": "soon"}, "not a year"),
        ({"kind": "industrial_park"}, "unknown value"),
    ],
)
def test_bad_park_rows_are_named(over: dict[str, str], words: str) -> None:
    with pytest.raises(DataError, match=words):
        parse_parks(_raw([_row(), _row(park_id="other", **over)]))
