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

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from policysim.data.schema import BASE_YEAR, FUNCTIONAL_CLASSES, SECTORS
from policysim.errors import DataError

__all__ = [
    "SynthesisParameters",
    "SynthesisTargets",
    "assign_functional_classes",
    "synthesize",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SynthesisTargets:
    """Totals the synthetic province must reproduce.

    Attributes
    ----------
    gdp_cny : float
        Province GDP at the base year, CNY (Jiangxi 2017: 20,818.5亿元, history file, verified).
    rd_cny : float
        Province R&D expenditure at the base year, CNY (Jiangxi 2017: 255.8亿元, recalled).
    enterprise_rd_share : float
        Share of R&D performed by enterprises (0.84, PARAMETERS.md, verified for a later year).
    n_firms : int
        Firms at ``enterprise_scale`` 1.0 (Jiangxi: 30,000, assumption 20,000–40,000: about
        11,500 above-scale industrial firms, PARAMETERS "passed 10,000 in 2016", plus smaller
        innovation-relevant firms).
    hnte : int
        HNTEs holding a certificate at the base year at scale 1.0 (Jiangxi: 2,000, assumption,
        range 1,500–2,600; 1,095 in November 2015, verified).
    max_sales_cny : float
        Upper truncation of the firm-size distribution, CNY (assumption: 2e11 for Jiangxi, about
        the revenue of its largest group; 3e12 nationally).
    prefecture_gdp_cny : tuple of (str, float)
        GDP targets of prefectures, CNY, by ``prefecture_code``; the counties of a listed
        prefecture sum to its target exactly, the counties of unlisted prefectures share the rest
        of ``gdp_cny`` (Jiangxi: all 11, see :mod:`policysim.data.prefectures`). Empty: only the
        province total is matched.
    """

    gdp_cny: float
    rd_cny: float
    enterprise_rd_share: float
    n_firms: int
    hnte: int
    max_sales_cny: float = 2.0e11
    prefecture_gdp_cny: tuple[tuple[str, float], ...] = ()


def _default_sector_shares() -> tuple[float, ...]:
    # Assumption: shares of the innovation-relevant firm population by sector (sum 1).
    return (0.12, 0.06, 0.10, 0.07, 0.14, 0.16, 0.17, 0.18)


def _default_sector_rd() -> tuple[float, ...]:
    # Assumption (range ±50%): relative R&D propensity and intensity by sector.
    return (1.6, 0.9, 1.4, 1.8, 1.3, 0.6, 0.5, 0.6)


@dataclass(frozen=True)
class SynthesisParameters:
    """Structural factors of the synthesiser. All are assumptions unless a source is given;
    the range in each comment is what a sensitivity analysis should explore.
    """

    # --- county GDP: GDP_i ∝ population_i × type factor × poverty factor × exp(σ ε)
    gdp_pc_factor_district: float = 1.6  # assumption, range 1.3–2.0 (relative to counties)
    gdp_pc_factor_city: float = 1.25  # assumption, range 1.1–1.5
    gdp_pc_factor_poverty: float = 0.6  # assumption, range 0.5–0.75
    gdp_sigma: float = 0.25  # assumption, range 0.15–0.35 (log-normal noise)
    # --- fiscal expenditure / GDP by type; poverty counties receive more transfers
    fiscal_ratio_district: float = 0.10  # assumption, range 0.06–0.15
    fiscal_ratio_city: float = 0.15  # assumption, range 0.10–0.20
    fiscal_ratio_county: float = 0.22  # assumption, range 0.15–0.30
    fiscal_ratio_poverty_factor: float = 1.6  # assumption, range 1.3–2.0
    fiscal_sigma: float = 0.15  # assumption
    # --- own-level fiscal S&T spending share of fiscal expenditure: 1%–3% (brief; assumption)
    fiscal_st_share_min: float = 0.01
    fiscal_st_share_max: float = 0.03
    # --- R&D propensity of a county: (GDP per capita / median)^η × exp(σ ε)
    rd_pc_elasticity: float = 1.0  # assumption, range 0.5–1.5 (total elasticity β+η > 1)
    rd_county_sigma: float = 0.3  # assumption
    nonenterprise_district_factor: float = 3.0  # assumption: universities/institutes in districts
    # --- firm placement: counties ∝ GDP^β; townships by kind weight × exp(σ ε)
    firm_gdp_elasticity: float = 1.1  # assumption, range 1.0–1.3
    weight_town: float = 3.0  # assumption, range 2–5 (relative to a 乡)
    weight_township: float = 1.0  # reference unit
    weight_subdistrict: float = 2.0  # used only with include_subdistricts
    township_sigma: float = 0.5  # assumption
    # --- firm sizes: truncated Pareto, density exponent 2.1 (Heinrich & Dai 2016: 2.0–2.5)
    size_density_exponent: float = 2.1
    above_scale_sales_cny: float = 2.0e7  # 规模以上: main-business revenue ≥ 20 M CNY (NBS rule)
    above_scale_share: float = 11_500 / 30_000  # assumption: ~11,500 of 30,000 (see targets)
    # --- R&D performers: 19.2% of above-scale firms (PARAMETERS: 2015, national, verified)
    performer_share_above: float = 0.192
    performer_share_small: float = 0.15  # assumption, range 0.08–0.25
    performer_size_elasticity: float = 0.25  # assumption: larger firms perform more often
    performer_max_prob: float = 0.95  # assumption: cap for the very largest firms
    # --- reported R&D intensity of performers: log-normal, median falls with size
    intensity_median_at_20m: float = 0.055  # assumption, range 0.04–0.07
    intensity_size_elasticity: float = -0.25  # assumption, range -0.4 to -0.1
    intensity_sigma: float = 0.6  # assumption
    intensity_cap: float = 0.5  # assumption: no firm reports R&D above half its sales
    intensity_3y_sigma: float = 0.1  # assumption: 3-year mean vs 2017 ratio
    # --- non-R&D HNTE criteria (high-tech revenue, S&T staff, IP score)
    other_ok_hightech: float = 0.8  # assumption, range 0.6–0.9 (performers, high-tech sectors)
    other_ok_rest: float = 0.55  # assumption, range 0.4–0.7 (performers, other sectors)
    other_ok_nonperformer: float = 0.05  # assumption
    # --- HNTE certificates valid in 2017 were issued 2015–2017 (3-year validity, verified)
    cert_year_probs: tuple[float, float, float] = (0.27, 0.33, 0.40)  # assumption (growing stock)
    # --- other firm attributes
    age_mean_years: float = 8.0  # assumption, range 6–12
    labour_productivity_cny: float = 6.0e5  # assumption, range 3e5–1.2e6 CNY per employee
    agri_food_manufacturing_share: float = 0.7  # assumption
    sector_shares: tuple[float, ...] = field(default_factory=_default_sector_shares)
    sector_rd: tuple[float, ...] = field(default_factory=_default_sector_rd)
    leading_sector_boost: float = 3.0  # assumption: 首位产业 weighs ×3 in its county
    # --- townships: platforms, commissioners (Poisson means by kind), tech adoption (Beta)
    platforms_mean: tuple[float, float, float, float] = (0.25, 0.08, 0.3, 0.05)  # ~300 in all
    commissioners_mean: tuple[float, float, float, float] = (2.0, 2.5, 0.2, 1.5)  # ~4,200
    adoption_mean: tuple[float, float, float, float] = (0.4, 0.3, 0.5, 0.5)  # assumption
    adoption_concentration: float = 10.0  # assumption, range 5–20 (Beta a + b)


_HIGH_TECH = np.array(
    [s in {"electronics", "new_materials", "pharma_bio", "equipment"} for s in SECTORS]
)
_KIND_CODE = {"town": 0, "township": 1, "subdistrict": 2, "other": 3}


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


def _place_firms(
    county_rows: IntArray,
    townships: pd.DataFrame,
    include_subdistricts: bool,
    p: SynthesisParameters,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Place firms in townships; returns (county_idx, township_idx), sorted by township."""
    n_counties = county_rows.size
    kind = townships["kind"].map(_KIND_CODE).to_numpy(dtype=np.int64)
    tcounty = townships["county_idx"].to_numpy(dtype=np.int64)
    base = np.array(
        [
            p.weight_town,
            p.weight_township,
            p.weight_subdistrict if include_subdistricts else 0.0,
            0.0,
        ]
    )[kind]
    # Fallbacks, documented: a county without towns/townships lets its subdistricts host firms,
    # and one with neither lets its other units host them.
    for fallback_kind in (2, 3):
        total = np.bincount(tcounty, weights=base, minlength=n_counties)
        empty = total[tcounty] <= 0
        base = np.where(empty & (kind == fallback_kind), 1.0, base)
    weight = base * np.exp(p.township_sigma * rng.standard_normal(len(townships)))
    total = np.bincount(tcounty, weights=weight, minlength=n_counties)
    homeless = np.flatnonzero((total <= 0) & (county_rows > 0))
    if homeless.size:
        raise DataError(
            "townships.csv",
            f"county index {int(homeless[0])} must host firms but has no township-level unit",
        )
    cum = np.cumsum(weight)
    ends = np.cumsum(np.bincount(tcounty, minlength=n_counties))  # townships ordered by county
    county_end = np.where(ends > 0, cum[np.maximum(ends - 1, 0)], 0.0)
    county_start = county_end - total
    firm_county = np.repeat(np.arange(n_counties, dtype=np.int64), county_rows)
    u = county_start[firm_county] + rng.random(firm_county.size) * total[firm_county]
    town = np.searchsorted(cum, u, side="right").astype(np.int64)
    # guard against round-off at the county's upper edge: clamp into its last hosting unit
    positive = weight > 0
    last_host = np.full(n_counties, -1, dtype=np.int64)
    np.maximum.at(last_host, tcounty[positive], np.flatnonzero(positive))
    first_host = np.full(n_counties, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_host, tcounty[positive], np.flatnonzero(positive))
    if firm_county.size:
        town = np.clip(town, first_host[firm_county], last_host[firm_county])
    order = np.argsort(town, kind="stable")
    return firm_county[order], town[order]


def _sectors(
    firm_county: IntArray, n_counties: int, p: SynthesisParameters, rng: np.random.Generator
) -> IntArray:
    shares = np.asarray(p.sector_shares, dtype=np.float64)
    n_sectors = shares.size
    leading = rng.choice(n_sectors - 1, size=n_counties, p=shares[:-1] / shares[:-1].sum())
    mix = np.tile(shares, (n_counties, 1))
    mix[np.arange(n_counties), leading] *= p.leading_sector_boost
    mix /= mix.sum(axis=1, keepdims=True)
    cum = np.cumsum(mix, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(firm_county.size)
    sector = np.zeros(firm_county.size, dtype=np.int64)
    for k in range(n_sectors - 1):  # loop over the 8 sectors, vectorised over firms
        sector += (u >= cum[firm_county, k]).astype(np.int64)
    return sector


def _sales(
    n: int, targets: SynthesisTargets, p: SynthesisParameters, rng: np.random.Generator
) -> FloatArray:
    """Stratified draw from a truncated Pareto (density exponent ``size_density_exponent``)."""
    a = p.size_density_exponent - 1.0
    x_min = p.above_scale_sales_cny * p.above_scale_share ** (1.0 / a)
    tail = (x_min / targets.max_sales_cny) ** a
    u = (rng.permutation(n) + rng.random(n)) / max(n, 1)
    sales: FloatArray = x_min * (1.0 - u * (1.0 - tail)) ** (-1.0 / a)
    return sales


def _select_per_group(group: IntArray, priority: FloatArray, quota: IntArray) -> BoolArray:
    """Select the ``quota[g]`` highest-priority members of each group ``g``."""
    order = np.lexsort((-priority, group))
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, np.arange(quota.size))
    rank = np.arange(group.size) - starts[sorted_group]
    chosen = np.zeros(group.size, dtype=bool)
    chosen[order] = rank < quota[sorted_group]
    return chosen


def hnte_threshold(sales_cny: FloatArray) -> FloatArray:
    """HNTE R&D/sales threshold by size band, 国科发火〔2016〕32号 (verified): 5% if sales ≤ 50 M
    CNY, 4% for 50–200 M, 3% above.

    Parameters
    ----------
    sales_cny : (n,) float array, CNY
        Latest-year sales of each firm.

    Returns
    -------
    (n,) float array
        Threshold as a fraction of sales.
    """
    out: FloatArray = np.select([sales_cny <= 5e7, sales_cny <= 2e8], [0.05, 0.04], 0.03)
    return out


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
    pop = counties["population"].to_numpy(dtype=np.float64)
    kind = counties["type"].to_numpy(dtype=str)
    poverty = counties["poverty_county"].to_numpy(dtype=bool)
    weight_per_row = 1.0 / enterprise_scale

    classes, fc_synth = assign_functional_classes(counties)
    counties["functional_class"] = classes
    counties["functional_class_synthetic"] = fc_synth

    # ---- county economics (fixed draw order keeps results a pure function of the seed)
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

    # ---- firm counts per county (rows)
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
    firm_county, firm_town = _place_firms(rows, townships, include_subdistricts, p, rng)
    n_f = firm_county.size

    # ---- firm attributes (one representative firm per row; totals multiply by weight)
    sector = _sectors(firm_county, n_c, p, rng)
    sales = _sales(n_f, targets, p, rng)
    above = sales >= p.above_scale_sales_cny
    sector_rd = np.asarray(p.sector_rd, dtype=np.float64)[sector]
    size_rel = (sales / p.above_scale_sales_cny) ** p.performer_size_elasticity
    prob = np.empty(n_f)
    if above.any():
        raw = sector_rd[above] * size_rel[above]
        prob[above] = p.performer_share_above * raw / raw.mean()
    if (~above).any():
        raw = sector_rd[~above]
        prob[~above] = p.performer_share_small * raw / raw.mean()
    prob = np.minimum(prob, p.performer_max_prob)
    performer = rng.random(n_f) < prob
    median_int = (
        p.intensity_median_at_20m * (sales / p.above_scale_sales_cny) ** p.intensity_size_elasticity
    )
    intensity = median_int * sector_rd * np.exp(p.intensity_sigma * rng.standard_normal(n_f))
    intensity = np.minimum(intensity * propensity[firm_county] ** 0.5, p.intensity_cap)
    other_ok_p = np.where(
        performer,
        np.where(_HIGH_TECH[sector], p.other_ok_hightech, p.other_ok_rest),
        p.other_ok_nonperformer,
    )
    other_ok = rng.random(n_f) < other_ok_p
    z_3y = rng.standard_normal(n_f)
    z_prio = rng.random(n_f)
    z_cert = rng.random(n_f)
    age = 1 + np.floor(rng.exponential(p.age_mean_years, n_f)).astype(np.int64)
    age = np.minimum(age, 60)
    employees_member = np.maximum(
        1.0, sales / (p.labour_productivity_cny * np.exp(0.4 * rng.standard_normal(n_f)))
    )
    manufacturing = (sector != SECTORS.index("other")) & ~(
        (sector == SECTORS.index("agri_food"))
        & (rng.random(n_f) >= p.agri_food_manufacturing_share)
    )

    # user HNTE quotas need enough performers in their county: promote the largest firms
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
    if need_perf.any():
        promote = _select_per_group(firm_county, performer * 1e15 + sales, need_perf)
        performer = performer | promote

    # ---- R&D: intensity × sales for performers, scaled to the enterprise R&D target
    raw_rd = np.where(performer, intensity * sales, 0.0)
    total_ent = targets.rd_cny * targets.enterprise_rd_share
    if ent_target is None:
        k = total_ent / (raw_rd.sum() * weight_per_row) if raw_rd.sum() > 0 else 0.0
        rd_member = raw_rd * k
        logger.info("firm R&D scale factor %.3f", k)
    else:
        county_raw = np.bincount(firm_county, weights=raw_rd, minlength=n_c) * weight_per_row
        k_c = np.divide(ent_target, county_raw, out=np.zeros(n_c), where=county_raw > 0)
        rd_member = raw_rd * k_c[firm_county]
    rd_ent = np.bincount(firm_county, weights=rd_member, minlength=n_c) * weight_per_row
    intensity_2017 = np.divide(rd_member, sales)
    intensity_3y = np.where(performer, intensity_2017 * np.exp(p.intensity_3y_sigma * z_3y), 0.0)

    # ---- HNTE certificates
    threshold = hnte_threshold(sales)
    eligible = performer & other_ok & (intensity_3y >= threshold) & (age >= 1)
    ratio = np.minimum(intensity_3y / threshold, 0.999)
    priority = eligible * 2.0 + performer * 1.0 + np.where(eligible, z_prio, ratio)
    group = firm_county if "hnte_count" in user else np.zeros(n_f, dtype=np.int64)
    hnte = _select_per_group(group, priority, hnte_quota)
    fixed = hnte & ~eligible
    if fixed.any():
        logger.warning(
            "%d HNTE firms had to be drawn from firms below the R&D threshold; their 3-year "
            "intensity was raised to the threshold",
            int(fixed.sum()),
        )
        intensity_3y = np.where(fixed, np.maximum(intensity_3y, threshold), intensity_3y)
        other_ok = other_ok | fixed
    probs = np.cumsum(np.asarray(p.cert_year_probs))
    drawn = BASE_YEAR - 2 + (z_cert[:, None] >= probs[None, :-1] / probs[-1]).sum(axis=1)
    cert_year = np.where(hnte, np.maximum(drawn, BASE_YEAR + 1 - age), -1).astype(np.int64)
    sme = (employees_member <= 500) & (sales <= 2e8)
    tech_sme = sme & (hnte | (performer & (intensity_3y >= 0.03)))

    enterprises = pd.DataFrame(
        {
            "firm_id": np.arange(n_f, dtype=np.int64),
            "county_idx": firm_county,
            "township_idx": firm_town,
            "sector": sector,
            "manufacturing": manufacturing,
            "above_scale": above,
            "sales_cny": sales,
            "rd_cny": rd_member,
            "rd_intensity_3y": intensity_3y,
            "age_years": age,
            "employees": np.rint(employees_member).astype(np.int64),
            "other_criteria_ok": other_ok,
            "hnte": hnte,
            "hnte_cert_year": cert_year,
            "tech_sme": tech_sme,
            "weight": np.full(n_f, weight_per_row),
        }
    )

    # ---- county R&D, counts, capacities
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

    # ---- townships
    tk = townships["kind"].map(_KIND_CODE).to_numpy(dtype=np.int64)
    tc = townships["county_idx"].to_numpy(dtype=np.int64)
    dev = np.sqrt(np.maximum(gdp_pc, 1e-9) / median_pc)[tc]
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
    synthetic = tuple(
        c
        for c in (
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
        if c not in user.columns
    )
    return SynthesisResult(counties, townships, enterprises, synthetic)
