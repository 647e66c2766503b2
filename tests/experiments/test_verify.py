"""The optimiser verified in the agent-based model (issue 15): known answers and properties."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policysim.allocation import INSTRUMENTS
from policysim.experiments.verify import (
    COMPONENTS,
    RULES,
    Mix,
    RunOutcomes,
    calibration_table,
    evaluate_mixes,
    objective_of_runs,
    verify,
)
from policysim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"
SHARES = (0.2, 0.2, 0.2, 0.2, 0.2, 0.0)  # INSTRUMENTS order, no poverty programme


def _tiny(*overrides: str):  # type: ignore[no-untyped-def]
    return load_scenario(TINY, ("allocation.strategy=optimal", *overrides)).scenario


# -------------------------------------------------------------------------------------------
# known answer: two counties, one can reach the threshold with the money, one cannot


def _two_county_model(scenario, need_share: float, surrogate_to_a: float):  # type: ignore[no-untyped-def]
    """A closed-form stand-in for the agent-based model with two counties, A and B.

    Every rule splits the money evenly (A gets half); the surrogate's plan gives A the share
    ``surrogate_to_a``. County A is designated by the deadline iff its share of the money is at
    least ``need_share``; B never is (it cannot reach the threshold with any money). The
    objective (designations at the 2020 deadline) is 1 if A is designated, else 0, in every run.
    """
    n_runs = 4

    def evaluate(mixes: Sequence[Mix]) -> list[RunOutcomes]:
        out = []
        for m in mixes:
            share_a = sum(m.weight(r) for r in RULES) * 0.5 + m.weight("surrogate") * surrogate_to_a
            designated = float(share_a >= need_share - 1e-12)
            out.append(
                RunOutcomes(
                    met=np.zeros((n_runs, len(scenario.targets)), bool),
                    value=np.zeros((n_runs, len(scenario.targets))),
                    counties=np.full((n_runs, 1), designated),
                    provincial=np.zeros((n_runs, 1, 0), bool),
                )
            )
        return out

    return evaluate


def test_two_counties_known_answer_money_to_the_county_that_can_reach() -> None:
    """A needs 80% of the money; the rules give it 50%, the surrogate 100%: the verified plan is
    the surrogate's (objective 1, gain +1 designation against every rule)."""
    sc = _tiny(
        "allocation.objective.kind=designations",
        "allocation.objective.deadline_weights={2020: 1.0}",
    )
    plan = np.zeros((len(sc.horizon.years), 10, len(INSTRUMENTS)))
    v = verify(
        sc,
        evaluate=_two_county_model(sc, need_share=0.8, surrogate_to_a=1.0),
        surrogate=(plan, {"status": "optimal"}),
    )
    assert v.mix.weight("surrogate") == pytest.approx(1.0)
    assert v.record["objective_value"] == pytest.approx(1.0)
    for row in v.record["vs_rules"]:
        assert row["gain"] == pytest.approx(1.0)


def test_two_counties_known_answer_surrogate_wrong_keeps_the_best_rule() -> None:
    """The surrogate sends everything to B (who cannot reach the threshold): no mix designates
    A, so the verified plan is the best rule itself (never worse than the rules)."""
    sc = _tiny(
        "allocation.objective.kind=designations",
        "allocation.objective.deadline_weights={2020: 1.0}",
    )
    plan = np.zeros((len(sc.horizon.years), 10, len(INSTRUMENTS)))
    v = verify(
        sc,
        evaluate=_two_county_model(sc, need_share=0.5, surrogate_to_a=0.0),
        surrogate=(plan, {"status": "optimal"}),
    )
    assert v.mix.weight("surrogate") == 0.0
    assert v.record["objective_value"] == pytest.approx(1.0)  # the rules' 50% suffice
    assert all(row["gain"] == pytest.approx(0.0) for row in v.record["vs_rules"])
    assert [it["accepted"] for it in v.record["iterations"][1:]] == [False] * (
        len(v.record["iterations"]) - 1
    )


