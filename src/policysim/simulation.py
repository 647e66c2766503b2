"""One simulation run: scenario + seed (+ parameter draw) → yearly metrics in long format.

>>> import policysim
>>> scenario = policysim.load_scenario("scenarios/jiangxi_baseline.yaml")
>>> result = policysim.simulate(scenario, seed=1)
>>> result.metrics.query("level == 'province' and metric == 'hnte_count'")
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from policysim import metrics as metric_registry
from policysim.data import Baseline, load_baseline
from policysim.data.parks import PARK_KINDS
from policysim.model import Allocator, PolicyModel, YearRecord
from policysim.scenario.loader import LoadedScenario
from policysim.scenario.schema import Scenario

PROVINCE_CODE = "province"
METRIC_COLUMNS = ("year", "level", "code", "name", "metric", "value")

#: County-level metrics (per county and year), from the metric registry.
COUNTY_METRICS = metric_registry.by_level("county")
#: Township-level metrics (per township and year; innovative: 1 if designated).
TOWNSHIP_METRICS = metric_registry.by_level("township")


@dataclass(frozen=True)
class SimulationResult:
    """The outcome of one run.

    Attributes
    ----------
    metrics : pandas.DataFrame
        Long format: ``year, level, code, name, metric, value``; levels ``province``, ``county``,
        ``township``; the base year included.
    columns : MetricColumns
        The same rows as integer codes and values (what an ensemble worker stores).
    enterprises : pandas.DataFrame or None
        One row per firm and year (``year, firm_id, township_code, county_code, sector,
        sales_cny, rd_reported_cny, rd_real_cny, hnte``) when asked for.
    params : dict
        The behaviour parameter values of the run.
    solves : list of dict
        Allocation solves made during the run (strategy, status, objective, gap, seconds...).
    """

    columns: MetricColumns
    params: dict[str, float]
    enterprises: pd.DataFrame | None = None
    solves: list[dict[str, Any]] = field(default_factory=list)
    allocations: pd.DataFrame | None = None

    @functools.cached_property
    def metrics(self) -> pd.DataFrame:
        """The long-format metrics (built from :attr:`columns` on first use)."""
        return self.columns.frame()

    def province(self) -> pd.DataFrame:
        """Province metrics as a wide table: one row per year, one column per metric."""
        p = self.metrics[self.metrics["level"] == "province"]
        return p.pivot(index="year", columns="metric", values="value")


def as_scenario(scenario: Scenario | LoadedScenario) -> Scenario:
    return scenario.scenario if isinstance(scenario, LoadedScenario) else scenario


def baseline_for(scenario: Scenario, synthesis_seed: int | None = None) -> Baseline:
    """The scenario's baseline (cached), synthesised with ``synthesis_seed`` (default: the
    scenario's ``baseline.synthesis_seed``)."""
    spec = scenario.baseline
    return load_baseline(
        spec.source,
        synthesis_seed=spec.synthesis_seed if synthesis_seed is None else synthesis_seed,
        include_subdistricts=spec.include_subdistricts,
        enterprise_scale=spec.enterprise_scale,
    )


def simulate(
    scenario: Scenario | LoadedScenario,
    seed: int | np.random.SeedSequence = 0,
    *,
    params: Mapping[str, float] | None = None,
    enterprises: bool = False,
    allocator: Allocator | None = None,
    township_metrics: Collection[str] | None = None,
    synthesis_seed: int | None = None,
    extra_cny: np.ndarray[Any, np.dtype[np.float64]] | None = None,
) -> SimulationResult:
    """Run the model once from the base year to the end year.

    Parameters
    ----------
    scenario : Scenario or LoadedScenario
    seed : int or SeedSequence
        The run's seed; the same seed gives the same numbers.
    params : mapping, optional
        Behaviour parameter values overriding the scenario's (an ensemble's draw).
    enterprises : bool
        Also return firm-level rows for every year.
    allocator : callable, optional
        Yearly allocation plan; default: the scenario's strategy (:mod:`policysim.coupling`).
    township_metrics : collection of str, optional
        Township metrics to build (default all of :data:`TOWNSHIP_METRICS`); an ensemble that
        keeps only some saves the work of the others.
    synthesis_seed : int, optional
        Seed of the synthetic county economy (default: the scenario's
        ``baseline.synthesis_seed``); an ensemble passes each run's draw from
        ``baseline.synthesis_seeds``.
    extra_cny : (n_counties, n_instruments) float array, optional
        A fixed plan (CNY per year) added to every year's allocation, outside the budget (the
        perturbation of a marginal-value study).
    """
    from policysim.coupling import make_allocator

    sc = as_scenario(scenario)
    _township_selection(township_metrics)  # fail before the run, not after
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    model_ss, alloc_ss = ss.spawn(2)
    values = sc.parameters()
    if params:
        unknown = set(params) - set(values)
        if unknown:
            raise KeyError(f"unknown behaviour parameters: {sorted(unknown)}")
        values.update({k: float(v) for k, v in params.items()})
    baseline = baseline_for(sc, synthesis_seed)
    alloc = allocator if allocator is not None else make_allocator(sc, baseline, values, alloc_ss)
    if extra_cny is not None:
        alloc = PerturbedAllocator(alloc, extra_cny)
    model = PolicyModel(
        sc, baseline, values, np.random.default_rng(model_ss), alloc, keep_enterprises=enterprises
    )
    for _ in sc.horizon.years:
        model.step()
    model.release_buffers()
    columns = metric_columns(model.records, model, township_metrics)
    firms = _firm_frame(model) if enterprises else None
    solves = list(getattr(alloc, "solves", []))
    plans = getattr(alloc, "plans", None)
    allocations = _allocation_frame(plans, model) if plans else None
    return SimulationResult(
        columns=columns, params=values, enterprises=firms, solves=solves, allocations=allocations
    )


