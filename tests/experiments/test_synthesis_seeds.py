"""The synthetic county economy as an uncertainty: each run its own synthesis seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.data import SYNTHETIC_CAVEAT, load_baseline
from policysim.experiments import EnsembleResult, run_ensemble, write_outputs
from policysim.experiments.design import synthesis_seed_of, synthesis_seeds_of
from policysim.scenario import LoadedScenario, load_scenario
from policysim.scenario.schema import BaselineSpec
from policysim.simulation import simulate

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
#: 3 seeds over 6 runs: each seed twice
SAMPLED = (
    "baseline.synthesis_seeds.first=40",
    "baseline.synthesis_seeds.count=3",
    "ensemble.batch_size=3",
)
N = 6


@pytest.fixture(scope="module")
def sampled() -> LoadedScenario:
    return load_scenario(SCENARIO, SAMPLED)


@pytest.fixture(scope="module")
def serial(sampled: LoadedScenario) -> EnsembleResult:
    return run_ensemble(sampled, replications=N, seed=5)


@settings(max_examples=30, deadline=None)
@given(
    first=st.integers(0, 10**6),
    count=st.integers(1, 16),
    root=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
)
def test_each_block_uses_every_seed_once(first: int, count: int, root: int, n: int) -> None:
    spec = BaselineSpec(synthesis_seeds={"first": first, "count": count})
    seeds = synthesis_seeds_of(spec, root, range(n * count))
    blocks = seeds.reshape(n, count)
    assert (np.sort(blocks, axis=1) == np.arange(first, first + count)).all()
    # a run's seed depends on (root, run) only: asked alone or in any order, the same
    runs = np.random.default_rng(root).permutation(n * count)[: min(7, n * count)]
    assert synthesis_seeds_of(spec, root, runs).tolist() == seeds[runs].tolist()
    assert [synthesis_seed_of(spec, root, int(r)) for r in runs] == seeds[runs].tolist()


def test_blocks_are_shuffled_and_root_seed_matters() -> None:
    spec = BaselineSpec(synthesis_seeds={"first": 0, "count": 5})
    a = synthesis_seeds_of(spec, 1, range(500))
    assert len({tuple(b) for b in a.reshape(100, 5)}) > 20  # not one fixed cycle
    assert not np.array_equal(a, synthesis_seeds_of(spec, 2, range(500)))


def test_no_sampling_means_the_single_seed() -> None:
    assert synthesis_seeds_of(BaselineSpec(synthesis_seed=7), 3, range(5)).tolist() == [7] * 5
    assert BaselineSpec(synthesis_seed=7).ensemble_seeds() == (7,)


def _county_gdp_2017(result: EnsembleResult) -> pd.DataFrame:
    m = result.metrics
    rows = m[(m["level"] == "county") & (m["metric"] == "gdp_100m_cny") & (m["year"] == 2017)]
    return rows.pivot_table(index="replication", columns="code", values="value", observed=True)


def test_each_run_starts_from_its_own_synthetic_province(serial: EnsembleResult) -> None:
    sc = serial.loaded.scenario
    gdp = _county_gdp_2017(serial)
    seeds = synthesis_seeds_of(sc.baseline, 5, range(N))
    assert sorted(seeds.tolist()) == [40, 40, 41, 41, 42, 42]
    for run, seed in enumerate(seeds):
        c = load_baseline(synthesis_seed=int(seed)).counties.set_index("code")["gdp_cny"] / 1e8
        np.testing.assert_allclose(gdp.loc[run, c.index].to_numpy(), c.to_numpy(), rtol=1e-12)
    # runs on different seeds differ in their county economy, runs on the same seed do not
    by_seed = {int(s): gdp.loc[r].to_numpy() for r, s in enumerate(seeds)}
    assert not np.allclose(by_seed[40], by_seed[41])
    same = [r for r, s in enumerate(seeds) if s == 40]
    np.testing.assert_array_equal(gdp.loc[same[0]].to_numpy(), gdp.loc[same[1]].to_numpy())


def test_run_equals_simulate_with_its_synthesis_seed(serial: EnsembleResult) -> None:
    sc = serial.loaded.scenario
    for run in (0, 4):
        params = {k: float(serial.draws.iloc[run][k]) for k in sc.uncertainties}
        one = simulate(
            sc,
            np.random.SeedSequence(5, spawn_key=(run,)),
            params=params,
            synthesis_seed=synthesis_seed_of(sc.baseline, 5, run),
        )
        prov = one.metrics[one.metrics["level"] == "province"]
        m = serial.metrics
        mine = m[(m["replication"] == run) & (m["level"] == "province")]
        np.testing.assert_array_equal(prov["value"].to_numpy(), mine["value"].to_numpy())


def test_same_numbers_for_any_worker_count(serial: EnsembleResult, sampled: LoadedScenario) -> None:
    two = run_ensemble(sampled, replications=N, seed=5, workers=2)
    cols = ["replication", "year", "level", "code", "metric"]
    a = serial.metrics.astype(dict.fromkeys(cols[2:], str)).sort_values(cols)
    b = two.metrics.astype(dict.fromkeys(cols[2:], str)).sort_values(cols)
    np.testing.assert_array_equal(a["value"].to_numpy(), b["value"].to_numpy())
    pd.testing.assert_frame_equal(serial.attainment(), two.attainment())


def test_single_runs_keep_the_scenario_seed(sampled: LoadedScenario) -> None:
    """simulate() without synthesis_seed uses baseline.synthesis_seed (2017), as before."""
    sc = sampled.scenario
    one = simulate(sc, 3)
    m = one.metrics
    gdp = m[(m["level"] == "county") & (m["metric"] == "gdp_100m_cny") & (m["year"] == 2017)]
    c = load_baseline(synthesis_seed=2017).counties["gdp_cny"].to_numpy() / 1e8
    np.testing.assert_allclose(gdp["value"].to_numpy(), c, rtol=1e-12)


def test_outputs_carry_the_caveat(serial: EnsembleResult, tmp_path: Path) -> None:
    written = write_outputs(serial, tmp_path / "out")
    manifest = json.loads(written["manifest"].read_text(encoding="utf-8"))
    assert manifest["data"]["county_economy_synthetic"] is True
    assert manifest["data"]["caveat"] == SYNTHETIC_CAVEAT
    assert manifest["data"]["synthesis_seeds"] == [40, 41, 42]
    per_run = manifest["data"]["synthesis_seed_per_run"]
    assert per_run == synthesis_seeds_of(serial.loaded.scenario.baseline, 5, range(N)).tolist()
    county = pd.read_parquet(written["county_probabilities"])
    assert set(county["caveat"]) == {SYNTHETIC_CAVEAT}
    if "report" in written:
        html = written["report"].read_text(encoding="utf-8")
        assert "County economics are synthetic" in html
        assert "县域经济数据为合成数据" in html


def test_cli_run_prints_the_caveat_and_the_seeds(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from policysim.cli import app

    sets = [a for s in (*SAMPLED, "outputs.figures=false") for a in ("--set", s)]
    res = CliRunner().invoke(
        app, ["run", str(SCENARIO), "--replications", "3", "--out", str(tmp_path / "r"), *sets]
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Note: County economics are synthetic" in text
    assert "Synthesis seeds sampled over the runs: 40, 41, 42" in text
