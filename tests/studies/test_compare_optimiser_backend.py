"""The optimiser's verification inside ``compare`` runs on the study's one engine (issue 15 item
2, issue 12): under a Dask scheduler its model runs go to the cluster, not to processes of the
parent, and the verified plan and the comparison are the same as on local workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from policysim.experiments import verify_runs
from policysim.experiments.verify import verified_policy_for
from policysim.scenario import load_scenario
from policysim.studies.compare import compare_scenarios, write_comparison

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"

#: a small verified search; ``min_t`` makes the cache key differ from every other test's, so the
#: plan is searched here and not read from the session's cache
_SMALL = (
    "allocation.verification.replications=3",
    "allocation.verification.max_iterations=1",
    "allocation.verification.min_t=0.987",
    "allocation.solver.open_loop_mode=lp",
    "allocation.response.replications=1",
)


@pytest.mark.slow
def test_compare_verifies_on_the_dask_cluster_with_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    optimal = load_scenario(TINY, ("allocation.strategy=optimal", *_SMALL))
    in_parent: list[int] = []
    real = verify_runs.simulate

    def counted(*args: Any, **kwargs: Any) -> Any:
        in_parent.append(1)  # only the verification runs made in this process are seen
        return real(*args, **kwargs)

    # the tasks (verify_runs._run_task) travel by reference: a worker process runs the module's
    # own simulate, only this process the counting one
    monkeypatch.setattr(verify_runs, "simulate", counted)
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        dask = compare_scenarios(
            [TINY, optimal],
            replications=4,
            seed=5,
            scheduler=cluster.scheduler_address,
            marginal=False,
        )
    assert in_parent == [], "the verification ran in the parent, not on the cluster"
    record = verified_policy_for(optimal.scenario).record
    # the same plan on local workers, searched afresh (memory and disk caches bypassed)
    from policysim.experiments.verify import verify

    local = verify(optimal.scenario, workers=2)
    assert local.record["model_runs"] == record["model_runs"] > 0
    assert local.record["plan"] == record["plan"]
    assert json.dumps(local.record["iterations"], default=str) == json.dumps(
        record["iterations"], default=str
    )
    assert in_parent == [], "local workers run the tasks in their own processes"
    one = compare_scenarios([TINY, optimal], replications=4, seed=5, workers=1, marginal=False)
    pd.testing.assert_frame_equal(one.table, dask.table, check_exact=True)
    # the optimiser's verification is written with the comparison, as in a run directory
    written = write_comparison(dask, tmp_path / "cmp")
    name = list(one.results)[1]
    brier = pd.read_csv(written[f"optimiser_{name}_surrogate_brier"])
    assert set(brier["deadline"]) == {2020} and brier["brier"].between(0, 1).all()
    by_target = pd.read_csv(written[f"optimiser_{name}_vs_rules_by_target"])
    assert len(by_target) == 3 * len(optimal.scenario.targets)
    np.testing.assert_array_equal(
        one.results[name].metrics["value"], dask.results[name].metrics["value"]
    )
