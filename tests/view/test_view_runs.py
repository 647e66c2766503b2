"""Runs of the page: the same run directory as ``policysim run``; cancel keeps a resumable run;
run directories read back side by side; one county's trajectories."""

from __future__ import annotations

from pathlib import Path

import pytest

from policysim.experiments.rundir import directory_state
from policysim.scenario import load_scenario
from policysim.view.county import county_list, county_trajectories, filter_counties
from policysim.view.runs import RunJob, find_runs, side_by_side

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    job = RunJob(load_scenario(TINY), replications=2, workers=1, lang="en", results_dir=results)
    outcome = job.run()
    assert not outcome.cancelled and outcome.n_runs == 2
    return outcome.directory


def test_page_run_is_a_complete_run_directory(finished: Path) -> None:
    assert directory_state(finished).state == "complete"
    for name in ("manifest.json", "attainment.csv", "briefing.html", "results.xlsx"):
        assert (finished / name).is_file(), name


def test_cancel_keeps_a_resumable_run(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    job = RunJob(load_scenario(TINY), replications=4, workers=1, results_dir=tmp_path)

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        job.cancel()

    job.progress = progress
    outcome = job.run()
    assert outcome.cancelled
    assert seen and seen[0][1] == 4
    assert directory_state(outcome.directory).state == "in progress"
    assert not (outcome.directory / "briefing.html").exists()


def test_browse_and_county(finished: Path) -> None:
    assert find_runs(finished.parent) == [finished]
    study = finished.parent / "frontier-study"  # no attainment: listed, not compared
    study.mkdir(exist_ok=True)
    (study / "report.html").write_text("<html></html>", encoding="utf-8")
    assert study in find_runs(finished.parent)
    table = side_by_side([finished, finished, study])
    assert "counties_2020" in set(table["target"])
    counties = county_list(finished)
    assert {"code", "name", "prefecture"} <= set(counties.columns)
    one = filter_counties(counties, "安源")
    assert list(one["code"]) == ["360302"]
    assert len(filter_counties(counties, "萍乡市")) >= 2
    traj = county_trajectories(finished, "360302")
    assert set(traj["metric"]) == {"index", "rd_100m_cny", "hnte_count", "funds_cny", "designated"}
    p = traj[traj["metric"] == "designated"]["median"]
    assert ((p >= 0) & (p <= 1)).all()


def test_comparison_directory_side_by_side(tmp_path: Path) -> None:
    """A compare directory: one column per scenario, its attainment rows only, in pp."""
    import pandas as pd

    cmp = tmp_path / "cmp"
    cmp.mkdir()
    pd.DataFrame(
        [
            {"scenario": "base", "target": "t1", "probability": 0.5, "diff_vs_baseline": 0.0,
             "kind": "attainment"},
            {"scenario": "equal", "target": "t1", "probability": 0.7, "diff_vs_baseline": 0.2,
             "kind": "attainment"},
            {"scenario": "equal", "target": "t1", "probability": None, "diff_vs_baseline": 0.2,
             "kind": "best"},
        ]
    ).to_csv(cmp / "comparison.csv", index=False)  # fmt: skip
    table = side_by_side([cmp], lang="en")
    assert list(table.columns) == ["target", "cmp: base", "cmp: equal"]
    assert table.loc[0, "cmp: equal"] == "70%, +20.0 pp vs baseline"
