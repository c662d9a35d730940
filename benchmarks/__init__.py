"""Benchmarks (opt-in): `python -m benchmarks.supervisor --help`."""
