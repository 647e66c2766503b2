"""Marginal value of provincial funds per county: where an extra yuan matters most.

Three estimates, each answering the question from a different angle:

1. **Paired group perturbation** (the model itself). Perturbing one county at a time would need
   100 x replications extra runs, so the counties are perturbed by *prefecture* (11 groups for
   Jiangxi, the level through which extra provincial money would in practice be routed): every
   county of the group receives ``delta_100m_cny`` extra per planning year, on top of what the
   strategy gives it, split among instruments by the scenario's ``instrument_shares`` (the
   poverty programme only in poverty counties). The perturbed runs reuse the seeds and
   parameter draws of the first replications of the baseline ensemble, so the difference in
   provincial innovative counties at each deadline is paired run by run (common random
   numbers) and its interval is a paired t interval. The group effect is per 100 million CNY
   (亿元) of extra money. Counties compete for batch quotas, so the group effect is the net
   effect on the target count (displacement of other counties included).
2. **Response-curve slope** (:func:`policysim.coupling.response_for`): the gain of a county's
   evaluation index per extra 亿元, at the county's mean cumulative funds over the first three
   planning years (the window the curves are estimated on), with the extra money split as in 1.
   It ranks counties *within* a group: the group effect is apportioned to its counties in
   proportion to their slopes, which gives ``marginal_designations_per_100m_cny``, the column the
   table is ranked by.
3. **Optimiser's dual** (strategy ``optimal`` only, :func:`policysim.coupling.optimal_plan_for`):
   the budget dual of the first planning year, in objective units (weighted designations by the
   deadlines, plus the index tie-break) per extra 亿元. At the LP optimum (designations fixed)
   every county funded strictly between its floor and its ceiling has exactly this marginal value
   (zero reduced cost); a county held at a bound has a value that the dual only bounds, so it gets
   NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.analysis import mean_difference_interval
from policysim.errors import ScenarioError
from policysim.experiments import Engine, EnsembleResult, report_years
from policysim.experiments.store import sub_store
from policysim.scenario import INSTRUMENT_NAMES, LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.studies.runs import study_engine, study_ensemble

__all__ = [
    "DEFAULT_DELTA_100M_CNY",
    "DEFAULT_PERTURBATION_REPLICATIONS",
    "OUTCOME_METRIC",
    "MarginalValue",
    "budget_duals",
    "extra_plan",
    "marginal_value",
    "response_slopes",
    "standout",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Extra funds per county and planning year in a perturbation run, 亿元. Assumption (range
#: 0.005-0.05): 0.01亿 = 100万元 a year, about a third of an average county's 2018 allocation
#: (3.2亿 over 100 counties), large enough for the paired difference to rise above Monte Carlo
#: noise and small enough to stay on the local slope.
DEFAULT_DELTA_100M_CNY: Final = 0.01
#: Replications of the baseline reused by the perturbation runs (at most the ensemble's).
#: Assumption: 20 runs per group (11 groups: 220 extra runs) keep the study within minutes.
DEFAULT_PERTURBATION_REPLICATIONS: Final = 20
#: Province metric whose change is the value of the extra funds: the county targets' count.
OUTCOME_METRIC: Final = "provincial_innovative_counties"
#: Years of the response-curve window (the curves measure the index three years in).
CURVE_WINDOW_YEARS: Final = 3

COUNTY_COLUMNS: Final = (
    "code",
    "name",
    "group",
    "slope_index_per_100m_cny",
    "group_designations_per_100m_cny",
    "group_ci_low",
    "group_ci_high",
    "marginal_designations_per_100m_cny",
    "optimal_dual_per_100m_cny",
    "rank",
)
GROUP_COLUMNS: Final = (
    "group",
    "n_counties",
    "year",
    "extra_100m_cny",
    "replications",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "designations_per_100m_cny",
    "ci_low_per_100m_cny",
    "ci_high_per_100m_cny",
)


@dataclass(frozen=True)
class MarginalValue:
    """Marginal value of funds per county and per perturbed group.

    Attributes
    ----------
    counties : DataFrame
        One row per county (``COUNTY_COLUMNS``), ranked by
        ``marginal_designations_per_100m_cny`` (largest first; by slope when no perturbation
        was run). Units: index points or designations per extra 亿元.
    groups : DataFrame
        One row per group and deadline (``GROUP_COLUMNS``): the paired difference of
        provincial innovative counties (perturbed minus baseline), its 95% interval, and the same
        per 亿元 of extra money. Empty when no perturbation was run.
    duals : DataFrame
        ``scenario, year, budget_dual_per_100m_cny`` of the optimal-strategy scenario, if any.
    delta_100m_cny : float
        Extra funds per county and planning year in the perturbation runs, 亿元.
    outcome_year : int
        Deadline whose group effect ranks the counties.
    """

    counties: pd.DataFrame
    groups: pd.DataFrame
    duals: pd.DataFrame
    delta_100m_cny: float
    outcome_year: int


def _instrument_split(scenario: Scenario, poverty: npt.NDArray[np.bool_]) -> FloatArray:
    """(n_counties, n_instruments) shares of extra money, rows summing to 1."""
    shares = np.array(
        [float(scenario.allocation.instrument_shares.get(k, 0.0)) for k in INSTRUMENT_NAMES]  # type: ignore[call-overload]
    )
    if shares.sum() <= 0:
        shares = np.ones(len(INSTRUMENT_NAMES))
    split = np.tile(shares, (poverty.size, 1))
    k_pov = list(INSTRUMENT_NAMES).index("poverty_programme")
    split[~poverty, k_pov] = 0.0
    totals = split.sum(axis=1, keepdims=True)
    out: FloatArray = np.divide(split, totals, out=np.zeros_like(split), where=totals > 0)
    return out


def extra_plan(
    scenario: Scenario, members: npt.NDArray[np.bool_], delta_100m_cny: float
) -> FloatArray:
    """Extra funds of one perturbation, per county and instrument, CNY per year.

    Parameters
    ----------
    scenario : Scenario
        Gives the instrument shares and the baseline (poverty flags).
    members : (n_counties,) bool array
        Counties of the perturbed group (baseline order).
    delta_100m_cny : float
        Extra funds per member county and year, 亿元.

    Returns
    -------
    (n_counties, n_instruments) float array, CNY per year
        Zero outside the group; each member's row sums to ``delta_100m_cny * 1e8``.
    """
    from policysim.simulation import baseline_for

    poverty = baseline_for(scenario).counties["poverty_county"].to_numpy(bool)
    split = _instrument_split(scenario, poverty)
    out: FloatArray = split * (delta_100m_cny * 1e8) * members[:, None]
    return out


def _perturbed_outcomes(
    base: EnsembleResult,
    groups: npt.NDArray[Any],
    n: int,
    delta_100m_cny: float,
    engine: Engine,
    store: Path | None = None,
    resume: bool = False,
) -> pd.DataFrame:
    """The outcome of the first ``n`` baseline runs re-run with each group's extra funds:
    ``group, replication, year, value``. Every group's runs go to one engine (the workers start
    once), each group's to its own store under ``store`` when given; run ``i`` reuses the seed,
    synthesis seed and parameter draw of baseline run ``i`` (common random numbers), so a
    baseline run that failed has no pair and is left out."""
    sc = base.loaded.scenario
    years = report_years(sc)
    draws = base.draws.sort_values("replication").iloc[:n].reset_index(drop=True)
    unique = list(dict.fromkeys(groups))
    logger.info("marginal value: %d groups x %d perturbed runs", len(unique), n)
    frames: list[pd.DataFrame] = []
    engine.warm(sc)
    for i, g in enumerate(unique):
        result = study_ensemble(
            base.loaded,
            engine=engine,
            store=sub_store(store, i, f"group-{g}"),
            resume=resume,
            seed=base.root_seed,
            draws=draws,
            extra_cny=extra_plan(sc, groups == g, delta_100m_cny),
        )
        m = result.metrics
        rows = m[(m["level"] == "province") & (m["metric"] == OUTCOME_METRIC)]
        rows = rows[rows["year"].isin(list(years))]
        frames.append(
            pd.DataFrame(
                {
                    "group": str(g),
                    "replication": rows["replication"].to_numpy(dtype=np.int64),
                    "year": rows["year"].to_numpy(dtype=np.int64),
                    "value": rows["value"].to_numpy(dtype=np.float64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _outcome_by_run(result: EnsembleResult, years: Sequence[int]) -> pd.DataFrame:
    m = result.metrics
    prov = m[(m["level"] == "province") & (m["metric"] == OUTCOME_METRIC)]
    prov = prov[prov["year"].isin(list(years))]
    return prov.pivot_table(index="replication", columns="year", values="value", observed=True)


def _mean_funds_window(result: EnsembleResult, codes: Sequence[str]) -> FloatArray:
    """Mean cumulative provincial funds per county over the first planning years, CNY."""
    sc = result.loaded.scenario
    years = list(sc.horizon.years)[:CURVE_WINDOW_YEARS]
    m = result.metrics
    rows = m[(m["level"] == "county") & (m["metric"] == "funds_cny") & (m["year"].isin(years))]
    if rows.empty:
        return np.zeros(len(codes))
    per_run = rows.groupby(["replication", "code"], observed=True)["value"].sum()
    mean = per_run.groupby(level="code", observed=True).mean()
    mean.index = mean.index.astype(str)
    out: FloatArray = mean.reindex(list(codes)).fillna(0.0).to_numpy(dtype=np.float64)
    return out


def response_slopes(scenario: Scenario, cumulative_cny: FloatArray) -> FloatArray:
    """Index gain per extra 亿元 at each county's cumulative funds, from the response curves.

    Parameters
    ----------
    scenario : Scenario
        Whose response curves (:func:`policysim.coupling.response_for`) and instrument shares
        are used.
    cumulative_cny : (n_counties,) float array, CNY
        Cumulative funds of each county over the curves' window, split among instruments by the
        scenario's shares.

    Returns
    -------
    (n_counties,) float array, index points per 亿元
        Right derivative of the concave piecewise-linear curves, weighted by the shares; 0 beyond
        the last breakpoint (the curves are flat there).
    """
    from policysim.coupling import response_for
    from policysim.simulation import baseline_for

    curves = response_for(scenario)
    poverty = baseline_for(scenario).counties["poverty_county"].to_numpy(bool)
    split = _instrument_split(scenario, poverty)
    bp = curves.breakpoints_cny
    x = split * np.asarray(cumulative_cny, dtype=np.float64)[:, None]
    seg = np.searchsorted(bp, x, side="right") - 1
    inside = seg < bp.size - 1
    seg_c = np.clip(seg, 0, bp.size - 2)
    g = curves.index_gain
    lo = np.take_along_axis(g, seg_c[..., None], axis=2)[..., 0]
    hi = np.take_along_axis(g, seg_c[..., None] + 1, axis=2)[..., 0]
    slope = np.where(inside, (hi - lo) / (bp[seg_c + 1] - bp[seg_c]), 0.0)
    out: FloatArray = (split * slope).sum(axis=1) * 1e8
    return out


def budget_duals(loaded: LoadedScenario) -> pd.DataFrame:
    """Budget duals of an optimal-strategy scenario's open-loop plan.

    Returns
    -------
    DataFrame
        ``scenario, year, budget_dual_per_100m_cny`` (objective units per extra 亿元 in that
        year); empty if the solve reported no duals.

    Raises
    ------
    ScenarioError
        If the scenario's strategy is not ``optimal``.
    """
    from policysim.coupling import budget_path, optimal_plan_for

    sc = loaded.scenario
    if sc.allocation.strategy != "optimal":
        raise ScenarioError(
            loaded.path,
            "budget duals need the open-loop optimiser",
            key_path="allocation.strategy",
            value=sc.allocation.strategy,
            expected="optimal",
        )
    _, row = optimal_plan_for(sc)
    duals = row.get("budget_dual_per_100m_cny")
    years, _ = budget_path(sc)
    if not duals:
        return pd.DataFrame(columns=["scenario", "year", "budget_dual_per_100m_cny"])
    return pd.DataFrame(
        {
            "scenario": loaded.name,
            "year": list(years)[: len(duals)],
            "budget_dual_per_100m_cny": [float(d) for d in duals],
        }
    )


def _interior_counties(loaded: LoadedScenario) -> npt.NDArray[np.bool_]:
    """Counties funded strictly between floor and ceiling in the optimal plan's first year."""
    from policysim.coupling import optimal_plan_for

    sc = loaded.scenario
    plan, _ = optimal_plan_for(sc)
    first = np.asarray(plan[0], dtype=np.float64).sum(axis=1)
    floor = sc.allocation.floor_100m_cny * 1e8
    tol = 1e-6 * max(float(first.max(initial=0.0)), 1.0)
    interior: npt.NDArray[np.bool_] = first > floor + tol
    if sc.allocation.ceiling_100m_cny is not None:
        interior &= first < sc.allocation.ceiling_100m_cny * 1e8 - tol
    return interior


