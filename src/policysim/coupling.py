"""The one module that knows both the agent-based model and the allocation model.

It turns a scenario into the allocation package's typed inputs (rules, objective, county facts),
estimates the optimiser's response curves from simulations with common random numbers, and builds
the yearly *allocator* the model calls. The optimiser never reads agent arrays; the agents never
see Pyomo.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from policysim.agents.counties import INDEX_MEAN, INDEX_SD
from policysim.allocation import (
    INSTRUMENTS,
    AllocationResult,
    AllocationRules,
    ClosedLoopPlanner,
    CountyFacts,
    Objective,
    ResponseCurves,
    SolveStatus,
    check_feasibility,
    plan_optimal,
    plan_rule,
    plan_violations,
    read_fixed_plan,
)
from policysim.data import Baseline
from policysim.errors import AllocationError, InfeasibleAllocationError
from policysim.model import CountySummary, PolicyModel, zero_allocator
from policysim.scenario.schema import Scenario
from policysim.vocabulary import allocator_class

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


OPTIMISER_ENTRY_SCORE = INDEX_MEAN + INDEX_SD
"""The optimiser's proxy for entering a batch: the model's index is re-scored every year (mean
50, sd 10 over counties) and pilots are the best of their class, so the optimiser aims counties
at one sd above the mean (about the top sixth)."""


def _net_of_support(plan: FloatArray, summary: CountySummary, budget_cny: float) -> FloatArray:
    """A plan made for the whole budget, scaled down to what the pilot packages leave."""
    available = summary.available_budget(budget_cny)
    total = float(plan.sum())
    if total > available + 1e-6 and total > 0:
        out: FloatArray = plan * (available / total)
        return out
    return plan


def allocation_rules(scenario: Scenario) -> AllocationRules:
    """The scenario's allocation constraints in the allocation package's terms (CNY)."""
    a = scenario.allocation
    return AllocationRules(
        floor_cny=a.floor_100m_cny * 1e8,
        ceiling_cny=None if a.ceiling_100m_cny is None else a.ceiling_100m_cny * 1e8,
        poverty_share_min=a.poverty_share_min,
        instrument_share_min={str(k): v for k, v in a.instrument_share_min.items()},
        instrument_share_max={str(k): v for k, v in a.instrument_share_max.items()},
        absorptive_multiple=a.absorptive_multiple,
        max_change_pct=a.max_change_pct,
        designated_floor_only=a.designated_floor_only,
    )


def objective(scenario: Scenario) -> Objective:
    """The optimiser's objective from the scenario (deadline weights, quotas, threshold)."""
    a = scenario.allocation
    years = scenario.horizon.years
    county = scenario.designation.county
    quotas: dict[int, int] = {}
    for b in county.batches:
        if b.year in years:
            quotas[b.year] = quotas.get(b.year, 0) + b.size
    if county.projected_batches is not None:
        size = round(scenario.parameter("county_batch_size"))
        for y in county.projected_batches.years(scenario.horizon.end_year):
            if y in years and y not in quotas:
                quotas[y] = size
    return Objective(
        deadlines={y: w for y, w in a.objective.deadline_weights.items() if y in years},
        entry_threshold=OPTIMISER_ENTRY_SCORE,
        max_new_per_year=quotas,
        rd_weight=a.objective.rd_weight,
        index_weight=a.objective.index_weight,
    )


def county_facts(summary: CountySummary) -> CountyFacts:
    """The allocator's view of the counties; the model's arrays are valid by construction
    (codes unique, shares in [0, 1] once clipped, money >= 0), so they are not checked again
    every year."""
    return CountyFacts.unchecked(
        codes=summary.codes,
        names=summary.names,
        poverty=summary.poverty,
        research_capacity=np.clip(summary.research_capacity, 0.0, 1.0),
        fiscal_st_spending_cny=summary.fiscal_st_spending_cny,
        management_capacity=np.clip(summary.management_capacity, 0.0, 1.0),
        index=np.clip(summary.index, 0.0, 100.0),
        designated=summary.designated,
    )


def budget_path(scenario: Scenario) -> tuple[tuple[int, ...], FloatArray]:
    years = tuple(scenario.horizon.years)
    return years, np.array([scenario.budget_cny(y) for y in years])


