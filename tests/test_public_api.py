"""The public API at the package top level: every name resolves, has a docstring, and is the
submodule's own object."""

from __future__ import annotations

import subprocess
import sys

import pytest

import policysim


@pytest.mark.parametrize("name", policysim.__all__)
def test_top_level_name_resolves_with_docstring(name: str) -> None:
    value = getattr(policysim, name)
    if name != "__version__":
        assert (value.__doc__ or "").strip(), name


def test_compare_is_compare_scenarios_and_import_stays_light() -> None:
    from policysim.experiments import run_ensemble
    from policysim.studies.compare import compare_scenarios

    assert policysim.compare is compare_scenarios
    assert policysim.run_ensemble is run_ensemble
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        policysim.nope  # noqa: B018
    code = "import sys, policysim; assert 'policysim.studies.compare' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
