"""The ensemble runner: replications × parameter draws, in-process, on local processes or on Dask.

>>> from policysim.experiments import run_ensemble
>>> result = run_ensemble("scenarios/jiangxi_baseline.yaml", replications=20, workers=2)
>>> result.attainment()[["target", "probability", "ci_low", "ci_high"]]

Results depend only on the scenario, the root seed and the run ids (see
:mod:`policysim.experiments.design`), never on the number of workers, the scheduler or the order
in which chunks complete.

The engine (:class:`Engine`, the one place that starts worker processes or connects to Dask) and
:func:`run_ensemble` live here; the parts: :mod:`~policysim.experiments.result` (the
outcome), :mod:`~policysim.experiments.preparation` (the request's checks and resume key),
:mod:`~policysim.experiments.chunking` (runs as chunk tasks),
:mod:`~policysim.experiments.collected` (what the chunks return),
:mod:`~policysim.experiments.processes` (the worker processes) and
:mod:`~policysim.experiments.progress` (the progress bar).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import multiprocessing.spawn
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.analysis import max_half_width
from policysim.errors import ScenarioError
from policysim.experiments.chunking import MAX_CHUNK as MAX_CHUNK
from policysim.experiments.chunking import RunDesign
from policysim.experiments.chunking import _chunk_size as _chunk_size
from policysim.experiments.chunking import _chunks as _chunks
from policysim.experiments.collected import Collected
from policysim.experiments.preparation import MAX_RUNS as MAX_RUNS
from policysim.experiments.preparation import MAX_WORKERS as MAX_WORKERS
from policysim.experiments.preparation import check_request, load_with_overrides, resume_key
from policysim.experiments.preparation import check_scheduler as check_scheduler
from policysim.experiments.processes import WORKER_NAME as WORKER_NAME
from policysim.experiments.processes import _preparation_data, _worker_init, _WorkerContext
from policysim.experiments.progress import _ProgressBar as _ProgressBar
from policysim.experiments.result import POLICY_DEADLINES as POLICY_DEADLINES
from policysim.experiments.result import EnsembleResult, report_years
from policysim.experiments.result import concat_frames as concat_frames
from policysim.experiments.rundir import StoreLock
from policysim.experiments.store import PartsStore
from policysim.experiments.worker import (
    ChunkOutput,
    ChunkTask,
    failed_chunk,
    run_chunk,
    warm_worker,
)
from policysim.model import PolicyModel, zero_allocator
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for

__all__ = [
    "EnsembleResult",
    "ProgressCallback",
    "load_with_overrides",
    "preflight",
    "report_years",
    "resume_key",
    "run_ensemble",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(runs_done, runs_total)`` after each chunk."""

#: Times a chunk is run again after its worker process died before it is run alone, run by run.
WORKER_RETRIES: Final = 1


def preflight(scenario: Scenario, engine: Engine | None = None) -> None:
    """Check a scenario before any run: build the allocator and plan the first year. An
    optimiser's plan is verified in the model here, on ``engine`` when given (the ensemble's
    workers or Dask cluster; the workers then read the cached plan).

    Raises
    ------
    InfeasibleAllocationError, AllocationError, ScenarioError, DataError
        What the allocation or the baseline would raise in every run.
    """
    from policysim.coupling import make_allocator

    baseline = baseline_for(scenario)
    if engine is not None and scenario.allocation.strategy in ("optimal", "closed_loop"):
        from policysim.experiments.verify import verified_policy_for

        verified_policy_for(scenario, workers=engine.workers, engine=engine)
    if scenario.outputs.figures and baseline.boundaries is not None:
        # the county map is drawn after the ensemble: a broken boundary file fails now
        from policysim.plotting.maps import read_boundaries

        read_boundaries(Path(baseline.boundaries))
    values = scenario.parameters()
    ss = np.random.SeedSequence(0)
    model = PolicyModel(scenario, baseline, values, np.random.default_rng(ss), zero_allocator)
    allocator = make_allocator(scenario, baseline, values, ss)
    summary = model.summary()
    allocator(summary.year, summary)


