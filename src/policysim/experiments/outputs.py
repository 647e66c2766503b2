"""The files of a run directory: manifest, metrics, unit tables, attainment, figures, report.

Every file is written atomically (temporary name, then ``os.replace``): it appears whole or not
at all. The manifest is built in :mod:`~policysim.experiments.manifest`; what the figures draw on
besides the results (observed history, prefectures, captions) in
:mod:`~policysim.experiments.run_figures`.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from policysim.analysis import first_year_met
from policysim.analysis.history import observed_series
from policysim.data.caveat import county_caveat
from policysim.experiments.manifest import build_manifest
from policysim.experiments.run_figures import _caption, map_note, prefecture_of
from policysim.experiments.run_figures import _fan_metrics as _fan_metrics
from policysim.experiments.run_figures import observed_history as observed_history
from policysim.experiments.runner import EnsembleResult, report_years
from policysim.experiments.store import PartsStore, write_bytes
from policysim.experiments.verify import verified_policy_for
from policysim.experiments.worker import ALLOCATION_SCHEMA, METRICS_SCHEMA
from policysim.report._atomic import atomic_output
from policysim.report.briefing import (
    Briefing,
    briefing_for_run,
    briefing_text,
    render_briefing,
    verdict,
)
from policysim.report.tables import csv_bytes, neutralise, unit_table, write_workbook
from policysim.simulation import baseline_for
from policysim.vocabulary import SYNTHETIC_CAVEAT_EN, SYNTHETIC_CAVEAT_ZH, strategy

__all__ = [
    "build_manifest",
    "map_note",
    "prefecture_of",
    "spreadsheet_safe",
    "write_briefing",
    "write_outputs",
]

logger = logging.getLogger(__name__)


def _write_verification(sc: Any, out: Path, written: dict[str, Path]) -> dict[str, Any] | None:
    """An optimiser's verification in the run directory: ``optimiser_iterations.csv`` (the
    rounds and their paired gains), ``optimiser_vs_rules.csv``, ``surrogate_calibration.csv`` and
    ``surrogate_brier.csv``; returns the manifest's ``optimiser`` entry (None for a rule)."""
    if strategy(sc.allocation.strategy).kind != "optimiser":
        return None
    v = verified_policy_for(sc)
    written["optimiser_iterations"] = _write_csv(v.iterations(), out / "optimiser_iterations.csv")
    written["optimiser_vs_rules"] = _write_csv(
        pd.DataFrame(v.record["vs_rules"]), out / "optimiser_vs_rules.csv"
    )
    written["surrogate_calibration"] = _write_csv(
        v.calibration(), out / "surrogate_calibration.csv"
    )
    written["surrogate_brier"] = _write_csv(v.brier(), out / "surrogate_brier.csv")
    keep = ("calibration",)
    return {k: val for k, val in v.record.items() if k not in keep}


def _verification_tables(sc: Any) -> list[tuple[str, pd.DataFrame]]:
    v = verified_policy_for(sc)
    kind = v.record["objective_kind"]
    return [
        (
            f"Optimiser verified in the model ({kind} objective, "
            f"{v.record['verification_runs']} paired runs per plan): rounds and paired gains",
            v.iterations(),
        ),
        (
            "Verified plan against each rule (paired, verification draws)",
            pd.DataFrame(v.record["vs_rules"]),
        ),
        ("Surrogate's Brier score (predicted vs realised designation, out of sample)", v.brier()),
        ("Surrogate's calibration table", v.calibration()),
    ]