def _group_rows(
    base: EnsembleResult,
    groups: npt.NDArray[Any],
    perturbed: pd.DataFrame,
    delta_100m_cny: float,
) -> list[dict[str, Any]]:
    """Per group and deadline: the paired change in the outcome against the baseline runs, and
    per extra 亿元 spent up to the deadline (:data:`GROUP_COLUMNS`)."""
    sc = base.loaded.scenario
    years = report_years(sc)
    reference = _outcome_by_run(base, years)
    n_years = len(sc.horizon.years)
    group_rows: list[dict[str, Any]] = []
    for g in dict.fromkeys(groups):
        members = int((groups == g).sum())
        rows_g = perturbed[perturbed["group"] == g]
        for year in years:
            # extra money spent up to and including the deadline's year
            spent_years = sum(1 for y in sc.horizon.years if y <= year)
            extra = delta_100m_cny * members * min(spent_years, n_years)
            vals = rows_g[rows_g["year"] == year].set_index("replication")["value"]
            ref = reference[year].reindex(vals.index).to_numpy(dtype=np.float64)
            diff = vals.to_numpy(dtype=np.float64) - ref
            mean, lo, hi = mean_difference_interval(diff)
            group_rows.append(
                {
                    "group": g,
                    "n_counties": members,
                    "year": year,
                    "extra_100m_cny": extra,
                    "replications": int(np.isfinite(diff).sum()),
                    "diff_mean": mean,
                    "diff_ci_low": lo,
                    "diff_ci_high": hi,
                    "designations_per_100m_cny": mean / extra,
                    "ci_low_per_100m_cny": lo / extra,
                    "ci_high_per_100m_cny": hi / extra,
                }
            )
    return group_rows


