"""How a study runs its ensembles: one engine for all of them, one parts store for each.

A study (``compare``, ``frontier``, ``hindcast``, ``calibrate``) submits every ensemble it needs
to one :class:`~policysim.experiments.Engine` (in-process, a process pool or a Dask cluster), so
its workers start once. Given a run directory, each ensemble streams its completed chunks to its
own store, ``DIR/runs/<nnn>-<label>/.parts`` (:func:`sub_store`); a study killed mid-way and
started again with ``resume=True`` reads the finished chunks back and runs only the rest. Each
store checks its own resume key (resolved scenario, seed, code, baseline), so a changed input is
refused rather than mixed in. The numbers do not depend on the workers, the backend or on
whether the study was resumed (the runs are seeded by their ids).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from policysim.errors import ScenarioError
from policysim.experiments import Engine, EnsembleResult, run_ensemble
from policysim.experiments.runner import (
    MAX_WORKERS,
    check_scheduler,
    load_with_overrides,
    resume_key,
)
from policysim.experiments.store import (
    PARTS_DIR,
    STUDY_RUNS_DIR,
    remove_study_stores,
    study_stores,
    sub_store,
)
from policysim.scenario import LoadedScenario

__all__ = [
    "STUDY_RUNS_DIR",
    "load_with_overrides",
    "remove_study_stores",
    "study_engine",
    "study_ensemble",
    "study_key",
    "study_stores",
    "sub_store",
]


@contextlib.contextmanager
def study_engine(
    workers: int, scheduler: str | None, engine: Engine | None = None
) -> Iterator[Engine]:
    """The engine a study submits to: ``engine`` when given (left open), else a new one of
    ``workers`` local processes or the Dask ``scheduler`` (closed at the end).

    Raises
    ------
    ScenarioError
        A worker count outside 1 to :data:`~policysim.experiments.runner.MAX_WORKERS`, or a
        scheduler address that is not one.
    """
    if engine is not None:
        yield engine
        return
    if not 1 <= workers <= MAX_WORKERS:
        raise ScenarioError(
            None,
            "bad worker count",
            key_path="--workers",
            value=workers,
            expected=f"an integer from 1 to {MAX_WORKERS}",
        )
    check_scheduler(scheduler)
    with Engine(workers, scheduler) as own:
        yield own


def study_ensemble(
    loaded: LoadedScenario,
    *,
    engine: Engine,
    store: Path | None = None,
    resume: bool = False,
    full_metrics: bool = False,
    **kwargs: Any,
) -> EnsembleResult:
    """One ensemble of a study on ``engine``, streamed to ``store`` when given.

    Parameters
    ----------
    loaded : LoadedScenario
    engine : Engine
        The study's engine.
    store : Path, optional
        Folder of this ensemble's parts (:func:`sub_store`); None keeps the runs in memory.
    resume : bool
        Continue the ensemble stored there, if one was started (else start it).
    full_metrics : bool
        Read every stored row back (county and township rows too) into ``metrics``, as an
        in-memory ensemble holds them; default: the province rows only.
    **kwargs
        Passed to :func:`~policysim.experiments.run_ensemble` (replications, seed, draws,
        progress...).
    """
    started = store is not None and (Path(store) / PARTS_DIR / "config.json").is_file()
    result = run_ensemble(loaded, engine=engine, store=store, resume=resume and started, **kwargs)
    if full_metrics and store is not None:
        metrics = result.read_metrics()
        if "year" in metrics.columns:
            metrics["year"] = metrics["year"].astype(np.int64)
        result = replace(result, metrics=metrics)
    return result


def study_key(
    loaded: Sequence[LoadedScenario],
    root_seed: int,
    *,
    names: Sequence[str] | None = None,
    user_files: Sequence[Path] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The resume key of a study's run directory: :func:`resume_key` of its scenarios (the
    resolved scenarios by name, the seed, the code, the baseline files of all, the user files)
    and ``extra`` (what else fixes its runs, e.g. the budget levels)."""
    keys = [resume_key(ls, root_seed, user_files=user_files) for ls in loaded]
    labels = list(names) if names is not None else [ls.name for ls in loaded]
    key = dict(keys[0])
    # by name, so that a refusal says which scenario changed
    key["scenario_hash"] = {n: k["scenario_hash"] for n, k in zip(labels, keys, strict=True)}
    baseline: dict[str, Any] = {}
    for k in keys:
        baseline.update(k["baseline"])
    key["baseline"] = baseline
    key.update(extra)
    return key
