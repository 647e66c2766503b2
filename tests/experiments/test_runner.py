"""The ensemble runner: determinism over backends, failures, precision batches, explicit draws,
unit probabilities from per-chunk counts, resume."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import policysim.simulation
from policysim.analysis import attainment, max_half_width, unit_probabilities
from policysim.errors import InfeasibleAllocationError, ScenarioError
from policysim.experiments import ChunkTask, EnsembleResult, report_years, run_chunk, run_ensemble
from policysim.experiments.design import synthesis_seed_of
from policysim.experiments.runner import Engine
from policysim.experiments.store import PARTS_DIR
from policysim.scenario import LoadedScenario

N = 4
#: What ``EnsembleResult.unit_probabilities(level)`` reports, per level.
INDICATOR = {"county": "designated", "township": "innovative"}


def _same(a: EnsembleResult, b: EnsembleResult) -> None:
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    pd.testing.assert_frame_equal(a.attainment(), b.attainment())
    pd.testing.assert_frame_equal(
        a.solves.drop(columns="seconds"), b.solves.drop(columns="seconds")
    )
    for level in INDICATOR:
        pd.testing.assert_frame_equal(a.unit_probabilities(level), b.unit_probabilities(level))


def _from_rows(result: EnsembleResult, rows: pd.DataFrame, level: str) -> pd.DataFrame:
    """Unit probabilities computed from full unit rows (what the counts must reproduce)."""
    years = report_years(result.loaded.scenario)
    return unit_probabilities(rows, INDICATOR[level], level, years)


@pytest.fixture(scope="module")
def serial(small: LoadedScenario) -> EnsembleResult:
    return run_ensemble(small, replications=N, seed=11)


def test_serial_result_shape(serial: EnsembleResult) -> None:
    m = serial.metrics
    assert sorted(m["replication"].unique().tolist()) == list(range(N))
    levels = set(m["level"].astype(str))
    assert levels == {"province", "county", "township"}
    assert set(m.loc[m["level"] == "township", "metric"].astype(str)) == {"innovative"}
    assert serial.failures.empty
    assert serial.draws["seed_key"].tolist() == [f"({i},)" for i in range(N)]
    assert serial.allocations is not None
    assert set(serial.allocations["replication"]) == set(range(N))
    att = serial.attainment()
    assert list(att["target"]) == [t.name for t in serial.loaded.scenario.targets]
    assert (att["n_runs"] == N).all()
    counties = serial.unit_probabilities("county")
    assert {"code", "name", "p_2020", "p_2030"} <= set(counties.columns)
    assert len(counties) == 100


def test_in_memory_unit_probabilities_equal_those_of_the_rows(serial: EnsembleResult) -> None:
    """The per-chunk counts reproduce the table computed from every run's unit rows."""
    assert serial.unit_counts is not None
    for level in INDICATOR:
        expected = _from_rows(serial, serial.metrics, level)
        pd.testing.assert_frame_equal(serial.unit_probabilities(level), expected)
        assert (expected["n_runs"] == N).all()
    township = serial.unit_probabilities("township")
    # not a degenerate comparison: some townships differ between runs
    assert ((township["p_2030"] > 0) & (township["p_2030"] < 1)).any()


def test_chunk_returns_province_rows_and_counts_of_fixed_size(small: LoadedScenario) -> None:
    """A chunk sends province rows (the results) and unit counts whose size does not grow with
    its runs; the counts add up to the runs' unit rows."""
    years = report_years(small.scenario)

    def chunk(runs: tuple[int, ...]) -> Any:
        return run_chunk(
            ChunkTask(
                scenario=small.scenario,
                root_seed=11,
                runs=runs,
                params=tuple({} for _ in runs),
                keep_years=years,
                stream=True,
            )
        )

    one, two = chunk((0,)), chunk((1, 2))
    for out in (one, two):
        assert set(out.kept["level"].astype(str)) == {"province"}
        assert len(out.kept["code"].cat.categories) == 1  # no county/township codes carried
    assert len(two.kept) == 2 * len(one.kept)
    keys = ["level", "metric", "year", "code"]
    pd.testing.assert_frame_equal(one.units.cells[keys], two.units.cells[keys])
    assert set(one.units.cells["year"]) == set(years)
    assert (one.units.cells["n"] == 1).all() and (two.units.cells["n"] == 2).all()
    assert one.units.runs["n_runs"].tolist() == [1, 1, 1]
    assert two.units.runs["n_runs"].tolist() == [2, 2, 2]


