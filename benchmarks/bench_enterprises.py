"""Enterprise behaviour against what happened (issue 14): hindcast figures and firm-level patterns.

For N runs of the hindcast scenario (the ensemble's own parameter draws and seeds), prints:
- R&D (亿元), R&D intensity (%) and the HNTE count by year 2018-2022: observed, model median and
  90% band [5%, 95%], and whether the observation is inside;
- the bunching ratio in 2020: firms with annual reported R&D/sales in [θ, θ+w) over firms in
  [θ-w, θ), per HNTE band, for w = 0.5 and 0.2 percentage points;
- relabelled R&D (reported - real) as % of the reported R&D of bunching firms (those that bunched
  in 2020, i.e. relabelled some R&D), of HNTEs with annual intensity in [θ, θ+0.5pp), and of all
  HNTE R&D;
- the share of firms (all, above-scale) with positive reported R&D;
- HNTE flows per year: new certifications, renewals, renewal failures (firm counts × weight).

Usage: python benchmarks/bench_enterprises.py [--runs N] [--scenario PATH] [--observed PATH]
                                              [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "jiangxi_hindcast.yaml"
OBSERVED = ROOT / "scenarios" / "observed" / "jiangxi_2017_2022.csv"
YEARS = range(2018, 2024)  # 2023: no observation, the check that HNTEs do not blow up
BAND_NAMES = ("<=5千万", "5千万-2亿", ">2亿")


def run_one(sc, baseline, values, seed) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from policysim.agents.enterprises import band_threshold
    from policysim.coupling import make_allocator
    from policysim.model import PolicyModel

    model_ss, alloc_ss = seed.spawn(2)
    alloc = make_allocator(sc, baseline, values, alloc_ss)
    m = PolicyModel(sc, baseline, values, np.random.default_rng(model_ss), alloc)
    w = m.weight
    out: dict[str, object] = {"flows": {}}
    for year in sc.horizon.years:
        f0 = m.firms
        ids0 = f0.firm_id.copy()
        was_valid = f0.hnte & (f0.hnte_expiry >= year)
        due = f0.hnte & (f0.hnte_expiry == year)
        live0 = f0.township < m.n_townships
        m.step()
        f = m.firms
        n0 = ids0.size
        same = np.zeros(f.n, bool)
        same[:n0] = f.firm_id[:n0] == ids0
        cert = same & f.hnte & (f.hnte_expiry == year + m.rules_of(year).validity_years - 1)
        cert0 = cert[:n0]
        renew = cert0 & due & live0
        new = cert0 & ~was_valid & live0
        failed = due & live0 & ~cert0
        out["flows"][year] = (new.sum() * w, renew.sum() * w, failed.sum() * w)  # type: ignore[index]
        if year == 2020:
            live = f.township < m.n_townships
            rules = m.rules_of(year)
            sales = f.sales[live]
            rep = f.rd_reported[live]
            real = f.rd_real[live]
            r = rep / sales
            theta = band_threshold(rules, sales)
            band = np.searchsorted(rules.band_max_sales, sales, side="left")
            ratios = {}
            for width in (0.005, 0.002):
                lo = theta * (1 - 1e-9)  # bunchers sit at θ up to rounding
                above = (r >= lo) & (r < theta + width)
                below = (r >= theta - width) & (r < lo)
                for b in range(len(rules.band_min_rd)):
                    a_n = float((above & (band == b)).sum())
                    b_n = float((below & (band == b)).sum())
                    ratios[(width, b)] = a_n / b_n if b_n > 0 else float("nan")
            hn = f.hnte[live]
            window = hn & (r >= theta * (1 - 1e-9)) & (r < theta + 0.005)
            relab = rep - real
            bunchers = relab > 1e-9 * rep  # firms that bunched this year (relabelled some R&D)
            out["ratios"] = ratios
            out["relabel_bunch"] = relab[bunchers].sum() / max(rep[bunchers].sum(), 1e-9)
            out["relabel_window"] = relab[window].sum() / max(rep[window].sum(), 1e-9)
            out["relabel_hnte"] = relab[hn].sum() / max(rep[hn].sum(), 1e-9)
            above_scale = sales >= 2e7
            out["pos_all"] = float((rep > 0).mean())
            out["pos_above"] = float((rep[above_scale] > 0).mean())
            out["n_above"] = float(above_scale.sum() * w)
            out["sales_above_100m"] = float(sales[above_scale].sum() * w / 1e8)
            out["hnte_below_theta"] = float(
                (hn & (r < theta * (1 - 1e-9))).sum() / max(hn.sum(), 1)
            )
    rec = {r.year: r for r in m.records}
    out["rd"] = {y: float(rec[y].rd_reported.sum()) / 1e8 for y in rec}
    out["intensity"] = {
        y: 100.0 * float(rec[y].rd_reported.sum()) / float(rec[y].gdp.sum()) for y in rec
    }
    out["hnte"] = {y: float(rec[y].hnte.sum()) for y in rec}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--scenario", type=Path, default=SCENARIO)
    ap.add_argument("--observed", type=Path, default=OBSERVED)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix a behaviour parameter (also over its uncertainty), for exploration",
    )
    ap.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="scenario override (as policysim --set)",
    )
    ap.add_argument(
        "--accept",
        type=float,
        default=0.0,
        help="also score the runs closest (ABC rejection, as policysim calibrate) to the "
        "observations up to --calibrate-to, out of sample after it",
    )
    ap.add_argument("--calibrate-to", type=int, default=2020)
    args = ap.parse_args()
    fixed = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}

    import pandas as pd

    import policysim
    from policysim.experiments.design import draw_parameters, run_seed
    from policysim.simulation import baseline_for

    loaded = policysim.load_scenario(args.scenario, args.override)
    sc = loaded.scenario
    baseline = baseline_for(sc)
    ens = sc.ensemble
    draws = draw_parameters(
        sc.uncertainties,
        range(args.runs),
        root_seed=ens.root_seed,
        batch_size=ens.batch_size,
        sampling=ens.sampling,
    )
    base = sc.parameters()
    t0 = time.perf_counter()
    runs = []
    for i in range(args.runs):
        values = dict(base)
        row = draws.iloc[i]
        for name in sc.uncertainties:
            values[name] = float(row[name])
        values.update(fixed)
        runs.append(run_one(sc, baseline, values, run_seed(ens.root_seed, i)))
    elapsed = time.perf_counter() - t0
    obs = pd.read_csv(args.observed)
    names = {
        "rd": "rd_expenditure_100m_cny",
        "intensity": "rd_intensity_pct",
        "hnte": "hnte_count",
    }
    print(f"{args.runs} runs of {args.scenario.name} in {elapsed:.1f} s (shared machine: noisy)")
    print(f"{'indicator':<10}{'year':>5}{'observed':>10}{'median':>10}{'5%':>10}{'95%':>10}  in")
    inside_count: dict[str, int] = defaultdict(int)
    for key, ind in names.items():
        for y in YEARS:
            vals = np.array([r[key][y] for r in runs])  # type: ignore[index]
            q5, q50, q95 = np.quantile(vals, [0.05, 0.5, 0.95])
            o = obs[(obs.indicator == ind) & (obs.year == y)]
            ov = float(o.value.iloc[0]) if len(o) else float("nan")
            ins = "" if np.isnan(ov) else ("yes" if q5 <= ov <= q95 else "NO")
            inside_count[key] += ins == "yes"
            print(f"{key:<10}{y:>5}{ov:>10.2f}{q50:>10.2f}{q5:>10.2f}{q95:>10.2f}  {ins}")
    print("inside the 90% band:", dict(inside_count))
    if args.accept > 0:
        # ABC rejection as policysim calibrate: distance over the observations up to
        # --calibrate-to scaled by the prior-predictive SD; the accepted runs then score the
        # later years out of sample
        cols, obs_v = [], []
        for key, ind in names.items():
            for y in YEARS:
                o = obs[(obs.indicator == ind) & (obs.year == y)]
                if len(o) and y <= args.calibrate_to:
                    sim = np.array([r[key][y] for r in runs])  # type: ignore[index]
                    if sim.std() > 0:
                        cols.append(sim)
                        obs_v.append(float(o.value.iloc[0]))
        sims = np.array(cols)
        z = (sims - np.array(obs_v)[:, None]) / sims.std(axis=1, keepdims=True)
        dist = np.sqrt((z**2).sum(axis=0))
        n_acc = max(5, round(args.accept * len(runs)))
        acc = np.argsort(dist)[:n_acc]
        print(
            f"accepted {n_acc} of {len(runs)} runs (ABC on {len(obs_v)} observations up to "
            f"{args.calibrate_to}); later years out of sample:"
        )
        inside_acc: dict[str, int] = defaultdict(int)
        for key, ind in names.items():
            for y in YEARS:
                vals = np.array([runs[i][key][y] for i in acc])  # type: ignore[index]
                q5, q50, q95 = np.quantile(vals, [0.05, 0.5, 0.95])
                o = obs[(obs.indicator == ind) & (obs.year == y)]
                ov = float(o.value.iloc[0]) if len(o) else float("nan")
                ins = "" if np.isnan(ov) else ("yes" if q5 <= ov <= q95 else "NO")
                inside_acc[key] += ins == "yes"
                tag = "out" if y > args.calibrate_to else "fit"
                print(
                    f"{key:<10}{y:>5}{ov:>10.2f}{q50:>10.2f}{q5:>10.2f}{q95:>10.2f}  {ins:<3} {tag}"
                )
        print("accepted runs inside the 90% band:", dict(inside_acc))
    print("bunching ratio 2020 (mass in [θ, θ+w) / mass in [θ-w, θ)), median [5%, 95%] over runs:")
    for width in (0.005, 0.002):
        for b, bname in enumerate(BAND_NAMES):
            vals = np.array([r["ratios"][(width, b)] for r in runs])  # type: ignore[index]
            vals = vals[np.isfinite(vals)]
            q5, q50, q95 = np.quantile(vals, [0.05, 0.5, 0.95])
            print(f"  w={100 * width:.1f}pp band {bname:<10} {q50:5.2f} [{q5:.2f}, {q95:.2f}]")

    def stat(key: str, scale: float = 1.0) -> str:
        v = np.array([float(r[key]) for r in runs]) * scale  # type: ignore[arg-type]
        q5, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
        return f"{q50:.3g} [{q5:.3g}, {q95:.3g}]"

    print("relabelled R&D, % of reported R&D of bunching firms 2020:", stat("relabel_bunch", 100))
    print(
        "relabelled R&D, % of reported R&D of HNTEs in [θ, θ+0.5pp):", stat("relabel_window", 100)
    )
    print("relabelled R&D, % of all HNTE reported R&D 2020:", stat("relabel_hnte", 100))
    print("share of HNTEs with annual intensity below θ 2020 (%):", stat("hnte_below_theta", 100))
    print("share of firms with positive R&D 2020 (%): all", stat("pos_all", 100))
    print("                                   above-scale", stat("pos_above", 100))
    print(
        "above-scale firms 2020:", stat("n_above"), " their sales (亿元):", stat("sales_above_100m")
    )
    print("HNTE flows (new certifications, renewals, renewal failures), median over runs:")
    for y in sc.horizon.years:
        fl = np.array([r["flows"][y] for r in runs])  # type: ignore[index]
        med = np.median(fl, axis=0)
        print(f"  {y}: new {med[0]:6.0f}  renewed {med[1]:6.0f}  failed {med[2]:6.0f}")


if __name__ == "__main__":
    main()