class Engine:
    """The one ensemble engine: runs chunk tasks in-process, on a spawn process pool or on a Dask
    cluster. Every study submits its runs here (through :func:`run_ensemble`); a study that runs
    several ensembles can share one engine (``with Engine(workers, scheduler) as engine``) so that
    its worker processes start once.

    A local worker process that dies (killed, out of memory) fails only its runs: the chunks it
    held are run again; a chunk whose worker dies again is run alone, one run at a time, and a
    run whose worker dies alone is recorded as failed, like a run that raised."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self._pool: Executor | None = None
        self._client: Any = None
        self.worker_deaths = 0

    def _local_pool(self) -> Executor:
        if self._pool is None:
            import os

            if multiprocessing.spawn.get_preparation_data is not _preparation_data:
                multiprocessing.spawn.get_preparation_data = _preparation_data
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_WorkerContext(),
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _drop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def warm(self, scenario: Scenario) -> None:
        """Start the local worker processes now: they import the model and load the baseline
        while the parent checks the scenario (the first chunks then start at once). With a
        scheduler, connect to it now (before anything is written)."""
        if self.scheduler is not None:
            self._connect()
        elif self.workers > 1:
            pool = self._local_pool()
            for _ in range(self.workers):
                pool.submit(warm_worker, scenario)

    def run(self, tasks: Sequence[ChunkTask]) -> Iterator[ChunkOutput]:
        if self.scheduler is not None:
            yield from self._dask(tasks)
        elif self.workers <= 1:
            for t in tasks:
                yield run_chunk(t)
        else:
            yield from self._local(tasks)

    def _local(self, tasks: Sequence[ChunkTask]) -> Iterator[ChunkOutput]:
        todo = list(tasks)
        for attempt in range(WORKER_RETRIES + 1):
            lost = yield from self._batch(todo)
            if not lost:
                return
            todo = lost
            logger.warning(
                "a worker process died: %d chunks run again (attempt %d)", len(lost), attempt + 2
            )
        # still dying: one run at a time, alone in the pool, so that only the culprit fails
        for task in todo:
            for i in range(len(task.runs)):
                single = task.single(i)
                lost = yield from self._batch([single])
                if lost:
                    yield failed_chunk(single, "WorkerDied: the worker process running it died")

    def _batch(self, tasks: Sequence[ChunkTask]) -> Generator[ChunkOutput, None, list[ChunkTask]]:
        """Run tasks on the pool; the tasks lost with a dead worker are returned."""
        pool = self._local_pool()
        # a finished future holds its result: forget each one once received, or the parent
        # would keep every chunk's output (Parquet bytes included) until the batch ends
        try:
            pending = {pool.submit(run_chunk, t): t for t in tasks}
        except BrokenProcessPool:  # a worker died before the batch (e.g. while warming up)
            self.worker_deaths += 1
            self._drop_pool()
            return list(tasks)
        try:
            for fut in as_completed(list(pending)):
                task = pending.pop(fut)
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    self.worker_deaths += 1
                    self._drop_pool()
                    return [task, *pending.values()]
                del fut
                yield out
        finally:
            for fut in pending:
                fut.cancel()
        return []

    def _connect(self) -> None:
        from distributed import Client

        if self._client is None:
            try:
                self._client = Client(self.scheduler, timeout="20s")  # type: ignore[no-untyped-call]
            except (OSError, ValueError, TypeError) as exc:
                raise ScenarioError(
                    None,
                    f"cannot reach the Dask scheduler: {' '.join(str(exc).split())}",
                    key_path="--scheduler",
                    value=self.scheduler,
                    expected="the address of a running scheduler, e.g. tcp://host:8786",
                ) from None

    def _dask(self, tasks: Sequence[ChunkTask]) -> Iterator[ChunkOutput]:
        from distributed import as_completed as dask_completed

        self._connect()
        # a future keeps its result in the cluster's memory: drop each one once received
        pending = set(self._client.map(run_chunk, list(tasks), pure=False))
        try:
            for fut, result in dask_completed(list(pending), with_results=True):  # type: ignore[no-untyped-call]
                pending.discard(fut)
                del fut
                yield result
        finally:
            if pending:
                self._client.cancel(list(pending))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Apply a picklable ``fn`` to every item on the engine's backend (in-process, the
        worker pool or the Dask cluster); results in the order of ``items``. For work that is
        not a chunk of ensemble runs (e.g. the optimiser's verification runs of several plans
        on common draws); a worker that dies fails the call."""
        if self.scheduler is not None:
            self._connect()
            futures = self._client.map(fn, list(items), pure=False)
            try:
                return list(self._client.gather(futures))
            finally:
                self._client.cancel(futures)
        if self.workers <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        try:
            return list(self._local_pool().map(fn, items))
        except BrokenProcessPool:
            self.worker_deaths += 1
            self._drop_pool()
            raise

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -----------------------------------------------------------------------------------------------
# the runner


