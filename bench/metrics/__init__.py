"""Metric implementations, one family per file; each registers itself in :mod:`bench.metrics.registry`."""
