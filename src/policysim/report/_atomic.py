"""Atomic file output: write to a temporary file beside the target, then ``os.replace``.

Shared by :func:`policysim.plotting.save_figure` and :func:`policysim.report.render_report`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_output", "temporary_name"]

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    """A fresh hidden name in ``target``'s directory: ``.NAME.RANDOM.tmp``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMPORARY_SUFFIX}")


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[IO[bytes]]:
    """Open a binary stream whose content replaces ``target`` only if the block succeeds.

    The stream writes to a temporary file in the same directory (created with the usual
    permissions, 0o666 minus the umask); on success it is flushed, synced and moved over
    ``target`` with :func:`os.replace`; on any exception it is removed and the exception
    propagates, leaving ``target`` as it was.

    Parameters
    ----------
    target : pathlib.Path
        Final path; its directory must exist.

    Yields
    ------
    IO[bytes]
        The open temporary file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = temporary_name(target)
        try:
            descriptor = os.open(temporary, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        break
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