#: First characters that make a spreadsheet read a cell as a formula.
#: Text cells that could run as spreadsheet formulas get a leading ' (one rule: report.tables).
spreadsheet_safe = neutralise


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    write_bytes(path, csv_bytes(frame))
    return path


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Writer options of the final Parquet files: zstd; dictionaries for the string (dictionary)
    columns only; statistics for the other columns only (replication, year, values: what readers
    filter on). String statistics cost more to write than all the rest."""
    strings = [
        f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
    ]
    others = [f.name for f in schema if f.name not in strings]
    return {"compression": "zstd", "use_dictionary": strings, "write_statistics": others}


def _write_parquet_frame(frame: pd.DataFrame, path: Path, schema: pa.Schema | None) -> Path:
    if schema is not None:
        table = pa.Table.from_pandas(frame[schema.names], preserve_index=False).cast(schema)
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, **parquet_options(table.schema))
    write_bytes(path, sink.getvalue())
    return path


#: Rows per record batch when concatenating parts: the copy holds one batch (and the row group
#: it is read from) at a time, not a whole part with its cast and filtered copies.
STREAM_BATCH_ROWS: Final = 1 << 19


def _stream_parts(
    files: Sequence[Path], path: Path, schema: pa.Schema, runs: set[int] | None
) -> Path:
    """Concatenate Parquet parts into one file, atomically, one record batch in memory at a
    time."""
    wanted = None if runs is None else np.fromiter(runs, dtype=np.int64)
    with atomic_output(path) as stream:
        writer = pq.ParquetWriter(stream, schema, **parquet_options(schema))
        try:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=STREAM_BATCH_ROWS):
                    table = pa.Table.from_batches([batch])
                    if table.schema != schema:
                        table = table.cast(schema)
                    if wanted is not None:
                        keep = np.isin(table.column("replication").to_numpy(), wanted)
                        if not keep.all():
                            table = table.filter(pa.array(keep))
                    writer.write_table(table)
        finally:
            writer.close()
    return path


def _copy_parts(store: PartsStore, out: Path, runs: set[int]) -> dict[str, Path]:
    """``metrics.parquet`` and ``allocations.parquet`` from the store's parts."""
    written = {
        "metrics": _stream_parts(
            store.metric_files(), out / "metrics.parquet", METRICS_SCHEMA, runs
        )
    }
    alloc_files = store.allocation_files()
    if alloc_files:
        written["allocations"] = _stream_parts(
            alloc_files, out / "allocations.parquet", ALLOCATION_SCHEMA, runs
        )
    return written


def write_briefing(briefing: Briefing, out: Path, lang: str = "both") -> dict[str, Path]:
    """``briefing.html`` and ``briefing.txt`` (the same text, as the terminal shows it)."""
    text = out / "briefing.txt"
    write_bytes(text, briefing_text(briefing, lang).encode("utf-8"))
    return {
        "briefing": render_briefing(out / "briefing.html", briefing, lang),
        "briefing_text": text,
    }


