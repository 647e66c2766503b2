"""``policysim hindcast`` through typer's CliRunner: outputs, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from policysim.commands.hindcast import register

ROOT = Path(__file__).resolve().parents[2]
HINDCAST = ROOT / "scenarios" / "jiangxi_hindcast.yaml"
OBSERVED = ROOT / "scenarios" / "observed"
FAST = ["--set", "horizon.end_year=2018", "--set", "targets=[]"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def test_hindcast_writes_table_summary_plots_report(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "hc"
    obs = tmp_path / "obs.csv"
    obs.write_text(
        "indicator,year,value,status\n"
        "gdp_100m_cny,2017,20818.5,verified\n"
        "gdp_100m_cny,2018,21984.8,recalled\n"
        "hnte_count,2018,2500,made up\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app,
        [
            "hindcast",
            str(HINDCAST),
            "--observed",
            str(obs),
            "--replications",
            "5",
            "--out",
            str(out),
            "--quiet",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "hindcast.csv")
    required = [
        "indicator",
        "year",
        "observed",
        "median",
        "p05",
        "p25",
        "p75",
        "p95",
        "in50",
        "in90",
        "pit",
    ]
    assert list(table.columns[: len(required)]) == required
    assert table[["indicator", "year"]].values.tolist() == [
        ["gdp_100m_cny", 2017],
        ["gdp_100m_cny", 2018],
        ["hnte_count", 2018],
    ]
    summary = json.loads((out / "hindcast_summary.json").read_text(encoding="utf-8"))
    assert summary["runs"] == 5
    assert set(summary["indicators"]) == {"gdp_100m_cny", "hnte_count"}
    for key in ("coverage50", "coverage90", "mape_median", "mean_crps", "n"):
        assert key in summary["indicators"]["gdp_100m_cny"]
    assert summary["indicators"]["gdp_100m_cny"]["n"] == 2
    for name in ("hindcast_gdp_100m_cny.png", "hindcast_hnte_count.png"):
        assert (out / "figures" / name).is_file()
    assert (out / "report.html").is_file()
    assert not (out / ".parts").exists()


def test_hindcast_prints_the_table(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "hindcast",
            str(HINDCAST),
            "--observed",
            str(OBSERVED / "jiangxi_2017.csv"),
            "--replications",
            "3",
            "--out",
            str(tmp_path / "o"),
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.output
    for text in ("rd_expenditure_100m_cny", "Per indicator", "hindcast.csv", "report.html"):
        assert text in result.output


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("patents,2018,3", "row 3, column 'indicator': value 'patents': unknown indicator"),
        ("gdp_100m_cny,2019,25000", "row 3, column 'year': value 2019: year outside the"),
        ("gdp_100m_cny,2015,16723.8", "row 3, column 'year': value 2015: year outside the"),
    ],
)
def test_bad_row_exits_2_naming_the_row(
    app: typer.Typer, tmp_path: Path, row: str, expected: str
) -> None:
    obs = tmp_path / "obs.csv"
    obs.write_text(f"indicator,year,value\ngdp_100m_cny,2017,20818.5\n{row}\n", encoding="utf-8")
    out = tmp_path / "never"
    result = CliRunner().invoke(
        app, ["hindcast", str(HINDCAST), "--observed", str(obs), "--out", str(out), *FAST]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(obs) in lines[0].replace("\n", "")
    assert expected in result.output
    assert not out.exists()  # checked before anything is run or written


def test_missing_observed_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["hindcast", str(HINDCAST), "--observed", str(tmp_path / "none.csv")]
    )
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_help_has_examples(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["hindcast", "--help"])
    assert result.exit_code == 0
    assert "--observed" in result.output
    assert "policysim hindcast scenarios/jiangxi_hindcast.yaml" in result.output
