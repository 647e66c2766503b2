"""Nowcast: the scenario's ensemble conditioned on what has already happened, then projected.

>>> from policysim.studies.nowcast import run_nowcast, write_nowcast
>>> result = run_nowcast("scenarios/jiangxi_nowcast.yaml",
...                      "scenarios/observed/jiangxi_nowcast.csv", through=2020, replications=200)
>>> result.attainment[["target", "prior_probability", "posterior_probability"]]
>>> result.scores  # observations after 2020, scored out of sample like ``hindcast.csv``

Method (docs/NOWCAST.md): a bootstrap particle filter over whole model runs. The prior ensemble
(the scenario's uncertainties, seeds and synthetic economies exactly as ``policysim run`` draws
them) is stepped year by year in lockstep. At each year up to ``through`` that has observations,

1. **events** are checked: a batch size (provincial pilots or Jiangxi's national nominees of the
   year) is a hard constraint, so a run that contradicts it gets weight 0 (when no run carries
   it, ``events="force"`` imposes the size on every run, ``"filter"`` refuses); a named county
   becoming a pilot or a national innovative county is either a hard constraint too
   (``events="filter"``) or imposed on the runs that did not produce it (``events="force"``,
   the default): the named county takes the seat of the run's lowest-ranked new entrant of
   that year, so the batch keeps its size;
2. **province series** weight each run by a Gaussian likelihood of the observation with a
   relative observation error (:data:`OBS_REL_SD`);
3. the effective sample size ``1 / sum(w^2)`` is recorded, the runs are **resampled**
   systematically (the resampling stream is a fixed child of the root seed), each surviving run
   continues once unchanged and every further copy continues from a clone of its state with
   fresh child streams;
4. the copies' uncertain parameters are **rejuvenated** with the Liu-West kernel (shrinkage
   towards the weighted mean plus Gaussian jitter that keeps the weighted mean and covariance),
   reflected into the prior's support. Parameters that only set the initial state
   (:data:`STATIC_PARAMETERS`) are not jittered: a new value could not change the copied state.

The filter runs in one process (model states are cloned in memory); the prior ensemble runs on
the usual runner (workers, stored parts, resume). Same seed, same numbers, whatever the workers.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray

from policysim.agents.enterprises import FirmParams
from policysim.analysis.intervals import wilson_interval
from policysim.analysis.targets import attainment
from policysim.coupling import make_allocator
from policysim.errors import DataError, ScenarioError
from policysim.experiments import EnsembleResult, build_manifest, run_ensemble
from policysim.experiments.design import run_seed, synthesis_seeds_of
from policysim.experiments.runner import load_with_overrides
from policysim.experiments.store import write_bytes
from policysim.metrics import hindcast_indicators
from policysim.model import PolicyModel, baseline_arrays
from policysim.plotting import hindcast_plot, save_figure
from policysim.plotting._common import new_figure
from policysim.report import render_report
from policysim.report.tables import csv_bytes
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.simulation import baseline_for, metric_columns
from policysim.studies.hindcast import json_safe, quantile_frame, score_ensemble
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH

__all__ = [
    "COUNT_INDICATORS",
    "EVENT_INDICATORS",
    "LIU_WEST_DISCOUNT",
    "OBS_REL_SD",
    "STATIC_PARAMETERS",
    "EventMode",
    "FilterResult",
    "NowcastObservations",
    "NowcastResult",
    "check_through",
    "particle_filter",
    "read_nowcast_observed",
    "run_nowcast",
    "systematic_resample",
    "write_nowcast",
]

logger = logging.getLogger(__name__)

EventMode = Literal["force", "filter"]

#: Province series an observed file may name (the hindcast indicators).
SERIES_INDICATORS: Final = hindcast_indicators()
#: Events an observed file may name: ``pilot_county`` / ``national_county`` (column ``code``: the
#: county became a provincial pilot / a national innovative county in ``year``; value 1) and
#: ``county_batch_size`` / ``national_batch_size`` (the number of counties of the year's provincial
#: batch / of Jiangxi's counties in the year's national batch).
EVENT_INDICATORS: Final = (
    "pilot_county",
    "national_county",
    "county_batch_size",
    "national_batch_size",
)
#: Order in which a year's events are applied: batch sizes (checked on the runs' own outcomes)
#: before named counties (which may be forced).
EVENT_ORDER: Final = ("county_batch_size", "national_batch_size", "pilot_county", "national_county")
#: Indicators that count units (integers): their observation error has a floor of half a unit.
COUNT_INDICATORS: Final = frozenset(
    {
        "hnte_count",
        "provincial_innovative_counties",
        "national_innovative_counties",
        "innovative_townships",
    }
)
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


# -----------------------------------------------------------------------------------------------
# observations


@dataclass(frozen=True)
class NowcastObservations:
    """An observed file for a nowcast.

    Attributes
    ----------
    series : DataFrame
        ``indicator, year, value, row`` (province series, the indicator's unit).
    events : DataFrame
        ``indicator, year, code, name, value, row`` (``code``/``name`` empty for batch sizes).
    path : Path
    """

    series: pd.DataFrame
    events: pd.DataFrame
    path: Path

    def years(self) -> list[int]:
        """Years with at least one observation or event, sorted."""
        return sorted({*map(int, self.series["year"]), *map(int, self.events["year"])})

    def last_year(self) -> int:
        return max(self.years())


def read_nowcast_observed(path: Path, scenario: Scenario) -> NowcastObservations:
    """Read and check an observed file for ``scenario``.

    Parameters
    ----------
    path : Path
        UTF-8 CSV with columns ``indicator, year, value`` and, for county events, ``code`` (other
        columns such as ``status`` and ``source`` are kept in the file, ignored here).
    scenario : Scenario
        Fixes the horizon and the counties (its baseline).

    Returns
    -------
    NowcastObservations

    Raises
    ------
    DataError
        Unreadable file, missing column, unknown indicator, year outside the horizon (events:
        after the base year), bad value, unknown county or a repeated observation; the message
        names the file and row (header = row 1).
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(path, f"not a valid CSV file ({exc})") from None
    if not rows:
        raise DataError(path, "the file is empty; expected a header indicator,year,value[,code]")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("indicator", "year", "value") if c not in header]
    if missing:
        raise DataError(
            path,
            f"missing column(s) {', '.join(missing)}; expected columns indicator, year, value "
            "(and code for county events)",
            row=1,
        )
    col = {c: header.index(c) for c in header}
    baseline = baseline_for(scenario)
    names = dict(
        zip(
            baseline.counties["code"].astype(str),
            baseline.counties["name"].astype(str),
            strict=True,
        )
    )
    base, end = scenario.horizon.base_year, scenario.horizon.end_year
    allowed = (*SERIES_INDICATORS, *EVENT_INDICATORS)
    series: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    seen: dict[tuple[str, int, str], int] = {}
    for offset, record in enumerate(rows[1:]):
        row = offset + 2
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) < len(header):
            raise DataError(
                path, f"has {len(record)} fields; expected {len(header)} as in the header", row=row
            )
        indicator = record[col["indicator"]].strip()
        if indicator not in allowed:
            raise DataError(
                path,
                "unknown indicator; expected one of " + ", ".join(allowed),
                row=row,
                column="indicator",
                value=indicator,
            )
        event = indicator in EVENT_INDICATORS
        text = record[col["year"]].strip()
        try:
            year = int(text)
        except ValueError:
            raise DataError(
                path, "not an integer year", row=row, column="year", value=text
            ) from None
        first = base + 1 if event else base
        if not first <= year <= end:
            raise DataError(
                path,
                f"year outside the horizon; expected {first}-{end}"
                + (" (an event happens after the base year)" if event else ""),
                row=row,
                column="year",
                value=year,
            )
        text = record[col["value"]].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(path, "not a finite number", row=row, column="value", value=text)
        code = record[col["code"]].strip() if "code" in col else ""
        if indicator in ("pilot_county", "national_county"):
            if value != 1.0:
                raise DataError(
                    path,
                    "a county event has value 1 (the county became one that year)",
                    row=row,
                    column="value",
                    value=text,
                )
            if code not in names:
                raise DataError(
                    path,
                    f"unknown county code; expected one of the {len(names)} codes of the "
                    f"scenario's baseline ({scenario.baseline.source})",
                    row=row,
                    column="code",
                    value=code,
                )
        elif event:
            if value < 0 or value != round(value):
                raise DataError(
                    path,
                    "a batch size is a whole number >= 0",
                    row=row,
                    column="value",
                    value=text,
                )
        elif value < 0:
            raise DataError(path, "expected a value >= 0", row=row, column="value", value=text)
        if code and indicator not in ("pilot_county", "national_county"):
            raise DataError(
                path,
                "only pilot_county and national_county rows name a county; expected an empty code",
                row=row,
                column="code",
                value=code,
            )
        key = (indicator, year, code)
        if key in seen:
            raise DataError(
                path,
                f"repeats row {seen[key]} ({indicator}, {year}{', ' + code if code else ''})",
                row=row,
            )
        seen[key] = row
        if event:
            events.append(
                {
                    "indicator": indicator,
                    "year": year,
                    "code": code,
                    "name": names.get(code, ""),
                    "value": value,
                    "row": row,
                }
            )
        else:
            series.append({"indicator": indicator, "year": year, "value": value, "row": row})
    if not series and not events:
        raise DataError(path, "no observations; expected at least one indicator,year,value row")
    s = pd.DataFrame(series, columns=["indicator", "year", "value", "row"])
    e = pd.DataFrame(events, columns=["indicator", "year", "code", "name", "value", "row"])
    return NowcastObservations(
        series=s.astype({"year": np.int64, "value": np.float64, "row": np.int64}),
        events=e.astype({"year": np.int64, "value": np.float64, "row": np.int64}),
        path=path,
    )


