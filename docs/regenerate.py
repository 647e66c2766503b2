"""Rewrite the generated tables of docs/METRICS.md and docs/PARAMETERS.md from the code.

    python docs/regenerate.py

The tests (tests/model/test_metric_registry.py, tests/scenario/test_parameters_doc.py) fail when
a table differs from the code; review the diff this makes before committing it.
"""

from __future__ import annotations

import re
from pathlib import Path

from policysim.metrics import markdown_table
from policysim.scenario.parameters import parameters_markdown

DOCS = Path(__file__).resolve().parent
TABLE = re.compile(r"^\|.*\|\n(?:\|.*\|\n)+", re.MULTILINE)


def replace_table(path: Path, after: str, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    start = text.index(after) + len(after)
    match = TABLE.search(text, start)
    if match is None:
        raise SystemExit(f"{path}: no table after {after!r}")
    path.write_text(text[: match.start()] + table + text[match.end() :], encoding="utf-8")
    print(f"{path.name}: table rewritten")


if __name__ == "__main__":
    replace_table(DOCS / "METRICS.md", "checked against the registry", markdown_table())
    replace_table(DOCS / "PARAMETERS.md", "## Behaviour parameters", parameters_markdown())
