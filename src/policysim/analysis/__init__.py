"""Analysis of ensemble results: target attainment, paired comparison, hindcast scores,
sensitivity analysis and scenario discovery.

Pure functions over pandas/numpy objects; no plotting, no model code, no file writing.
"""

from __future__ import annotations

from policysim.analysis.comparison import paired_comparison, unit_disagreement
from policysim.analysis.discovery import PrimBox, PrimResult, prim_box
from policysim.analysis.hindcast import crps_ensemble, pit_values, read_observed, score_hindcast
from policysim.analysis.intervals import (
    mean_difference_interval,
    paired_proportion_difference,
    wilson_interval,
)
from policysim.analysis.sensitivity import (
    DistributionLike,
    DistributionSpec,
    analyse,
    latin_hypercube,
    sample,
    sensitivity_problem,
    transform_unit_samples,
)
from policysim.analysis.targets import (
    TargetLike,
    UnitCounts,
    attainment,
    combine_unit_counts,
    fan_quantiles,
    first_year_met,
    max_half_width,
    met,
    target_outcomes,
    target_series,
    unit_counts,
    unit_probabilities,
    unit_probabilities_from_counts,
)

__all__ = [
    "DistributionLike",
    "DistributionSpec",
    "PrimBox",
    "PrimResult",
    "TargetLike",
    "UnitCounts",
    "analyse",
    "attainment",
    "combine_unit_counts",
    "crps_ensemble",
    "fan_quantiles",
    "first_year_met",
    "latin_hypercube",
    "max_half_width",
    "mean_difference_interval",
    "met",
    "paired_comparison",
    "paired_proportion_difference",
    "pit_values",
    "prim_box",
    "read_observed",
    "sample",
    "score_hindcast",
    "sensitivity_problem",
    "target_outcomes",
    "target_series",
    "transform_unit_samples",
    "unit_counts",
    "unit_disagreement",
    "unit_probabilities",
    "unit_probabilities_from_counts",
    "wilson_interval",
]
