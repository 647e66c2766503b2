"""The particle filter of a nowcast: whole runs stepped year by year, weighted by the
observations of each year of information, resampled, their uncertain parameters jittered
(Liu-West), named-county events forced or filtered (see :mod:`policysim.studies.nowcast`).
"""

from __future__ import annotations

import copy
import ctypes
import dataclasses
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from policysim.coupling import make_allocator
from policysim.errors import DataError, ScenarioError
from policysim.experiments.design import run_seed, synthesis_seeds_of
from policysim.model import PolicyModel, baseline_arrays
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for, metric_columns
from policysim.studies.nowcast_nomination import draw_given_named, named_probability
from policysim.studies.nowcast_observed import (
    COUNT_INDICATORS,
    EVENT_ORDER,
    SERIES_INDICATORS,
    EventMode,
    NowcastObservations,
)

__all__ = [
    "FILTER_KEY",
    "LIU_WEST_DISCOUNT",
    "OBS_REL_SD",
    "STATIC_PARAMETERS",
    "FilterResult",
    "particle_filter",
    "systematic_resample",
]

logger = logging.getLogger(__name__)


#: Relative standard deviation of an observation's error, model discrepancy included
#: (assumption, range 0.05-0.20): the published series are revised by a few per cent (Jiangxi's
#: 2017 GDP, 20818.5 亿元 as first published, was revised to 20210.78 after the 4th economic
#: census, -2.9%; data/jiangxi province_indicators_extra.csv), several values are recalled, not
#: retrieved, and the model is not the province. On synthetic truth (docs/NOWCAST.md) 0.10 gives
#: near-nominal coverage with 100 runs where 0.05 is overconfident (particle degeneracy).
OBS_REL_SD: Final = 0.10


#: Liu-West discount factor delta (Liu & West 2001, "Combined parameter and state estimation in
#: simulation-based filtering", who recommend 0.95-0.99): shrinkage a = (3 delta - 1) / (2 delta),
#: jitter variance (1 - a^2) times the weighted covariance. Assumption within 0.95-0.99.
LIU_WEST_DISCOUNT: Final = 0.95


#: Uncertain parameters read only when the model is built (the base-year HNTE stock): kept, not
#: jittered, by copies (a new value could not change the copied state).
STATIC_PARAMETERS: Final = frozenset({"hnte_stock_2017"})


#: First word of the spawn keys of the filter's streams (resampling, clones, jitter); distinct
#: from run keys ``(i,)``, draw-batch keys and the synthesis key (a convention, not a source).
FILTER_KEY: Final = 3 * 10**9


def systematic_resample(weights: NDArray[np.float64], u: float) -> NDArray[np.int64]:
    """Ancestor of each of ``n`` new particles by systematic resampling.

    Parameters
    ----------
    weights : (n,) float array
        Normalised weights (sum 1).
    u : float
        One uniform draw in [0, 1).

    Returns
    -------
    (n,) int array
        Ancestor indices, non-decreasing; particle ``i`` has ``floor(n w_i)`` or
        ``ceil(n w_i)`` children (exactly one each when the weights are equal).
    """
    n = weights.size
    edges = np.cumsum(weights)
    edges[-1] = 1.0
    points = (u + np.arange(n)) / n
    return np.searchsorted(edges, points, side="right").astype(np.int64)


def _ess(weights: NDArray[np.float64]) -> float:
    return float(1.0 / np.sum(weights**2))


def _normalise(logw: NDArray[np.float64]) -> NDArray[np.float64]:
    m = float(np.max(logw))
    w = np.exp(logw - m)
    out: NDArray[np.float64] = w / w.sum()
    return out


@dataclass
class _Particle:
    model: PolicyModel
    origin: int  # the prior run it descends from
    params: dict[str, float]  # its uncertain parameter values


@dataclass(frozen=True)
class FilterResult:
    """The conditioned ensemble.

    Attributes
    ----------
    metrics : DataFrame
        Long metrics of the conditioned runs (``replication, year, level, code, name, metric,
        value``; province rows and the county ``designated`` and ``national`` rows).
    draws : DataFrame
        ``replication, origin`` and the uncertain parameters of each conditioned run at the end.
    ess : DataFrame
        One row per year with information: ``year, series, events, ess, ess_share,
        distinct_runs`` (prior runs with a descendant after resampling).
    events : DataFrame
        One row per event: what it says, ``carried`` (runs producing it before handling),
        ``runs`` and ``handling``.
    seconds : float
    """

    metrics: pd.DataFrame
    draws: pd.DataFrame
    ess: pd.DataFrame
    events: pd.DataFrame
    seconds: float


