"""``policysim compare`` and ``policysim frontier``: strategies side by side, and the budget curve.

``register(app)`` adds both commands to a typer app; :mod:`policysim.cli` calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from policysim.commands._common import (
    Force,
    Lang,
    OneLineErrors,
    Overrides,
    Quiet,
    Replications,
    Resume,
    Scheduler,
    Seed,
    StudyDirectory,
    Workers,
    check_before_work,
    check_lang,
    err,
    out,
    print_briefing,
    resolved_seed,
    timestamped_dir,
)
from policysim.errors import ScenarioError

if TYPE_CHECKING:
    from policysim.studies.compare import ComparisonResult
    from policysim.studies.frontier import FrontierResult

#: Most budget levels of ``frontier --budgets`` (each level is a whole ensemble).
MAX_BUDGET_LEVELS = 100

__all__ = ["register"]


def _out_under_results(study: str) -> Any:
    """The ``--out`` option of a study whose default folder is under ``results/``."""
    return typer.Option(
        "--out",
        help=f"Output folder (default: a new `{study}-<timestamp>/` folder under `results/`).",
    )


#: (the default folder of these studies is under ``results/``, whatever the scenarios' outputs.dir)
CompareOutDir = Annotated[Path | None, _out_under_results("compare")]
FrontierOutDir = Annotated[Path | None, _out_under_results("frontier")]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# -- the options of compare and frontier (the shared ones are in _common) ------------------------

Scenarios = Annotated[
    list[Path], typer.Argument(help="Scenario YAML files; the first is the baseline.")
]
MarginalReplications = Annotated[
    int | None,
    typer.Option(
        help="Baseline runs reused per perturbed prefecture for the marginal value of funds "
        "(default 20; 0: slopes and duals only, no perturbation runs)."
    ),
]
Delta = Annotated[
    float | None,
    typer.Option(
        help="Extra funds per county and year in the perturbation runs, 亿元 (default 0.01)."
    ),
]
Marginal = Annotated[
    bool,
    typer.Option(
        "--marginal",
        help="Also run the marginal value study (where an extra yuan matters most; about a "
        "third of the time of a compare).",
    ),
]
StrategyScenario = Annotated[Path, typer.Argument(help="Scenario YAML file (the strategy).")]
Budgets = Annotated[
    str,
    typer.Option(
        help="Budget levels: the budget of the first planning year in 亿元 (100 million "
        "CNY), as a list `2,4,6` or a range `START:STOP:COUNT` (inclusive, `2:10:9` = 2, 3, "
        "..., 10). The scenario's whole budget series is scaled by level / its first-year "
        "budget. With --factors, the numbers are scale factors instead."
    ),
]
Factors = Annotated[
    bool, typer.Option("--factors", help="Read --budgets as factors of the scenario's budget.")
]
Level = Annotated[float, typer.Option(help="Required probability for the smallest budget (0-1).")]


def compare(
    scenarios: Scenarios,
    replications: Replications = None,
    seed: Seed = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    out_dir: CompareOutDir = None,
    overrides: Overrides = None,
    marginal_replications: MarginalReplications = None,
    delta: Delta = None,
    marginal: Marginal = False,
    lang: Lang = "both",
    quiet: Quiet = False,
    resume: Resume = False,
    force: Force = False,
) -> None:
    """Compare scenarios (allocation strategies) on common random numbers: attainment of every
    target with paired differences against the first scenario, province metrics at the
    deadlines, county designation probabilities and maps, and (with --marginal) where an extra
    yuan matters most. Writes comparison.csv, comparison_metrics.csv, counties.csv, figures/,
    briefing.html (the verdicts and the best strategy in words) and report.html.

    Examples:

        policysim compare scenarios/jiangxi_baseline.yaml scenarios/jiangxi_equal.yaml

        policysim compare scenarios/jiangxi_{baseline,equal,needs_weighted,optimal,closed_loop}.yaml --replications 200 --workers 2 --out results/strategies

        policysim compare scenarios/jiangxi_baseline.yaml scenarios/jiangxi_optimal.yaml --replications 20 --marginal --marginal-replications 0

        policysim compare scenarios/jiangxi_baseline.yaml scenarios/jiangxi_equal.yaml --out results/cmp --resume
    """
    from policysim.scenario import load_scenario
    from policysim.studies.compare import compare_scenarios, unique_names, write_comparison
    from policysim.studies.runs import study_key

    target = out_dir if out_dir is not None else timestamped_dir(Path("results"), "compare")
    with OneLineErrors(target):
        check_lang(lang)
        check_before_work(out_dir=out_dir, resume=resume, replications=replications,
                          workers=workers, scheduler=scheduler)  # fmt: skip
        loaded = [load_scenario(s, tuple(overrides or ())) for s in scenarios]
        root_seed = resolved_seed(loaded[0], seed)
        key = study_key(loaded, root_seed, names=unique_names(loaded))
        with StudyDirectory(target, command="compare", resume=resume, force=force,
                            key=key) as study:  # fmt: skip
            result = compare_scenarios(
                loaded,
                replications=replications,
                seed=root_seed,
                workers=workers,
                scheduler=scheduler,
                progress=not quiet,
                marginal_replications=marginal_replications,
                delta_100m_cny=delta,
                marginal=marginal,
                store=target,
                resume=resume,
            )
            written = study.finish(write_comparison(result, target, lang=lang))
    if not quiet:
        _print_comparison(result, written)
    _print_wrote(written)
    failed = sum(r.n_failed for r in result.results.values())
    if failed:
        err.print(f"[bold red]{failed} runs failed[/] (see the report)", highlight=False)
        raise typer.Exit(code=1)


def frontier(
    scenario: StrategyScenario,
    budgets: Budgets,
    factors: Factors = False,
    level: Level = 0.8,
    replications: Replications = None,
    seed: Seed = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    out_dir: FrontierOutDir = None,
    overrides: Overrides = None,
    quiet: Quiet = False,
    resume: Resume = False,
    force: Force = False,
) -> None:
    """Budget frontier: the probability of each target against the provincial budget, and the
    smallest budget on the grid that reaches --level (e.g. 80%) for each target. Writes
    frontier.csv, smallest_budget.csv, figures/frontier.png and report.html.

    Examples:

        policysim frontier scenarios/jiangxi_baseline.yaml --budgets 2:10:9 --replications 100

        policysim frontier scenarios/jiangxi_optimal.yaml --budgets 0.5,1,1.5,2 --factors --level 0.9

        policysim frontier scenarios/jiangxi_baseline.yaml --budgets 2:10:9 --out results/fr --resume
    """
    from policysim.scenario import load_scenario
    from policysim.studies.frontier import budget_frontier, first_year_budget, write_frontier
    from policysim.studies.runs import study_key

    target = out_dir if out_dir is not None else timestamped_dir(Path("results"), "frontier")
    with OneLineErrors(target):
        check_before_work(out_dir=out_dir, resume=resume, replications=replications,
                          workers=workers, scheduler=scheduler)  # fmt: skip
        values = _budget_levels(budgets)
        loaded = load_scenario(scenario, tuple(overrides or ()))
        if factors:
            values = [v * first_year_budget(loaded) for v in values]
        root_seed = resolved_seed(loaded, seed)
        key = study_key([loaded], root_seed, budgets=sorted(set(values)))
        with StudyDirectory(target, command="frontier", resume=resume, force=force,
                            key=key) as study:  # fmt: skip
            result = budget_frontier(
                loaded,
                values,
                replications=replications,
                seed=root_seed,
                workers=workers,
                scheduler=scheduler,
                level=level,
                progress=not quiet,
                store=target,
                resume=resume,
            )
            written = study.finish(write_frontier(result, target))
    if not quiet:
        _print_frontier(result, level)
    _print_wrote(written)


def _budget_levels(budgets: str) -> list[float]:
    """The levels of ``--budgets`` (a list or a range), at most :data:`MAX_BUDGET_LEVELS`."""
    from policysim.studies.frontier import parse_budgets

    values = parse_budgets(budgets)
    if len(values) > MAX_BUDGET_LEVELS:
        raise ScenarioError(
            None,
            "too many budget levels",
            key_path="--budgets",
            value=budgets,
            expected=f"at most {MAX_BUDGET_LEVELS} levels",
        )
    return values


def _print_comparison(result: ComparisonResult, written: dict[str, Path]) -> None:
    """The paired attainment table, the decisions, where an extra yuan matters most (with
    --marginal) and the briefing."""
    from policysim.studies.compare import decision_line, standout

    table = Table(title=f"Attainment vs {result.baseline} (paired, 95%)")
    for col in ("scenario", "target", "P", "difference", "95% interval"):
        table.add_column(col, no_wrap=col == "target", overflow="fold")
    for rec in result.table.to_dict("records"):
        table.add_row(
            escape(str(rec["scenario"])),
            escape(str(rec["target"])),
            _pct(float(rec["probability"])),
            f"{100 * float(rec['diff_vs_baseline']):+.1f} pp",
            f"[{100 * float(rec['diff_ci_low']):+.1f}, {100 * float(rec['diff_ci_high']):+.1f}]",
        )
    out.print(table)
    for rec in result.decisions.to_dict("records"):
        out.print(escape(decision_line({str(k): v for k, v in rec.items()})), highlight=False)
    if result.marginal is not None:
        shown, sentence = standout(result.marginal)
        if len(shown):
            top = shown.sort_values("rank").head(5)
            names = ", ".join(f"{c} {n}" for c, n in zip(top["code"], top["name"], strict=True))
            out.print(f"Where an extra yuan matters most: {escape(names)}", highlight=False)
        out.print(escape(sentence), highlight=False)
    print_briefing(written)


def _print_frontier(result: FrontierResult, level: float) -> None:
    """The smallest first-year budget reaching ``level`` for each target."""
    table = Table(title=f"Smallest first-year budget reaching P >= {level:.0%}")
    table.add_column("target")
    table.add_column("budget (亿元)")
    for name, value in result.smallest.items():
        table.add_row(escape(name), "not reached" if value is None else f"{value:g}")
    out.print(table)


def _print_wrote(written: dict[str, Path]) -> None:
    """How many files were written, and where (the folder of the report)."""
    out.print(
        f"Wrote {len(written)} files to {escape(str(written['report'].parent))}", highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add ``compare`` and ``frontier`` to ``app``."""
    app.command(name="compare")(compare)
    app.command(name="frontier")(frontier)
