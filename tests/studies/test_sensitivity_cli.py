"""`policysim sensitivity`: tiny designs end to end, exit codes and messages, help text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from typer.testing import CliRunner

from policysim.commands.sensitivity import register

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
TWO = (
    "uncertainties={firm_entry_rate: {distribution: uniform, low: 0.03, high: 0.10}, "
    "hnte_stock_2017: {distribution: uniform, low: 1500, high: 2600}}"
)

app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    """Test application (a callback keeps `sensitivity` a named subcommand)."""


runner = CliRunner()


def test_sobol_tiny_design_writes_table_plot_report(tmp_path: Path) -> None:
    out = tmp_path / "sa"
    res = runner.invoke(
        app,
        [
            "sensitivity",
            str(SCENARIO),
            "--method",
            "sobol",
            "--samples",
            "2",
            "--out",
            str(out),
            "--set",
            TWO,
            "--quiet",
            "--seed",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "sensitivity_indices.csv")
    assert {"S1", "S1_conf", "ST", "ST_conf", "target", "quantity", "year"} <= set(table.columns)
    assert set(table["parameter"]) == {"firm_entry_rate", "hnte_stock_2017"}
    runs = pd.read_csv(out / "sensitivity_runs.csv")
    assert len(runs) == 2 * (2 + 2)
    assert (out / "sensitivity_report.html").is_file()
    assert (out / "sensitivity_values.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "runs").exists()  # the streamed parts are cleaned up


def test_morris_prints_leading_factors(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "sensitivity",
            str(SCENARIO),
            "--method",
            "morris",
            "--samples",
            "2",
            "--out",
            str(tmp_path / "m"),
            "--set",
            TWO,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Leading factor per output" in res.output
    assert "6 runs (morris, N = 2, 2 factors)" in res.output
    assert "sensitivity_report.html" in res.output


def test_bad_method_and_samples_exit_2_one_line(tmp_path: Path) -> None:
    for args, key in (
        (["--method", "fast"], "--method"),
        (["--samples", "6"], "--samples"),
        (["--set", "allocation.strategy=bogus"], "allocation.strategy"),
    ):
        out = tmp_path / key.strip("-").replace(".", "_")
        res = runner.invoke(app, ["sensitivity", str(SCENARIO), "--out", str(out), *args])
        assert res.exit_code == 2, res.output
        assert key in res.output
        assert len(res.output.strip().splitlines()) == 1
        assert not out.exists()


def test_help_has_examples() -> None:
    res = runner.invoke(app, ["sensitivity", "--help"])
    assert res.exit_code == 0
    assert "policysim sensitivity scenarios/jiangxi_baseline.yaml" in res.output
    assert "--levers" in res.output
