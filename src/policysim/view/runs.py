"""Running an ensemble for a page, and reading run directories back: no UI here.

A page's run goes through the same calls as ``policysim run``: a
:class:`~policysim.experiments.rundir.RunDirectory` (lock, marker, resume key),
:func:`policysim.run_ensemble` streaming into it, then :func:`policysim.write_outputs`, so every
run it makes is a normal run directory with its manifest. The run is cancelled between chunks
(the finished chunks stay, and ``policysim run ... --resume`` continues it).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pandas as pd

from policysim.commands._common import timestamped_dir
from policysim.scenario import LoadedScenario

__all__ = [
    "RUN_FILES",
    "Cancelled",
    "RunJob",
    "RunOutcome",
    "attainment_of",
    "find_runs",
    "side_by_side",
]

logger = logging.getLogger(__name__)

#: Files of a run directory a page links to (downloadable).
RUN_FILES: Final = ("briefing.html", "results.xlsx", "report.html")


class Cancelled(Exception):  # noqa: N818  (a state, not an error)
    """Raised inside the ensemble's progress callback when the user cancels."""


@dataclass(frozen=True)
class RunOutcome:
    """A finished (or cancelled) run of a page."""

    directory: Path
    written: dict[str, Path]
    seconds: float
    n_runs: int
    n_failed: int
    cancelled: bool = False


@dataclass
class RunJob:
    """One ensemble of a page, run like ``policysim run`` (see the module docstring).

    ``progress(done, total)`` is called after each chunk; :meth:`cancel` stops the run after the
    current chunk (the callback raises :class:`Cancelled`).
    """

    loaded: LoadedScenario
    replications: int
    workers: int
    lang: str = "both"
    results_dir: Path | None = None
    progress: Callable[[int, int], None] | None = None
    directory: Path | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, init=False)

    def cancel(self) -> None:
        """Stop after the chunk that is running."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _callback(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)
        if self._cancel.is_set():
            raise Cancelled(f"cancelled after {done} of {total} runs")

    def run(self) -> RunOutcome:
        """Run the ensemble and write its run directory (blocking).

        Raises
        ------
        PolicysimError
            The CLI's errors (scenario, feasibility, run directory).
        """
        from policysim.experiments import run_ensemble, write_outputs
        from policysim.experiments.rundir import RunDirectory
        from policysim.experiments.runner import resume_key
        from policysim.experiments.store import PartsStore

        loaded = self.loaded
        base = Path(loaded.scenario.outputs.dir) if self.results_dir is None else self.results_dir
        target = self.directory or timestamped_dir(base, loaded.name)
        self.directory = target
        key = resume_key(loaded, loaded.scenario.ensemble.root_seed)
        with RunDirectory(target, command="run", key=key, resumable=True) as rundir:
            try:
                result = run_ensemble(
                    loaded,
                    replications=self.replications,
                    workers=self.workers,
                    store=target,
                    callback=self._callback,
                )
            except Cancelled:
                logger.info("run in %s cancelled", target)
                return RunOutcome(target, {}, 0.0, 0, 0, cancelled=True)
            written = write_outputs(result, target, lang=self.lang)
            rundir.complete(written)
            PartsStore(target).remove()
        return RunOutcome(target, written, result.seconds, result.n_runs, result.n_failed)


# -----------------------------------------------------------------------------------------------
# reading run directories


#: Files that make a folder a finished run directory of some command (run, compare, frontier,
#: sensitivity, hindcast, nowcast all write a manifest or a report).
RUN_MARKERS: Final = ("attainment.csv", "comparison.csv", "manifest.json", "report.html")


def is_run_dir(path: Path) -> bool:
    """A folder holding a finished run of some command (see :data:`RUN_MARKERS`)."""
    return path.is_dir() and any((path / name).is_file() for name in RUN_MARKERS)


def has_attainment(path: Path) -> bool:
    """A run directory with an attainment table (a run) or a comparison table."""
    return (path / "attainment.csv").is_file() or (path / "comparison.csv").is_file()


def find_runs(results_dir: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """Run directories: ``extra`` (given on the command line) first, then the folders of
    ``results_dir`` holding a finished run, newest first."""
    found = [p for p in extra if is_run_dir(p)]
    if results_dir.is_dir():
        children = [p for p in results_dir.iterdir() if is_run_dir(p) and p not in found]
        children.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        found += children
    return found


def run_label(path: Path) -> str:
    """A short name of a run directory: its folder name, with the strategy from the manifest."""
    manifest = path / "manifest.json"
    strategy = ""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        resolved = data.get("scenario", {}).get("resolved", {})
        strategy = str(resolved.get("allocation", {}).get("strategy", ""))
    except (OSError, ValueError, AttributeError):
        pass
    return f"{path.name} ({strategy})" if strategy else path.name


def attainment_of(path: Path) -> pd.DataFrame:
    """The attainment table of a run directory with the briefing's verdict per target
    (``verdict``); a comparison directory gives one row per scenario and target."""
    from policysim.report.briefing import verdict

    file = path / "attainment.csv"
    if not file.is_file():
        file = path / "comparison.csv"
    table = pd.read_csv(file, encoding="utf-8-sig")
    if {"ci_low", "ci_high"} <= set(table.columns):
        table["verdict"] = [
            verdict(float(lo), float(hi))
            for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
        ]
    return table


def _cell(row: Mapping[Any, Any], lang: str) -> str:
    """``P (low-high) verdict`` of one attainment row (the interval and verdict when known)."""
    from policysim.view.words import verdict_words

    text = f"{float(row['probability']):.0%}"
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        text += f" ({float(low):.0%}-{float(high):.0%})"
    if "diff_vs_baseline" in row and not pd.isna(row["diff_vs_baseline"]):
        text += f", {float(row['diff_vs_baseline']) * 100:+.1f} pp vs baseline"
    words = verdict_words(str(row.get("verdict", "") or ""), lang)
    return f"{text} {words}".strip()


def side_by_side(runs: Sequence[Path], lang: str = "en") -> pd.DataFrame:
    """P(met) with its 95% interval and verdict (in ``lang``) of each run, on the targets they
    share: one row per target, one column per run (per scenario of a comparison)."""
    columns: dict[str, pd.Series] = {}
    common: set[str] | None = None
    for path in runs:
        if not has_attainment(path):  # a frontier, sensitivity or hindcast study
            continue
        table = attainment_of(path)
        if not {"target", "probability"} <= set(table.columns):
            continue
        if "kind" in table:  # a comparison: its attainment rows (then best strategies etc.)
            table = table[table["kind"].isna() | (table["kind"] == "attainment")]
        table = table[table["probability"].notna()]
        # a comparison holds one scenario per strategy: each is a column of its own
        groups = table.groupby("scenario", sort=False) if "scenario" in table else [("", table)]
        for scenario, rows in groups:
            cells = {str(r["target"]): _cell(r, lang) for r in rows.to_dict("records")}
            common = set(cells) if common is None else common & set(cells)
            name = run_label(path) + (f": {scenario!s}" if str(scenario) else "")
            columns[name] = pd.Series(cells)
    if not columns or not common:
        return pd.DataFrame()
    frame = pd.DataFrame(columns).loc[sorted(common)]
    frame.index.name = "target"
    return frame.reset_index()
