"""The trust-region search of the verified optimiser (:mod:`policysim.experiments.verify`): the
mixes evaluated on common draws, the paired gains between them, and the rounds that move the
incumbent toward the components and instruments while the model says it gains.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from policysim.allocation import INSTRUMENTS
from policysim.experiments.runner import Engine
from policysim.experiments.verify_mix import RULES, FloatArray, Mix
from policysim.experiments.verify_objective import (
    RunOutcomes,
    _concat,
    _paired,
    objective_of_runs,
    target_scores,
)
from policysim.experiments.verify_runs import Evaluator, evaluate_mixes
from policysim.scenario.schema import Scenario

__all__: list[str] = []


class _Search:
    """Bookkeeping of one search: evaluated mixes and their outcomes on the same draws."""

    def __init__(
        self,
        scenario: Scenario,
        surrogate: FloatArray,
        workers: int,
        evaluate: Evaluator | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.scenario = scenario
        self.surrogate = surrogate
        self.workers = workers
        self.evaluate = evaluate
        self.engine = engine
        self.seen: dict[Mix, RunOutcomes] = {}
        self.scale: FloatArray | None = None
        self.n_runs = 0
        #: the plans no accepted step may fall below on any target (the target guard)
        self.references: list[Mix] = []

        #: mixes run on the first screening runs only
        self.partial: dict[Mix, RunOutcomes] = {}

    def _evaluate(self, mixes: Sequence[Mix], runs: slice) -> list[RunOutcomes]:
        if self.evaluate is not None:
            outs = [_take(o, runs) for o in self.evaluate(mixes)]
        else:
            outs = evaluate_mixes(
                self.scenario,
                mixes,
                self.surrogate,
                workers=self.workers,
                engine=self.engine,
                runs=runs,
            )
        self.n_runs += len(mixes) * outs[0].met.shape[0]
        return outs

    def run(self, mixes: Sequence[Mix]) -> None:
        """Run the mixes on every verification run (the rest of them after a screening)."""
        todo = [m for m in dict.fromkeys(mixes) if m not in self.seen]
        fresh = [m for m in todo if m not in self.partial]
        if fresh:
            self.seen.update(zip(fresh, self._evaluate(fresh, slice(None)), strict=True))
        rest = [m for m in todo if m in self.partial]
        if rest:
            n = self.partial[rest[0]].met.shape[0]
            for m, tail in zip(rest, self._evaluate(rest, slice(n, None)), strict=True):
                self.seen[m] = _concat([self.partial.pop(m), tail])

    def screen(self, mixes: Sequence[Mix], n: int) -> _Search:
        """Run the mixes on the first ``n`` verification runs; a view of the search on those
        runs (every mix seen so far, cut to them)."""
        todo = [m for m in dict.fromkeys(mixes) if m not in self.seen and m not in self.partial]
        if todo:
            self.partial.update(zip(todo, self._evaluate(todo, slice(0, n)), strict=True))
        view = copy.copy(self)
        view.seen = {
            **{m: _take(o, slice(0, n)) for m, o in self.seen.items()},
            **{m: o for m, o in self.partial.items() if o.met.shape[0] == n},
        }
        return view

    def objective(self, mix: Mix) -> tuple[FloatArray, FloatArray]:
        return objective_of_runs(self.scenario, self.seen[mix], self.scale)

    def target_gains(self, mix: Mix, reference: Mix) -> list[dict[str, float | str]]:
        """Paired differences mix - reference per target on the same draws: the share of runs
        meeting it (exact) and the smoothed score, with their standard errors."""
        e1, s1 = target_scores(self.scenario, self.seen[mix], self.scale)
        e0, s0 = target_scores(self.scenario, self.seen[reference], self.scale)
        rows: list[dict[str, float | str]] = []
        for j, t in enumerate(self.scenario.targets):
            g, se, lo, hi = _paired(e1[:, j], e0[:, j])
            sg, sse, _, _ = _paired(s1[:, j], s0[:, j])
            rows.append(
                {
                    "target": t.name,
                    "gain": g,
                    "gain_se": se,
                    "gain_ci_low": lo,
                    "gain_ci_high": hi,
                    "smoothed_gain": sg,
                    "smoothed_se": sse,
                }
            )
        return rows

    def falls(self, mix: Mix, references: Sequence[Mix] | None = None) -> list[str]:
        """The targets on which ``mix`` falls below a reference (default: :attr:`references`)
        on these draws: the paired mean of the target's smoothed score, or of its exact flag,
        below ``-target_guard_t`` standard errors (below 0 when the standard error is 0)."""
        t_guard = self.scenario.allocation.verification.target_guard_t
        out: list[str] = []
        for ref in self.references if references is None else references:
            if ref == mix:
                continue
            for row in self.target_gains(mix, ref):
                for mean_key, se_key in (("smoothed_gain", "smoothed_se"), ("gain", "gain_se")):
                    m, se = float(row[mean_key]), float(row[se_key])
                    bound = t_guard * se if np.isfinite(se) else 0.0
                    if m < -max(bound, 1e-12) and row["target"] not in out:
                        out.append(str(row["target"]))
        return out

    def gain(self, mix: Mix, incumbent: Mix) -> dict[str, float]:
        e1, s1 = self.objective(mix)
        e0, s0 = self.objective(incumbent)
        g, _se, lo, hi = _paired(e1, e0)
        sg, sse, _, _ = _paired(s1, s0)
        return {
            "gain": g,
            "gain_ci_low": lo,
            "gain_ci_high": hi,
            "smoothed_gain": sg,
            "smoothed_se": sse,
        }


def _take(out: RunOutcomes, runs: slice) -> RunOutcomes:
    return RunOutcomes(out.met[runs], out.value[runs], out.counties[runs], out.provincial[runs])


def _better(gain: Mapping[str, float], min_t: float) -> bool:
    """Accept a step: the exact objective does not fall and the smoothed one rises by more than
    ``min_t`` standard errors (strictly positive when its standard error is 0)."""
    sg, se = gain["smoothed_gain"], gain["smoothed_se"]
    if gain["gain"] < -1e-12:
        return False
    if not np.isfinite(se):
        return sg > 1e-12
    return sg > max(min_t * se, 1e-12)


def _trust_region(
    search: _Search,
    incumbent: Mix,
    directions: Sequence[str],
    *,
    instruments: bool,
    start_iteration: int,
    log: list[dict[str, Any]],
) -> Mix:
    spec = search.scenario.allocation.verification
    r = spec.radius
    it = start_iteration
    rounds = 0
    while rounds < spec.max_iterations and r >= spec.min_radius - 1e-12:
        rounds += 1
        it += 1
        cands = [incumbent.toward_component(c, r) for c in directions]
        if instruments and any(incumbent.weight(x) > 0 for x in RULES):
            cands += [incumbent.toward_instrument(k, r) for k in range(len(INSTRUMENTS))]
        cands = [c for c in dict.fromkeys(cands) if c != incumbent]
        if not cands:
            break
        n_cands = len(cands)
        if search.evaluate is None and 2 <= spec.screen < spec.replications:
            # screening: every candidate on the first runs; only the best few that keep every
            # target there go on to all the runs (where they are judged)
            view = search.screen(cands, spec.screen)
            scored = [(c, view.gain(c, incumbent), view.falls(c)) for c in cands]
            scored.sort(key=lambda cgf: (not cgf[2], cgf[1]["smoothed_gain"]), reverse=True)
            cands = [c for c, _, _ in scored[: spec.screen_keep]]
        search.run(cands)
        gains = [(c, search.gain(c, incumbent), search.falls(c)) for c in cands]

        def rank(cgf: tuple[Mix, dict[str, float], list[str]]) -> tuple[float, float]:
            return (cgf[1]["gain"], cgf[1]["smoothed_gain"])

        top = max(gains, key=rank)
        # the target guard: a candidate that falls below a reference on any target is not
        # taken, whatever it gains on the objective
        admissible = [cgf for cgf in gains if not cgf[2]]
        best, g, _ = max(admissible, key=rank) if admissible else top
        ok = bool(admissible) and _better(g, spec.min_t)
        ex, _ = search.objective(best if ok else incumbent)
        log.append(
            {
                "iteration": it,
                "radius": r,
                "candidates": n_cands,
                "screened_out": n_cands - len(cands),
                "best_candidate": best.describe(),
                **g,
                "guarded_out": len(gains) - len(admissible),
                "guard": (
                    ""
                    if not top[2]
                    else f"{top[0].describe()} (objective {top[1]['gain']:+.4g}) falls on "
                    + ", ".join(top[2])
                ),
                "accepted": bool(ok),
                "objective": float(ex.mean()),
                "plan": (best if ok else incumbent).describe(),
            }
        )
        if ok:
            incumbent = best
        else:
            r /= 2.0
    return incumbent
