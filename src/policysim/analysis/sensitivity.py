"""Global sensitivity analysis (SALib) and space-filling designs over uncertain parameters.

All sampling happens in the unit hypercube and is mapped to parameter values by inverse CDFs
(:func:`transform_unit_samples`), so Latin hypercube, Sobol' (Saltelli) and Morris designs share
one definition of each distribution. A SALib ``problem`` built here has unit bounds and carries the
distributions under the extra key ``"distributions"``.

Distribution specs (from scenario files) name a family in ``distribution`` and the parameters it
needs; the others are None:

=============  =====================================================================
uniform        low, high
triangular     low, mode, high
normal         mean, sd; optionally truncated to [low, high] (either end may be None)
lognormal      mean_log, sd_log (of the underlying normal); support (0, inf)
beta           a, b on [low, high]
=============  =====================================================================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from policysim.errors import ScenarioError

__all__ = [
    "DistributionLike",
    "DistributionSpec",
    "analyse",
    "latin_hypercube",
    "sample",
    "sensitivity_problem",
    "transform_unit_samples",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Method = Literal["sobol", "morris"]

#: Morris grid levels (SALib default; Saltelli et al. 2008 recommend 4).
MORRIS_LEVELS: Final = 4
#: Tail probability cut from distributions with unbounded support so that the unit-cube corners
#: 0 and 1 (which Morris grids use) map to finite values. Assumption: 0.001 (0.1%-99.9%
#: quantile span), a reasonable range is 1e-4 to 0.01; it only matters for unbounded families.
UNBOUNDED_TAIL: Final = 1e-3
#: Bootstrap resamples for SALib confidence intervals (SALib default 100; assumption, 100-1000).
NUM_RESAMPLES: Final = 100


class DistributionLike(Protocol):
    """What sampling needs of a distribution spec (the scenario's ``Distribution`` fits)."""

    @property
    def distribution(self) -> str: ...

    @property
    def low(self) -> float | None: ...

    @property
    def high(self) -> float | None: ...

    @property
    def mode(self) -> float | None: ...

    @property
    def mean(self) -> float | None: ...

    @property
    def sd(self) -> float | None: ...

    @property
    def mean_log(self) -> float | None: ...

    @property
    def sd_log(self) -> float | None: ...

    @property
    def a(self) -> float | None: ...

    @property
    def b(self) -> float | None: ...


@dataclass(frozen=True)
class DistributionSpec:
    """A plain, immutable distribution spec satisfying :class:`DistributionLike`."""

    distribution: str
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = None
    mean_log: float | None = None
    sd_log: float | None = None
    a: float | None = None
    b: float | None = None


_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean_log", "sd_log"),
    "beta": ("a", "b", "low", "high"),
}


def _bad(name: str, message: str, value: object, expected: str) -> ScenarioError:
    return ScenarioError(
        None,
        message,
        key_path=f"uncertainties.{name}",
        value=value,
        expected=expected,
    )


def _frozen(dist: DistributionLike, name: str) -> Any:
    """A frozen scipy distribution for a spec (validated)."""
    family = dist.distribution
    if family not in _NEEDS:
        raise _bad(name, "unknown distribution", family, "one of " + ", ".join(_NEEDS))
    missing = [p for p in _NEEDS[family] if getattr(dist, p) is None]
    if missing:
        raise _bad(
            name,
            f"{family} distribution lacks {', '.join(missing)}",
            family,
            "parameters " + ", ".join(_NEEDS[family]),
        )
    # every needed parameter is present (checked above): read them as floats
    p = {key: float(getattr(dist, key)) for key in _NEEDS[family]}
    low, high = dist.low, dist.high
    if low is not None and high is not None and not low < high:
        raise _bad(name, "low is not below high", (low, high), "low < high")
    if family == "uniform":
        return stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
    if family == "triangular":
        if not p["low"] <= p["mode"] <= p["high"]:
            raise _bad(
                name, "mode outside [low, high]", p["mode"], f"{p['low']} <= mode <= {p['high']}"
            )
        width = p["high"] - p["low"]
        return stats.triang(c=(p["mode"] - p["low"]) / width, loc=p["low"], scale=width)
    if family == "normal":
        if not p["sd"] > 0:
            raise _bad(name, "sd must be positive", p["sd"], "sd > 0")
        if low is None and high is None:
            return stats.norm(loc=p["mean"], scale=p["sd"])
        a = -math.inf if low is None else (low - p["mean"]) / p["sd"]
        b = math.inf if high is None else (high - p["mean"]) / p["sd"]
        return stats.truncnorm(a=a, b=b, loc=p["mean"], scale=p["sd"])
    if family == "lognormal":
        if not p["sd_log"] > 0:
            raise _bad(name, "sd_log must be positive", p["sd_log"], "sd_log > 0")
        return stats.lognorm(s=p["sd_log"], scale=math.exp(p["mean_log"]))
    if not (p["a"] > 0 and p["b"] > 0):
        raise _bad(name, "beta shape parameters must be positive", (p["a"], p["b"]), "a, b > 0")
    return stats.beta(p["a"], p["b"], loc=p["low"], scale=p["high"] - p["low"])


