"""Experiments: seeded ensembles of runs (in-process, local processes or Dask), the results
store with resume, and the run directory's outputs.

Running experiments knows nothing about plotting; :func:`write_outputs` calls the plotting and
report packages on finished results.
"""

from __future__ import annotations

from policysim.experiments.design import draw_parameters, explicit_draws, run_seed, seed_key
from policysim.experiments.outputs import build_manifest, write_briefing, write_outputs
from policysim.experiments.runner import (
    Engine,
    EnsembleResult,
    ProgressCallback,
    preflight,
    report_years,
    run_ensemble,
)
from policysim.experiments.worker import ChunkOutput, ChunkTask, run_chunk

__all__ = [
    "ChunkOutput",
    "ChunkTask",
    "Engine",
    "EnsembleResult",
    "ProgressCallback",
    "build_manifest",
    "draw_parameters",
    "explicit_draws",
    "preflight",
    "report_years",
    "run_chunk",
    "run_ensemble",
    "run_seed",
    "seed_key",
    "write_briefing",
    "write_outputs",
]