# -------------------------------------------------------------------------------------------
# known answer: the target guard refuses a plan that gains on the objective by losing a target


def _trade_off_model(scenario, loses_counties: bool):  # type: ignore[no-untyped-def]
    """The rules meet counties_2020 (3 counties, threshold 2) and miss townships_2020 and
    national_2024; the surrogate's plan meets both of those (+2 of 4 targets) and, when
    ``loses_counties``, misses counties_2020 (1 county) in every run. A mix is scored by its
    surrogate weight (the plan moves linearly between them)."""
    n_runs, names = 6, [t.name for t in scenario.targets]
    jc, jt, jn = (
        names.index("counties_2020"),
        names.index("townships_2020"),
        names.index("national_2024"),
    )
    noise = np.linspace(-0.1, 0.1, n_runs)

    def evaluate(mixes: Sequence[Mix]) -> list[RunOutcomes]:
        out = []
        for m in mixes:
            w = m.weight("surrogate")
            value = np.zeros((n_runs, len(names)))
            value[:, jc] = 3.0 - (2.0 * w if loses_counties else 0.0) + noise
            value[:, jt] = 5.0 + 10.0 * w + noise
            value[:, jn] = 0.0 + 2.0 * w + noise
            met = np.zeros_like(value, dtype=bool)
            met[:, jc] = value[:, jc] >= 2.0
            met[:, jt] = value[:, jt] >= 10.0
            met[:, jn] = value[:, jn] >= 1.0
            out.append(
                RunOutcomes(met, value, np.zeros((n_runs, 1)), np.zeros((n_runs, 1, 0), bool))
            )
        return out

    return evaluate


@pytest.mark.parametrize("loses_counties", [False, True])
def test_target_guard_refuses_a_gain_bought_with_a_target(loses_counties: bool) -> None:
    sc = _tiny("allocation.objective.kind=targets", "allocation.verification.max_iterations=3")
    plan = np.zeros((len(sc.horizon.years), 10, len(INSTRUMENTS)))
    v = verify(
        sc,
        evaluate=_trade_off_model(sc, loses_counties),
        surrogate=(plan, {"status": "optimal"}),
    )
    if not loses_counties:  # the control: the same gain, no target lost, is taken
        assert v.mix.weight("surrogate") > 0.5
        assert v.record["objective_value"] > 0.5
        assert v.record["target_guard"]["falls"] == []
        return
    # every step toward the surrogate that loses counties_2020 is refused: the plan keeps
    # counties_2020 met in every run, whatever the objective would gain
    assert v.record["target_guard"]["falls"] == []
    counties = [r for r in v.record["vs_rules_by_target"] if r["target"] == "counties_2020"]
    assert all(r["gain"] >= 0.0 for r in counties)
    guarded = [it for it in v.record["iterations"][1:] if it["guard"]]
    assert guarded and all("counties_2020" in it["guard"] for it in guarded)
    assert v.mix.weight("surrogate") < 0.5


# -------------------------------------------------------------------------------------------
# objective and calibration: known answers


def test_objective_of_runs_targets_and_designations() -> None:
    sc = _tiny("allocation.objective.kind=targets")
    n_t = len(sc.targets)
    met = np.zeros((2, n_t), bool)
    met[0, :2] = True
    out = RunOutcomes(met, np.zeros((2, n_t)), np.array([[3.0], [5.0]]), np.zeros((2, 1, 0), bool))
    exact, _ = objective_of_runs(sc, out)
    np.testing.assert_allclose(exact, [2 / n_t, 0.0])
    weighted = _tiny(
        "allocation.objective.kind=targets",
        f"allocation.objective.target_weights={{{sc.targets[0].name}: 3.0}}",
    )
    exact_w, _ = objective_of_runs(weighted, out)
    np.testing.assert_allclose(exact_w, [4 / (n_t + 2), 0.0])
    des = _tiny(
        "allocation.objective.kind=designations",
        "allocation.objective.deadline_weights={2020: 2.0}",
    )
    e, s = objective_of_runs(des, out)
    np.testing.assert_allclose(e, [6.0, 10.0])
    np.testing.assert_allclose(s, e)


