"""Instructions per Jiangxi run, counted by valgrind's callgrind: a figure that repeats exactly
whatever else the machine is doing (wall time on a shared 2-core machine varies by 10-30%).

Counts only inside the runs: the script calls ``simulate`` through ``functools.reduce``, and
callgrind collects only while ``functools_reduce`` is on the stack (imports, the scenario and the
baseline are loaded before). A run under callgrind takes about a minute; the import phase about
two. Needs ``valgrind`` (Debian: ``apt-get install valgrind``).

Usage: python benchmarks/bench_instructions.py [--runs 1] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"

_CHILD = """
import functools, sys
import policysim
loaded = policysim.load_scenario(sys.argv[1], overrides=sys.argv[3:])
policysim.simulate(loaded, seed=0)  # warm: baseline arrays, caches
n = int(sys.argv[2])
functools.reduce(lambda _, s: policysim.simulate(loaded, seed=s), range(1, n + 1), None)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                _CHILD,
                str(SCENARIO),
                str(args.runs),
                *args.overrides,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    match = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or match is None:
        sys.exit(f"callgrind failed:\n{proc.stderr[-2000:]}")
    total = int(match.group(1))
    print(
        f"instructions per Jiangxi run (callgrind, {args.runs} run(s), inside simulate): "
        f"{total / args.runs / 1e6:,.1f} M"
    )


if __name__ == "__main__":
    main()
