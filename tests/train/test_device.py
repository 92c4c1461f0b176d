import json
import random

import numpy as np
import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.train import device as dev
from blocklab.train import resolve_device, seed_everything


def test_cpu_and_auto_on_a_cpu_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "mps"


def test_asking_for_a_missing_device_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(BlocklabError, match="device 'cuda' is not available.*available: 'auto', 'cpu'"):
        resolve_device("cuda")
    with pytest.raises(BlocklabError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first
    seed_everything(8)
    assert draw() != first


def test_rng_state_round_trips_through_json():
    cpu = torch.device("cpu")
    seed_everything(3)
    saved = json.loads(json.dumps(dev.rng_state(cpu)))
    expected = (random.random(), float(np.random.rand()), torch.rand(3).tolist())
    seed_everything(99)
    dev.set_rng_state(saved, cpu)
    assert (random.random(), float(np.random.rand()), torch.rand(3).tolist()) == expected


def test_deterministic_mode_is_restored_afterwards():
    before = torch.are_deterministic_algorithms_enabled()
    with dev.deterministic(True):
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before


def test_amp_is_ignored_off_cuda_with_a_reason():
    assert dev.amp_note(False, torch.device("cpu")) is None
    assert "CUDA only" in dev.amp_note(True, torch.device("cpu"))