def test_calibration_table_and_brier_known_answer() -> None:
    """Two counties predicted 0.9 and 0.1; over 10 runs the first is designated 9 times, the
    second once: perfectly calibrated, Brier = 0.09."""
    predicted = np.array([[0.9, 0.1]])
    realised = np.zeros((10, 1, 2), bool)
    realised[:9, 0, 0] = True
    realised[0, 0, 1] = True
    table, scores = calibration_table(predicted, realised, (2020,))
    assert list(table["n"]) == [10, 10]
    np.testing.assert_allclose(table["realised_share"], [0.1, 0.9])
    np.testing.assert_allclose(table["mean_predicted"], [0.1, 0.9])
    assert scores["brier"].iloc[0] == pytest.approx(0.09)
    assert scores["brier_reference"].iloc[0] == pytest.approx(0.25)
    assert scores["skill"].iloc[0] == pytest.approx(1 - 0.09 / 0.25)


def test_mix_moves_stay_convex() -> None:
    m = Mix.vertex("factor_formula", SHARES)
    a = m.toward_component("surrogate", 0.5).toward_instrument(0, 0.5)
    assert sum(a.weights) == pytest.approx(1.0) and sum(a.shares) == pytest.approx(1.0)
    assert a.weight("surrogate") == pytest.approx(0.5)
    assert a.shares[0] == pytest.approx(0.6)
    assert Mix.from_dict(a.as_dict()) == a
    assert len(a.weights) == len(COMPONENTS)


# -------------------------------------------------------------------------------------------
# property: the verified plan is never worse in the model than its starting rule plan


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.sampled_from([0.5, 1.0, 2.0]),
    kind=st.sampled_from(["targets", "designations"]),
    radius=st.sampled_from([0.25, 0.5, 1.0]),
    screen=st.sampled_from([0, 2]),
)
def test_verified_plan_never_worse_than_its_starting_rule(
    budget: float,
    kind: str,
    radius: float,
    screen: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = _tiny()
    values = {y: v * budget for y, v in base.budget.values.items()}
    sc = _tiny(
        f"budget.values={values}",
        f"allocation.objective.kind={kind}",
        "allocation.verification.replications=3",
        "allocation.verification.max_iterations=1",
        f"allocation.verification.radius={radius}",
        "allocation.verification.min_radius=0.05",
        f"allocation.verification.screen={screen}",  # 2 of 3 runs: screening, the best kept
        "allocation.verification.screen_keep=1",
        "allocation.solver.open_loop_mode=lp",
        "allocation.response.replications=1",
    )
    v = verify(sc)
    best = v.record["best_rule"]
    shares = tuple(float(sc.allocation.instrument_shares.get(k, 0.0)) for k in INSTRUMENTS)  # type: ignore[call-overload]
    # re-run the verified plan and every rule on the same draws, independently of the search
    mixes = [v.mix, *(Mix.vertex(r, shares) for r in RULES)]
    outs = evaluate_mixes(sc, mixes, v.surrogate_plan)
    exact = [objective_of_runs(sc, o, None)[0].mean() for o in outs]
    assert exact[0] >= exact[1 + RULES.index(best)] - 1e-12
    assert v.record["objective_value"] == pytest.approx(exact[0])
    met = [o.met.astype(float) for o in outs]
    policy = 1 + RULES.index("factor_formula")
    t_guard = sc.allocation.verification.target_guard_t
    # the target guard on these draws: on no target is the plan's share of runs meeting it
    # below the factor formula's or the starting rule's by more than target_guard_t se
    for ref in {policy, 1 + RULES.index(best)}:
        d = met[0] - met[ref]
        se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
        assert not (d.mean(axis=0) < -np.maximum(t_guard * se, 1e-12)).any(), (ref, d.mean(0))


def test_verification_runs_identical_on_the_engine_for_any_worker_count() -> None:
    """The verification runs of several mixes go to the one engine: 1 and 2 workers give the
    same outcomes, run for run."""
    sc = _tiny("allocation.verification.replications=3")
    mixes = [Mix.vertex(r, SHARES) for r in RULES]
    one = evaluate_mixes(sc, mixes, None, workers=1)
    two = evaluate_mixes(sc, mixes, None, workers=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.met, b.met)
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.counties, b.counties)
        np.testing.assert_array_equal(a.provincial, b.provincial)