def _build_particles(
    loaded: LoadedScenario, draws: pd.DataFrame, root_seed: int
) -> list[_Particle]:
    """The prior runs, built exactly as :func:`policysim.simulate` builds an ensemble's run."""
    sc = loaded.scenario
    runs = draws["replication"].to_numpy(dtype=np.int64)
    pcols = [c for c in draws.columns if c not in ("replication", "seed_key")]
    synthesis = synthesis_seeds_of(sc.baseline, root_seed, runs)
    particles = []
    for i, run in enumerate(runs):
        drawn = {c: float(draws[c].iloc[i]) for c in pcols}
        values = sc.parameters()
        values.update(drawn)
        model_ss, alloc_ss = run_seed(root_seed, int(run)).spawn(2)
        baseline = baseline_for(sc, int(synthesis[i]))
        alloc = make_allocator(sc, baseline, values, alloc_ss)
        model = PolicyModel(sc, baseline, values, np.random.default_rng(model_ss), alloc)
        particles.append(_Particle(model=model, origin=int(run), params=drawn))
    return particles


def _clone(model: PolicyModel, ss: np.random.SeedSequence) -> PolicyModel:
    """A copy of ``model``'s state (scenario and baseline shared) with fresh streams."""
    memo: dict[int, Any] = {id(model.scenario): model.scenario, id(model.baseline): model.baseline}
    for value in baseline_arrays(model.baseline).values():
        memo[id(value)] = value
    twin: PolicyModel = copy.deepcopy(model, memo)
    rng = np.random.default_rng(ss)
    twin.key = int(rng.integers(0, 2**63 - 1))
    twin.rng_places, twin.rng_closure, twin.rng_entry, twin.rng_eval = rng.spawn(4)
    twin.rng_macro, twin.rng_nominate = rng.spawn(2)  # (the macro level is state: copied)
    return twin


def _set_params(particle: _Particle, values: dict[str, float]) -> None:
    particle.params = dict(values)
    particle.model.set_params(values)


def _province_now(model: PolicyModel) -> dict[str, float]:
    """This year's province values of the series indicators (the metric definitions of
    :func:`policysim.simulation.metric_columns`)."""
    cols = metric_columns(model.records[-1:], model, township_metrics=())
    rows = cols.level == 0
    return {
        str(cols.metrics[m]): float(v)
        for m, v in zip(cols.metric[rows], cols.value[rows], strict=True)
        if str(cols.metrics[m]) in SERIES_INDICATORS
    }


def _new_entrants(model: PolicyModel, kind: str, year: int, before: NDArray[np.bool_]) -> Any:
    d = model.designation
    if kind in ("pilot_county", "county_batch_size"):
        return d.pilot & (d.pilot_since == year)
    return d.national & ~before


def _force(model: PolicyModel, kind: str, year: int, codes: Sequence[int], new: Any) -> int:
    """Impose that the counties ``codes`` entered (``kind``) in ``year``; each missing one takes
    the seat of the run's lowest-ranked other entrant of the year. Returns the counties forced."""
    d = model.designation
    pilot, since, start = d.pilot.copy(), d.pilot_since.copy(), d.start_score.copy()
    national = d.national.copy()
    named = np.zeros(model.n_counties, bool)
    named[list(codes)] = True
    others = np.flatnonzero(new & ~named)
    others = others[np.argsort(model.index[others], kind="stable")]  # lowest index first
    forced = 0
    for c in codes:
        if new[c]:
            continue
        forced += 1
        drop = int(others[0]) if others.size else -1
        others = others[1:]
        if kind == "pilot_county":
            pilot[c], since[c], start[c] = True, year, model.index[c]
            if drop >= 0:
                pilot[drop], since[drop], start[drop] = False, -1, np.nan
        else:
            national[c] = True
            if drop >= 0:
                national[drop] = False
    if forced:
        _commit(model, pilot=pilot, pilot_since=since, start_score=start, national=national)
    return forced


