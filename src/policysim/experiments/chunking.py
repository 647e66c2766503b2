"""The runs of an ensemble as chunk tasks for the workers: chunk sizes, and each chunk's
parameter draws and levers. Chunking never changes a run's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.experiments.design import draw_parameters
from policysim.experiments.worker import ChunkTask
from policysim.scenario.levers import is_lever
from policysim.scenario.schema import Scenario

__all__ = ["CHUNKS_PER_WORKER", "MAX_CHUNK", "RunDesign"]

#: Runs per task sent to a worker: at most this many (the brief's 10-25; larger chunks mean
#: fewer Parquet parts and less scheduling overhead, smaller ones a smoother progress bar).
MAX_CHUNK: Final = 25
#: Aim for about this many chunks per worker, so that workers finish together.
CHUNKS_PER_WORKER: Final = 4


def _chunk_size(n: int, workers: int) -> int:
    return max(1, min(MAX_CHUNK, math.ceil(n / (max(workers, 1) * CHUNKS_PER_WORKER))))


def _chunks(runs: Sequence[int], workers: int) -> list[list[int]]:
    """Consecutive chunks of ``runs``: full-size chunks, then the last ``workers`` chunks' worth
    of runs in quarter-size chunks, so that the workers finish close together (no worker idles
    through the last long chunk). Chunking never changes a run's numbers."""
    size = _chunk_size(len(runs), workers)
    few = workers <= 1 or len(runs) <= workers * size
    cut = len(runs) if few else len(runs) - workers * size
    out = [list(runs[i : min(i + size, cut)]) for i in range(0, cut, size)]
    small = max(1, math.ceil(size / 4))
    out += [list(runs[i : i + small]) for i in range(cut, len(runs), small)]
    return out


@dataclass(frozen=True)
class RunDesign:
    """What every run of an ensemble shares: the scenario, the root seed, the explicit draws (or
    sampling from the scenario's uncertainties), the years of the unit counts, whether the
    chunks stream to a store and the extra plan."""

    scenario: Scenario
    root_seed: int
    fixed_draws: pd.DataFrame | None
    keep_years: tuple[int, ...]
    stream: bool
    extra_cny: np.ndarray[Any, np.dtype[np.float64]] | None

    def draws(self, ids: Sequence[int]) -> pd.DataFrame:
        """``replication, seed_key`` and the parameter (and lever) values of runs ``ids``."""
        if self.fixed_draws is not None:
            return self.fixed_draws.iloc[list(ids)].reset_index(drop=True)
        ens = self.scenario.ensemble
        return draw_parameters(
            self.scenario.uncertainties,
            ids,
            root_seed=self.root_seed,
            batch_size=ens.batch_size,
            sampling=ens.sampling,
        )

    def tasks(self, pending: Sequence[int], n_workers: int) -> list[ChunkTask]:
        """The chunk tasks of runs ``pending`` for ``n_workers`` workers."""
        tasks = []
        # every pending run's draws at once: a batch's design is drawn once, not once per chunk
        # of it (1,000 runs: 0.4 s instead of 3-4 s before the first chunk could start)
        drawn = self.draws(pending)
        start = 0
        for ids in _chunks(pending, n_workers):  # (consecutive runs of ``pending``)
            d = drawn.iloc[start : start + len(ids)].reset_index(drop=True)
            start += len(ids)
            lcols = [c for c in d.columns if is_lever(str(c))]
            pcols = [
                c
                for c in d.columns
                if c not in ("replication", "seed_key") and not is_lever(str(c))
            ]
            levers = tuple(
                {c: float(v) for c, v in zip(lcols, row, strict=True)}
                for row in d[lcols].itertuples(index=False, name=None)
            )
            params = (
                tuple(
                    {c: float(v) for c, v in zip(pcols, row, strict=True)}
                    for row in d[pcols].itertuples(index=False, name=None)
                )
                if pcols
                else tuple({} for _ in ids)  # no uncertainties: the default values
            )
            tasks.append(
                ChunkTask(
                    scenario=self.scenario,
                    root_seed=self.root_seed,
                    runs=tuple(ids),
                    params=params,
                    keep_years=self.keep_years,
                    stream=self.stream,
                    levers=levers if lcols else (),
                    extra_cny=self.extra_cny,
                )
            )
        return tasks
