import pytest

from blocklab.train.device import cpu_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one torch thread, as the study runner runs every cell: the models here are
    tiny, extra intra-op threads only wait on each other, and on a busy machine a second thread
    made single tests take minutes."""
    with cpu_threads(1):
        yield
