"""Writing a comparison: ``comparison.csv`` and the other tables, figures, the briefing, the
workbook, the manifest and the report (:func:`write_comparison`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from policysim.analysis.history import observed_series
from policysim.data import county_caveat
from policysim.experiments.outputs import observed_history
from policysim.experiments.verify import verified_policy_for
from policysim.simulation import baseline_for
from policysim.studies.marginal import standout
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH, strategy

if TYPE_CHECKING:
    from policysim.report.html import ReportTable
    from policysim.studies.compare import ComparisonResult

__all__ = ["write_comparison"]

logger = logging.getLogger(__name__)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from policysim.experiments.store import write_bytes
    from policysim.report.tables import csv_bytes

    write_bytes(path, csv_bytes(frame))
    return path


def _manifest(result: ComparisonResult) -> dict[str, Any]:
    from policysim.experiments import build_manifest

    runs = {}
    for name, r in result.results.items():
        m = build_manifest(r)
        runs[name] = {
            "scenario": {k: m["scenario"][k] for k in ("name", "file", "overrides", "hash")},
            "strategy": r.loaded.scenario.allocation.strategy,
            "solver": m["solver"],
            "runs": m["runs"],
            "times": m["times"],
        }
    first = next(iter(result.results.values()))
    base_manifest = build_manifest(first)
    return {
        "comparison": {
            "baseline": result.baseline,
            "root_seed": result.root_seed,
            "county_year": result.year,
            "seconds": result.seconds,
            "common_random_numbers": (
                "run i of every scenario uses SeedSequence(root_seed, spawn_key=(i,)) and the "
                "same draw batches"
            ),
        },
        "scenarios": runs,
        "seeds": base_manifest["seeds"],
        "versions": base_manifest["versions"],
        "data": base_manifest["data"],
        "marginal": None
        if result.marginal is None
        else {
            "delta_100m_cny_per_county_year": result.marginal.delta_100m_cny,
            "outcome_year": result.marginal.outcome_year,
            "groups": "prefectures",
        },
    }


def write_comparison(
    result: ComparisonResult, out_dir: Path, lang: str = "both"
) -> dict[str, Path]:
    """Write the comparison's tables, figures and report.

    Parameters
    ----------
    result : ComparisonResult
    out_dir : pathlib.Path
        Output folder (created if missing).
    lang : {"both", "zh", "en"}
        Language of ``briefing.html`` / ``briefing.txt``.

    Returns
    -------
    dict of str to Path
        ``comparison`` (comparison.csv), ``metrics`` (comparison_metrics.csv), ``counties``
        (counties.csv), ``marginal_groups`` (marginal_groups.csv, when perturbation runs were
        made), ``duals`` (budget_duals.csv, with an optimal strategy), ``manifest``, the figures
        ``strategy_bars``, ``paired_difference`` (two or more scenarios), ``fan_<metric>``,
        ``map_<scenario>``, ``map_disagreement``, and ``report`` (report.html). Every file is
        written atomically.
    """
    from policysim.experiments import write_briefing
    from policysim.experiments.store import write_bytes
    from policysim.report import render_report
    from policysim.report.briefing import briefing_for_comparison

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    caveat = county_caveat(baseline_for(result.results[result.baseline].loaded.scenario))
    written = _write_tables(result, out, caveat)
    figures = _write_figures(result, out / "figures", written)
    manifest = _manifest(result)
    written["manifest"] = out / "manifest.json"
    write_bytes(
        written["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    written.update(write_briefing(briefing_for_comparison(result, out), out, lang))
    written["workbook"] = _write_comparison_workbook(result, out)
    written["report"] = render_report(
        out / "report.html",
        title="policysim: strategy comparison",
        summary=_summary(result),
        tables=_report_tables(result),
        figures=figures,
        manifest=manifest,
        notes=_notes(result, caveat),
    )
    logger.info("wrote %d files to %s", len(written), out)
    return written


def _write_tables(result: ComparisonResult, out: Path, caveat: str | None) -> dict[str, Path]:
    """``comparison.csv`` (attainment rows, then the decisions), ``comparison_metrics.csv``,
    ``counties.csv`` and the marginal study's tables."""
    written: dict[str, Path] = {}
    written["comparison"] = _write_csv(
        pd.concat(
            [
                result.table.assign(kind="attainment"),
                result.decisions.rename(columns={"diff": "diff_vs_baseline"}).assign(year=np.nan),
            ],
            ignore_index=True,
        )
        if len(result.decisions)
        else result.table,
        out / "comparison.csv",
    )
    written["metrics"] = _write_csv(result.metrics, out / "comparison_metrics.csv")
    counties = result.counties if caveat is None else result.counties.assign(caveat=caveat)
    written["counties"] = _write_csv(counties, out / "counties.csv")
    mv = result.marginal
    if mv is not None and len(mv.groups):
        written["marginal_groups"] = _write_csv(mv.groups, out / "marginal_groups.csv")
    if mv is not None and len(mv.duals):
        written["duals"] = _write_csv(mv.duals, out / "budget_duals.csv")
    written.update(_write_optimisers(result, out))
    return written


