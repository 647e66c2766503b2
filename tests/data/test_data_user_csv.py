"""User CSV baselines: a valid directory loads; every kind of bad input gives one exact
DataError naming the file, the row (header = row 1), the column and the value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from policysim.data import load_baseline, province_summary
from policysim.errors import DataError

Edit = Callable[[dict[str, str]], None]

HISTORY = (
    "indicator,year,value,status,source\n"
    "gdp_100m_cny,2017,450,verified,test\n"
    "rd_expenditure_100m_cny,2017,6.0,verified,test\n"
)


def test_valid_directory_loads(user_dir: Callable[..., Path]) -> None:
    root = user_dir()
    b = load_baseline(root)
    assert b.name == str(root.resolve())
    assert list(b.counties["name"]) == ["甲区", "乙县"]
    assert list(b.counties["type"]) == ["district", "county"]
    assert b.counties["poverty_county"].tolist() == [False, True]
    assert b.counties["functional_class_synthetic"].tolist() == [True, False]
    assert b.counties["functional_class"].iloc[1] == "农业主产区"
    assert len(b.townships) == 7
    assert set(b.checksums) == {"counties.csv", "townships.csv"}
    assert b.boundaries is None
    assert len(b.history) == 0
    # no subdistrict or farm hosts firms when the county has towns
    kinds = b.townships["kind"].to_numpy()[b.enterprises["township_idx"].to_numpy()]
    assert set(kinds) <= {"town", "township"}
    assert province_summary(b).set_index("quantity").loc["county-level units", "status"] == "data"


def test_history_sets_totals(user_dir: Callable[..., Path]) -> None:
    b = load_baseline(user_dir(history=HISTORY))
    assert b.counties["gdp_cny"].sum() == pytest.approx(450e8, rel=1e-9)
    assert b.counties["rd_cny"].sum() == pytest.approx(6e8, rel=1e-9)
    assert "province_history.csv" in b.checksums


def test_county_economy_replaces_synthesis(
    user_dir: Callable[..., Path], valid_files: dict[str, str]
) -> None:
    b = load_baseline(user_dir(economy=valid_files["economy"]), enterprise_scale=0.5)
    c = b.counties
    assert c["gdp_cny"].tolist() == [3.0e10, 1.5e10]
    assert c["rd_enterprise_cny"].tolist() == [2.0e8, 5.0e7]
    assert c["n_enterprises"].tolist() == [120, 80]
    assert c["hnte_count"].tolist() == [12, 3]
    assert "gdp_cny" not in b.synthetic_columns["counties"]
    assert "rd_cny" in b.synthetic_columns["counties"]
    e = b.enterprises
    idx = e["county_idx"].to_numpy()
    rd = e["rd_cny"].to_numpy() * e["weight"].to_numpy()
    np.testing.assert_allclose(np.bincount(idx, weights=rd), [2.0e8, 5.0e7])
    assert np.bincount(idx).tolist() == [60, 40]
    assert np.bincount(idx, weights=e["hnte"].to_numpy()).tolist() == [6.0, 2.0]
    assert (c["rd_cny"] >= c["rd_enterprise_cny"]).all()


def test_cache_sees_edited_files(user_dir: Callable[..., Path]) -> None:
    root = user_dir()
    first = load_baseline(root)
    assert load_baseline(root) is first
    text = (root / "counties.csv").read_text(encoding="utf-8").replace("甲区", "丙区")
    (root / "counties.csv").write_text(text + "\n", encoding="utf-8")
    second = load_baseline(root)
    assert second is not first
    assert second.counties["name"].iloc[0] == "丙区"


def _replace(key: str, old: str, new: str) -> Edit:
    def edit(files: dict[str, str]) -> None:
        assert old in files[key], f"test setup: {old!r} not in {key}"
        files[key] = files[key].replace(old, new, 1)

    return edit


def _set(key: str, text: str) -> Edit:
    def edit(files: dict[str, str]) -> None:
        files[key] = text

    return edit


def _history(text: str) -> Edit:
    return _set("history", text)


HIST_HEAD = "indicator,year,value,status,source\n"

# (id, edit, file, expected message after "<dir>/<file>")
CASES: list[tuple[str, Edit, str, str]] = [
    ("empty file", _set("counties", ""), "counties.csv",
     ": file is empty (expected a header row and data rows)"),
    ("header only", _set("townships", "code,name,county_code,kind\n"), "townships.csv",
     ": file has a header but no data rows"),
    ("missing column", _replace("counties", ",towns,", ",town_count,"), "counties.csv",
     ", row 1, column 'towns': missing required column"),
    ("non-integer count", _replace("counties", "district,1,0,2,0", "district,1.5,0,2,0"),
     "counties.csv", ", row 2, column 'towns': value '1.5': not an integer "
     "(expected a non-negative integer count)"),
    ("negative count", _replace("counties", "county,2,1,0,1", "county,2,-1,0,1"),
     "counties.csv", ", row 3, column 'townships': value '-1': negative count "
     "(expected a non-negative integer)"),
    ("unknown type", _replace("counties", ",county,2", ",banner,2"), "counties.csv",
     ", row 3, column 'type': value 'banner': unknown value "
     "(expected one of district, county_city, city, county)"),
    ("unknown kind", _replace("townships", "乙乡,990121,township", "乙乡,990121,village"),
     "townships.csv", ", row 7, column 'kind': value 'village': unknown value "
     "(expected one of town, township, subdistrict, other)"),
    ("unknown poverty flag", _replace("counties", "1,0,1,1,2019", "1,0,1,yes,2019"),
     "counties.csv", ", row 3, column 'poverty_county': value 'yes': unknown value "
     "(expected one of 0, 1, true, false, True, False)"),
    ("unknown functional class", _replace("counties", "农业主产区", "工业区"), "counties.csv",
     ", row 3, column 'functional_class': value '工业区': unknown value "
     "(expected one of 重点开发区, 农业主产区, 重点生态区)"),
    ("duplicate county code", _replace("counties", "990121,乙县", "990101,乙县"),
     "counties.csv", ", row 3, column 'code': value '990101': duplicate code "
     "(first seen in row 2; expected each code once)"),
    ("duplicate township code", _replace("townships", "990121101,乙二镇", "990121100,乙二镇"),
     "townships.csv", ", row 6, column 'code': value '990121100': duplicate code "
     "(first seen in row 5; expected each code once)"),
    ("unknown county of township", _replace("townships", "990121400,乙农场,990121",
                                            "990199400,乙农场,990199"),
     "townships.csv", ", row 8, column 'county_code': value '990199': county_code not found "
     "in {dir}/counties.csv"),
    ("bad county code", _replace("counties", "990121,乙县", "99012,乙县"), "counties.csv",
     ", row 3, column 'code': value '99012': bad code format (expected 6 digits)"),
    ("bad township code", _replace("townships", "990121200,乙乡", "99012120,乙乡"),
     "townships.csv", ", row 7, column 'code': value '99012120': bad code format "
     "(expected 9 digits)"),
    ("township code prefix", _replace("townships", "990121200,乙乡", "990101200,乙乡"),
     "townships.csv", ", row 7, column 'code': value '990101200': bad code format "
     "(expected the county code 990121 as prefix)"),
    ("unit counts disagree", _replace("counties", "county,2,1,0,1", "county,3,1,0,1"),
     "counties.csv", ", row 3, column 'towns': value 3: declares 3 units of kind 'town' but "
     "{dir}/townships.csv lists 2 for county 990121"),
    ("blank population", _replace("counties", "500000,480000", ","), "counties.csv",
     ", row 3, column 'population_2010_census': blank population (expected "
     "population_2010_census, or population_2020_census to impute it from)"),
    ("non-numeric money", _replace("economy", "3.0e10", "lots"), "county_economy.csv",
     ", row 2, column 'gdp_cny': value 'lots': not a number "
     "(expected a non-negative amount in CNY)"),
    ("negative money", _replace("economy", "1.5e10", "-1.5e10"), "county_economy.csv",
     ", row 3, column 'gdp_cny': value '-1.5e10': negative value "
     "(expected a non-negative amount in CNY)"),
    ("non-integer enterprise count", _replace("economy", ",120,", ",120.5,"),
     "county_economy.csv", ", row 2, column 'n_enterprises': value '120.5': not an integer "
     "(expected a non-negative integer count)"),
    ("unknown economy column", _replace("economy", "gdp_cny", "gdp"), "county_economy.csv",
     ", row 1, column 'gdp': unknown column (expected code and any of gdp_cny, "
     "fiscal_expenditure_cny, fiscal_st_spending_cny, rd_cny, rd_enterprise_cny, "
     "n_enterprises, hnte_count, research_capacity, management_capacity)"),
    ("economy misses a county", _replace("economy", "990121,1.5e10,5.0e7,80,3\n", ""),
     "county_economy.csv", ", column 'code': county 990121 of counties.csv is missing "
     "(expected every county once)"),
    ("economy unknown county", _replace("economy", "990121,", "990122,"),
     "county_economy.csv", ", row 3, column 'code': value '990122': county code not found "
     "in counties.csv"),
    ("more HNTEs than firms", _replace("economy", ",80,3", ",2,3"), "county_economy.csv",
     ", row 3, column 'hnte_count': value '3': hnte_count exceeds n_enterprises "
     "(expected HNTEs ≤ enterprises)"),
    ("R&D without firms", _replace("economy", ",80,3", ",0,0"), "county_economy.csv",
     ", row 3, column 'n_enterprises': value '0': n_enterprises is 0 but rd_enterprise_cny "
     "is positive (expected firms to carry enterprise R&D)"),
    ("unknown indicator", _history(HIST_HEAD + "gdp_usd,2017,1,verified,x\n"),
     "province_history.csv", ", row 2, column 'indicator': value 'gdp_usd': unknown value "
     "(expected one of rd_expenditure_100m_cny, rd_intensity_pct, gdp_100m_cny, hnte_count, "
     "hnte_applications, above_scale_industrial_enterprises, county_level_units, towns, "
     "townships, subdistricts, other_units, poverty_counties, enterprise_rd_share_pct)"),
    ("non-numeric history value", _history(HIST_HEAD + "gdp_100m_cny,2017,n/a,verified,x\n"),
     "province_history.csv", ", row 2, column 'value': value 'n/a': not a number "
     "(expected a non-negative number)"),
    ("non-integer year", _history(HIST_HEAD + "gdp_100m_cny,2017.5,1,verified,x\n"),
     "province_history.csv", ", row 2, column 'year': value '2017.5': not an integer "
     "(expected a non-negative integer count)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "file", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_input(
    tmp_path: Path, valid_files: dict[str, str], edit: Edit, file: str, message: str
) -> None:
    files: dict[str, str] = {**valid_files, "history": HISTORY}
    edit(files)
    root = tmp_path / "bad"
    root.mkdir()
    (root / "counties.csv").write_text(files["counties"], encoding="utf-8")
    (root / "townships.csv").write_text(files["townships"], encoding="utf-8")
    (root / "county_economy.csv").write_text(files["economy"], encoding="utf-8")
    (root / "province_history.csv").write_text(files["history"], encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_baseline(root)
    expected = f"{root}/{file}" + message.format(dir=root)
    assert str(info.value) == expected


@pytest.mark.parametrize("name", ["counties.csv", "townships.csv"])
def test_missing_file(user_dir: Callable[..., Path], name: str) -> None:
    root = user_dir()
    (root / name).unlink()
    with pytest.raises(DataError) as info:
        load_baseline(root)
    assert str(info.value) == f"{root}/{name}: file not found"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="baseline directory not found"):
        load_baseline(tmp_path / "nowhere")


def test_not_utf8(user_dir: Callable[..., Path], valid_files: dict[str, str]) -> None:
    root = user_dir()
    (root / "counties.csv").write_bytes(valid_files["counties"].encode("gbk"))
    with pytest.raises(DataError, match=r"counties\.csv: not UTF-8 text"):
        load_baseline(root)


def test_shipped_invalid_example() -> None:
    """The example in tests/data/invalid/ (documented in docs/DATA.md) fails as described."""
    root = Path(__file__).parent / "invalid" / "duplicate_code"
    with pytest.raises(DataError) as info:
        load_baseline(root)
    assert info.value.row == 3
    assert info.value.column == "code"
    assert str(info.value).endswith("value '990101': duplicate code (first seen in row 2; "
                                    "expected each code once)")  # fmt: skip
