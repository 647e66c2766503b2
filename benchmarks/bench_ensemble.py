"""Benchmark of the ensemble runner: the README's first command and streamed ensembles of N runs.

Run: ``.venv/bin/python benchmarks/bench_ensemble.py [N ...] [--workers W] [--skip-readme]``
from the repository root (default N: 200 and 1000, 2 workers). Each case runs in a fresh process
so that peak memory (``ru_maxrss``) is that of the case alone; it prints wall time, runs per
second, the peak resident memory of the parent (after the ensemble, and with the outputs written)
and of the largest worker. With two or more N it then prints how much the parent's peak grows per
1,000 runs: the results streamed to disk, it should stay flat (the province rows kept in memory
are ~7 KB a run). This is a script, not library code: it prints.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = Path("scenarios/jiangxi_baseline.yaml")
_RESULT = "RESULT "


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _case(replications: int, workers: int) -> None:
    """One ensemble with outputs, in this process (called in a child process)."""
    from policysim.experiments import run_ensemble, write_outputs
    from policysim.experiments.store import PartsStore

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        start = time.perf_counter()
        result = run_ensemble(SCENARIO, replications=replications, workers=workers, store=out)
        ran = time.perf_counter() - start
        after_runs = _peak_mib(resource.RUSAGE_SELF)
        write_outputs(result, out)
        PartsStore(out).remove()
        total = time.perf_counter() - start
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    parent = _peak_mib(resource.RUSAGE_SELF)
    child = _peak_mib(resource.RUSAGE_CHILDREN)
    print(
        f"{replications:>6d} runs, {workers} workers: ensemble {ran:6.1f} s "
        f"({replications / ran:5.2f} runs/s), with outputs {total:6.1f} s; "
        f"peak RSS parent {after_runs:5.0f} MiB after the runs, {parent:5.0f} MiB with outputs; "
        f"largest worker {child:5.0f} MiB; run dir {size / 2**20:6.1f} MiB; "
        f"kept rows {len(result.metrics):,}; failed {result.n_failed}",
        flush=True,
    )
    record = {
        "n": replications,
        "workers": workers,
        "seconds": ran,
        "parent_after_runs_mib": after_runs,
        "parent_mib": parent,
        "worker_mib": child,
    }
    print(_RESULT + json.dumps(record), flush=True)


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


def _run_case(n: int, workers: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", str(n), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    record: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT):
            record = json.loads(line[len(_RESULT) :])
        else:
            print(line)
    return record


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        _case(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, help="runs per case (default 200 1000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-readme", action="store_true", help="skip the README command")
    args = parser.parse_args()
    sizes = sorted(args.sizes or [200, 1000])
    if not args.skip_readme:
        _readme_command()
    records = [_run_case(n, args.workers) for n in sizes]
    if len(records) >= 2:
        lo, hi = records[0], records[-1]
        per_1000 = 1000.0 / (hi["n"] - lo["n"]) if hi["n"] > lo["n"] else float("nan")
        print(
            f"parent peak growth from {lo['n']:.0f} to {hi['n']:.0f} runs: "
            f"{(hi['parent_after_runs_mib'] - lo['parent_after_runs_mib']) * per_1000:+.0f} MiB "
            f"per 1,000 runs after the runs, "
            f"{(hi['parent_mib'] - lo['parent_mib']) * per_1000:+.0f} MiB per 1,000 runs with "
            f"outputs; worker {(hi['worker_mib'] - lo['worker_mib']) * per_1000:+.0f} MiB"
        )


if __name__ == "__main__":
    main()
