"""A chunk function whose worker process dies on one run (imported by the spawned workers)."""

from __future__ import annotations

import os

from policysim.experiments.worker import ChunkOutput, ChunkTask, run_chunk

#: The run whose worker process dies (as if killed by the OS).
DEADLY_RUN = 3


def deadly_run_chunk(task: ChunkTask) -> ChunkOutput:
    if DEADLY_RUN in task.runs:
        os._exit(9)
    return run_chunk(task)
