"""``policysim calibrate`` through typer's CliRunner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from policysim.commands.hindcast import register
from policysim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
HINDCAST = ROOT / "scenarios" / "jiangxi_hindcast.yaml"
FAST = ["--set", "horizon.end_year=2018", "--set", "targets=[]"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


def test_calibrate_writes_a_scenario_that_extends_the_input(
    app: typer.Typer, tmp_path: Path
) -> None:
    obs = tmp_path / "obs.csv"
    obs.write_text("indicator,year,value\nhnte_count,2017,2300\n")
    out = tmp_path / "fit" / "fitted.yaml"
    result = CliRunner().invoke(
        app,
        [
            "calibrate",
            str(HINDCAST),
            "--observed",
            str(obs),
            "--replications",
            "20",
            "--accept",
            "0.25",
            "--out",
            str(out),
            *FAST,
            # the one uncertainty, which the HNTE observation identifies
            "--set",
            "uncertainties={hnte_stock_2017: {distribution: uniform, low: 1500, high: 2600}}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ABC rejection: 5 of 20 runs accepted" in result.output
    assert "Parameters (prior 5-95% vs accepted 5-95%)" in result.output
    text = out.read_text(encoding="utf-8")
    assert "horizon.end_year=2018" in text  # overrides are recorded, not carried
    body = yaml.safe_load(text)
    assert body["extends"] == Path(os.path.relpath(HINDCAST, out.parent)).as_posix()
    assert list(body["uncertainties"]) == ["hnte_stock_2017"]  # the one identified
    loaded = load_scenario(out)
    assert loaded.chain[-2] == HINDCAST
    assert loaded.scenario.horizon.end_year == 2023  # the input's own horizon
    fitted = loaded.scenario.uncertainties["hnte_stock_2017"]
    low, high = fitted.support()
    assert 1500 <= low < 2300 < high <= 2600  # hnte_count 2017 pins the stock
    assert (out.parent / "fitted.fit.json").is_file()


def test_calibrate_errors_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    obs = tmp_path / "obs.csv"
    obs.write_text("indicator,year,value\nhnte_count,2030,2300\n")
    runner = CliRunner()
    result = runner.invoke(app, ["calibrate", str(HINDCAST), "--observed", str(obs), *FAST])
    assert result.exit_code == 2
    assert "row 2, column 'year': value 2030: year outside" in result.output
    result = runner.invoke(
        app,
        ["calibrate", str(HINDCAST), "--observed", str(obs), "--shape", "normal", *FAST],
    )
    assert result.exit_code == 2
    assert "--shape" in result.output
    obs.write_text("indicator,year,value\nhnte_count,2017,2300\n")
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(HINDCAST),
            "--observed",
            str(obs),
            "--out",
            str(tmp_path / "x.txt"),
            *FAST,
        ],
    )
    assert result.exit_code == 2
    assert "--out" in result.output


def test_calibrate_help(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["calibrate", "--help"])
    assert result.exit_code == 0
    assert "ABC" in result.output
    assert "policysim calibrate" in result.output
