"""``policysim status DIR`` and ``policysim cache list|clear``: what a run directory holds, and
the cache of response curves and optimal plans."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from policysim.commands._common import out, plain

__all__ = ["register"]


def status(
    directory: Annotated[Path, typer.Argument(help="A run directory (the --out of a command).")],
) -> None:
    """Print a run directory's state: complete (its files verified against their checksums),
    in progress (resumable with --resume), running (locked by a live process) or damaged.
    Exit code 0 complete, 1 in progress or running, 2 damaged or not a run directory.

    Examples:

        policysim status results/base
    """
    from policysim.experiments.rundir import directory_state

    state = directory_state(directory)
    out.print(Text.assemble((f"{state.state}: ", "bold"), plain(state.detail)), highlight=False)
    raise typer.Exit(code=state.exit_code)


cache_app = typer.Typer(
    help=(
        "The cache of response curves and open-loop optimal plans (in the user's cache folder, "
        "or POLICYSIM_CACHE).\n\nExamples:\n\n    policysim cache list\n\n    policysim cache "
        "clear"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@cache_app.command("list")
def cache_list() -> None:
    """List the cached entries (folder, size, date)."""
    from policysim.coupling import cache_dir, cache_entries

    entries = cache_entries()
    out.print(Text(f"cache folder: {plain(cache_dir(create=False))}"), highlight=False)
    total = 0
    for path, size, mtime in entries:
        total += size
        when = dt.datetime.fromtimestamp(mtime, dt.UTC).isoformat(timespec="seconds")
        out.print(Text(f"  {path.name}  {size / 1024:,.0f} KiB  {when}"), highlight=False)
    out.print(Text(f"{len(entries)} entries, {total / 1024:,.0f} KiB"), highlight=False)


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete the cached entries (they are recomputed when needed)."""
    from policysim.coupling import cache_dir, clear_cache

    n = clear_cache()
    out.print(Text(f"removed {n} entries from {plain(cache_dir(create=False))}"), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``status`` and ``cache`` to ``app``."""
    app.command(name="status")(status)
    app.add_typer(cache_app, name="cache")
