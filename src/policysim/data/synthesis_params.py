"""Targets and structural factors of the synthesiser (see :mod:`policysim.data.synthesis`).

Every default below is either a figure from docs/PARAMETERS.md (cited) or an assumption with a
plausible range; docs/DATA.md lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["SynthesisParameters", "SynthesisTargets"]

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
