"""The surrogate's calibration (:mod:`policysim.experiments.verify`): its predicted probability
that each county is a provincial innovative county at each deadline, against what the model did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from policysim import coupling
from policysim.allocation import project_index
from policysim.experiments.verify_mix import FloatArray
from policysim.scenario.schema import Scenario

__all__ = ["BETWEEN_RUN_INDEX_SD", "calibration_table", "surrogate_probabilities"]

BETWEEN_RUN_INDEX_SD: Final = 5.0
"""Assumption (range 3-8 index points): spread of a county's index across runs (parameter draws,
synthesis seeds, firm dynamics) that the surrogate's mean response curves do not carry; added to
the evaluation noise in the surrogate's designation probabilities."""


def surrogate_probabilities(
    scenario: Scenario, plan: FloatArray, response: Any, deadlines: Sequence[int]
) -> FloatArray:
    """The surrogate's probability that each county is a provincial innovative county at each
    deadline, shape (n_deadlines, n_counties).

    The index the surrogate projects for the plan (its response curves) plus a normal error
    (evaluation noise ``index_noise_sd`` and :data:`BETWEEN_RUN_INDEX_SD`), against a cut-off set
    so that the expected number designated equals the surrogate's own count of batch seats up to
    the deadline (the batch process: a fixed number of seats filled by rank).
    """
    years, _ = coupling.budget_path(scenario)
    index = project_index(plan, response)  # (n_counties, n_years)
    sd = math.hypot(scenario.parameter("index_noise_sd"), BETWEEN_RUN_INDEX_SD)
    quotas = coupling.objective(scenario).max_new_per_year
    out = np.zeros((len(deadlines), index.shape[0]))
    erf = np.vectorize(math.erf)
    for i, d in enumerate(deadlines):
        col = years.index(d) if d in years else len(years) - 1
        seats = min(sum(q for y, q in quotas.items() if y <= d), index.shape[0])
        x = index[:, col]
        lo, hi = float(x.min()) - 10 * sd, float(x.max()) + 10 * sd
        for _ in range(80):  # bisection on the cut-off: sum of probabilities = seats
            mid = 0.5 * (lo + hi)
            p = 0.5 * (1.0 + erf((x - mid) / (sd * math.sqrt(2.0))))
            if p.sum() > seats:
                lo = mid
            else:
                hi = mid
        out[i] = 0.5 * (1.0 + erf((x - 0.5 * (lo + hi)) / (sd * math.sqrt(2.0))))
    return out


def calibration_table(
    predicted: FloatArray, realised: NDArray[np.bool_], deadlines: Sequence[int], bins: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration of predicted against realised designation.

    Parameters
    ----------
    predicted : (n_deadlines, n_counties) float array, probabilities
    realised : (n_runs, n_deadlines, n_counties) bool array

    Returns
    -------
    table : DataFrame
        ``deadline, bin_low, bin_high, n, mean_predicted, realised_share`` (one row per non-empty
        bin of predicted probability; ``n`` counts county-runs).
    scores : DataFrame
        ``deadline, brier, brier_reference, skill, n``: Brier score of the surrogate, of the
        reference that predicts the realised overall share for every county, and the skill
        ``1 - brier / brier_reference``.
    """
    rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, d in enumerate(deadlines):
        p = np.broadcast_to(predicted[i], realised[:, i].shape).ravel()
        y = realised[:, i].ravel().astype(np.float64)
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        for b in range(bins):
            sel = which == b
            if sel.any():
                rows.append(
                    {
                        "deadline": int(d),
                        "bin_low": round(float(edges[b]), 6),
                        "bin_high": round(float(edges[b + 1]), 6),
                        "n": int(sel.sum()),
                        "mean_predicted": float(p[sel].mean()),
                        "realised_share": float(y[sel].mean()),
                    }
                )
        brier = float(np.mean((p - y) ** 2))
        ref = float(np.mean((y.mean() - y) ** 2))
        score_rows.append(
            {
                "deadline": int(d),
                "brier": brier,
                "brier_reference": ref,
                "skill": 1.0 - brier / ref if ref > 0 else float("nan"),
                "n": int(y.size),
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(score_rows)
