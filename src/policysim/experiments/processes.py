"""The local worker processes of the engine (:class:`~policysim.experiments.runner.Engine`):
spawned, named, not re-running the parent's ``__main__``, and dying with their parent.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.spawn
import time
from typing import Any, Final

from policysim._memory import keep_freed_memory

__all__ = ["WORKER_NAME"]

#: Name prefix of the local worker processes (see :func:`_preparation_data`).
WORKER_NAME: Final = "policysim-worker"
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