def _write_optimisers(result: ComparisonResult, out: Path) -> dict[str, Path]:
    """Each optimiser's verification under ``optimiser/<name>/``, as in a run directory: the
    rounds, the plan against every rule (on the objective and on each target) and the
    surrogate's calibration table and Brier score."""
    written: dict[str, Path] = {}
    for name, r in result.results.items():
        sc = r.loaded.scenario
        if strategy(sc.allocation.strategy).kind != "optimiser":
            continue
        v = verified_policy_for(sc)
        d = out / "optimiser" / _safe(name)
        d.mkdir(parents=True, exist_ok=True)
        tables = {
            "iterations": v.iterations(),
            "vs_rules": pd.DataFrame(v.record.get("vs_rules", [])),
            "vs_rules_by_target": pd.DataFrame(v.record.get("vs_rules_by_target", [])),
            "surrogate_calibration": v.calibration(),
            "surrogate_brier": v.brier(),
        }
        for key, frame in tables.items():
            written[f"optimiser_{name}_{key}"] = _write_csv(frame, d / f"{key}.csv")
    return written


def _write_figures(
    result: ComparisonResult, figdir: Path, written: dict[str, Path]
) -> list[tuple[str, Path]]:
    """Bars, paired differences and fan charts (added to ``written``), then the maps; the
    report's captions and files."""
    from policysim.plotting import fan_chart, paired_difference_plot, save_figure, strategy_bars
    from policysim.plotting.io import VECTOR_FORMATS

    names = list(result.results)
    base = result.results[result.baseline].loaded.scenario
    figures: list[tuple[str, Path]] = []
    if len(result.table):
        fig = strategy_bars(result.table)
        written["strategy_bars"] = save_figure(
            fig, figdir / "strategy_bars.png", vector=VECTOR_FORMATS
        )
        figures.append(
            ("Probability of meeting each target, by strategy", written["strategy_bars"])
        )
        if len(names) > 1:
            fig = paired_difference_plot(result.table, baseline=result.baseline)
            written["paired_difference"] = save_figure(
                fig, figdir / "paired_difference.png", vector=VECTOR_FORMATS
            )
            figures.append(
                (
                    f"Paired difference in attainment against {result.baseline} (95% interval)",
                    written["paired_difference"],
                )
            )
    # observed province history on the fans, as on a run's (the embedded Jiangxi baseline)
    history = observed_history(baseline_for(base), result.results[result.baseline].loaded.path)
    for metric in dict.fromkeys(t.metric for t in base.targets):
        main = _province_rows(result.results[result.baseline].metrics, metric)
        overlays = {n: _province_rows(result.results[n].metrics, metric) for n in names[1:]}
        observed = observed_series(history, metric)
        fig = fan_chart(
            main.assign(scenario=result.baseline),
            metric,
            targets=base.targets,
            overlays=overlays,
            observed=observed if len(observed) else None,
        )
        key = f"fan_{metric}"
        written[key] = save_figure(fig, figdir / f"{key}.png", vector=VECTOR_FORMATS)
        figures.append((f"Fan charts of {metric}, strategies overlaid", written[key]))
    return figures + _write_maps(result, figdir, written)


