"""Scenario discovery with PRIM (Friedman & Fisher 1999, "Bump hunting in high-dimensional
data", Statistics and Computing 9:123-143; as used in robust decision making, Bryant & Lempert
2010).

Given the sampled parameters of each run and a boolean "case of interest" per run (for example:
the run misses the 2030 county target), PRIM peels a box that holds many cases of interest
(coverage) at a high concentration (density), in few parameters. Peeling: at every step, each
candidate removes the ``alpha`` share of the remaining runs with the lowest or the highest value of
one parameter; the candidate leaving the highest density wins. Peeling stops before the box would
hold less than ``min_support`` of all runs. Pasting is not done.

Definitions (over all runs): coverage = cases of interest in the box / all cases of interest;
density = cases of interest in the box / runs in the box; support = runs in the box / all runs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["PrimBox", "PrimResult", "prim_box"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrimBox:
    """One box of a peeling trajectory.

    Attributes
    ----------
    lower, upper : dict of str to float
        Inclusive limits per parameter (parameter units); a run is in the box when
        ``lower[p] <= x[p] <= upper[p]`` for every parameter.
    restricted : tuple of str
        Parameters whose limits cut into the range of the data, in column order.
    coverage, density, support : float
        Shares in [0, 1] (see the module docstring).
    n_in_box : int
        Runs in the box.
    """

    lower: dict[str, float]
    upper: dict[str, float]
    restricted: tuple[str, ...]
    coverage: float
    density: float
    support: float
    n_in_box: int


@dataclass(frozen=True)
class PrimResult:
    """The peeling trajectory and the selected box.

    Attributes
    ----------
    boxes : tuple of PrimBox
        Trajectory, from the whole data range (index 0) to the last peel.
    selected : int
        Index of the chosen box. :func:`prim_box` chooses the box that maximises
        ``coverage * density`` (ties: the later, smaller box); use :meth:`select` to pick another.
    data_min, data_max : dict of str to float
        Range of each parameter in the data.
    """

    boxes: tuple[PrimBox, ...]
    selected: int
    data_min: dict[str, float]
    data_max: dict[str, float]

    @property
    def box(self) -> PrimBox:
        """The selected box."""
        return self.boxes[self.selected]

    @property
    def limits(self) -> pd.DataFrame:
        """Limits of the selected box: ``parameter, lower, upper, restricted`` (one row each)."""
        b = self.box
        names = list(b.lower)
        return pd.DataFrame(
            {
                "parameter": names,
                "lower": [b.lower[p] for p in names],
                "upper": [b.upper[p] for p in names],
                "restricted": [p in b.restricted for p in names],
            }
        )

    @property
    def trajectory(self) -> pd.DataFrame:
        """Per peel: ``step, coverage, density, support, n_in_box, n_restricted``."""
        return pd.DataFrame(
            {
                "step": np.arange(len(self.boxes)),
                "coverage": [b.coverage for b in self.boxes],
                "density": [b.density for b in self.boxes],
                "support": [b.support for b in self.boxes],
                "n_in_box": [b.n_in_box for b in self.boxes],
                "n_restricted": [len(b.restricted) for b in self.boxes],
            }
        )

    def select(self, step: int) -> PrimResult:
        """The same trajectory with another selected box.

        Raises
        ------
        IndexError
            If ``step`` is not a trajectory index.
        """
        if not 0 <= step < len(self.boxes):
            raise IndexError(f"step {step}: expected 0..{len(self.boxes) - 1}")
        return replace(self, selected=step)

    def describe(self, subject: str = "Cases of interest occur") -> str:
        """The selected box in plain words.

        Parameters
        ----------
        subject : str
            Start of the sentence, e.g. ``"Runs miss the 2030 county target"``.

        Returns
        -------
        str
            E.g. ``"Runs miss the 2030 county target mostly when voucher_additionality <= 0.31
            and firm_entry_rate <= 0.042 (coverage 78%, density 85%, 23% of runs)"``. Limits are
            rounded to 3 significant digits.
        """
        b = self.box
        conditions: list[str] = []
        for p in b.restricted:
            low_cut = b.lower[p] > self.data_min[p]
            high_cut = b.upper[p] < self.data_max[p]
            if low_cut and high_cut:
                conditions.append(f"{b.lower[p]:.3g} <= {p} <= {b.upper[p]:.3g}")
            elif low_cut:
                conditions.append(f"{p} >= {b.lower[p]:.3g}")
            else:
                conditions.append(f"{p} <= {b.upper[p]:.3g}")
        stats = f"(coverage {b.coverage:.0%}, density {b.density:.0%}, {b.support:.0%} of runs)"
        if not conditions:
            return f"{subject} with no clear pattern in the parameters {stats}"
        return f"{subject} mostly when {' and '.join(conditions)} {stats}"


def _make_box(
    names: list[str],
    lower: npt.NDArray[np.float64],
    upper: npt.NDArray[np.float64],
    data_min: npt.NDArray[np.float64],
    data_max: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_],
    y: npt.NDArray[np.bool_],
) -> PrimBox:
    n_in = int(inside.sum())
    hits = int(np.sum(y & inside))
    total_hits = int(y.sum())
    restricted = tuple(
        p for j, p in enumerate(names) if lower[j] > data_min[j] or upper[j] < data_max[j]
    )
    return PrimBox(
        lower={p: float(lower[j]) for j, p in enumerate(names)},
        upper={p: float(upper[j]) for j, p in enumerate(names)},
        restricted=restricted,
        coverage=hits / total_hits if total_hits else math.nan,
        density=hits / n_in if n_in else math.nan,
        support=n_in / y.size,
        n_in_box=n_in,
    )


def _checked_inputs(
    X: pd.DataFrame, y: npt.ArrayLike, alpha: float, min_support: float
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The parameter names, their values as floats and the flags, after the checks of
    :func:`prim_box`."""
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha = {alpha!r}: expected 0 < alpha < 0.5")
    if not 0.0 < min_support <= 1.0:
        raise ValueError(f"min_support = {min_support!r}: expected 0 < min_support <= 1")
    flags = np.asarray(y).astype(bool).ravel()
    if flags.size != len(X):
        raise ValueError(f"{len(X)} runs in X but {flags.size} outcomes in y")
    if not flags.any():
        raise ValueError("no case of interest (y is all False): nothing to discover")
    names = [str(c) for c in X.columns]
    non_numeric = [
        str(c)
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    if non_numeric:
        raise ValueError(f"non-numeric parameter column(s) {', '.join(non_numeric)}")
    values = X.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("parameter values contain NaN or infinite entries")
    return names, values, flags


def _best_peel(
    current: npt.NDArray[np.float64],
    flags: npt.NDArray[np.bool_],
    alpha: float,
    min_count: float,
) -> tuple[int, int, float, npt.NDArray[np.bool_]] | None:
    """The peel of the box holding the runs ``current`` (their ``flags``) that leaves the
    highest density of cases: (column, side 0 low / 1 high, new limit, runs kept); None when no
    peel keeps ``min_count`` runs."""
    # (density, runs kept, column, side, new limit, keep mask)
    best: tuple[float, int, int, int, float, npt.NDArray[np.bool_]] | None = None
    for j in range(current.shape[1]):
        col = current[:, j]
        lo_q, hi_q = np.quantile(col, [alpha, 1.0 - alpha])
        # side 0 peels the low end, side 1 the high end; remove at least the extreme value
        for side, cut in ((0, col < lo_q), (1, col > hi_q)):
            if not cut.any():
                extreme = col.min() if side == 0 else col.max()
                cut = col == extreme
                if cut.all():
                    continue
            keep = ~cut
            n_keep = int(keep.sum())
            if n_keep < min_count:
                continue
            density = float(flags[keep].mean())
            # ties: prefer removing fewer runs (more patient peeling)
            if best is None or (density, n_keep) > (best[0], best[1]):
                limit = float(col[keep].min() if side == 0 else col[keep].max())
                best = (density, n_keep, j, side, limit, keep)
    return None if best is None else best[2:]


def prim_box(
    X: pd.DataFrame,
    y: npt.ArrayLike,
    alpha: float = 0.05,
    min_support: float = 0.05,
) -> PrimResult:
    """Find a box in parameter space where the cases of interest concentrate.

    Parameters
    ----------
    X : DataFrame, (n_runs, k)
        Sampled parameter values per run; numeric (or bool) columns only.
    y : (n_runs,) bool array
        True for a case of interest (e.g. the run misses a target).
    alpha : float, default 0.05
        Peeling share per step, in (0, 0.5) (Friedman & Fisher suggest 0.05-0.10).
    min_support : float, default 0.05
        Smallest share of runs a box may hold, in (0, 1].

    Returns
    -------
    PrimResult
        The trajectory and the box maximising ``coverage * density``.

    Raises
    ------
    ValueError
        For non-numeric or non-finite columns, mismatched lengths, no case of interest, or
        parameters out of range.
    """
    names, values, flags = _checked_inputs(X, y, alpha, min_support)
    n = values.shape[0]
    data_min = values.min(axis=0)
    data_max = values.max(axis=0)
    lower = data_min.copy()
    upper = data_max.copy()
    inside = np.ones(n, dtype=bool)
    boxes = [_make_box(names, lower, upper, data_min, data_max, inside, flags)]
    min_count = min_support * n
    while True:
        idx = np.flatnonzero(inside)
        best = _best_peel(values[idx], flags[idx], alpha, min_count)
        if best is None:
            break
        j, side, limit, keep = best
        if side == 0:
            lower[j] = limit
        else:
            upper[j] = limit
        inside = np.zeros(n, dtype=bool)
        inside[idx[keep]] = True
        boxes.append(_make_box(names, lower, upper, data_min, data_max, inside, flags))
    scores = np.array([b.coverage * b.density for b in boxes])
    selected = int(len(scores) - 1 - np.argmax(scores[::-1]))
    logger.debug("PRIM: %d peels, selected box %d", len(boxes) - 1, selected)
    return PrimResult(
        boxes=tuple(boxes),
        selected=selected,
        data_min={p: float(data_min[j]) for j, p in enumerate(names)},
        data_max={p: float(data_max[j]) for j, p in enumerate(names)},
    )
