"""Benchmarks of artifactsvc against baselines measured in the same run (see bench/README.md).

    python -m bench            the full run (about 3 minutes on 2 cores)
    python -m bench --quick    about an eighth of the sizes (under a minute)

Figures go to stdout as a table and to bench/results/latest.json (BENCH.md's format).
"""
