"""The synthesiser: county economics, township attributes and the enterprise population.

No public file gives per-county economics for Jiangxi, so they are synthesised around a
structural model with log-normal noise and scaled so that province totals match the history
file exactly. Everything here is a pure function of its inputs and of the
``numpy.random.Generator`` passed in; the loader seeds that generator from ``synthesis_seed``.
All loops are over fixed small sets (types, sectors); none runs over firms or townships.

Every default below is either a figure from docs/PARAMETERS.md (cited) or an assumption with a
plausible range; docs/DATA.md lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.data.schema import FUNCTIONAL_CLASSES
from policysim.data.synthesis_firms import (
    _KIND_CODE,
    _certify,
    _draw_firms,
    _enterprise_frame,
    _firm_rd,
    _place_firms,
)
from policysim.data.synthesis_firms import _select_per_group as _select_per_group
from policysim.data.synthesis_firms import hnte_threshold as hnte_threshold
from policysim.data.synthesis_params import (
    BoolArray,
    FloatArray,
    IntArray,
    SynthesisParameters,
    SynthesisTargets,
)
from policysim.errors import DataError

__all__ = [
    "SynthesisParameters",
    "SynthesisTargets",
    "assign_functional_classes",
    "synthesize",
]

#: The county economics the synthesiser fills where the user gives none (in this order).
_COUNTY_ECONOMY_COLUMNS = (
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


def _rank01(values: FloatArray) -> FloatArray:
    """Map values to (0, 1) by rank (ties broken by position)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.arange(values.size, dtype=np.float64)
    return (ranks + 0.5) / max(values.size, 1)


def _zscore(values: FloatArray) -> FloatArray:
    sd = float(values.std())
    return (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)


