"""The synthetic county economy as an uncertainty (issue 13, item 6).

Prints, on this machine:
- the time to synthesise one Jiangxi baseline (cache cleared; median over the seeds);
- how far the synthetic county GDPs are from the 15 real figures found (per seed);
- the headline probabilities of the baseline scenario with the synthesis seed fixed, one seed at
  a time (each its own ensemble of N runs, the same root seed: common random numbers), then with
  the seed sampled inside one ensemble of N runs (``baseline.synthesis_seeds``), whose intervals
  include the synthesis uncertainty;
- the rank correlation between seeds of the per-county P(designated by 2030).

Run: ``python benchmarks/bench_synthesis.py [--runs N] [--workers W] [--first 2017 --count 5]``
from the repository root. This is a script, not library code: it prints.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "jiangxi_baseline.yaml"


def synthesis_time(seeds: list[int]) -> None:
    from policysim.data.loader import _cached, load_baseline

    times = []
    for seed in seeds:
        _cached.cache_clear()
        t = time.perf_counter()
        load_baseline(synthesis_seed=seed)
        times.append(time.perf_counter() - t)
    print(
        f"synthesis of one Jiangxi baseline: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}) over seeds {seeds}"
    )


def found_check(seeds: list[int]) -> None:
    from policysim.data import load_baseline
    from policysim.data.prefectures import jiangxi_found_check

    print("synthetic / real county GDP, 15 figures found (other years brought to 2017):")
    for seed in seeds:
        c = jiangxi_found_check(load_baseline(synthesis_seed=seed).counties, 2017)
        r = np.log(c["ratio"].to_numpy())
        print(
            f"  seed {seed}: median ratio {np.exp(np.median(r)):.2f}, rms log-ratio "
            f"{np.sqrt((r**2).mean()):.2f}, within x1.5 {np.mean(np.abs(r) < np.log(1.5)):.0%}, "
            f"range {np.exp(r.min()):.2f}-{np.exp(r.max()):.2f}"
        )


def ensembles(seeds: list[int], runs: int, workers: int) -> None:
    from policysim.experiments import run_ensemble

    rows: list[dict[str, object]] = []
    county_p: dict[int, pd.Series] = {}
    configs: list[tuple[str, tuple[str, ...]]] = [
        (
            f"seed {s} fixed",
            (f"baseline.synthesis_seeds.first={s}", "baseline.synthesis_seeds.count=1"),
        )
        for s in seeds
    ]
    configs.append(
        (
            f"sampled {seeds[0]}-{seeds[-1]}",
            (
                f"baseline.synthesis_seeds.first={seeds[0]}",
                f"baseline.synthesis_seeds.count={len(seeds)}",
            ),
        )
    )
    for label, overrides in configs:
        t = time.perf_counter()
        result = run_ensemble(SCENARIO, replications=runs, workers=workers, overrides=overrides)
        seconds = time.perf_counter() - t
        att = result.attainment().set_index("target")
        row: dict[str, object] = {"synthesis": label, "runs": result.n_runs - result.n_failed}
        for target in att.index:
            a = att.loc[target]
            row[str(target)] = f"{a['probability']:.2f} [{a['ci_low']:.2f},{a['ci_high']:.2f}]"
        prov = result.metrics[result.metrics["level"] == "province"]
        c30 = prov[(prov["metric"] == "provincial_innovative_counties") & (prov["year"] == 2030)]
        row["mean counties 2030"] = f"{c30['value'].mean():.1f}"
        row["seconds"] = f"{seconds:.1f}"
        rows.append(row)
        if label.endswith("fixed"):
            p = result.unit_probabilities("county").set_index("code")["p_2030"]
            county_p[int(label.split()[1])] = p
    table = pd.DataFrame(rows).set_index("synthesis")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(f"\nheadline probabilities (P [95% Wilson interval]), {runs} runs each:")
        print(table.T.to_string())
    probs = [t for t in table.columns if t not in ("runs", "mean counties 2030", "seconds")]
    fixed = table[table.index.str.endswith("fixed")]
    print(
        "\nrange of P over the fixed seeds; mean of the fixed-seed P and its between-seed standard"
        "\nerror (sd / sqrt(seeds): how much the sampled P depends on which seeds were taken,"
        "\nnot in the Wilson interval):"
    )
    for t in probs:
        values = np.array([float(str(v).split()[0]) for v in fixed[t]])
        se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else float("nan")
        print(
            f"  {t}: {values.min():.2f}-{values.max():.2f}; mean {values.mean():.2f} "
            f"(between-seed s.e. {se:.2f})"
        )
    rho = [
        county_p[a].rank().corr(county_p[b].reindex(county_p[a].index).rank())
        for a, b in itertools.combinations(sorted(county_p), 2)
    ]
    if rho:
        print(
            "rank correlation between seeds of per-county P(designated by 2030): "
            f"mean {np.nanmean(rho):.2f}, range {np.nanmin(rho):.2f}-{np.nanmax(rho):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first", type=int, default=2017)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--skip-ensembles", action="store_true")
    args = parser.parse_args()
    seeds = list(range(args.first, args.first + args.count))
    synthesis_time(seeds)
    found_check(seeds)
    if not args.skip_ensembles:
        ensembles(seeds, args.runs, args.workers)


if __name__ == "__main__":
    main()
