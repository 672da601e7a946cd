"""Reproducible benchmarks: throughput, incremental cost, memory, freshness and context size.

Run everything with ``python -m benchmarks.run --sizes 100000,1000000``.
"""
