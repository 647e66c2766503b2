"""The ensemble runner: replications × parameter draws, in-process, on local processes or on Dask.

>>> from policysim.experiments import run_ensemble
>>> result = run_ensemble("scenarios/jiangxi_baseline.yaml", replications=20, workers=2)
>>> result.attainment()[["target", "probability", "ci_low", "ci_high"]]

Results depend only on the scenario, the root seed and the run ids (see
:mod:`policysim.experiments.design`), never on the number of workers, the scheduler or the order
in which chunks complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import multiprocessing
import multiprocessing.context
import multiprocessing.spawn
import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from policysim.analysis import (
    UnitCounts,
    combine_unit_counts,
    max_half_width,
    unit_probabilities_from_counts,
)
from policysim.analysis import attainment as _attainment
from policysim.analysis import unit_probabilities as _unit_probabilities
from policysim.errors import ScenarioError
from policysim.experiments.design import (
    draw_parameters,
    draws_fingerprint,
    explicit_draws,
)
from policysim.experiments.rundir import StoreLock
from policysim.experiments.store import PartsStore
from policysim.experiments.worker import (
    SOLVE_COLUMNS,
    ChunkOutput,
    ChunkTask,
    failed_chunk,
    keep_freed_memory,
    run_chunk,
    warm_worker,
)
from policysim.scenario import LoadedScenario, load_scenario
from policysim.scenario.levers import is_lever
from policysim.scenario.schema import Scenario

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

#: Runs per task sent to a worker: at most this many (the brief's 10-25; larger chunks mean
#: fewer Parquet parts and less scheduling overhead, smaller ones a smoother progress bar).
MAX_CHUNK: Final = 25
#: Most local worker processes (each holds a model and a baseline, ~300 MB).
MAX_WORKERS: Final = 256
#: Most runs of one ensemble (the schema's cap of ``ensemble.replications``).
MAX_RUNS: Final = 1_000_000
#: Aim for about this many chunks per worker, so that workers finish together.
CHUNKS_PER_WORKER: Final = 4
#: Years of the per-unit designation probabilities (the policy's deadlines).
POLICY_DEADLINES: Final = (2020, 2030)

ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(runs_done, runs_total)`` after each chunk."""


def report_years(scenario: Scenario) -> tuple[int, ...]:
    """Years of the unit probability tables: the policy deadlines inside the horizon, else the
    end year."""
    h = scenario.horizon
    years = tuple(y for y in POLICY_DEADLINES if h.base_year < y <= h.end_year)
    return years or (h.end_year,)


