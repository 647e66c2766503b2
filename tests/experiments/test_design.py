"""Seeds and draws depend only on (root seed, run id); LHS batches are Latin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policysim.analysis import DistributionSpec
from policysim.errors import ScenarioError
from policysim.experiments import draw_parameters, explicit_draws, run_seed, seed_key
from policysim.experiments.design import draws_fingerprint

UNC = {
    "b_param": DistributionSpec("uniform", low=0.0, high=1.0),
    "a_param": DistributionSpec("uniform", low=10.0, high=20.0),
}


def test_run_seed_equals_spawned_child() -> None:
    children = np.random.SeedSequence(42).spawn(5)
    for i, child in enumerate(children):
        assert run_seed(42, i).generate_state(4).tolist() == child.generate_state(4).tolist()
    assert seed_key(3) == "(3,)"


@given(
    seed=st.integers(0, 2**32),
    first=st.integers(0, 40),
    count=st.integers(1, 15),
    batch=st.integers(1, 8),
    sampling=st.sampled_from(["lhs", "monte_carlo"]),
)
@settings(max_examples=30, deadline=None)
def test_draw_of_a_run_ignores_the_other_runs(
    seed: int, first: int, count: int, batch: int, sampling: str
) -> None:
    runs = list(range(first, first + count))
    alone = draw_parameters(UNC, runs, root_seed=seed, batch_size=batch, sampling=sampling)  # type: ignore[arg-type]
    everything = draw_parameters(
        UNC,
        list(range(first + count)),
        root_seed=seed,
        batch_size=batch,
        sampling=sampling,  # type: ignore[arg-type]
    )
    pd.testing.assert_frame_equal(alone, everything.iloc[first:].reset_index(drop=True))
    backwards = draw_parameters(
        UNC, runs[::-1], root_seed=seed, batch_size=batch, sampling=sampling
    )  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(backwards.iloc[::-1].reset_index(drop=True), alone)


def test_columns_sorted_by_name_and_within_support() -> None:
    d = draw_parameters(UNC, range(12), root_seed=1, batch_size=4)
    assert list(d.columns) == ["replication", "seed_key", "a_param", "b_param"]
    assert d["a_param"].between(10, 20).all()
    assert d["b_param"].between(0, 1).all()


def test_each_lhs_batch_is_latin() -> None:
    n = 8
    d = draw_parameters(UNC, range(3 * n), root_seed=7, batch_size=n)
    for b in range(3):
        block = d.iloc[b * n : (b + 1) * n]
        strata_a = np.floor((block["a_param"].to_numpy() - 10.0) / 10.0 * n).astype(int)
        strata_b = np.floor(block["b_param"].to_numpy() * n).astype(int)
        assert sorted(strata_a) == list(range(n))
        assert sorted(strata_b) == list(range(n))


def test_other_seed_other_draws_and_no_uncertainties() -> None:
    a = draw_parameters(UNC, range(4), root_seed=1, batch_size=4)
    b = draw_parameters(UNC, range(4), root_seed=2, batch_size=4)
    assert not np.allclose(a["a_param"], b["a_param"])
    empty = draw_parameters({}, range(3), root_seed=1, batch_size=4)
    assert list(empty.columns) == ["replication", "seed_key"]
    assert empty["replication"].tolist() == [0, 1, 2]


def test_explicit_draws_checked() -> None:
    ok = explicit_draws(pd.DataFrame({"firm_entry_rate": [0.05, 0.07]}))
    assert ok["replication"].tolist() == [0, 1]
    assert ok["seed_key"].tolist() == ["(0,)", "(1,)"]
    with pytest.raises(ScenarioError, match="unknown behaviour parameter"):
        explicit_draws(pd.DataFrame({"no_such_parameter": [1.0]}))
    with pytest.raises(ScenarioError, match="row 1: not a finite number"):
        explicit_draws(pd.DataFrame({"firm_entry_rate": [0.05, np.nan]}))
    with pytest.raises(ScenarioError, match="no rows"):
        explicit_draws(pd.DataFrame({"firm_entry_rate": []}))
    other = explicit_draws(pd.DataFrame({"firm_entry_rate": [0.05, 0.08]}))
    assert draws_fingerprint(ok) != draws_fingerprint(other)
    assert draws_fingerprint(ok) == draws_fingerprint(ok.copy())
