"""Self-contained HTML report of a policysim run (figures embedded, no external resources)."""

from __future__ import annotations

from policysim.report.html import TableCell, format_table, render_report

__all__ = ["TableCell", "format_table", "render_report"]