def check_through(through: int | None, observed: NowcastObservations, scenario: Scenario) -> int:
    """The last year of information: ``through`` (checked) or the file's last year.

    Raises
    ------
    ScenarioError
        ``through`` outside the horizon (base year .. end year - 1: something must be left to
        project).
    """
    base, end = scenario.horizon.base_year, scenario.horizon.end_year
    if through is None:
        return min(observed.last_year(), end)
    if not base <= through < end:
        raise ScenarioError(
            None,
            "outside the horizon",
            key_path="--through",
            value=through,
            expected=f"a year from {base} to {end - 1} (the scenario's base year to one year "
            "before its end year)",
        )
    return int(through)


# -----------------------------------------------------------------------------------------------
# the particle filter


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
    return twin


def _set_params(particle: _Particle, values: dict[str, float]) -> None:
    particle.params = dict(values)
    particle.model.params.update(values)
    particle.model.fp = FirmParams.from_values(particle.model.params)


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
        # events: batch sizes first, on the runs' own outcomes; then the named counties
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
        if not obs_y.empty:
            values = [_province_now(p.model) for p in particles]
            for _, row in obs_y.iterrows():
                name, obs = str(row["indicator"]), float(row["value"])
                sd = obs_rel_sd * abs(obs)
                if name in COUNT_INDICATORS:
                    sd = max(sd, 0.5)
                sd = max(sd, 1e-12)
                sim = np.array([v[name] for v in values])
                logw += -0.5 * ((sim - obs) / sd) ** 2
        if not np.isfinite(logw).any():
            raise DataError(observed.path, f"no run is compatible with the events of {year}")
        w = _normalise(logw)
        ess = _ess(w)
        u = float(
            np.random.default_rng(
                np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY, year))
            ).random()
        )
        ancestors = systematic_resample(w, u)
        first = np.ones(n, bool)
        first[1:] = ancestors[1:] != ancestors[:-1]
        new_particles: list[_Particle] = []
        for j, a in enumerate(ancestors):
            src = particles[int(a)]
            if first[j]:
                new_particles.append(src)
            else:
                ss = np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY, year, j))
                new_particles.append(
                    _Particle(
                        model=_clone(src.model, ss), origin=src.origin, params=dict(src.params)
                    )
                )
        jitter = np.random.default_rng(
            np.random.SeedSequence(root_seed, spawn_key=(FILTER_KEY + 1, year))
        )
        _liu_west_apply(particles, new_particles, w, ancestors, ~first, sc, jitter)
        particles = new_particles
        del new_particles
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
    # after the last year of information the runs are independent: each is finished and reduced
    # to its metrics in turn, and its state freed (the memory of one run, not of all of them)
    frames = []
    origins = [p.origin for p in particles]
    final_params = [p.params for p in particles]
    queue = particles[::-1]
    particles = []
    for j in range(n):
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
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not metrics.empty:
        metrics = metrics[["replication", *[c for c in metrics.columns if c != "replication"]]]
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


