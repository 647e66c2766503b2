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
    table = side_by_side([finished, finished])
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
