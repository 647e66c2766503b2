"""Calibration of a scenario's uncertain parameters to observed series by ABC rejection.

Approximate Bayesian computation by rejection (Pritchard et al. 1999; Beaumont, Zhang & Balding
2002): run the ensemble with parameters drawn from the scenario's ``uncertainties`` (the prior),
measure for each run the distance between its simulated values and the observations, and keep
the closest runs. Their parameter values approximate the posterior.

- Distance: Euclidean over observations of ``(simulated - observed) / scale``, where ``scale`` is
  the prior-predictive standard deviation of that indicator and year over the runs (the usual
  ABC normalisation, so that 亿元 and counts weigh alike). Observations the parameters cannot
  move (zero spread, e.g. base-year values the model is initialised to) are left out and
  reported as unused.
- Acceptance: the ``accept`` share of runs with the smallest distance (at least
  :data:`MIN_ACCEPTED`).
- Fitted distribution of a parameter: ``triangular`` (low, mode, high) or ``uniform`` (low,
  high) over the accepted values' range, widened on each side by :data:`RANGE_PADDING` of that
  range and clipped to the prior's support; mode = accepted median. A parameter is identified,
  and fitted, when its accepted 5-95% width is at most ``1 - min_narrowing`` of the prior's and
  below the 5% quantile of the width of as many draws taken at random (a permutation test,
  :func:`null_width_ratio`); otherwise it keeps its prior.
- The fitted distributions are independent: correlations between parameters in the accepted
  sample are not carried into the scenario.

The fitted scenario ``extends`` the input and overrides only ``metadata`` and the fitted entries
of ``uncertainties`` (see :func:`calibrated_yaml`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

from policysim.errors import DataError, ScenarioError
from policysim.experiments import Engine, EnsembleResult
from policysim.experiments.store import write_bytes
from policysim.scenario import Distribution, LoadedScenario, load_scenario
from policysim.studies.hindcast import DEGENERATE_RTOL, read_hindcast_observed
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble

__all__ = [
    "MIN_ACCEPTED",
    "RANGE_PADDING",
    "CalibrationResult",
    "ParameterFit",
    "abc_distances",
    "calibrate",
    "calibrated_yaml",
    "fit_parameter",
    "null_width_ratio",
    "simulated_cells",
    "write_calibrated",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Shape = Literal["triangular", "uniform"]

#: Fewest accepted runs (a range needs a few points; assumption, a convention of this tool).
MIN_ACCEPTED: Final = 5
#: Fewest prior runs (the prior-predictive scale and a 10% acceptance need a few dozen).
MIN_RUNS: Final = 20
#: Padding of the accepted range on each side, as a share of that range (assumption: guards the
#: range's edges against the finite sample; 0.1 keeps the fitted range within 1.2x the accepted).
RANGE_PADDING: Final = 0.1
#: Random subsets in the null distribution of the width ratio (:func:`null_width_ratio`).
NULL_SUBSETS: Final = 500
#: Spawn key of the generator of those subsets, under the ensemble's root seed (a convention).
NULL_SPAWN_KEY: Final = 2**31
#: Significant digits of the values written to the fitted scenario.
DIGITS: Final = 6


@dataclass(frozen=True)
class ParameterFit:
    """The fit of one uncertain parameter.

    Attributes
    ----------
    name : str
        Behaviour parameter.
    prior : Distribution
        The scenario's distribution.
    prior_q05, prior_q95 : float
        5% and 95% quantiles of the prior draws (the parameter's unit).
    median, q05, q95 : float
        Median and 5%/95% quantiles of the accepted draws.
    low, high : float
        Smallest and largest accepted draw.
    width_ratio : float
        ``(q95 - q05) / (prior_q95 - prior_q05)``: below 1 when the data narrow the parameter.
    fitted : Distribution or None
        The fitted distribution, or None when the parameter is not identified (prior kept).
    """

    name: str
    prior: Distribution
    prior_q05: float
    prior_q95: float
    median: float
    q05: float
    q95: float
    low: float
    high: float
    width_ratio: float
    fitted: Distribution | None

    @property
    def identified(self) -> bool:
        """Whether the data narrowed the parameter enough to replace its prior."""
        return self.fitted is not None


@dataclass(frozen=True)
class CalibrationResult:
    """The outcome of :func:`calibrate`.

    Attributes
    ----------
    loaded : LoadedScenario
        The scenario calibrated (overrides applied).
    observed : DataFrame
        ``indicator, year, value``.
    observed_path : Path or None
        The observed file.
    parameters : tuple of ParameterFit
        One per uncertain parameter, in name order.
    fit : DataFrame
        One row per observation: ``indicator, year, observed, used, scale``, the prior-predictive
        ``prior_median, prior_p05, prior_p95`` and the posterior-predictive (accepted runs)
        ``post_median, post_p05, post_p95``, in the indicator's unit.
    runs : DataFrame
        One row per completed run: ``replication``, the parameter columns, ``distance``,
        ``accepted``.
    ensemble : EnsembleResult
        The prior runs.
    shape : str
        Shape of the fitted distributions.
    """

    loaded: LoadedScenario
    observed: pd.DataFrame
    observed_path: Path | None
    parameters: tuple[ParameterFit, ...]
    fit: pd.DataFrame
    runs: pd.DataFrame
    ensemble: EnsembleResult
    shape: Shape

    @property
    def n_accepted(self) -> int:
        """Runs accepted."""
        return int(self.runs["accepted"].sum())

    def parameter_table(self) -> pd.DataFrame:
        """One row per parameter: prior and accepted quantiles, width ratio, fitted or kept."""
        rows = []
        for p in self.parameters:
            rows.append(
                {
                    "parameter": p.name,
                    "prior": _describe(p.prior),
                    "prior_q05": p.prior_q05,
                    "prior_q95": p.prior_q95,
                    "median": p.median,
                    "q05": p.q05,
                    "q95": p.q95,
                    "width_ratio": p.width_ratio,
                    "fitted": _describe(p.fitted) if p.fitted is not None else "prior kept",
                }
            )
        return pd.DataFrame(rows)


def _describe(d: Distribution) -> str:
    fields = {
        "uniform": ("low", "high"),
        "triangular": ("low", "mode", "high"),
        "normal": ("mean", "sd"),
        "lognormal": ("mean_log", "sd_log"),
        "beta": ("a", "b", "low", "high"),
    }[d.distribution]
    return d.distribution + "(" + ", ".join(f"{getattr(d, f):.4g}" for f in fields) + ")"


def simulated_cells(
    metrics: pd.DataFrame, observed: pd.DataFrame, replications: Sequence[int]
) -> FloatArray:
    """Simulated province values at the observed indicators and years.

    Parameters
    ----------
    metrics : DataFrame
        Long ensemble metrics with a ``replication`` column.
    observed : DataFrame
        ``indicator, year, value`` (m rows).
    replications : sequence of int
        Runs, in the order of the output's rows (n).

    Returns
    -------
    (n, m) float array
        Simulated value of each run for each observation (indicator's unit); NaN where missing.
    """
    province = metrics[metrics["level"] == "province"]
    wide = province.pivot_table(
        index="replication", columns=["metric", "year"], values="value", observed=True
    )
    reps = [int(r) for r in replications]
    out = np.full((len(reps), len(observed)), np.nan)
    wide = wide.reindex(reps)
    for j, (ind, year) in enumerate(zip(observed["indicator"], observed["year"], strict=True)):
        key = (ind, int(year))
        if key in wide.columns:
            out[:, j] = wide[key].to_numpy(dtype=np.float64)
    return out


def abc_distances(
    simulated: npt.ArrayLike, observed: npt.ArrayLike, scales: npt.ArrayLike
) -> FloatArray:
    """Normalised Euclidean distance of each run from the observations.

    Parameters
    ----------
    simulated : (n, m) float array
        Simulated values of n runs at m observations.
    observed : (m,) float array
        Observed values.
    scales : (m,) float array
        Positive scale of each observation (same unit); a non-finite or non-positive scale drops
        the observation from the distance.

    Returns
    -------
    (n,) float array
        ``sqrt(sum_j ((sim_ij - obs_j) / scale_j)^2)`` over the used observations; ``inf`` for a
        run with a missing value at a used observation.
    """
    sim = np.asarray(simulated, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    sc = np.asarray(scales, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[1] != obs.shape[0] or sc.shape != obs.shape:
        raise ValueError(
            f"abc_distances: simulated {sim.shape}, observed {obs.shape} and scales {sc.shape} "
            "do not match (expected (n, m), (m,), (m,))"
        )
    used = np.isfinite(sc) & (sc > 0)
    z = (sim[:, used] - obs[used]) / sc[used]
    d = np.sqrt(np.sum(z * z, axis=1))
    d[~np.all(np.isfinite(z), axis=1)] = np.inf
    return np.asarray(d, dtype=np.float64)


def _round(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def fit_parameter(
    name: str,
    prior: Distribution,
    prior_draws: npt.ArrayLike,
    accepted: npt.ArrayLike,
    *,
    min_narrowing: float = 0.3,
    shape: Shape = "triangular",
    max_ratio: float | None = None,
) -> ParameterFit:
    """Fit a distribution to a parameter's accepted draws.

    Parameters
    ----------
    name : str
        Parameter name.
    prior : Distribution
        Its prior (the fitted range is clipped to the prior's support).
    prior_draws : (n,) float array
        All draws (the prior sample).
    accepted : (k,) float array
        Accepted draws, k >= 2.
    min_narrowing : float
        The accepted 5-95% width must be at most ``1 - min_narrowing`` of the prior's for the
        parameter to be fitted; otherwise the prior is kept (``fitted`` None).
    shape : {"triangular", "uniform"}
        Shape of the fitted distribution.
    max_ratio : float, optional
        A further upper bound on the width ratio for fitting, e.g. from
        :func:`null_width_ratio` (a few accepted draws are narrower than the prior by chance).

    Returns
    -------
    ParameterFit
    """
    x = np.asarray(prior_draws, dtype=np.float64)
    a = np.asarray(accepted, dtype=np.float64)
    if a.size < 2 or x.size < 2:
        raise ValueError(f"fit_parameter {name}: expected at least 2 prior and accepted draws")
    pq05, pq95 = (float(v) for v in np.quantile(x, [0.05, 0.95]))
    q05, med, q95 = (float(v) for v in np.quantile(a, [0.05, 0.5, 0.95]))
    lo, hi = float(a.min()), float(a.max())
    prior_width = pq95 - pq05
    ratio = (q95 - q05) / prior_width if prior_width > 0 else math.nan
    fitted: Distribution | None = None
    threshold = 1.0 - min_narrowing
    if max_ratio is not None:
        threshold = min(threshold, max_ratio)
    if math.isfinite(ratio) and ratio <= threshold:
        s_lo, s_hi = prior.support()
        pad = RANGE_PADDING * (hi - lo)
        if pad <= 0:  # every accepted draw equal: pad by the prior sample's resolution
            pad = RANGE_PADDING * prior_width / max(x.size, 1)
        f_lo = _round(max(lo - pad, s_lo))
        f_hi = _round(min(hi + pad, s_hi))
        if not f_lo < f_hi:
            f_lo, f_hi = max(lo - pad, s_lo), min(hi + pad, s_hi)
        if shape == "uniform":
            fitted = Distribution(distribution="uniform", low=f_lo, high=f_hi)
        else:
            mode = min(max(_round(med), f_lo), f_hi)
            fitted = Distribution(distribution="triangular", low=f_lo, mode=mode, high=f_hi)
    return ParameterFit(
        name=name,
        prior=prior,
        prior_q05=pq05,
        prior_q95=pq95,
        median=med,
        q05=q05,
        q95=q95,
        low=lo,
        high=hi,
        width_ratio=ratio,
        fitted=fitted,
    )


def null_width_ratio(
    prior_draws: npt.ArrayLike,
    k: int,
    rng: np.random.Generator,
    *,
    level: float = 0.05,
    n_subsets: int = NULL_SUBSETS,
) -> float:
    """Width ratio that ``k`` draws taken at random (no information) fall below with probability
    ``level``.

    The 5-95% width of a few accepted draws is narrower than the prior's even when the data say
    nothing about the parameter; a parameter counts as identified only if its accepted draws
    are narrower than this.

    Parameters
    ----------
    prior_draws : (n,) float array
        The prior sample.
    k : int
        Accepted draws, 2 <= k <= n.
    rng : numpy.random.Generator
        Source of the random subsets.
    level : float
        Quantile of the null distribution of the width ratio.
    n_subsets : int
        Random subsets drawn.

    Returns
    -------
    float
        The ``level`` quantile of the width ratio of random subsets of size ``k``.
    """
    x = np.asarray(prior_draws, dtype=np.float64)
    if not 2 <= k <= x.size:
        raise ValueError(f"null_width_ratio: k = {k}: expected 2 <= k <= {x.size}")
    pq05, pq95 = np.quantile(x, [0.05, 0.95])
    width = float(pq95 - pq05)
    if width <= 0:
        return math.nan
    idx = np.argsort(rng.random((n_subsets, x.size)), axis=1)[:, :k]
    q = np.quantile(x[idx], [0.05, 0.95], axis=1)
    return float(np.quantile((q[1] - q[0]) / width, level))


def _quantiles(values: FloatArray) -> FloatArray:
    """(3, m) median, p05, p95 over rows, NaN-aware; NaN for an all-NaN column."""
    out = np.full((3, values.shape[1]), np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            out[:, j] = np.quantile(col, [0.5, 0.05, 0.95])
    return out


def calibrate(
    scenario: LoadedScenario | str | Path,
    observed: Path | pd.DataFrame,
    *,
    replications: int | None = None,
    accept: float = 0.1,
    min_narrowing: float = 0.3,
    shape: Shape = "triangular",
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overrides: Sequence[str] = (),
    progress: bool = False,
    store: Path | None = None,
    resume: bool = False,
    engine: Engine | None = None,
) -> CalibrationResult:
    """Estimate a scenario's uncertain parameters from observations by ABC rejection.

    Parameters
    ----------
    scenario : LoadedScenario, str or Path
        The scenario; its ``uncertainties`` are the prior.
    observed : Path or DataFrame
        Observed file (``indicator, year, value``; checked before any run) or a table in that
        format (as from :func:`policysim.studies.hindcast.synthetic_observations`).
    replications : int, optional
        Prior runs (default ``ensemble.replications``), at least :data:`MIN_RUNS`.
    accept : float
        Share of runs accepted, in (0, 1]; at least :data:`MIN_ACCEPTED` runs.
    min_narrowing : float
        See :func:`fit_parameter`.
    shape : {"triangular", "uniform"}
        Shape of the fitted distributions.
    seed, workers, scheduler, overrides, progress, store, resume, engine
        As in :func:`policysim.experiments.run_ensemble` (``store``: a folder the prior runs
        stream to; ``resume``: continue the calibration interrupted there).

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ScenarioError
        No uncertainties, too few runs, a bad ``accept`` or ``min_narrowing``.
    DataError
        A bad observed file, or observations that no parameter moves.
    """
    loaded = load_with_overrides(scenario, overrides)
    sc = loaded.scenario
    if not sc.uncertainties:
        raise ScenarioError(
            loaded.path,
            "nothing to calibrate",
            key_path="uncertainties",
            expected="at least one uncertain parameter with a distribution",
        )
    if not 0.0 < accept <= 1.0:
        raise ScenarioError(
            loaded.path,
            "bad acceptance share",
            key_path="--accept",
            value=accept,
            expected="a share in (0, 1]",
        )
    if not 0.0 <= min_narrowing < 1.0:
        raise ScenarioError(
            loaded.path,
            "bad narrowing",
            key_path="--min-narrowing",
            value=min_narrowing,
            expected="a share in [0, 1)",
        )
    n_runs = sc.ensemble.replications if replications is None else int(replications)
    if n_runs < MIN_RUNS:
        raise ScenarioError(
            loaded.path,
            "too few runs for ABC",
            key_path="--replications",
            value=n_runs,
            expected=f"at least {MIN_RUNS}",
        )
    if isinstance(observed, pd.DataFrame):
        obs, obs_path = observed.reset_index(drop=True), None
    else:
        obs, obs_path = read_hindcast_observed(Path(observed), sc), Path(observed)
    with study_engine(workers, scheduler, engine) as backend:
        backend.warm(sc)
        ensemble = study_ensemble(
            loaded,
            engine=backend,
            store=store,
            resume=resume,
            replications=n_runs,
            seed=seed,
            progress=progress,
        )
    failed = {int(r) for r in ensemble.failures["replication"]}
    draws = ensemble.draws[~ensemble.draws["replication"].isin(failed)].reset_index(drop=True)
    reps = [int(r) for r in draws["replication"]]
    if len(reps) < MIN_RUNS:
        raise DataError(
            "ensemble",
            f"only {len(reps)} of {ensemble.n_runs} runs completed; expected at least {MIN_RUNS}",
        )
    sim = simulated_cells(ensemble.metrics, obs, reps)
    y = obs["value"].to_numpy(dtype=np.float64)
    scales = np.nanstd(sim, axis=0)
    medians = np.nanmedian(np.where(np.isfinite(sim), sim, np.nan), axis=0)
    used = np.isfinite(scales) & (scales > DEGENERATE_RTOL * np.maximum(np.abs(medians), 1.0))
    if not used.any():
        raise DataError(
            obs_path or "observations",
            "no observation varies with the uncertain parameters "
            f"({', '.join(sorted(sc.uncertainties))}); expected at least one informative "
            "indicator and year (base-year values are fixed by the model's initialisation)",
        )
    dist = abc_distances(sim, y, np.where(used, scales, 0.0))
    n_accept = min(len(reps), max(MIN_ACCEPTED, math.ceil(accept * len(reps))))
    order = np.argsort(dist, kind="stable")
    accepted = np.zeros(len(reps), dtype=bool)
    accepted[order[:n_accept]] = True
    names = sorted(sc.uncertainties)
    rng = np.random.default_rng(
        np.random.SeedSequence(ensemble.root_seed, spawn_key=(NULL_SPAWN_KEY,))
    )
    fits = tuple(
        fit_parameter(
            n,
            sc.uncertainties[n],
            draws[n].to_numpy(dtype=np.float64),
            draws.loc[accepted, n].to_numpy(dtype=np.float64),
            min_narrowing=min_narrowing,
            shape=shape,
            max_ratio=null_width_ratio(draws[n].to_numpy(dtype=np.float64), n_accept, rng),
        )
        for n in names
    )
    prior_q = _quantiles(sim)
    post_q = _quantiles(sim[accepted])
    fit = pd.DataFrame(
        {
            "indicator": obs["indicator"].astype(str).to_numpy(),
            "year": obs["year"].to_numpy(dtype=np.int64),
            "observed": y,
            "used": used,
            "scale": scales,
            "prior_median": prior_q[0],
            "prior_p05": prior_q[1],
            "prior_p95": prior_q[2],
            "post_median": post_q[0],
            "post_p05": post_q[1],
            "post_p95": post_q[2],
        }
    )
    runs = draws.drop(columns=["seed_key"]).assign(distance=dist, accepted=accepted)
    logger.info(
        "ABC rejection: %d of %d runs accepted; %d of %d parameters fitted",
        n_accept,
        len(reps),
        sum(f.identified for f in fits),
        len(fits),
    )
    return CalibrationResult(
        loaded=loaded,
        observed=obs,
        observed_path=obs_path,
        parameters=fits,
        fit=fit,
        runs=runs,
        ensemble=ensemble,
        shape=shape,
    )


# -----------------------------------------------------------------------------------------------
# the fitted scenario


def _distribution_mapping(d: Distribution) -> dict[str, Any]:
    return {k: v for k, v in d.model_dump().items() if v is not None}


def calibrated_yaml(result: CalibrationResult, out_path: Path, *, name: str | None = None) -> str:
    """The text of a scenario that extends the calibrated one with the fitted distributions.

    Parameters
    ----------
    result : CalibrationResult
        The calibration.
    out_path : Path
        Where the text will be written (``extends`` is made relative to its folder).
    name : str, optional
        ``metadata.name`` (default: the input's name + ``_calibrated``).

    Returns
    -------
    str
        YAML with a header comment reporting the method and the fit.
    """
    loaded = result.loaded
    source = loaded.path
    try:
        extends = os.path.relpath(source, Path(out_path).resolve().parent)
    except ValueError:  # pragma: no cover - different drives on Windows
        extends = str(source)
    new_name = name or f"{loaded.name}_calibrated"[:80]
    fitted = [p for p in result.parameters if p.fitted is not None]
    kept = [p.name for p in result.parameters if p.fitted is None]
    n_runs = len(result.runs)
    obs_name = str(result.observed_path) if result.observed_path else "a table of observations"
    description = (
        f"{loaded.name} with uncertainties fitted by ABC rejection to {obs_name}: "
        f"{result.n_accepted} of {n_runs} runs accepted."
    )
    body: dict[str, Any] = {
        "extends": Path(extends).as_posix(),
        "metadata": {"name": new_name, "description": description},
    }
    if fitted:
        body["uncertainties"] = {
            p.name: _distribution_mapping(p.fitted) for p in fitted if p.fitted is not None
        }
    used = result.fit[result.fit["used"]]
    lines = [
        f"# Generated by `policysim calibrate` on {dt.date.today().isoformat()}.",
        f"# Input scenario: {source} (hash {loaded.hash[:16]})",
    ]
    if loaded.overrides:
        lines.append(
            "# Overrides used during calibration (not carried into this file): "
            + "; ".join(loaded.overrides)
        )
    lines += [
        f"# Observed: {obs_name}; {len(used)} of {len(result.fit)} observations informative: "
        + ", ".join(f"{r.indicator} {r.year}" for r in used.itertuples()),
        f"# Method: ABC rejection, {n_runs} prior runs (root seed {result.ensemble.root_seed}), "
        f"the {result.n_accepted} closest accepted (distance: Euclidean over observations "
        "scaled by the prior-predictive SD).",
        f"# Fitted distributions: {result.shape} over the accepted range widened by "
        f"{RANGE_PADDING:.0%} each side, clipped to the prior; mode = accepted median.",
    ]
    for p in result.parameters:
        verdict = "fitted" if p.fitted is not None else "prior kept (not identified)"
        lines.append(
            f"#   {p.name}: prior {_describe(p.prior)}, accepted median {p.median:.4g} "
            f"[5-95%: {p.q05:.4g}, {p.q95:.4g}], width ratio {p.width_ratio:.2f}: {verdict}"
        )
    if kept:
        lines.append("# Parameters not listed under uncertainties keep the input's distributions.")
    text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)
    return "\n".join(lines) + "\n" + text


def write_calibrated(
    result: CalibrationResult, out_path: Path, *, name: str | None = None
) -> dict[str, Path]:
    """Write the fitted scenario and a JSON report of the fit beside it, atomically.

    The written scenario is loaded back to check that it validates.

    Parameters
    ----------
    result : CalibrationResult
        The calibration.
    out_path : Path
        Scenario file to write (``.yaml`` or ``.yml``); the report goes to ``<stem>.fit.json``.
    name : str, optional
        ``metadata.name`` of the fitted scenario.

    Returns
    -------
    dict of str to Path
        ``scenario`` and ``fit``.

    Raises
    ------
    ScenarioError
        If ``out_path`` does not end in ``.yaml``/``.yml``.
    """
    target = Path(out_path)
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError(
            None,
            "bad output file",
            key_path="--out",
            value=str(target),
            expected="a path ending in .yaml",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    text = calibrated_yaml(result, target, name=name)
    write_bytes(target, text.encode("utf-8"))
    load_scenario(target)  # the file must validate (extends resolves against its folder)
    report = {
        "scenario": str(target),
        "input": str(result.loaded.path),
        "overrides": list(result.loaded.overrides),
        "observed_file": str(result.observed_path) if result.observed_path else None,
        "method": "ABC rejection",
        "runs": len(result.runs),
        "accepted": result.n_accepted,
        "root_seed": result.ensemble.root_seed,
        "shape": result.shape,
        "parameters": json.loads(result.parameter_table().to_json(orient="records")),
        "fit": json.loads(result.fit.to_json(orient="records")),
    }
    fit_path = target.with_name(target.stem + ".fit.json")
    write_bytes(fit_path, json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8"))
    return {"scenario": target, "fit": fit_path}