def _liu_west_apply(
    old: list[_Particle],
    new: list[_Particle],
    weights: NDArray[np.float64],
    ancestors: NDArray[np.int64],
    copies: NDArray[np.bool_],
    scenario: Scenario,
    rng: np.random.Generator,
) -> None:
    """Liu-West jitter of the copies' parameters, from the weighted particle set ``old``."""
    names = [n for n in sorted(scenario.uncertainties) if n not in STATIC_PARAMETERS]
    if not names or not copies.any():
        return
    theta = np.array([[p.params[n] for n in names] for p in old], dtype=np.float64)
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


# -----------------------------------------------------------------------------------------------
# the study


@dataclass(frozen=True)
class NowcastResult:
    """A nowcast: the prior ensemble, the conditioned one and what they say.

    Attributes
    ----------
    prior : EnsembleResult
        The unconditioned ensemble (as ``policysim run`` would give).
    posterior : FilterResult
        The runs conditioned on the observations up to ``through``.
    observed : NowcastObservations
    through : int
        Last year of information.
    scores : DataFrame
        Observations after ``through`` scored against the conditioned runs (the columns of
        ``hindcast.csv``); empty when there are none.
    prior_scores : DataFrame
        The same observations scored against the prior ensemble.
    attainment : DataFrame
        Per target: ``target, metric, year, comparator, threshold, remaining`` (deadline after
        ``through``), ``prior_probability, prior_ci_low, prior_ci_high, posterior_probability,
        posterior_ci_low, posterior_ci_high, change``.
    parameters : DataFrame
        Per uncertain parameter: prior and posterior median and 5-95% range, width ratio.
    obs_rel_sd : float
    events_mode : str
    """

    prior: EnsembleResult
    posterior: FilterResult
    observed: NowcastObservations
    through: int
    scores: pd.DataFrame
    prior_scores: pd.DataFrame
    attainment: pd.DataFrame
    parameters: pd.DataFrame
    obs_rel_sd: float
    events_mode: str

    def crps(self) -> pd.DataFrame:
        """Mean CRPS per indicator out of sample: ``indicator, n, prior_crps, nowcast_crps``."""
        if self.scores.empty:
            return pd.DataFrame(columns=["indicator", "n", "prior_crps", "nowcast_crps"])
        post = self.scores.groupby("indicator")["crps"].agg(["size", "mean"])
        prior = self.prior_scores.groupby("indicator")["crps"].mean()
        return pd.DataFrame(
            {
                "indicator": post.index.astype(str),
                "n": post["size"].to_numpy(dtype=np.int64),
                "prior_crps": prior.reindex(post.index).to_numpy(dtype=np.float64),
                "nowcast_crps": post["mean"].to_numpy(dtype=np.float64),
            }
        )

    def briefing(self) -> list[str]:
        """One sentence per remaining target, English then Chinese."""
        lines = []
        for row in self.attainment[self.attainment["remaining"]].to_dict("records"):
            thr = "" if not math.isfinite(row["threshold"]) else f"{row['threshold']:g} "
            what = f"{row['metric']} {row['comparator']} {thr}in {row['year']}".replace("  ", " ")
            lines.append(
                f"Given the statistics through {self.through}, P({what}) = "
                f"{row['posterior_probability']:.0%} (95% interval "
                f"{row['posterior_ci_low']:.0%}-{row['posterior_ci_high']:.0%}); before "
                f"conditioning {row['prior_probability']:.0%} (target {row['target']})."
            )
            lines.append(
                f"依据截至{self.through}年的统计数据, {row['year']}年目标 {row['target']} "
                f"({what}) 的实现概率为 {row['posterior_probability']:.0%} (95%区间 "
                f"{row['posterior_ci_low']:.0%}-{row['posterior_ci_high']:.0%}); "
                f"未利用观测时为 {row['prior_probability']:.0%}。"
            )
        return lines