def _township_selection(township_metrics: Collection[str] | None) -> tuple[str, ...]:
    if township_metrics is None:
        return TOWNSHIP_METRICS
    unknown = sorted(set(township_metrics) - set(TOWNSHIP_METRICS))
    if unknown:
        raise ValueError(
            f"township_metrics: unknown {unknown}: expected some of {', '.join(TOWNSHIP_METRICS)}"
        )
    return tuple(township_metrics)


def build_metrics(
    records: Sequence[YearRecord],
    model: PolicyModel,
    township_metrics: Collection[str] | None = None,
) -> pd.DataFrame:
    """Long-format metrics from the yearly records (vectorised; no loop over units).

    ``township_metrics`` selects the township metrics built (default: all)."""
    return metric_columns(records, model, township_metrics).frame()


def metric_columns(
    records: Sequence[YearRecord],
    model: PolicyModel,
    township_metrics: Collection[str] | None = None,
) -> MetricColumns:
    """The columns of :func:`build_metrics` as integer codes and values (no DataFrame)."""
    wanted = _township_selection(township_metrics)
    fields = _RecordFields(records)
    blocks = (
        _province_block(fields, model),
        _county_block(fields, model),
        _township_block(fields, wanted),
    )
    years = np.array([r.year for r in records], dtype=np.int64)
    return _long_columns(years, blocks, model)


_Block = dict[str, NDArray[np.float64]]


class _RecordFields:
    """A field of the yearly records as a (years, units) float array, stacked on first use."""

    def __init__(self, records: Sequence[YearRecord]) -> None:
        self._records = records
        self._stacked: _Block = {}

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        if name not in self._stacked:
            self._stacked[name] = np.vstack(
                [np.asarray(getattr(r, name), dtype=np.float64) for r in self._records]
            )
        return self._stacked[name]


def _province_block(f: _RecordFields, model: PolicyModel) -> _Block:
    """Province metrics: one value per year (sums over the units, in the registry's units)."""
    rd, gdp = f["rd_reported"], f["gdp"]
    host = model.t_host.astype(np.float64)
    n_xz = max(float(host.sum()), 1.0)
    innov_xz = f["innovative"] @ host
    county_mask = model.is_county.astype(np.float64)
    return {
        "rd_expenditure_100m_cny": rd.sum(1) / 1e8,
        "rd_real_100m_cny": f["rd_real"].sum(1) / 1e8,
        "enterprise_rd_100m_cny": f["rd_enterprise"].sum(1) / 1e8,
        "rd_intensity_pct": 100.0 * rd.sum(1) / gdp.sum(1),
        "gdp_100m_cny": gdp.sum(1) / 1e8,
        "hnte_count": f["hnte"].sum(1),
        "tech_sme_count": f["tech_sme"].sum(1),
        "enterprises": f["firms"].sum(1),
        "patents": f["patents"].sum(1),
        "platforms": f["platforms"].sum(1),
        "commissioners": f["commissioners"].sum(1),
        "funds_100m_cny": f["funds"].sum(1) / 1e8,
        "provincial_innovative_counties": (
            f["provincial"] if model.scenario.designation.county.count_pilots else f["designated"]
        ).sum(1),
        "provincial_designated_counties": f["designated"].sum(1),
        # both definitions of the target side by side, whatever count_pilots says
        "provincial_pilot_or_designated_counties": f["provincial"].sum(1),
        "pilot_support_100m_cny": f["pilot_support"].sum(1) / 1e8,
        "national_innovative_counties": f["national"].sum(1),
        "innovative_townships": innov_xz,
        "innovative_township_share_pct": 100.0 * innov_xz / n_xz,
        "county_rd_100m_cny": rd @ county_mask / 1e8,
        "mean_county_index": f["index"].mean(1),
        **_park_block(f, model),
    }