def test_run_i_is_simulate_with_its_seed_and_draw(serial: EnsembleResult) -> None:
    """Run 2 of the ensemble equals simulate() with SeedSequence(seed, spawn_key=(2,)), its draw
    and its synthesis seed."""
    sc = serial.loaded.scenario
    row = serial.draws.iloc[2]
    params = {k: float(row[k]) for k in sc.uncertainties}
    one = policysim.simulation.simulate(
        sc,
        np.random.SeedSequence(11, spawn_key=(2,)),
        params=params,
        synthesis_seed=synthesis_seed_of(sc.baseline, 11, 2),
    )
    prov = one.metrics[one.metrics["level"] == "province"]
    mine = serial.metrics[
        (serial.metrics["replication"] == 2) & (serial.metrics["level"] == "province")
    ]
    np.testing.assert_array_equal(prov["value"].to_numpy(), mine["value"].to_numpy())


def test_two_workers_identical(serial: EnsembleResult, small: LoadedScenario) -> None:
    two = run_ensemble(small, replications=N, seed=11, workers=2)
    _same(serial, two)


def test_streamed_to_store_identical(
    serial: EnsembleResult, small: LoadedScenario, tmp_path: Path
) -> None:
    streamed = run_ensemble(small, replications=N, seed=11, store=tmp_path / "run")
    assert streamed.allocations is None
    full = streamed.read_metrics()
    pd.testing.assert_frame_equal(
        full.astype(dict.fromkeys(("level", "code", "name", "metric"), str)).astype(
            {"year": np.int64, "replication": np.int64}
        ),
        serial.metrics.astype(dict.fromkeys(("level", "code", "name", "metric"), str)).astype(
            {"replication": np.int64}
        ),
    )
    pd.testing.assert_frame_equal(streamed.attainment(), serial.attainment())
    # only the province rows stay in memory; unit probabilities come from the counts
    assert set(streamed.metrics["level"].astype(str)) == {"province"}
    pd.testing.assert_frame_equal(
        streamed.metrics.astype(dict.fromkeys(("level", "code", "name", "metric"), str)),
        serial.metrics[serial.metrics["level"] == "province"]
        .reset_index(drop=True)
        .astype(dict.fromkeys(("level", "code", "name", "metric"), str)),
    )
    for level in INDICATOR:
        pd.testing.assert_frame_equal(
            streamed.unit_probabilities(level), serial.unit_probabilities(level)
        )
        pd.testing.assert_frame_equal(
            streamed.unit_probabilities(level), _from_rows(streamed, full, level)
        )
    kept = list((tmp_path / "run" / PARTS_DIR).glob("kept-*.parquet"))
    assert kept and all(set(pd.read_parquet(f)["level"].astype(str)) == {"province"} for f in kept)
    assert len(list((tmp_path / "run" / PARTS_DIR).glob("units-*.parquet"))) == len(kept)


def test_resume_gives_identical_unit_probabilities(
    serial: EnsembleResult, small: LoadedScenario, tmp_path: Path
) -> None:
    """Interrupted then resumed (with as many runs, or fewer, splitting a stored chunk) equals
    an uninterrupted ensemble; so does a store written before the units- files existed."""
    store = tmp_path / "run"
    run_ensemble(small, replications=6, seed=11, store=store)  # chunks 0-1, 2-3, 4-5
    parts = store / PARTS_DIR
    # interrupted after the first chunk: the others have no part- file, so they are redone
    for first_last in ("0000002-0000003", "0000004-0000005"):
        (parts / f"part-{first_last}.parquet").unlink()
    # the first chunk as an older version stored it: indicator rows kept, no units- file
    old = pd.read_parquet(parts / "part-0000000-0000001.parquet")
    years = report_years(small.scenario)
    old = old[
        (old["level"] == "province")
        | (old["metric"].isin(["designated", "national", "innovative"]) & old["year"].isin(years))
    ]
    old.to_parquet(parts / "kept-0000000-0000001.parquet")
    (parts / "units-0000000-0000001.parquet").unlink()

    resumed = run_ensemble(small, replications=N, seed=11, store=store, resume=True)
    assert not (parts / "part-0000004-0000005.parquet").exists()  # runs 4, 5 not redone
    pd.testing.assert_frame_equal(resumed.attainment(), serial.attainment())
    for level in INDICATOR:
        pd.testing.assert_frame_equal(
            resumed.unit_probabilities(level), serial.unit_probabilities(level)
        )

    # fewer runs than stored: the chunk 0-1 is split, its runs are recounted from its part
    one = run_ensemble(small, replications=1, seed=11, store=store, resume=True)
    first = serial.metrics[serial.metrics["replication"] == 0]
    for level in INDICATOR:
        pd.testing.assert_frame_equal(one.unit_probabilities(level), _from_rows(one, first, level))
    pd.testing.assert_frame_equal(one.attainment(), attainment(first, small.scenario.targets))


