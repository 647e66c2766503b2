"""The ensemble runner: determinism over backends, failures, precision batches, explicit draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import policysim.simulation
from policysim.analysis import max_half_width
from policysim.errors import InfeasibleAllocationError, ScenarioError
from policysim.experiments import EnsembleResult, run_ensemble
from policysim.scenario import LoadedScenario

N = 4


def _same(a: EnsembleResult, b: EnsembleResult) -> None:
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    pd.testing.assert_frame_equal(a.attainment(), b.attainment())
    pd.testing.assert_frame_equal(
        a.solves.drop(columns="seconds"), b.solves.drop(columns="seconds")
    )


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


def test_run_i_is_simulate_with_its_seed_and_draw(serial: EnsembleResult) -> None:
    """Run 2 of the ensemble equals simulate() with SeedSequence(seed, spawn_key=(2,))."""
    sc = serial.loaded.scenario
    row = serial.draws.iloc[2]
    params = {k: float(row[k]) for k in sc.uncertainties}
    one = policysim.simulation.simulate(
        sc, np.random.SeedSequence(11, spawn_key=(2,)), params=params
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
    pd.testing.assert_frame_equal(
        streamed.unit_probabilities("township"), serial.unit_probabilities("township")
    )


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
