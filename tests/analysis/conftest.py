"""Fixtures of the analysis tests (defined in analysis_helpers.py, importable by name)."""

from analysis_helpers import province_metrics, unit_metrics

__all__ = ["province_metrics", "unit_metrics"]
