"""The unit of work of an ensemble: a chunk of runs, simulated and reduced inside the worker.

:func:`run_chunk` is a module-level function so that ``spawn`` process pools (notebooks
included) and Dask workers can import it. It returns only what the parent keeps: the rows the
attainment computation needs (province rows), per-unit designation counts summed over the chunk's
runs (unit probabilities: a fixed size, whatever the number of runs), and the rest of each run's
output already encoded as Parquet bytes when the ensemble streams to a store (small inter-process
traffic, no re-encoding in the parent).
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from policysim._memory import keep_freed_memory
from policysim.analysis.targets import UnitCounts
from policysim.analysis.units import CodedRows, unit_counts_coded
from policysim.experiments.design import run_seed, seed_key, synthesis_seeds_of
from policysim.scenario.levers import apply_levers
from policysim.scenario.schema import Scenario
from policysim.simulation import LEVELS, MetricColumns, SimulationResult

__all__ = [
    "ALLOCATION_SCHEMA",
    "METRICS_SCHEMA",
    "SOLVE_COLUMNS",
    "UNIT_INDICATORS",
    "ChunkOutput",
    "ChunkTask",
    "encode_parquet",
    "failed_chunk",
    "keep_freed_memory",
    "run_chunk",
    "warm_worker",
]

logger = logging.getLogger(__name__)

#: The only township metric an ensemble stores, and only in the report years (per-run yearly rows
#: of 1,783 townships would be most of the stored table; the per-unit probability tables carry
#: the designation of every township).
TOWNSHIP_METRIC: Final = "innovative"
#: ``(level, metric)`` of the 0/1 indicators whose per-unit counts a chunk returns (unit
#: probabilities): county designation (pilots included), national designation, innovative
#: township.
UNIT_INDICATORS: Final = (
    ("county", "designated"),
    ("county", "national"),
    ("township", TOWNSHIP_METRIC),
)

_DICT = pa.dictionary(pa.int32(), pa.string())
#: Arrow schema of the stored metrics (Parquet parts and ``metrics.parquet``).
METRICS_SCHEMA: Final = pa.schema(
    [
        ("replication", pa.int32()),
        ("year", pa.int16()),
        ("level", _DICT),
        ("code", _DICT),
        ("name", _DICT),
        ("metric", _DICT),
        ("value", pa.float64()),
    ]
)
#: Arrow schema of the stored allocation plans (CNY per county, instrument and year).
ALLOCATION_SCHEMA: Final = pa.schema(
    [
        ("replication", pa.int32()),
        ("year", pa.int16()),
        ("county_code", _DICT),
        ("county_name", _DICT),
        ("instrument", _DICT),
        ("cny", pa.float64()),
    ]
)
SOLVE_COLUMNS: Final = (
    "replication",
    "year",
    "strategy",
    "status",
    "objective",
    "mip_gap",
    "seconds",
    "message",
)


@dataclass(frozen=True)
class ChunkTask:
    """Runs to simulate in one worker call.

    Attributes
    ----------
    scenario : Scenario
        The scenario as run (overrides applied).
    root_seed : int
        Root of the run seeds.
    runs : tuple of int
        Run ids (replications), ascending.
    params : tuple of dict
        Parameter values of each run (the draw), aligned with ``runs``.
    keep_years : tuple of int
        Years of the per-unit counts of :data:`UNIT_INDICATORS` (unit probabilities).
    stream : bool
        True: return the run outputs as Parquet bytes for the store and only the kept rows as a
        frame. False: return everything as frames (an in-memory ensemble).
    levers : tuple of dict
        Lever values of each run (:mod:`policysim.scenario.levers`), aligned with ``runs``;
        empty: no levers (every run uses ``scenario`` as it is).
    extra_cny : (n_counties, n_instruments) float array, optional
        A fixed plan added to every year's allocation of every run, outside the budget (the
        perturbation of a marginal-value study).
    """

    scenario: Scenario
    root_seed: int
    runs: tuple[int, ...]
    params: tuple[dict[str, float], ...]
    keep_years: tuple[int, ...]
    stream: bool
    levers: tuple[dict[str, float], ...] = ()
    extra_cny: NDArray[np.float64] | None = None

    def scenario_of(self, i: int) -> Scenario:
        """The scenario of the chunk's ``i``-th run (its levers applied)."""
        return apply_levers(self.scenario, self.levers[i]) if self.levers else self.scenario

    def single(self, i: int) -> ChunkTask:
        """The chunk's ``i``-th run alone."""
        return replace(
            self,
            runs=(self.runs[i],),
            params=(self.params[i],),
            levers=(self.levers[i],) if self.levers else (),
        )