@dataclass(frozen=True)
class EnsembleResult:
    """The outcome of an ensemble.

    Attributes
    ----------
    loaded : LoadedScenario
        The scenario as run (overrides applied).
    metrics : DataFrame
        Long metrics ``replication, year, level, code, name, metric, value`` of the completed runs.
        In memory (``store`` None): province and county levels, all metrics, every year, and
        township ``innovative`` in :func:`report_years`. Streamed (``store`` given): the province
        rows only (the results: attainment, first years, fan charts, paired comparisons); the
        county and township rows are in the store (:meth:`read_metrics`), so memory grows with the
        runs by ~270 rows each.
    unit_counts : UnitCounts or None
        Per-unit counts over the completed runs of the indicators of
        :data:`~policysim.experiments.worker.UNIT_INDICATORS` in :func:`report_years`: the
        sufficient statistics of :meth:`unit_probabilities`, of a fixed size whatever the number of
        runs (summed chunk by chunk in both modes). None: computed from :attr:`metrics`.
    draws : DataFrame
        ``replication, seed_key`` and one column per uncertain parameter, one row per run
        (failed runs included).
    failures : DataFrame
        ``replication, seed_key, error`` of the runs that raised.
    solves : DataFrame
        ``replication, year, strategy, status, objective, mip_gap, seconds, message``.
    allocations : DataFrame or None
        ``replication, year, county_code, county_name, instrument, cny`` in memory; None when
        streamed (see the store) or when the strategy records no plans.
    seconds : float
        Wall-clock time of the ensemble, s.
    root_seed : int
        Root of the run seeds.
    store : Path or None
        Run directory holding the streamed parts.
    started, ended : str
        ISO 8601 times (UTC).
    precision : float or None
        Requested half-width of the attainment intervals.
    half_width : float or None
        Largest Wilson half-width reached (probability units), when ``precision`` was given.
    workers : int
        Local worker processes (1 = in-process).
    scheduler : str or None
        Dask scheduler address, if used.
    warnings : dict of str to int
        Warnings raised inside runs, with counts.
    """

    loaded: LoadedScenario
    metrics: pd.DataFrame
    draws: pd.DataFrame
    failures: pd.DataFrame
    solves: pd.DataFrame
    allocations: pd.DataFrame | None
    seconds: float
    root_seed: int = 0
    store: Path | None = None
    started: str = ""
    ended: str = ""
    precision: float | None = None
    half_width: float | None = None
    workers: int = 1
    scheduler: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    unit_counts: UnitCounts | None = None

    @property
    def n_runs(self) -> int:
        """Runs attempted (completed and failed)."""
        return len(self.draws)

    @property
    def n_failed(self) -> int:
        """Runs that raised."""
        return len(self.failures)

    def attainment(self) -> pd.DataFrame:
        """Attainment of the scenario's targets (see :func:`policysim.analysis.attainment`)."""
        return _attainment(self.metrics, self.loaded.scenario.targets)

    def unit_probabilities(self, level: str = "county") -> pd.DataFrame:
        """Per-unit probability of designation in each of :func:`report_years`.

        Parameters
        ----------
        level : {"county", "township"}
            Counties: provincial innovative county (pilot or designated, metric
            ``designated``); townships: innovative township (metric ``innovative``).

        Returns
        -------
        DataFrame
            See :func:`policysim.analysis.unit_probabilities` (here from :attr:`unit_counts`:
            the same table as from the runs' rows).
        """
        if level not in ("county", "township"):
            raise ScenarioError(
                None, "unknown level", key_path="level", value=level, expected="county or township"
            )
        metric = "designated" if level == "county" else "innovative"
        years = report_years(self.loaded.scenario)
        if self.unit_counts is None:
            return _unit_probabilities(self.metrics, metric, level, years)
        return unit_probabilities_from_counts(self.unit_counts, metric, level, years)

    def read_metrics(self) -> pd.DataFrame:
        """All stored metrics (from the store's parts when streamed, else :attr:`metrics`)."""
        if self.store is None:
            return self.metrics
        files = PartsStore(self.store).metric_files()
        final = self.store / "metrics.parquet"
        if not files and final.is_file():
            return pd.read_parquet(final)
        frames = [pd.read_parquet(f) for f in files]
        table = concat_frames(frames)
        return table[table["replication"].isin(self.draws["replication"])].reset_index(drop=True)


# -----------------------------------------------------------------------------------------------
# helpers


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames whose categorical columns may have different categories (the union is
    kept, still categorical), sorted by replication then original order."""
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    columns = list(frames[0].columns)
    data: dict[str, Any] = {}
    for c in columns:
        parts = [f[c] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            data[c] = union_categoricals(parts, ignore_order=True)
        else:
            nonempty = [p for p in parts if len(p)] or parts[:1]
            data[c] = pd.concat(nonempty, ignore_index=True)
    out = pd.DataFrame(data)
    if "replication" in out.columns and len(out):
        out = out.sort_values("replication", kind="stable", ignore_index=True)
    return out


def load_with_overrides(
    scenario: LoadedScenario | str | Path, overrides: Sequence[str] = ()
) -> LoadedScenario:
    """A scenario loaded with extra ``key.path=value`` overrides (a loaded one is reloaded with
    its own overrides first, then these; returned as is without any). Every study loads its
    scenarios through here."""
    if isinstance(scenario, LoadedScenario):
        if not overrides:
            return scenario
        return load_scenario(scenario.path, (*scenario.overrides, *overrides))
    return load_scenario(Path(scenario), tuple(overrides))


def resume_key(
    loaded: LoadedScenario,
    root_seed: int,
    fixed_draws: pd.DataFrame | None = None,
    user_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Everything the runs of an ensemble depend on: the resolved scenario, the seed and design,
    the code version, the checksums of the baseline data and of any user files (an observed
    file). ``--resume`` is refused, naming the part, when any of it changed."""
    from policysim import __version__
    from policysim.coupling import code_fingerprint
    from policysim.experiments.rundir import file_sha256
    from policysim.simulation import baseline_for

    ens = loaded.scenario.ensemble
    return {
        "scenario_hash": loaded.hash,
        "root_seed": root_seed,
        "sampling": ens.sampling,
        "batch_size": ens.batch_size,
        "draws": "sampled" if fixed_draws is None else draws_fingerprint(fixed_draws),
        "code_version": f"{__version__}+{code_fingerprint()}",
        "baseline": dict(baseline_for(loaded.scenario).checksums),
        "user_files": {str(p): file_sha256(Path(p)) for p in user_files},
    }


