"""Red team (issue 16): workers, inputs, the cache, and text from scenarios.

One test per failure mode: a dead worker fails only its run; workers die with their parent; the
Python API runs without a ``__main__`` guard; bad inputs and counts give one-line errors; the
response/plan cache cannot be made to lie; scenario text is data on the terminal and in CSVs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redteam_killer
from redteam_helpers import SCENARIO
from typer.testing import CliRunner

import policysim
import policysim.coupling as coupling
import policysim.experiments.runner as runner_module
from policysim.cli import app
from policysim.experiments import run_ensemble
from policysim.experiments.outputs import spreadsheet_safe
from policysim.scenario import load_scenario

runner = CliRunner()


def _sets(overrides: tuple[str, ...]) -> list[str]:
    return [a for s in overrides for a in ("--set", s)]


def _cli(*args: object) -> tuple[int, str]:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def _one_line_error(code: int, output: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


# -- workers --------------------------------------------------------------------------------------


def test_dead_worker_fails_only_its_run(
    tiny: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process that dies (os._exit, as an OOM kill) is a failed run, recorded like a
    run that raised; the other runs complete with the numbers of a serial ensemble."""
    serial = run_ensemble(SCENARIO, replications=6, seed=1, overrides=tiny)
    monkeypatch.setattr(runner_module, "run_chunk", redteam_killer.deadly_run_chunk)
    res = run_ensemble(SCENARIO, replications=6, seed=1, workers=2, overrides=tiny)
    assert res.n_runs == 6
    assert res.failures["replication"].tolist() == [redteam_killer.DEADLY_RUN]
    assert "worker process" in str(res.failures["error"].iloc[0])
    keep = serial.metrics[serial.metrics["replication"] != redteam_killer.DEADLY_RUN]
    pd.testing.assert_frame_equal(
        res.metrics.astype(dict.fromkeys(("level", "code", "name", "metric"), str)),
        keep.reset_index(drop=True).astype(dict.fromkeys(("level", "code", "name", "metric"), str)),
    )


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_workers_die_with_their_parent(sig: int, tiny: tuple[str, ...], tmp_path: Path) -> None:
    """kill -9 (or Ctrl-C) of `policysim run --workers 2`: no worker process is left."""
    exe = str(Path(sys.executable).with_name("policysim"))
    proc = subprocess.Popen(
        [exe, "run", str(SCENARIO), "--replications", "2000", "--workers", "2", "--quiet",
         "--out", str(tmp_path / "run"), *_sets(tiny)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline:
            workers = [
                c
                for c in _children(proc.pid)
                if "multiprocessing" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
                and "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
            ]
            if len(workers) >= 2 and list((tmp_path / "run" / ".parts").glob("part-*")):
                break
            assert proc.poll() is None, "the run ended early"
            time.sleep(0.1)
        else:
            pytest.fail("the workers never started")
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "a worker outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_api_without_main_guard_works(tiny: tuple[str, ...], tmp_path: Path) -> None:
    """A script calling the ensemble with workers and no `if __name__ == "__main__":` guard."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from policysim.experiments import run_ensemble
            res = run_ensemble({str(SCENARIO)!r}, replications=4, workers=2, overrides={tiny!r})
            print("RUNS", res.n_runs, res.n_failed)
            """
        ),
        encoding="utf-8",
    )
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("RUNS") == 1 and "RUNS 4 0" in res.stdout


