"""The Solara app of ``policysim view``: three pages (explore a scenario, browse runs, one
county). The logic lives in :mod:`~policysim.view.controls`, :mod:`~policysim.view.runs`,
:mod:`~policysim.view.county` and :mod:`~policysim.view.words`; this module only lays it out.

Loaded by Solara's server through ``SOLARA_APP`` (see :mod:`policysim.view.server`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import solara
import solara.lab

from policysim.errors import PolicysimError
from policysim.scenario import LoadedScenario, load_scenario
from policysim.view import controls as ctl
from policysim.view.config import get_config
from policysim.view.county import (
    county_list,
    county_trajectories,
    filter_counties,
    trajectory_figure,
)
from policysim.view.runs import RunJob, RunOutcome, attainment_of, find_runs, side_by_side
from policysim.view.words import attainment_html, page_font_css, say, table_html

logger = logging.getLogger(__name__)

#: Figures of a run directory shown after a run, in this order (those present).
FIGURES = ("attainment_bars", "county_map")


def _lang() -> str:
    return get_config().lang


def _t(en: str, zh: str) -> str:
    return say(en, zh, _lang())


def scenario_files() -> list[Path]:
    """Scenarios given on the command line, then the shipped ones (``scenarios/*.yaml``)."""
    cfg = get_config()
    shipped = sorted(cfg.scenario_dir.glob("*.yaml")) if cfg.scenario_dir.is_dir() else []
    return [*cfg.scenarios, *(p for p in shipped if p not in cfg.scenarios)]


@solara.lab.task  # type: ignore[untyped-decorator]
def run_task(job: RunJob) -> RunOutcome:
    """Run the page's ensemble in a thread (progress 0-100 on the task)."""

    def progress(done: int, total: int) -> None:
        logger.debug("%d of %d runs done", done, total)
        run_task.progress = 100.0 * done / max(total, 1)

    job.progress = progress
    return job.run()


current_job: solara.Reactive[RunJob | None] = solara.reactive(None)
last_command: solara.Reactive[str] = solara.reactive("")


# -----------------------------------------------------------------------------------------------
# explore


@solara.component  # type: ignore[untyped-decorator]
def LeverInputs(
    loaded: LoadedScenario, values: solara.Reactive[dict[str, str]], disabled: bool
) -> None:
    """One text input per lever, labelled with its unit and default, its source below."""
    for c in ctl.lever_controls(loaded):
        label = f"{_t(c.label_en, c.label_zh)} [{c.unit}] ({_t('default', '默认')} {c.default})"

        def set_value(text: str, key: str = c.key) -> None:
            values.set({**values.value, key: text})

        solara.InputText(
            label,
            value=values.value.get(c.key, c.default),
            on_value=set_value,
            continuous_update=False,
            disabled=disabled,
        )
        if c.source:
            solara.Text(f"{_t('source', '来源')}: {c.source}", style={"font-size": "11px"})


@solara.component  # type: ignore[untyped-decorator]
def RunResult(outcome: RunOutcome) -> None:
    """The attainment table with verdict words, the figures and the run directory."""
    if outcome.cancelled:
        solara.Warning(
            _t(
                f"Cancelled; the finished runs are kept in {outcome.directory} "
                "(resume with policysim run ... --out that folder --resume).",
                f"已取消；已完成的运行保存在 {outcome.directory}（可用 --resume 继续）。",
            )
        )
        return
    solara.Success(
        _t(
            f"{outcome.n_runs} runs ({outcome.n_failed} failed) in {outcome.seconds:.1f} s, "
            f"written to {outcome.directory}",
            f"{outcome.n_runs} 次运行（{outcome.n_failed} 次失败），用时 {outcome.seconds:.1f} 秒，"
            f"结果写入 {outcome.directory}",
        )
    )
    solara.HTML(
        tag="div", unsafe_innerHTML=attainment_html(attainment_of(outcome.directory), _lang())
    )
    figures = [outcome.written[k] for k in FIGURES if k in outcome.written]
    figures += [p for k, p in outcome.written.items() if k.startswith("fan_")]
    with solara.Row(style={"flex-wrap": "wrap"}):
        for path in figures:
            solara.Image(str(path), width="520px", classes=["policysim-figure"])
    DownloadLinks(outcome.directory)


@solara.component  # type: ignore[untyped-decorator]
def DownloadLinks(run_dir: Path) -> None:
    """Download buttons for the run's briefing, workbook and report."""
    with solara.Row():
        for name in ("briefing.html", "results.xlsx", "report.html"):
            path = run_dir / name
            if path.is_file():
                solara.FileDownload(lambda p=path: p.read_bytes(), filename=name, label=name)


def start_run(
    loaded: LoadedScenario,
    path: Path,
    values: dict[str, str],
    strategy: str | None,
    counts: tuple[str, str],
) -> str | None:
    """Check the page's values as the CLI would and start the run; the one-line error, or None
    when the run started."""
    try:
        overrides = ctl.build_overrides(loaded, values, strategy)
        n, w = ctl.check_counts(*counts)
        checked = ctl.check_controls(path, overrides)
    except PolicysimError as exc:
        return ctl.one_line(exc)
    cfg = get_config()
    last_command.set(ctl.cli_command(path, overrides, replications=n, workers=w, lang=cfg.lang))
    job = RunJob(checked, n, w, lang=cfg.lang, results_dir=cfg.results_dir)
    current_job.set(job)
    run_task(job)
    return None


@solara.component  # type: ignore[untyped-decorator]
def RunStatus() -> None:
    """Progress of the page's run, the command that reproduces it, then its result."""
    with solara.Column():
        if run_task.pending:
            done = run_task.progress or 0.0
            solara.Text(_t(f"running... {done:.0f}% of the runs", f"运行中……已完成 {done:.0f}%"))
            solara.ProgressLinear(done or True)
        if last_command.value:
            solara.Text(_t("The same run from the command line:", "命令行中的同一运行："))
            solara.Preformatted(last_command.value)
        if run_task.error:
            exc = run_task.exception
            text = ctl.one_line(exc) if isinstance(exc, PolicysimError) else repr(exc)
            solara.Error(text)
        elif run_task.finished and run_task.value is not None:
            RunResult(run_task.value)


@solara.component  # type: ignore[untyped-decorator]
def Explore() -> None:
    """Pick a scenario, change its levers, run an ensemble, see the answer."""
    files = scenario_files()
    choice = solara.use_reactive(str(files[0]) if files else "")
    strategy = solara.use_reactive("")
    values: solara.Reactive[dict[str, str]] = solara.use_reactive({})
    replications = solara.use_reactive("4")
    workers = solara.use_reactive("1")
    error = solara.use_reactive("")

    def load() -> LoadedScenario | str:
        try:
            return load_scenario(choice.value)
        except PolicysimError as exc:
            return ctl.one_line(exc)

    loaded = solara.use_memo(load, dependencies=[choice.value])

    def on_scenario(value: str) -> None:
        choice.set(value)
        values.set({})
        strategy.set("")
        error.set("")

    running = bool(run_task.pending)

    def start() -> None:
        assert isinstance(loaded, LoadedScenario)  # the button exists only then
        problem = start_run(
            loaded,
            Path(choice.value),
            values.value,
            strategy.value or None,
            (replications.value, workers.value),
        )
        error.set(problem or "")

    def cancel() -> None:
        job = current_job.value
        if job is not None:
            logger.info("cancel asked: the run into %s stops after its chunk", job.directory)
            job.cancel()

    with solara.Columns([1, 2]):
        with solara.Column():
            solara.Select(
                _t("scenario", "情景"),
                values=[str(p) for p in files],
                value=choice.value,
                on_value=on_scenario,
            )
            if isinstance(loaded, str):
                solara.Error(loaded)
                return
            sc = loaded.scenario
            solara.Text(sc.metadata.description, style={"font-size": "12px"})
            solara.Select(
                _t("allocation strategy", "分配方式"),
                values=ctl.strategy_names(),
                value=strategy.value or sc.allocation.strategy,
                on_value=strategy.set,
                disabled=running,
            )
            LeverInputs(loaded, values, running)
            solara.InputText(
                _t("replications", "运行次数"), value=replications, continuous_update=False
            )
            solara.InputText(
                _t("worker processes", "工作进程数"), value=workers, continuous_update=False
            )
            if error.value:
                solara.Error(error.value, classes=["policysim-control-error"])
            with solara.Row():
                solara.Button(_t("Run", "运行"), on_click=start, disabled=running, color="primary")
                solara.Button(_t("Cancel", "取消"), on_click=cancel, disabled=not running)
        RunStatus()


# -----------------------------------------------------------------------------------------------
# browse


def _latest_run() -> str:
    """The run directory the explore page wrote last ("" before any): listings depend on it."""
    value = run_task.value if run_task.finished else None
    return str(value.directory) if isinstance(value, RunOutcome) else ""


@solara.component  # type: ignore[untyped-decorator]
def Browse() -> None:
    """Open existing run directories, their attainment side by side, and their files."""
    cfg = get_config()
    refresh = solara.use_reactive(0)
    runs = solara.use_memo(
        lambda: find_runs(cfg.results_dir, cfg.runs), dependencies=[refresh.value, _latest_run()]
    )
    names = [str(p) for p in runs]
    picked = solara.use_reactive(cast("list[str] | None", None))
    chosen = names[:2] if picked.value is None else picked.value
    solara.Button(
        _t("Refresh the list", "刷新列表"), on_click=lambda: refresh.set(refresh.value + 1)
    )
    if not runs:
        solara.Info(
            _t(f"No run directories in {cfg.results_dir}.", f"{cfg.results_dir} 中没有运行结果。")
        )
        return
    solara.SelectMultiple(
        _t("runs", "运行结果"), values=chosen, all_values=names, on_value=picked.set
    )
    selected = [Path(n) for n in chosen if n in names]
    if not selected:
        return
    table = side_by_side(selected, _lang())
    if len(table):
        head = [str(c) for c in table.columns]
        rows = [[str(v) for v in r] for r in table.itertuples(index=False, name=None)]
        solara.Text(
            _t(
                "P(met) (95% interval) and verdict on their common targets",
                "共同目标的实现概率（95%区间）与判断",
            )
        )
        solara.HTML(tag="div", unsafe_innerHTML=table_html(head, rows, css_class="side-by-side"))
    else:
        solara.Info(_t("These runs share no target.", "这些运行没有共同目标。"))
    for path in selected:
        solara.Text(str(path))
        DownloadLinks(path)


# -----------------------------------------------------------------------------------------------
# one county


@solara.component  # type: ignore[untyped-decorator]
def County() -> None:
    """Search a county of a run and see its trajectories."""
    cfg = get_config()
    runs = solara.use_memo(
        lambda: find_runs(cfg.results_dir, cfg.runs), dependencies=[_latest_run()]
    )
    names = [str(p) for p in runs if (p / "metrics.parquet").is_file()]
    picked = solara.use_reactive("")
    run = picked.value if picked.value in names else (names[0] if names else "")
    query = solara.use_reactive("")
    code = solara.use_reactive("")
    counties = solara.use_memo(lambda: county_list(Path(run)) if run else None, dependencies=[run])
    frame = solara.use_memo(
        lambda: county_trajectories(Path(run), code.value) if run and code.value else None,
        dependencies=[run, code.value],
    )
    if not names or counties is None:
        solara.Info(_t("No run directory with metrics yet.", "尚无含指标数据的运行结果。"))
        return
    solara.Select(_t("run", "运行结果"), values=names, value=run, on_value=picked.set)
    solara.InputText(
        _t("search: name, code or prefecture", "搜索：名称、代码或设区市"), value=query
    )
    shown = filter_counties(counties, query.value)
    labels = {f"{r.name} {r.code} {r.prefecture}": r.code for r in shown.itertuples()}
    solara.Select(
        _t("county", "县（市、区）"),
        values=list(labels),
        value=next((k for k, v in labels.items() if v == code.value), None),
        on_value=lambda k: code.set(labels.get(k, "")),
    )
    solara.Warning(
        _t(
            "County economics are synthetic: trajectories illustrate the mechanism.",
            "县域经济数据为合成数据：轨迹仅用于说明机制。",
        )
    )
    if frame is None:
        return
    name = next((k for k, v in labels.items() if v == code.value), code.value)
    with solara.Column(classes=["policysim-county-figure"]):
        solara.FigureMatplotlib(trajectory_figure(frame, name, _lang()), format="png")


@solara.component  # type: ignore[untyped-decorator]
def Page() -> None:
    """The app: three tabs."""
    solara.Title("policysim view")
    css = page_font_css(get_config().scenario_dir)
    if css:
        solara.Style(css)
    with solara.Column(style={"padding": "12px"}):
        solara.Text("policysim", style={"font-size": "22px", "font-weight": "bold"})
        with solara.lab.Tabs():
            with solara.lab.Tab(_t("Explore a scenario", "探索情景")):
                Explore()
            with solara.lab.Tab(_t("Browse runs", "浏览运行结果")):
                Browse()
            with solara.lab.Tab(_t("One county", "单个县")):
                County()
