"""Benchmarks: speed targets live here, not in the tests. Run them all with ``python -m bench``."""
