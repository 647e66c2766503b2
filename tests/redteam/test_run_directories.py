"""Red team (issue 16): run directories that defend themselves.

One test per failure mode found by the adversarial session: each attack must give a one-line
error and a non-zero exit (nothing written outside the directory's own in-progress state), or
work; never a traceback or a silently different result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from redteam_helpers import SCENARIO
from typer.testing import CliRunner

import policysim.experiments.outputs
from policysim.cli import app
from policysim.errors import ScenarioError
from policysim.experiments import run_ensemble
from policysim.experiments.rundir import (
    LOCK_FILE,
    MARKER_FILE,
    RunDirectory,
    directory_state,
    lock_held,
)
from policysim.experiments.store import PARTS_DIR, PartsStore

runner = CliRunner()


def _sets(overrides: tuple[str, ...]) -> list[str]:
    return [a for s in overrides for a in ("--set", s)]


def _cli(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def _one_line_error(code: int, output: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


def _policysim() -> str:
    return str(Path(sys.executable).with_name("policysim"))


def _run(out: Path, tiny: tuple[str, ...], *extra: str, n: int = 4) -> tuple[int, str]:
    return _cli("run", SCENARIO, "--replications", str(n), "--out", out, "--quiet",
                *_sets(tiny), *extra)  # fmt: skip


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


# -- one writer per directory ---------------------------------------------------------------------


def test_second_run_into_a_running_directory_is_refused(
    tiny: tuple[str, ...], tmp_path: Path
) -> None:
    """Two runs started into one --out: the second is refused while the first holds the lock;
    after kill -9 of the first, the lock is stale (not held) and --resume continues."""
    out = tmp_path / "run"
    base = [_policysim(), "run", str(SCENARIO), "--seed", "5", "--quiet", *_sets(tiny)]
    first = subprocess.Popen(
        [*base, "--replications", "400", "--out", str(out)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not lock_held(out) or not (out / PARTS_DIR / "config.json").is_file():
            assert first.poll() is None, "the first run ended early"
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        code, output = _cli("run", SCENARIO, "--replications", "60", "--seed", "6", "--out",
                            out, "--quiet", *_sets(tiny))  # fmt: skip
        _one_line_error(code, output)
        assert "another policysim command is writing" in output and str(first.pid) in output
        assert directory_state(out).state == "running"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not lock_held(out)  # a dead holder leaves no live lock
    assert directory_state(out).state in ("in progress", "damaged")
    code, output = _cli("run", SCENARIO, "--replications", "8", "--seed", "5", "--out", out,
                        "--quiet", "--resume", *_sets(tiny))  # fmt: skip
    assert code == 0, output
    seeds = pd.read_csv(out / "draws.csv")["replication"].tolist()
    assert seeds == list(range(8))  # no run stored twice
    assert directory_state(out).state == "complete"


def test_foreign_folder_is_refused_and_untouched(tiny: tuple[str, ...], tmp_path: Path) -> None:
    """--out into a folder policysim did not create: refused, the user's files unchanged; with
    --force the run writes, and keeps the files it did not write (in .parts/ too)."""
    out = tmp_path / "mine"
    (out / PARTS_DIR).mkdir(parents=True)
    (out / "report.html").write_text("my report", encoding="utf-8")
    (out / "notes.txt").write_text("my notes", encoding="utf-8")
    (out / PARTS_DIR / "keep.txt").write_text("mine", encoding="utf-8")
    before = _tree(out)
    code, output = _run(out, tiny)
    _one_line_error(code, output)
    assert "not made by policysim" in output and "--force" in output
    assert _tree(out) == before
    code, output = _run(out, tiny, "--force")
    assert code == 0, output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert (out / PARTS_DIR / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "report.html").read_text(encoding="utf-8") != "my report"  # --force asked


def test_complete_directory_is_not_overwritten(tiny: tuple[str, ...], tmp_path: Path) -> None:
    """A second run into a finished directory without --resume/--force exits non-zero and
    leaves the first run's files unchanged; --resume says it is complete (exit 0)."""
    out = tmp_path / "run"
    assert _run(out, tiny)[0] == 0
    before = _tree(out)
    code, output = _run(out, tiny, "--seed", "9", n=2)
    _one_line_error(code, output)
    assert "holds a complete run" in output
    assert _tree(out) == before
    code, output = _run(out, tiny, "--resume")
    assert code == 0 and "already complete" in output, output
    code, output = _run(out, tiny, "--resume", "--seed", "9")
    _one_line_error(code, output)
    assert "root seed changed" in output
    assert _tree(out) == before


