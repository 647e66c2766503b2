"""Regenerate the golden regression tables (``tests/regression/data``).

Run only when a change of the model's numbers is intended, then review and commit the diff that
this prints (cells that moved, by case and metric)::

    python tests/regression/regenerate.py            # all cases
    python tests/regression/regenerate.py tiny_draws # some cases
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import ATOL, CASES, DATA, RTOL, case


def _moved(old: pd.DataFrame, new: pd.DataFrame, keys: tuple[str, ...]) -> str:
    if list(old.columns) != list(new.columns) or len(old) != len(new):
        return f"shape/columns changed: {old.shape} -> {new.shape}"
    if not old[list(keys)].equals(new[list(keys)]):
        return "key columns changed (rows added, removed or renamed)"
    a, b = old["value"].to_numpy(float), new["value"].to_numpy(float)
    moved = ~np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
    if not moved.any():
        return "unchanged"
    by = new.loc[moved, "metric"].value_counts() if "metric" in new else pd.Series(dtype=int)
    top = ", ".join(f"{k} ({v})" for k, v in by.head(8).items())
    return f"{int(moved.sum())} of {len(a)} values moved: {top}"


def main(names: list[str]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for c in [case(n) for n in names] if names else CASES:
        table = c.build()
        summary = _moved(pd.read_parquet(c.path), table, c.keys) if c.path.exists() else "new"
        tmp = c.path.with_suffix(".tmp")
        table.to_parquet(tmp, index=False)
        tmp.replace(c.path)
        print(f"{c.name}: {len(table)} rows; {summary}")


if __name__ == "__main__":
    main(sys.argv[1:])