_NAMED_OF: Final = {"county_batch_size": "pilot_county", "national_batch_size": "national_county"}


def _commit(model: PolicyModel, **changes: Any) -> None:
    """Replace designation arrays and correct this year's record accordingly."""
    d = dataclasses.replace(model.designation, **changes)
    model.designation = d
    model.records[-1] = dataclasses.replace(
        model.records[-1],
        provincial=d.pilot | d.designated,
        designated=d.designated.copy(),
        national=d.national.copy(),
    )


def _force_size(
    model: PolicyModel, kind: str, year: int, size: int, new: Any, keep: Sequence[int]
) -> None:
    """Impose a batch of ``size`` entrants in ``year``: drop the lowest-index new entrants (not
    the named counties ``keep``), or add the highest-index candidates (national: provincial
    pilots and designated counties first, as the model nominates; provincial: counties neither
    pilot nor designated)."""
    d = model.designation
    index = model.index
    entrants = np.flatnonzero(new)
    k = entrants.size
    if k == size:
        return
    protected = np.zeros(model.n_counties, bool)
    protected[list(keep)] = True
    if kind == "national_batch_size":
        national = d.national.copy()
        if k > size:
            drop = entrants[~protected[entrants]]
            national[drop[np.argsort(index[drop], kind="stable")][: k - size]] = False
        else:
            provincial = d.pilot | d.designated
            pool = np.flatnonzero(~national)
            rank = np.lexsort((-index[pool], ~provincial[pool]))  # provincial first, then index
            national[pool[rank][: size - k]] = True
        _commit(model, national=national)
        return
    pilot, since, start = d.pilot.copy(), d.pilot_since.copy(), d.start_score.copy()
    if k > size:
        drop = entrants[~protected[entrants]]
        drop = drop[np.argsort(index[drop], kind="stable")][: k - size]
        pilot[drop], since[drop], start[drop] = False, -1, np.nan
    else:
        pool = np.flatnonzero(~pilot & ~d.designated)
        add = pool[np.argsort(-index[pool], kind="stable")][: size - k]
        pilot[add], since[add], start[add] = True, year, index[add]
    _commit(model, pilot=pilot, pilot_since=since, start_score=start)


def particle_filter(
    loaded: LoadedScenario,
    draws: pd.DataFrame,
    root_seed: int,
    observed: NowcastObservations,
    through: int,
    *,
    obs_rel_sd: float = OBS_REL_SD,
    events: EventMode = "force",
) -> FilterResult:
    """Run the scenario's prior runs conditioned on the observations up to ``through``.

    Parameters
    ----------
    loaded : LoadedScenario
    draws : DataFrame
        The prior ensemble's draws (``replication, seed_key`` and the uncertain parameters).
    root_seed : int
        The prior ensemble's root seed (runs' seeds and synthetic economies; the filter's
        streams are its children too).
    observed : NowcastObservations
    through : int
        Last year of information; later observations are not used.
    obs_rel_sd : float
        Relative standard deviation of the observation error (> 0).
    events : {"force", "filter"}
        Handling of named-county events in the runs that did not produce them.

    Returns
    -------
    FilterResult

    Raises
    ------
    DataError
        When no run is compatible with an event (every weight would be 0).
    """
    if not obs_rel_sd > 0:
        raise ScenarioError(
            None, "not positive", key_path="--obs-sd", value=obs_rel_sd, expected="a value > 0"
        )
    start = time.perf_counter()
    sc = loaded.scenario
    _release_freed_memory()  # what the prior ensemble (or an earlier filter) left
    particles = _build_particles(loaded, draws, root_seed)
    n = len(particles)
    series = observed.series[observed.series["year"] <= through]
    ev = observed.events[observed.events["year"] <= through]
    codes = {c: i for i, c in enumerate(particles[0].model.county_codes)} if n else {}
    ess_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    # lockstep up to the last year of information; then each run on its own (below)
    for year in range(sc.horizon.base_year + 1, min(through, sc.horizon.end_year) + 1):
        before = [p.model.designation.national.copy() for p in particles]
        for p in particles:
            p.model.step()
        obs_y = series[series["year"] == year]
        ev_y = ev[ev["year"] == year]
        if obs_y.empty and ev_y.empty:
            continue
        logw = np.zeros(n)
        nominate = np.random.default_rng(
            np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY + 2, year))
        )
        _weigh_events(
            particles, ev_y, year, before, logw, events, codes, observed, event_rows, nominate
        )
        if not obs_y.empty:
            _weigh_series(particles, obs_y, obs_rel_sd, logw)
        if not np.isfinite(logw).any():
            raise DataError(observed.path, f"no run is compatible with the events of {year}")
        w = _normalise(logw)
        ess = _ess(w)
        particles = _resample(particles, w, root_seed, year, sc)
        _release_freed_memory()  # the states of runs left without children
        ess_rows.append(
            {
                "year": year,
                "series": len(obs_y),
                "events": len(ev_y),
                "ess": ess,
                "ess_share": ess / n,
                "distinct_runs": len({p.origin for p in particles}),
            }
        )
        logger.info("nowcast %d: ESS %.1f of %d", year, ess, n)
    origins = [p.origin for p in particles]
    final_params = [p.params for p in particles]
    metrics = _finish(particles, sc)
    pnames = sorted(sc.uncertainties)
    out_draws = pd.DataFrame(
        {
            "replication": np.arange(n, dtype=np.int64),
            "origin": origins,
            **{name: [v.get(name, math.nan) for v in final_params] for name in pnames},
        }
    )
    return FilterResult(
        metrics=metrics,
        draws=out_draws,
        ess=pd.DataFrame(
            ess_rows, columns=["year", "series", "events", "ess", "ess_share", "distinct_runs"]
        ),
        events=pd.DataFrame(
            event_rows,
            columns=["indicator", "year", "code", "name", "value", "carried", "runs", "handling"],
        ),
        seconds=time.perf_counter() - start,
    )