def test_process_pool_forgets_received_chunks(small: LoadedScenario) -> None:
    """The parent holds one chunk's output at a time, not every output of the batch."""
    tasks = [
        ChunkTask(
            scenario=small.scenario,
            root_seed=11,
            runs=(i,),
            params=({},),
            keep_years=report_years(small.scenario),
            stream=True,
        )
        for i in range(3)
    ]
    backend = Engine(workers=2, scheduler=None)
    try:
        seen: list[weakref.ref[Any]] = []
        for out in backend.run(tasks):
            seen.append(weakref.ref(out))
            del out
            gc.collect()
            # the generator holds the output it yielded last; the earlier ones are gone
            assert [ref() is None for ref in seen[:-1]] == [True] * (len(seen) - 1)
        assert len(seen) == len(tasks)
        gc.collect()
        assert all(ref() is None for ref in seen)
    finally:
        backend.close()


def test_dask_cluster_identical(serial: EnsembleResult, small: LoadedScenario) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        dask = run_ensemble(small, replications=N, seed=11, scheduler=cluster.scheduler_address)
    _same(serial, dask)


def test_other_seed_differs_and_common_random_numbers(
    serial: EnsembleResult, small: LoadedScenario
) -> None:
    other = run_ensemble(small, replications=2, seed=12)
    assert not np.allclose(other.draws["firm_entry_rate"], serial.draws["firm_entry_rate"].iloc[:2])
    # another scenario with the same uncertainties and seed: same seeds and draws
    variant = run_ensemble(small, replications=2, seed=11, overrides=("allocation.strategy=equal",))
    pd.testing.assert_frame_equal(variant.draws, serial.draws.iloc[:2])


def test_failures_recorded_and_others_continue(
    small: LoadedScenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = policysim.simulation.simulate

    def flaky(scenario: Any, seed: np.random.SeedSequence, **kw: Any) -> Any:
        if tuple(seed.spawn_key) == (1,):
            raise FloatingPointError("injected failure\nsecond line")
        return real(scenario, seed, **kw)

    monkeypatch.setattr(policysim.simulation, "simulate", flaky)
    res = run_ensemble(small, replications=3, seed=11)
    assert res.n_failed == 1
    assert res.failures.to_dict("records") == [
        {
            "replication": 1,
            "seed_key": "(1,)",
            "error": "FloatingPointError: injected failure second line",
        }
    ]
    assert sorted(res.metrics["replication"].unique().tolist()) == [0, 2]
    assert res.n_runs == 3
    assert (res.attainment()["n_runs"] == 2).all()


def test_precision_stops_at_cap(small: LoadedScenario) -> None:
    res = run_ensemble(small, replications=3, seed=5, precision=0.01)
    # batch_size 3, max_replications 9: 3 -> 6 -> 9 and the cap stops it
    assert res.n_runs == 9
    assert res.half_width is not None and res.half_width > 0.01


def test_precision_stops_when_reached(small: LoadedScenario) -> None:
    first = run_ensemble(small, replications=3, seed=5)
    hw = max_half_width(first.metrics, small.scenario.targets)
    res = run_ensemble(small, replications=3, seed=5, precision=hw + 1e-9)
    assert res.n_runs == 3
    assert res.half_width == pytest.approx(hw)
    pd.testing.assert_frame_equal(res.draws, first.draws)


def test_explicit_draws_used(small: LoadedScenario) -> None:
    draws = pd.DataFrame({"firm_entry_rate": [0.03, 0.10], "innovation_zeta": [0.2, 0.2]})
    res = run_ensemble(small, draws=draws, seed=3)
    assert res.n_runs == 2
    assert res.draws["firm_entry_rate"].tolist() == [0.03, 0.10]
    ents = res.metrics[
        (res.metrics["metric"] == "enterprises") & (res.metrics["year"] == 2030)
    ].set_index("replication")["value"]
    assert ents[1] > ents[0]  # more entry, more firms: the draw reached the model


def test_bad_requests_raise_before_running(small: LoadedScenario, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="--replications"):
        run_ensemble(small, replications=0)
    with pytest.raises(ScenarioError, match="--precision"):
        run_ensemble(small, precision=0.7)
    with pytest.raises(ScenarioError, match="--resume needs"):
        run_ensemble(small, resume=True)
    with pytest.raises(ScenarioError, match="nothing to resume"):
        run_ensemble(small, replications=1, store=tmp_path / "x", resume=True)
    with pytest.raises(InfeasibleAllocationError):
        run_ensemble(
            small,
            replications=1,
            store=tmp_path / "y",
            overrides=("allocation.floor_100m_cny=1.0",),
        )
    assert not (tmp_path / "y").exists()
