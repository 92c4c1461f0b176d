"""Benchmark tests run on one thread from a fixed seed, as the nn tests do."""
from nn.conftest import seeded_single_thread  # noqa: F401  (an autouse fixture, re-used)