@dataclass(frozen=True)
class ChunkOutput:
    """What a worker sends back for one chunk.

    Attributes
    ----------
    runs : tuple of int
        The chunk's run ids.
    status : DataFrame
        ``replication, seed_key, error`` (error None for a completed run).
    kept : DataFrame
        Long metrics kept in memory: the province rows of every completed run (categories
        reduced to those used).
    units : UnitCounts
        Per-unit counts of :data:`UNIT_INDICATORS` in ``keep_years`` over the chunk's completed
        runs (instead of their unit rows: a size independent of the number of runs).
    solves : DataFrame
        Allocation solves (``SOLVE_COLUMNS``).
    metrics : DataFrame or None
        All stored metrics (non-streaming mode).
    allocations : DataFrame or None
        Plans (non-streaming mode), None when the strategy records none.
    metrics_parquet, allocations_parquet : bytes or None
        Streaming mode: the same tables encoded with ``METRICS_SCHEMA`` / ``ALLOCATION_SCHEMA``.
    seconds : float
        Wall-clock time of the chunk in the worker, s.
    """

    runs: tuple[int, ...]
    status: pd.DataFrame
    kept: pd.DataFrame
    units: UnitCounts
    solves: pd.DataFrame
    metrics: pd.DataFrame | None = None
    allocations: pd.DataFrame | None = None
    metrics_parquet: bytes | None = None
    allocations_parquet: bytes | None = None
    seconds: float = 0.0
    warnings: dict[str, int] = field(default_factory=dict)


@dataclass
class _Rows:
    """Rows of the runs of a chunk, as code arrays (one :class:`MetricColumns` per run)."""

    parts: list[tuple[int, MetricColumns]] = field(default_factory=list)

    def add(self, replication: int, columns: MetricColumns) -> None:
        self.parts.append((replication, columns))

    def _columns(self) -> tuple[NDArray[np.int32], MetricColumns]:
        """The runs' rows in one :class:`MetricColumns`, and the replication of each row. The
        runs of a chunk share one scenario, hence one set of unit codes and metric names."""
        c0 = self.parts[0][1]
        for _, c in self.parts:
            for name in ("codes", "names", "metrics"):
                mine, first = getattr(c, name), getattr(c0, name)
                if mine is not first and not mine.equals(first):
                    raise RuntimeError(f"runs of one chunk with different {name}")
        replication = np.concatenate(
            [np.full(c.value.shape[0], r, dtype=np.int32) for r, c in self.parts]
        )

        def cat(name: str) -> NDArray[Any]:
            return np.concatenate([getattr(c, name) for _, c in self.parts])

        merged = MetricColumns(
            year=cat("year"),
            level=cat("level"),
            unit=cat("unit"),
            metric=cat("metric"),
            value=cat("value"),
            codes=c0.codes,
            name_of_unit=c0.name_of_unit,
            names=c0.names,
            metrics=c0.metrics,
        )
        return replication, merged

    def frame(self) -> pd.DataFrame:
        """Long metrics with a ``replication`` column (categorical text columns)."""
        if not self.parts:
            return pd.DataFrame(columns=list(_METRIC_COLUMNS))
        replication, merged = self._columns()
        return merged.frame().assign(replication=replication)[list(_METRIC_COLUMNS)]

    def parquet(self) -> bytes:
        """The rows encoded as a Parquet part (:data:`METRICS_SCHEMA`), built from the codes
        without a DataFrame."""
        if not self.parts:
            return encode_parquet(self.frame(), METRICS_SCHEMA)
        replication, m = self._columns()

        def dictionary(indices: NDArray[Any], values: pd.Index | tuple[str, ...]) -> pa.Array:
            return pa.DictionaryArray.from_arrays(
                pa.array(np.asarray(indices, dtype=np.int32)), pa.array(list(values), pa.string())
            )

        table = pa.table(
            {
                "replication": pa.array(replication, pa.int32()),
                "year": pa.array(m.year.astype(np.int16), pa.int16()),
                "level": dictionary(m.level, LEVELS),
                "code": dictionary(m.unit, m.codes),
                "name": dictionary(m.name_of_unit[m.unit], m.names),
                "metric": dictionary(m.metric, m.metrics),
                "value": pa.array(m.value, pa.float64()),
            },
            schema=METRICS_SCHEMA,
        )
        return _parquet_bytes(table, METRICS_SCHEMA)