def _unbounded(dist: DistributionLike) -> bool:
    if dist.distribution == "lognormal":
        return True
    return dist.distribution == "normal" and (dist.low is None or dist.high is None)


def transform_unit_samples(
    u: npt.ArrayLike,
    distributions: Sequence[DistributionLike],
    *,
    names: Sequence[str] | None = None,
    tail: float = UNBOUNDED_TAIL,
) -> FloatArray:
    """Map unit-cube samples to parameter values by inverse CDFs.

    Parameters
    ----------
    u : (n, k) float array in [0, 1]
        Unit samples (LHS, Sobol', Morris grid ...).
    distributions : sequence of k DistributionLike
        One spec per column.
    names : sequence of k str, optional
        Parameter names for error messages.
    tail : float
        For distributions with unbounded support only, ``u`` is clipped to
        ``[tail, 1 - tail]`` so 0 and 1 map to finite quantiles (see ``UNBOUNDED_TAIL``).

    Returns
    -------
    (n, k) float array
        Parameter values in each distribution's unit; monotone increasing in ``u`` per column.

    Raises
    ------
    ScenarioError
        For an invalid spec; ValueError for a shape mismatch or ``u`` outside [0, 1].
    """
    arr = np.asarray(u, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(distributions):
        raise ValueError(
            f"unit samples of shape {arr.shape}: expected (n, {len(distributions)}) for "
            f"{len(distributions)} distributions"
        )
    if arr.size and (np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0):
        raise ValueError("unit samples must lie in [0, 1]")
    if not 0.0 < tail < 0.5:
        raise ValueError(f"tail = {tail!r}: expected 0 < tail < 0.5")
    labels = list(names) if names is not None else [f"x{i}" for i in range(len(distributions))]
    out = np.empty_like(arr)
    for j, dist in enumerate(distributions):
        frozen = _frozen(dist, labels[j])
        col = np.clip(arr[:, j], tail, 1.0 - tail) if _unbounded(dist) else arr[:, j]
        out[:, j] = frozen.ppf(col)
    return out


def latin_hypercube(n: int, k: int, rng: np.random.Generator) -> FloatArray:
    """Latin hypercube sample in the unit cube.

    Parameters
    ----------
    n : int
        Number of points (> 0).
    k : int
        Number of dimensions (> 0).
    rng : numpy.random.Generator
        Source of the seed for scipy's ``qmc.LatinHypercube`` (scrambled, i.e. uniform within
        cells); the same generator state gives the same design.

    Returns
    -------
    (n, k) float array in [0, 1)
    """
    if n < 1 or k < 1:
        raise ValueError(f"latin_hypercube(n={n}, k={k}): expected n >= 1 and k >= 1")
    seed = int(rng.integers(0, 2**63 - 1))
    engine = qmc.LatinHypercube(d=k, rng=np.random.default_rng(seed))
    return np.asarray(engine.random(n), dtype=np.float64)


def sensitivity_problem(
    names: Sequence[str],
    specs: Sequence[DistributionLike | tuple[float, float]]
    | Mapping[str, DistributionLike | tuple[float, float]],
) -> dict[str, Any]:
    """Build a SALib problem over uncertain parameters.

    Parameters
    ----------
    names : sequence of k str
        Parameter names (unique).
    specs : sequence of k specs, or mapping name -> spec
        Each either a :class:`DistributionLike` or a ``(low, high)`` pair meaning uniform.

    Returns
    -------
    dict
        ``{"num_vars": k, "names": [...], "bounds": [[0, 1]] * k, "distributions": [...]}``.
        SALib samples the unit cube; :func:`sample` maps to values.
    """
    labels = [str(n) for n in names]
    if not labels or len(set(labels)) != len(labels):
        raise ScenarioError(
            None,
            "parameter names must be non-empty and unique",
            key_path="uncertainties",
            value=labels,
        )
    seq = [specs[n] for n in labels] if isinstance(specs, Mapping) else list(specs)
    if len(seq) != len(labels):
        raise ValueError(f"{len(labels)} names but {len(seq)} distribution specs")
    dists: list[DistributionLike] = []
    for name, spec in zip(labels, seq, strict=True):
        if isinstance(spec, tuple):
            lo, hi = (float(v) for v in spec)
            dist: DistributionLike = DistributionSpec("uniform", low=lo, high=hi)
        else:
            dist = spec
        _frozen(dist, name)
        dists.append(dist)
    return {
        "num_vars": len(labels),
        "names": labels,
        "bounds": [[0.0, 1.0] for _ in labels],
        "distributions": dists,
    }


def _salib_problem(problem: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "num_vars": int(problem["num_vars"]),
        "names": list(problem["names"]),
        "bounds": [list(b) for b in problem["bounds"]],
    }


def sample(problem: Mapping[str, Any], method: Method, n: int, seed: int) -> FloatArray:
    """Draw a design for a sensitivity method, in parameter values.

    Parameters
    ----------
    problem : dict
        From :func:`sensitivity_problem`.
    method : {"sobol", "morris"}
        ``"sobol"``: Saltelli's scheme on a scrambled Sobol' sequence without second-order terms,
        ``n * (k + 2)`` rows (``n`` should be a power of 2). ``"morris"``: ``n`` trajectories on a
        4-level grid, ``n * (k + 1)`` rows.
    n : int
        Base sample size (Sobol') or number of trajectories (Morris).
    seed : int
        Seed for SALib's sampler.

    Returns
    -------
    (rows, k) float array
        Parameter values, one column per parameter in ``problem["names"]`` order.
    """
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if n < 1:
        raise ValueError(f"n = {n}: expected a positive sample size")
    salib = _salib_problem(problem)
    if method == "sobol":
        if n & (n - 1):
            logger.warning("Sobol' sample size %d is not a power of 2; balance is lost", n)
        unit = sobol_sample.sample(salib, n, calc_second_order=False, scramble=True, seed=seed)
    elif method == "morris":
        unit = morris_sample.sample(salib, n, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        raise ValueError(f"method = {method!r}: expected 'sobol' or 'morris'")
    return transform_unit_samples(
        np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0),
        problem["distributions"],
        names=problem["names"],
    )


def analyse(
    problem: Mapping[str, Any],
    method: Method,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    seed: int,
) -> pd.DataFrame:
    """Sensitivity indices from a design made by :func:`sample` and its model outputs.

    Parameters
    ----------
    problem : dict
        From :func:`sensitivity_problem`.
    method : {"sobol", "morris"}
        Must match the design.
    X : (rows, k) float array
        The design from :func:`sample` (parameter values). Sobol' indices need only ``Y``; Morris
        uses ``X`` to find which parameter moved in each step and in which direction.
    Y : (rows,) float array
        Model output per design row (one scalar outcome, e.g. a metric in the target year).
    seed : int
        Seed for the bootstrap confidence intervals.

    Returns
    -------
    DataFrame
        One row per parameter. Sobol': ``parameter, S1, S1_conf, ST, ST_conf`` (first-order and
        total indices, shares of output variance; ``*_conf`` are 95% bootstrap half-widths).
        Morris: ``parameter, mu_star, mu_star_conf, sigma`` in the output's unit per move across
        two thirds of the unit (quantile) range of the parameter (SALib's elementary effect with
        4 levels).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    salib = _salib_problem(problem)
    x = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64).ravel()
    if x.ndim != 2 or x.shape[0] != y.size or x.shape[1] != salib["num_vars"]:
        raise ValueError(
            f"design of shape {x.shape} and {y.size} outputs: expected (rows, "
            f"{salib['num_vars']}) and rows outputs"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("model outputs contain NaN or infinite values")
    if method == "sobol":
        res = sobol_analyze.analyze(
            salib, y, calc_second_order=False, num_resamples=NUM_RESAMPLES, seed=seed
        )
        return pd.DataFrame(
            {
                "parameter": salib["names"],
                "S1": np.asarray(res["S1"], dtype=np.float64),
                "S1_conf": np.asarray(res["S1_conf"], dtype=np.float64),
                "ST": np.asarray(res["ST"], dtype=np.float64),
                "ST_conf": np.asarray(res["ST_conf"], dtype=np.float64),
            }
        )
    if method == "morris":
        res = morris_analyze.analyze(
            salib, x, y, num_resamples=NUM_RESAMPLES, num_levels=MORRIS_LEVELS, seed=seed
        )
        return pd.DataFrame(
            {
                "parameter": salib["names"],
                "mu_star": np.asarray(res["mu_star"], dtype=np.float64),
                "mu_star_conf": np.asarray(res["mu_star_conf"], dtype=np.float64),
                "sigma": np.asarray(res["sigma"], dtype=np.float64),
            }
        )
    raise ValueError(f"method = {method!r}: expected 'sobol' or 'morris'")