# -- inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", SCENARIO, "--replications", str(10**9)],
        ["run", SCENARIO, "--workers", "1000000"],
        ["run", SCENARIO, "--workers", "0"],
        ["run", SCENARIO, "--scheduler", "not a url"],
        ["frontier", SCENARIO, "--budgets", "2:10:100000000"],
        ["run", SCENARIO, "--set", "ensemble.batch_size=1000000000"],
        ["run", SCENARIO, "--set", "extends=jiangxi_equal.yaml"],
        ["run", SCENARIO, "--set", "policy.hnte.regimes=[]"],
        ["run", SCENARIO, "--set", "a." * 5000 + "b=1"],
        [
            "run",
            SCENARIO,
            "--set",
            "uncertainties.firm_entry_rate={distribution: uniform, low: 0.03, high: 0.1, "
            "mean: 0.05}",
        ],
        [
            "run",
            SCENARIO,
            "--set",
            "uncertainties.firm_entry_rate={distribution: uniform, low: -1.0e+300, high: 1.0e+300}",
        ],
    ],
    ids=[
        "replications",
        "workers-huge",
        "workers-zero",
        "scheduler",
        "frontier-budgets",
        "batch-size",
        "set-extends",
        "empty-regimes",
        "deep-set",
        "stray-mean",
        "huge-bounds",
    ],
)
def test_bad_inputs_give_one_line_errors(args: list[object], tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, output = _cli(*args, "--out", out, "--quiet")
    _one_line_error(code, output)
    assert not out.exists()


def test_scenario_without_uncertainties_runs(tiny: tuple[str, ...]) -> None:
    res = run_ensemble(SCENARIO, replications=3, overrides=(*tiny, "uncertainties={}"))
    assert res.n_runs == 3 and res.n_failed == 0
    # no draws: every run uses the default values (only the seeds differ)
    assert list(res.draws.columns) == ["replication", "seed_key"]


def test_non_finite_state_fails_the_run_naming_unit_and_year(
    tiny: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN in a county's state stops the run, naming the unit and year: it fails (recorded,
    exit 1), never a NaN counted as "target missed". (A zero GDP, the session's way to make
    one, is now refused at load: tests/redteam/test_baseline_inputs.py.)"""
    import policysim.simulation as simulation
    from policysim.experiments.worker import check_finite

    sc = load_scenario(SCENARIO, tiny).scenario
    result = simulation.simulate(sc, 0)
    check_finite(result.columns)  # a normal run passes
    cols = result.columns
    county = np.flatnonzero((cols.level == 1) & (cols.year == 2019))[0]
    province = np.flatnonzero((cols.level == 0) & (cols.year == 2018))[0]
    cols.value[[county, province]] = np.nan
    with pytest.raises(FloatingPointError, match=r"non-finite .* for county 9901\d\d .* in 2019"):
        check_finite(cols)

    real = simulation.simulate

    def poisoned(*args: object, **kwargs: object) -> simulation.SimulationResult:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        out.columns.value[-1] = np.inf
        return out

    monkeypatch.setattr(simulation, "simulate", poisoned)
    res = run_ensemble(SCENARIO, replications=2, overrides=tiny)
    assert res.n_failed == 2
    assert res.failures["error"].str.contains("non-finite").all()
    assert len(res.metrics) == 0  # no row of a failed run is kept


def test_validate_runs_the_preflight_checks() -> None:
    code, output = _cli("validate", SCENARIO, "--set", "allocation.floor_100m_cny=1.0")
    assert code == 2 and "INVALID" in output and "floors" in output
    code, output = _cli("validate", SCENARIO)
    assert code == 0 and output.startswith("ok"), output


# -- the cache ------------------------------------------------------------------------------------


def test_cache_lives_in_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYSIM_CACHE")
    folder = coupling.cache_dir(create=False)
    assert not str(folder).startswith("/tmp")
    assert "policysim" in str(folder)


def test_cache_key_follows_the_baseline_files(baseline_dir: Path) -> None:
    sc = load_scenario(SCENARIO, (f"baseline.source={baseline_dir}",)).scenario
    before = coupling._cache_key(sc, "optimal-plan")
    economy = pd.read_csv(baseline_dir / "county_economy.csv")
    economy["gdp_cny"] *= 3
    economy.to_csv(baseline_dir / "county_economy.csv", index=False)
    assert coupling._cache_key(sc, "optimal-plan") != before


def test_cache_key_covers_every_source_file_of_the_model_and_allocation() -> None:
    """The code part of the cache key hashes every module of the layers a cached curve or plan
    depends on, packages included (``model.py`` became the package ``model/``: a glob of the
    old file name would have left the model out of the key, and stale plans in use)."""
    root = Path(policysim.__file__).parent
    hashed = set(coupling.fingerprint_files())
    for name in coupling.FINGERPRINT_LAYERS:
        expected = [root / f"{name}.py"] if (root / f"{name}.py").is_file() else []
        expected += list((root / name).rglob("*.py")) if (root / name).is_dir() else []
        assert expected, name
        assert set(expected) <= hashed, name
    assert root / "model" / "core.py" in hashed


def test_tampered_cached_plan_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached plan altered on disk (flipped bytes, or twice the budget with a recomputed
    checksum) is never used: it is solved again and the same plan comes back."""
    sc = load_scenario(SCENARIO.with_name("jiangxi_optimal.yaml")).scenario
    coupling._PLANS.clear()  # solved by an earlier test into another cache folder
    coupling._RESPONSES.clear()
    plan, _ = coupling.optimal_plan_for(sc)
    key = coupling._cache_key(sc, "optimal-plan")
    path = coupling.cache_dir() / f"plan-{key}.npz"
    assert path.is_file()
    with np.load(path) as z:
        solve = z["solve"]
    coupling._save_npz(path, {"plan": plan * 2.0, "solve": solve}, key)  # valid checksum
    coupling._PLANS.clear()
    again, _ = coupling.optimal_plan_for(sc)
    np.testing.assert_allclose(again, plan)
    # a flipped byte: the checksum fails, the entry is dropped
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF
    path.write_bytes(bytes(data))
    assert coupling._load_npz(path, key) is None and not path.exists()
    code, output = _cli("cache", "list")
    assert code == 0 and "entries" in output
    code, output = _cli("cache", "clear")
    assert code == 0 and "removed" in output
    assert coupling.cache_entries() == []


# -- text from scenarios is data ------------------------------------------------------------------


def test_csv_cells_are_neutralised() -> None:
    frame = pd.DataFrame(
        {"target": ["=HYPERLINK(1)", "+1", "-x", "@SUM", "ok", "\tx"], "value": [-1.0] * 6}
    )
    safe = spreadsheet_safe(frame)
    assert safe["target"].tolist() == ["'=HYPERLINK(1)", "'+1", "'-x", "'@SUM", "ok", "'\tx"]
    assert safe["value"].tolist() == [-1.0] * 6  # numbers untouched


def test_target_names_are_escaped_on_the_terminal_and_in_csv(tmp_path: Path) -> None:
    evil = "=[b]\x1b[31mX"
    scenario = tmp_path / "evil.yaml"
    scenario.write_text(
        textwrap.dedent(
            f"""
            extends: {SCENARIO}
            metadata: {{name: evil}}
            targets:
              - {{name: {evil!r}, metric: provincial_innovative_counties, comparator: ">=",
                 threshold: 1, year: 2020}}
            horizon: {{end_year: 2020}}
            """
        ).replace("'", "'"),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    code, output = _cli("run", scenario, "--replications", "2", "--out", out)
    assert code == 0, output
    assert "\x1b" not in output and "\\x1b" in output
    assert "=[b]" in output  # shown, not interpreted as markup
    att = pd.read_csv(out / "attainment.csv")
    assert att["target"].iloc[0].startswith("'=")
