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

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.errors import DataError, ScenarioError
from policysim.experiments import Engine, EnsembleResult
from policysim.scenario import LoadedScenario
from policysim.studies.calibrate_fit import (
    DIGITS,
    MIN_ACCEPTED,
    MIN_RUNS,
    NULL_SPAWN_KEY,
    NULL_SUBSETS,
    RANGE_PADDING,
    FloatArray,
    ParameterFit,
    Shape,
    abc_distances,
    describe_distribution,
    fit_parameter,
    null_width_ratio,
    quantiles,
    simulated_cells,
)
from policysim.studies.calibrate_output import calibrated_yaml, write_calibrated
from policysim.studies.hindcast import DEGENERATE_RTOL, read_hindcast_observed
from policysim.studies.runs import load_with_overrides, study_engine, study_ensemble

__all__ = [
    "DIGITS",
    "MIN_ACCEPTED",
    "MIN_RUNS",
    "NULL_SPAWN_KEY",
    "NULL_SUBSETS",
    "RANGE_PADDING",
    "CalibrationResult",
    "ParameterFit",
    "Shape",
    "abc_distances",
    "calibrate",
    "calibrated_yaml",
    "fit_parameter",
    "null_width_ratio",
    "simulated_cells",
    "write_calibrated",
]

logger = logging.getLogger(__name__)


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
                    "prior": describe_distribution(p.prior),
                    "prior_q05": p.prior_q05,
                    "prior_q95": p.prior_q95,
                    "median": p.median,
                    "q05": p.q05,
                    "q95": p.q95,
                    "width_ratio": p.width_ratio,
                    "fitted": describe_distribution(p.fitted)
                    if p.fitted is not None
                    else "prior kept",
                }
            )
        return pd.DataFrame(rows)


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
    n_runs = sc.ensemble.replications if replications is None else int(replications)
    _check_calibration(loaded, accept, min_narrowing, n_runs)
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
    fits, fit, runs = _abc(ensemble, obs, obs_path, accept, min_narrowing, shape)
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


def _check_calibration(
    loaded: LoadedScenario, accept: float, min_narrowing: float, n_runs: int
) -> None:
    """Uncertainties to fit, an acceptance share, a narrowing and enough runs (before any run)."""
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
    if n_runs < MIN_RUNS:
        raise ScenarioError(
            loaded.path,
            "too few runs for ABC",
            key_path="--replications",
            value=n_runs,
            expected=f"at least {MIN_RUNS}",
        )


def _abc(
    ensemble: EnsembleResult,
    obs: pd.DataFrame,
    obs_path: Path | None,
    accept: float,
    min_narrowing: float,
    shape: Shape,
) -> tuple[tuple[ParameterFit, ...], pd.DataFrame, pd.DataFrame]:
    """ABC rejection on a finished prior ensemble: the parameter fits, the fit to each
    observation (prior vs accepted) and the runs with their distances and acceptance."""
    sc = ensemble.loaded.scenario
    draws = _completed_draws(ensemble)
    reps = [int(r) for r in draws["replication"]]
    sim = simulated_cells(ensemble.metrics, obs, reps)
    y = obs["value"].to_numpy(dtype=np.float64)
    scales, used = _informative(sim, obs_path, sorted(sc.uncertainties))
    dist = abc_distances(sim, y, np.where(used, scales, 0.0))
    n_accept = min(len(reps), max(MIN_ACCEPTED, math.ceil(accept * len(reps))))
    order = np.argsort(dist, kind="stable")
    accepted = np.zeros(len(reps), dtype=bool)
    accepted[order[:n_accept]] = True
    fits = _parameter_fits(ensemble, draws, accepted, n_accept, min_narrowing, shape)
    fit = _observation_fit(obs, y, used, scales, sim, accepted)
    runs = draws.drop(columns=["seed_key"]).assign(distance=dist, accepted=accepted)
    logger.info(
        "ABC rejection: %d of %d runs accepted; %d of %d parameters fitted",
        n_accept,
        len(reps),
        sum(f.identified for f in fits),
        len(fits),
    )
    return fits, fit, runs


def _completed_draws(ensemble: EnsembleResult) -> pd.DataFrame:
    """The draws of the runs that completed, at least :data:`MIN_RUNS` of them."""
    failed = {int(r) for r in ensemble.failures["replication"]}
    draws = ensemble.draws[~ensemble.draws["replication"].isin(failed)].reset_index(drop=True)
    if len(draws) < MIN_RUNS:
        raise DataError(
            "ensemble",
            f"only {len(draws)} of {ensemble.n_runs} runs completed; expected at least {MIN_RUNS}",
        )
    return draws


def _informative(
    sim: FloatArray, obs_path: Path | None, names: Sequence[str]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Each observation's scale (the prior-predictive spread of its simulated values) and
    whether it is used: it varies with the parameters ``names`` (not fixed by the model's
    initialisation); at least one must."""
    scales = np.nanstd(sim, axis=0)
    medians = np.nanmedian(np.where(np.isfinite(sim), sim, np.nan), axis=0)
    used = np.isfinite(scales) & (scales > DEGENERATE_RTOL * np.maximum(np.abs(medians), 1.0))
    if not used.any():
        raise DataError(
            obs_path or "observations",
            "no observation varies with the uncertain parameters "
            f"({', '.join(names)}); expected at least one informative "
            "indicator and year (base-year values are fixed by the model's initialisation)",
        )
    return scales, used


def _parameter_fits(
    ensemble: EnsembleResult,
    draws: pd.DataFrame,
    accepted: npt.NDArray[np.bool_],
    n_accept: int,
    min_narrowing: float,
    shape: Shape,
) -> tuple[ParameterFit, ...]:
    """The fit of each uncertain parameter (by name) from its prior and accepted draws, against
    the width ratio a random acceptance of ``n_accept`` runs would give."""
    sc = ensemble.loaded.scenario
    rng = np.random.default_rng(
        np.random.SeedSequence(ensemble.root_seed, spawn_key=(NULL_SPAWN_KEY,))
    )
    return tuple(
        fit_parameter(
            n,
            sc.uncertainties[n],
            draws[n].to_numpy(dtype=np.float64),
            draws.loc[accepted, n].to_numpy(dtype=np.float64),
            min_narrowing=min_narrowing,
            shape=shape,
            max_ratio=null_width_ratio(draws[n].to_numpy(dtype=np.float64), n_accept, rng),
        )
        for n in sorted(sc.uncertainties)
    )


def _observation_fit(
    obs: pd.DataFrame,
    y: FloatArray,
    used: npt.NDArray[np.bool_],
    scales: FloatArray,
    sim: FloatArray,
    accepted: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """Each observation against the prior and the accepted runs (median, 5% and 95%)."""
    prior_q = quantiles(sim)
    post_q = quantiles(sim[accepted])
    return pd.DataFrame(
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


# -----------------------------------------------------------------------------------------------
# the fitted scenario
