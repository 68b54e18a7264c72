"""The benchmarks (`make bench-*`), a package so that mypy and imports name each module once."""
