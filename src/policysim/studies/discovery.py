"""Scenario discovery: which combinations of uncertain parameters lead to missing a target.

PRIM (:func:`policysim.analysis.prim_box`) peels a box over the sampled parameters of an
ensemble's runs in which the runs that miss a target concentrate. :func:`discover` does this for
one target of an :class:`~policysim.experiments.EnsembleResult`; :func:`discover_runs` does it for
any table of draws and metrics (a sensitivity design, for example), and :func:`describe_miss`
puts the box into plain words with its coverage and density.

>>> from policysim.experiments import run_ensemble
>>> from policysim.studies.discovery import describe_miss, discover
>>> result = run_ensemble("scenarios/jiangxi_baseline.yaml", replications=100, workers=2)
>>> print(describe_miss(discover(result, "counties_2030"), result.loaded.scenario.targets[1]))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from policysim.analysis import PrimResult, TargetLike, prim_box, target_outcomes
from policysim.errors import ScenarioError
from policysim.experiments import EnsembleResult

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SUPPORT",
    "describe_miss",
    "discover",
    "discover_runs",
    "find_target",
    "misses",
]

logger = logging.getLogger(__name__)

#: PRIM peeling share per step. Friedman & Fisher (1999) suggest 0.05-0.10; 0.05 is the
#: patient end of that range.
DEFAULT_ALPHA: Final = 0.05
#: Smallest share of runs a box may hold. Assumption: 0.05 (range 0.02-0.2): below that a box
#: describes a handful of runs of a small ensemble.
DEFAULT_MIN_SUPPORT: Final = 0.05

_NON_PARAMETERS: Final = ("replication", "seed_key")


def find_target(targets: Sequence[TargetLike], name: str) -> TargetLike:
    """The target called ``name``.

    Raises
    ------
    ScenarioError
        If no target has that name (the message lists the names).
    """
    for t in targets:
        if t.name == name:
            return t
    raise ScenarioError(
        None,
        "no target of this name in the scenario",
        key_path="targets",
        value=name,
        expected="one of " + ", ".join(t.name for t in targets) if targets else "a scenario target",
    )


def misses(draws: pd.DataFrame, metrics: pd.DataFrame, target: TargetLike) -> pd.DataFrame:
    """Parameter values and the miss flag of every completed run.

    Parameters
    ----------
    draws : DataFrame
        ``replication`` (optional ``seed_key``) and one numeric column per sampled parameter.
    metrics : DataFrame
        Long metrics with a ``replication`` column (the ensemble's kept rows suffice).
    target : TargetLike
        The target.

    Returns
    -------
    DataFrame
        Index ``replication``: the parameter columns and a bool column ``missed``; runs without
        metrics (failed runs) are left out.
    """
    met, _ = target_outcomes(metrics, target)
    params = draws.drop(columns=[c for c in _NON_PARAMETERS if c in draws.columns])
    params.index = pd.Index(draws["replication"].to_numpy(dtype=np.int64), name="replication")
    params = params.loc[params.index.isin(met.index)]
    out = params.copy()
    out["missed"] = ~met.reindex(params.index).to_numpy(dtype=bool)
    return out


def discover_runs(
    draws: pd.DataFrame,
    metrics: pd.DataFrame,
    target: TargetLike,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_support: float = DEFAULT_MIN_SUPPORT,
) -> PrimResult:
    """PRIM box over the parameters of the runs that miss ``target``.

    Parameters
    ----------
    draws : DataFrame
        ``replication`` and one numeric column per sampled parameter (parameter units).
    metrics : DataFrame
        Long metrics with a ``replication`` column.
    target : TargetLike
        The target.
    alpha, min_support : float
        PRIM peeling share and smallest box share (see :func:`policysim.analysis.prim_box`).

    Returns
    -------
    PrimResult
        The peeling trajectory and the box maximising coverage x density.

    Raises
    ------
    ScenarioError
        If no parameter varies across runs, or no run misses the target (nothing to discover).
    """
    table = misses(draws, metrics, target)
    flags = table.pop("missed").to_numpy(dtype=bool)
    varying = [c for c in table.columns if bool((table[c] != table[c].iloc[0]).any())]
    if not varying:
        raise ScenarioError(
            None,
            "no uncertain parameter varies across the runs: nothing to discover",
            key_path="uncertainties",
            value=list(table.columns),
            expected="at least one uncertainty with a spread",
        )
    if not flags.any():
        raise ScenarioError(
            None,
            f"every one of the {flags.size} runs meets the target: no miss to explain",
            key_path=f"targets.{target.name}",
            value=target.name,
            expected="a target that some runs miss",
        )
    result = prim_box(table[varying], flags, alpha=alpha, min_support=min_support)
    logger.info(
        "discovery for %s: %d of %d runs miss; box coverage %.2f density %.2f",
        target.name,
        int(flags.sum()),
        flags.size,
        result.box.coverage,
        result.box.density,
    )
    return result


def discover(
    result: EnsembleResult,
    target: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_support: float = DEFAULT_MIN_SUPPORT,
) -> PrimResult:
    """PRIM box over an ensemble's draws in which the runs missing ``target`` concentrate.

    Parameters
    ----------
    result : EnsembleResult
        A finished ensemble (its ``draws`` and ``metrics``).
    target : str
        Name of one of the scenario's targets.
    alpha, min_support : float
        PRIM peeling share and smallest box share.

    Returns
    -------
    PrimResult
        ``.box.coverage`` (share of all misses inside the box), ``.box.density`` (share of misses
        among the runs in the box), ``.limits`` and ``.describe()``.

    Raises
    ------
    ScenarioError
        For an unknown target name, an ensemble without uncertainties, or a target met in every
        run.
    """
    t = find_target(result.loaded.scenario.targets, target)
    return discover_runs(result.draws, result.metrics, t, alpha=alpha, min_support=min_support)


def describe_miss(prim: PrimResult, target: TargetLike) -> str:
    """The selected box in plain words, e.g. "Runs miss counties_2030 (provincial innovative
    counties >= 60 in 2030) mostly when firm_entry_rate <= 0.045 (coverage 80%, density 90%,
    30% of runs)"."""
    if target.comparator == "rising":
        condition = f"{target.metric} rising every year to {target.year}"
    else:
        condition = f"{target.metric} {target.comparator} {target.threshold:g} in {target.year}"
    return prim.describe(f"Runs miss {target.name} ({condition})")