def _park_block(f: _RecordFields, model: PolicyModel) -> _Block:
    """Science parks located in the model and the 科技扶贫 counts in the poverty counties."""
    parks = model.parks
    years = f["year"][:, 0]
    active = (parks.active_from[None, :] <= years[:, None]).astype(np.float64)
    htz = (parks.kind == PARK_KINDS.index("national_high_tech_zone")).astype(np.float64)
    poor_park = model.poverty[parks.county].astype(np.float64)
    poor_t = model.poverty[model.t_county].astype(np.float64)
    return {
        "national_high_tech_zones": active @ htz,
        "national_agri_science_parks": active @ (1.0 - htz),
        "poverty_county_parks": active @ poor_park,
        "poverty_county_platforms": f["platforms"] @ poor_t,
        "poverty_county_commissioners": f["commissioners"] @ poor_t,
    }


def _county_block(f: _RecordFields, model: PolicyModel) -> _Block:
    """County metrics: one value per county and year."""
    rd, gdp = f["rd_reported"], f["gdp"]
    host = model.t_host.astype(np.float64)
    innov_c = np.vstack(
        [
            np.bincount(model.t_county, weights=row * host, minlength=model.n_counties)
            for row in f["innovative"]
        ]
    )
    return {
        "index": f["index"],
        "designated": f["provincial"],
        "provincial_designated": f["designated"],
        "national": f["national"],
        "rd_100m_cny": rd / 1e8,
        "rd_intensity_pct": 100.0 * rd / gdp,
        "gdp_100m_cny": gdp / 1e8,
        "hnte_count": f["hnte"],
        "tech_sme_count": f["tech_sme"],
        "funds_cny": f["funds"],
        "own_st_spending_cny": f["st_spending"],
        "management_capacity": f["management"],
        "innovative_townships": innov_c.astype(np.float64),
    }


#: The record field of each township metric.
_TOWNSHIP_FIELDS = {"innovative": "innovative", "platforms": "platforms", "hnte_count": "hnte_t"}


def _township_block(f: _RecordFields, wanted: Collection[str]) -> _Block:
    """The wanted township metrics: one value per township and year (stacked only if wanted)."""
    return {name: f[_TOWNSHIP_FIELDS[name]] for name in TOWNSHIP_METRICS if name in wanted}


def _long_columns(
    years: NDArray[np.int64], blocks: tuple[_Block, _Block, _Block], model: PolicyModel
) -> MetricColumns:
    """The province, county and township blocks as long columns: one row per unit, metric and
    year, level by level, metric by metric, year by year."""
    ny = len(years)
    codes = (PROVINCE_CODE, *model.county_codes, *model.township_codes)
    names = (
        "江西省" if model.baseline.name.startswith("jiangxi") else "province",
        *model.county_names,
        *model.township_names,
    )
    metric_names = tuple(dict.fromkeys(name for block in blocks for name in block))
    metric_pos = {m: i for i, m in enumerate(metric_names)}
    parts_year, parts_level, parts_unit, parts_metric, parts_value = [], [], [], [], []
    sizes = (1, model.n_counties, model.n_townships)
    offsets = (0, 1, 1 + model.n_counties)
    for level, (block, offset, n) in enumerate(zip(blocks, offsets, sizes, strict=True)):
        for name, arr in block.items():
            a = np.asarray(arr, dtype=np.float64).reshape(ny, n)
            parts_year.append(np.repeat(years, n))
            parts_level.append(np.full(ny * n, level, np.int8))
            parts_unit.append(np.tile(np.arange(offset, offset + n), ny))
            parts_metric.append(np.full(ny * n, metric_pos[name], np.int16))
            parts_value.append(a.ravel())
    code_index, name_codes, name_index = _unit_categories(codes, names)
    return MetricColumns(
        year=np.concatenate(parts_year),
        level=np.concatenate(parts_level),
        unit=np.concatenate(parts_unit),
        metric=np.concatenate(parts_metric),
        value=np.concatenate(parts_value),
        codes=code_index,
        name_of_unit=name_codes,
        names=name_index,
        metrics=pd.Index(metric_names),
    )


LEVELS = ("province", "county", "township")
_LEVELS = pd.Index(LEVELS)


