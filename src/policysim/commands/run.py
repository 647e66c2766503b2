"""``policysim validate | data | run``: check scenario files, show the embedded baseline, and run
a scenario's ensemble into a run directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from policysim.commands._common import (
    Force,
    Lang,
    OneLineErrors,
    OutDir,
    Overrides,
    Quiet,
    Replications,
    Resume,
    ScenarioFile,
    Scheduler,
    Seed,
    StudyDirectory,
    Workers,
    check_before_work,
    check_lang,
    err,
    out,
    plain,
    print_briefing,
    resolved_seed,
    timestamped_dir,
)
from policysim.commands._common import fail as _fail
from policysim.errors import PolicysimError

if TYPE_CHECKING:
    from policysim.experiments import EnsembleResult

__all__ = ["register"]


def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files to check.")],
    overrides: Overrides = None,
    schema_only: Annotated[
        bool,
        typer.Option(
            "--schema-only",
            help="Check the files against the schema only, not the pre-flight checks of `run` "
            "(baseline, boundary file, allocation feasibility).",
        ),
    ] = False,
) -> None:
    """Check scenario files and print one verdict per file: "ok" means the scenario runs (the
    schema and the pre-flight checks of `run`: baseline, boundary file, feasibility of the
    allocation).

    Examples:

        policysim validate scenarios/*.yaml

        policysim validate scenarios/jiangxi_baseline.yaml --set ensemble.replications=50
    """
    from policysim.experiments.runner import preflight
    from policysim.scenario import load_scenario

    failed = 0
    for f in files:
        try:
            loaded = load_scenario(f, overrides or ())
        except PolicysimError as exc:
            failed += 1
            err.print(Text.assemble(("INVALID ", "red"), plain(exc)), highlight=False)
            continue
        s = loaded.scenario
        try:
            # what `run` checks before any run: the baseline, the allocation's feasibility
            if not schema_only:
                preflight(s)
        except PolicysimError as exc:
            failed += 1
            err.print(Text.assemble(("INVALID ", "red"), plain(exc)), highlight=False)
            continue
        out.print(
            Text.assemble(
                ("ok", "green"),
                plain(
                    f" {f}: {s.metadata.name} ({s.allocation.strategy}, "
                    f"{s.horizon.base_year}-{s.horizon.end_year}, {len(s.targets)} targets, "
                    f"{len(s.uncertainties)} uncertainties)"
                ),
            ),
            highlight=False,
        )
    if failed:
        raise typer.Exit(code=2)


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
    table = Table(title=Text(plain(f"Baseline: {baseline.name}, base year {baseline.base_year}")))
    for col in summary.columns:
        table.add_column(str(col), justify="right" if summary[col].dtype.kind in "fi" else "left")
    for row in summary.itertuples(index=False):
        cells = [_fmt(v) for v in row]
        if "status" in summary.columns:  # keep the table narrow: the first words of the status
            i = list(summary.columns).index("status")
            cells[i] = cells[i].split(" (")[0]
        table.add_row(*(Text(plain(c)) for c in cells))  # names from files are data
    out.print(table)
    synth = ", ".join(f"{k}: {len(v)} columns" for k, v in baseline.synthetic_columns.items() if v)
    out.print(f"Synthetic (seeded) columns: {synth}. See docs/DATA.md.", highlight=False)
    from policysim.data import county_caveat

    caveat = county_caveat(baseline)
    if caveat is not None:
        out.print(f"Note: {caveat}", highlight=False)


Precision = Annotated[
    float | None,
    typer.Option(
        help="Add runs in batches until every target's 95% interval half-width is at most "
        "this (e.g. 0.05), or ensemble.max_replications."
    ),
]


def run(
    scenario: ScenarioFile,
    replications: Replications = None,
    seed: Seed = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    out_dir: OutDir = None,
    overrides: Overrides = None,
    precision: Precision = None,
    resume: Resume = False,
    quiet: Quiet = False,
    lang: Lang = "both",
    force: Force = False,
) -> None:
    """Run a scenario's ensemble, estimate the probability of reaching each target, and write
    the results, figures and an HTML report.

    Examples:

        policysim run scenarios/jiangxi_baseline.yaml --replications 100 --workers 2

        policysim run scenarios/jiangxi_baseline.yaml --precision 0.05 --workers 2

        policysim run scenarios/jiangxi_baseline.yaml --set allocation.strategy=equal --seed 7

        policysim run scenarios/jiangxi_baseline.yaml --out results/base --resume

        policysim run scenarios/jiangxi_baseline.yaml --scheduler tcp://127.0.0.1:8786
    """
    from policysim.experiments import run_ensemble, write_outputs
    from policysim.experiments.runner import resume_key
    from policysim.experiments.store import PARTS_DIR
    from policysim.scenario import load_scenario

    extra = _repeated_args(overrides, replications, seed)

    def on_interrupt(target: Path | None) -> NoReturn:
        _interrupted(scenario, target, extra)

    with OneLineErrors(out_dir, on_interrupt=on_interrupt) as errors:
        check_lang(lang)
        check_before_work(out_dir=out_dir, resume=resume, replications=replications,
                          workers=workers, scheduler=scheduler)  # fmt: skip
        loaded = load_scenario(scenario, overrides or ())
        target = errors.writes_to(
            out_dir if out_dir is not None else _default_run_dir(loaded.name, loaded)
        )
        root_seed = resolved_seed(loaded, seed)
        key = resume_key(loaded, root_seed)
        with StudyDirectory(target, command="run", resume=resume, force=force, key=key) as study:
            result = run_ensemble(
                loaded,
                replications=replications,
                seed=seed,
                workers=workers,
                scheduler=scheduler,
                precision=precision,
                store=target,
                # an interrupted directory with no stored chunk yet starts afresh
                resume=resume and (target / PARTS_DIR / "config.json").is_file(),
                progress=False if quiet else f"run: {loaded.name}",
            )
            written = study.finish(write_outputs(result, target, lang=lang), study_stores=False)
    if not quiet:
        _print_summary(result, written)
        print_briefing(written)
    if result.n_failed:
        _failed_runs(result, written)


def _repeated_args(
    overrides: Sequence[str] | None, replications: int | None, seed: int | None
) -> list[str]:
    """The arguments of ``run`` that the resume hint after Ctrl-C repeats: ``--set``,
    ``--replications`` and ``--seed``."""
    extra = [
        *overrides_args(overrides),
        *(["--replications", str(replications)] if replications else []),
    ]
    extra += ["--seed", str(seed)] if seed is not None else []
    return extra


def _failed_runs(result: EnsembleResult, written: dict[str, Path]) -> NoReturn:
    """Some runs failed: say how many and where they are listed, exit 1."""
    err.print(
        f"[bold red]{result.n_failed} of {result.n_runs} runs failed[/]; "
        f"see {written.get('failures')}",
        highlight=False,
    )
    raise typer.Exit(code=1)


def overrides_args(overrides: Sequence[str] | None) -> list[str]:
    """``--set`` arguments repeating ``overrides``."""
    return [arg for o in overrides or () for arg in ("--set", o)]


def _interrupted(scenario: Path, target: Path | None, args: Sequence[str]) -> NoReturn:
    """Ctrl-C: the finished chunks stay in the run directory; say how to continue."""
    import shlex

    if target is None:
        err.print("\ninterrupted before the run started; nothing was written", highlight=False)
        raise typer.Exit(code=130)
    sets = "".join(f" {shlex.quote(a)}" for a in args)
    err.print(
        f"\ninterrupted; the finished runs are kept in {target}. Resume with:\n"
        f"  policysim run {shlex.quote(str(scenario))} --out {shlex.quote(str(target))}"
        f"{sets} --resume",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(code=130)


def _default_run_dir(name: str, loaded: object) -> Path:
    from policysim.scenario import LoadedScenario

    base = Path("results")
    if isinstance(loaded, LoadedScenario):
        base = Path(loaded.scenario.outputs.dir)
    return timestamped_dir(base, name)


def _print_summary(result: object, written: dict[str, Path]) -> None:
    from policysim.analysis.targets import DEFAULT_MET_AT
    from policysim.experiments import EnsembleResult
    from policysim.report.briefing import verdict

    assert isinstance(result, EnsembleResult)  # internal call
    rule = (
        f"likely met if the interval's lower end >= {DEFAULT_MET_AT:.0%}, likely not met if its "
        f"upper end < {DEFAULT_MET_AT:.0%}, else uncertain"
    )
    n_ok = result.n_runs - result.n_failed
    rate = result.n_runs / result.seconds if result.seconds > 0 else float("nan")
    line = (
        f"{result.n_runs} runs ({n_ok} completed, {result.n_failed} failed) in "
        f"{result.seconds:.1f} s ({rate:.1f} runs/s), root seed {result.root_seed}"
    )
    if result.precision is not None:
        hw = "n/a" if result.half_width is None else f"{result.half_width:.3f}"
        line += f"; precision {result.precision:g} asked, largest half-width {hw}"
    out.print(line, highlight=False)
    if n_ok and result.loaded.scenario.targets:
        attain = result.attainment()
        # every target name whole (the conditions are in the briefing below); at 80 columns the
        # other cells wrap, never the names
        table = Table(
            title=Text(plain(f"Targets: {result.loaded.name}")), caption=f"verdict rule: {rule}"
        )
        longest = max(len(str(t)) for t in attain["target"])
        table.add_column("target", no_wrap=True, min_width=longest)
        for col in ("year", "P(met)", "95% interval", "median [p05, p95]"):
            table.add_column(col, justify="right", overflow="fold")
        table.add_column("verdict", overflow="fold")
        colours = {"likely met": "green", "uncertain": "yellow", "likely not met": "red"}
        for row in attain.to_dict("records"):
            status = verdict(float(row["ci_low"]), float(row["ci_high"]))
            table.add_row(
                Text(plain(row["target"])),
                str(row["year"]),
                f"{row['probability']:.0%}",
                f"{row['ci_low']:.0%}-{row['ci_high']:.0%}",
                f"{_fmt(float(row['median']))} [{_fmt(float(row['p05']))}, {_fmt(float(row['p95']))}]",
                Text(status, style=colours.get(status, "white")),
            )
        out.print(table)
    from policysim.data import county_caveat
    from policysim.simulation import baseline_for

    caveat = county_caveat(baseline_for(result.loaded.scenario))
    if caveat is not None:
        seeds = result.loaded.scenario.baseline.ensemble_seeds()
        out.print(f"Note: {caveat}", highlight=False)
        out.print(
            f"Synthesis seeds sampled over the runs: {', '.join(map(str, seeds))}"
            + (" (one fixed draw: intervals exclude this uncertainty)" if len(seeds) == 1 else ""),
            highlight=False,
        )
    out.print("Written:", highlight=False)
    for name, path in written.items():
        out.print(Text(plain(f"  {name}: {path}")), highlight=False)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return ""
        if v.is_integer():
            return f"{v:,.0f}"
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def register(app: typer.Typer) -> None:
    """Add ``validate``, ``data`` and ``run`` to the application."""
    app.command()(validate)
    app.command()(data)
    app.command()(run)
