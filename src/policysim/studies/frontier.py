"""The budget frontier: probability of each target against the provincial budget.

A budget *level* is the provincial budget of the first planning year (亿元). The scenario's whole
budget series (every year given in ``budget.values``; the growth rate after the last given year
is kept) is scaled by the factor ``level / budget(first planning year)``, so the shape of the
series over years stays that of the scenario. Every level runs with the same root seed and run
ids (common random numbers), so the curve's steps are paired differences, not noise between
independent samples.

>>> from policysim.studies.frontier import budget_frontier
>>> fr = budget_frontier("scenarios/jiangxi_baseline.yaml", [2, 4, 6, 8], replications=50)
>>> fr.smallest["counties_2030"]
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from policysim.errors import ScenarioError
from policysim.experiments import Engine, EnsembleResult
from policysim.experiments.store import sub_store
from policysim.report.tables import csv_bytes
from policysim.scenario import LoadedScenario
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble

__all__ = [
    "FRONTIER_COLUMNS",
    "FrontierResult",
    "budget_frontier",
    "budget_override",
    "first_year_budget",
    "frontier_violations",
    "parse_budgets",
    "write_frontier",
]

logger = logging.getLogger(__name__)

FRONTIER_COLUMNS: Final = (
    "budget_100m_cny",
    "scale",
    "target",
    "year",
    "probability",
    "ci_low",
    "ci_high",
    "expected_value",
)


@dataclass(frozen=True)
class FrontierResult:
    """Outcome of :func:`budget_frontier`.

    Attributes
    ----------
    table : DataFrame
        One row per budget level and target: ``budget_100m_cny`` (first planning year, 亿元),
        ``scale`` (factor applied to the scenario's budget series), ``target, year,
        probability, ci_low, ci_high`` (Wilson 95%, fractions) and ``expected_value`` (mean of
        the target's metric at its deadline, in the metric's unit).
    smallest : dict of str to float or None
        Per target, the smallest budget level of the grid whose probability reaches ``level``
        (None if none does).
    level : float
        Required probability.
    results : dict of float to EnsembleResult
        The ensembles by budget level.
    scenario : str
        Scenario name.
    """

    table: pd.DataFrame
    smallest: dict[str, float | None]
    level: float
    results: dict[float, EnsembleResult] = field(default_factory=dict)
    scenario: str = ""


def first_year_budget(loaded: LoadedScenario) -> float:
    """Budget of the first planning year (base year + 1), 亿元."""
    sc = loaded.scenario
    return float(sc.budget.at(sc.horizon.base_year + 1))


def budget_override(loaded: LoadedScenario, level_100m_cny: float) -> tuple[str, float]:
    """The ``--set`` override that scales the budget series to a first-year level.

    Parameters
    ----------
    loaded : LoadedScenario
    level_100m_cny : float
        Budget of the first planning year, 亿元 (>= 0).

    Returns
    -------
    override : str
        ``budget.values={year: value, ...}`` with every given year scaled.
    scale : float
        The factor applied.

    Raises
    ------
    ScenarioError
        If the level is negative or not finite, or the scenario's first-year budget is 0.
    """
    if not (math.isfinite(level_100m_cny) and level_100m_cny >= 0):
        raise ScenarioError(
            loaded.path,
            "bad budget level",
            key_path="--budgets",
            value=level_100m_cny,
            expected="a finite budget in 亿元 >= 0",
        )
    base = first_year_budget(loaded)
    if base <= 0:
        raise ScenarioError(
            loaded.path,
            "the first planning year's budget is 0, so it cannot be scaled to a level",
            key_path="budget.values",
            value=base,
            expected="a positive budget in the first planning year",
        )
    scale = level_100m_cny / base
    values = loaded.scenario.budget.values
    body = ", ".join(f"{y}: {values[y] * scale!r}" for y in sorted(values))
    return f"budget.values={{{body}}}", scale


def parse_budgets(text: str) -> list[float]:
    """Parse ``--budgets``: a comma list ``2,4,6.5`` or a range ``START:STOP:COUNT`` (inclusive,
    evenly spaced, e.g. ``2:10:9`` = 2, 3, ..., 10).

    Raises
    ------
    ScenarioError
        If the text is neither form, a number is bad, or COUNT < 2.
    """
    raw = text.strip()

    def bad(expected: str) -> ScenarioError:
        return ScenarioError(None, "cannot read the budget levels", key_path="--budgets",
                             value=text, expected=expected)  # fmt: skip

    if ":" in raw:
        parts = raw.split(":")
        if len(parts) != 3:
            raise bad("START:STOP:COUNT, e.g. 2:10:9")
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise bad("START:STOP:COUNT with numbers and an integer count") from None
        if count < 2 or not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
            raise bad("START < STOP and COUNT >= 2")
        return [float(v) for v in np.linspace(start, stop, count)]
    try:
        levels = [float(p) for p in raw.split(",") if p.strip()]
    except ValueError:
        raise bad("comma-separated numbers, e.g. 2,4,6") from None
    if not levels:
        raise bad("at least one budget level")
    return levels


def budget_frontier(
    scenario: str | Path | LoadedScenario,
    budgets_100m_cny: Sequence[float],
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    level: float = 0.8,
    overrides: Sequence[str] = (),
    progress: bool = False,
    store: Path | None = None,
    resume: bool = False,
    engine: Engine | None = None,
) -> FrontierResult:
    """Attainment of each target at each budget level, on common random numbers.

    Parameters
    ----------
    scenario : str, Path or LoadedScenario
        The strategy's scenario.
    budgets_100m_cny : sequence of float
        Budget *levels* of the first planning year, 亿元 (not factors): the whole series is
        scaled by ``level / first-year budget``. Duplicates are dropped; sorted ascending.
    replications : int, optional
        Runs per level (default ``ensemble.replications``).
    seed : int, optional
        Root seed shared by all levels (default ``ensemble.root_seed``).
    workers : int
        Local worker processes, shared by every level.
    scheduler : str, optional
        Dask scheduler address (overrides ``workers``).
    level : float
        Required probability for :attr:`FrontierResult.smallest`, in (0, 1).
    overrides : sequence of str
        Extra ``key.path=value`` overrides (applied before the budget's).
    progress : bool
        Progress bars on stderr.
    store : Path, optional
        Run directory: each level's ensemble streams to its own store under ``store/runs/``.
    resume : bool
        Continue the frontier interrupted in ``store`` (finished runs are not run again).
    engine : Engine, optional
        A running engine to submit the runs to (default: one of ``workers`` / ``scheduler``).

    Returns
    -------
    FrontierResult

    Raises
    ------
    ScenarioError
        A bad scenario, level, budget or count.
    """
    if not 0.0 < level < 1.0:
        raise ScenarioError(
            None, "bad probability level", key_path="--level", value=level, expected="in (0, 1)"
        )
    base = load_with_overrides(scenario, overrides)
    variants = _variants(base, budgets_100m_cny)
    root_seed = base.scenario.ensemble.root_seed if seed is None else int(seed)
    with study_engine(workers, scheduler, engine) as backend:
        results, rows = _level_ensembles(
            base,
            variants,
            backend,
            store=store,
            resume=resume,
            replications=replications,
            seed=root_seed,
            progress=progress,
        )
    table = pd.DataFrame(rows, columns=list(FRONTIER_COLUMNS))
    return FrontierResult(
        table=table,
        smallest=_smallest(table, level),
        level=level,
        results=results,
        scenario=base.name,
    )


def _variants(
    base: LoadedScenario, budgets_100m_cny: Sequence[float]
) -> list[tuple[float, str, float]]:
    """Each budget level (sorted, without duplicates) with its override and scale, every level
    checked before any run."""
    levels = sorted({float(b) for b in budgets_100m_cny})
    if not levels:
        raise ScenarioError(
            base.path, "no budget level", key_path="--budgets", expected="one or more levels"
        )
    return [(b, *budget_override(base, b)) for b in levels]


def _level_ensembles(
    base: LoadedScenario,
    variants: Sequence[tuple[float, str, float]],
    backend: Engine,
    *,
    store: Path | None,
    resume: bool,
    replications: int | None,
    seed: int,
    progress: bool,
) -> tuple[dict[float, EnsembleResult], list[dict[str, Any]]]:
    """The ensemble of each budget level on ``backend`` (level ``i`` streaming to its own store
    under ``store``), and the frontier's rows of them all."""
    results: dict[float, EnsembleResult] = {}
    rows: list[dict[str, Any]] = []
    for i, (b, override, scale) in enumerate(variants):
        loaded = load_with_overrides(base, (override,))
        logger.info("frontier: %s at %.4g 亿元 (x%.4g)", base.name, b, scale)
        backend.warm(loaded.scenario)
        result = study_ensemble(
            loaded,
            engine=backend,
            store=sub_store(store, i, f"budget-{b:g}"),
            resume=resume,
            replications=replications,
            seed=seed,
            progress=f"frontier: budget {b:g} 亿元" if progress else False,
        )
        results[b] = result
        rows += _level_rows(result, b, scale)
    return results, rows


def _smallest(table: pd.DataFrame, level: float) -> dict[str, float | None]:
    """Per target (in the table's order), the smallest budget whose probability reaches
    ``level``, or None."""
    smallest: dict[str, float | None] = {}
    for target in dict.fromkeys(table["target"]):
        t = table[table["target"] == target].sort_values("budget_100m_cny")
        reached = t[t["probability"] >= level]
        smallest[str(target)] = float(reached["budget_100m_cny"].iloc[0]) if len(reached) else None
    return smallest


def _level_rows(result: EnsembleResult, budget: float, scale: float) -> list[dict[str, Any]]:
    """The frontier's rows of one budget level (:data:`FRONTIER_COLUMNS`)."""
    return [
        {
            "budget_100m_cny": budget,
            "scale": scale,
            "target": rec["target"],
            "year": int(rec["year"]),
            "probability": float(rec["probability"]),
            "ci_low": float(rec["ci_low"]),
            "ci_high": float(rec["ci_high"]),
            "expected_value": _expected_value(result, str(rec["target"])),
        }
        for rec in result.attainment().to_dict("records")
    ]


def _expected_value(result: EnsembleResult, target_name: str) -> float:
    target = next(t for t in result.loaded.scenario.targets if t.name == target_name)
    m = result.metrics
    rows = m[
        (m["level"] == "province") & (m["metric"] == target.metric) & (m["year"] == target.year)
    ]
    return float(rows["value"].mean()) if len(rows) else float("nan")


def frontier_violations(table: pd.DataFrame) -> pd.DataFrame:
    """Steps where the frontier falls by more than its intervals allow.

    A step from budget ``b`` to the next larger level ``b'`` violates monotonicity when the
    probability at ``b'`` lies below the interval at ``b`` *and* the probability at ``b`` lies
    above the interval at ``b'`` (the two estimates exclude each other).

    Parameters
    ----------
    table : DataFrame
        :attr:`FrontierResult.table`.

    Returns
    -------
    DataFrame
        ``target, budget_low, budget_high, p_low, p_high`` of each violation (empty when the
        frontier is monotone within its intervals).
    """
    out: list[dict[str, Any]] = []
    for target in dict.fromkeys(table["target"]):
        t = table[table["target"] == target].sort_values("budget_100m_cny")
        rows = t.to_dict("records")
        for a, b in itertools.pairwise(rows):
            if b["probability"] < a["ci_low"] and a["probability"] > b["ci_high"]:
                out.append(
                    {
                        "target": target,
                        "budget_low": a["budget_100m_cny"],
                        "budget_high": b["budget_100m_cny"],
                        "p_low": a["probability"],
                        "p_high": b["probability"],
                    }
                )
    return pd.DataFrame(out, columns=["target", "budget_low", "budget_high", "p_low", "p_high"])


def write_frontier(result: FrontierResult, out_dir: Path) -> dict[str, Path]:
    """Write ``frontier.csv``, ``smallest_budget.csv``, ``figures/frontier.png`` and a report.

    Returns
    -------
    dict of str to Path
        ``frontier``, ``smallest``, ``figure``, ``report``; written atomically.
    """
    import json

    from policysim.experiments import build_manifest
    from policysim.experiments.store import write_bytes
    from policysim.plotting import frontier_plot, save_figure
    from policysim.report import render_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    written["frontier"] = out / "frontier.csv"
    write_bytes(written["frontier"], csv_bytes(result.table))
    smallest = pd.DataFrame(
        {
            "target": list(result.smallest),
            "level": result.level,
            "smallest_budget_100m_cny": [
                np.nan if v is None else v for v in result.smallest.values()
            ],
        }
    )
    written["smallest"] = out / "smallest_budget.csv"
    write_bytes(written["smallest"], csv_bytes(smallest))
    fig = frontier_plot(result.table, level=result.level)
    written["figure"] = save_figure(fig, out / "figures" / "frontier.png")
    first = next(iter(result.results.values()), None)
    manifest: dict[str, Any] = {"levels_100m_cny": list(result.results)}
    if first is not None:
        manifest["first_level"] = build_manifest(first)
    written["manifest"] = out / "manifest.json"
    write_bytes(
        written["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    violations = frontier_violations(result.table)
    tables = [
        (f"Smallest budget reaching P >= {result.level:.0%}", smallest),
        ("Attainment by budget level (Wilson 95% intervals)", result.table),
    ]
    if len(violations):
        tables.append(("Steps where the frontier falls beyond its intervals", violations))
    written["report"] = render_report(
        out / "report.html",
        title=f"policysim: budget frontier of {result.scenario}",
        summary={
            "scenario": result.scenario,
            "levels": ", ".join(f"{b:g}" for b in result.results),
            "required probability": f"{result.level:.0%}",
        },
        tables=tables,
        figures=[("Probability of each target against the first-year budget", written["figure"])],
        manifest=manifest,
        notes=[
            "A level is the budget of the first planning year (亿元); the scenario's whole "
            "series is scaled by the same factor.",
            "All levels share the root seed and run ids (common random numbers).",
            "The smallest budget is the first grid level whose estimate reaches the required "
            "probability; its precision is that of the grid and the intervals.",
        ],
    )
    return written
