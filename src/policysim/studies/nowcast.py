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
   becoming a pilot or a national innovative county is either conditioned on exactly
   (``events="filter"``: a named pilot is a hard constraint; named national counties weigh
   each run by the probability that its nomination of the year included them, and a run whose
   own draw missed them gets a nomination drawn given them,
   :mod:`policysim.studies.nowcast_nomination`) or imposed on the runs that did not produce it
   (``events="force"``, the default): the named county takes the seat of the run's
   lowest-ranked new entrant of that year, so the batch keeps its size;
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

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from policysim.analysis.intervals import wilson_interval
from policysim.analysis.targets import attainment
from policysim.errors import DataError, ScenarioError
from policysim.experiments import EnsembleResult, run_ensemble
from policysim.experiments.runner import load_with_overrides
from policysim.scenario import LoadedScenario
from policysim.scenario.schema import Scenario
from policysim.studies.hindcast import score_ensemble
from policysim.studies.nowcast_filter import (
    LIU_WEST_DISCOUNT,
    OBS_REL_SD,
    STATIC_PARAMETERS,
    FilterResult,
    particle_filter,
    systematic_resample,
)
from policysim.studies.nowcast_observed import (
    COUNT_INDICATORS,
    EVENT_INDICATORS,
    EventMode,
    NowcastObservations,
    check_through,
    read_nowcast_observed,
)
from policysim.studies.nowcast_output import outlook_figure, posterior_figure, write_nowcast

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
    "outlook",
    "outlook_figure",
    "particle_filter",
    "posterior_figure",
    "read_nowcast_observed",
    "run_nowcast",
    "systematic_resample",
    "write_nowcast",
]

logger = logging.getLogger(__name__)


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
    scheduler: str | None = None,
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
    replications, seed, workers, scheduler, overrides, store, resume, progress
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
            scheduler=scheduler,
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