def _solve_row(result: AllocationResult, year: int | None) -> dict[str, Any]:
    return {
        "year": year if year is not None else (result.years[0] if result.years else None),
        "strategy": result.strategy,
        "status": result.status.value,
        "objective": result.objective,
        "mip_gap": result.mip_gap,
        "seconds": result.seconds,
        "message": result.message,
    }


def _check_result(result: AllocationResult, scenario: Scenario) -> None:
    if result.status in (SolveStatus.INFEASIBLE,):
        raise InfeasibleAllocationError(
            f"{scenario.metadata.name}: the allocation is infeasible: {result.message}"
        )
    if result.status is SolveStatus.ERROR:
        raise AllocationError(f"{scenario.metadata.name}: the solver failed: {result.message}")


def _feasible(
    scenario: Scenario,
    years: tuple[int, ...],
    budget: FloatArray,
    facts: CountyFacts,
    rules: AllocationRules,
) -> None:
    """:func:`check_feasibility`, with the scenario named in the message."""
    try:
        check_feasibility(years, budget, facts, rules)
    except InfeasibleAllocationError as exc:
        raise InfeasibleAllocationError(
            f"scenario {scenario.metadata.name}: the allocation rules cannot all be met: {exc}"
        ) from None


class RuleAllocator:
    """Yearly plan by a rule strategy applied to the current county facts (the policy allocates
    every year by its factors as they stand)."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        a = scenario.allocation
        self.rules = allocation_rules(scenario)
        self.strategy = a.strategy
        self.shares: dict[str, float] = {str(k): v for k, v in a.instrument_shares.items()}
        self.factor_weights = {
            "research_capacity": a.factor_weights.research_capacity,
            "fiscal_st_spending": a.factor_weights.fiscal_st_spending,
            "management_capacity": a.factor_weights.management_capacity,
        }
        self.fixed = None
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        if a.strategy == "fixed":
            assert a.fixed_plan is not None  # the schema requires it
            from pathlib import Path

            facts = _base_facts(baseline)
            self.fixed = read_fixed_plan(Path(a.fixed_plan), facts, tuple(scenario.horizon.years))

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        facts = county_facts(summary)
        # pilot support packages are paid first; the rule splits what they leave
        budget = np.array([summary.available_budget(self.scenario.budget_cny(year))])
        fixed = None
        if self.fixed is not None:
            fixed = self.fixed[self.fixed["year"] == year]
        try:  # plan_rule checks the rules' consistency first (check_feasibility)
            result = plan_rule(
                self.strategy,
                (year,),
                budget,
                facts,
                self.rules,
                instrument_shares=self.shares,
                factor_weights=self.factor_weights,
                fixed_plan=fixed,
                poverty_bonus=self.scenario.allocation.needs_poverty_bonus,
            )
        except InfeasibleAllocationError as exc:
            raise InfeasibleAllocationError(
                f"scenario {self.scenario.metadata.name}: the allocation rules cannot all be met: "
                f"{exc}"
            ) from None
        _check_result(result, self.scenario)
        self.solves.append(_solve_row(result, year))
        plan = _net_of_support(
            np.asarray(result.plan_cny[0], dtype=np.float64),
            summary,
            self.scenario.budget_cny(year),
        )
        self.plans[year] = plan
        return plan


def _base_facts(baseline: Baseline) -> CountyFacts:
    c = baseline.counties
    return CountyFacts(
        codes=tuple(c["code"].astype(str)),
        names=tuple(c["name"].astype(str)),
        poverty=c["poverty_county"].to_numpy(bool),
        research_capacity=c["research_capacity"].to_numpy(float),
        fiscal_st_spending_cny=c["fiscal_st_spending_cny"].to_numpy(float),
        management_capacity=c["management_capacity"].to_numpy(float),
        index=np.zeros(len(c)),
        designated=np.zeros(len(c), bool),
    )


# -------------------------------------------------------------------------------------------
# response curves estimated from the agent-based model


def _run_index(
    scenario: Scenario,
    baseline: Baseline,
    params: dict[str, float],
    seed: np.random.SeedSequence,
    allocator: Any,
) -> tuple[FloatArray, FloatArray]:
    """Index (n_years+1, n_counties) and county R&D (n_years+1, n_counties) of one run."""
    model = PolicyModel(scenario, baseline, params, np.random.default_rng(seed), allocator)
    for _ in scenario.horizon.years:
        model.step()
    index = np.vstack([r.index for r in model.records])
    rd = np.vstack([r.rd_reported for r in model.records])
    return index, rd


class _ConstantPlan:
    def __init__(self, plan: FloatArray) -> None:
        self.plan = plan

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        return self.plan


def _concave(gains: FloatArray, bp: FloatArray) -> FloatArray:
    """Nondecreasing concave fit through (bp, gains) along the last axis, 0 at bp = 0.

    Slopes are clipped at 0 and made nonincreasing by a running minimum (a conservative
    concave minorant of the noisy estimates).
    """
    g = np.maximum(gains, 0.0)
    g[..., 0] = 0.0
    slopes = np.maximum(np.diff(g, axis=-1) / np.diff(bp), 0.0)
    slopes = np.minimum.accumulate(slopes, axis=-1)
    out = np.zeros_like(g)
    out[..., 1:] = np.cumsum(slopes * np.diff(bp), axis=-1)
    return out


def estimate_response(
    scenario: Scenario, baseline: Baseline, params: dict[str, float], root: int
) -> ResponseCurves:
    """Estimate index and R&D responses to cumulative funds per county and instrument.

    For each instrument k and breakpoint B (cumulative CNY per county), every county receives
    B / 3 per year of instrument k and nothing else; the gain of each county's index three years
    in (the 2020 deadline of the policy) over a run without provincial funds, with the same seeds
    (common random numbers) and averaged over ``allocation.response.replications`` seeds, is the
    response at B. Counties interact only through designation quotas, which do not feed back into
    the index within the window, so one run measures all counties at once.
    """
    spec = scenario.allocation.response
    bp = np.asarray(spec.breakpoints_100m_cny, dtype=np.float64) * 1e8
    n_years = len(scenario.horizon.years)
    seeds = np.random.SeedSequence(root).spawn(spec.replications)
    n_c = len(baseline.counties)
    horizon_years = 3
    base_index = np.zeros((n_years + 1, n_c))
    base_rd = np.zeros((n_years + 1, n_c))
    gains = np.zeros((n_c, len(INSTRUMENTS), len(bp)))
    rd_gains = np.zeros_like(gains)
    for s in seeds:
        idx0, rd0 = _run_index(scenario, baseline, params, s, zero_allocator)
        base_index += idx0 / len(seeds)
        base_rd += rd0 / len(seeds)
        for k in range(len(INSTRUMENTS)):
            for j in range(1, len(bp)):
                plan = np.zeros((n_c, len(INSTRUMENTS)))
                plan[:, k] = bp[j] / horizon_years
                idx, rd = _run_index(scenario, baseline, params, s, _ConstantPlan(plan))
                gains[:, k, j] += (idx[horizon_years] - idx0[horizon_years]) / len(seeds)
                rd_gains[:, k, j] += (rd[horizon_years] - rd0[horizon_years]) / len(seeds)
    poverty = baseline.counties["poverty_county"].to_numpy(bool)
    k_pov = INSTRUMENTS.index("poverty_programme")
    gains[~poverty, k_pov, :] = 0.0
    rd_gains[~poverty, k_pov, :] = 0.0
    return ResponseCurves(
        breakpoints_cny=bp,
        index_gain=_concave(gains, bp),
        rd_gain_cny=_concave(rd_gains, bp),
        baseline_index=np.clip(base_index[1:].T, 0.0, 100.0),
        lag_years=1,
    )


#: Format of the cache entries (part of every key).
CACHE_FORMAT: Final = 2


def cache_dir(create: bool = True) -> Path:
    """Folder of cached response curves and open-loop plans: ``POLICYSIM_CACHE``, else the
    user's cache folder (platform convention, e.g. ``~/.cache/policysim`` on Linux; private to
    the user, never the shared temporary folder). Entries are keyed by the content of what they
    depend on (scenario, baseline files, code), carry a checksum verified on every read, and are
    written atomically and shared by the worker processes of an ensemble."""
    import platformdirs

    root = os.environ.get("POLICYSIM_CACHE")
    path = Path(root) if root else Path(platformdirs.user_cache_dir("policysim", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


#: The layers whose code a cached curve or plan depends on (a module or a package each).
FINGERPRINT_LAYERS: Final = (
    "model", "coupling", "simulation", "agents", "allocation", "data", "scenario",
)  # fmt: skip


def fingerprint_files() -> list[Path]:
    """The source files of :data:`FINGERPRINT_LAYERS` (``name.py`` or every ``.py`` file of the
    package ``name``), sorted."""
    import policysim

    root = Path(policysim.__file__).parent
    files: list[Path] = []
    for name in FINGERPRINT_LAYERS:
        files.extend(root.glob(f"{name}.py"))
        files.extend(root.glob(f"{name}/**/*.py"))
    return sorted(files)


@functools.cache
def _code_fingerprint() -> str:
    """Hash of the model and allocation sources: a cached curve or plan is reused only by the
    code that made it."""
    digest = hashlib.sha256()
    for path in fingerprint_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def code_fingerprint() -> str:
    """Hash of every policysim source file (the code version of a resume key)."""
    import policysim

    root = Path(policysim.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(scenario: Scenario, kind: str) -> str:
    from policysim import __version__
    from policysim.data import SYNTHESIS_VERSION
    from policysim.simulation import baseline_for

    text = json.dumps(
        [
            kind,
            CACHE_FORMAT,
            __version__,
            SYNTHESIS_VERSION,
            _code_fingerprint(),
            scenario.model_dump(mode="json"),
            dict(baseline_for(scenario).checksums),  # edited baseline files: another key
        ],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _arrays_digest(key: str, arrays: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(a.dtype).encode())
        digest.update(str(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _save_npz(path: Path, arrays: Mapping[str, Any], key: str = "") -> None:
    """Write a cache entry atomically, with the checksum of its arrays and key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    entry = {**arrays, "_sha256": np.array(_arrays_digest(key, arrays))}
    try:
        with tmp.open("wb") as fh:
            np.savez(fh, **entry)
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only cache folder: computed again next time
        logger.warning("cannot write the cache entry %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _load_npz(path: Path, key: str) -> dict[str, Any] | None:
    """A verified cache entry, or None (absent, unreadable or failing its checksum: the entry
    is removed and recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        stored = str(arrays.pop("_sha256"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("ignoring the unreadable cache entry %s: %s", path, exc)
        stored, arrays = "", {}
    if not arrays or stored != _arrays_digest(key, arrays):
        logger.warning("ignoring the cache entry %s: it fails its checksum", path)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return arrays


def cache_entries() -> list[tuple[Path, int, float]]:
    """Cached entries ``(path, bytes, modification time)`` (``policysim cache list``)."""
    root = cache_dir(create=False)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.glob("*.npz")):
        if p.name.startswith(("response-", "plan-")):
            st = p.stat()
            out.append((p, st.st_size, st.st_mtime))
    return out


def clear_cache() -> int:
    """Delete the cached entries (only policysim's own files); the number removed."""
    n = 0
    for p, _, _ in cache_entries():
        p.unlink(missing_ok=True)
        n += 1
    return n


_RESPONSES: dict[str, ResponseCurves] = {}
_PLANS: dict[str, tuple[FloatArray, dict[str, Any]]] = {}


def response_for(scenario: Scenario) -> ResponseCurves:
    """Response curves of a scenario at its default parameters, estimated once and cached in
    memory and on disk."""
    key = _cache_key(scenario, "response")
    if key in _RESPONSES:
        return _RESPONSES[key]
    path = cache_dir() / f"response-{key}.npz"
    z = _load_npz(path, key)
    if z is not None:
        curves = ResponseCurves(
            breakpoints_cny=z["breakpoints_cny"],
            index_gain=z["index_gain"],
            rd_gain_cny=z["rd_gain_cny"],
            baseline_index=z["baseline_index"],
            lag_years=int(z["lag_years"]),
        )
    else:
        from policysim.simulation import baseline_for

        start = time.perf_counter()
        curves = estimate_response(
            scenario,
            baseline_for(scenario),
            scenario.parameters(),
            int(scenario.ensemble.root_seed),
        )
        logger.info("response curves estimated in %.1f s", time.perf_counter() - start)
        _save_npz(
            path,
            {
                "breakpoints_cny": curves.breakpoints_cny,
                "index_gain": curves.index_gain,
                "rd_gain_cny": curves.rd_gain_cny,
                "baseline_index": curves.baseline_index,
                "lag_years": np.array(curves.lag_years),
            },
            key,
        )
    _RESPONSES[key] = curves
    return curves


def optimal_plan_for(scenario: Scenario) -> tuple[FloatArray, dict[str, Any]]:
    """The open-loop optimal plan of the whole horizon, decided at the start from the expected
    base-year county facts (a model at the scenario's default parameters and root seed): the
    province plans before it knows how the years turn out. Solved once per scenario and cached,
    so every replication applies the same plan whatever the order of runs or workers."""
    key = _cache_key(scenario, "optimal-plan")
    if key in _PLANS:
        return _PLANS[key]
    path = cache_dir() / f"plan-{key}.npz"
    from policysim.simulation import baseline_for

    rules = allocation_rules(scenario)
    years, budget = budget_path(scenario)
    start_model = PolicyModel(
        scenario,
        baseline_for(scenario),
        scenario.parameters(),
        np.random.default_rng(np.random.SeedSequence(int(scenario.ensemble.root_seed))),
    )
    facts = county_facts(start_model.summary())
    z = _load_npz(path, key)
    if z is not None:
        # a cached plan must still keep the budget and every rule (or it is solved again)
        broken = plan_violations(z["plan"], years, budget, facts, rules, rtol=1e-6)
        if not broken:
            entry = (z["plan"], json.loads(str(z["solve"])))
            _PLANS[key] = entry
            return entry
        logger.warning("ignoring the cached plan %s: %s", path, "; ".join(broken[:2]))
        path.unlink(missing_ok=True)
    _feasible(scenario, years, budget, facts, rules)
    solver = scenario.allocation.solver
    result = plan_optimal(
        years,
        budget,
        facts,
        rules,
        response_for(scenario),
        objective(scenario),
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
    )
    _check_result(result, scenario)
    row = _solve_row(result, years[0])
    if result.duals and "budget" in result.duals:
        row["budget_dual_per_100m_cny"] = [float(d) * 1e8 for d in result.duals["budget"]]
    plan = np.asarray(result.plan_cny, dtype=np.float64)
    _save_npz(path, {"plan": plan, "solve": np.array(json.dumps(row, default=str))}, key)
    _PLANS[key] = (plan, row)
    return plan, row


class OptimalAllocator:
    """Open-loop optimal plan (:func:`optimal_plan_for`), the same for every replication."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        self.years, _ = budget_path(scenario)
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        self.plan: FloatArray | None = None

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        if self.plan is None:
            self.plan, row = optimal_plan_for(self.scenario)
            self.solves.append(dict(row))
        plan = _net_of_support(
            self.plan[self.years.index(year)], summary, self.scenario.budget_cny(year)
        )
        self.plans[year] = plan
        return plan


class ClosedLoopAllocator:
    """Re-plan every simulated year from the model's current state with a persistent model."""

    def __init__(self, scenario: Scenario, baseline: Baseline) -> None:
        self.scenario = scenario
        self.rules = allocation_rules(scenario)
        self.objective = objective(scenario)
        self.years, self.budget = budget_path(scenario)
        self.solves: list[dict[str, Any]] = []
        self.plans: dict[int, FloatArray] = {}
        self.planner: ClosedLoopPlanner | None = None

    def __call__(self, year: int, summary: CountySummary) -> FloatArray:
        facts = county_facts(summary)
        solver = self.scenario.allocation.solver
        if self.planner is None:
            _feasible(self.scenario, self.years, self.budget, facts, self.rules)
            response = response_for(self.scenario)
            self.planner = ClosedLoopPlanner(
                self.years,
                self.budget,
                facts,
                self.rules,
                response,
                self.objective,
                time_limit_s=solver.time_limit_s,
                mip_gap=solver.mip_gap,
                compute_duals=False,
                mode=solver.closed_loop_mode,
            )
        done = [self.plans[y] for y in self.years if y < year]
        spent = np.stack(done) if done else np.zeros((0, len(summary.codes), len(INSTRUMENTS)))
        result = self.planner.solve(year, facts, spent)
        _check_result(result, self.scenario)
        self.solves.append(_solve_row(result, year))
        plan = _net_of_support(
            np.asarray(result.plan_cny[0], dtype=np.float64),
            summary,
            self.scenario.budget_cny(year),
        )
        self.plans[year] = plan
        return plan


def make_allocator(
    scenario: Scenario,
    baseline: Baseline,
    params: Mapping[str, float] | None = None,
    seed: np.random.SeedSequence | None = None,
) -> RuleAllocator | OptimalAllocator | ClosedLoopAllocator:
    """The yearly allocator of the scenario's strategy (the class the strategy registry,
    :data:`policysim.vocabulary.STRATEGIES`, names for it)."""
    cls = allocator_class(scenario.allocation.strategy)
    allocator: RuleAllocator | OptimalAllocator | ClosedLoopAllocator = cls(scenario, baseline)
    return allocator
