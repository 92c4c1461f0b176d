"""Training features beyond the loop itself, each through `fit`: gradient checkpointing and the
device logic that turns bf16 autocast on (CUDA) or leaves it off with a note (elsewhere)."""
import warnings

import pytest
import torch

from blocklab.errors import ConfigError
from blocklab.train import TrainConfig, fit
from blocklab.train import device as dev

from .helpers import assert_same_weights, lm_data, lm_loss, quick_cfg, tiny_gpt, weights
from .test_trainer import Interrupt, interrupt_at


def test_grad_checkpointing_trains_to_the_same_weights_and_resumes_across_the_switch(tmp_path):
    cfg = quick_cfg(steps=20, checkpoint_every=10)
    plain_model = tiny_gpt(dropout=0.2)  # dropout: the recomputed forward must draw the same masks
    plain = fit(plain_model, lm_data(), lm_loss, cfg)
    ckpt_model = tiny_gpt(dropout=0.2)
    ckpt = fit(ckpt_model, lm_data(), lm_loss, cfg.replace(grad_checkpointing=True))
    assert all(block.grad_checkpointing for block in ckpt_model.blocks)
    assert ckpt.history == plain.history and ckpt.steps_log == plain.steps_log
    assert_same_weights(weights(ckpt_model), weights(plain_model))
    # Switching it on when resuming is allowed: it changes memory, never the trajectory.
    with pytest.raises(Interrupt):
        fit(tiny_gpt(dropout=0.2), lm_data(), lm_loss, cfg, run_dir=tmp_path, callbacks=[interrupt_at(15)])
    resumed_model = tiny_gpt(dropout=0.2)
    resumed = fit(resumed_model, lm_data(), lm_loss, cfg.replace(grad_checkpointing=True), run_dir=tmp_path)
    assert resumed.history == plain.history
    assert_same_weights(weights(resumed_model), weights(plain_model))


def test_autocast_is_bf16_on_cuda_and_nothing_elsewhere():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building a CUDA autocast on a machine without CUDA warns
        on_cuda = dev.autocast(torch.device("cuda"), True)
    assert isinstance(on_cuda, torch.autocast) and (on_cuda.device, on_cuda.fast_dtype) == ("cuda", torch.bfloat16)
    for device, enabled in ((torch.device("cpu"), True), (torch.device("cuda"), False), (torch.device("mps"), True)):
        assert not isinstance(dev.autocast(device, enabled), torch.autocast)


def test_amp_takes_effect_only_on_a_bf16_capable_gpu(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert dev.amp_note(True, cuda) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert dev.amp_note(True, cuda) == "amp=True ignored: this GPU has no bf16 support"
    assert dev.amp_note(True, torch.device("mps")).endswith("this run is on mps")


@pytest.mark.parametrize("name", ["grad_checkpointing", "tensorboard", "amp"])
def test_the_switches_take_only_booleans(name):
    with pytest.raises(ConfigError, match=f"TrainConfig.{name}='yes' is not valid; it must be True or False"):
        TrainConfig(**{name: "yes"})
