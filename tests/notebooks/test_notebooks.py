"""Every notebook runs top to bottom with small sizes (nbclient, the venv's ``python3`` kernel)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
#: Sizes for the suite: a few runs each (the notebooks default to sizes that mean something,
#: 100-200 runs, 20 Morris trajectories; the same variables set them).
SMALL = {
    "POLICYSIM_NB_REPLICATIONS": "4",
    "POLICYSIM_NB_WORKERS": "1",
    "POLICYSIM_NB_SA_METHOD": "morris",
    "POLICYSIM_NB_SA_SAMPLES": "2",
    "POLICYSIM_NB_DASK_WORKERS": "2",
    "POLICYSIM_NB_MARGINAL_REPLICATIONS": "0",
    "POLICYSIM_NB_VERIFY_REPLICATIONS": "2",
}
#: Notebooks that write outputs, and the folder under POLICYSIM_NB_OUT.
WRITES = {
    "01_quick_start.ipynb": "quick_start",
    "02_comparing_strategies.ipynb": "comparison",
    "04_sensitivity.ipynb": "sensitivity",
}


def test_committed_notebooks_are_small_and_have_no_warnings() -> None:
    """The notebooks are committed with their outputs (they read on GitHub): figures as PNG,
    the folder under 3 MB, no warnings or errors in the stored outputs."""
    assert sum(p.stat().st_size for p in NOTEBOOKS.glob("*.ipynb")) < 3_000_000
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", name
                if output.get("output_type") == "stream":
                    assert "Warning" not in output.get("text", ""), (name, output["text"][:200])


def test_the_five_notebooks_exist() -> None:
    assert NAMES == [
        "01_quick_start.ipynb",
        "02_comparing_strategies.ipynb",
        "03_one_county.ipynb",
        "04_sensitivity.ipynb",
        "05_scaling_out.ipynb",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POLICYSIM_ROOT", str(ROOT))
    monkeypatch.setenv("POLICYSIM_NB_OUT", str(tmp_path / "out"))
    # the kernel must be this interpreter (the venv), whatever kernel spec is installed
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent), prepend=":")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError with the cell and traceback on any failure
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells)
    errors = [
        o for c in code_cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    # no warnings in the outputs (pandas FutureWarnings, widget warnings...): they read as
    # problems on GitHub, where the notebooks are committed with their outputs
    warned = [
        o.get("text", "")
        for c in code_cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert not [w for w in warned if "Warning" in w], warned
    # every notebook shows at least one result (a table or a figure)
    rich = [
        o
        for c in code_cells
        for o in c.get("outputs", [])
        if o.get("output_type") in ("execute_result", "display_data")
    ]
    assert rich
    if name in WRITES:
        assert any((tmp_path / "out" / WRITES[name]).iterdir())
