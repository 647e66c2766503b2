"""The verification runs (:mod:`policysim.experiments.verify`): every candidate mix run in the
model on the same seeds and parameter draws (common random numbers), in this process or on the
engine's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from policysim.experiments.design import draw_parameters, run_seed, synthesis_seeds_of
from policysim.experiments.runner import Engine
from policysim.experiments.verify_mix import FloatArray, Mix, MixAllocator
from policysim.experiments.verify_objective import RunOutcomes, _concat, _outcomes_of_columns
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for, simulate

__all__ = ["VERIFY_RUN_OFFSET", "Evaluator", "evaluate_mixes", "verification_runs"]

VERIFY_RUN_OFFSET: Final = 10**6
"""Run ids of the verification runs start here (seeds ``SeedSequence(root, spawn_key=(id,))``
and draws of those ids): apart from the run ids 0.. of every ensemble, so a comparison scores the
verified plan on draws it was not chosen on (a convention, not a source)."""

Evaluator = Callable[[Sequence[Mix]], list[RunOutcomes]]
"""Outcomes of each mix on the same verification draws."""


@dataclass(frozen=True)
class _Task:
    scenario: Scenario
    mixes: tuple[Mix, ...]
    surrogate_plan: FloatArray | None
    runs: tuple[int, ...]
    params: tuple[dict[str, float], ...]
    synthesis: tuple[int, ...]
    root_seed: int


def _run_task(task: _Task) -> list[RunOutcomes]:
    """Outcomes of every mix of the task on its runs (one RunOutcomes per mix)."""
    out: list[list[RunOutcomes]] = [[] for _ in task.mixes]
    for run, params, synth in zip(task.runs, task.params, task.synthesis, strict=True):
        baseline = baseline_for(task.scenario, synth)
        for i, mix in enumerate(task.mixes):
            alloc = MixAllocator(task.scenario, baseline, mix, task.surrogate_plan)
            res = simulate(
                task.scenario,
                run_seed(task.root_seed, run),
                params=params,
                allocator=alloc,
                township_metrics=(),
                synthesis_seed=synth,
            )
            out[i].append(_outcomes_of_columns(task.scenario, res.columns))
    return [_concat(parts) for parts in out]


def verification_runs(
    scenario: Scenario,
) -> tuple[tuple[int, ...], list[dict[str, float]], list[int]]:
    """Run ids, parameter draws and synthesis seeds of the verification runs."""
    n = scenario.allocation.verification.replications
    root = int(scenario.ensemble.root_seed)
    ids = np.arange(VERIFY_RUN_OFFSET, VERIFY_RUN_OFFSET + n, dtype=np.int64)
    draws = draw_parameters(
        scenario.uncertainties,
        ids,
        root_seed=root,
        batch_size=scenario.ensemble.batch_size,
        sampling=scenario.ensemble.sampling,
    )
    names = [c for c in draws.columns if c not in ("replication", "seed_key")]
    params = [{k: float(row[k]) for k in names} for _, row in draws.iterrows()]
    synth = [int(s) for s in synthesis_seeds_of(scenario.baseline, root, ids)]
    return tuple(int(i) for i in ids), params, synth


def evaluate_mixes(
    scenario: Scenario,
    mixes: Sequence[Mix],
    surrogate_plan: FloatArray | None,
    *,
    workers: int = 1,
    engine: Engine | None = None,
    runs: slice = slice(None),
) -> list[RunOutcomes]:
    """Run every mix on the verification runs (common random numbers) on ``engine`` (the
    caller's: its worker processes or its Dask cluster), else on an engine of ``workers`` local
    processes started for the call; the same numbers whatever the backend. ``runs`` selects
    some of the verification runs (by position), e.g. the screening runs of a round."""
    all_ids, all_params, all_synth = verification_runs(scenario)
    ids, params, synth = all_ids[runs], all_params[runs], all_synth[runs]
    root = int(scenario.ensemble.root_seed)
    if engine is not None:
        workers = max(int(engine.workers), 2 if engine.scheduler is not None else 1)
    if workers <= 1 or len(ids) < 2:
        return _run_task(
            _Task(scenario, tuple(mixes), surrogate_plan, ids, tuple(params), tuple(synth), root)
        )
    chunks = np.array_split(np.arange(len(ids)), min(len(ids), 2 * workers))
    tasks = [
        _Task(
            scenario,
            tuple(mixes),
            surrogate_plan,
            tuple(ids[i] for i in c),
            tuple(params[i] for i in c),
            tuple(synth[i] for i in c),
            root,
        )
        for c in chunks
        if len(c)
    ]
    if engine is not None:
        parts = engine.map(_run_task, tasks)
    else:
        with Engine(workers, None) as own:
            parts = own.map(_run_task, tasks)
    return [_concat([p[i] for p in parts]) for i in range(len(mixes))]
