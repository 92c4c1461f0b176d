import pytest

from blocklab.train.device import cpu_threads


@pytest.fixture(autouse=True)
def one_thread():
    """The models here are tiny: one torch thread trains them faster than two, and on a busy
    machine a second thread spends minutes waiting (the study runner uses one thread too)."""
    with cpu_threads(1):
        yield
