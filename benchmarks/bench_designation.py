"""Does designation respond to money and behaviour? (issue 13, the "done when" checks)

Paired runs (common seeds and parameter draws, as in an ensemble: run ``i`` uses
``SeedSequence(root_seed, spawn_key=(i,))`` and the scenario's i-th draw) of the Jiangxi baseline
and its variants. Prints:

- P(>= 20 provincial innovative counties, 2020), mean counties 2030 (as counted by the scenario's
  ``count_pilots``; and only counties that passed their evaluation), P(>= 10% innovative
  townships, 2020) for baseline / zero budget / budget x2 / equal split;
- the paired difference budget x2 - baseline in counties 2030 with a 95% interval, and the 95th
  percentile (a quota ceiling shows as p95 == max == the cumulative batch sizes);
- P(counties 2020) at evaluation noise sd 0 vs 4;
- the share of runs whose first county batch covers all three functional zone classes;
- the first-batch pilots' R&D/GDP gain (percentage points) and HNTE ratio over their build cycle,
  funded (baseline) vs the same counties without provincial money (zero budget).

Usage: python benchmarks/bench_designation.py [--replications 100]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _budget_times(sc: Any, factor: float) -> Any:
    b = sc.budget
    values = {y: v * factor for y, v in b.values.items()}
    update: dict[str, Any] = {"budget": b.model_copy(update={"values": values})}
    if factor == 0.0:  # no money: no county floors either
        update["allocation"] = sc.allocation.model_copy(update={"floor_100m_cny": 0.0})
    return sc.model_copy(update=update)


def _runs(sc: Any, n: int, extra: dict[str, float] | None = None) -> list[dict[str, Any]]:
    from policysim.experiments.design import draw_parameters, run_seed
    from policysim.simulation import baseline_for, simulate

    draws = draw_parameters(
        sc.uncertainties,
        range(n),
        root_seed=sc.ensemble.root_seed,
        batch_size=sc.ensemble.batch_size,
        sampling=sc.ensemble.sampling,
    )
    names = [c for c in draws.columns if c not in ("replication", "seed_key")]
    out = []
    for i in range(n):
        params = {k: float(draws.loc[i, k]) for k in names}
        params.update(extra or {})
        r = simulate(sc, run_seed(sc.ensemble.root_seed, i), params=params, township_metrics=())
        m = r.metrics
        prov = r.province()
        county = m[m["level"] == "county"]

        def wide(metric: str, frame: Any = county) -> Any:
            sel = frame[frame["metric"] == metric]
            return sel.pivot(index="year", columns="code", values="value")

        pilots = wide("designated")
        out.append(
            {
                "prov": prov,
                "pilots": pilots,
                "rd": wide("rd_intensity_pct"),
                "hnte": wide("hnte_count"),
                "funds": wide("funds_cny"),
            }
        )
    # class per code, from the baseline table (robust to column order)
    c = baseline_for(sc).counties
    by_code = dict(zip(c["code"].astype(str), c["functional_class"].astype(str), strict=True))
    for row in out:
        row["classes"] = by_code
    return out


def _p(rows: list[dict[str, Any]], metric: str, year: int, thr: float) -> float:
    return float(np.mean([r["prov"].loc[year, metric] >= thr for r in rows]))


def _v(rows: list[dict[str, Any]], metric: str, year: int) -> np.ndarray[Any, Any]:
    return np.array([r["prov"].loc[year, metric] for r in rows], dtype=float)


def _line(label: str, rows: list[dict[str, Any]]) -> None:
    c30 = _v(rows, "provincial_innovative_counties", 2030)
    d30 = _v(rows, "provincial_designated_counties", 2030)
    print(
        f"{label:<14} P(counties>=20, 2020) {_p(rows, 'provincial_innovative_counties', 2020, 20):.2f}"
        f"  mean counties 2030 {c30.mean():5.1f} (p95 {np.percentile(c30, 95):.0f}, "
        f"max {c30.max():.0f})  passed-only 2030 {d30.mean():5.1f}"
        f"  P(townships>=10%, 2020) "
        f"{_p(rows, 'innovative_township_share_pct', 2020, 10):.2f}"
        f"  townships 2018 {np.mean(_v(rows, 'innovative_townships', 2018)):.0f}"
        f" (sd {np.std(_v(rows, 'innovative_townships', 2018)):.1f})"
    )


def _first_batch(row: dict[str, Any]) -> list[str]:
    pilots = row["pilots"]
    years = [y for y in pilots.index if pilots.loc[y].sum() > 0]
    if not years:
        return []
    first = pilots.loc[years[0]]
    return [str(c) for c in first.index[first.to_numpy() > 0]]


def _where_money_goes(formula: list[dict[str, Any]], equal: list[dict[str, Any]]) -> None:
    """Do the factor formula and the equal split differ where their money goes? Per county:
    the paired difference (equal - formula) in provincial funds received 2018-2030 against the
    difference in P(provincial innovative county by 2030), over the runs."""
    from scipy.stats import spearmanr

    def funds(rows: list[dict[str, Any]]) -> Any:
        return np.mean([r["funds"].loc[2018:2030].sum(axis=0) for r in rows], axis=0)

    def p_designated(rows: list[dict[str, Any]]) -> Any:
        return np.mean([r["pilots"].loc[2030] > 0 for r in rows], axis=0)

    d_funds = funds(equal) - funds(formula)
    d_p = p_designated(equal) - p_designated(formula)
    rho = spearmanr(d_funds, d_p).statistic
    gain = d_funds > np.percentile(d_funds, 75)
    loss = d_funds < np.percentile(d_funds, 25)
    print(
        f"equal split - factor formula, per county: Spearman(funds difference, P(county 2030) "
        f"difference) = {rho:+.2f}; counties gaining most money (top quarter, "
        f"{np.mean(d_funds[gain]) / 1e6:+.1f} M CNY) P {np.mean(d_p[gain]):+.3f}, losing most "
        f"(bottom quarter, {np.mean(d_funds[loss]) / 1e6:+.1f} M CNY) P {np.mean(d_p[loss]):+.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replications", type=int, default=100)
    args = ap.parse_args()
    import policysim

    n = args.replications
    t0 = time.perf_counter()
    base = policysim.load_scenario(SCENARIOS / "jiangxi_baseline.yaml").scenario
    equal = policysim.load_scenario(SCENARIOS / "jiangxi_equal.yaml").scenario
    rows = {
        "baseline": _runs(base, n),
        "zero budget": _runs(_budget_times(base, 0.0), n),
        "budget x2": _runs(_budget_times(base, 2.0), n),
        "equal split": _runs(equal, n),
    }
    print(f"{n} paired runs per variant (Jiangxi baseline scenario)")
    for label, r in rows.items():
        _line(label, r)
    b30 = _v(rows["baseline"], "provincial_innovative_counties", 2030)
    x30 = _v(rows["budget x2"], "provincial_innovative_counties", 2030)
    z30 = _v(rows["zero budget"], "provincial_innovative_counties", 2030)
    d = x30 - b30
    half = 1.96 * d.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    print(
        f"budget x2 - baseline, counties 2030: {d.mean():+.2f} (95% interval "
        f"{d.mean() - half:+.2f} .. {d.mean() + half:+.2f}); zero / baseline = "
        f"{z30.mean() / max(b30.mean(), 1e-9):.2f}"
    )
    for label, r in rows.items():
        e = _v(r, "provincial_designated_counties", 2030)
        print(f"  passed-only 2030 {label:<12} mean {e.mean():5.1f}")

    _where_money_goes(rows["baseline"], rows["equal split"])

    noise = {sd: _runs(base, n, {"index_noise_sd": sd}) for sd in (0.0, 4.0)}
    p0 = _p(noise[0.0], "provincial_innovative_counties", 2020, 20)
    p4 = _p(noise[4.0], "provincial_innovative_counties", 2020, 20)
    m0 = _v(noise[0.0], "provincial_innovative_counties", 2030).mean()
    m4 = _v(noise[4.0], "provincial_innovative_counties", 2030).mean()
    print(
        f"noise sd 0 vs 4: P(counties 2020) {p0:.2f} vs {p4:.2f} (|diff| {abs(p4 - p0):.2f}); "
        f"mean counties 2030 {m0:.1f} vs {m4:.1f}"
    )

    covered = []
    gains_f: list[float] = []
    gains_u: list[float] = []
    ratio_f: list[float] = []
    ratio_u: list[float] = []
    strong = 0
    cycle = base.designation.county.build_cycle_years
    for rf, ru in zip(rows["baseline"], rows["zero budget"], strict=True):
        first = _first_batch(rf)
        classes = {rf["classes"][c] for c in first}
        covered.append(len(classes) == 3)
        if not first:
            continue
        pilots = rf["pilots"]
        y0 = next(y for y in pilots.index if pilots.loc[y].sum() > 0)
        y1 = min(y0 + cycle, max(pilots.index))
        best = False
        for c in first:
            gf = rf["rd"].loc[y1, c] - rf["rd"].loc[y0, c]
            gu = ru["rd"].loc[y1, c] - ru["rd"].loc[y0, c]
            hf = rf["hnte"].loc[y1, c] / max(rf["hnte"].loc[y0, c], 1.0)
            hu = ru["hnte"].loc[y1, c] / max(ru["hnte"].loc[y0, c], 1.0)
            gains_f.append(gf)
            gains_u.append(gu)
            ratio_f.append(hf)
            ratio_u.append(hu)
            best = best or (gf >= 0.5 and hf >= 2.0)
        strong += best
    print(f"first batch covers all 3 functional classes: {np.mean(covered):.2f} of runs")
    if gains_f:
        print(
            f"first-batch pilots over their cycle: R&D/GDP gain funded {np.mean(gains_f):+.2f} pt "
            f"(p90 {np.percentile(gains_f, 90):+.2f}) vs same counties unfunded "
            f"{np.mean(gains_u):+.2f} pt; HNTE ratio funded {np.mean(ratio_f):.2f} "
            f"(p90 {np.percentile(ratio_f, 90):.2f}) vs unfunded {np.mean(ratio_u):.2f}; "
            f"share of runs with a pilot at >= +0.5 pt and HNTE x2: {strong / n:.2f}"
        )
        gf, gu = np.array(gains_f), np.array(gains_u)
        hf, hu = np.array(ratio_f), np.array(ratio_u)
        print(
            f"first-batch pilots (county-runs): >= +0.5 pt funded {np.mean(gf >= 0.5):.2f} vs "
            f"unfunded {np.mean(gu >= 0.5):.2f}; >= +1.0 pt {np.mean(gf >= 1.0):.2f} vs "
            f"{np.mean(gu >= 1.0):.2f}; HNTE >= x2 {np.mean(hf >= 2.0):.2f} vs "
            f"{np.mean(hu >= 2.0):.2f}"
        )
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
