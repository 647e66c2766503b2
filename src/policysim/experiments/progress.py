"""The ensemble's progress bar on stderr."""

from __future__ import annotations

import time
from typing import Any

__all__: list[str] = []


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
