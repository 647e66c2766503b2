"""The results store of a streaming ensemble: completed chunks as Parquet parts, for resume.

Layout under the run directory::

    .parts/config.json                  what the runs depend on (checked on --resume)
    .parts/runs-FIRST-LAST.parquet      replication, seed_key, error of each run of the chunk
    .parts/kept-FIRST-LAST.parquet      rows kept in memory (attainment, unit probabilities)
    .parts/solves-FIRST-LAST.parquet    allocation solves
    .parts/alloc-FIRST-LAST.parquet     allocation plans (when the strategy records them)
    .parts/part-FIRST-LAST.parquet      all stored metrics of the chunk: written last, it marks
                                        the chunk complete

Every file is written to a temporary name and moved into place with ``os.replace``; a chunk
without its ``part-`` file is ignored (and rewritten) on resume.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from policysim.errors import ScenarioError
from policysim.experiments.worker import SOLVE_COLUMNS, ChunkOutput
from policysim.report._atomic import TEMPORARY_SUFFIX, atomic_output

__all__ = ["PARTS_DIR", "PartsStore", "StoredRuns", "write_bytes"]

logger = logging.getLogger(__name__)

PARTS_DIR: Final = ".parts"
_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    with atomic_output(path) as stream:
        stream.write(data)


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


@dataclass(frozen=True)
class StoredRuns:
    """Chunks already in the store."""

    status: list[pd.DataFrame]
    kept: list[pd.DataFrame]
    solves: list[pd.DataFrame]


class PartsStore:
    """Completed chunks of one ensemble under ``root/.parts``.

    Parameters
    ----------
    root : pathlib.Path
        The run directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / PARTS_DIR

    # -- configuration ---------------------------------------------------------------------------
    def has_parts(self) -> bool:
        """True when an earlier (interrupted) ensemble left completed chunks here."""
        return self.dir.is_dir() and any(self._part_files())

    def start(self, config: Mapping[str, Any], *, resume: bool) -> None:
        """Prepare the store for a new or resumed ensemble.

        Raises
        ------
        ScenarioError
            On resume, when the stored configuration differs from ``config`` (another scenario,
            seed or design) or there is nothing to resume; on a fresh start, when the directory
            already holds an interrupted ensemble.
        """
        cfg_path = self.dir / "config.json"
        if resume:
            if not cfg_path.is_file():
                raise ScenarioError(
                    self.root,
                    "nothing to resume: no interrupted ensemble in this directory",
                    expected=f"a run directory holding {PARTS_DIR}/config.json",
                )
            stored = json.loads(cfg_path.read_text(encoding="utf-8"))
            for key, value in config.items():
                if stored.get(key) != value:
                    raise ScenarioError(
                        cfg_path,
                        "cannot resume: the ensemble differs from the interrupted one",
                        key_path=key,
                        value=value,
                        expected=f"{stored.get(key)!r} as stored",
                    )
            self._clean_temporaries()
            return
        if self.has_parts():
            raise ScenarioError(
                self.root,
                "the directory holds an interrupted ensemble",
                expected="--resume to continue it, or another --out directory",
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        write_bytes(cfg_path, json.dumps(dict(config), indent=1, sort_keys=True).encode())

    def _clean_temporaries(self) -> None:
        for tmp in self.dir.glob(f".*{TEMPORARY_SUFFIX}"):
            tmp.unlink(missing_ok=True)

    # -- chunks ----------------------------------------------------------------------------------
    def _part_files(self) -> Iterator[tuple[int, int, Path]]:
        if not self.dir.is_dir():
            return
        for p in self.dir.iterdir():
            m = _PART.match(p.name)
            if m:
                yield int(m.group(1)), int(m.group(2)), p

    def parts(self) -> list[tuple[int, int, Path]]:
        """Completed chunks ``(first run, last run, metrics file)``, by first run."""
        return sorted(self._part_files())

    def _aux(self, kind: str, first: int, last: int) -> Path:
        return self.dir / f"{kind}-{first:07d}-{last:07d}.parquet"

    def write_chunk(self, out: ChunkOutput) -> None:
        """Store a streamed chunk; the metrics part goes last and marks it complete."""
        if out.metrics_parquet is None:
            raise ValueError("write_chunk needs a streamed chunk (metrics_parquet)")
        first, last = min(out.runs), max(out.runs)
        write_bytes(self._aux("runs", first, last), _frame_bytes(out.status))
        write_bytes(self._aux("kept", first, last), _frame_bytes(out.kept))
        write_bytes(self._aux("solves", first, last), _frame_bytes(out.solves))
        alloc = self._aux("alloc", first, last)
        if out.allocations_parquet is not None:
            write_bytes(alloc, out.allocations_parquet)
        else:
            alloc.unlink(missing_ok=True)
        write_bytes(self._aux("part", first, last), out.metrics_parquet)

    def read_completed(self) -> StoredRuns:
        """Status, kept rows and solves of every completed chunk."""
        status, kept, solves = [], [], []
        for first, last, _ in self.parts():
            status.append(pd.read_parquet(self._aux("runs", first, last)))
            kept.append(pd.read_parquet(self._aux("kept", first, last)))
            sol = pd.read_parquet(self._aux("solves", first, last))
            solves.append(sol.reindex(columns=list(SOLVE_COLUMNS)))
        return StoredRuns(status=status, kept=kept, solves=solves)

    def metric_files(self) -> list[Path]:
        """Metrics parts in run order."""
        return [p for _, _, p in self.parts()]

    def allocation_files(self) -> list[Path]:
        """Allocation parts in run order (chunks without plans are skipped)."""
        files = [self._aux("alloc", first, last) for first, last, _ in self.parts()]
        return [f for f in files if f.is_file()]

    def remove(self) -> None:
        """Delete the parts (after the final outputs are written)."""
        if not self.dir.is_dir():
            return
        for p in self.dir.iterdir():
            p.unlink(missing_ok=True)
        self.dir.rmdir()
