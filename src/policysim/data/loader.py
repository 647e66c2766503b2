"""``load_baseline``: the embedded Jiangxi baseline, the national synthetic province, or a user
directory of CSVs, completed by the synthesiser and cached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import math
from importlib.resources import as_file
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from policysim.data.prefectures import PREFECTURE_FILE, prefecture_gdp
from policysim.data.readers import (
    RawTable,
    embedded_file,
    parse_china_counties,
    parse_counties,
    parse_county_economy,
    parse_history,
    parse_townships,
    read_table,
)
from policysim.data.schema import (
    BASE_YEAR,
    ENTERPRISE_COLUMNS,
    SYNTHESIS_VERSION,
    TOWNSHIP_SYNTHETIC_COLUMNS,
    Baseline,
)
from policysim.data.synthesis import SynthesisTargets, synthesize
from policysim.errors import DataError, ScenarioError

__all__ = ["EMBEDDED_NAME", "NATIONAL_NAME", "load_baseline"]

logger = logging.getLogger(__name__)

EMBEDDED_NAME = "jiangxi-2017 (embedded)"
NATIONAL_NAME = "china-synthetic"

#: Enterprise share of R&D, PARAMETERS.md ("84% ... verified for a later year").
ENTERPRISE_RD_SHARE = 0.84
#: Firms at enterprise_scale 1.0 for Jiangxi (assumption, range 20,000–40,000; see DATA.md).
JIANGXI_FIRMS = 30_000
#: HNTEs at 2017 for Jiangxi (assumption, range 1,500–2,600; 1,095 in Nov 2015, verified).
JIANGXI_HNTE = 2_000
#: Firms at enterprise_scale 1.0 for the national synthetic province (brief: ~1,000,000).
NATIONAL_FIRMS = 1_000_000
#: Largest firm revenue, CNY (assumption: Jiangxi 2e11, national 3e12).
JIANGXI_MAX_SALES = 2.0e11
NATIONAL_MAX_SALES = 3.0e12

_HISTORY_COLUMNS = ["indicator", "year", "value", "status", "source"]
_resource_stack = contextlib.ExitStack()


def _real_path(resource: Traversable) -> Path:
    """A filesystem path for a packaged resource (extracted once if the package is zipped)."""
    if isinstance(resource, Path):
        return resource
    return _resource_stack.enter_context(as_file(resource))


def _history_value(history: pd.DataFrame, indicator: str, year: int) -> float | None:
    hit = history[(history["indicator"] == indicator) & (history["year"] == year)]
    return float(hit["value"].iloc[0]) if len(hit) else None


def _seeded(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, SYNTHESIS_VERSION]))


def _jiangxi_units() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    names = ("jiangxi/counties.csv", "jiangxi/townships.csv", "jiangxi/province_history.csv")
    tables = [read_table(embedded_file(n), n) for n in names]
    counties = parse_counties(tables[0])
    townships = parse_townships(tables[1], counties, names[0])
    history = parse_history(tables[2])
    checksums = {t.name: t.sha256 for t in tables}
    geo = embedded_file("jiangxi/counties_boundaries.geojson")
    checksums["jiangxi/counties_boundaries.geojson"] = _sha256(geo)
    # the science parks the model places in Jiangxi counties (policysim.data.parks)
    checksums["jiangxi/parks.csv"] = _sha256(embedded_file("jiangxi/parks.csv"))
    return counties, townships, history, checksums


def _sha256(resource: Traversable | Path) -> str:
    return hashlib.sha256(resource.read_bytes()).hexdigest()


def _jiangxi_targets(history: pd.DataFrame) -> SynthesisTargets:
    gdp = _history_value(history, "gdp_100m_cny", BASE_YEAR)
    rd = _history_value(history, "rd_expenditure_100m_cny", BASE_YEAR)
    if gdp is None or rd is None:
        raise DataError(
            "jiangxi/province_history.csv",
            f"needs gdp_100m_cny and rd_expenditure_100m_cny for {BASE_YEAR}",
        )
    return SynthesisTargets(
        gdp_cny=gdp * 1e8,
        rd_cny=rd * 1e8,
        enterprise_rd_share=ENTERPRISE_RD_SHARE,
        n_firms=JIANGXI_FIRMS,
        hnte=JIANGXI_HNTE,
        max_sales_cny=JIANGXI_MAX_SALES,
    )


def _with_prefectures(
    targets: SynthesisTargets, counties: pd.DataFrame, checksums: dict[str, str]
) -> SynthesisTargets:
    """Jiangxi's targets with the prefecture GDP shares of ``prefecture_indicators.csv`` (the
    file's checksum is added to ``checksums``)."""
    table = read_table(embedded_file(PREFECTURE_FILE), PREFECTURE_FILE)
    checksums[PREFECTURE_FILE] = table.sha256
    shares = prefecture_gdp(table, counties, BASE_YEAR)
    return dataclasses.replace(
        targets, prefecture_gdp_cny=tuple(shares.targets_cny(targets.gdp_cny).items())
    )


