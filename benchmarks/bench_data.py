"""Benchmark of the baseline data layer: cold and cached loads, national scale.

Run: ``.venv/bin/python benchmarks/bench_data.py``. Prints one line per case (this is a script,
not library code).
"""

from __future__ import annotations

import time

from policysim.data import load_baseline
from policysim.data.loader import _cached


def _time(label: str, source: str, scale: float, repeat: int = 1) -> None:
    best = float("inf")
    rows = 0
    for _ in range(repeat):
        _cached.cache_clear()
        start = time.perf_counter()
        baseline = load_baseline(source, enterprise_scale=scale)
        best = min(best, time.perf_counter() - start)
        rows = len(baseline.enterprises)
    print(f"{label:<40} {rows:>9,d} firms  {best * 1e3:9.1f} ms (cold, best of {repeat})")


def main() -> None:
    _time("jiangxi embedded, scale 1", "embedded", 1.0, repeat=5)
    _time("jiangxi embedded, scale 10", "embedded", 10.0, repeat=3)
    _time("china-synthetic, scale 0.1", "china-synthetic", 0.1, repeat=3)
    _time("china-synthetic, scale 1 (1e6 firms)", "china-synthetic", 1.0, repeat=3)
    load_baseline()
    start = time.perf_counter()
    for _ in range(10_000):
        load_baseline()
    per_call = (time.perf_counter() - start) / 10_000
    print(f"{'jiangxi embedded, cached call':<40} {per_call * 1e6:9.2f} µs")


if __name__ == "__main__":
    main()