def _write_maps(
    result: ComparisonResult, figdir: Path, written: dict[str, Path]
) -> list[tuple[str, Path]]:
    """A county map per scenario and the map of where they disagree (with boundaries)."""
    from policysim.experiments.outputs import map_note, prefecture_of
    from policysim.plotting import county_map, save_figure
    from policysim.plotting.io import VECTOR_FORMATS

    base = result.results[result.baseline].loaded.scenario
    boundaries = baseline_for(base).boundaries
    figures: list[tuple[str, Path]] = []
    if boundaries is None:
        return figures
    for name in result.results:
        values = result.counties.set_index("code")[f"p_{name}"]
        fig = county_map(
            boundaries,
            values,
            title=f"{name}: P(provincial innovative county by {result.year})",
            label=f"P(provincial innovative county in {result.year})",
            annotate=True,
            prefectures=prefecture_of(baseline_for(base)),
            note=map_note(baseline_for(base)),
        )
        key = f"map_{name}"
        written[key] = save_figure(fig, figdir / f"map_{_safe(name)}.png", vector=VECTOR_FORMATS)
        figures.append((f"{name}: county designation probability", written[key]))
    spread = result.counties.set_index("code")["spread"]
    fig = county_map(
        boundaries,
        spread,
        title=f"Where the strategies disagree: max - min P(designated by {result.year})",
        label="spread of probability (max - min over strategies)",
        cmap="magma",
        annotate=True,
        prefectures=prefecture_of(baseline_for(base)),
        note=map_note(baseline_for(base)),
    )
    written["map_disagreement"] = save_figure(
        fig, figdir / "map_disagreement.png", vector=VECTOR_FORMATS
    )
    figures.append(("Disagreement between strategies", written["map_disagreement"]))
    return figures


def _report_tables(result: ComparisonResult) -> list[ReportTable]:
    """The report's tables: attainment, decisions, metrics, counties, the marginal study."""
    names = list(result.results)
    base = result.results[result.baseline].loaded.scenario
    target_metric = {t.name: t.metric for t in base.targets}
    shown = result.table.copy()
    shown.insert(2, "metric", shown["target"].map(target_metric))
    tables: list[ReportTable] = [
        ("Attainment and paired difference against the baseline (95% intervals)", shown),
        ("Province metrics at the deadlines, paired differences (95% t intervals)", result.metrics),
        (
            f"Counties where the strategies disagree most (P designated by {result.year})",
            result.counties[["code", "name", *[f"p_{n}" for n in names], "spread"]].head(15),
        ),
    ]
    if len(result.decisions):
        tables.insert(
            1,
            (
                "Which strategy is best (per target and on the objective, against the runner-up), "
                "the value of optimisation (optimal vs the best rule) and of re-planning (closed "
                "loop vs open loop); paired 95% intervals",
                result.decisions,
            ),
        )
    mv = result.marginal
    if mv is not None:
        shown_mv, _ = standout(mv)
        ranked = result.counties[result.counties["code"].isin(shown_mv["code"])]
        ranked = ranked.sort_values("marginal_rank").head(15)
        tables.append(
            (
                "Where an extra yuan matters most (top 15; only counties whose prefecture's "
                "interval excludes zero)",
                ranked[list(MARGINAL_REPORT_COLUMNS)],
            )
        )
        if len(mv.groups):
            tables.append(("Paired perturbation by prefecture", mv.groups))
        if len(mv.duals):
            tables.append(("Optimiser's budget duals", mv.duals))
    return tables


