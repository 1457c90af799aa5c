"""Speed figures: `make bench` (see benchmarks/README.md)."""
