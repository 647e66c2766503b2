"""Speed and memory of one run of the agent-based model (issue 3).

Prints, on this machine:
- one full Jiangxi run 2018-2030 with metrics (median of repeated runs, peak RSS);
- vectorised vs per-object enterprise rule on the same population (enterprise-years per second);
- national-scale synthetic province runs at 1e4, 1e5 and 1e6 enterprises (time, peak RSS), each
  in a fresh subprocess so that peak memory is that run's own.

Usage: python benchmarks/bench_model.py [--skip-national]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_jiangxi(repeats: int = 15) -> None:
    import policysim
    from policysim._memory import keep_freed_memory

    loaded = policysim.load_scenario(SCENARIO)
    policysim.simulate(loaded, seed=0)  # warm caches (baseline, imports)
    # first as a user's Python runs it (the allocator left alone), then as the policysim command
    # and the engine's workers run it (glibc keeps freed memory: policysim._memory)
    for label in ("library default allocator", "as the command runs it (keep_freed_memory)"):
        if label.startswith("as the command") and not keep_freed_memory():
            print("(keep_freed_memory not available here: not glibc)")
            break
        times = []
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for seed in range(repeats):
            t = time.perf_counter()
            r = policysim.simulate(loaded, seed=seed)
            times.append(time.perf_counter() - t)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / repeats
        firms = r.province().loc[2030, "enterprises"]
        print(
            f"jiangxi full run 2018-2030 (metrics included), {label}: "
            f"median {statistics.median(times):.3f} s, min {min(times):.3f} s over {repeats} runs; "
            f"{faults:,.0f} minor page faults per run; {len(r.metrics):,} metric rows; "
            f"{firms:,.0f} firms in 2030; peak RSS {peak_rss_mb():.0f} MB"
        )


def bench_reference(n: int = 2000) -> None:
    import policysim
    from policysim.agents.calendar import resolve_year
    from policysim.agents.enterprises import Draws, FirmParams, Support, enterprise_year
    from policysim.agents.reference import ReferenceModel, reference_year
    from policysim.model import PolicyModel
    from policysim.simulation import baseline_for

    sc = policysim.load_scenario(SCENARIO).scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    firms = model.firms.take(np.arange(n))
    rng = np.random.default_rng(1)
    support = Support(
        voucher=rng.uniform(0, 1e5, n),
        subsidy=rng.uniform(0, 1e5, n),
        credit_rd=rng.uniform(0, 1e4, n),
        boost=np.ones(n),
    )
    draws = Draws(*(rng.random(n) for _ in range(5)))
    params = FirmParams.from_values(sc.parameters())
    rules = resolve_year(sc.policy, 2021)
    ref_model = ReferenceModel(firms)
    t = time.perf_counter()
    reference_year(ref_model, rules, support, params, draws)
    slow = time.perf_counter() - t
    reps = 200
    t = time.perf_counter()
    for _ in range(reps):
        enterprise_year(firms, rules, support, params, draws)
    fast = (time.perf_counter() - t) / reps
    full = model.firms
    nf = full.n
    support_f = Support(
        voucher=np.zeros(nf), subsidy=np.zeros(nf), credit_rd=np.zeros(nf), boost=np.ones(nf)
    )
    draws_f = Draws(*(rng.random(nf) for _ in range(5)))
    t = time.perf_counter()
    for _ in range(20):
        enterprise_year(full, rules, support_f, params, draws_f)
    fast_full = (time.perf_counter() - t) / 20
    print(
        f"enterprise rule, {n} firms: per-object {slow * 1e6 / n:.2f} us/firm-year, vectorised "
        f"{fast * 1e6 / n:.3f} us/firm-year -> {slow / fast:.0f}x; at {nf:,} firms vectorised "
        f"{fast_full * 1e6 / nf:.3f} us/firm-year -> {slow / n / (fast_full / nf):.0f}x"
    )


NATIONAL_CHILD = """
import json, resource, time, sys
import policysim
from policysim.simulation import baseline_for
scale = float(sys.argv[1])
t0 = time.perf_counter()
loaded = policysim.load_scenario(sys.argv[2], ["baseline.source=china-synthetic",
    f"baseline.enterprise_scale={scale}", "allocation.floor_100m_cny=0",
    "allocation.poverty_share_min=0", "budget.values={2018: 90.0}"])
b = baseline_for(loaded.scenario)
t1 = time.perf_counter()
r = policysim.simulate(loaded, seed=1)
t2 = time.perf_counter()
print(json.dumps({"firms": len(b.enterprises), "counties": len(b.counties),
    "townships": len(b.townships), "build_s": t1 - t0, "run_s": t2 - t1,
    "rows": len(r.metrics), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_national() -> None:
    for scale in (0.01, 0.1, 1.0):
        out = subprocess.run(
            [sys.executable, "-c", NATIONAL_CHILD, str(scale), str(SCENARIO)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        d = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"national synthetic, {d['counties']:,} counties, {d['townships']:,} townships, "
            f"{d['firms']:,} firms: baseline {d['build_s']:.1f} s, run to 2030 {d['run_s']:.1f} s, "
            f"{d['rows']:,} metric rows, peak RSS {d['peak_mb']:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-national", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    bench_jiangxi()
    bench_reference()
    if not args.skip_national:
        bench_national()


if __name__ == "__main__":
    main()
