"""The enterprise rule against its floor (issue 20), side by side on identical inputs.

At 2,000 / 30,000 / 300,000 / 1,000,000 firms (Jiangxi's firms after two simulated years, tiled
to the size with fresh ids; the support of the model's form, to the R&D performers; uniforms
from one generator), prints for each implementation:

- ns per enterprise-year: CPU time (``time.process_time``: other people's work on a shared
  machine does not count), the minimum over 11 samples, a sample being enough calls to take
  about 20 ms;
- minor page faults per call (``resource.getrusage``, ``ru_minflt``: memory the process had
  given back to the kernel and touches again), over all samples;
- the ratio to the floor.

Implementations: per-object Mesa (:mod:`policysim.agents.reference`, at 2,000 and 30,000 firms
alone: about 9 us per firm-year); the vectorised rule allocating every intermediate afresh (the
rule before issue 20, kept as ``enterprise_year_allocating``); the vectorised rule with a reused
:class:`~policysim.agents.enterprises.EnterpriseWorkspace`, returning copies (the pure form) and
updating the population in place, each call a further year (the model's form; the population
is restored before each sample of at most 10 years); the floor, the rule's float arrays streamed
once: each of its 9 float outputs written once, as a multiply-add of its 15 float inputs (firm
arrays and uniforms, each read at least once), into preallocated arrays (what any
implementation must at least move). The mesa-frames row is
quoted from issue 20 (polars, one lazy query, 2 threads; mesa-frames is not installed here).
Before timing, the implementations' outcomes are compared: the two vectorised forms bit for bit,
the per-object rule within 1e-10 relative.

Usage: python benchmarks/bench_rule.py [--sizes 2000 30000 ...] [--samples 11] [--keep-memory]
(``--keep-memory``: glibc keeps freed memory, as in the engine's worker processes.)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"
SIZES = (2_000, 30_000, 300_000, 1_000_000)
MESA_MAX = 30_000
#: issue 20, ns per enterprise-year, min over 11 samples on 2 cores
MESA_FRAMES_NS = {2_000: 1_734, 30_000: 257, 300_000: 109, 1_000_000: 102}
SAMPLE_S = 0.02
MAX_YEARS = 10
#: float firm arrays read by the rule (with the five uniforms: the floor's inputs)
FLOOR_INPUTS = (
    "sales",
    "employees",
    "age",
    "r0",
    "b0",
    "own",
    "hist1",
    "hist2",
    "claim_u",
    "criteria_cost",
)


def population(n: int):  # type: ignore[no-untyped-def]
    """Firms, support (performers' form), draws, parameters and rules of ``n`` firms."""
    import policysim
    from policysim.agents.calendar import resolve_year
    from policysim.agents.enterprises import Draws, FirmParams, Support
    from policysim.model import PolicyModel
    from policysim.simulation import baseline_for

    sc = policysim.load_scenario(SCENARIO).scenario
    model = PolicyModel(sc, baseline_for(sc), sc.parameters(), np.random.default_rng(0))
    for _ in range(2):
        model.step()
    f0 = model.firms
    live = np.flatnonzero(f0.township < model.n_townships)
    firms = f0.take(live[np.arange(n) % live.size])
    firms = dataclasses.replace(firms, firm_id=np.arange(n, dtype=np.int64))
    rng = np.random.default_rng(20)
    perf = np.flatnonzero(firms.r0 > 0.0)
    k = perf.size
    support = Support(
        voucher=rng.uniform(0, 1e5, k) * (rng.random(k) < 0.3),
        subsidy=rng.uniform(0, 2e5, k) * (rng.random(k) < 0.2),
        credit_rd=rng.uniform(0, 1e4, k) * (rng.random(k) < 0.1),
        boost=1.0 + rng.uniform(0, 0.3, k),
        performers=perf,
    )
    draws = Draws(*(rng.random(n) for _ in range(5)))
    params = FirmParams.from_values(sc.parameters())
    rules = resolve_year(sc.policy, model.year + 1)
    return firms, support, draws, params, rules


def measure(
    call: Callable[[], object],
    n: int,
    samples: int,
    reset: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """(min ns per firm-year over the samples, minor faults per call). ``reset`` (untimed,
    before each sample) restores a population that the calls advance year after year; such a
    sample is at most ``MAX_YEARS`` calls (the same uniforms every year would otherwise drive
    the firms' sales to extremes)."""
    call()  # warm: first-touch of buffers, caches
    t = time.process_time()
    call()
    once = max(time.process_time() - t, 1e-6)
    reps = max(1, round(SAMPLE_S / once))
    if reset is not None:
        reps = min(reps, MAX_YEARS)
    best = float("inf")
    faults = 0
    for _ in range(samples):
        if reset is not None:
            reset()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = time.process_time()
        for _ in range(reps):
            call()
        dt = time.process_time() - t
        faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        best = min(best, dt / reps)
    return best * 1e9 / n, faults / (samples * reps)


def check_same(a, b, exact: bool) -> None:  # type: ignore[no-untyped-def]
    for fld in dataclasses.fields(a.firms):
        x, y = getattr(a.firms, fld.name), getattr(b.firms, fld.name)
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=fld.name)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-10, err_msg=fld.name)
    for name in ("exits", "bunched", "certified"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def bench_size(n: int, samples: int) -> dict[str, tuple[float, float]]:
    from policysim.agents.enterprises import EnterpriseWorkspace, enterprise_year
    from policysim.agents.reference import (
        ReferenceModel,
        enterprise_year_allocating,
        reference_year,
    )

    firms, support, draws, params, rules = population(n)
    ws = EnterpriseWorkspace()
    new = enterprise_year(firms, rules, support, params, draws, ws)
    old = enterprise_year_allocating(firms, rules, support, params, draws)
    check_same(new, old, exact=True)
    out: dict[str, tuple[float, float]] = {}
    if n <= MESA_MAX:
        per_firm = support.per_firm(n)
        ref = ReferenceModel(firms)
        check_same(reference_year(ref, rules, per_firm, params, draws), old, exact=False)
        # (each call advances the agents by one more year: a year's work all the same)
        out["per-object Mesa (agents/reference.py)"] = measure(
            lambda: reference_year(ref, rules, per_firm, params, draws), n, samples
        )
    out["vectorised, allocating (before issue 20)"] = measure(
        lambda: enterprise_year_allocating(firms, rules, support, params, draws), n, samples
    )
    out["vectorised, workspace, copies"] = measure(
        lambda: enterprise_year(firms, rules, support, params, draws, ws), n, samples
    )
    # the model's form: the population updated in place, each call a further year (restored
    # before each sample, into the same arrays)
    state = [dataclasses.replace(firms, **{k: v.copy() for k, v in vars(firms).items()})]

    def in_place() -> None:
        state[0] = enterprise_year(state[0], rules, support, params, draws, ws, inplace=True).firms

    def reset() -> None:
        for name, values in vars(firms).items():
            np.copyto(getattr(state[0], name), values)

    check_same(
        enterprise_year(state[0], rules, support, params, draws, ws, inplace=True), old, True
    )
    out["vectorised, workspace, in place (model)"] = measure(in_place, n, samples, reset)
    # the floor: the rule's float arrays streamed once, each of its 9 float outputs written
    # once as a multiply-add of its 15 float inputs (each read at least once), preallocated
    ins = [getattr(firms, name) for name in FLOOR_INPUTS] + [
        getattr(draws, name) for name in ("growth", "success", "approval", "exit", "upgrade")
    ]
    outs = [np.empty(n) for _ in range(9)]
    triples = [(ins[i], ins[9 + i % 6], ins[(i + 3) % 9], outs[i]) for i in range(9)]

    def floor() -> None:
        for a, b, c, o in triples:
            np.multiply(a, b, out=o)
            np.add(o, c, out=o)

    out["floor: arrays streamed once (multiply-adds)"] = measure(floor, n, samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--samples", type=int, default=11)
    parser.add_argument("--keep-memory", action="store_true")
    args = parser.parse_args()
    if args.keep_memory:
        from policysim._memory import keep_freed_memory

        print("glibc keeps freed memory:", keep_freed_memory())
    print(
        f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; numpy {np.__version__}"
        f"; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    results = {n: bench_size(n, args.samples) for n in args.sizes}
    names = list(dict.fromkeys(k for r in results.values() for k in r))
    floor_name = names[-1]
    width = max(len(s) for s in names) + 2
    head = f"{'':<{width}}" + "".join(f"{n:>12,}" for n in args.sizes)

    def table(title: str, cell: Callable[[int, str], str]) -> None:
        print(f"\n{title}")
        print(head)
        for name in names:
            row = "".join(f"{cell(n, name) if name in results[n] else '-':>12}" for n in args.sizes)
            print(f"{name:<{width}}{row}")

    print("\nns per enterprise-year: CPU time, min over samples")
    print(head)
    quoted = "".join(f"{MESA_FRAMES_NS.get(n, float('nan')):>12,.0f}" for n in args.sizes)
    print(f"{'mesa-frames (issue 20, quoted)':<{width}}{quoted}")
    for name in names:
        row = "".join(
            f"{results[n][name][0]:>12,.1f}" if name in results[n] else f"{'-':>12}"
            for n in args.sizes
        )
        print(f"{name:<{width}}{row}")
    table("minor page faults per call", lambda n, name: f"{results[n][name][1]:,.0f}")
    table(
        "ratio to the floor",
        lambda n, name: f"{results[n][name][0] / results[n][floor_name][0]:,.1f}x",
    )


if __name__ == "__main__":
    main()