def write_outputs(result: EnsembleResult, out_dir: Path, lang: str = "both") -> dict[str, Path]:
    """Write every file of the run directory and the report.

    Parameters
    ----------
    result : EnsembleResult
        The ensemble (streamed parts are read from ``result.store``).
    out_dir : pathlib.Path
        Run directory (created if missing).
    lang : {"both", "zh", "en"}
        Language of the briefing.

    Returns
    -------
    dict of str to Path
        What was written: ``manifest``, ``metrics``, ``county_probabilities``,
        ``township_probabilities``, ``attainment``, ``first_year``, ``solves``, ``draws``,
        ``allocations``, ``failures`` (if any), ``fan_<metric>``, ``attainment_bars``,
        ``county_map``, ``briefing`` (briefing.html), ``briefing_text`` (briefing.txt),
        ``report``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sc = result.loaded.scenario
    written: dict[str, Path] = {}
    runs = {int(r) for r in result.draws["replication"]}

    # tables
    streamed: Future[dict[str, Path]] | None = None
    copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policysim-parts")
    results: _Results | None = None
    try:
        if result.store is not None:
            # the streamed parts are copied into the final files in a thread (Arrow releases the
            # GIL while it reads and encodes) while the tables and figures below are made
            streamed = copier.submit(_copy_parts, PartsStore(result.store), out, runs)
        else:
            _write_frames(result, out, written)
        written["draws"] = _write_csv(result.draws, out / "draws.csv")
        written["solves"] = _write_csv(result.solves, out / "solves.csv")
        if result.n_failed:
            written["failures"] = _write_csv(result.failures, out / "failures.csv")
        if result.n_runs > result.n_failed:
            results = _write_results(result, out, lang, written)
    except BaseException:
        copier.shutdown(wait=True, cancel_futures=True)  # no half-finished copy left running
        raise
    if results is not None:
        written["workbook"] = _write_workbook(
            result, out, results.attain, results.first, results.county, results.township
        )
    if streamed is not None:
        written = {**streamed.result(), **written}
    copier.shutdown()
    optimiser = _write_verification(sc, out, written)
    manifest = build_manifest(result)
    if optimiser is not None:
        manifest["optimiser"] = optimiser
    written["manifest"] = out / "manifest.json"
    write_bytes(
        written["manifest"],
        json.dumps(manifest, indent=1, ensure_ascii=False, default=str).encode("utf-8"),
    )
    if results is not None and sc.outputs.report:
        written["report"] = _write_report(result, out, written, results, manifest, optimiser)
    logger.info("wrote %d files to %s", len(written), out)
    return written


@dataclass(frozen=True)
class _Results:
    """The result tables of a run with completed runs, as written."""

    attain: pd.DataFrame
    first: pd.DataFrame | None
    county: pd.DataFrame
    township: pd.DataFrame


def _write_frames(result: EnsembleResult, out: Path, written: dict[str, Path]) -> None:
    """``metrics.parquet`` and ``allocations.parquet`` of an ensemble held in memory."""
    written["metrics"] = _write_parquet_frame(
        result.metrics, out / "metrics.parquet", METRICS_SCHEMA
    )
    if result.allocations is not None:
        written["allocations"] = _write_parquet_frame(
            result.allocations, out / "allocations.parquet", ALLOCATION_SCHEMA
        )


def _write_results(
    result: EnsembleResult, out: Path, lang: str, written: dict[str, Path]
) -> _Results:
    """The unit probabilities, attainment, first years, briefing and figures of a run with
    completed runs."""
    sc = result.loaded.scenario
    attain = pd.DataFrame()
    first: pd.DataFrame | None = None
    county = result.unit_probabilities("county")
    caveat = county_caveat(baseline_for(sc))
    if caveat is not None:  # the table says itself that county economics are synthetic
        county = county.assign(caveat=caveat)
    township = result.unit_probabilities("township")
    if sc.outputs.unit_tables:
        written["county_probabilities"] = _write_parquet_frame(
            county, out / "county_probabilities.parquet", None
        )
        written["township_probabilities"] = _write_parquet_frame(
            township, out / "township_probabilities.parquet", None
        )
    if sc.targets:
        attain = result.attainment()
        written["attainment"] = _write_csv(attain, out / "attainment.csv")
        first = first_year_met(result.metrics, sc.targets)
        written["first_year"] = _write_csv(first, out / "first_year.csv")
        briefing = briefing_for_run(result, attain, first, out)
        written.update(write_briefing(briefing, out, lang))
    # figures
    if sc.outputs.figures:
        _write_figures(result, out, attain, county, written)
    return _Results(attain, first, county, township)


def _write_figures(
    result: EnsembleResult,
    out: Path,
    attain: pd.DataFrame,
    county: pd.DataFrame,
    written: dict[str, Path],
) -> None:
    """The fan charts, the attainment bars and the county map (``figures/``)."""
    from policysim.plotting import attainment_bars, county_map, fan_chart, save_figure
    from policysim.plotting.io import VECTOR_FORMATS

    sc = result.loaded.scenario
    figdir = out / "figures"
    history = observed_history(baseline_for(sc), result.loaded.path)
    for metric in _fan_metrics(result, history):
        observed = observed_series(history, metric)
        fig = fan_chart(
            result.metrics,
            metric,
            targets=sc.targets,
            observed=observed if len(observed) else None,
        )
        written[f"fan_{metric}"] = save_figure(
            fig, figdir / f"fan_{metric}.png", vector=VECTOR_FORMATS
        )
    if len(attain):
        verdicts = [
            verdict(lo, hi) for lo, hi in zip(attain["ci_low"], attain["ci_high"], strict=True)
        ]
        written["attainment_bars"] = save_figure(
            attainment_bars(attain.assign(status=verdicts)),
            figdir / "attainment.png",
            vector=VECTOR_FORMATS,
        )
    boundaries = baseline_for(sc).boundaries
    year = report_years(sc)[-1]
    if boundaries is not None:
        values = county.set_index("code")[f"p_{year}"]
        fig = county_map(
            boundaries,
            values,
            title=f"{sc.metadata.name}: P(provincial innovative county in {year})",
            label=f"P(provincial innovative county in {year})",
            annotate=True,
            prefectures=prefecture_of(baseline_for(sc)),
            note=map_note(baseline_for(sc)),
        )
        written["county_map"] = save_figure(fig, figdir / "county_map.png", vector=VECTOR_FORMATS)


def _write_report(
    result: EnsembleResult,
    out: Path,
    written: dict[str, Path],
    results: _Results,
    manifest: dict[str, Any],
    optimiser: dict[str, Any] | None,
) -> Path:
    """``report.html``: summary, tables, figures, manifest and notes."""
    from policysim.report import render_report

    sc = result.loaded.scenario
    attain = results.attain
    figures = [(_caption(name), path) for name, path in written.items() if path.suffix == ".png"]
    tables: list[tuple[str, pd.DataFrame]] = []
    if len(attain):
        shown = attain.assign(
            verdict=[
                verdict(lo, hi) for lo, hi in zip(attain["ci_low"], attain["ci_high"], strict=True)
            ]
        )
        tables.append(("Target attainment (95% Wilson intervals)", shown))
    if result.n_failed:
        tables.append(("Failed runs", result.failures))
    if optimiser is not None:
        tables += _verification_tables(sc)
    tables += _county_ranking(result, results)
    summary = {
        "scenario": f"{sc.metadata.name} ({sc.allocation.strategy})",
        "description": sc.metadata.description,
        "horizon": f"{sc.horizon.base_year}-{sc.horizon.end_year}",
        "runs": f"{result.n_runs} ({result.n_failed} failed), root seed {result.root_seed}",
        "sampling": f"{sc.ensemble.sampling} over {len(sc.uncertainties)} uncertainties",
        "scenario hash": result.loaded.hash[:16],
    }
    caveat = county_caveat(baseline_for(sc))
    if caveat is not None:
        figures = [(f"{c} ({caveat})" if p.stem == "county_map" else c, p) for c, p in figures]
    notes = [
        *([caveat] if caveat is not None else []),
        "Probabilities are shares of runs; intervals are Wilson 95% score intervals.",
        "Status: met if P >= 0.8, at risk if P >= 0.5, else missed (a reporting convention). "
        "Verdict (as in briefing.html): likely met only when the 95% interval's lower end is "
        ">= 0.8, likely not met when its upper end is < 0.8, else uncertain.",
        "Unit designation probabilities count a county (township) holding the status in the "
        "year (pilots included for counties).",
    ]
    return render_report(
        out / "report.html",
        title=f"policysim: {sc.metadata.name}",
        summary=summary,
        tables=tables,
        figures=figures,
        manifest=manifest,
        notes=notes,
    )


def _county_ranking(result: EnsembleResult, results: _Results) -> list[tuple[str, pd.DataFrame]]:
    """The report's table of the counties by probability at the last deadline (none when the
    county table has no column for it)."""
    sc = result.loaded.scenario
    counties_named, _ = unit_tables(baseline_for(sc), results.county, results.township)
    deadline = report_years(sc)[-1]
    column = f"p_{deadline}"
    if column not in counties_named:
        return []
    ranked = counties_named.sort_values([column, "code"], ascending=[False, True])
    shown = ranked[["code", "name", "prefecture", column, f"{column}_ci_low",
                    f"{column}_ci_high"]]  # fmt: skip
    shown = shown.rename(columns={f"{column}_ci_low": "ci_low", f"{column}_ci_high": "ci_high"})
    return [
        (
            f"Counties (县/市/区) by probability of being a provincial innovative county "
            f"in {deadline} (95% Wilson intervals; all counties in results.xlsx)",
            shown,
        )
    ]


def unit_tables(
    baseline: Any, county: pd.DataFrame, township: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """County and township probabilities with prefecture (and county) codes and Chinese names."""
    counties = baseline.counties
    township_units = baseline.townships[["code", "county_code"]].merge(
        counties[["code", "name", "prefecture"]].rename(
            columns={"code": "county_code", "name": "county"}
        ),
        on="county_code",
        how="left",
    )
    return unit_table(county, counties, "county"), unit_table(township, township_units, "township")


def _write_workbook(
    result: EnsembleResult,
    out: Path,
    attain: pd.DataFrame,
    first: pd.DataFrame | None,
    county: pd.DataFrame,
    township: pd.DataFrame,
) -> Path:
    sc = result.loaded.scenario
    counties, townships = unit_tables(baseline_for(sc), county, township)
    sheets: list[tuple[str, pd.DataFrame, str]] = []
    if len(attain):
        sheets.append(
            (
                "attainment",
                attain,
                "Probability that each target is met (share of runs, 0-1) with its Wilson 95% "
                "interval; median/p05/p95 of the metric in the target year (metric unit).",
            )
        )
    if first is not None:
        sheets.append(
            (
                "first_year",
                first,
                "First year each target's condition holds: share of runs (0-1) and cumulative "
                "share; 'never' = not within the horizon.",
            )
        )
    sheets += [
        (
            "counties",
            counties,
            "Probability (0-1) that each county (code, Chinese name, prefecture) is a provincial "
            "innovative county in each deadline year, with Wilson 95% intervals.",
        ),
        (
            "townships",
            townships,
            "Probability (0-1) that each township is an innovative township in each deadline "
            "year, with its county and prefecture.",
        ),
    ]
    return write_workbook(
        out / "results.xlsx",
        sheets,
        title=f"policysim results: {sc.metadata.name} ({sc.allocation.strategy}), "
        f"{result.n_runs} runs, root seed {result.root_seed}",
        notes=[
            "Probabilities are fractions 0-1 (format as % in Excel); money in 亿元 (100 million "
            "CNY) unless a column says _cny (CNY).",
            SYNTHETIC_CAVEAT_EN,
            SYNTHETIC_CAVEAT_ZH,
            "Text cells starting with = + - @ are prefixed with ' so that they are not run as "
            "formulas.",
        ],
    )