def _attainment_table(
    prior: pd.DataFrame,
    posterior: pd.DataFrame,
    scenario: Scenario,
    through: int,
    n_effective: float,
) -> pd.DataFrame:
    """Attainment before and after conditioning. The posterior's Wilson interval counts
    ``n_effective`` runs (the smallest effective sample size of the years of information):
    copies of one run are not independent evidence."""
    targets = list(scenario.targets)
    a = attainment(prior, targets)
    b = attainment(posterior, targets)
    out = a[["target", "metric", "year", "comparator", "threshold"]].copy()
    out["remaining"] = out["year"] > through
    out["prior_probability"] = a["probability"].to_numpy()
    out["prior_ci_low"] = a["ci_low"].to_numpy()
    out["prior_ci_high"] = a["ci_high"].to_numpy()
    p = b["probability"].to_numpy(dtype=np.float64)
    n_eff = max(min(float(n_effective), float(b["n_runs"].max())), 1.0)
    lo, hi = wilson_interval(p * n_eff, n_eff)
    out["posterior_probability"] = p
    out["posterior_ci_low"] = np.asarray(lo, dtype=np.float64)
    out["posterior_ci_high"] = np.asarray(hi, dtype=np.float64)
    out["posterior_n_effective"] = n_eff
    out["change"] = out["posterior_probability"] - out["prior_probability"]
    return out


