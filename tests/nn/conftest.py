import pytest
import torch


@pytest.fixture(autouse=True)
def seeded_single_thread():
    """Every test starts from the same random state, so a failure reproduces. The tensors here are
    tiny: one thread runs them faster than several, and is not slowed by a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