def _generate_townships(counties: pd.DataFrame) -> pd.DataFrame:
    """Township units generated from per-county counts: codes ``<county code><NNN>``, names
    ``<county>-T001``, kinds in the order towns, townships, subdistricts, other."""
    counts = counties[["towns", "townships", "subdistricts", "other_units"]].to_numpy(
        dtype=np.int64
    )
    per_county = counts.sum(axis=1)
    county_idx = np.repeat(np.arange(len(counties), dtype=np.int64), per_county)
    starts = np.cumsum(per_county) - per_county
    seq = np.arange(county_idx.size, dtype=np.int64) - starts[county_idx] + 1
    kind_codes = (
        np.concatenate([np.repeat(np.arange(4), row) for row in counts])
        if len(counts)
        else np.zeros(0, np.int64)
    )
    kinds = np.array(["town", "township", "subdistrict", "other"])[kind_codes]
    seq_text = np.char.zfill(seq.astype(str), 3)
    ccode = counties["code"].to_numpy(dtype=str)[county_idx]
    cname = counties["name"].to_numpy(dtype=str)[county_idx]
    return pd.DataFrame(
        {
            "code": np.char.add(ccode, seq_text),
            "name": np.char.add(np.char.add(cname, "-T"), seq_text),
            "county_code": ccode,
            "kind": kinds,
            "county_idx": county_idx,
        }
    )


def _assemble(
    name: str,
    counties: pd.DataFrame,
    townships: pd.DataFrame,
    history: pd.DataFrame,
    targets: SynthesisTargets,
    checksums: dict[str, str],
    boundaries: Path | None,
    *,
    seed: int,
    include_subdistricts: bool,
    enterprise_scale: float,
    user_economy: pd.DataFrame | None = None,
    township_extra_synthetic: tuple[str, ...] = (),
) -> Baseline:
    result = synthesize(
        counties,
        townships,
        targets,
        _seeded(seed),
        enterprise_scale=enterprise_scale,
        include_subdistricts=include_subdistricts,
        user_economy=user_economy,
    )
    return Baseline(
        name=name,
        base_year=BASE_YEAR,
        counties=result.counties,
        townships=result.townships,
        enterprises=result.enterprises,
        history=history,
        boundaries=boundaries,
        synthetic_columns={
            "counties": result.county_synthetic,
            "townships": township_extra_synthetic + TOWNSHIP_SYNTHETIC_COLUMNS,
            "enterprises": ENTERPRISE_COLUMNS,
        },
        checksums=checksums,
        synthesis_seed=seed,
        synthesis_version=SYNTHESIS_VERSION,
        enterprise_scale=enterprise_scale,
        include_subdistricts=include_subdistricts,
    )


def _load_embedded(seed: int, include_subdistricts: bool, enterprise_scale: float) -> Baseline:
    counties, townships, history, checksums = _jiangxi_units()
    boundaries = _real_path(embedded_file("jiangxi/counties_boundaries.geojson"))
    targets = _with_prefectures(_jiangxi_targets(history), counties, checksums)
    return _assemble(
        EMBEDDED_NAME,
        counties,
        townships,
        history,
        targets,
        checksums,
        boundaries,
        seed=seed,
        include_subdistricts=include_subdistricts,
        enterprise_scale=enterprise_scale,
    )