def _logistic(x: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return out


def assign_functional_classes(counties: pd.DataFrame) -> tuple[npt.NDArray[np.str_], BoolArray]:
    """Fill missing functional classes by a deterministic rule aiming at the 35/33/32 split.

    Rule (assumption, docs/DATA.md): confirmed classes are kept; remaining districts →
    重点开发区; then the largest non-poverty county-level cities, then the largest non-poverty
    counties, until 重点开发区 reaches 35% of units; remaining poverty units → 重点生态区, then the
    smallest remaining units (small, mountainous) until 重点生态区 reaches 32%; the rest (large
    agricultural counties) → 农业主产区.

    Parameters
    ----------
    counties : pandas.DataFrame
        Needs ``type``, ``poverty_county``, ``population``, ``functional_class`` (blank where
        unknown).

    Returns
    -------
    classes : (n_counties,) str array
    synthetic : (n_counties,) bool array
        True where the class was assigned by the rule.
    """
    n = len(counties)
    classes = counties["functional_class"].to_numpy(dtype=object).astype("<U16")  # no truncation
    synthetic = classes == ""
    kind = counties["type"].to_numpy(dtype=str)
    poverty = counties["poverty_county"].to_numpy(dtype=bool)
    pop = counties["population"].to_numpy(dtype=np.float64)
    dev, agri, eco = FUNCTIONAL_CLASSES
    n_dev = round(0.35 * n)
    n_eco = round(0.32 * n)
    classes[synthetic & (kind == "district")] = dev
    free = classes == ""
    # candidates for development: non-poverty cities first, then counties, by population
    priority = np.where(kind == "city", 1.0, 0.0) * 1e12 + pop
    candidates = np.flatnonzero(free & ~poverty)
    candidates = candidates[np.argsort(-priority[candidates], kind="stable")]
    need = max(n_dev - int((classes == dev).sum()), 0)
    classes[candidates[:need]] = dev
    classes[(classes == "") & poverty] = eco
    free_idx = np.flatnonzero(classes == "")
    free_idx = free_idx[np.argsort(pop[free_idx], kind="stable")]
    need = max(n_eco - int((classes == eco).sum()), 0)
    classes[free_idx[:need]] = eco
    classes[classes == ""] = agri
    return classes, synthetic


@dataclass(frozen=True)
class SynthesisResult:
    """Output of :func:`synthesize`: completed county, township and enterprise frames."""

    counties: pd.DataFrame
    townships: pd.DataFrame
    enterprises: pd.DataFrame
    county_synthetic: tuple[str, ...]


def _county_gdp(
    counties: pd.DataFrame,
    targets: SynthesisTargets,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> FloatArray:
    kind = counties["type"].to_numpy(dtype=str)
    factor = np.select(
        [kind == "district", kind == "city"], [p.gdp_pc_factor_district, p.gdp_pc_factor_city], 1.0
    )
    factor = factor * np.where(
        counties["poverty_county"].to_numpy(dtype=bool), p.gdp_pc_factor_poverty, 1.0
    )
    raw = counties["population"].to_numpy(dtype=np.float64) * factor
    raw = raw * np.exp(p.gdp_sigma * rng.standard_normal(len(counties)))
    return _scale_to_prefectures(raw, counties, targets)


def _scale_to_prefectures(
    raw: FloatArray, counties: pd.DataFrame, targets: SynthesisTargets
) -> FloatArray:
    """Scale raw county weights so that each listed prefecture sums to its GDP target and the
    counties of unlisted prefectures share the rest of the province total (by their weights)."""
    if not targets.prefecture_gdp_cny:
        gdp: FloatArray = raw / raw.sum() * targets.gdp_cny
        return gdp
    wanted = dict(targets.prefecture_gdp_cny)
    pref = counties["prefecture_code"].to_numpy(dtype=str)
    codes, group = np.unique(pref, return_inverse=True)
    listed = np.isin(codes, list(wanted))
    missing = sorted(set(wanted) - set(codes.tolist()))
    if missing:
        raise DataError("prefecture GDP targets", f"prefecture {missing[0]} has no county unit")
    goal = np.array([wanted.get(str(c), 0.0) for c in codes])
    rest = targets.gdp_cny - float(goal.sum())
    if rest < -1e-9 * targets.gdp_cny or (rest > 1e-9 * targets.gdp_cny and listed.all()):
        raise DataError(
            "prefecture GDP targets",
            f"prefecture targets sum to {goal.sum() / 1e8:.2f}亿元, the province total is "
            f"{targets.gdp_cny / 1e8:.2f}亿元 (expected them to add up, or to leave a positive "
            "rest for unlisted prefectures)",
        )
    unlisted = ~listed[group]
    sums = np.bincount(group, weights=raw, minlength=codes.size)
    scale = np.divide(goal, sums, out=np.zeros(codes.size), where=sums > 0)
    gdp = raw * scale[group]
    if unlisted.any():
        gdp[unlisted] = raw[unlisted] / raw[unlisted].sum() * max(rest, 0.0)
    return gdp


def synthesize(
    counties: pd.DataFrame,
    townships: pd.DataFrame,
    targets: SynthesisTargets,
    rng: np.random.Generator,
    *,
    enterprise_scale: float,
    include_subdistricts: bool,
    user_economy: pd.DataFrame | None = None,
    params: SynthesisParameters | None = None,
) -> SynthesisResult:
    """Complete the unit tables with synthetic economics and build the firm population.

    Parameters
    ----------
    counties : pandas.DataFrame
        Parsed county units (see :func:`policysim.data.readers.parse_counties`).
    townships : pandas.DataFrame
        Parsed township units ordered by county (``county_idx``).
    targets : SynthesisTargets
        Province totals to reproduce exactly.
    rng : numpy.random.Generator
        The only source of randomness.
    enterprise_scale : float
        Multiplies the number of firm rows; each row is one representative firm standing for
        ``weight`` = ``1/enterprise_scale`` identical firms, so weighted money totals
        (sum of value × weight) are unchanged.
    include_subdistricts : bool
        Whether subdistricts host firms and count as 乡镇.
    user_economy : pandas.DataFrame or None
        Real county statistics (columns a subset of the synthetic county columns, rows in county
        order) that replace synthesis; firms are then synthesised to match them.
    params : SynthesisParameters or None
        Structural factors; defaults when None.

    Returns
    -------
    SynthesisResult
    """
    p = params or SynthesisParameters()
    user = user_economy if user_economy is not None else pd.DataFrame(index=counties.index)
    n_c = len(counties)
    counties = counties.copy()
    townships = townships.copy()
    weight_per_row = 1.0 / enterprise_scale

    classes, fc_synth = assign_functional_classes(counties)
    counties["functional_class"] = classes
    counties["functional_class_synthetic"] = fc_synth

    # fixed draw order keeps results a pure function of the seed: counties, firm rows, firm
    # placement and attributes, townships
    econ = _county_economics(counties, user, targets, p, rng)
    rows = _firm_rows(user, townships, econ.gdp, n_c, targets, enterprise_scale, p, rng)
    firm_county, firm_town = _place_firms(rows, townships, include_subdistricts, p, rng)
    draws = _draw_firms(firm_county, n_c, econ.propensity, targets, p, rng)
    hnte_quota, ent_target, need_perf = _performer_needs(
        user, counties, firm_county, n_c, targets, enterprise_scale
    )
    performer = draws.performer
    if need_perf.any():
        promote = _select_per_group(firm_county, performer * 1e15 + draws.sales, need_perf)
        performer = performer | promote
    rd_member, rd_ent, intensity_3y = _firm_rd(
        performer, draws, firm_county, n_c, ent_target, targets, weight_per_row, p
    )
    group = firm_county if "hnte_count" in user else np.zeros(firm_county.size, dtype=np.int64)
    certs = _certify(performer, intensity_3y, draws, group, hnte_quota, p)
    enterprises = _enterprise_frame(firm_county, firm_town, draws, rd_member, certs, weight_per_row)
    _county_totals(
        counties, user, econ, rd_ent, firm_county, certs.hnte, targets, weight_per_row, p
    )
    _township_attributes(townships, counties, econ, include_subdistricts, p, rng)
    synthetic = tuple(c for c in _COUNTY_ECONOMY_COLUMNS if c not in user.columns)
    return SynthesisResult(counties, townships, enterprises, synthetic)


@dataclass(frozen=True)
class _CountyEconomy:
    """Synthesised (or user-given) county economics and the draws later steps reuse."""

    gdp: FloatArray
    gdp_pc: FloatArray
    fiscal: FloatArray
    fiscal_st: FloatArray
    median_pc: float
    propensity: FloatArray
    z_cap: FloatArray


def _county_economics(
    counties: pd.DataFrame,
    user: pd.DataFrame,
    targets: SynthesisTargets,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> _CountyEconomy:
    """County GDP, fiscal expenditure, fiscal S&T spending and R&D propensity."""
    n_c = len(counties)
    pop = counties["population"].to_numpy(dtype=np.float64)
    kind = counties["type"].to_numpy(dtype=str)
    poverty = counties["poverty_county"].to_numpy(dtype=bool)
    z_gdp = _county_gdp(counties, targets, p, rng)
    z_fiscal = rng.standard_normal(n_c)
    z_st = rng.standard_normal(n_c)
    z_rd = rng.standard_normal(n_c)
    z_cap = rng.standard_normal((2, n_c))
    gdp = user["gdp_cny"].to_numpy(dtype=np.float64) if "gdp_cny" in user else z_gdp
    gdp_pc = gdp / np.maximum(pop, 1.0)
    if "fiscal_expenditure_cny" in user:
        fiscal = user["fiscal_expenditure_cny"].to_numpy(dtype=np.float64)
    else:
        ratio = np.select(
            [kind == "district", kind == "city"],
            [p.fiscal_ratio_district, p.fiscal_ratio_city],
            p.fiscal_ratio_county,
        )
        ratio = ratio * np.where(poverty, p.fiscal_ratio_poverty_factor, 1.0)
        fiscal = gdp * ratio * np.exp(p.fiscal_sigma * z_fiscal)
    if "fiscal_st_spending_cny" in user:
        fiscal_st = user["fiscal_st_spending_cny"].to_numpy(dtype=np.float64)
    else:
        share = p.fiscal_st_share_min + (p.fiscal_st_share_max - p.fiscal_st_share_min) * _rank01(
            np.log(np.maximum(gdp_pc, 1.0)) + 0.5 * z_st
        )
        fiscal_st = fiscal * share
    median_pc = float(np.median(gdp_pc[gdp_pc > 0])) if (gdp_pc > 0).any() else 1.0
    propensity = (np.maximum(gdp_pc, 1e-9) / median_pc) ** p.rd_pc_elasticity * np.exp(
        p.rd_county_sigma * z_rd
    )
    return _CountyEconomy(gdp, gdp_pc, fiscal, fiscal_st, median_pc, propensity, z_cap)


def _firm_rows(
    user: pd.DataFrame,
    townships: pd.DataFrame,
    gdp: FloatArray,
    n_c: int,
    targets: SynthesisTargets,
    enterprise_scale: float,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> IntArray:
    """Firm rows per county: the user's counts scaled, or a draw proportional to GDP^β."""
    if "n_enterprises" in user:
        n_ent_real = user["n_enterprises"].to_numpy(dtype=np.int64)
        rows = np.rint(n_ent_real * enterprise_scale).astype(np.int64)
        rows = np.where(n_ent_real > 0, np.maximum(rows, 1), 0)  # keep every firm-holding county
    else:
        n_rows = round(targets.n_firms * enterprise_scale)
        hosts = np.bincount(townships["county_idx"].to_numpy(dtype=np.int64), minlength=n_c) > 0
        w = np.where(hosts, np.maximum(gdp, 0.0) ** p.firm_gdp_elasticity, 0.0)
        rows = (
            rng.multinomial(n_rows, w / w.sum()).astype(np.int64)
            if w.sum() > 0
            else np.zeros(n_c, np.int64)
        )
    return rows


def _performer_needs(
    user: pd.DataFrame,
    counties: pd.DataFrame,
    firm_county: IntArray,
    n_c: int,
    targets: SynthesisTargets,
    enterprise_scale: float,
) -> tuple[IntArray, FloatArray | None, IntArray]:
    """HNTE quotas, the enterprise R&D target by county (None: the province total only) and
    the R&D performers each county needs (user HNTE quotas need enough performers in their
    county: the largest firms are promoted)."""
    if "hnte_count" in user:
        hnte_quota = np.rint(
            user["hnte_count"].to_numpy(dtype=np.float64) * enterprise_scale
        ).astype(np.int64)
    else:
        hnte_quota = np.array([round(targets.hnte * enterprise_scale)], dtype=np.int64)
    need_perf = np.zeros(n_c, dtype=np.int64)
    if "hnte_count" in user:
        need_perf = hnte_quota.copy()
    ent_target: FloatArray | None = None
    if "rd_enterprise_cny" in user:
        ent_target = user["rd_enterprise_cny"].to_numpy(dtype=np.float64)
    elif "rd_cny" in user:
        ent_target = user["rd_cny"].to_numpy(dtype=np.float64) * targets.enterprise_rd_share
    if ent_target is not None:
        need_perf = np.maximum(need_perf, (ent_target > 0).astype(np.int64))
        have = np.bincount(firm_county, minlength=n_c)
        short = np.flatnonzero((ent_target > 0) & (have == 0))
        if short.size:
            raise DataError(
                "county_economy.csv",
                f"county {counties['code'].iloc[short[0]]} has enterprise R&D but no firms",
            )
    return hnte_quota, ent_target, need_perf


def _county_totals(
    counties: pd.DataFrame,
    user: pd.DataFrame,
    econ: _CountyEconomy,
    rd_ent: FloatArray,
    firm_county: IntArray,
    hnte: BoolArray,
    targets: SynthesisTargets,
    weight_per_row: float,
    p: SynthesisParameters,
) -> None:
    """County R&D, counts and capacities, written into ``counties`` with its economics."""
    n_c = len(counties)
    pop = counties["population"].to_numpy(dtype=np.float64)
    kind = counties["type"].to_numpy(dtype=str)
    gdp, gdp_pc, fiscal, fiscal_st = econ.gdp, econ.gdp_pc, econ.fiscal, econ.fiscal_st
    propensity, z_cap = econ.propensity, econ.z_cap
    if "rd_cny" in user:
        rd = user["rd_cny"].to_numpy(dtype=np.float64)
        rd_ent = np.minimum(rd_ent, rd)
    else:
        rest = max(targets.rd_cny - rd_ent.sum(), 0.0)
        w_non = (
            gdp * propensity * np.where(kind == "district", p.nonenterprise_district_factor, 1.0)
        )
        rd = rd_ent + (rest * w_non / w_non.sum() if w_non.sum() > 0 else 0.0)
    if "rd_enterprise_cny" in user:
        rd_ent = user["rd_enterprise_cny"].to_numpy(dtype=np.float64)
    n_ent = (
        user["n_enterprises"].to_numpy(dtype=np.int64)
        if "n_enterprises" in user
        else np.rint(np.bincount(firm_county, minlength=n_c) * weight_per_row).astype(np.int64)
    )
    hnte_count = (
        user["hnte_count"].to_numpy(dtype=np.int64)
        if "hnte_count" in user
        else np.rint(np.bincount(firm_county, weights=hnte, minlength=n_c) * weight_per_row).astype(
            np.int64
        )
    )
    pop1 = np.maximum(pop, 1.0)
    research = _logistic(_zscore(np.log1p(rd / pop1)) + 0.3 * z_cap[0])
    management = _logistic(
        0.7 * _zscore(np.log1p(fiscal_st / pop1)) + 0.3 * _zscore(np.log1p(gdp_pc)) + 0.3 * z_cap[1]
    )
    if "research_capacity" in user:
        research = user["research_capacity"].to_numpy(dtype=np.float64)
    if "management_capacity" in user:
        management = user["management_capacity"].to_numpy(dtype=np.float64)
    counties["gdp_cny"] = gdp
    counties["fiscal_expenditure_cny"] = fiscal
    counties["fiscal_st_spending_cny"] = fiscal_st
    counties["rd_cny"] = rd
    counties["rd_enterprise_cny"] = rd_ent
    counties["n_enterprises"] = n_ent
    counties["hnte_count"] = hnte_count
    counties["research_capacity"] = research
    counties["management_capacity"] = management


def _township_attributes(
    townships: pd.DataFrame,
    counties: pd.DataFrame,
    econ: _CountyEconomy,
    include_subdistricts: bool,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> None:
    """Platforms, commissioners and technology adoption of each township, written into
    ``townships``."""
    poverty = counties["poverty_county"].to_numpy(dtype=bool)
    tk = townships["kind"].map(_KIND_CODE).to_numpy(dtype=np.int64)
    tc = townships["county_idx"].to_numpy(dtype=np.int64)
    dev = np.sqrt(np.maximum(econ.gdp_pc, 1e-9) / econ.median_pc)[tc]
    agri_or_poor = (
        counties["functional_class"].to_numpy(dtype=str) == FUNCTIONAL_CLASSES[1]
    ) | poverty
    lam_p = np.asarray(p.platforms_mean)[tk] * dev
    lam_c = np.asarray(p.commissioners_mean)[tk] * np.where(agri_or_poor[tc], 1.3, 1.0)
    mean_a = np.asarray(p.adoption_mean)[tk]
    townships["counts_as_xiangzhen"] = (tk <= 1) | ((tk == 2) & include_subdistricts)
    townships["platforms"] = rng.poisson(lam_p).astype(np.int64)
    townships["commissioners"] = rng.poisson(lam_c).astype(np.int64)
    townships["agri_tech_adoption"] = rng.beta(
        mean_a * p.adoption_concentration, (1.0 - mean_a) * p.adoption_concentration
    )
