"""Benchmark tests start from a fixed seed, as the nn tests do (one thread comes from tests/conftest.py)."""
from nn.conftest import seeded  # noqa: F401  (an autouse fixture, re-used)