def _load_national(seed: int, include_subdistricts: bool, enterprise_scale: float) -> Baseline:
    jx_counties, _, jx_history, _ = _jiangxi_units()
    jx = _jiangxi_targets(jx_history)
    name = "china/counties.csv"
    table = read_table(embedded_file(name), name)
    counties = parse_china_counties(table)
    townships = _generate_townships(counties)
    # Assumption (DATA.md): national totals = Jiangxi per-capita GDP and R&D times population.
    ratio = float(counties["population"].sum()) / float(jx_counties["population"].sum())
    targets = SynthesisTargets(
        gdp_cny=jx.gdp_cny * ratio,
        rd_cny=jx.rd_cny * ratio,
        enterprise_rd_share=ENTERPRISE_RD_SHARE,
        n_firms=NATIONAL_FIRMS,
        hnte=round(JIANGXI_HNTE * NATIONAL_FIRMS / JIANGXI_FIRMS),
        max_sales_cny=NATIONAL_MAX_SALES,
    )
    return _assemble(
        NATIONAL_NAME,
        counties,
        townships,
        pd.DataFrame({c: pd.Series(dtype=object) for c in _HISTORY_COLUMNS}),
        targets,
        {name: table.sha256},
        None,
        seed=seed,
        include_subdistricts=include_subdistricts,
        enterprise_scale=enterprise_scale,
        township_extra_synthetic=("code", "name", "kind"),
    )


def _user_targets(
    counties: pd.DataFrame, history: pd.DataFrame, economy: pd.DataFrame | None
) -> SynthesisTargets:
    jx_counties, _, jx_history, _ = _jiangxi_units()
    jx = _jiangxi_targets(jx_history)
    pop_ratio = float(counties["population"].sum()) / float(jx_counties["population"].sum())
    cols = set(economy.columns) if economy is not None else set()
    hist_gdp = _history_value(history, "gdp_100m_cny", BASE_YEAR)
    hist_rd = _history_value(history, "rd_expenditure_100m_cny", BASE_YEAR)
    hist_hnte = _history_value(history, "hnte_count", BASE_YEAR)
    if economy is not None and "gdp_cny" in cols:
        gdp = float(economy["gdp_cny"].sum())
    elif hist_gdp is not None:
        gdp = hist_gdp * 1e8
    else:
        gdp = jx.gdp_cny * pop_ratio  # assumption: Jiangxi 2017 GDP per capita
    if economy is not None and "rd_cny" in cols:
        rd = float(economy["rd_cny"].sum())
    elif hist_rd is not None:
        rd = hist_rd * 1e8
    else:
        rd = gdp * jx.rd_cny / jx.gdp_cny  # assumption: Jiangxi 2017 R&D intensity
    if economy is not None and "rd_enterprise_cny" in cols:
        rd = max(rd, float(economy["rd_enterprise_cny"].sum()))
    n_firms = max(round(JIANGXI_FIRMS * pop_ratio), 1)
    hnte = round(hist_hnte) if hist_hnte is not None else round(JIANGXI_HNTE * pop_ratio)
    return SynthesisTargets(gdp, rd, ENTERPRISE_RD_SHARE, n_firms, hnte, JIANGXI_MAX_SALES)


def _load_directory(
    directory: Path, seed: int, include_subdistricts: bool, enterprise_scale: float
) -> Baseline:
    if not directory.is_dir():
        raise DataError(
            directory,
            "baseline directory not found (expected counties.csv and townships.csv in it)",
        )

    def read(name: str) -> RawTable:
        return read_table(directory / name, str(directory / name))

    counties_raw = read("counties.csv")
    townships_raw = read("townships.csv")
    counties = parse_counties(counties_raw)
    townships = parse_townships(townships_raw, counties, counties_raw.name)
    tables = [counties_raw, townships_raw]
    economy = None
    if (directory / "county_economy.csv").exists():
        economy_raw = read("county_economy.csv")
        economy = parse_county_economy(economy_raw, counties)
        tables.append(economy_raw)
    if (directory / "province_history.csv").exists():
        history_raw = read("province_history.csv")
        history = parse_history(history_raw)
        tables.append(history_raw)
    else:
        history = pd.DataFrame({c: pd.Series(dtype=object) for c in _HISTORY_COLUMNS})
    checksums = {Path(t.name).name: t.sha256 for t in tables}
    geo = directory / "counties_boundaries.geojson"
    boundaries = geo if geo.is_file() else None
    if boundaries is not None:
        checksums[geo.name] = _sha256(geo)
    if economy is not None and "n_enterprises" in economy.columns:
        units = np.bincount(
            townships["county_idx"].to_numpy(dtype=np.int64), minlength=len(counties)
        )
        homeless = np.flatnonzero((units == 0) & (economy["n_enterprises"].to_numpy() > 0))
        if homeless.size:
            raise DataError(
                str(directory / "county_economy.csv"),
                "county has enterprises but no township-level unit in townships.csv",
                row=int(homeless[0]) + 2,
                column="n_enterprises",
            )
    return _assemble(
        str(directory),
        counties,
        townships,
        history,
        _user_targets(counties, history, economy),
        checksums,
        boundaries,
        seed=seed,
        include_subdistricts=include_subdistricts,
        enterprise_scale=enterprise_scale,
        user_economy=economy,
    )


