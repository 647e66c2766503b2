"""Hindcast: CSV reading errors, CRPS known answers, PIT calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import MetricsBuilder
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from policysim.analysis.hindcast import crps_ensemble, pit_values, read_observed, score_hindcast
from policysim.errors import DataError

ALLOWED = {"rd_intensity_pct", "gdp_100m_cny"}
YEARS = range(2017, 2031)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "observed.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_observed_ok(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "indicator,year,value,source\n"
        "rd_intensity_pct,2018,1.41,统计公报\n"
        "gdp_100m_cny,2018,21984.8,统计公报\n",
    )
    table = read_observed(path, ALLOWED, YEARS)
    assert table["indicator"].tolist() == ["rd_intensity_pct", "gdp_100m_cny"]
    assert table["year"].tolist() == [2018, 2018]
    assert table["value"].tolist() == [1.41, 21984.8]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("indicator,value\nrd_intensity_pct,1.4\n", "missing column.*year"),
        ("indicator,year,value\nrd_intensity_pct,2018,1.4\nhnte,2018,3\n", "row 3.*unknown"),
        ("indicator,year,value\nrd_intensity_pct,2016,1.1\n", "row 2.*outside"),
        ("indicator,year,value\nrd_intensity_pct,2018.5,1.1\n", "row 2.*not an integer"),
        ("indicator,year,value\nrd_intensity_pct,2018,n/a\n", "row 2.*not a number"),
        ("indicator,year,value\nrd_intensity_pct,2018,inf\n", "row 2.*finite"),
        (
            "indicator,year,value\nrd_intensity_pct,2018,1.4\nrd_intensity_pct,2018,1.5\n",
            "row 3.*duplicate of row 2",
        ),
        ("", "empty"),
    ],
)
def test_read_observed_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_observed(path, ALLOWED, YEARS)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_read_observed_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_observed(tmp_path / "none.csv", ALLOWED, YEARS)
    path = tmp_path / "gbk.csv"
    path.write_bytes("indicator,year,value\n研发,2018,1\n".encode("gbk"))
    with pytest.raises(DataError, match="UTF-8"):
        read_observed(path, ALLOWED, YEARS)


def test_crps_one_member_is_absolute_error() -> None:
    assert float(crps_ensemble([3.0], 5.5)) == pytest.approx(2.5)
    np.testing.assert_allclose(
        crps_ensemble(np.array([[1.0], [4.0]]), np.array([0.0, 4.5])), [1.0, 0.5]
    )


def test_crps_two_members_by_hand() -> None:
    # members 0 and 2, y = 1: E|X - y| = 1, E|X - X'| = (0 + 2 + 2 + 0) / 4 = 1 -> 1 - 0.5 = 0.5
    assert float(crps_ensemble([0.0, 2.0], 1.0)) == pytest.approx(0.5)


def test_crps_matches_numerical_integral() -> None:
    rng = np.random.default_rng(11)
    x = rng.gamma(2.0, 3.0, size=37)
    y = 4.2
    xs = np.sort(x)

    def integrand(z: float) -> float:
        ecdf = np.searchsorted(xs, z, side="right") / xs.size
        return float((ecdf - (z >= y)) ** 2)

    lo, hi = min(xs[0], y) - 1.0, max(xs[-1], y) + 1.0
    breaks = sorted({*xs.tolist(), y})
    value, _ = integrate.quad(integrand, lo, hi, points=breaks, limit=500)
    assert float(crps_ensemble(x, y)) == pytest.approx(value, rel=1e-6)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_crps_non_negative(members: list[float], y: float) -> None:
    assert float(crps_ensemble(members, y)) >= 0.0


def test_pit_mid_rank_and_randomised() -> None:
    x = np.array([1.0, 2.0, 2.0, 3.0])
    assert float(pit_values(x, 2.0)) == pytest.approx((1 + 0.5 * 2) / 4)
    assert float(pit_values(x, 0.0)) == 0.0
    assert float(pit_values(x, 9.0)) == 1.0
    r = float(pit_values(x, 2.0, np.random.default_rng(1)))
    assert 0.25 <= r <= 0.75


def test_pit_uniform_and_coverage_for_calibrated_ensemble() -> None:
    # 400 cases, each with a 200-member ensemble and an observation from the same distribution
    rng = np.random.default_rng(2018)
    m, n = 400, 200
    loc = rng.uniform(1.0, 3.0, size=(m, 1))
    members = loc + rng.normal(0.0, 0.3, size=(m, n))
    obs = loc[:, 0] + rng.normal(0.0, 0.3, size=m)
    pit = pit_values(members, obs, np.random.default_rng(3))
    hist, _ = np.histogram(pit, bins=5, range=(0, 1))
    # 80 expected per bin; binomial sd about 8: allow 4 sd
    assert np.all(np.abs(hist - 80) < 32)
    in50 = np.mean((pit >= 0.25) & (pit <= 0.75))
    in90 = np.mean((pit >= 0.05) & (pit <= 0.95))
    assert abs(in50 - 0.5) < 0.1
    assert abs(in90 - 0.9) < 0.06


def test_score_hindcast_table_and_summary(province_metrics: MetricsBuilder) -> None:
    ens = province_metrics({"rd_intensity_pct": [[1.0, 1.2], [1.2, 1.4], [1.4, 1.6]]})
    observed = pd.DataFrame(
        {"indicator": ["rd_intensity_pct"] * 2, "year": [2017, 2018], "value": [1.2, 2.0]}
    )
    table, summary = score_hindcast(ens, observed)
    first = table.iloc[0]
    assert first["median"] == pytest.approx(1.2)
    assert bool(first["in50"])
    assert bool(first["in90"])
    assert first["abs_pct_error"] == pytest.approx(0.0)
    assert first["pit"] == pytest.approx(0.5)
    second = table.iloc[1]
    assert not bool(second["in90"])
    assert second["pit"] == 1.0
    # members 1.2, 1.4, 1.6 vs y = 2: E|X - y| = 0.6; E|X - X'| = (0.2 + 0.4 + 0.2) * 2 / 9
    assert second["crps"] == pytest.approx(0.6 - 0.5 * (0.2 + 0.4 + 0.2) * 2 / 9)
    assert second["abs_pct_error"] == pytest.approx(30.0)
    s = summary["rd_intensity_pct"]
    assert s["coverage90"] == pytest.approx(0.5)
    assert s["mape_median"] == pytest.approx(15.0)
    assert s["n"] == 2
    missing = observed.assign(indicator="gdp_100m_cny")
    with pytest.raises(DataError, match="gdp_100m_cny"):
        score_hindcast(ens, missing)