def _unit_counts(rows: _Rows, keep_years: Sequence[int]) -> UnitCounts:
    """:func:`~policysim.analysis.unit_counts` of the :data:`UNIT_INDICATORS` rows of a chunk in
    ``keep_years``, counted from their codes (the same table as from their frame; a quarter
    less time: no text column built and compared row by row)."""
    replication, m = rows._columns()
    in_years = np.isin(m.year, np.asarray(keep_years))
    indicators = []
    for level, metric in UNIT_INDICATORS:
        at = np.flatnonzero(
            (m.level == LEVELS.index(level)) & (m.metric == m.metric_code(metric)) & in_years
        )
        coded = CodedRows(m.year[at], m.unit[at], m.value[at], replication[at])
        indicators.append((level, metric, coded))
    names = [str(m.names[i]) for i in m.name_of_unit]
    return unit_counts_coded(indicators, [str(c) for c in m.codes], names)


def _select(
    columns: MetricColumns, keep_years: Sequence[int]
) -> tuple[MetricColumns, MetricColumns, MetricColumns]:
    """Stored rows (province, county, township innovative in ``keep_years``), kept rows
    (province) and the rows of :data:`UNIT_INDICATORS` in ``keep_years`` (to be counted) of one
    run."""
    level, metric = columns.level, columns.metric
    province, county, township = (LEVELS.index(x) for x in ("province", "county", "township"))
    is_prov = level == province
    is_innov = (level == township) & (metric == columns.metric_code(TOWNSHIP_METRIC))
    in_years = np.isin(columns.year, np.asarray(keep_years))
    keep = is_prov | (level == county) | (is_innov & in_years)
    is_indicator = np.zeros(level.shape[0], dtype=bool)
    for lvl, name in UNIT_INDICATORS:
        is_indicator |= (level == LEVELS.index(lvl)) & (metric == columns.metric_code(name))
    stored = columns if keep.all() else columns.take(np.flatnonzero(keep))
    return (
        stored,
        columns.take(np.flatnonzero(is_prov)),
        columns.take(np.flatnonzero(in_years & is_indicator)),
    )


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop unused categories (the unit codes and names of the levels not kept)."""
    used = {
        str(c): frame[c].cat.remove_unused_categories()
        for c in frame.columns
        if isinstance(frame[c].dtype, pd.CategoricalDtype)
    }
    return frame.assign(**used) if used else frame


def _frame_of_solves(replication: int, solves: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [
        {**{k: s.get(k) for k in SOLVE_COLUMNS[1:]}, "replication": replication} for s in solves
    ]
    return pd.DataFrame(rows, columns=list(SOLVE_COLUMNS))


def encode_parquet(frame: pd.DataFrame, schema: pa.Schema) -> bytes:
    """Encode a frame as Parquet bytes with a fixed Arrow schema (columns in schema order)."""
    table = pa.Table.from_pandas(frame[schema.names], preserve_index=False)
    return _parquet_bytes(table.cast(schema), schema)


def _parquet_bytes(table: pa.Table, schema: pa.Schema) -> bytes:
    sink = io.BytesIO()
    # lz4 and no statistics: parts are short-lived and read whole; the final files are
    # re-encoded with zstd and statistics. Dictionary encoding only for the string columns.
    strings = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    pq.write_table(table, sink, compression="lz4", use_dictionary=strings, write_statistics=False)
    return sink.getvalue()


def _concat(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=list(columns))
    out = pd.concat(frames, ignore_index=True)
    return out[list(columns)]


_METRIC_COLUMNS: Final = ("replication", "year", "level", "code", "name", "metric", "value")
_ALLOC_COLUMNS: Final = ("replication", "year", "county_code", "county_name", "instrument", "cny")


def ignore_interrupt() -> None:
    """Initializer of a local worker process: ignore SIGINT (Ctrl-C goes to the whole process
    group; the parent stops the pool and prints how to resume)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


