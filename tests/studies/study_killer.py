"""Run a ``policysim`` command that is killed with SIGKILL right after it stored its N-th chunk
(``POLICYSIM_KILL_AFTER_CHUNKS``): a kill mid-study at a known point, without racing a timer.

Used by ``test_study_resume.py`` as ``python study_killer.py <command> <args...>``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from policysim.experiments.store import PartsStore

_AFTER = int(os.environ["POLICYSIM_KILL_AFTER_CHUNKS"])
_real = PartsStore.write_chunk
_stored = [0]


def _write_chunk_then_die(self: PartsStore, out: Any) -> None:
    _real(self, out)
    _stored[0] += 1
    if _stored[0] >= _AFTER:
        os.kill(os.getpid(), signal.SIGKILL)


PartsStore.write_chunk = _write_chunk_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    from policysim.cli import main

    sys.argv = ["policysim", *sys.argv[1:]]
    main()
