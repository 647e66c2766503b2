"""`policysim run`: exit codes, nothing written on a bad scenario, resume after SIGKILL, atomic
outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import policysim.experiments.outputs
import policysim.report
from policysim.cli import app
from policysim.experiments import run_ensemble, write_outputs
from policysim.scenario import LoadedScenario

runner = CliRunner()
SMALL = ("ensemble.batch_size=3", "ensemble.max_replications=9")  # as in conftest
SETS = [arg for s in SMALL for arg in ("--set", s)]


def test_bad_scenario_exit_2_and_no_run_dir(scenario_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["run", str(scenario_path), "--out", str(out), "--set", "allocation.strategy=bogus"]
    )
    assert res.exit_code == 2
    assert "allocation.strategy" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_infeasible_allocation_exit_2_and_no_run_dir(scenario_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        ["run", str(scenario_path), "--out", str(out), "--set", "allocation.floor_100m_cny=1.0"],
    )
    assert res.exit_code == 2
    assert "county floors" in res.output and "exceed the budget" in res.output
    assert not out.exists()


def test_run_writes_the_run_directory(scenario_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["run", str(scenario_path), "--replications", "2", "--out", str(out), "--quiet", *SETS]
    )
    assert res.exit_code == 0, res.output
    for name in (
        "manifest.json",
        "metrics.parquet",
        "county_probabilities.parquet",
        "township_probabilities.parquet",
        "attainment.csv",
        "first_year.csv",
        "solves.csv",
        "allocations.parquet",
        "report.html",
        "figures/attainment.png",
        "figures/county_map.png",
    ):
        assert (out / name).is_file(), name
    assert not (out / ".parts").exists()
    assert not (out / "failures.csv").exists()
    att = pd.read_csv(out / "attainment.csv")
    for col in (
        "target",
        "metric",
        "year",
        "comparator",
        "threshold",
        "probability",
        "ci_low",
        "ci_high",
        "median",
        "p05",
        "p95",
    ):
        assert col in att.columns
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seeds"]["spawn_keys"] == [[0], [1]]
    assert manifest["runs"]["completed"] == 2
    assert manifest["scenario"]["hash"] and manifest["data"]["checksums_sha256"]
    assert "numpy" in manifest["versions"] and "policysim" in manifest["versions"]
    county = pd.read_parquet(out / "county_probabilities.parquet")
    assert list(county.columns[:2]) == ["code", "name"]


def test_failed_run_gives_exit_1_and_failures_csv(
    scenario_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import policysim.simulation

    real = policysim.simulation.simulate

    def flaky(scenario, seed, **kw):  # type: ignore[no-untyped-def]
        if tuple(seed.spawn_key) == (0,):
            raise RuntimeError("boom")
        return real(scenario, seed, **kw)

    monkeypatch.setattr(policysim.simulation, "simulate", flaky)
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["run", str(scenario_path), "--replications", "2", "--out", str(out), *SETS]
    )
    assert res.exit_code == 1
    assert "1 of 2 runs failed" in res.output
    fails = pd.read_csv(out / "failures.csv")
    assert fails.to_dict("records") == [
        {"replication": 0, "seed_key": "(0,)", "error": "RuntimeError: boom"}
    ]


def test_error_while_writing_leaves_no_partial_file(
    small: LoadedScenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = run_ensemble(small, replications=2, store=tmp_path / "run")

    def broken(*args: object, **kwargs: object) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(policysim.report, "render_report", broken)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(res, tmp_path / "run")
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]
    assert not (tmp_path / "run" / "report.html").exists()
    # what was written is whole: the metrics file reads back completely
    assert len(pd.read_parquet(tmp_path / "run" / "metrics.parquet")) == len(res.read_metrics())


def test_metrics_file_streamed_in_batches_keeps_the_ensemble_runs(
    small: LoadedScenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metrics.parquet, copied from the parts a few rows at a time, holds exactly the stored rows
    of the ensemble's runs (a resumed smaller ensemble leaves out the extra stored run)."""
    out = tmp_path / "run"
    run_ensemble(small, replications=3, seed=4, store=out)
    res = run_ensemble(small, replications=2, seed=4, store=out, resume=True)
    monkeypatch.setattr(policysim.experiments.outputs, "STREAM_BATCH_ROWS", 5_000)
    write_outputs(res, out)
    written = pd.read_parquet(out / "metrics.parquet")
    assert sorted(written["replication"].unique().tolist()) == [0, 1]
    pd.testing.assert_frame_equal(written, res.read_metrics())
    assert pq.ParquetFile(out / "metrics.parquet").metadata.num_row_groups > 2


def _policysim() -> str:
    return str(Path(sys.executable).with_name("policysim"))


def test_resume_after_sigkill_equals_uninterrupted(scenario_path: Path, tmp_path: Path) -> None:
    n = "8"
    base = [
        _policysim(),
        "run",
        str(scenario_path),
        "--replications",
        n,
        "--seed",
        "3",
        "--workers",
        "1",
        "--quiet",
        *SETS,
    ]
    whole = tmp_path / "whole"
    subprocess.run([*base, "--out", str(whole)], check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*base, "--out", str(killed)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            parts = list((killed / ".parts").glob("part-*.parquet"))
            if parts:
                break
            if proc.poll() is not None:
                pytest.fail("the run ended before it could be killed")
            time.sleep(0.05)
        else:
            pytest.fail("no part was written in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (killed / "metrics.parquet").exists()
    assert not (killed / "manifest.json").exists()
    done_before = len(list((killed / ".parts").glob("part-*.parquet")))
    assert 1 <= done_before < 4

    res = subprocess.run([*base, "--out", str(killed), "--resume"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for name in (
        "metrics.parquet",
        "allocations.parquet",
        "county_probabilities.parquet",
        "township_probabilities.parquet",
    ):
        pd.testing.assert_frame_equal(pd.read_parquet(killed / name), pd.read_parquet(whole / name))
    for name in ("attainment.csv", "first_year.csv", "draws.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / name), pd.read_csv(whole / name))
    a = pd.read_csv(killed / "solves.csv").drop(columns="seconds")
    b = pd.read_csv(whole / "solves.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


def test_resume_refuses_another_seed(
    scenario_path: Path, tmp_path: Path, small: LoadedScenario
) -> None:
    out = tmp_path / "run"
    run_ensemble(small, replications=1, seed=1, store=out)
    res = runner.invoke(
        app,
        [
            "run",
            str(scenario_path),
            "--replications",
            "2",
            "--seed",
            "2",
            "--out",
            str(out),
            "--resume",
            *SETS,
        ],
    )
    assert res.exit_code == 2
    assert "cannot resume" in res.output and "root_seed" in res.output
    fresh = runner.invoke(
        app,
        ["run", str(scenario_path), "--replications", "2", "--seed", "1", "--out", str(out), *SETS],
    )
    assert fresh.exit_code == 2
    assert "interrupted ensemble" in fresh.output


def test_unit_tables_off_writes_no_probability_tables(tmp_path: Path) -> None:
    """``outputs.unit_tables: false`` is read: no per-unit tables, the rest as usual."""
    tiny = Path(__file__).resolve().parents[2] / "scenarios" / "tiny.yaml"
    out = tmp_path / "run"
    args = ["run", str(tiny), "--replications", "2", "--out", str(out), "--quiet"]
    res = runner.invoke(
        app, [*args, "--set", "outputs.unit_tables=false", "--set", "outputs.report=false"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "attainment.csv").exists()
    assert not (out / "county_probabilities.parquet").exists()
    assert not (out / "township_probabilities.parquet").exists()
