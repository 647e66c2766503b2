"""What an ensemble collects chunk by chunk (status, kept rows, solves, unit counts, warnings,
in memory the full metrics and allocations), and the tables of its first ``n`` runs at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from policysim.analysis import UnitCounts, combine_unit_counts
from policysim.experiments.result import concat_frames
from policysim.experiments.store import PartsStore
from policysim.experiments.worker import SOLVE_COLUMNS, ChunkOutput

__all__ = ["Collected", "Tables"]


@dataclass(frozen=True)
class Tables:
    """The tables of an ensemble's first ``n`` runs (see
    :class:`~policysim.experiments.result.EnsembleResult`)."""

    metrics: pd.DataFrame
    failures: pd.DataFrame
    solves: pd.DataFrame
    allocations: pd.DataFrame | None
    units: UnitCounts
    n_runs: int


@dataclass
class Collected:
    """The outputs of the chunks run so far (and, resumed, of those read from the store)."""

    status: list[pd.DataFrame] = field(default_factory=list)
    kept: list[pd.DataFrame] = field(default_factory=list)
    solves: list[pd.DataFrame] = field(default_factory=list)
    #: each chunk's unit counts, summed once at the end (:meth:`tables`): summing after every
    #: chunk cost the parent process about 50 ms a chunk while the workers ran
    unit_parts: list[UnitCounts] = field(default_factory=list)
    #: resumed chunks: their unit counts are added at the end, once the number of runs is known
    stored_chunks: list[tuple[int, int, np.ndarray[Any, np.dtype[np.int64]]]] = field(
        default_factory=list
    )
    full: list[pd.DataFrame] = field(default_factory=list)
    allocs: list[pd.DataFrame] = field(default_factory=list)
    warn_counts: dict[str, int] = field(default_factory=dict)

    def resume(self, parts: PartsStore) -> None:
        """Start from the chunks already complete in the store."""
        done = parts.read_completed()
        self.status, self.kept, self.solves = done.status, done.kept, done.solves
        for (first, last), st in zip(done.bounds, done.status, strict=True):
            ok = st.loc[st["error"].isna(), "replication"].to_numpy(dtype=np.int64)
            self.stored_chunks.append((first, last, ok))

    def completed_ids(self) -> set[int]:
        return {int(r) for s in self.status for r in s["replication"]}

    def add(self, out: ChunkOutput, parts: PartsStore | None) -> None:
        """A finished chunk: written to the store when streamed, else kept in memory."""
        if parts is not None:
            parts.write_chunk(out)
        else:
            if out.metrics is not None:
                self.full.append(out.metrics)
            if out.allocations is not None:
                self.allocs.append(out.allocations)
        self.status.append(out.status)
        self.kept.append(out.kept)
        self.unit_parts.append(out.units)
        self.solves.append(out.solves)
        for k, v in out.warnings.items():
            self.warn_counts[k] = self.warn_counts.get(k, 0) + v

    def tables(
        self, parts: PartsStore | None, n_target: int, keep_years: tuple[int, ...]
    ) -> Tables:
        """The tables of runs ``0 .. n_target - 1`` (the resumed chunks' unit counts read from
        the store now)."""

        def select(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
            table = concat_frames(frames)
            if not len(table):
                return pd.DataFrame(columns=list(columns))
            return table[table["replication"] < n_target].reset_index(drop=True)

        units = combine_unit_counts(self.unit_parts)
        if parts is not None:
            for first, last, ok in self.stored_chunks:
                inside = ok < n_target
                if inside.all():
                    more = parts.read_units(first, last)
                elif inside.any():  # a resumed ensemble smaller than the interrupted one
                    more = parts.read_units(first, last, below=n_target, years=keep_years)
                else:
                    continue
                units = combine_unit_counts([units, more])
        status_table = select(self.status, ["replication", "seed_key", "error"])
        failures = status_table[status_table["error"].notna()].reset_index(drop=True)
        metrics = select(self.full if parts is None else self.kept, ())
        if "year" in metrics.columns:
            metrics["year"] = metrics["year"].astype(np.int64)
        allocations = select(self.allocs, ()) if self.allocs else None
        return Tables(
            metrics=metrics,
            failures=failures,
            solves=select(self.solves, SOLVE_COLUMNS),
            allocations=allocations,
            units=units,
            n_runs=len(status_table),
        )
