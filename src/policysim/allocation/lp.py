"""The allocation model with designations relaxed to [0, 1], as a HiGHS LP built from arrays.

This is the fast re-planning path of :class:`~policysim.allocation.solve.ClosedLoopPlanner`
(``mode="lp"``). It states the same rows as :func:`policysim.allocation.model.build_allocation_model`
(see that module for the mathematics) except that ``designated_by[c, d]`` is continuous in
``[0, 1]``, read as the probability (or share) of designation; the tests check that both
formulations give the same LP optimum. The matrix is assembled once with numpy; a re-solve
changes only column bounds (funds already spent, designations already decided), row bounds (the
rules of past years released, quotas) and the ``need`` coefficients of the threshold rows, all in
place in one persistent ``highspy.Highs`` instance, so the dual simplex restarts from the
previous optimal basis (a warm start). No Pyomo expression is evaluated in a re-solve.

Money is in model units of :data:`~policysim.allocation.model.MONEY_UNIT` CNY, as in the Pyomo
model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from policysim.allocation.model import ModelData
from policysim.allocation.types import INSTRUMENTS, POVERTY_INSTRUMENT, FloatArray

__all__ = ["LPOutcome", "RelaxedAllocationLP"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int32]
INF = float(highspy.kHighsInf)

_RowBounds = tuple[IntArray, FloatArray, FloatArray]
"""Rows of the LP with their new lower and upper bounds."""


@dataclass(frozen=True)
class LPOutcome:
    """Result of one LP solve.

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"infeasible"``, ``"time_limit"`` or HiGHS' name of another status.
    objective : float or None
        LP objective (only when ``status == "optimal"``).
    x : (n_years, n_counties, n_instruments) float array or None
        Funds in model units (only when optimal).
    designation : (n_counties, n_designation_years) float array or None
        Relaxed designation variables in [0, 1].
    budget_dual : (n_years,) float array or None
        Marginal objective per model money unit of each year's budget row.
    iterations : int
        Simplex iterations of the solve (small after a warm start).
    """

    status: str
    objective: float | None
    x: FloatArray | None
    designation: FloatArray | None
    budget_dual: FloatArray | None
    iterations: int


class _Rows:
    """Accumulates rows of a sparse matrix with their bounds."""

    def __init__(self) -> None:
        self.n = 0
        self.r: list[IntArray] = []
        self.c: list[IntArray] = []
        self.v: list[FloatArray] = []
        self.lo: list[FloatArray] = []
        self.hi: list[FloatArray] = []

    def add(
        self,
        n_rows: int,
        row: npt.ArrayLike,
        col: npt.ArrayLike,
        val: npt.ArrayLike,
        lo: float,
        hi: float,
    ) -> IntArray:
        """Add ``n_rows`` rows; ``row`` is the local row (0..n_rows-1) of each entry."""
        r = np.asarray(row, dtype=np.int32).ravel()
        c = np.asarray(col, dtype=np.int32).ravel()
        v = np.broadcast_to(np.asarray(val, dtype=np.float64), np.shape(row)).ravel()
        self.r.append(r + self.n)
        self.c.append(c)
        self.v.append(v.copy())
        self.lo.append(np.full(n_rows, lo))
        self.hi.append(np.full(n_rows, hi))
        out = np.arange(self.n, self.n + n_rows, dtype=np.int32)
        self.n += n_rows
        return out


class RelaxedAllocationLP:
    """The relaxed allocation model in a persistent HiGHS instance.

    Parameters
    ----------
    data : ModelData
        As for :func:`~policysim.allocation.model.build_allocation_model` (``elastic`` must be
        False).
    warm_start : bool
        Start each re-solve from the previous optimal basis (default). Measured with
        ``benchmarks/bench_allocation.py`` on a loaded 2-core machine: real Jiangxi inputs, mean
        re-solve 0.05 s warm against 0.07–0.11 s from scratch with presolve (worst year 0.24 s
        against 0.14–0.21 s: the second year, when many designations become fixed at once, can
        take more dual simplex iterations warm than cold); synthetic inputs, 0.13 s against
        0.35 s. ``False`` clears the basis and solves each re-plan from scratch with presolve.
    """

    def __init__(self, data: ModelData, *, warm_start: bool = True) -> None:
        if data.elastic:
            raise ValueError("RelaxedAllocationLP: the elastic diagnostic model is Pyomo-only")
        self.data = data
        self.warm_start = warm_start
        n_c, n_k, n_t = data.n_counties, len(INSTRUMENTS), len(data.years)
        n_a, n_s, n_d = len(data.target_years), int(data.widths.size), len(data.designation_years)
        self.shape = (n_c, n_k, n_t, n_a, n_s, n_d)
        off = self._columns()
        lower, upper, cost = self._column_bounds(off)
        rows = _Rows()
        self._allocation_rows(rows)
        self._segment_rows(rows)
        self._designation_rows(rows)
        self._pass_model(rows, off, lower, upper, cost)

    def _columns(self) -> int:
        """Column layout: funds x[c, k, t], county totals, response segments u[c, k, a, s] and
        designations z[c, d]. Returns the number of columns."""
        n_c, n_k, n_t, n_a, n_s, n_d = self.shape
        off = 0
        self.col_x = np.arange(n_c * n_k * n_t, dtype=np.int32).reshape(n_c, n_k, n_t)
        off += self.col_x.size
        self.col_total = off + np.arange(n_c * n_t, dtype=np.int32).reshape(n_c, n_t)
        off += self.col_total.size
        self.col_u = off + np.arange(n_c * n_k * n_a * n_s, dtype=np.int32).reshape(
            n_c, n_k, n_a, n_s
        )
        off += self.col_u.size
        self.col_z = off + np.arange(n_c * n_d, dtype=np.int32).reshape(n_c, n_d)
        off += self.col_z.size
        self.n_cols = off

        return off

    def _column_bounds(self, off: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Lower and upper bounds and the objective's cost of every column."""
        data = self.data
        lower = np.zeros(off)
        upper = np.full(off, INF)
        not_poor = ~data.poverty
        upper[self.col_x[not_poor, INSTRUMENTS.index(POVERTY_INSTRUMENT), :].ravel()] = 0.0
        self.x_upper = upper[self.col_x].copy()
        upper[self.col_u] = np.broadcast_to(data.widths, self.col_u.shape)
        upper[self.col_z] = 1.0
        cost = np.zeros(off)
        for j, d in enumerate(data.designation_years):
            cost[self.col_z[:, j]] = float(data.deadlines.get(d, 0.0))
        last = data.years[-1]
        if last in data.target_years:
            a = data.target_years.index(last)
            cost[self.col_u[:, :, a, :]] = (
                data.rd_weight * data.slope_rd + data.index_weight * data.slope_index
            )

        return lower, upper, cost

    def _allocation_rows(self, rows: _Rows) -> None:
        """County totals, the yearly budget, the poverty set-aside, instrument shares and the
        maximum change of a county's total between years."""
        data = self.data
        n_c, n_k, n_t = self.shape[:3]
        cc, kk, tt = np.meshgrid(np.arange(n_c), np.arange(n_k), np.arange(n_t), indexing="ij")
        # County totals: total[c, t] - sum_k x[c, k, t] = 0.
        loc = cc * n_t + tt
        self.row_total = rows.add(
            n_c * n_t,
            np.concatenate([loc.ravel(), np.arange(n_c * n_t)]),
            np.concatenate([self.col_x.ravel(), self.col_total.ravel()]),
            np.concatenate([-np.ones(loc.size), np.ones(n_c * n_t)]),
            0.0,
            0.0,
        )
        # Budget of each year.
        self.row_budget = rows.add(n_t, tt, self.col_x, 1.0, -INF, INF)
        # Poverty set-aside.
        self.row_poverty: IntArray | None = None
        if data.poverty_share_min > 0:
            poor = data.poverty[cc]
            self.row_poverty = rows.add(n_t, tt[poor], self.col_x[poor], 1.0, -INF, INF)
        # Instrument shares (one row per instrument and year, both bounds; unused ones are free).
        self.row_instrument = rows.add(
            n_k * n_t, kk * n_t + tt, self.col_x, 1.0, -INF, INF
        ).reshape(n_k, n_t)
        # Maximum change of county totals between consecutive years.
        self.row_change_up: IntArray | None = None
        self.row_change_down: IntArray | None = None
        if data.max_change is not None and n_t >= 2:
            p = data.max_change
            c2, t2 = np.meshgrid(np.arange(n_c), np.arange(1, n_t), indexing="ij")
            loc2 = np.stack([c2 * (n_t - 1) + t2 - 1] * 2, axis=-1)
            m = n_c * (n_t - 1)
            up_cols = np.stack([self.col_total[c2, t2], self.col_total[c2, t2 - 1]], axis=-1)
            self.row_change_up = rows.add(
                m, loc2, up_cols, np.array([1.0, -(1.0 + p)]), -INF, INF
            ).reshape(n_c, n_t - 1)
            self.row_change_down = rows.add(
                m, loc2, up_cols, np.array([-1.0, 1.0 - p]), -INF, INF
            ).reshape(n_c, n_t - 1)

    def _segment_rows(self, rows: _Rows) -> None:
        """The response segments of a target year are filled by the funds up to it (less the
        lag)."""
        data = self.data
        n_c, n_k, n_t, n_a, n_s, _ = self.shape
        if n_a:
            ca, ka, aa, _ = np.meshgrid(
                np.arange(n_c), np.arange(n_k), np.arange(n_a), np.arange(n_s), indexing="ij"
            )
            rows_u = (ca * n_k + ka) * n_a + aa
            funded = np.array(
                [[t <= a - data.lag for t in data.years] for a in data.target_years], dtype=bool
            )
            cx, kx, ax, tx = np.nonzero(
                np.broadcast_to(funded[None, None, :, :], (n_c, n_k, n_a, n_t))
            )
            base = rows.n
            rows.add(n_c * n_k * n_a, rows_u, self.col_u, 1.0, -INF, 0.0)
            rows.r.append(((cx * n_k + kx) * n_a + ax + base).astype(np.int32))
            rows.c.append(self.col_x[cx, kx, tx])
            rows.v.append(np.full(cx.size, -1.0))

    def _designation_rows(self, rows: _Rows) -> None:
        """Designation thresholds, designations that persist, and quotas of new ones."""
        data = self.data
        n_c, n_k, _, _, n_s, n_d = self.shape
        # Designation threshold: gain[c, d] - need[c, d] * z[c, d] >= 0.
        targets = {a: i for i, a in enumerate(data.target_years)}
        self.row_threshold = np.zeros((n_c, n_d), dtype=np.int32)
        for j, d in enumerate(data.designation_years):
            c1 = np.arange(n_c)
            r = rows.add(n_c, c1, self.col_z[:, j], 1.0, 0.0, INF)
            self.row_threshold[:, j] = r
            if d in targets:
                a = targets[d]
                cg, kg, sg = np.meshgrid(c1, np.arange(n_k), np.arange(n_s), indexing="ij")
                rows.r.append((r[cg]).ravel().astype(np.int32))
                rows.c.append(self.col_u[cg, kg, a, sg].ravel())
                rows.v.append(data.slope_index.ravel().astype(np.float64))
        # Designation persists.
        for j in range(1, n_d):
            c1 = np.arange(n_c)
            rows.add(
                n_c,
                np.stack([c1, c1], axis=1),
                np.stack([self.col_z[:, j], self.col_z[:, j - 1]], axis=1),
                np.array([1.0, -1.0]),
                0.0,
                INF,
            )
        # Quotas of new designations.
        self.quota_years = [d for d in data.designation_years if d in data.quotas]
        self.row_quota = np.zeros(len(self.quota_years), dtype=np.int32)
        for i, q in enumerate(self.quota_years):
            j = data.designation_years.index(q)
            cols = [self.col_z[:, j]]
            vals = [np.ones(n_c)]
            if j > 0:
                cols.append(self.col_z[:, j - 1])
                vals.append(-np.ones(n_c))
            col = np.concatenate(cols)
            self.row_quota[i] = rows.add(
                1, np.zeros(col.size), col, np.concatenate(vals), -INF, INF
            )[0]
        self.quota_first = [data.designation_years.index(q) == 0 for q in self.quota_years]

    def _pass_model(
        self, rows: _Rows, off: int, lower: FloatArray, upper: FloatArray, cost: FloatArray
    ) -> None:
        """The constraint matrix, and the whole LP passed to a persistent HiGHS instance."""
        n_c, n_d = self.shape[0], self.shape[5]
        a_mat = sp.csc_matrix(
            (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))),
            shape=(rows.n, off),
        )
        a_mat.sum_duplicates()
        self.n_rows = rows.n
        self.row_lower = np.concatenate(rows.lo)
        self.row_upper = np.concatenate(rows.hi)
        self.col_lower = lower
        self.col_upper = upper
        self.cost = cost
        lp = highspy.HighsLp()
        lp.num_col_ = off
        lp.num_row_ = rows.n
        lp.col_cost_ = cost
        lp.col_lower_ = lower
        lp.col_upper_ = upper
        lp.row_lower_ = self.row_lower
        lp.row_upper_ = self.row_upper
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a_mat.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a_mat.indices.astype(np.int32)
        lp.a_matrix_.value_ = a_mat.data
        # The private core class: the public ``highspy.Highs`` prints a banner to stdout on
        # construction (library code must not print); the methods used here are the same.
        self.highs: Any = highspy._core._Highs()
        h = self.highs
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        h.passModel(lp)
        self._need = np.ones((n_c, n_d))
        logger.debug(
            "relaxed allocation LP: %d columns, %d rows, %d nonzeros", off, rows.n, a_mat.nnz
        )

    # ----------------------------------------------------------------------------------------
    def update(
        self,
        i0: int,
        spent: FloatArray,
        need: FloatArray,
        fixed: Mapping[tuple[int, int], float],
        designated_before: float,
        county_cap: FloatArray,
    ) -> None:
        """Set the closed-loop state (model units) before a solve.

        Parameters
        ----------
        i0 : int
            Index of the first year to plan; years before it are past.
        spent : (i0, n_counties, n_instruments) float array, model money units
            Funds applied in past years (fixed).
        need : (n_counties, n_designation_years) float array, index points
            Index still missing for each free designation (0 where fixed).
        fixed : mapping (county, designation year) -> 0.0 or 1.0
            Designations already decided.
        designated_before : float
            Counties designated before the first designation year's quota.
        county_cap : (n_counties,) float array, model money units
            Upper bound of each county's yearly total in planned years.
        """
        past = np.arange(self.shape[2]) < i0
        self._set_column_bounds(i0, spent, fixed, county_cap, past)
        self._set_row_bounds(i0, spent, designated_before, past)
        self._set_need(need)

    def _set_column_bounds(
        self,
        i0: int,
        spent: FloatArray,
        fixed: Mapping[tuple[int, int], float],
        county_cap: FloatArray,
        past: npt.NDArray[np.bool_],
    ) -> None:
        """Funds fixed in past years and free (within their static bounds) afterwards; county
        totals within the floor and the cap in planned years; decided designations fixed."""
        data = self.data
        n_c, n_k, n_t, _, _, n_d = self.shape
        x_lo = np.zeros((n_c, n_k, n_t))
        x_hi = self.x_upper.copy()
        if i0:
            x_lo[:, :, :i0] = np.transpose(spent, (1, 2, 0))
            x_hi[:, :, :i0] = x_lo[:, :, :i0]
        tot_lo = np.where(past[None, :], 0.0, data.floor) * np.ones((n_c, 1))
        tot_hi = np.where(past[None, :], INF, county_cap[:, None])
        z_lo = np.zeros((n_c, n_d))
        z_hi = np.ones((n_c, n_d))
        for (c, d), v in fixed.items():
            j = data.designation_years.index(d)
            z_lo[c, j] = z_hi[c, j] = v
        cols = np.concatenate([self.col_x.ravel(), self.col_total.ravel(), self.col_z.ravel()])
        lo = np.concatenate([x_lo.ravel(), tot_lo.ravel(), z_lo.ravel()])
        hi = np.concatenate([x_hi.ravel(), tot_hi.ravel(), z_hi.ravel()])
        self.highs.changeColsBounds(cols.size, cols, lo, hi)

    def _set_row_bounds(
        self,
        i0: int,
        spent: FloatArray,
        designated_before: float,
        past: npt.NDArray[np.bool_],
    ) -> None:
        """The rules: released in past years (their funds are fixed), in force from ``i0`` on."""
        data = self.data
        n_t = self.shape[2]
        budget = np.asarray(data.budget, dtype=np.float64)
        bounds = [self._budget_bounds(i0, spent, budget)]
        if self.row_poverty is not None:
            bounds.append(
                (
                    self.row_poverty,
                    np.where(past, 0.0, data.poverty_share_min * budget),
                    np.full(n_t, INF),
                )
            )
        bounds.append(self._instrument_bounds(budget, past))
        if self.row_change_up is not None and self.row_change_down is not None:
            allow = np.where(past[1:], INF, data.floor) * np.ones((self.shape[0], 1))
            for r in (self.row_change_up, self.row_change_down):
                bounds.append((r.ravel(), np.full(r.size, -INF), allow.ravel()))
        if self.quota_years:
            bounds.append(self._quota_bounds(i0, designated_before))
        rows = np.concatenate([b[0] for b in bounds])
        lo = np.concatenate([b[1] for b in bounds])
        hi = np.concatenate([b[2] for b in bounds])
        self.highs.changeRowsBounds(rows.size, rows, lo, hi)

    def _budget_bounds(self, i0: int, spent: FloatArray, budget: FloatArray) -> _RowBounds:
        """Each year's budget row: what was spent in past years, the budget from ``i0`` on
        (exactly when all of it must be spent, at most otherwise)."""
        n_t = self.shape[2]
        spent_total = spent.sum(axis=(1, 2)) if i0 else np.zeros(0)
        rhs = budget.copy()
        rhs[:i0] = spent_total
        return self.row_budget, rhs if self.data.spend_all else np.full(n_t, -INF), rhs

    def _instrument_bounds(self, budget: FloatArray, past: npt.NDArray[np.bool_]) -> _RowBounds:
        """Instrument shares of each planned year's budget (free when the share is 0 or 1)."""
        data = self.data
        smin = np.array([data.share_min.get(k, 0.0) for k in INSTRUMENTS])[:, None] * budget
        smax = np.array([data.share_max.get(k, 1.0) for k in INSTRUMENTS])[:, None] * budget
        lo = np.where(past[None, :] | (smin <= 0), -INF, smin).ravel()
        hi = np.where(
            past[None, :]
            | (np.array([data.share_max.get(k, 1.0) for k in INSTRUMENTS]) >= 1)[:, None],
            INF,
            smax,
        ).ravel()
        return self.row_instrument.ravel(), lo, hi

    def _quota_bounds(self, i0: int, designated_before: float) -> _RowBounds:
        """Quotas of new designations in planned years (the first one counts the counties
        designated before it); past years' quotas released."""
        data = self.data
        n_c = self.shape[0]
        first_year = data.years[i0]
        q_hi = np.array(
            [
                float(n_c) if q < first_year else float(data.quotas.get(q, n_c))
                for q in self.quota_years
            ]
        )
        q_hi = q_hi + np.where(self.quota_first, designated_before, 0.0)
        return self.row_quota, np.full(q_hi.size, -INF), q_hi

    def _set_need(self, need: FloatArray) -> None:
        """The ``need`` coefficients of the threshold rows (only the changed ones)."""
        changed = np.argwhere(np.abs(need - self._need) > 0.0)
        for c, j in changed:
            self.highs.changeCoeff(
                int(self.row_threshold[c, j]), int(self.col_z[c, j]), -float(need[c, j])
            )
        self._need = need.copy()

    def solve(self, time_limit_s: float) -> LPOutcome:
        """Solve (warm-started from the previous basis when there is one).

        Parameters
        ----------
        time_limit_s : float
            HiGHS time limit, seconds.
        """
        h = self.highs
        h.setOptionValue("time_limit", float(time_limit_s))
        if not self.warm_start:
            h.clearSolver()
        run_status = h.run()
        ms = h.getModelStatus()
        info = h.getInfo()
        iterations = int(info.simplex_iteration_count)
        if run_status == highspy.HighsStatus.kError:
            status = "error"
        elif ms == highspy.HighsModelStatus.kOptimal:
            status = "optimal"
        elif ms in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            status = "infeasible"
        elif ms == highspy.HighsModelStatus.kTimeLimit:
            status = "time_limit"
        else:
            status = h.modelStatusToString(ms)
        if status != "optimal":
            return LPOutcome(status, None, None, None, None, iterations)
        sol = h.getSolution()
        col = np.asarray(sol.col_value, dtype=np.float64)
        row_dual = np.asarray(sol.row_dual, dtype=np.float64)
        x = np.transpose(col[self.col_x], (2, 0, 1))
        z = col[self.col_z]
        return LPOutcome(
            status,
            float(info.objective_function_value),
            x,
            z,
            row_dual[self.row_budget],
            iterations,
        )
