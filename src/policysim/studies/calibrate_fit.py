"""ABC rejection, the parts: the simulated values at the observations, the scaled distances,
and the fit of one parameter to its accepted values with a permutation test of its narrowing
(see :mod:`policysim.studies.calibrate` for the method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.scenario import Distribution

__all__ = [
    "MIN_ACCEPTED",
    "MIN_RUNS",
    "NULL_SPAWN_KEY",
    "RANGE_PADDING",
    "ParameterFit",
    "abc_distances",
    "describe_distribution",
    "fit_parameter",
    "null_width_ratio",
    "quantiles",
    "round_digits",
    "simulated_cells",
]


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


def describe_distribution(d: Distribution) -> str:
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


def round_digits(x: float) -> float:
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
        f_lo = round_digits(max(lo - pad, s_lo))
        f_hi = round_digits(min(hi + pad, s_hi))
        if not f_lo < f_hi:
            f_lo, f_hi = max(lo - pad, s_lo), min(hi + pad, s_hi)
        if shape == "uniform":
            fitted = Distribution(distribution="uniform", low=f_lo, high=f_hi)
        else:
            mode = min(max(round_digits(med), f_lo), f_hi)
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


def quantiles(values: FloatArray) -> FloatArray:
    """(3, m) median, p05, p95 over rows, NaN-aware; NaN for an all-NaN column."""
    out = np.full((3, values.shape[1]), np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            out[:, j] = np.quantile(col, [0.5, 0.05, 0.95])
    return out
