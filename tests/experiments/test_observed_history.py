"""The observed history a run draws on its fan charts (experiments.outputs.observed_history)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import policysim
from policysim.analysis.history import observed_series
from policysim.experiments.outputs import _fan_metrics, observed_history
from policysim.simulation import baseline_for

ROOT = Path(__file__).resolve().parents[2]


def _result(name: str) -> Any:
    return SimpleNamespace(loaded=policysim.load_scenario(ROOT / "scenarios" / name))


def test_jiangxi_run_draws_the_embedded_history_and_the_shipped_observed_file() -> None:
    result = _result("jiangxi_baseline.yaml")
    history = observed_history(baseline_for(result.loaded.scenario), result.loaded.path)
    assert len(history) == 2  # province_history.csv, then scenarios/observed/
    rd = observed_series(history, "rd_expenditure_100m_cny")
    assert rd["year"].tolist() == list(range(2015, 2023))  # up to 2017, then 2018-2022
    assert rd.set_index("year")["sourced"].to_dict() == {
        2015: False, 2016: True, 2017: False, 2018: False, 2019: False, 2020: True,
        2021: False, 2022: False,
    }  # fmt: skip
    hnte = observed_series(history, "hnte_count").set_index("year")["value"].to_dict()
    assert hnte == {2014: 812.0, 2015: 1095.0, 2020: 5115.0}
    fans = _fan_metrics(result, history)
    targets = list(dict.fromkeys(t.metric for t in result.loaded.scenario.targets))
    assert fans[: len(targets)] == targets  # the target metrics first
    for metric in ("rd_expenditure_100m_cny", "rd_intensity_pct", "gdp_100m_cny", "hnte_count"):
        assert metric in fans


def test_other_baselines_get_no_jiangxi_observations() -> None:
    # tiny.yaml sits beside scenarios/observed/ but its 10 counties are not Jiangxi
    result = _result("tiny.yaml")
    history = observed_history(baseline_for(result.loaded.scenario), result.loaded.path)
    assert observed_series(history, "rd_expenditure_100m_cny").empty
    assert _fan_metrics(result, history) == list(
        dict.fromkeys(t.metric for t in result.loaded.scenario.targets)
    )
