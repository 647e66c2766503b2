"""Command-line interface: ``policysim validate | data | run | compare | frontier | sensitivity |
hindcast | calibrate``.

Only this module prints. User mistakes (:class:`~policysim.errors.PolicysimError`) are printed as
one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from policysim.errors import PolicysimError

app = typer.Typer(
    name="policysim",
    help=(
        "Policy simulation of Jiangxi's 2018 county innovation policy: an agent-based model of "
        "counties, townships and enterprises with an allocation optimiser, run as seeded "
        "ensembles that estimate the probability of reaching each dated target."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(exc: PolicysimError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
    raise typer.Exit(code=exc.exit_code)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files to check.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a key: `--set allocation.strategy=equal`."),
    ] = None,
) -> None:
    """Check scenario files and print one verdict per file.

    Examples:

        policysim validate scenarios/*.yaml

        policysim validate scenarios/jiangxi_baseline.yaml --set ensemble.replications=50
    """
    from policysim.scenario import load_scenario

    failed = 0
    for f in files:
        try:
            loaded = load_scenario(f, overrides or ())
        except PolicysimError as exc:
            failed += 1
            err.print(f"[red]INVALID[/] {exc}", highlight=False)
            continue
        s = loaded.scenario
        out.print(
            f"[green]ok[/] {f}: {s.metadata.name} ({s.allocation.strategy}, "
            f"{s.horizon.base_year}-{s.horizon.end_year}, {len(s.targets)} targets, "
            f"{len(s.uncertainties)} uncertainties)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(code=2)


@app.command()
def data(
    scenario: Annotated[
        Path | None,
        typer.Argument(help="Scenario whose baseline to summarise (default: embedded Jiangxi)."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Baseline source instead: 'embedded', or a folder of CSV files."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Synthesis seed (default 2017).")] = None,
) -> None:
    """Summarise the baseline in use: counties, townships, enterprises and province totals
    against the history file.

    Examples:

        policysim data

        policysim data scenarios/jiangxi_baseline.yaml

        policysim data --source my_province/ --seed 7
    """
    from policysim.data import load_baseline, province_summary

    try:
        kwargs: dict[str, object] = {}
        src: str | Path = "embedded"
        if scenario is not None:
            from policysim.scenario import load_scenario

            spec = load_scenario(scenario).scenario.baseline
            src = spec.source
            kwargs = {
                "synthesis_seed": spec.synthesis_seed,
                "include_subdistricts": spec.include_subdistricts,
                "enterprise_scale": spec.enterprise_scale,
            }
        if source is not None:
            src = source
        if seed is not None:
            kwargs["synthesis_seed"] = seed
        baseline = load_baseline(src, **kwargs)  # type: ignore[arg-type]
        summary = province_summary(baseline)
    except PolicysimError as exc:
        _fail(exc)
        return
    table = Table(title=f"Baseline: {baseline.name}, base year {baseline.base_year}")
    for col in summary.columns:
        table.add_column(str(col), justify="right" if summary[col].dtype.kind in "fi" else "left")
    for row in summary.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    out.print(table)
    synth = ", ".join(f"{k}: {len(v)} columns" for k, v in baseline.synthetic_columns.items() if v)
    out.print(f"Synthetic (seeded) columns: {synth}. See docs/DATA.md.", highlight=False)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return ""
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def main() -> None:
    """Entry point of the ``policysim`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except PolicysimError as exc:  # raised outside a command's own handler
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
