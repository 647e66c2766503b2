"""Fixtures of the plotting tests (defined in plotting_helpers.py, importable by name)."""

from plotting_helpers import attainment, comparison, frontier, metrics, render, rng, targets

__all__ = ["attainment", "comparison", "frontier", "metrics", "render", "rng", "targets"]