def test_force_removes_the_previous_runs_stale_files(tmp_path: Path) -> None:
    """--force over an earlier policysim run deletes the files that run recorded as its own
    (an old failures.csv does not stay beside a clean run), and nothing else."""
    out = tmp_path / "run"
    with RunDirectory(out, command="run") as rd:
        (out / "failures.csv").write_text("replication,error\n0,x\n", encoding="utf-8")
        (out / "metrics.parquet").write_bytes(b"old")
        rd.complete({"failures": out / "failures.csv", "metrics": out / "metrics.parquet"})
    (out / "user.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(ScenarioError, match="holds a complete run"):
        RunDirectory(out, command="run").__enter__()
    with RunDirectory(out, command="run", force=True):
        assert not (out / "failures.csv").exists() and not (out / "metrics.parquet").exists()
        assert (out / "user.txt").is_file()
    assert json.loads((out / MARKER_FILE).read_text())["state"] == "in progress"


def test_failed_start_leaves_no_directory(tmp_path: Path) -> None:
    """An error before any run (an infeasible allocation) creates nothing."""
    out = tmp_path / "new" / "run"
    code, output = _cli("run", SCENARIO, "--out", out, "--set", "allocation.floor_100m_cny=1.0")
    _one_line_error(code, output)
    assert not out.exists()


# -- output paths checked before any work ---------------------------------------------------------


def _bad_outs(tmp_path: Path) -> list[Path]:
    afile = tmp_path / "a_file"
    afile.write_text("x", encoding="utf-8")
    return [afile, afile / "below", Path("/dev/null"), Path("/proc/self"), Path("/proc/x/run")]


@pytest.mark.parametrize("command", ["run", "compare", "hindcast", "frontier", "sensitivity"])
def test_bad_output_paths_give_one_line_errors(command: str, tmp_path: Path) -> None:
    observed = SCENARIO.parent / "observed" / "jiangxi_2017.csv"
    extra = {
        "run": [],
        "compare": [SCENARIO],
        "hindcast": ["--observed", observed],
        "frontier": ["--budgets", "2,4"],
        "sensitivity": [],
    }[command]
    for out in _bad_outs(tmp_path):
        code, output = _cli(command, SCENARIO, *extra, "--out", out, "--quiet")
        _one_line_error(code, output)
        assert "--out" in output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, output = _cli("run", SCENARIO, "--out", ro / "run", "--quiet")
        _one_line_error(code, output)
        assert "not writable" in output
    finally:
        ro.chmod(0o755)


def test_calibrate_output_file_checked(tmp_path: Path) -> None:
    observed = SCENARIO.parent / "observed" / "jiangxi_2017.csv"
    for out in (tmp_path, Path("/dev/null"), tmp_path / "x" / "y.yaml"):
        if out == tmp_path / "x" / "y.yaml":
            (tmp_path / "x").write_text("a file", encoding="utf-8")
        code, output = _cli("calibrate", SCENARIO, "--observed", observed, "--out", out)
        _one_line_error(code, output)


@pytest.mark.parametrize("command", ["hindcast", "calibrate"])
def test_observed_directory_or_device_refused(command: str, tmp_path: Path) -> None:
    for observed in (tmp_path, Path("/dev/zero")):
        code, output = _cli(command, SCENARIO, "--observed", observed, "--quiet")
        _one_line_error(code, output)
        assert "--observed" in output
    assert list(tmp_path.iterdir()) == []


# -- resume: the key covers the data, parts are checksummed ---------------------------------------


def _interrupted(out: Path, overrides: tuple[str, ...], n: int = 6) -> None:
    """A store as a run killed after its first chunk leaves it."""
    run_ensemble(SCENARIO, replications=n, seed=3, store=out, overrides=overrides)
    parts = sorted((out / PARTS_DIR).glob("part-*.parquet"))
    assert len(parts) >= 2
    for p in parts[1:]:
        p.unlink()


def test_resume_after_changed_baseline_is_refused(
    tiny: tuple[str, ...], baseline_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _interrupted(out, tiny)
    economy = pd.read_csv(baseline_dir / "county_economy.csv")
    economy["gdp_cny"] *= 3
    economy.to_csv(baseline_dir / "county_economy.csv", index=False)
    code, output = _cli("run", SCENARIO, "--replications", "6", "--seed", "3", "--out", out,
                        "--resume", "--quiet", *_sets(tiny))  # fmt: skip
    _one_line_error(code, output)
    assert "baseline data changed" in output and "county_economy.csv" in output
    assert not (out / "metrics.parquet").exists()


def test_flipped_byte_in_a_part_is_detected_and_recomputed(
    tiny: tuple[str, ...], tmp_path: Path
) -> None:
    """64 flipped bytes in a stored part: status names it as damaged; --resume recomputes the
    chunk (deterministic runs) and gives the uninterrupted results."""
    whole = run_ensemble(SCENARIO, replications=6, seed=3, overrides=tiny)
    out = tmp_path / "run"
    _interrupted(out, tiny)
    part = sorted((out / PARTS_DIR).glob("part-*.parquet"))[0]
    data = bytearray(part.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    part.write_bytes(bytes(data))
    state = directory_state(out)
    assert state.state == "damaged" and part.name in state.detail
    code, output = _cli("run", SCENARIO, "--replications", "6", "--seed", "3", "--out", out,
                        "--resume", "--quiet", *_sets(tiny))  # fmt: skip
    assert code == 0, output
    keys = ["replication", "year", "level", "code", "metric"]

    def ordered(frame: pd.DataFrame) -> np.ndarray:
        text = frame.astype({"level": str, "code": str, "metric": str})
        return text.sort_values(keys)["value"].to_numpy()

    got = pd.read_parquet(out / "metrics.parquet")
    assert sorted(got["replication"].unique()) == list(range(6))
    np.testing.assert_array_equal(ordered(got), ordered(whole.read_metrics()))


@pytest.mark.parametrize("kind", ["kept", "units", "runs", "part"])
@pytest.mark.parametrize("damage", ["truncate", "empty", "delete"])
def test_damaged_store_files_are_recomputed(
    kind: str, damage: str, tiny: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _interrupted(out, tiny, n=4)
    path = sorted((out / PARTS_DIR).glob(f"{kind}-*.parquet"))[0]
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    res = run_ensemble(SCENARIO, replications=4, seed=3, store=out, resume=True, overrides=tiny)
    assert res.n_runs == 4 and res.n_failed == 0
    assert PartsStore(out).damaged_chunks() == []


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_bad_resume_key_file_is_a_one_line_error(
    content: str, tiny: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _interrupted(out, tiny, n=4)
    (out / PARTS_DIR / "config.json").write_text(content, encoding="utf-8")
    code, output = _cli("run", SCENARIO, "--replications", "4", "--seed", "3", "--out", out,
                        "--resume", "--quiet", *_sets(tiny))  # fmt: skip
    _one_line_error(code, output)
    assert "config.json" in output


def test_kill_during_final_writes_then_resume(
    tiny: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while the final files are written (some written, no manifest): the directory is
    in progress, and --resume completes it with the uninterrupted results."""
    whole = tmp_path / "whole"
    assert _run(whole, tiny, "--seed", "2")[0] == 0
    out = tmp_path / "run"
    real = policysim.experiments.outputs.build_manifest

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as a kill between the tables and the manifest

    monkeypatch.setattr(policysim.experiments.outputs, "build_manifest", killed)
    res = runner.invoke(app, ["run", str(SCENARIO), "--replications", "4", "--seed", "2",
                              "--out", str(out), "--quiet", *_sets(tiny)])  # fmt: skip
    assert res.exit_code != 0
    assert (out / "draws.csv").is_file() and not (out / "manifest.json").exists()
    assert directory_state(out).state == "in progress"
    monkeypatch.setattr(policysim.experiments.outputs, "build_manifest", real)
    code, output = _run(out, tiny, "--seed", "2", "--resume")
    assert code == 0, output
    assert directory_state(out).state == "complete"
    for name in ("metrics.parquet", "county_probabilities.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(whole / name))
    pd.testing.assert_frame_equal(pd.read_csv(out / "draws.csv"), pd.read_csv(whole / "draws.csv"))


def test_disk_full_is_one_line_and_resumable(
    tiny: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    real = policysim.experiments.outputs.write_bytes

    def full(path: Path, data: bytes) -> None:
        if path.name == "manifest.json":
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(policysim.experiments.outputs, "write_bytes", full)
    code, output = _run(out, tiny)
    _one_line_error(code, output)
    assert "No space left on device" in output and "--resume" in output
    monkeypatch.setattr(policysim.experiments.outputs, "write_bytes", real)
    assert _run(out, tiny, "--resume")[0] == 0
    assert directory_state(out).state == "complete"


def test_status_of_complete_directory_detects_changed_file(
    tiny: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert _run(out, tiny)[0] == 0
    code, output = _cli("status", out)
    assert code == 0 and output.startswith("complete"), output
    with (out / "draws.csv").open("a", encoding="utf-8") as fh:
        fh.write("tampered\n")
    code, output = _cli("status", out)
    assert code == 2 and "damaged" in output and "draws.csv" in output
    code, output = _cli("status", tmp_path / "nowhere")
    assert code == 2 and "missing" in output
