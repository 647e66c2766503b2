"""``policysim sensitivity``: Sobol' indices or Morris screening of a scenario's targets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from policysim.commands._common import (
    Force,
    OneLineErrors,
    OutDir,
    Overrides,
    Quiet,
    Resume,
    ScenarioFile,
    Scheduler,
    Seed,
    StudyDirectory,
    Workers,
    check_before_work,
    out,
    print_written,
    resolved_seed,
    study_dir,
)
from policysim.errors import ScenarioError

if TYPE_CHECKING:
    from policysim.studies.sensitivity import SensitivityResult

__all__ = ["register"]


Method = Annotated[str, typer.Option(help="`sobol` (first-order and total indices) or `morris`.")]
Samples = Annotated[
    int | None,
    typer.Option(
        help="Sobol': base sample N, a power of 2 (runs = N x (factors + 2)); Morris: "
        "trajectories (runs = N x (factors + 1)). Default 64 (Sobol') or 20 (Morris)."
    ),
]
Levers = Annotated[
    bool,
    typer.Option(
        "--levers",
        help="Also vary the budget (x0.5-1.5) and the factor-formula weights.",
    ),
]


def sensitivity(
    scenario: ScenarioFile,
    method: Method = "sobol",
    samples: Samples = None,
    workers: Workers = 1,
    seed: Seed = None,
    out_dir: OutDir = None,
    levers: Levers = False,
    scheduler: Scheduler = None,
    overrides: Overrides = None,
    quiet: Quiet = False,
    resume: Resume = False,
    force: Force = False,
) -> None:
    """Which uncertain parameters drive each target: global sensitivity of every target's
    attainment (0/1 per run) and of its metric in the target year, with 95% intervals; a
    table (CSV), plots, scenario discovery of the misses (PRIM) and an HTML report.

    Examples:

        policysim sensitivity scenarios/jiangxi_baseline.yaml --method morris --samples 10

        policysim sensitivity scenarios/jiangxi_baseline.yaml --samples 64 --workers 4

        policysim sensitivity scenarios/jiangxi_baseline.yaml --levers --out results/sa

        policysim sensitivity scenarios/jiangxi_baseline.yaml --out results/sa --resume
    """
    from policysim.scenario import load_scenario
    from policysim.studies.runs import study_key
    from policysim.studies.sensitivity import scenario_sensitivity, write_sensitivity

    with OneLineErrors(out_dir) as errors:
        check_before_work(out_dir=out_dir, resume=resume, workers=workers,
                          scheduler=scheduler)  # fmt: skip
        loaded = load_scenario(scenario, overrides or ())
        _check_method(method, scenario)
        target = errors.writes_to(study_dir(out_dir, loaded, f"sensitivity-{method}"))
        root_seed = resolved_seed(loaded, seed)
        run_key = study_key([loaded], root_seed, method=method, samples=samples, levers=levers)
        with StudyDirectory(target, command="sensitivity", resume=resume, force=force,
                            key=run_key) as study:  # fmt: skip
            result = scenario_sensitivity(
                loaded,
                method="sobol" if method == "sobol" else "morris",
                samples=samples,
                seed=root_seed,
                workers=workers,
                scheduler=scheduler,
                levers=levers,
                store=None if levers else target / "runs",
                progress=not quiet,
            )
            written = study.finish(write_sensitivity(result, target))
    if not quiet:
        _print_sensitivity(result, written)


def _check_method(method: str, scenario: Path) -> None:
    """``--method`` must be ``sobol`` or ``morris``."""
    if method not in ("sobol", "morris"):
        raise ScenarioError(
            scenario,
            "unknown sensitivity method",
            key_path="--method",
            value=method,
            expected="sobol or morris",
        )


def _print_sensitivity(result: SensitivityResult, written: dict[str, Path]) -> None:
    """The leading factor of each output, the notes and the files written."""
    out.print(
        f"{result.n_runs} runs ({result.method}, N = {result.samples}, "
        f"{len(result.problem['names'])} factors) in {result.seconds:.1f} s",
        highlight=False,
    )
    table = Table(title="Leading factor per output")
    key = "ST" if result.method == "sobol" else "mu_star"
    for col in ("output", "parameter", key, "interval"):
        table.add_column(col)
    for output, rows in result.indices.groupby("output", sort=False):
        if bool(rows["constant"].iloc[0]):
            table.add_row(str(output), "(constant output)", "", "")
            continue
        top = rows.sort_values(key, ascending=False).iloc[0]
        table.add_row(
            str(output),
            str(top["parameter"]),
            f"{float(top[key]):.3g}",
            f"± {float(top[key + '_conf']):.2g}",
        )
    out.print(table)
    for note in result.notes:
        out.print(f"- {note}", highlight=False, markup=False)
    print_written(written)


def register(app: typer.Typer) -> None:
    """Add the ``sensitivity`` command to ``app``."""
    app.command()(sensitivity)
