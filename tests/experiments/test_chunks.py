"""How an ensemble's runs are cut into worker tasks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

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
