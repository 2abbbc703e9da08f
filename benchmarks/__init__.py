"""The zhipu-flash streaming benchmark: ``python -m benchmarks`` (see README.md here)."""