def run_ensemble(
    scenario: LoadedScenario | str | Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overrides: Sequence[str] = (),
    draws: pd.DataFrame | None = None,
    precision: float | None = None,
    store: Path | None = None,
    resume: bool = False,
    progress: bool | str = False,
    callback: ProgressCallback | None = None,
    extra_cny: np.ndarray[Any, np.dtype[np.float64]] | None = None,
    engine: Engine | None = None,
) -> EnsembleResult:
    """Run a scenario's ensemble: its runs on common random numbers from one root seed, in this
    process, on local worker processes or on a Dask cluster (the same results on any of them).

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
        The scenario; a file is loaded with ``overrides`` (``key.path=value`` strings).
    replications : int, optional
        Runs (default ``ensemble.replications``); with ``precision``, the first batch.
    seed : int, optional
        Root seed (default ``ensemble.root_seed``).
    workers : int
        Local processes; 1 runs in this process.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:port``); overrides ``workers``.
    draws : DataFrame, optional
        Parameter values, one row per run, instead of sampling the uncertainties (``lever_*``
        columns vary the scenario itself: :mod:`policysim.scenario.levers`).
    precision : float, optional
        Add ``ensemble.batch_size`` runs at a time until every target's 95% interval half-width
        is at most this, or ``ensemble.max_replications`` runs.
    store : Path, optional
        Run directory the runs stream to (only the province rows and per-unit counts stay in
        memory); ``resume`` continues an interrupted ensemble there.
    progress : bool or str
        A progress bar on stderr; a string is its label.
    callback : callable, optional
        ``callback(runs_done, runs_total)`` after each chunk.
    extra_cny : (n_counties, n_instruments) float array, optional
        A fixed plan (CNY per year) added to every run's allocation, outside the budget.
    engine : Engine, optional
        A running engine to use (left open) instead of starting one.

    Raises
    ------
    ScenarioError, DataError, InfeasibleAllocationError, AllocationError
        Before any run: a bad scenario, bad draws, an infeasible allocation.
    """
    loaded = load_with_overrides(scenario, overrides)
    sc = loaded.scenario
    root_seed, fixed_draws, n_target = check_request(
        loaded,
        replications=replications,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        precision=precision,
        resume=resume,
        store=store,
        draws=draws,
    )
    cap = max(sc.ensemble.max_replications, n_target)
    own_engine = engine is None
    backend = Engine(workers, scheduler) if engine is None else engine
    if not own_engine:
        workers, scheduler = backend.workers, backend.scheduler
    with _closed_on_error(backend, own=own_engine):  # (an engine it started, on any error)
        if own_engine:
            backend.warm(sc)
        preflight(sc, backend)  # before anything is written
        design = RunDesign(
            sc, root_seed, fixed_draws, report_years(sc), store is not None, extra_cny
        )
        collected = Collected()
        started = _now()
        t0 = time.perf_counter()
        parts, lock = _open_store(store, loaded, design, collected, resume=resume)
    n_target, half_width = _run_then_close(
        backend,
        design,
        collected,
        parts,
        lock,
        own_engine=own_engine,
        n_target=n_target,
        n_workers=1 if scheduler is None and workers <= 1 else max(workers, 2),
        cap=cap,
        precision=precision,
        progress=progress,
        callback=callback,
    )
    return _result(
        loaded,
        design,
        collected,
        parts,
        n_target=n_target,
        half_width=half_width,
        started=started,
        t0=t0,
        store=store,
        precision=precision,
        workers=workers,
        scheduler=scheduler,
    )


