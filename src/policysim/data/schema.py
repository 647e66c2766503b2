"""Names shared by every baseline: sectors, functional classes, column sets and :class:`Baseline`.

Other packages code against these names; they are part of the public contract of
:mod:`policysim.data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pandas as pd

__all__ = [
    "BASE_YEAR",
    "COUNTY_SYNTHETIC_COLUMNS",
    "COUNTY_TYPES",
    "ENTERPRISE_COLUMNS",
    "FUNCTIONAL_CLASSES",
    "SECTORS",
    "SYNTHESIS_VERSION",
    "TOWNSHIP_KINDS",
    "TOWNSHIP_SYNTHETIC_COLUMNS",
    "Baseline",
]

#: Version of the synthesis rules. Bump it whenever a rule or a default changes, so that a run
#: manifest that records it (with the seed) identifies the synthetic baseline exactly.
SYNTHESIS_VERSION: int = 2

#: Base year of every shipped baseline (the policy 赣府厅发〔2018〕4号 was issued January 2018).
BASE_YEAR: int = 2017

#: Enterprise sectors; the position in the tuple is the integer sector code used in
#: ``Baseline.enterprises["sector"]``. The grouping follows the leading industries named in
#: Jiangxi county plans (首位产业); it is a modelling choice, not an official classification.
SECTORS: tuple[str, ...] = (
    "electronics",
    "nonferrous_metals",
    "new_materials",
    "pharma_bio",
    "equipment",
    "agri_food",
    "textiles_light",
    "other",
)

#: The three functional classes of the provincial county evaluation (PARAMETERS.md, verified).
FUNCTIONAL_CLASSES: tuple[str, str, str] = ("重点开发区", "农业主产区", "重点生态区")

#: County-level unit types after loading (the raw files write ``county_city`` for 县级市).
COUNTY_TYPES: tuple[str, str, str] = ("district", "city", "county")

#: Township-level unit kinds (NBS statistical divisions; ``other`` = farms, zones, etc.).
TOWNSHIP_KINDS: tuple[str, str, str, str] = ("town", "township", "subdistrict", "other")

#: County columns that no public file provides and the synthesiser fills in.
COUNTY_SYNTHETIC_COLUMNS: tuple[str, ...] = (
    "gdp_cny",
    "fiscal_expenditure_cny",
    "fiscal_st_spending_cny",
    "rd_cny",
    "rd_enterprise_cny",
    "n_enterprises",
    "hnte_count",
    "research_capacity",
    "management_capacity",
)

#: Township columns filled in by the synthesiser.
TOWNSHIP_SYNTHETIC_COLUMNS: tuple[str, ...] = ("platforms", "commissioners", "agri_tech_adoption")

#: Enterprise columns (all synthetic), in frame order.
ENTERPRISE_COLUMNS: tuple[str, ...] = (
    "firm_id",
    "county_idx",
    "township_idx",
    "sector",
    "manufacturing",
    "above_scale",
    "sales_cny",
    "rd_cny",
    "rd_intensity_3y",
    "age_years",
    "employees",
    "other_criteria_ok",
    "hnte",
    "hnte_cert_year",
    "tech_sme",
    "weight",
)


@dataclass(frozen=True)
class Baseline:
    """The state of a province at the base year, as three agent tables plus context.

    The DataFrames of a Baseline returned by :func:`policysim.data.load_baseline` are shared
    by every caller (the loader caches them): never mutate them in place; take ``.copy()``
    (or copy the numpy arrays you turn into agent state) first.

    Attributes
    ----------
    name : str
        ``"jiangxi-2017 (embedded)"``, ``"china-synthetic"`` or the user directory.
    base_year : int
        Year the tables describe (2017 for the shipped baselines).
    counties : pandas.DataFrame
        One row per county-level unit; ``RangeIndex``, row position == county index.
        Money columns in CNY (float64), not 亿元.
    townships : pandas.DataFrame
        One row per township-level unit; ``RangeIndex``; ``county_idx`` (int) points into
        ``counties``. Rows are ordered by county, then code.
    enterprises : pandas.DataFrame
        One row per synthetic firm; ``RangeIndex``; ``county_idx`` and ``township_idx`` (int).
        Values are those of one firm; at ``enterprise_scale`` s each row stands for
        ``weight`` = 1/s identical firms, so totals are sums of value × weight (docs/DATA.md).
    history : pandas.DataFrame
        Province series up to the base year: columns ``indicator, year, value, status, source``.
    boundaries : pathlib.Path or None
        GeoJSON whose features carry ``properties.code`` (county code), or None.
    synthetic_columns : Mapping[str, tuple[str, ...]]
        ``{"counties": ..., "townships": ..., "enterprises": ...}``: columns that were
        synthesised rather than read from data.
    checksums : Mapping[str, str]
        Input file name -> sha256 hex digest of the bytes read.
    synthesis_seed : int
        Seed of the synthesiser (``synthesis_seed`` argument of ``load_baseline``).
    synthesis_version : int
        :data:`SYNTHESIS_VERSION` of the code that built the tables.
    enterprise_scale : float
        Multiplier applied to the firm count.
    include_subdistricts : bool
        Whether subdistricts host firms and count as 乡镇.
    """

    name: str
    base_year: int
    counties: pd.DataFrame
    townships: pd.DataFrame
    enterprises: pd.DataFrame
    history: pd.DataFrame
    boundaries: Path | None
    synthetic_columns: Mapping[str, tuple[str, ...]]
    checksums: Mapping[str, str]
    synthesis_seed: int = 2017
    synthesis_version: int = SYNTHESIS_VERSION
    enterprise_scale: float = 1.0
    include_subdistricts: bool = False

    def __post_init__(self) -> None:
        # Read-only views: a cached Baseline is shared by every caller.
        frozen = {key: tuple(cols) for key, cols in self.synthetic_columns.items()}
        object.__setattr__(self, "synthetic_columns", MappingProxyType(frozen))
        object.__setattr__(self, "checksums", MappingProxyType(dict(self.checksums)))
