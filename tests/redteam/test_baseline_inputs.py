"""Red team (issue 16): user baselines that are too large, out of range or misspelt give a
one-line error naming the file, row and column before anything runs; a broken boundary file is
found before the ensemble, not after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from redteam_helpers import COUNTIES, ECONOMY, SCENARIO, write_baseline
from typer.testing import CliRunner

from policysim.cli import app

runner = CliRunner()


def _run(baseline: Path, out: Path) -> tuple[int, str]:
    res = runner.invoke(
        app,
        ["run", str(SCENARIO), "--replications", "2", "--out", str(out), "--quiet",
         "--set", f"baseline.source={baseline}", "--set", "targets=[]",
         "--set", "horizon.end_year=2020"],
    )  # fmt: skip
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


@pytest.mark.parametrize(
    ("economy", "column", "expect"),
    [
        ("990121,1.5e10,5.0e7,1000000000,3", "n_enterprises", "too many"),
        ("990121,1.0e308,5.0e7,80,3", "gdp_cny", "at most 1e+15"),
        ("990121,0,5.0e7,80,3", "gdp_cny", "positive"),
    ],
    ids=["billion-firms", "gdp-1e308", "gdp-zero"],
)
def test_out_of_range_economy_is_refused(
    economy: str, column: str, expect: str, tmp_path: Path
) -> None:
    text = ECONOMY.rsplit("990121", 1)[0] + economy + "\n"
    root = write_baseline(tmp_path / "b", economy=text)
    code, output = _run(root, tmp_path / "run")
    assert code == 2 and len(output.strip().splitlines()) == 1, output
    assert "county_economy.csv" in output and column in output and expect in output
    assert not (tmp_path / "run").exists()


def test_population_beyond_int64_is_refused(tmp_path: Path) -> None:
    root = write_baseline(tmp_path / "b")
    (root / "counties.csv").write_text(
        COUNTIES.replace("500000,480000", "1" + "0" * 30 + ",480000"), encoding="utf-8"
    )
    code, output = _run(root, tmp_path / "run")
    assert code == 2 and len(output.strip().splitlines()) == 1, output
    assert "population_2010_census" in output and "too large" in output


def test_misspelt_optional_column_is_refused(tmp_path: Path) -> None:
    root = write_baseline(tmp_path / "b")
    (root / "counties.csv").write_text(
        COUNTIES.replace("functional_class", "functionl_class"), encoding="utf-8"
    )
    code, output = _run(root, tmp_path / "run")
    assert code == 2 and "functionl_class" in output and "did you mean functional_class" in output


def test_broken_boundary_file_found_before_the_ensemble(tmp_path: Path) -> None:
    root = write_baseline(tmp_path / "b")
    (root / "counties_boundaries.geojson").write_text('{"type": "Feature', encoding="utf-8")
    code, output = _run(root, tmp_path / "run")
    assert code == 2 and "counties_boundaries.geojson" in output, output
    assert not (tmp_path / "run").exists()  # refused before any run