_MEMORY_SET = False


def warm_worker(scenario: Scenario) -> None:
    """Import the model and load (and cache) the scenario's baselines (one per synthesis seed an
    ensemble samples) in a new worker process."""
    from policysim.model import baseline_arrays
    from policysim.simulation import baseline_for

    for seed in scenario.baseline.ensemble_seeds():
        baseline_arrays(baseline_for(scenario, seed))


def check_finite(columns: MetricColumns) -> None:
    """Stop a run whose state became non-finite (NaN or infinite): raise naming the unit, the
    metric and the year, so that the run fails instead of counting as "target missed"."""
    value = columns.value
    if np.isfinite(value).all():
        return
    bad = np.flatnonzero(~np.isfinite(value))
    # name the most specific unit first (a county's NaN spreads to the province total)
    rank = np.where(columns.level[bad] == LEVELS.index("province"), 1, 0)
    i = int(bad[np.lexsort((columns.year[bad], rank))[0]])
    level = LEVELS[int(columns.level[i])]
    unit = int(columns.unit[i])
    code = str(columns.codes[unit])
    name = str(columns.names[int(columns.name_of_unit[unit])])
    raise FloatingPointError(
        f"non-finite {columns.metrics[int(columns.metric[i])]} = {value[i]} for {level} "
        f"{code} {name} in {int(columns.year[i])} (check the baseline and parameter values)"
    )


def failed_chunk(task: ChunkTask, error: str) -> ChunkOutput:
    """The output of a chunk none of whose runs completed (e.g. their worker process died)."""
    status = pd.DataFrame(
        [{"replication": r, "seed_key": seed_key(r), "error": error} for r in task.runs],
        columns=["replication", "seed_key", "error"],
    )
    empty = _Rows()
    common = {
        "runs": task.runs,
        "status": status,
        "kept": empty.frame(),
        "units": UnitCounts.empty(),
        "solves": _concat([], SOLVE_COLUMNS),
    }
    if task.stream:
        return ChunkOutput(**common, metrics_parquet=empty.parquet())  # type: ignore[arg-type]
    return ChunkOutput(**common, metrics=empty.frame())  # type: ignore[arg-type]


def run_chunk(task: ChunkTask) -> ChunkOutput:
    """Simulate a chunk of runs; a run that raises is recorded, the others go on.

    Parameters
    ----------
    task : ChunkTask
        The runs, their seeds' root and parameter draws.

    Returns
    -------
    ChunkOutput
        Per-run status, kept rows, unit counts, solves and (encoded) stored tables.
    """
    _set_up_worker_process()
    start = time.perf_counter()
    runs = _ChunkRuns()
    synthesis = synthesis_seeds_of(task.scenario.baseline, task.root_seed, task.runs)
    for i, (run, params, synthesis_seed) in enumerate(
        zip(task.runs, task.params, synthesis, strict=True)
    ):
        try:
            result = _simulate_run(task, i, params, synthesis_seed, runs.warnings)
        except Exception as exc:  # a failing run is recorded, not fatal
            runs.failed(run, exc)
            continue
        runs.completed(run, result, task.keep_years)
    return runs.output(task, start)