def marginal_value(
    base: EnsembleResult,
    *,
    replications: int | None = None,
    delta_100m_cny: float = DEFAULT_DELTA_100M_CNY,
    workers: int = 1,
    optimal: LoadedScenario | None = None,
    scheduler: str | None = None,
    engine: Engine | None = None,
    store: Path | None = None,
    resume: bool = False,
) -> MarginalValue:
    """Marginal value of funds per county under the baseline strategy (see the module notes).

    Parameters
    ----------
    base : EnsembleResult
        The baseline ensemble (in memory: county ``funds_cny`` rows are needed).
    replications : int, optional
        Baseline runs reused per perturbed group (default
        ``min(DEFAULT_PERTURBATION_REPLICATIONS, completed runs)``); 0 skips the perturbation.
    delta_100m_cny : float
        Extra funds per county and planning year, 亿元 (> 0).
    workers : int
        Local processes for the perturbation runs (``spawn``).
    optimal : LoadedScenario, optional
        A scenario with strategy ``optimal`` whose duals fill ``optimal_dual_per_100m_cny``.
    scheduler : str, optional
        Dask scheduler address for the perturbation runs (overrides ``workers``).
    engine : Engine, optional
        A running engine for the perturbation runs (instead of ``workers`` / ``scheduler``).
    store : Path, optional
        Folder under which each group's perturbation runs stream to their own store
        (:func:`policysim.experiments.store.sub_store`); ``resume`` reads back finished ones.
    resume : bool
        Continue perturbation runs interrupted in ``store``.

    Returns
    -------
    MarginalValue

    Raises
    ------
    ScenarioError
        For a non-positive delta, negative replications, or an ``optimal`` scenario of another
        strategy.
    """
    from policysim.simulation import baseline_for

    loaded = base.loaded
    sc = loaded.scenario
    n = _perturbation_runs(base, replications, delta_100m_cny)
    counties = baseline_for(sc).counties
    codes = tuple(counties["code"].astype(str))
    groups = counties["prefecture"].astype(str).to_numpy()
    years = report_years(sc)
    outcome_year = years[-1]

    cum = _mean_funds_window(base, codes)
    slopes = response_slopes(sc, cum)

    group_rows: list[dict[str, Any]] = []
    if n > 0:
        with study_engine(workers, scheduler, engine) as backend:
            perturbed = _perturbed_outcomes(base, groups, n, delta_100m_cny, backend, store, resume)
        group_rows = _group_rows(base, groups, perturbed, delta_100m_cny)
    effect, effect_lo, effect_hi = _group_effects(group_rows, groups, outcome_year)
    group_table = pd.DataFrame(group_rows, columns=list(GROUP_COLUMNS))

    table = pd.DataFrame({"code": codes, "name": counties["name"].astype(str), "group": groups})
    table["slope_index_per_100m_cny"] = slopes
    table["group_designations_per_100m_cny"] = [effect[g] for g in groups]
    table["group_ci_low"] = [effect_lo[g] for g in groups]
    table["group_ci_high"] = [effect_hi[g] for g in groups]
    group_mean_slope = table.groupby("group")["slope_index_per_100m_cny"].transform("mean")
    weight = np.divide(
        slopes,
        group_mean_slope.to_numpy(dtype=np.float64),
        out=np.ones_like(slopes),
        where=group_mean_slope.to_numpy(dtype=np.float64) > 0,
    )
    table["marginal_designations_per_100m_cny"] = (
        table["group_designations_per_100m_cny"].to_numpy(dtype=np.float64) * weight
    )
    duals = _with_duals(table, optimal)
    key = "marginal_designations_per_100m_cny" if n > 0 else "slope_index_per_100m_cny"
    table = table.sort_values(
        [key, "slope_index_per_100m_cny", "code"],
        ascending=[False, False, True],
        na_position="last",
        ignore_index=True,
    )
    table["rank"] = np.arange(1, len(table) + 1)
    return MarginalValue(
        counties=table[list(COUNTY_COLUMNS)],
        groups=group_table,
        duals=duals,
        delta_100m_cny=float(delta_100m_cny),
        outcome_year=int(outcome_year),
    )


