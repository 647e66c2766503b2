"""Benchmark of the ensemble runner: the README's first command and 1,000 replications.

Run: ``.venv/bin/python benchmarks/bench_ensemble.py [N ...]`` from the repository root. Each case
runs in a fresh process so that peak memory (``ru_maxrss``) is that of the case alone; it prints
wall time, runs per second and the peak resident memory of the parent and of the largest worker.
This is a script, not library code: it prints.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = Path("scenarios/jiangxi_baseline.yaml")


def _case(replications: int, workers: int) -> None:
    """One ensemble with outputs, in this process (called in a child process)."""
    from policysim.experiments import run_ensemble, write_outputs
    from policysim.experiments.store import PartsStore

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        start = time.perf_counter()
        result = run_ensemble(SCENARIO, replications=replications, workers=workers, store=out)
        ran = time.perf_counter() - start
        write_outputs(result, out)
        PartsStore(out).remove()
        total = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{replications:>6d} runs, {workers} workers: ensemble {ran:6.1f} s "
        f"({replications / ran:5.1f} runs/s), with outputs {total:6.1f} s; "
        f"peak RSS parent {parent:6.0f} MiB, largest worker {child:6.0f} MiB; "
        f"run dir {size / 2**20:6.1f} MiB; failed {result.n_failed}"
    )


def _readme_command() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("policysim")),
                "run",
                str(SCENARIO),
                "--replications",
                "100",
                "--workers",
                "2",
                "--out",
                str(Path(tmp) / "run"),
                "--quiet",
            ],
            check=True,
        )
        wall = time.perf_counter() - start
    print(f"README command (100 runs, 2 workers, report included): {wall:6.1f} s wall clock")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        _case(int(sys.argv[2]), int(sys.argv[3]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [200, 1000]
    _readme_command()
    for n in sizes:
        subprocess.run([sys.executable, __file__, "--case", str(n), "2"], check=True)


if __name__ == "__main__":
    main()
