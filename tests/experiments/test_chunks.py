"""How an ensemble's runs are cut into worker tasks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import policysim
from policysim.experiments.runner import MAX_CHUNK, _chunk_size, _chunks


@given(
    runs=st.lists(st.integers(0, 10_000), unique=True, max_size=3_000),
    workers=st.integers(1, 16),
)
def test_chunks_cover_every_run_once_in_order(runs: list[int], workers: int) -> None:
    chunks = _chunks(runs, workers)
    assert [r for c in chunks for r in c] == runs
    assert all(c for c in chunks)
    size = _chunk_size(len(runs), workers)
    assert all(len(c) <= min(size, MAX_CHUNK) for c in chunks)


def test_last_chunks_are_small_so_workers_finish_together() -> None:
    chunks = _chunks(list(range(1_000)), 2)
    sizes = [len(c) for c in chunks]
    assert sizes[0] == 25
    # the last two full chunks' worth of runs (50) come in chunks of at most 7
    assert sum(sizes[-8:]) == 50 and max(sizes[-8:]) <= 7


def test_a_chunks_unit_counts_from_codes_equal_those_from_its_frame(
    tiny: policysim.LoadedScenario,
) -> None:
    """The worker counts the unit indicators of a chunk from their codes; the table is the one
    :func:`unit_counts` makes from the same rows as a frame (cells, names, runs, dtypes)."""
    import pandas as pd

    from policysim.analysis import unit_counts
    from policysim.experiments.chunking import RunDesign
    from policysim.experiments.runner import report_years
    from policysim.experiments.worker import (
        UNIT_INDICATORS,
        _ChunkRuns,
        _simulate_run,
        _unit_counts,
    )

    sc = tiny.scenario
    design = RunDesign(sc, 7, None, report_years(sc), True, None)
    task = design.tasks(list(range(4)), 1)[0]
    runs = _ChunkRuns()
    for i, run in enumerate(task.runs):
        result = _simulate_run(task, i, task.params[i], np.int64(sc.baseline.synthesis_seed), {})
        runs.completed(run, result, task.keep_years)
    coded = _unit_counts(runs.indicators, task.keep_years)
    framed = unit_counts(runs.indicators.frame(), UNIT_INDICATORS, task.keep_years)
    assert len(coded.cells) > 0 and set(coded.cells["level"]) == {"county", "township"}
    pd.testing.assert_frame_equal(coded.cells, framed.cells)
    pd.testing.assert_frame_equal(coded.runs, framed.runs)