@dataclass(frozen=True)
class MetricColumns:
    """Long-format metrics as arrays of codes: row ``i`` is unit ``codes[unit[i]]`` (named
    ``names[name_of_unit[unit[i]]]``) of level ``LEVELS[level[i]]``, metric
    ``metrics[metric[i]]`` in ``year[i]``, with ``value[i]``."""

    year: NDArray[np.int64]
    level: NDArray[np.int8]
    unit: NDArray[np.int64]
    metric: NDArray[np.int16]
    value: NDArray[np.float64]
    codes: pd.Index
    name_of_unit: NDArray[np.intp]
    names: pd.Index
    metrics: pd.Index

    def take(self, rows: NDArray[np.intp]) -> MetricColumns:
        """The given rows (same categories)."""
        return dataclasses.replace(
            self,
            year=self.year[rows],
            level=self.level[rows],
            unit=self.unit[rows],
            metric=self.metric[rows],
            value=self.value[rows],
        )

    def frame(self) -> pd.DataFrame:
        """``year, level, code, name, metric, value`` with categorical text columns."""
        return pd.DataFrame(
            {
                "year": self.year,
                "level": _categorical(self.level, _LEVELS),
                "code": _categorical(self.unit, self.codes),
                "name": _categorical(self.name_of_unit[self.unit], self.names),
                "metric": _categorical(self.metric, self.metrics),
                "value": self.value,
            }
        )

    def metric_code(self, name: str) -> int:
        """Code of a metric name (-1 if absent)."""
        where = np.flatnonzero(self.metrics == name)
        return int(where[0]) if where.size else -1


@functools.lru_cache(maxsize=8)
def _unit_categories(
    codes: tuple[str, ...], names: tuple[str, ...]
) -> tuple[pd.Index, NDArray[np.intp], pd.Index]:
    """Categories of unit codes and names (names may repeat), computed once per baseline."""
    name_codes, name_index = pd.factorize(pd.Index(names))
    return pd.Index(codes), name_codes, name_index


def _categorical(codes: NDArray[np.integer[Any]], categories: pd.Index) -> Any:
    """A pandas Categorical from integer codes (no copy of strings per row; the codes are built
    in range, so pandas need not check them)."""
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)  # type: ignore[call-arg,arg-type]


def _firm_frame(model: PolicyModel) -> pd.DataFrame:
    rows = model.firm_rows
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame({k: np.concatenate([r[k] for r in rows]) for k in rows[0]})
    t_codes = np.asarray(model.township_codes)
    c_codes = np.asarray(model.county_codes)
    frame.insert(2, "township_code", t_codes[frame.pop("township_idx").to_numpy()])
    frame.insert(3, "county_code", c_codes[frame.pop("county_idx").to_numpy()])
    from policysim.data import SECTORS

    frame["sector"] = _categorical(frame["sector"].to_numpy(), pd.Index(SECTORS))
    return frame


def _allocation_frame(plans: Mapping[int, Any], model: PolicyModel) -> pd.DataFrame:
    """Long table of the yearly plans: year, county_code, county_name, instrument, cny."""
    from policysim.scenario.schema import INSTRUMENT_NAMES

    years = sorted(plans)
    stack = np.stack([np.asarray(plans[y], dtype=np.float64) for y in years])
    n_y, n_c, n_k = stack.shape
    county = np.tile(np.repeat(np.arange(n_c), n_k), n_y)
    code_index, name_codes, name_index = _unit_categories(model.county_codes, model.county_names)
    return pd.DataFrame(
        {
            "year": np.repeat(np.asarray(years, dtype=np.int64), n_c * n_k),
            "county_code": _categorical(county, code_index),
            "county_name": _categorical(name_codes[county], name_index),
            "instrument": _categorical(
                np.tile(np.arange(n_k), n_y * n_c), pd.Index(INSTRUMENT_NAMES)
            ),
            "cny": stack.ravel(),
        }
    )


class PerturbedAllocator:
    """An allocator plus a fixed extra plan every year (outside the budget).

    Parameters
    ----------
    inner : callable
        The strategy's allocator ``(year, summary) -> (n_counties, n_instruments) CNY``.
    extra_cny : (n_counties, n_instruments) float array, CNY per year
        Added to every year's plan.
    """

    def __init__(self, inner: Allocator, extra_cny: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        self.inner = inner
        self.extra_cny = np.asarray(extra_cny, dtype=np.float64)

    @property
    def solves(self) -> list[dict[str, Any]]:
        """The inner allocator's solves."""
        return list(getattr(self.inner, "solves", []))

    def __call__(self, year: int, summary: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
        plan = np.asarray(self.inner(year, summary), dtype=np.float64)
        out: np.ndarray[Any, np.dtype[np.float64]] = plan + self.extra_cny
        return out
