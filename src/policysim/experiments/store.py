"""The results store of a streaming ensemble: completed chunks as Parquet parts, for resume.

Layout under the run directory::

    .parts/config.json                  what the runs depend on (checked on --resume)
    .parts/runs-FIRST-LAST.parquet      replication, seed_key, error of each run of the chunk
    .parts/kept-FIRST-LAST.parquet      rows kept in memory: province rows (attainment)
    .parts/units-FIRST-LAST.parquet     per-unit designation counts of the chunk's runs (unit
                                        probabilities; the runs per indicator in the metadata)
    .parts/solves-FIRST-LAST.parquet    allocation solves
    .parts/alloc-FIRST-LAST.parquet     allocation plans (when the strategy records them)
    .parts/part-FIRST-LAST.parquet      all stored metrics of the chunk: written last, it marks
                                        the chunk complete

    .parts/sums-FIRST-LAST.json         SHA-256 of each of the chunk's files, written after them

Every file is written to a temporary name and moved into place with ``os.replace``; a chunk
without its ``part-`` file is ignored (and rewritten) on resume. On resume every chunk's files
are checked against its ``sums-`` file: a chunk with a missing, truncated or altered file (or no
``sums-`` file) is damaged; it is deleted and recomputed (its runs are deterministic), never read
as if whole. A store written before the ``units-`` files existed kept the indicator rows in its
``kept-`` files; they are counted on resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from policysim.analysis.targets import UNIT_RUN_COLUMNS, UnitCounts, unit_counts
from policysim.errors import ScenarioError
from policysim.experiments.worker import SOLVE_COLUMNS, UNIT_INDICATORS, ChunkOutput
from policysim.report._atomic import TEMPORARY_SUFFIX, atomic_output

__all__ = [
    "PARTS_DIR",
    "STUDY_RUNS_DIR",
    "PartsStore",
    "StoredRuns",
    "remove_study_stores",
    "study_stores",
    "sub_store",
    "write_bytes",
]

logger = logging.getLogger(__name__)

PARTS_DIR: Final = ".parts"
_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
#: Every file the store writes (and the only ones :meth:`PartsStore.remove` deletes).
_OWN = re.compile(
    r"^(?:(?:runs|kept|units|solves|alloc|part)-\d+-\d+\.parquet|sums-\d+-\d+\.json|config\.json)$"
)
_KINDS: Final = ("runs", "kept", "units", "solves", "alloc", "part")
#: Parquet metadata key of the runs per indicator in a ``units-`` file.
_UNIT_RUNS_KEY: Final = b"policysim.unit_runs"


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    with atomic_output(path) as stream:
        stream.write(data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _damaged(path: Path, what: str) -> ScenarioError:
    return ScenarioError(
        path,
        f"damaged run directory: {what}",
        expected="--force to start over, or another --out",
    )


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _units_bytes(units: UnitCounts) -> bytes:
    """A chunk's unit counts as Parquet: the cells as the table, the runs in the metadata."""
    table = pa.Table.from_pandas(units.cells, preserve_index=False)
    runs = json.dumps(units.runs[list(UNIT_RUN_COLUMNS)].to_dict("records")).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _UNIT_RUNS_KEY: runs})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _read_units(path: Path) -> UnitCounts:
    table = pq.read_table(path)
    runs = json.loads((table.schema.metadata or {})[_UNIT_RUNS_KEY])
    empty = UnitCounts.empty()
    cells = table.to_pandas() if table.num_rows else empty.cells
    return UnitCounts(
        cells=cells.astype(empty.cells.dtypes.to_dict()),
        runs=pd.DataFrame(runs, columns=list(UNIT_RUN_COLUMNS)).astype(empty.runs.dtypes.to_dict()),
    )


