"""The one engine: levers and extra plans are run specifications like parameter draws, with the
same seeds, backends and results whatever the number of workers; no study starts its own pool."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policysim
from policysim.errors import ScenarioError
from policysim.experiments import Engine, run_ensemble
from policysim.experiments.design import run_seed, synthesis_seed_of
from policysim.scenario import INSTRUMENT_NAMES
from policysim.scenario.levers import LEVER_BUDGET, LEVER_WEIGHTS, apply_levers
from policysim.simulation import simulate

SRC = Path(__file__).resolve().parents[2] / "src" / "policysim"


def _province(result: policysim.EnsembleResult, metric: str) -> pd.Series:
    m = result.metrics
    rows = m[(m["level"] == "province") & (m["metric"] == metric)]
    return rows.set_index(["replication", "year"])["value"].sort_index()


def test_levers_apply_run_by_run(tiny: policysim.LoadedScenario) -> None:
    """A lever column changes exactly its run: budget scale 0.5 halves the province's funds in
    that run, and a run at scale 1 equals the unlevered ensemble's run with the same seed."""
    draws = pd.DataFrame({LEVER_BUDGET: [1.0, 0.5, 1.0]})
    levered = run_ensemble(tiny, draws=draws, seed=3)
    plain = run_ensemble(tiny, replications=3, seed=3)
    funds = "funds_100m_cny"
    a, b = _province(levered, funds), _province(plain, funds)
    # (scale 1 multiplies the budget series by 1.0: equal to rounding)
    np.testing.assert_allclose(a.loc[0].to_numpy(), b.loc[0].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.loc[2].to_numpy(), b.loc[2].to_numpy(), rtol=1e-12)
    assert (a.loc[1].to_numpy() < b.loc[1].to_numpy()).any()
    # known answer: run 1 is the levered scenario simulated with run 1's seeds
    sc = apply_levers(tiny.scenario, {LEVER_BUDGET: 0.5})
    assert sc.budget_cny(2018) == pytest.approx(0.5 * tiny.scenario.budget_cny(2018))
    direct = simulate(
        sc,
        run_seed(3, 1),
        synthesis_seed=synthesis_seed_of(sc.baseline, 3, 1),
    ).metrics
    rows = direct[(direct["level"] == "province") & (direct["metric"] == funds)]
    np.testing.assert_allclose(a.loc[1].to_numpy(), rows["value"].to_numpy(), rtol=1e-12)


def test_levers_identical_for_any_worker_count(tiny: policysim.LoadedScenario) -> None:
    draws = pd.DataFrame({LEVER_BUDGET: [0.6, 1.4, 1.0, 0.8]})
    one = run_ensemble(tiny, draws=draws, seed=9, workers=1)
    two = run_ensemble(tiny, draws=draws, seed=9, workers=2)
    for metric in ("funds_100m_cny", "rd_expenditure_100m_cny"):
        pd.testing.assert_series_equal(_province(one, metric), _province(two, metric))


def test_shared_engine_gives_the_same_runs(tiny: policysim.LoadedScenario) -> None:
    """Several ensembles on one engine (workers started once) equal separate ensembles."""
    extra = np.zeros((tiny_counties(tiny), len(INSTRUMENT_NAMES)))
    with Engine(2, None) as engine:
        shared = run_ensemble(tiny, replications=4, seed=2, engine=engine)
        again = run_ensemble(tiny, replications=4, seed=2, engine=engine, extra_cny=extra)
    alone = run_ensemble(tiny, replications=4, seed=2)
    m = "rd_expenditure_100m_cny"
    pd.testing.assert_series_equal(_province(shared, m), _province(alone, m))
    pd.testing.assert_series_equal(_province(again, m), _province(alone, m))


def tiny_counties(tiny: policysim.LoadedScenario) -> int:
    m = simulate(tiny, 0).metrics
    county = m[(m["level"] == "county") & (m["year"] == m["year"].min())]
    return int(county["code"].nunique())


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"lever_budget": [1.0]}, "unknown lever"),
        ({LEVER_WEIGHTS[0]: [1.0]}, "weights are levers together"),
    ],
)
def test_bad_lever_columns_are_refused(
    tiny: policysim.LoadedScenario, columns: dict[str, list[float]], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        run_ensemble(tiny, draws=pd.DataFrame(columns), seed=1)


def test_no_study_starts_its_own_pool() -> None:
    """Process pools and Dask clients are the engine's alone (experiments/runner.py)."""
    starts = re.compile(r"ProcessPoolExecutor\(|multiprocessing\.Pool\(|\bClient\(")
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "runner.py" and starts.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_workers_keep_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc accepts the allocator settings (it refuses an mmap threshold above 32 MiB, which
    would silently leave the workers faulting memory in every year); the variable turns it off."""
    import platform
    import sys

    from policysim._memory import keep_freed_memory

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert keep_freed_memory() is True
    monkeypatch.setenv("POLICYSIM_KEEP_MEMORY", "0")
    assert keep_freed_memory() is False


def test_an_api_store_is_locked(tiny: policysim.LoadedScenario, tmp_path: Path) -> None:
    """Two ensembles streaming into one folder from Python: the second is refused, nothing of
    it is written, and a finished ensemble leaves no lock behind."""
    from policysim.experiments.rundir import StoreLock
    from policysim.experiments.store import PARTS_DIR

    store = tmp_path / "run"
    holder = StoreLock(store / PARTS_DIR)
    holder.acquire()
    try:
        with pytest.raises(ScenarioError, match="another ensemble is writing"):
            run_ensemble(tiny, replications=2, seed=1, store=store)
        assert not list((store / PARTS_DIR).glob("*.parquet"))
    finally:
        holder.release()
    result = run_ensemble(tiny, replications=2, seed=1, store=store)
    assert result.n_runs == 2
    assert not (store / PARTS_DIR / ".lock").exists()


def test_an_engine_the_ensemble_started_is_closed_when_setting_up_fails(
    tiny: policysim.LoadedScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_ensemble closes the engine it started whatever step raises, including the run
    design (it did not: the design was built outside the guarded blocks)."""
    closed: list[Engine] = []
    real_close = Engine.close

    def close(self: Engine) -> None:
        closed.append(self)
        real_close(self)

    def broken_design(*args: object, **kwargs: object) -> None:
        raise RuntimeError("design failed")

    monkeypatch.setattr(Engine, "close", close)
    monkeypatch.setattr("policysim.experiments.runner.RunDesign", broken_design)
    with pytest.raises(RuntimeError, match="design failed"):
        run_ensemble(tiny, replications=2, seed=1)
    assert len(closed) == 1


def test_the_command_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``policysim`` command sets the allocator for its own process (it runs the model
    itself with one worker), before it runs the command."""
    import sys

    import policysim.cli as cli

    calls: list[str] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("set") or True)
    monkeypatch.setattr(sys, "argv", ["policysim", "validate", "scenarios/jiangxi_baseline.yaml"])
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 0
    assert calls == ["set"]
