"""What every command shares: the consoles, the one-line error exit, timestamped run folders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from policysim.errors import PolicysimError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(exc: PolicysimError) -> NoReturn:
    """Print a user error as one line on stderr (no markup is interpreted) and exit with its
    code."""
    err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
    raise typer.Exit(code=exc.exit_code)


def timestamped_dir(base: Path, stem: str) -> Path:
    """``base/<stem>-YYYYmmdd-HHMMSS`` (with ``-2``, ``-3``... if that folder exists)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{stem}-{stamp}"
    k = 1
    while candidate.exists():
        k += 1
        candidate = base / f"{stem}-{stamp}-{k}"
    return candidate


def check_lang(lang: str) -> None:
    """``--lang`` must be ``zh``, ``en`` or ``both``."""
    from policysim.report.briefing import LANGS

    if lang not in LANGS:
        raise PolicysimError(f"--lang: {lang!r}: expected one of {', '.join(LANGS)}")


def print_briefing(written: dict[str, Path]) -> None:
    """Print the briefing text (briefing.txt, the words of briefing.html), wrapped to the
    terminal (no name is cut)."""
    path = written.get("briefing_text")
    if path is None:
        return
    out.rule("Briefing / 简报")
    for line in path.read_text(encoding="utf-8").splitlines():
        indent = len(line) - len(line.lstrip(" "))
        text = Text(line.strip(), style="bold" if indent == 0 else "")
        out.print(Padding(text, (0, 0, 0, indent)), soft_wrap=False, highlight=False)