def _weigh_events(
    particles: list[_Particle],
    ev_y: pd.DataFrame,
    year: int,
    before: list[Any],
    logw: NDArray[np.float64],
    events: EventMode,
    codes: dict[str, int],
    observed: NowcastObservations,
    event_rows: list[dict[str, Any]],
    nominate: np.random.Generator,
) -> None:
    """The events of ``year``: batch sizes first, on the runs' own outcomes; then the named
    counties. A run that contradicts an event gets weight 0 (``logw`` is -inf), or the event is
    forced on it; named national counties under ``filter`` weigh each run by their probability
    (:func:`_weigh_named_national`); ``event_rows`` gets how many runs carried each."""
    n = len(particles)
    for kind in EVENT_ORDER:
        rows = ev_y[ev_y["indicator"] == kind]
        if rows.empty:
            continue
        new = [_new_entrants(p.model, kind, year, before[i]) for i, p in enumerate(particles)]
        if kind.endswith("batch_size"):
            size = int(rows["value"].iloc[0])
            ok = np.array([int(x.sum()) == size for x in new])
            if (ok & np.isfinite(logw)).any():
                _event_row(event_rows, rows.iloc[0], ok, n, "weight 0 (then resampled)")
                logw[~ok] = -np.inf
            elif events == "filter":
                raise _no_carrier(observed.path, rows.iloc[0], n)
            else:  # no run can produce it: the size is imposed on every run
                _event_row(
                    event_rows, rows.iloc[0], ok, n, "forced (no run carried it; size imposed)"
                )
                named = ev_y[ev_y["indicator"] == _NAMED_OF[kind]]["code"]
                keep = [codes[str(c)] for c in named]
                for i, p in enumerate(particles):
                    _force_size(p.model, kind, year, size, new[i], keep)
            continue
        idx = [codes[str(c)] for c in rows["code"]]
        if kind == "national_county" and events == "filter":
            _weigh_named_national(particles, year, idx, new, before, logw, nominate)
            _named_rows(event_rows, rows, idx, new, logw, observed.path)
            continue
        for k, (_, row) in enumerate(rows.iterrows()):
            ok = np.array([bool(x[idx[k]]) for x in new])
            if events == "filter":
                _event_row(event_rows, row, ok, n, "weight 0 (then resampled)")
                if not (ok & np.isfinite(logw)).any():
                    raise _no_carrier(observed.path, row, n)
                logw[~ok] = -np.inf
            else:
                _event_row(event_rows, row, ok, n, "forced (took a new entrant's seat)")
        if events == "force":
            for i, p in enumerate(particles):
                _force(p.model, kind, year, idx, new[i])


