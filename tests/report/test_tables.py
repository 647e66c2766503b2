"""Spreadsheet outputs: CSVs with a BOM and no formula cells; results.xlsx with openpyxl."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from policysim.report.tables import (
    FORMULA_PREFIXES,
    csv_bytes,
    neutralise,
    unit_table,
    write_csv,
    write_workbook,
)


def test_csv_has_bom_chinese_and_neutralised_formulas(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "code": ["360102", "360103"],
            "name": ["东湖区", '=HYPERLINK("http://x")'],
            "value": [-1.5, 2.0],  # numbers are never touched, negative or not
            "note": pd.Categorical(["@SUM(A1)", "ok"]),
        }
    )
    path = write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["code", "name", "value", "note"]
    assert rows[1] == ["360102", "东湖区", "-1.5", "'@SUM(A1)"]
    assert rows[2][1] == '\'=HYPERLINK("http://x")'
    back = pd.read_csv(path, dtype={"code": str})  # pandas drops the BOM
    assert list(back.columns) == ["code", "name", "value", "note"]
    assert back["value"].tolist() == [-1.5, 2.0]


@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_no_text_cell_starts_a_formula(values: list[str]) -> None:
    out = neutralise(pd.DataFrame({"x": values}))
    for before, after in zip(values, out["x"], strict=True):
        assert not str(after).startswith(FORMULA_PREFIXES)
        assert after in (before, "'" + before)
    assert csv_bytes(pd.DataFrame({"x": values})).startswith(b"\xef\xbb\xbf")


def test_unit_table_puts_prefecture_beside_code_and_name() -> None:
    probabilities = pd.DataFrame(
        {"code": ["1", "2"], "name": ["甲县", "乙县"], "p_2030": [0.2, 0.9]}
    )
    units = pd.DataFrame(
        {"code": ["2", "1"], "prefecture_code": ["9", "9"], "prefecture": ["丙市"] * 2}
    )
    table = unit_table(probabilities, units, "county")
    assert list(table.columns) == ["code", "name", "prefecture_code", "prefecture", "p_2030"]
    assert table["prefecture"].tolist() == ["丙市", "丙市"]
    assert table["p_2030"].tolist() == [0.2, 0.9]


def test_workbook_readme_and_sheets(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["东湖区", "-x"], "p": [0.5, float("nan")]})
    path = write_workbook(
        tmp_path / "results.xlsx",
        [("counties", frame, "county probabilities")],
        title="policysim results",
        notes=["=not a formula"],
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["README", "counties"]
    readme = [[c.value for c in row] for row in wb["README"].iter_rows()]
    assert readme[0][0] == "policysim results"
    assert ["counties", "county probabilities"] in readme
    assert "'=not a formula" in [r[0] for r in readme]
    rows = [[c.value for c in row] for row in wb["counties"].iter_rows()]
    assert rows == [["name", "p"], ["东湖区", 0.5], ["'-x", None]]
    assert wb["counties"].freeze_panes == "A2"


def test_font_subset_is_deterministic() -> None:
    import time

    from policysim.report.fonts import subset_font

    first = subset_font("东湖区 南昌县")
    time.sleep(1.1)  # the font's timestamp must not follow the clock
    assert first is not None and first == subset_font("东湖区 南昌县")
    assert first.startswith(b"wOFF")
