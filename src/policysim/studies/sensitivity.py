"""Global sensitivity analysis of a scenario's targets (Sobol' indices or Morris screening).

The design is drawn by SALib over the scenario's uncertainties (and, optionally, two policy
levers), every design row is one run of the model, and for each target two outputs are analysed:
its attainment in the run (1 met, 0 missed) and the target metric's value in the target year.

>>> from policysim.studies.sensitivity import scenario_sensitivity, write_sensitivity
>>> result = scenario_sensitivity("scenarios/jiangxi_baseline.yaml", method="morris",
...                               samples=10, workers=2)
>>> result.indices.query("quantity == 'attainment'")
>>> write_sensitivity(result, Path("results/sensitivity"))

Runs are seeded as in any ensemble (run ``i`` uses ``SeedSequence(root_seed, spawn_key=(i,))``),
so every design row also has its own model randomness. That randomness is not a factor of the
design: it adds to the variance no factor explains (``1 - sum(S1)``) and raises every total
index ``ST`` by about the noise share of the variance; first-order indices stay unbiased but
noisier. The report states this.

The generic driver :func:`run_sensitivity` takes any model function, so the machinery can be
checked against functions with known indices (Ishigami).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from policysim.analysis import (
    DistributionLike,
    DistributionSpec,
    PrimResult,
    TargetLike,
    analyse,
    sample,
    sensitivity_problem,
    target_outcomes,
)
from policysim.errors import ScenarioError
from policysim.experiments import run_ensemble
from policysim.experiments.runner import load_with_overrides
from policysim.scenario import LoadedScenario
from policysim.scenario.levers import LEVER_BUDGET, LEVER_WEIGHTS, apply_levers, is_lever
from policysim.scenario.schema import Scenario
from policysim.studies.discovery import discover_runs
from policysim.studies.sensitivity_output import plain_summary, write_sensitivity
from policysim.vocabulary import strategy

__all__ = [
    "BUDGET_SCALE",
    "DEFAULT_SAMPLES",
    "LEVER_WEIGHT",
    "Method",
    "ModelFunction",
    "SensitivityResult",
    "compute_indices",
    "lever_factors",
    "plain_summary",
    "run_sensitivity",
    "scenario_problem",
    "scenario_sensitivity",
    "target_output_table",
    "write_sensitivity",
]

logger = logging.getLogger(__name__)

Method = Literal["sobol", "morris"]
ModelFunction = Callable[[pd.DataFrame], pd.DataFrame]
"""``model(design) -> outputs``: one row of outputs per design row, in the same order; columns
are output names, values float."""

#: Default base sample size (Sobol': runs = N x (k + 2)) or trajectories (Morris: runs =
#: N x (k + 1)). Assumption: 64 / 20 are screening sizes (Saltelli et al. 2010 use N of 500 and
#: more for stable Sobol' indices; Campolongo et al. 2007 use 10-50 Morris trajectories); the
#: bootstrap intervals show what a size buys.
DEFAULT_SAMPLES: Final[Mapping[str, int]] = {"sobol": 64, "morris": 20}
#: Lever: multiplier of the scenario's provincial budget in every year. Assumption: uniform
#: 0.5-1.5 (half to one and a half times the budget of the scenario file).
BUDGET_SCALE: Final = DistributionSpec("uniform", low=0.5, high=1.5)
#: Lever: unnormalised weight of each factor of the policy's allocation formula (the three are
#: divided by their sum). Assumption: uniform 0.1-1.0 each, i.e. any factor between a minor and
#: the dominant share; only used when the scenario allocates by the factor formula.
LEVER_WEIGHT: Final = DistributionSpec("uniform", low=0.1, high=1.0)
#: Names of the lever factors (prefixed so they cannot clash with behaviour parameters).
# (defined with the levers themselves in :mod:`policysim.scenario.levers`)
#: Outputs with a variance below this (relative to the squared mean, or absolute for a zero
#: mean) are treated as constant: Sobol' indices are undefined for them.
CONSTANT_TOLERANCE: Final = 1e-12


@dataclass(frozen=True)
class SensitivityResult:
    """A finished sensitivity study.

    Attributes
    ----------
    method : {"sobol", "morris"}
        Design and estimator.
    problem : dict
        The SALib problem (:func:`policysim.analysis.sensitivity_problem`).
    samples : int
        Base sample size (Sobol') or trajectories (Morris).
    seed : int
        Seed of the design and of the bootstrap intervals.
    design : DataFrame, (rows, k)
        Factor values per run (parameter units), columns ``problem["names"]``.
    outputs : DataFrame, (rows, n_outputs)
        Model output per run.
    indices : DataFrame
        Long table, one row per output and factor: ``output, parameter``, then for Sobol'
        ``S1, S1_conf, ST, ST_conf`` (shares of variance; ``*_conf`` are 95% bootstrap
        half-widths) or for Morris ``mu_star, mu_star_conf, sigma`` (output units), and
        ``constant`` (True when the output does not vary, so indices are NaN for Sobol' and 0 for
        Morris). Scenario studies add ``target, quantity, metric, year``.
    output_info : DataFrame
        One row per output: ``output, target, quantity, metric, year, mean, sd`` (scenario
        studies) or ``output, mean, sd``.
    draws : DataFrame or None
        ``replication`` and the factor columns (scenario studies).
    metrics : DataFrame or None
        Long metrics of the runs (province rows and designation indicators).
    discoveries : dict of str to PrimResult
        Scenario discovery per target that some runs miss and others meet.
    notes : tuple of str
        Caveats and plain-words findings.
    loaded : LoadedScenario or None
        The scenario (scenario studies).
    root_seed : int or None
        Root seed of the runs.
    seconds : float
        Wall-clock time, s.
    failures : DataFrame or None
        ``replication, seed_key, error`` of runs that raised (empty when all completed).
    """

    method: Method
    problem: dict[str, Any]
    samples: int
    seed: int
    design: pd.DataFrame
    outputs: pd.DataFrame
    indices: pd.DataFrame
    output_info: pd.DataFrame
    draws: pd.DataFrame | None = None
    metrics: pd.DataFrame | None = None
    discoveries: dict[str, PrimResult] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    loaded: LoadedScenario | None = None
    root_seed: int | None = None
    seconds: float = 0.0
    failures: pd.DataFrame | None = None

    @property
    def n_runs(self) -> int:
        """Rows of the design (model runs)."""
        return len(self.design)


# -----------------------------------------------------------------------------------------------
# the generic machinery


def _check_method(method: str) -> Method:
    if method == "sobol":
        return "sobol"
    if method == "morris":
        return "morris"
    raise ScenarioError(
        None,
        "unknown sensitivity method",
        key_path="--method",
        value=method,
        expected="sobol or morris",
    )


def _check_samples(method: Method, samples: int) -> None:
    if samples < 2:
        raise ScenarioError(
            None,
            "bad sample size (one sample leaves no spread for the intervals)",
            key_path="--samples",
            value=samples,
            expected="an integer >= 2",
        )
    if method == "sobol" and samples & (samples - 1):
        raise ScenarioError(
            None,
            "Sobol' sample size is not a power of 2 (the Sobol' sequence loses its balance)",
            key_path="--samples",
            value=samples,
            expected="a power of 2, e.g. 16, 64, 256",
        )


def _is_constant(y: np.ndarray[Any, np.dtype[np.float64]]) -> bool:
    scale = max(float(np.mean(y)) ** 2, 1.0)
    return float(np.var(y)) <= CONSTANT_TOLERANCE * scale


def compute_indices(
    problem: Mapping[str, Any],
    method: Method,
    design: pd.DataFrame,
    outputs: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    """Sensitivity indices of every output column.

    Parameters
    ----------
    problem : dict
        From :func:`policysim.analysis.sensitivity_problem`.
    method : {"sobol", "morris"}
        Must match the design.
    design : DataFrame, (rows, k)
        Factor values from :func:`policysim.analysis.sample`, columns ``problem["names"]``.
    outputs : DataFrame, (rows, n_outputs)
        One float column per output, rows aligned with ``design``.
    seed : int
        Seed of the bootstrap intervals.

    Returns
    -------
    DataFrame
        ``output, parameter`` and the method's index columns (see :class:`SensitivityResult`)
        plus ``constant``. Outputs that do not vary get NaN Sobol' indices (the variance they
        are shares of is 0) and zero Morris effects.

    Raises
    ------
    ValueError
        If the tables do not align or an output has missing values.
    """
    names = list(problem["names"])
    if len(design) != len(outputs):
        raise ValueError(f"{len(design)} design rows but {len(outputs)} output rows")
    x = design[names].to_numpy(dtype=np.float64)
    frames: list[pd.DataFrame] = []
    for column in outputs.columns:
        y = outputs[column].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"output {column!r} has missing or infinite values")
        if _is_constant(y):
            logger.info("output %s is constant (%g): no sensitivity", column, float(y[0]))
            if method == "sobol":
                values: dict[str, Any] = {
                    c: np.full(len(names), np.nan) for c in ("S1", "S1_conf", "ST", "ST_conf")
                }
            else:
                values = {c: np.zeros(len(names)) for c in ("mu_star", "mu_star_conf", "sigma")}
            table = pd.DataFrame({"parameter": names, **values})
            constant = True
        else:
            table = analyse(problem, method, x, y, seed)
            constant = False
        table.insert(0, "output", str(column))
        table["constant"] = constant
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def run_sensitivity(
    problem: Mapping[str, Any],
    model: ModelFunction,
    *,
    method: Method = "sobol",
    samples: int | None = None,
    seed: int = 0,
) -> SensitivityResult:
    """Draw a design, run a model function on it and compute the indices of every output.

    Parameters
    ----------
    problem : dict
        From :func:`policysim.analysis.sensitivity_problem`.
    model : callable
        ``model(design) -> outputs`` (see :data:`ModelFunction`).
    method : {"sobol", "morris"}
        Sobol' first-order and total indices (Saltelli design without second-order terms), or
        Morris elementary effects (4-level grid).
    samples : int, optional
        Base sample size N (Sobol': a power of 2; N x (k + 2) runs) or Morris trajectories
        (N x (k + 1) runs). Default :data:`DEFAULT_SAMPLES`.
    seed : int
        Seed of the design and the bootstrap intervals.

    Returns
    -------
    SensitivityResult
    """
    import time

    m = _check_method(method)
    n = DEFAULT_SAMPLES[m] if samples is None else int(samples)
    _check_samples(m, n)
    t0 = time.perf_counter()
    x = sample(problem, m, n, seed)
    design = pd.DataFrame(x, columns=list(problem["names"]))
    outputs = model(design)
    if len(outputs) != len(design):
        raise ValueError(f"the model returned {len(outputs)} rows for {len(design)} design rows")
    outputs = outputs.reset_index(drop=True).astype(np.float64)
    indices = compute_indices(problem, m, design, outputs, seed)
    info = pd.DataFrame(
        {
            "output": [str(c) for c in outputs.columns],
            "mean": outputs.mean().to_numpy(),
            "sd": outputs.std(ddof=1).to_numpy() if len(outputs) > 1 else np.nan,
        }
    )
    return SensitivityResult(
        method=m,
        problem=dict(problem),
        samples=n,
        seed=seed,
        design=design,
        outputs=outputs,
        indices=indices,
        output_info=info,
        seconds=time.perf_counter() - t0,
    )


# -----------------------------------------------------------------------------------------------
# scenario studies


def lever_factors(scenario: Scenario) -> dict[str, DistributionLike]:
    """Lever factors available for a scenario: the budget scale always, the three factor-formula
    weights when the scenario allocates by the factor formula."""
    out: dict[str, DistributionLike] = {LEVER_BUDGET: BUDGET_SCALE}
    if scenario.allocation.strategy == "factor_formula":
        for name in LEVER_WEIGHTS:
            out[name] = LEVER_WEIGHT
    return out


def scenario_problem(scenario: Scenario, *, levers: bool = False) -> dict[str, Any]:
    """SALib problem over a scenario's uncertainties (names sorted) and, optionally, levers.

    Raises
    ------
    ScenarioError
        If the scenario has no uncertainty and no lever is asked for.
    """
    specs: dict[str, DistributionLike] = {
        n: scenario.uncertainties[n] for n in sorted(scenario.uncertainties)
    }
    if levers:
        specs.update(lever_factors(scenario))
    if not specs:
        raise ScenarioError(
            None,
            "the scenario has no uncertainties to analyse",
            key_path="uncertainties",
            value={},
            expected="at least one uncertain behaviour parameter (or --levers)",
        )
    return sensitivity_problem(list(specs), specs)


def _apply_levers(scenario: Scenario, row: Mapping[str, float]) -> Scenario:
    """The scenario with a design row's lever values applied (other columns ignored)."""
    return apply_levers(scenario, {k: float(v) for k, v in row.items() if is_lever(str(k))})


def target_output_table(
    metrics: pd.DataFrame, targets: Sequence[TargetLike], n_runs: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-run outputs of every target: attainment (0/1) and the metric in the target year.

    Parameters
    ----------
    metrics : DataFrame
        Long metrics with ``replication`` 0..n_runs-1.
    targets : sequence of TargetLike
        The targets.
    n_runs : int
        Runs expected; every one must have metrics.

    Returns
    -------
    outputs : DataFrame, (n_runs, 2 x n_targets)
        Columns ``"<target> attainment"`` and ``"<target> <metric> <year>"``.
    info : DataFrame
        ``output, target, quantity, metric, year`` per output column.
    """
    columns: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    info: list[dict[str, object]] = []
    index = pd.RangeIndex(n_runs, name="replication")
    for t in targets:
        met, value = target_outcomes(metrics, t)
        met = met.reindex(index)
        value = value.reindex(index)
        name_met = f"{t.name} attainment"
        name_value = f"{t.name} {t.metric} {t.year}"
        columns[name_met] = met.to_numpy(dtype=np.float64)
        columns[name_value] = value.to_numpy(dtype=np.float64)
        info.append(
            {
                "output": name_met,
                "target": t.name,
                "quantity": "attainment",
                "metric": t.metric,
                "year": t.year,
            }
        )
        info.append(
            {
                "output": name_value,
                "target": t.name,
                "quantity": "value",
                "metric": t.metric,
                "year": t.year,
            }
        )
    return pd.DataFrame(columns), pd.DataFrame(info)


def scenario_sensitivity(
    scenario: LoadedScenario | str | Path,
    *,
    method: Method = "sobol",
    samples: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    levers: bool = False,
    overrides: Sequence[str] = (),
    store: Path | None = None,
    progress: bool = False,
) -> SensitivityResult:
    """Sensitivity of a scenario's targets to its uncertainties (and levers).

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
        The scenario (a file is loaded with ``overrides``).
    method : {"sobol", "morris"}
        Sobol' indices or Morris screening.
    samples : int, optional
        Base sample size (Sobol', a power of 2) or trajectories (Morris); default
        :data:`DEFAULT_SAMPLES`. Runs: N x (k + 2) (Sobol') or N x (k + 1) (Morris) for k factors.
    seed : int, optional
        Root seed of the runs, the design and the bootstrap (default ``ensemble.root_seed``).
    workers : int
        Local worker processes.
    scheduler : str, optional
        Dask scheduler address.
    levers : bool
        Add the budget scale and the factor-formula weights as factors (see :func:`lever_factors`);
        they are design columns like the uncertainties, applied run by run by the engine
        (:mod:`policysim.scenario.levers`), with the same workers, scheduler, store and resume.
    overrides : sequence of str
        ``key.path=value`` overrides.
    store : Path, optional
        Directory where the runs stream (resumable; see :func:`run_ensemble`); without it they are
        kept in memory.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SensitivityResult
        With ``draws``, ``metrics``, per-target ``discoveries`` and plain-words ``notes``.

    Raises
    ------
    ScenarioError
        Bad method or sample size, a scenario without uncertainties or targets, or failed runs
        (the first error is named).
    """
    import time

    t0 = time.perf_counter()
    loaded = load_with_overrides(scenario, overrides)
    sc = loaded.scenario
    m = _check_method(method)
    n = DEFAULT_SAMPLES[m] if samples is None else int(samples)
    problem = _checked_problem(loaded, m, n, levers=levers)
    root_seed = sc.ensemble.root_seed if seed is None else int(seed)
    _log_design(sc, m, n, len(problem["names"]), levers=levers)
    runs = _DesignRuns(loaded, root_seed, workers, scheduler, store, progress)
    base = run_sensitivity(problem, runs, method=m, samples=n, seed=root_seed)
    info = runs.info.merge(base.output_info, on="output", how="left")
    indices = _with_output_info(base.indices, info)
    discoveries = _discoveries(sc.targets, runs.draws, runs.metrics)
    result = SensitivityResult(
        method=m,
        problem=base.problem,
        samples=n,
        seed=root_seed,
        design=base.design,
        outputs=base.outputs,
        indices=indices,
        output_info=info,
        draws=runs.draws,
        metrics=runs.metrics,
        discoveries=discoveries,
        loaded=loaded,
        root_seed=root_seed,
        seconds=time.perf_counter() - t0,
        failures=pd.DataFrame(columns=["replication", "seed_key", "error"]),
    )
    return _with_notes(result, tuple(plain_summary(result)))


def _log_design(sc: Scenario, m: Method, n: int, k: int, *, levers: bool) -> None:
    """Log the design's size (``k`` factors), and warn when levers vary an optimiser strategy
    (its response curves are then estimated again in every run)."""
    rows = n * (k + 2) if m == "sobol" else n * (k + 1)
    logger.info("%s design: %d factors, N = %d, %d runs", m, k, n, rows)
    if levers and strategy(sc.allocation.strategy).kind == "optimiser":
        logger.warning(
            "levers with the %s strategy: response curves are re-estimated for every run",
            sc.allocation.strategy,
        )


def _checked_problem(loaded: LoadedScenario, m: Method, n: int, *, levers: bool) -> dict[str, Any]:
    """The design's factors, after checking the sample size and that there are targets; an
    error names the scenario file."""
    try:
        _check_samples(m, n)
        if not loaded.scenario.targets:
            raise ScenarioError(
                None,
                "the scenario has no targets to analyse",
                key_path="targets",
                value=(),
                expected="at least one target",
            )
        return scenario_problem(loaded.scenario, levers=levers)
    except ScenarioError as exc:
        raise ScenarioError(
            loaded.path, exc.detail, key_path=exc.key_path, value=exc.value, expected=exc.expected
        ) from None


def _with_output_info(indices: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """The indices with each output's target, quantity, metric and year, in front."""
    indices = indices.merge(
        info[["output", "target", "quantity", "metric", "year"]], on="output", how="left"
    )
    order = ["output", "target", "quantity", "metric", "year", "parameter"]
    return indices[order + [c for c in indices.columns if c not in order]]


def _discoveries(
    targets: Sequence[TargetLike], draws: pd.DataFrame, metrics: pd.DataFrame
) -> dict[str, PrimResult]:
    """Scenario discovery (PRIM) of the misses of each target that has some to discover."""
    discoveries: dict[str, PrimResult] = {}
    for t in targets:
        try:
            discoveries[t.name] = discover_runs(draws, metrics, t)
        except ScenarioError as exc:
            logger.info("no discovery for %s: %s", t.name, exc.detail)
    return discoveries


class _DesignRuns:
    """The model of a sensitivity design: runs its rows through the engine (levers are design
    columns like the uncertainties, applied run by run) and keeps the draws, metrics and output
    table of the runs."""

    def __init__(
        self,
        loaded: LoadedScenario,
        root_seed: int,
        workers: int,
        scheduler: str | None,
        store: Path | None,
        progress: bool,
    ) -> None:
        self.loaded = loaded
        self.root_seed = root_seed
        self.workers = workers
        self.scheduler = scheduler
        self.store = store
        self.progress = progress
        self.draws = pd.DataFrame()
        self.metrics = pd.DataFrame()
        self.info = pd.DataFrame()

    def __call__(self, design: pd.DataFrame) -> pd.DataFrame:
        store = self.store
        result = run_ensemble(
            self.loaded,
            seed=self.root_seed,
            workers=self.workers,
            scheduler=self.scheduler,
            draws=design,
            store=store,
            resume=store is not None and (Path(store) / ".parts").is_dir(),
            progress="sensitivity: design runs" if self.progress else False,
        )
        failures = result.failures
        if len(failures):
            first = failures.iloc[0]
            raise ScenarioError(
                self.loaded.path,
                f"{len(failures)} of {len(design)} runs failed; a sensitivity design needs every "
                f"run; first failure (run {int(first['replication'])}): {first['error']}",
                key_path="uncertainties",
                value=design.iloc[int(first["replication"])].round(6).to_dict(),
                expected="ranges in which every run completes",
            )
        self.draws = result.draws.drop(columns=["seed_key"]).reset_index(drop=True)
        self.metrics = result.metrics
        outputs, self.info = target_output_table(
            result.metrics, self.loaded.scenario.targets, len(design)
        )
        return outputs


def _with_notes(result: SensitivityResult, notes: tuple[str, ...]) -> SensitivityResult:
    from dataclasses import replace

    return replace(result, notes=notes)