def _weigh_named_national(
    particles: list[_Particle],
    year: int,
    idx: Sequence[int],
    new: Sequence[Any],
    before: Sequence[Any],
    logw: NDArray[np.float64],
    nominate: np.random.Generator,
) -> None:
    """Exact conditioning on the year's named national counties, fully adapted (Pitt &
    Shephard 1999): each run is weighted by the probability that its nomination of the year
    (its candidates and observed index, the nomination noise, its number of seats) includes
    all of them (:func:`~policysim.studies.nowcast_nomination.named_probability`); a run whose
    own draw did not is given a nomination drawn given that it does. The nomination is noise
    that nothing else in the model reads, so the rest of the run's state stands."""
    for i, p in enumerate(particles):
        m = p.model
        nom = getattr(m, "nomination", None)
        named = np.zeros(m.n_counties, bool)
        named[list(idx)] = True
        if nom is None or nom.year != year:
            logw[i] = -np.inf
            continue
        prob = named_probability(nom.score, nom.candidates, named, nom.size, nom.noise)
        logw[i] += math.log(prob) if prob > 0 else -np.inf
        if prob > 0 and not bool(new[i][named].all()):
            drawn = draw_given_named(
                nom.score, nom.candidates, named, nom.size, nom.noise, nominate
            )
            _commit(m, national=before[i] | drawn)


def _named_rows(
    event_rows: list[dict[str, Any]],
    rows: pd.DataFrame,
    idx: Sequence[int],
    new: Sequence[Any],
    logw: NDArray[np.float64],
    path: Path,
) -> None:
    """Event rows of the year's named national counties under ``filter``: ``carried`` counts
    the runs whose own nomination had the county; the others were weighted and redrawn."""
    n = len(new)
    live = np.isfinite(logw)
    if not live.any():
        raise _no_carrier(path, rows.iloc[0], n)
    for k, (_, row) in enumerate(rows.iterrows()):
        ok = np.array([bool(x[idx[k]]) for x in new])
        _event_row(
            event_rows,
            row,
            ok,
            n,
            f"weighted by the probability of the year's {len(idx)} named counties given the "
            f"run (positive in {int(live.sum())} runs) and nomination drawn given them "
            "(then resampled)",
        )


def _weigh_series(
    particles: list[_Particle], obs_y: pd.DataFrame, obs_rel_sd: float, logw: NDArray[np.float64]
) -> None:
    """Add each province observation's Gaussian log-likelihood to ``logw`` (in place)."""
    values = [_province_now(p.model) for p in particles]
    for _, row in obs_y.iterrows():
        name, obs = str(row["indicator"]), float(row["value"])
        sd = obs_rel_sd * abs(obs)
        if name in COUNT_INDICATORS:
            sd = max(sd, 0.5)
        sd = max(sd, 1e-12)
        sim = np.array([v[name] for v in values])
        logw += -0.5 * ((sim - obs) / sd) ** 2


def _resample(
    particles: list[_Particle],
    w: NDArray[np.float64],
    root_seed: int,
    year: int,
    sc: Scenario,
) -> list[_Particle]:
    """Systematic resampling: the first copy of a run continues it, the others continue from a
    clone of its state with fresh streams; the copies' parameters are jittered (Liu-West).
    ``particles`` is emptied (the runs left without children are freed before cloning)."""
    u = float(
        np.random.default_rng(
            np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY, year))
        ).random()
    )
    ancestors = systematic_resample(w, u)
    first = np.ones(len(particles), bool)
    first[1:] = ancestors[1:] != ancestors[:-1]
    old_params = [p.params for p in particles]
    # runs without children are freed before any copy is made: at most n states are held
    # (not n plus the copies), the same numbers
    kept = {int(a): particles[int(a)] for a in np.unique(ancestors)}
    particles.clear()
    new_particles: list[_Particle] = []
    for j, a in enumerate(ancestors):
        src = kept[int(a)]
        if first[j]:
            new_particles.append(src)
        else:
            ss = np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY, year, j))
            new_particles.append(
                _Particle(model=_clone(src.model, ss), origin=src.origin, params=dict(src.params))
            )
    del kept
    jitter = np.random.default_rng(
        np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY + 1, year))
    )
    _liu_west_apply(old_params, new_particles, w, ancestors, ~first, sc, jitter)
    return new_particles


