"""The metric registry (policysim.metrics) is the one vocabulary: a run emits exactly its metrics,
level by level and in its order; the scenario schema, the hindcast and the plot labels use it;
docs/METRICS.md is its table."""

from __future__ import annotations

from pathlib import Path

import pytest

import policysim
from policysim import metrics
from policysim.plotting.fans import METRIC_LABELS
from policysim.scenario.schema import PROVINCE_METRICS
from policysim.simulation import COUNTY_METRICS, TOWNSHIP_METRICS
from policysim.studies.hindcast import HINDCAST_INDICATORS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "METRICS.md"


@pytest.fixture(scope="module")
def emitted(tiny: policysim.LoadedScenario) -> dict[str, list[str]]:
    m = policysim.simulate(tiny, seed=3).metrics
    out: dict[str, list[str]] = {}
    for level in metrics.LEVELS:
        names = m.loc[m["level"] == level, "metric"].astype(str)
        out[level] = list(dict.fromkeys(names))
    return out


@pytest.mark.parametrize("level", metrics.LEVELS)
def test_a_run_emits_exactly_the_registry(emitted: dict[str, list[str]], level: str) -> None:
    assert emitted[level] == list(metrics.by_level(level))  # type: ignore[arg-type]


def test_vocabularies_come_from_the_registry() -> None:
    assert tuple(COUNTY_METRICS) == metrics.by_level("county")
    assert tuple(TOWNSHIP_METRICS) == metrics.by_level("township")
    assert set(PROVINCE_METRICS) == set(metrics.target_metrics())
    assert set(HINDCAST_INDICATORS) <= set(metrics.by_level("province"))
    assert set(HINDCAST_INDICATORS) == set(metrics.hindcast_indicators())
    assert set(METRIC_LABELS) == set(metrics.by_level("province"))


def test_every_metric_is_described_in_both_languages() -> None:
    keys = [(m.level, m.name) for m in metrics.METRICS]
    assert len(keys) == len(set(keys)), "a metric is registered twice"
    for m in metrics.METRICS:
        assert m.kind in metrics.KINDS
        assert m.description and m.label_en and m.label_zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in m.label_zh), m.name
        assert not (m.target and m.level != "province"), m.name


def test_unknown_metric_names_the_alternatives() -> None:
    with pytest.raises(KeyError, match="expected one of index"):
        metrics.get("no_such_metric", "county")
    assert metrics.label("hnte_count", "province", "zh") == "高新技术企业（家）"
    assert metrics.label("not_registered") == "not_registered"


def test_docs_table_is_the_registry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert metrics.markdown_table() in text, (
        "docs/METRICS.md is out of date: regenerate it with `python docs/regenerate.py`"
    )
