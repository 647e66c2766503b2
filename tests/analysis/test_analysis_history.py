"""Observed province history for figures: the shipped files, sourced or not, one series per
metric (policysim.analysis.history)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from policysim.analysis.history import is_sourced, observed_series, read_history
from policysim.errors import DataError
from policysim.metrics import by_level

ROOT = Path(__file__).resolve().parents[2]
OBSERVED = ROOT / "scenarios" / "observed"
HISTORY = Path(str(resources.files("policysim.data") / "jiangxi" / "province_history.csv"))
PROVINCE = by_level("province")


@pytest.mark.parametrize(
    ("status", "sourced"),
    [
        ("verified", True),
        ("verified (secondary; mid-December not year end)", True),
        ("Verified (preliminary)", True),
        ("documented", True),
        ("recalled", False),
        ("recalled (as first published)", False),
        ("derived", False),
        ("", False),
        (None, False),
        (float("nan"), False),
    ],
)
def test_is_sourced(status: object, sourced: bool) -> None:
    assert is_sourced(status) is sourced


def test_shipped_files_read_province_rows_only() -> None:
    history = read_history(HISTORY, PROVINCE)
    assert set(history["indicator"]) == {
        "rd_expenditure_100m_cny",
        "rd_intensity_pct",
        "gdp_100m_cny",
        "hnte_count",
    }  # towns, poverty counties... are not metrics
    nowcast = read_history(OBSERVED / "jiangxi_nowcast.csv", PROVINCE)
    assert "national_county" not in set(nowcast["indicator"])  # county events: skipped
    later = read_history(OBSERVED / "jiangxi_2017_2022.csv", PROVINCE)
    pd.testing.assert_frame_equal(
        later.reset_index(drop=True), nowcast.reset_index(drop=True), check_like=True
    )
    row = later.query("indicator == 'hnte_count' and year == 2020").iloc[0]
    assert row["value"] == 5115 and row["sourced"]
    assert not later.query("indicator == 'rd_expenditure_100m_cny' and year == 2019")[
        "sourced"
    ].item()  # derived


def test_observed_series_first_table_wins_and_years_are_sorted() -> None:
    first = pd.DataFrame(
        {"indicator": ["m", "m"], "year": [2017, 2015], "value": [1.0, 0.5],
         "status": ["verified", "recalled"]}
    )  # fmt: skip
    second = pd.DataFrame(
        {"indicator": ["m", "m", "other"], "year": [2017, 2018, 2018], "value": [9.0, 2.0, 7.0],
         "status": ["recalled", "derived", "verified"]}
    )  # fmt: skip
    series = observed_series([first, second], "m")
    assert series["year"].tolist() == [2015, 2017, 2018]
    assert series["value"].tolist() == [0.5, 1.0, 2.0]
    assert series["sourced"].tolist() == [False, True, False]
    assert observed_series([first, second], "absent").empty
    assert list(observed_series([], "m").columns) == ["year", "value", "status", "sourced"]


def test_read_history_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("indicator,year,value\ngdp_100m_cny,2018,abc\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2"):
        read_history(path, PROVINCE)
    path.write_text("indicator,value\ngdp_100m_cny,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_history(path, PROVINCE)
    with pytest.raises(DataError, match="not found"):
        read_history(tmp_path / "none.csv", PROVINCE)
    # a byte-order mark (Excel) and rows of other indicators are fine
    path.write_text("\ufeffindicator,year,value\nfoo,x,y\ngdp_100m_cny,2018,2.5\n", "utf-8")
    table = read_history(path, PROVINCE)
    assert table[["indicator", "year", "value"]].values.tolist() == [["gdp_100m_cny", 2018, 2.5]]
    assert not table["sourced"].any()  # no status column: not sourced