def _parameter_table(prior: pd.DataFrame, posterior: pd.DataFrame, names: Sequence[str]) -> Any:
    rows = []
    for name in names:
        p = prior[name].to_numpy(dtype=np.float64)
        q = posterior[name].to_numpy(dtype=np.float64)
        pq = np.quantile(p, [0.05, 0.5, 0.95])
        qq = np.quantile(q, [0.05, 0.5, 0.95])
        width = pq[2] - pq[0]
        rows.append(
            {
                "parameter": name,
                "prior_median": pq[1],
                "prior_p05": pq[0],
                "prior_p95": pq[2],
                "posterior_median": qq[1],
                "posterior_p05": qq[0],
                "posterior_p95": qq[2],
                "width_ratio": (qq[2] - qq[0]) / width if width > 0 else math.nan,
                "rejuvenated": name not in STATIC_PARAMETERS,
            }
        )
    return pd.DataFrame(rows)


def _scores(metrics: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    if series.empty:
        return pd.DataFrame(
            columns=[
                *("indicator", "year", "observed", "median", "p05", "p25", "p75", "p95"),
                *("in50", "in90", "pit", "crps"),
            ]
        )
    table, _ = score_ensemble(metrics, series[["indicator", "year", "value"]])
    return table


def run_nowcast(
    scenario: LoadedScenario | str | Path,
    observed: Path,
    *,
    through: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    overrides: Sequence[str] = (),
    obs_rel_sd: float = OBS_REL_SD,
    events: EventMode = "force",
    store: Path | None = None,
    resume: bool = False,
    progress: bool | str = False,
    prior: EnsembleResult | None = None,
) -> NowcastResult:
    """Condition a scenario's ensemble on the observations up to ``through`` and project it.

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
    observed : Path
        Observed file (:func:`read_nowcast_observed`), read and checked before any run.
    through : int, optional
        Last year of information (default: the file's last year). Observations after it are
        scored out of sample, never used.
    replications, seed, workers, overrides, store, resume, progress
        Of the prior ensemble (:func:`policysim.experiments.run_ensemble`); the conditioned
        ensemble has the same number of runs.
    obs_rel_sd : float
        Relative observation error (:data:`OBS_REL_SD`).
    events : {"force", "filter"}
        Handling of named-county events (module text).
    prior : EnsembleResult, optional
        A prior ensemble already run (reused: several ``through`` years in a row).

    Returns
    -------
    NowcastResult

    Raises
    ------
    DataError, ScenarioError
        Bad observed file or ``through``; no run compatible with an event.
    """
    loaded = load_with_overrides(scenario, overrides)
    sc = loaded.scenario
    obs = read_nowcast_observed(Path(observed), sc)
    last = check_through(through, obs, sc)
    if events not in ("force", "filter"):
        raise ScenarioError(
            None, "unknown mode", key_path="--events", value=events, expected="force or filter"
        )
    if prior is None:
        prior = run_ensemble(
            loaded,
            replications=replications,
            seed=seed,
            workers=workers,
            store=store,
            resume=resume,
            progress=progress,
        )
    if prior.n_failed:
        raise DataError(
            "ensemble",
            f"{prior.n_failed} of {prior.n_runs} prior runs failed; expected every run to "
            "complete (the filter needs the whole ensemble)",
        )
    post = particle_filter(
        loaded, prior.draws, prior.root_seed, obs, last, obs_rel_sd=obs_rel_sd, events=events
    )
    later = obs.series[obs.series["year"] > last]
    names = sorted(sc.uncertainties)
    return NowcastResult(
        prior=prior,
        posterior=post,
        observed=obs,
        through=last,
        scores=_scores(post.metrics, later),
        prior_scores=_scores(prior.metrics, later),
        attainment=_attainment_table(
            prior.metrics,
            post.metrics,
            sc,
            last,
            float(post.ess["ess"].min()) if len(post.ess) else float(prior.n_runs),
        ),
        parameters=_parameter_table(prior.draws, post.draws, names),
        obs_rel_sd=obs_rel_sd,
        events_mode=events,
    )


def outlook(
    scenario: LoadedScenario,
    observed: Path,
    throughs: Sequence[int],
    prior: EnsembleResult,
    *,
    obs_rel_sd: float = OBS_REL_SD,
    events: EventMode = "force",
) -> pd.DataFrame:
    """The remaining targets' probabilities by year of information (one filter per year,
    the same prior ensemble): ``through, target, year, probability, ci_low, ci_high, ess_min``;
    ``through`` = base year is the unconditioned ensemble."""
    rows = []
    base = scenario.scenario.horizon.base_year
    for y in sorted(set(throughs)):
        r = run_nowcast(
            scenario, observed, through=y, prior=prior, obs_rel_sd=obs_rel_sd, events=events
        )
        ess_min = float(r.posterior.ess["ess"].min()) if len(r.posterior.ess) else math.nan
        for row in r.attainment.to_dict("records"):
            if y == base:
                p, lo, hi = (row[f"prior_{k}"] for k in ("probability", "ci_low", "ci_high"))
            else:
                p, lo, hi = (row[f"posterior_{k}"] for k in ("probability", "ci_low", "ci_high"))
            rows.append(
                {
                    "through": y,
                    "target": row["target"],
                    "year": row["year"],
                    "probability": p,
                    "ci_low": lo,
                    "ci_high": hi,
                    "ess_min": ess_min,
                }
            )
    return pd.DataFrame(rows)


# -----------------------------------------------------------------------------------------------
# outputs


def posterior_figure(result: NowcastResult) -> Figure:
    """Prior and posterior 5-95% ranges and medians of the uncertain parameters, each scaled
    to its prior range (0 = prior 5%, 1 = prior 95%)."""
    table = result.parameters
    n = len(table)
    fig = new_figure(7.0, max(2.0, 0.28 * n + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    for i, row in enumerate(table.to_dict("records")):
        lo, hi = row["prior_p05"], row["prior_p95"]
        span = hi - lo if hi > lo else 1.0

        def s(v: float, lo: float = lo, span: float = span) -> float:
            return (v - lo) / span

        ax.plot([0, 1], [i + 0.15, i + 0.15], color="#999999", lw=3)
        ax.plot(s(row["prior_median"]), i + 0.15, "o", color="#666666", ms=3)
        ax.plot(
            [s(row["posterior_p05"]), s(row["posterior_p95"])], [i - 0.15, i - 0.15],
            color="#1f5fa8", lw=3,
        )  # fmt: skip
        ax.plot(s(row["posterior_median"]), i - 0.15, "o", color="#1f5fa8", ms=3)
    ax.set_yticks(range(n))
    ax.set_yticklabels(table["parameter"].tolist(), fontsize=7)
    ax.set_xlabel("position in the prior 5-95% range (grey: prior, blue: posterior)")
    ax.set_title(f"Uncertain parameters given the statistics through {result.through}")
    ax.invert_yaxis()
    return fig


def outlook_figure(table: pd.DataFrame) -> Figure:
    """Probability of each target still ahead (deadline after the last year of information)
    by year of information, with 95% intervals."""
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    years = sorted({int(y) for y in table["through"]})
    ahead = table[table["year"] > max(years)]
    for target, group in ahead.groupby("target", sort=True):
        g = group.sort_values("through")
        x = g["through"].to_numpy()
        ax.plot(x, g["probability"].to_numpy(), marker="o", label=str(target))
        ax.fill_between(x, g["ci_low"].to_numpy(), g["ci_high"].to_numpy(), alpha=0.15)
    ax.set_ylim(0, 1)
    ax.set_xticks(years)
    ax.set_xticklabels([f"{y}\n(none)" if i == 0 else str(y) for i, y in enumerate(years)])
    ax.set_xlabel("statistics through (the first year: no conditioning)")
    ax.set_ylabel("probability the target is met")
    ax.set_title("Outlook by year of information")
    ax.legend(fontsize=7)
    return fig


def write_nowcast(
    result: NowcastResult, out_dir: Path, outlook_table: pd.DataFrame | None = None
) -> dict[str, Path]:
    """Write the nowcast's files, each atomically.

    Returns
    -------
    dict of str to Path
        ``scores`` (``scores.csv``: out of sample, the columns of ``hindcast.csv``),
        ``prior_scores`` (the same against the prior), ``crps`` (``crps.csv``), ``attainment``,
        ``parameters``, ``posterior_draws``, ``prior_draws``, ``ess``, ``events``,
        ``county_probabilities`` (with the synthetic-data caveat), ``briefing`` (``briefing.txt``),
        ``summary`` (``nowcast_summary.json``), ``manifest``, ``outlook`` (if given), figures and
        ``report`` (``report.html``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    w: dict[str, Path] = {}
    prior, post = result.prior, result.posterior
    sc = prior.loaded.scenario

    def put(key: str, name: str, frame: pd.DataFrame) -> None:
        w[key] = out / name
        write_bytes(w[key], csv_bytes(frame))

    put("scores", "scores.csv", result.scores)
    put("prior_scores", "prior_scores.csv", result.prior_scores)
    put("crps", "crps.csv", result.crps())
    put("attainment", "attainment.csv", result.attainment)
    put("parameters", "parameters.csv", result.parameters)
    put("posterior_draws", "posterior_draws.csv", post.draws)
    put("prior_draws", "prior_draws.csv", prior.draws)
    put("ess", "ess.csv", post.ess)
    put("events", "events.csv", post.events)
    counties = _county_probabilities(result)
    put("county_probabilities", "county_probabilities.csv", counties)
    if outlook_table is not None:
        put("outlook", "outlook.csv", outlook_table)
    briefing = [*result.briefing(), "", SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH]
    w["briefing"] = out / "briefing.txt"
    write_bytes(w["briefing"], ("\n".join(briefing) + "\n").encode("utf-8"))
    manifest = build_manifest(prior)
    manifest["nowcast"] = {
        "observed_file": str(result.observed.path),
        "through": result.through,
        "obs_rel_sd": result.obs_rel_sd,
        "events": result.events_mode,
        "liu_west_discount": LIU_WEST_DISCOUNT,
        "static_parameters": sorted(STATIC_PARAMETERS),
        "filter_seconds": post.seconds,
        "prior_seconds": prior.seconds,
    }
    w["manifest"] = out / "manifest.json"
    write_bytes(
        w["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    summary = {
        "scenario": sc.metadata.name,
        "scenario_hash": prior.loaded.hash,
        "observed_file": str(result.observed.path),
        "through": result.through,
        "runs": prior.n_runs,
        "root_seed": prior.root_seed,
        "ess": post.ess.to_dict("records"),
        "crps": result.crps().to_dict("records"),
        "attainment": result.attainment.to_dict("records"),
        "briefing": result.briefing(),
        "seconds": {"prior": prior.seconds, "filter": post.seconds},
    }
    w["summary"] = out / "nowcast_summary.json"
    write_bytes(
        w["summary"],
        json.dumps(json_safe(summary), indent=1, ensure_ascii=False).encode("utf-8"),
    )
    figures: list[tuple[str, Path]] = []
    w["plot_parameters"] = save_figure(
        posterior_figure(result), out / "figures" / "nowcast_parameters.png"
    )
    figures.append(("Uncertain parameters: prior and posterior", w["plot_parameters"]))
    obs = result.observed.series
    for indicator in dict.fromkeys(obs["indicator"]):
        name = str(indicator)
        rows = obs[obs["indicator"] == name][["year", "value"]]
        fig = hindcast_plot(quantile_frame(post.metrics, name), rows, name)
        fig.axes[0].axvline(result.through + 0.5, color="#aa3333", lw=0.8, ls="--")
        fig.axes[0].set_title(f"Nowcast through {result.through}: {name}")
        path = save_figure(fig, out / "figures" / f"nowcast_{name}.png")
        w[f"plot_{name}"] = path
        figures.append(
            (f"{name}: conditioned through {result.through} (dashed line), then projected", path)
        )
    if outlook_table is not None and not outlook_table.empty:
        w["plot_outlook"] = save_figure(
            outlook_figure(outlook_table), out / "figures" / "nowcast_outlook.png"
        )
        figures.append(("Outlook by year of information", w["plot_outlook"]))
    w["report"] = render_report(
        out / "report.html",
        title=f"policysim nowcast: {sc.metadata.name} through {result.through}",
        summary={
            "scenario": sc.metadata.name,
            "observed file": str(result.observed.path),
            "statistics through": str(result.through),
            "runs": f"{prior.n_runs}, root seed {prior.root_seed}",
            "smallest effective sample size": (
                f"{post.ess['ess'].min():.1f}" if len(post.ess) else "no conditioning"
            ),
            "run time": f"prior {prior.seconds:.1f} s, filter {post.seconds:.1f} s",
        },
        tables=[
            ("Target attainment before and after conditioning", result.attainment),
            ("Effective sample size per year of information", post.ess),
            ("Events", post.events),
            ("Out of sample (after the last year of information)", result.scores),
            ("Mean CRPS out of sample", result.crps()),
            ("Uncertain parameters", result.parameters),
        ],
        figures=figures,
        manifest=manifest,
        notes=[*result.briefing(), SYNTHETIC_CAVEAT_EN],
    )
    logger.info("wrote %d nowcast files to %s", len(w), out)
    return w


def _county_probabilities(result: NowcastResult) -> pd.DataFrame:
    """Per county: prior and posterior probability of being a provincial (pilot or designated)
    and a national innovative county in the end year, with the synthetic-data caveat."""
    end = result.prior.loaded.scenario.horizon.end_year

    def probs(metrics: pd.DataFrame, metric: str) -> pd.Series:
        rows = metrics[
            (metrics["level"] == "county")
            & (metrics["metric"] == metric)
            & (metrics["year"] == end)
        ]
        return rows.groupby(["code", "name"], observed=True)["value"].mean()

    frames = {
        "prior_provincial": probs(result.prior.metrics, "designated"),
        "posterior_provincial": probs(result.posterior.metrics, "designated"),
        "prior_national": probs(result.prior.metrics, "national"),
        "posterior_national": probs(result.posterior.metrics, "national"),
    }
    table = pd.DataFrame(frames).reset_index()
    table.insert(2, "year", end)
    table["caveat"] = SYNTHETIC_CAVEAT_EN
    return table