def preflight(scenario: Scenario) -> None:
    """Check a scenario before any run: build the allocator and plan the first year.

    Raises
    ------
    InfeasibleAllocationError, AllocationError, ScenarioError, DataError
        What the allocation or the baseline would raise in every run.
    """
    from policysim.coupling import make_allocator
    from policysim.model import PolicyModel, zero_allocator
    from policysim.simulation import baseline_for

    baseline = baseline_for(scenario)
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


#: Name prefix of the local worker processes (see :func:`_preparation_data`).
WORKER_NAME: Final = "policysim-worker"
#: Times a chunk is run again after its worker process died before it is run alone, run by run.
WORKER_RETRIES: Final = 1
_original_preparation_data = multiprocessing.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """What a spawned process imports before it runs: for policysim's workers, not the parent's
    ``__main__`` (they run only policysim's functions). A script that calls the ensemble without
    an ``if __name__ == "__main__":`` guard is then not re-run in each worker."""
    data: dict[str, Any] = _original_preparation_data(name)
    if name.startswith(WORKER_NAME):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker named :data:`WORKER_NAME`-N."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = f"{WORKER_NAME}-{self.name}"


class _WorkerContext(multiprocessing.context.SpawnContext):
    Process = _WorkerProcess


def _worker_init(parent: int) -> None:
    """In each worker: die with the parent (``kill -9`` or Ctrl-C of the parent included).

    On Linux the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``); on
    every system a daemon thread also exits the worker once its parent is gone."""
    import os
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    # Ctrl-C goes to the whole process group: the parent handles it and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="policysim-parent-watch", daemon=True).start()