def test_outcomes_from_the_metric_columns_equal_the_targets_own_definitions() -> None:
    """A verification run's outcomes read from the metric columns (no long frame) are those of
    the targets' own definitions on the frame, run for run."""
    from policysim.experiments.verify_objective import _outcomes, _outcomes_of_columns
    from policysim.simulation import simulate

    sc = _tiny()
    for seed in (0, 1):
        res = simulate(sc, seed, township_metrics=())
        a = _outcomes(sc, res.metrics)
        b = _outcomes_of_columns(sc, res.columns)
        for x, y in zip(vars(a).values(), vars(b).values(), strict=True):
            np.testing.assert_array_equal(x, y)
        assert b.provincial.shape == (1, 1, 10)


def test_response_curves_identical_on_the_engine() -> None:
    """The response curves' model runs sent to two worker processes give the same curves, value
    for value, as in this process."""
    from policysim.coupling.response import estimate_response
    from policysim.experiments.runner import Engine
    from policysim.simulation import baseline_for

    sc = _tiny("allocation.response.replications=1")
    args = (sc, baseline_for(sc), sc.parameters(), 7)
    here = estimate_response(*args)
    with Engine(2, None) as engine:
        there = estimate_response(*args, engine)
    for name in ("index_gain", "rd_gain_cny", "baseline_index", "breakpoints_cny"):
        np.testing.assert_array_equal(getattr(here, name), getattr(there, name))


def test_response_curves_on_common_random_numbers() -> None:
    """The funded and unfunded runs of the response curves share their random numbers: a
    breakpoint whose plan is zero money gives exactly zero gain (each run had its own streams
    when one SeedSequence object was handed to them in turn)."""
    from policysim.coupling.response import estimate_response
    from policysim.simulation import baseline_for

    sc = _tiny(
        "allocation.response.replications=2",
        "allocation.response.breakpoints_100m_cny=[0, 1.0e-12]",
    )
    curves = estimate_response(sc, baseline_for(sc), sc.parameters(), 7)
    np.testing.assert_allclose(curves.index_gain, 0.0, atol=1e-9)  # index points
    np.testing.assert_allclose(curves.rd_gain_cny, 0.0, atol=1e-3)  # CNY


def test_response_curves_shared_by_the_optimiser_variants_of_a_scenario() -> None:
    """The curves are runs of the model with fixed plans: the optimiser's own settings (strategy,
    objective, solver, verification) and the name do not change their key; what the model or
    the estimation reads does."""
    from policysim.coupling.cache import _cache_key

    opt = _tiny()
    closed = load_scenario(
        TINY,
        (
            "allocation.strategy=closed_loop",
            "allocation.objective.kind=targets",
            "allocation.solver.closed_loop_mode=mip",
            "allocation.verification.replications=5",
            "metadata.name=other",
        ),
    ).scenario
    assert _cache_key(opt, "response") == _cache_key(closed, "response")
    assert _cache_key(opt, "optimal-plan") != _cache_key(closed, "optimal-plan")
    for change in ("allocation.response.replications=2", "budget.growth_after_last_pct=5"):
        assert _cache_key(_tiny(change), "response") != _cache_key(opt, "response"), change