#: room for the synthesis seeds an ensemble samples (at most MAX_SYNTHESIS_SEEDS = 16) plus a few
#: other baselines (about 5 MB each for Jiangxi)
@functools.lru_cache(maxsize=32)
def _cached(
    kind: str,
    directory: str,
    stamp: tuple[tuple[str, int, int], ...],
    seed: int,
    include_subdistricts: bool,
    enterprise_scale: float,
) -> Baseline:
    del stamp  # part of the cache key only: edited user files invalidate the entry
    if kind == "embedded":
        return _load_embedded(seed, include_subdistricts, enterprise_scale)
    if kind == NATIONAL_NAME:
        return _load_national(seed, include_subdistricts, enterprise_scale)
    return _load_directory(Path(directory), seed, include_subdistricts, enterprise_scale)


_USER_FILES = (
    "counties.csv",
    "townships.csv",
    "county_economy.csv",
    "province_history.csv",
    "counties_boundaries.geojson",
)


def load_baseline(
    source: str | Path = "embedded",
    *,
    synthesis_seed: int = 2017,
    include_subdistricts: bool = False,
    enterprise_scale: float = 1.0,
) -> Baseline:
    """Load a baseline and complete it with the synthesiser (cached).

    Parameters
    ----------
    source : str or pathlib.Path
        ``"embedded"`` (Jiangxi 2017), ``"china-synthetic"`` (every county of mainland China,
        for benchmarks) or a directory holding ``counties.csv`` and ``townships.csv``
        (optionally ``county_economy.csv``, ``province_history.csv`` and
        ``counties_boundaries.geojson``); see docs/DATA.md.
    synthesis_seed : int
        Seed of the synthesiser; the tables are a pure function of it (and of
        :data:`SYNTHESIS_VERSION`).
    include_subdistricts : bool
        Whether subdistricts (街道) host enterprises and count as 乡镇.
    enterprise_scale : float
        Multiplier of the firm count (> 0). Jiangxi: 1.0 gives about 30,000 firms; national:
        about 1,000,000. Each row stands for ``1/enterprise_scale`` firms; money totals stay.

    Returns
    -------
    Baseline
        Cached: a repeated call with the same arguments (and unchanged user files) returns the
        same object in microseconds. Its DataFrames are shared: do not mutate them.

    Raises
    ------
    DataError
        A user file is missing or invalid (the message names the file, row and column).
    ScenarioError
        ``enterprise_scale`` is not a positive finite number.
    """
    if (
        isinstance(enterprise_scale, bool)
        or not isinstance(enterprise_scale, int | float)
        or not math.isfinite(enterprise_scale)
        or enterprise_scale <= 0
    ):
        raise ScenarioError(
            None,
            "invalid enterprise scale",
            key_path="enterprise_scale",
            value=enterprise_scale,
            expected="a finite number > 0",
        )
    if isinstance(source, str) and source in ("embedded", NATIONAL_NAME):
        return _cached(
            source, "", (), int(synthesis_seed), bool(include_subdistricts), float(enterprise_scale)
        )
    directory = Path(source).expanduser().resolve()
    stamp: list[tuple[str, int, int]] = []
    for file_name in _USER_FILES:
        with contextlib.suppress(OSError):
            st = (directory / file_name).stat()
            stamp.append((file_name, st.st_mtime_ns, st.st_size))
    return _cached(
        "directory",
        str(directory),
        tuple(stamp),
        int(synthesis_seed),
        bool(include_subdistricts),
        float(enterprise_scale),
    )