def _release_freed_memory() -> None:
    """Hand the memory of freed states back to the system (glibc ``malloc_trim``; nothing
    elsewhere). The ensemble engine tells glibc to keep freed memory in a process that runs
    the model (:func:`policysim.experiments.worker.keep_freed_memory`: faster years), so the
    states of dropped and finished runs would otherwise stay resident, and add up over the
    filters of an outlook (docs/NOWCAST.md, "Memory and cost"). Called a few times per filter
    (not per run: returned memory is faulted in again, which costs system time)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return


def _finish(particles: list[_Particle], sc: Scenario) -> pd.DataFrame:
    """After the last year of information the runs are independent: each is finished and
    reduced to its metrics in turn, and its state freed (the memory of one run, not of all of
    them). ``particles`` is emptied."""
    frames = []
    queue = particles[::-1]
    particles.clear()
    for j in range(len(queue)):
        p = queue.pop()
        while p.model.year < sc.horizon.end_year:
            p.model.step()
        cols = metric_columns(p.model.records, p.model, township_metrics=())
        keep = (cols.level == 0) | (
            (cols.level == 1)
            & np.isin(cols.metric, [cols.metric_code("designated"), cols.metric_code("national")])
        )
        frames.append(cols.take(np.flatnonzero(keep)).frame().assign(replication=np.int32(j)))
        del p
    _release_freed_memory()
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not metrics.empty:
        metrics = metrics[["replication", *[c for c in metrics.columns if c != "replication"]]]
    return metrics


def _liu_west_apply(
    old: Sequence[dict[str, float]],
    new: list[_Particle],
    weights: NDArray[np.float64],
    ancestors: NDArray[np.int64],
    copies: NDArray[np.bool_],
    scenario: Scenario,
    rng: np.random.Generator,
) -> None:
    """Liu-West jitter of the copies' parameters, from the weighted parameter values ``old``
    (of the runs before resampling)."""
    names = [n for n in sorted(scenario.uncertainties) if n not in STATIC_PARAMETERS]
    if not names or not copies.any():
        return
    theta = np.array([[p[n] for n in names] for p in old], dtype=np.float64)
    mean = weights @ theta
    dev = theta - mean
    cov = (dev * weights[:, None]).T @ dev
    a = (3.0 * LIU_WEST_DISCOUNT - 1.0) / (2.0 * LIU_WEST_DISCOUNT)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    try:
        chol = np.linalg.cholesky(cov + np.diag(1e-12 * (sd**2 + 1e-300)))
    except np.linalg.LinAlgError:
        chol = np.diag(sd)
    lo = np.array([scenario.uncertainties[n].support()[0] for n in names])
    hi = np.array([scenario.uncertainties[n].support()[1] for n in names])
    rows = np.flatnonzero(copies)
    z = rng.standard_normal((rows.size, len(names)))
    moved = a * theta[ancestors[rows]] + (1.0 - a) * mean + math.sqrt(1.0 - a * a) * (z @ chol.T)
    for _ in range(4):  # reflect at finite bounds
        moved = np.where(moved < lo, 2.0 * lo - moved, moved)
        moved = np.where(moved > hi, 2.0 * hi - moved, moved)
    moved = np.clip(moved, lo, hi)
    for k, j in enumerate(rows):
        values = dict(new[j].params)
        values.update({n: float(moved[k, i]) for i, n in enumerate(names)})
        _set_params(new[j], values)


def _event_row(
    rows: list[dict[str, Any]], row: pd.Series, ok: NDArray[np.bool_], n: int, handling: str
) -> None:
    carried = int(ok.sum())
    rows.append(
        {
            "indicator": str(row["indicator"]),
            "year": int(row["year"]),
            "code": str(row["code"]),
            "name": str(row["name"]),
            "value": float(row["value"]),
            "carried": carried,
            "runs": n,
            "handling": "none needed" if carried == n else f"{n - carried} {handling}",
        }
    )


def _no_carrier(path: Path, row: pd.Series, n: int) -> DataError:
    what = f"{row['indicator']} {int(row['year'])}"
    what += f" {row['code']} {row['name']}" if row["code"] else f" = {int(row['value'])}"
    return DataError(
        path,
        f"no run of {n} is compatible with the event {what}; expected at least one (more "
        "replications, or --events force for a named county)",
        row=int(row["row"]),
    )