def check_scheduler(address: str | None) -> None:
    """A Dask scheduler address must look like ``tcp://host:port`` (checked before any work)."""
    if address is None:
        return
    if not re.fullmatch(r"(tcp|tls|ucx|ws|wss|inproc)://[^\s/:]+(:\d{1,5})?/?", address):
        raise ScenarioError(
            None,
            "not a scheduler address",
            key_path="--scheduler",
            value=address,
            expected="an address such as tcp://10.0.0.5:8786",
        )


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
    """Run a scenario's ensemble.

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
        The scenario (a file is loaded with ``overrides``).
    replications : int, optional
        Runs (default ``ensemble.replications``); with ``precision``, the first batch.
    seed : int, optional
        Root seed (default ``ensemble.root_seed``).
    workers : int
        Local processes (``spawn``); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); overrides ``workers``.
    overrides : sequence of str
        ``key.path=value`` overrides applied to the scenario.
    draws : DataFrame, optional
        Explicit parameter values, one row per run (columns: behaviour parameters, and levers
        named ``lever_*``, see :mod:`policysim.scenario.levers`, applied to the scenario run by
        run); replaces sampling from the scenario's uncertainties, and ``replications`` is its
        row count.
    precision : float, optional
        Add ``ensemble.batch_size`` runs at a time until every target's 95% Wilson half-width is
        at most this (probability units), or ``ensemble.max_replications`` runs.
    store : Path, optional
        Run directory: completed chunks stream to ``store/.parts`` and only the province rows
        (attainment) and the per-unit counts (unit probabilities) stay in memory.
    resume : bool
        Continue the interrupted ensemble in ``store`` (same scenario, seed and design).
    progress : bool or str
        Show a rich progress bar on stderr (runs done, rate, elapsed, time left); a string is
        its label (e.g. the strategy or the study).
    callback : callable, optional
        ``callback(runs_done, runs_total)`` after each chunk.
    extra_cny : (n_counties, n_instruments) float array, optional
        A fixed plan (CNY per year) added to every year's allocation of every run, outside the
        budget (a marginal-value perturbation).
    engine : Engine, optional
        A running engine to submit the runs to (its workers and scheduler are used, and it is
        left open); default: one of ``workers`` / ``scheduler`` for this ensemble.

    Returns
    -------
    EnsembleResult

    Raises
    ------
    ScenarioError, DataError, InfeasibleAllocationError, AllocationError
        Before any run: a bad scenario, bad draws, an infeasible allocation.
    """
    loaded = load_with_overrides(scenario, overrides)
    sc = loaded.scenario
    ens = sc.ensemble
    root_seed = ens.root_seed if seed is None else int(seed)
    if root_seed < 0:
        raise ScenarioError(
            loaded.path,
            "negative seed",
            key_path="--seed",
            value=root_seed,
            expected="an integer >= 0",
        )
    if workers < 1:
        raise ScenarioError(
            loaded.path,
            "bad worker count",
            key_path="--workers",
            value=workers,
            expected="an integer >= 1",
        )
    if workers > MAX_WORKERS:
        raise ScenarioError(
            loaded.path,
            "too many worker processes",
            key_path="--workers",
            value=workers,
            expected=f"an integer from 1 to {MAX_WORKERS}",
        )
    check_scheduler(scheduler)
    if precision is not None and not 0.0 < precision < 0.5:
        raise ScenarioError(
            loaded.path,
            "bad precision",
            key_path="--precision",
            value=precision,
            expected="a half-width between 0 and 0.5",
        )
    if resume and store is None:
        raise ScenarioError(
            loaded.path,
            "--resume needs the run directory",
            key_path="--out",
            expected="the directory of the interrupted run",
        )
    fixed_draws = explicit_draws(draws) if draws is not None else None
    if fixed_draws is not None:
        if precision is not None:
            raise ScenarioError(
                loaded.path,
                "explicit draws fix the runs; precision cannot add any",
                key_path="--precision",
                value=precision,
                expected="no precision with explicit draws",
            )
        n_target = len(fixed_draws)
    else:
        n_target = ens.replications if replications is None else int(replications)
    if not 1 <= n_target <= MAX_RUNS:
        raise ScenarioError(
            loaded.path,
            "no runs requested" if n_target < 1 else "too many runs",
            key_path="--replications",
            value=n_target,
            expected=f"an integer from 1 to {MAX_RUNS:,}",
        )
    cap = max(ens.max_replications, n_target)
    keep_years = report_years(sc)
    own_engine = engine is None
    backend = Engine(workers, scheduler) if engine is None else engine
    if not own_engine:
        workers, scheduler = backend.workers, backend.scheduler
    try:
        if own_engine:
            backend.warm(sc)
        preflight(sc)  # before anything is written
    except BaseException:
        if own_engine:
            backend.close()
        raise

    def draws_of(ids: Sequence[int]) -> pd.DataFrame:
        if fixed_draws is not None:
            return fixed_draws.iloc[list(ids)].reset_index(drop=True)
        return draw_parameters(
            sc.uncertainties,
            ids,
            root_seed=root_seed,
            batch_size=ens.batch_size,
            sampling=ens.sampling,
        )

    parts: PartsStore | None = None
    status: list[pd.DataFrame] = []
    kept: list[pd.DataFrame] = []
    solves: list[pd.DataFrame] = []
    units = UnitCounts.empty()
    #: resumed chunks: their unit counts are added at the end, once the number of runs is known
    stored_chunks: list[tuple[int, int, np.ndarray[Any, np.dtype[np.int64]]]] = []
    full: list[pd.DataFrame] = []
    allocs: list[pd.DataFrame] = []
    warn_counts: dict[str, int] = {}
    started = _now()
    t0 = time.perf_counter()
    lock: StoreLock | None = None
    if store is not None:
        parts = PartsStore(Path(store))
        lock = StoreLock(parts.dir)
        try:
            lock.acquire()
        except BaseException:
            if own_engine:
                backend.close()
            raise
    try:
        if parts is not None:
            config = resume_key(loaded, root_seed, fixed_draws)
            if extra_cny is not None:
                config["extra_plan"] = hashlib.sha256(
                    np.ascontiguousarray(extra_cny, dtype=np.float64).tobytes()
                ).hexdigest()
            parts.start(config, resume=resume)
            if resume:
                done = parts.read_completed()
                status, kept, solves = done.status, done.kept, done.solves
                for (first, last), st in zip(done.bounds, done.status, strict=True):
                    ok = st.loc[st["error"].isna(), "replication"].to_numpy(dtype=np.int64)
                    stored_chunks.append((first, last, ok))
                logger.info("resuming: %d chunks already complete", len(status))
    except BaseException:
        if lock is not None:
            lock.release()
        if own_engine:
            backend.close()
        raise

    def completed_ids() -> set[int]:
        return {int(r) for s in status for r in s["replication"]}

    bar = _ProgressBar(progress)
    half_width: float | None = None
    try:
        while True:
            done_ids = completed_ids()
            pending = [i for i in range(n_target) if i not in done_ids]
            bar.update(n_target - len(pending), n_target)
            if pending:
                n_workers = 1 if scheduler is None and workers <= 1 else max(workers, 2)
                tasks = []
                for ids in _chunks(pending, n_workers):
                    d = draws_of(ids)
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
                            scenario=sc,
                            root_seed=root_seed,
                            runs=tuple(ids),
                            params=params,
                            keep_years=keep_years,
                            stream=parts is not None,
                            levers=levers if lcols else (),
                            extra_cny=extra_cny,
                        )
                    )
                n_done = n_target - len(pending)
                for out in backend.run(tasks):
                    if parts is not None:
                        parts.write_chunk(out)
                    else:
                        if out.metrics is not None:
                            full.append(out.metrics)
                        if out.allocations is not None:
                            allocs.append(out.allocations)
                    status.append(out.status)
                    kept.append(out.kept)
                    units = combine_unit_counts([units, out.units])
                    solves.append(out.solves)
                    for k, v in out.warnings.items():
                        warn_counts[k] = warn_counts.get(k, 0) + v
                    n_done += len(out.runs)
                    bar.update(n_done, n_target)
                    if callback is not None:
                        callback(n_done, n_target)
            if precision is None or not sc.targets:
                break
            current = concat_frames(kept)
            current = current[current["replication"] < n_target] if len(current) else current
            half_width = max_half_width(current, sc.targets) if len(current) else 0.5
            logger.info("%d runs: largest half-width %.4f", n_target, half_width)
            if half_width <= precision or n_target >= cap:
                break
            n_target = min(n_target + ens.batch_size, cap)
    finally:
        if own_engine:
            backend.close()
        if lock is not None:
            lock.release()
        bar.close()

    def select(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
        table = concat_frames(frames)
        if not len(table):
            return pd.DataFrame(columns=list(columns))
        return table[table["replication"] < n_target].reset_index(drop=True)

    if parts is not None:
        for first, last, ok in stored_chunks:
            inside = ok < n_target
            if inside.all():
                more = parts.read_units(first, last)
            elif inside.any():  # a resumed ensemble smaller than the interrupted one
                more = parts.read_units(first, last, below=n_target, years=keep_years)
            else:
                continue
            units = combine_unit_counts([units, more])
    status_table = select(status, ["replication", "seed_key", "error"])
    failures = status_table[status_table["error"].notna()].reset_index(drop=True)
    metrics = select(full if parts is None else kept, ())
    if "year" in metrics.columns:
        metrics["year"] = metrics["year"].astype(np.int64)
    allocations = select(allocs, ()) if allocs else None
    ended = _now()
    seconds = time.perf_counter() - t0
    logger.info("%d runs (%d failed) in %.1f s", len(status_table), len(failures), seconds)
    return EnsembleResult(
        loaded=loaded,
        metrics=metrics,
        draws=draws_of(list(range(n_target))),
        failures=failures,
        solves=select(solves, SOLVE_COLUMNS),
        allocations=allocations,
        seconds=seconds,
        root_seed=root_seed,
        store=None if store is None else Path(store),
        started=started,
        ended=ended,
        precision=precision,
        half_width=half_width,
        workers=workers,
        scheduler=scheduler,
        warnings=warn_counts,
        unit_counts=units,
    )


class _ProgressBar:
    """A rich progress bar on stderr (what runs, runs done, rate, elapsed and time left), or
    nothing. ``enabled`` may be the label of the work (a strategy, a study)."""

    def __init__(self, enabled: bool | str) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.table import Column

            # the label and the clocks keep their width and the bar takes the room that is
            # left (at 100 columns the clocks of a long study label read "0:00:…")
            def clock() -> Column:
                return Column(min_width=7, no_wrap=True, overflow="crop")

            self._progress = Progress(
                TextColumn(
                    "{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")
                ),
                BarColumn(bar_width=None, table_column=Column(ratio=1)),
                MofNCompleteColumn(),
                TextColumn("runs {task.fields[rate]}", table_column=Column(no_wrap=True)),
                TextColumn("elapsed", table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=clock()),
                TextColumn("· left", table_column=Column(no_wrap=True)),
                TimeRemainingColumn(table_column=clock()),
                console=Console(stderr=True),
                transient=False,
                expand=True,
            )
            self._progress.start()
            label = enabled if isinstance(enabled, str) and enabled else "ensemble"
            self._task = self._progress.add_task(label, total=None, rate="")
            self._t0 = time.perf_counter()
            self._first: int | None = None

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            return
        if self._first is None:
            self._first = done
            self._t0 = time.perf_counter()
        elapsed = time.perf_counter() - self._t0
        fresh = done - self._first
        rate = f"{fresh / elapsed:.1f} runs/s" if elapsed > 0 and fresh > 0 else ""
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