@dataclass(frozen=True)
class StoredRuns:
    """Chunks already in the store, in run order.

    Attributes
    ----------
    bounds : list of (int, int)
        First and last run of each chunk.
    status, kept, solves : list of DataFrame
        Per chunk, as in :class:`~policysim.experiments.worker.ChunkOutput`. The unit counts
        are read one chunk at a time (:meth:`PartsStore.read_units`).
    """

    bounds: list[tuple[int, int]]
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
            stored = self.read_config()
            from policysim.experiments.rundir import describe_key_change

            describe_key_change(cfg_path, stored, config)
            self._clean_temporaries()
            self._drop_damaged()
            return
        if self.has_parts():
            raise ScenarioError(
                self.root,
                "the directory holds an interrupted ensemble",
                expected="--resume to continue it, or another --out directory",
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        write_bytes(cfg_path, json.dumps(dict(config), indent=1, sort_keys=True).encode())

    def read_config(self) -> dict[str, Any]:
        """The stored resume key (``config.json``).

        Raises
        ------
        ScenarioError
            The file cannot be read, is not JSON or is not a JSON object.
        """
        cfg_path = self.dir / "config.json"
        try:
            stored = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise _damaged(cfg_path, "the resume key is not readable JSON") from None
        if not isinstance(stored, dict):
            raise _damaged(cfg_path, "the resume key is not a JSON object")
        return stored

    # -- verification ----------------------------------------------------------------------------
    def _chunk_problem(self, first: int, last: int) -> Path | None:
        """The first missing or altered file of a completed chunk (None: whole)."""
        sums_path = self._sums(first, last)
        try:
            sums = json.loads(sums_path.read_text(encoding="utf-8"))["files"]
            if not isinstance(sums, dict):
                return sums_path
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return sums_path
        for kind in ("runs", "kept", "units", "solves", "part"):
            if f"{kind}-{first:07d}-{last:07d}.parquet" not in sums:
                return sums_path
        for name, sha in sums.items():
            path = self.dir / str(name)
            try:
                if _sha256(path.read_bytes()) != sha:
                    return path
            except OSError:
                return path
        return None

    def damaged_chunks(self) -> list[Path]:
        """The first bad file of each completed chunk that fails its checksums."""
        out = []
        for first, last, _ in self.parts():
            bad = self._chunk_problem(first, last)
            if bad is not None:
                out.append(bad)
        return out

    def _drop_damaged(self) -> None:
        """Delete the files of each damaged chunk: its runs are recomputed."""
        for first, last, _ in self.parts():
            bad = self._chunk_problem(first, last)
            if bad is None:
                continue
            logger.warning("damaged part %s: runs %d-%d are recomputed", bad, first, last)
            self._aux("part", first, last).unlink(missing_ok=True)  # the completion mark first
            for kind in _KINDS:
                self._aux(kind, first, last).unlink(missing_ok=True)
            self._sums(first, last).unlink(missing_ok=True)

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

    def _sums(self, first: int, last: int) -> Path:
        return self.dir / f"sums-{first:07d}-{last:07d}.json"

    def write_chunk(self, out: ChunkOutput) -> None:
        """Store a streamed chunk; the metrics part goes last and marks it complete."""
        if out.metrics_parquet is None:
            raise ValueError("write_chunk needs a streamed chunk (metrics_parquet)")
        first, last = min(out.runs), max(out.runs)
        files: dict[str, bytes] = {
            "runs": _frame_bytes(out.status),
            "kept": _frame_bytes(out.kept),
            "units": _units_bytes(out.units),
            "solves": _frame_bytes(out.solves),
        }
        if out.allocations_parquet is not None:
            files["alloc"] = out.allocations_parquet
        else:
            self._aux("alloc", first, last).unlink(missing_ok=True)
        files["part"] = out.metrics_parquet
        sums: dict[str, str] = {}
        for kind, data in files.items():
            path = self._aux(kind, first, last)
            write_bytes(path, data)
            sums[path.name] = _sha256(data)
        write_bytes(self._sums(first, last), json.dumps({"files": sums}, indent=1).encode())

    def read_completed(self) -> StoredRuns:
        """Status, kept rows and solves of every completed chunk (not the unit counts)."""
        bounds: list[tuple[int, int]] = []
        status: list[pd.DataFrame] = []
        kept: list[pd.DataFrame] = []
        solves: list[pd.DataFrame] = []
        for first, last, _ in self.parts():
            bounds.append((first, last))
            path = self._aux("runs", first, last)
            try:
                status.append(pd.read_parquet(path))
                path = self._aux("kept", first, last)
                rows = pd.read_parquet(path)
                # an older store also kept the indicator rows: keep only the province rows
                kept.append(rows[rows["level"] == "province"].reset_index(drop=True))
                path = self._aux("solves", first, last)
                sol = pd.read_parquet(path)
            except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
                raise _damaged(path, f"unreadable part ({type(exc).__name__})") from None
            solves.append(sol.reindex(columns=list(SOLVE_COLUMNS)))
        return StoredRuns(bounds=bounds, status=status, kept=kept, solves=solves)

    def read_units(
        self,
        first: int,
        last: int,
        *,
        below: int | None = None,
        years: Sequence[int] | None = None,
    ) -> UnitCounts:
        """Unit counts of one completed chunk.

        Parameters
        ----------
        first, last : int
            The chunk (as in :attr:`StoredRuns.bounds`).
        below : int, optional
            Count only runs with a smaller id: the counts are recomputed from the chunk's metrics
            part (for a chunk only partly inside a smaller resumed ensemble).
        years : sequence of int, optional
            Years to count when recomputing (the ensemble's report years; default: all).
        """
        if below is None:
            path = self._aux("units", first, last)
            if path.is_file():
                return _read_units(path)
            # written before the units- files: the kept rows are the indicator rows to count
            return unit_counts(pd.read_parquet(self._aux("kept", first, last)), UNIT_INDICATORS)
        rows = pd.read_parquet(
            self._aux("part", first, last), filters=[("replication", "<", int(below))]
        )
        return unit_counts(rows, UNIT_INDICATORS, years)

    def metric_files(self) -> list[Path]:
        """Metrics parts in run order."""
        return [p for _, _, p in self.parts()]

    def allocation_files(self) -> list[Path]:
        """Allocation parts in run order (chunks without plans are skipped)."""
        files = [self._aux("alloc", first, last) for first, last, _ in self.parts()]
        return [f for f in files if f.is_file()]

    def remove(self) -> None:
        """Delete the parts (after the final outputs are written): only the files the store
        writes (and its temporaries); the folder goes if nothing else is left in it."""
        if not self.dir.is_dir():
            return
        # the completion marks first: a store interrupted here holds no chunk that looks whole
        for _, _, path in self.parts():
            path.unlink(missing_ok=True)
        for p in self.dir.iterdir():
            if _OWN.match(p.name) or (p.name.startswith(".") and p.name.endswith(TEMPORARY_SUFFIX)):
                p.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            logger.warning("kept %s: it holds files policysim did not write", self.dir)


#: Folder of a run directory holding the parts stores of a study's ensembles (one per scenario,
#: budget level...: :func:`sub_store`).
STUDY_RUNS_DIR: Final = "runs"


def sub_store(root: Path | None, index: int, label: str) -> Path | None:
    """The store folder of a study's ``index``-th ensemble under the run directory ``root``
    (None: in memory)."""
    if root is None:
        return None
    safe = re.sub(r"[^\w.-]+", "_", label).strip("._") or "ensemble"
    return Path(root) / STUDY_RUNS_DIR / f"{index:03d}-{safe[:60]}"


def study_stores(root: Path) -> list[PartsStore]:
    """The parts stores of a run directory: its own, then those of its study's ensembles (at
    any depth under ``runs/``, e.g. a comparison's marginal study's groups)."""
    root = Path(root)
    stores = [PartsStore(root)]
    runs = root / STUDY_RUNS_DIR
    if runs.is_dir():
        stores += [PartsStore(p.parent) for p in sorted(runs.rglob(PARTS_DIR)) if p.is_dir()]
    return stores


def remove_study_stores(root: Path) -> None:
    """Delete the parts of every ensemble of a run directory (after its outputs are written);
    the study's folders go when nothing else is left in them."""
    for store in study_stores(root):
        store.remove()
    runs = Path(root) / STUDY_RUNS_DIR
    if runs.is_dir():
        folders = sorted((p for p in runs.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for folder in [*folders, runs]:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