def _perturbation_runs(
    base: EnsembleResult, replications: int | None, delta_100m_cny: float
) -> int:
    """Baseline runs reused per perturbed group (checked: delta > 0, replications >= 0; at
    most the completed runs)."""
    loaded = base.loaded
    if not delta_100m_cny > 0:
        raise ScenarioError(
            loaded.path,
            "bad perturbation size",
            key_path="delta_100m_cny",
            value=delta_100m_cny,
            expected="extra 亿元 per county and year > 0",
        )
    ok = base.draws[~base.draws["replication"].isin(base.failures["replication"])]
    n_avail = len(ok)
    n = min(DEFAULT_PERTURBATION_REPLICATIONS, n_avail) if replications is None else replications
    if n < 0:
        raise ScenarioError(
            loaded.path,
            "bad perturbation replications",
            key_path="--marginal-replications",
            value=n,
            expected="an integer >= 0",
        )
    n = min(n, n_avail)
    return n


def _group_effects(
    group_rows: list[dict[str, Any]], groups: npt.NDArray[Any], outcome_year: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Each group's designations per extra 亿元 in the outcome year and its interval (NaN for
    a group without perturbation runs)."""
    effect = dict.fromkeys(dict.fromkeys(groups), float("nan"))
    effect_lo = dict(effect)
    effect_hi = dict(effect)
    for rec in group_rows:
        if rec["year"] == outcome_year:
            g = rec["group"]
            effect[g] = rec["designations_per_100m_cny"]
            effect_lo[g] = rec["ci_low_per_100m_cny"]
            effect_hi[g] = rec["ci_high_per_100m_cny"]
    return effect, effect_lo, effect_hi


def _with_duals(table: pd.DataFrame, optimal: LoadedScenario | None) -> pd.DataFrame:
    """Fill ``optimal_dual_per_100m_cny`` of ``table`` (in place) from the optimal scenario's
    first budget dual where a county is interior; returns the budget duals."""
    duals = pd.DataFrame(columns=["scenario", "year", "budget_dual_per_100m_cny"])
    table["optimal_dual_per_100m_cny"] = np.nan
    if optimal is not None:
        duals = budget_duals(optimal)
        if len(duals):
            interior = _interior_counties(optimal)
            first = float(duals["budget_dual_per_100m_cny"].iloc[0])
            table["optimal_dual_per_100m_cny"] = np.where(interior, first, np.nan)
    return duals


def standout(mv: MarginalValue) -> tuple[pd.DataFrame, str]:
    """The counties whose marginal value stands out at this sample size, and a sentence.

    A county stands out only if the paired interval of its group's effect (prefecture, at the
    outcome year) excludes zero. Otherwise the sentence says that no county stands out and how
    many perturbed runs per group would be needed for the clearest group effect to stand clear of
    zero (half-width of the interval shrinking as 1/sqrt(runs)).
    """
    t = mv.counties
    lo = t["group_ci_low"].to_numpy(dtype=np.float64)
    hi = t["group_ci_high"].to_numpy(dtype=np.float64)
    clear = np.isfinite(lo) & np.isfinite(hi) & ((lo > 0) | (hi < 0))
    if clear.any():
        shown = t[clear]
        n_groups = shown["group"].nunique()
        return shown, (
            f"{len(shown)} counties in {n_groups} prefectures stand out: their prefecture's "
            f"paired 95% interval of provincial innovative counties per extra 亿元 by "
            f"{mv.outcome_year} excludes zero."
        )
    g = mv.groups
    if not len(g):
        return t.iloc[0:0], (
            "No county stands out: no perturbation runs were made (--marginal-replications 0), "
            "so the marginal value has no interval; the response-curve slopes only rank counties "
            "within the allocation model."
        )
    g = g[g["year"] == mv.outcome_year]
    mean = g["designations_per_100m_cny"].to_numpy(dtype=np.float64)
    half = (g["ci_high_per_100m_cny"] - g["ci_low_per_100m_cny"]).to_numpy(dtype=np.float64) / 2
    runs = g["replications"].to_numpy(dtype=np.float64)
    ok = np.isfinite(mean) & np.isfinite(half) & (np.abs(mean) > 0)
    n = int(runs.max()) if runs.size else 0
    if not ok.any():
        return t.iloc[0:0], (
            f"No county stands out at this sample size ({n} paired runs per prefecture): every "
            "prefecture's effect is zero."
        )
    need = runs[ok] * (half[ok] / np.abs(mean[ok])) ** 2
    i = int(np.argmin(need))
    return t.iloc[0:0], (
        f"No county stands out at this sample size ({n} paired runs per prefecture): every "
        f"prefecture's 95% interval of the effect by {mv.outcome_year} includes zero. The "
        f"clearest ({g['group'].to_numpy()[ok][i]}, {mean[ok][i]:+.3g} counties per extra 亿元) "
        f"would need about {int(np.ceil(need[i]))} paired runs per prefecture to stand clear of "
        "zero."
    )