def _result(
    loaded: LoadedScenario,
    design: RunDesign,
    collected: Collected,
    parts: PartsStore | None,
    *,
    n_target: int,
    half_width: float | None,
    started: str,
    t0: float,
    store: Path | None,
    precision: float | None,
    workers: int,
    scheduler: str | None,
) -> EnsembleResult:
    """The ensemble of the first ``n_target`` runs: the tables of what the chunks returned
    (and the store holds), the draws, and how and when it was run (``t0``: its
    :func:`time.perf_counter` start)."""
    tables = collected.tables(parts, n_target, design.keep_years)
    ended = _now()
    seconds = time.perf_counter() - t0
    logger.info("%d runs (%d failed) in %.1f s", tables.n_runs, len(tables.failures), seconds)
    return EnsembleResult(
        loaded=loaded,
        metrics=tables.metrics,
        draws=design.draws(list(range(n_target))),
        failures=tables.failures,
        solves=tables.solves,
        allocations=tables.allocations,
        seconds=seconds,
        root_seed=design.root_seed,
        store=None if store is None else Path(store),
        started=started,
        ended=ended,
        precision=precision,
        half_width=half_width,
        workers=workers,
        scheduler=scheduler,
        warnings=collected.warn_counts,
        unit_counts=tables.units,
    )


def _run_then_close(
    backend: Engine,
    design: RunDesign,
    collected: Collected,
    parts: PartsStore | None,
    lock: StoreLock | None,
    *,
    own_engine: bool,
    n_target: int,
    n_workers: int,
    cap: int,
    precision: float | None,
    progress: bool | str,
    callback: ProgressCallback | None,
) -> tuple[int, float | None]:
    """:func:`_run_batches` behind a progress bar, then (also on an error or Ctrl-C) close an
    engine this ensemble started, release the store's lock and close the bar."""
    bar = _ProgressBar(progress)
    try:
        return _run_batches(
            backend,
            design,
            collected,
            parts,
            n_target=n_target,
            n_workers=n_workers,
            cap=cap,
            precision=precision,
            bar=bar,
            callback=callback,
        )
    finally:
        if own_engine:
            backend.close()
        if lock is not None:
            lock.release()
        bar.close()


@contextlib.contextmanager
def _closed_on_error(backend: Engine, *, own: bool) -> Iterator[None]:
    """Close an engine this ensemble started when the block raises."""
    try:
        yield
    except BaseException:
        if own:
            backend.close()
        raise


def _open_store(
    store: Path | None,
    loaded: LoadedScenario,
    design: RunDesign,
    collected: Collected,
    *,
    resume: bool,
) -> tuple[PartsStore | None, StoreLock | None]:
    """Lock the run directory and start its parts store (or read the chunks already complete
    when resuming); nothing without a store. The lock is released if the start fails."""
    if store is None:
        return None, None
    parts = PartsStore(Path(store))
    lock = StoreLock(parts.dir)
    lock.acquire()
    try:
        config = resume_key(loaded, design.root_seed, design.fixed_draws)
        if design.extra_cny is not None:
            config["extra_plan"] = hashlib.sha256(
                np.ascontiguousarray(design.extra_cny, dtype=np.float64).tobytes()
            ).hexdigest()
        parts.start(config, resume=resume)
        if resume:
            collected.resume(parts)
            logger.info("resuming: %d chunks already complete", len(collected.status))
    except BaseException:
        lock.release()
        raise
    return parts, lock


def _run_batches(
    backend: Engine,
    design: RunDesign,
    collected: Collected,
    parts: PartsStore | None,
    *,
    n_target: int,
    n_workers: int,
    cap: int,
    precision: float | None,
    bar: _ProgressBar,
    callback: ProgressCallback | None,
) -> tuple[int, float | None]:
    """Run the pending runs of the first ``n_target``; with ``precision``, add
    ``ensemble.batch_size`` runs at a time until it is reached or ``cap`` runs. Returns the
    number of runs and the largest half-width reached (None without precision)."""
    sc = design.scenario
    half_width: float | None = None
    while True:
        done_ids = collected.completed_ids()
        pending = [i for i in range(n_target) if i not in done_ids]
        bar.update(n_target - len(pending), n_target)
        if pending:
            tasks = design.tasks(pending, n_workers)
            n_done = n_target - len(pending)
            for out in backend.run(tasks):
                collected.add(out, parts)
                n_done += len(out.runs)
                bar.update(n_done, n_target)
                if callback is not None:
                    callback(n_done, n_target)
        if precision is None or not sc.targets:
            break
        current = concat_frames(collected.kept)
        current = current[current["replication"] < n_target] if len(current) else current
        half_width = max_half_width(current, sc.targets) if len(current) else 0.5
        logger.info("%d runs: largest half-width %.4f", n_target, half_width)
        if half_width <= precision or n_target >= cap:
            break
        n_target = min(n_target + sc.ensemble.batch_size, cap)
    return n_target, half_width