#: Columns of the report's marginal value table.
MARGINAL_REPORT_COLUMNS: Final = (
    "marginal_rank",
    "code",
    "name",
    "group",
    "marginal_designations_per_100m_cny",
    "group_designations_per_100m_cny",
    "slope_index_per_100m_cny",
    "optimal_dual_per_100m_cny",
)


def _summary(result: ComparisonResult) -> dict[str, str]:
    base = result.results[result.baseline].loaded.scenario
    return {
        "baseline": f"{result.baseline} ({base.allocation.strategy})",
        "scenarios": ", ".join(
            f"{n} ({r.loaded.scenario.allocation.strategy})" for n, r in result.results.items()
        ),
        "runs": ", ".join(
            f"{n}: {r.n_runs} ({r.n_failed} failed)" for n, r in result.results.items()
        ),
        "root seed": str(result.root_seed),
        "time": ", ".join(f"{k}: {v:.1f} s" for k, v in result.seconds.items()),
    }


def _notes(result: ComparisonResult, caveat: str | None) -> list[str]:
    notes = [
        *([caveat] if caveat is not None else []),
        "Every scenario runs with the same root seed and run ids (common random numbers): "
        "differences are taken run by run. Probability differences carry Newcombe's paired 95% "
        "interval; metric differences a paired t interval.",
        "County probabilities count a county that is a provincial innovative county (pilot or "
        f"designated) in {result.year}; the spread is max - min over strategies.",
        "Funds are mean provincial funds received over the planning years, CNY.",
    ]
    mv = result.marginal
    if mv is not None:
        notes.append(standout(mv)[1])
        notes.append(
            "Marginal value: every county of one prefecture gets "
            f"{mv.delta_100m_cny:g} 亿元 extra per year on top of the baseline strategy, in paired "
            "runs (same seeds and draws); the change in provincial innovative counties by "
            f"{mv.outcome_year} per extra 亿元 is the group's value, apportioned to its counties "
            "by their response-curve slope (index points per extra 亿元). The optimiser's dual "
            "is the value of one more 亿元 in the first year for counties funded strictly "
            "between their floor and ceiling in the optimal plan."
        )
    return notes


def _write_comparison_workbook(result: ComparisonResult, out: Path) -> Path:
    from policysim.analysis import first_year_met
    from policysim.report.tables import unit_table, write_workbook

    base = result.results[result.baseline]
    sc = base.loaded.scenario
    baseline = baseline_for(sc)
    sheets: list[tuple[str, pd.DataFrame, str]] = [
        (
            "comparison",
            result.table,
            "Per scenario and target: probability (0-1), paired difference against the "
            "baseline (probability units, Newcombe 95% interval), metric median and paired "
            "metric difference (metric unit, t interval).",
        ),
        ("attainment", base.attainment(), f"Attainment of the baseline {result.baseline}."),
    ]
    if sc.targets:
        sheets.append(
            (
                "first_year",
                first_year_met(base.metrics, sc.targets),
                "First year each target is met in the baseline's runs (shares 0-1).",
            )
        )
    sheets += [
        (
            "metrics",
            result.metrics,
            "Province metrics at the deadlines; differences paired, in the metric's unit.",
        ),
        (
            "counties",
            unit_table(result.counties, baseline.counties, "county"),
            f"Probability (0-1) per county of being a provincial innovative county in "
            f"{result.year}, by scenario, with prefecture; funds in CNY.",
        ),
    ]
    return write_workbook(
        out / "results.xlsx",
        sheets,
        title=f"policysim comparison against {result.baseline}, root seed {result.root_seed}",
        notes=[SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH],
    )


def _province_rows(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    return metrics[(metrics["metric"] == metric) & (metrics["level"] == "province")]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