def _set_up_worker_process() -> None:
    """In a worker process (of the local pool, or a Dask worker under its nanny), once: keep
    freed memory (:func:`keep_freed_memory`)."""
    global _MEMORY_SET
    if not _MEMORY_SET and multiprocessing.parent_process() is not None:
        keep_freed_memory()
        _MEMORY_SET = True


def _simulate_run(
    task: ChunkTask,
    i: int,
    params: Mapping[str, float],
    synthesis_seed: np.int64,
    seen_warnings: dict[str, int],
) -> SimulationResult:
    """Run ``i`` of the chunk, checked finite; the warnings of a completed run are counted in
    ``seen_warnings``."""
    from policysim.simulation import simulate

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate(
            task.scenario_of(i),
            run_seed(task.root_seed, task.runs[i]),
            params=params,
            township_metrics=(TOWNSHIP_METRIC,),
            synthesis_seed=int(synthesis_seed),
            extra_cny=task.extra_cny,
        )
        check_finite(result.columns)
    for w in caught:
        text = f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        seen_warnings[text] = seen_warnings.get(text, 0) + 1
    return result


@dataclass
class _ChunkRuns:
    """What the runs of a chunk leave: each run's status, its stored, kept and counted rows,
    its solves and plans, and the warnings of the completed runs."""

    status: list[dict[str, object]] = field(default_factory=list)
    stored: _Rows = field(default_factory=_Rows)
    kept: _Rows = field(default_factory=_Rows)
    indicators: _Rows = field(default_factory=_Rows)
    solves: list[pd.DataFrame] = field(default_factory=list)
    allocs: list[pd.DataFrame] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)

    def failed(self, run: int, exc: Exception) -> None:
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        logger.warning("run %d (seed key %s) failed: %s", run, seed_key(run), text)
        self.status.append({"replication": run, "seed_key": seed_key(run), "error": text})

    def completed(self, run: int, result: SimulationResult, keep_years: Sequence[int]) -> None:
        self.status.append({"replication": run, "seed_key": seed_key(run), "error": None})
        s, k, u = _select(result.columns, keep_years)
        self.stored.add(run, s)
        self.kept.add(run, k)
        self.indicators.add(run, u)
        if result.solves:  # (a rule strategy solves nothing: no empty frame per run)
            self.solves.append(_frame_of_solves(run, result.solves))
        if result.allocations is not None:
            self.allocs.append(result.allocations.assign(replication=np.int32(run)))

    def output(self, task: ChunkTask, start: float) -> ChunkOutput:
        """The chunk's output (its tables encoded when streamed); ``start``: when it began
        (:func:`time.perf_counter`)."""
        alloc_frame = _concat(self.allocs, _ALLOC_COLUMNS) if self.allocs else None
        out_kept = _compact(self.kept.frame())
        units = (
            _unit_counts(self.indicators, task.keep_years)
            if self.indicators.parts
            else UnitCounts.empty()
        )
        out_solves = _concat(self.solves, SOLVE_COLUMNS)
        status_frame = pd.DataFrame(self.status, columns=["replication", "seed_key", "error"])
        seconds = time.perf_counter() - start
        if task.stream:
            return ChunkOutput(
                runs=task.runs,
                status=status_frame,
                kept=out_kept,
                units=units,
                solves=out_solves,
                metrics_parquet=self.stored.parquet(),
                allocations_parquet=(
                    None if alloc_frame is None else encode_parquet(alloc_frame, ALLOCATION_SCHEMA)
                ),
                seconds=seconds,
                warnings=self.warnings,
            )
        return ChunkOutput(
            runs=task.runs,
            status=status_frame,
            kept=out_kept,
            units=units,
            solves=out_solves,
            metrics=self.stored.frame(),
            allocations=alloc_frame,
            seconds=seconds,
            warnings=self.warnings,
        )
