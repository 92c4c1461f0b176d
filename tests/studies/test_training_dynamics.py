"""Study training-dynamics (seed 001): the seed's model, its training, saving and loading."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blocklab.errors import BlocklabError
from blocklab.studies.training_dynamics_model import (
    answer_loss, build_model, load_model, logits_for, model_config, save_model, train_model,
)
from blocklab.tasks.operations import encode, operations
from blocklab.train import TrainConfig


def test_the_seed_architecture_and_its_parameter_count():
    """2 blocks x (attention 4*64*64 + 4*64, FFN 64*256 + 256 + 256*64 + 64, two norms 4*64), the token table
    20*64, a final norm 2*64 and W_output 64*20 + b_output 20; sinusoidal positions have no parameters."""
    model = build_model(model_config())
    block = (4 * 64 * 64 + 4 * 64) + (64 * 256 + 256 + 256 * 64 + 64) + 4 * 64
    assert sum(p.numel() for p in model.parameters()) == 2 * block + 20 * 64 + 2 * 64 + 64 * 20 + 20 == 102676
    assert model.lm_head.bias is not None and model.lm_head.weight is not model.embed.tok.weight
    assert sum(p.numel() for p in build_model(model_config(n_layers=1)).parameters()) == 102676 - block


def test_logits_are_the_last_positions_and_the_loss_is_their_cross_entropy():
    torch.manual_seed(0)
    model = build_model(model_config(dropout=0.0)).eval()
    x, y, _ = operations(6, 0, 0, seed=0).splits["train"]
    full = model(x)  # (6, 8, 20)
    assert torch.equal(logits_for(model, x), full[:, -1])
    loss, metrics = answer_loss(model, (x, y))
    assert loss.item() == pytest.approx(F.cross_entropy(full[:, -1], y).item())
    assert metrics["acc"] == (full[:, -1].argmax(-1) == y).float().mean()
    with pytest.raises(BlocklabError, match="longer than the model's max_len=50"):
        logits_for(model, torch.zeros(1, 52, dtype=torch.long))


def test_the_answer_does_not_depend_on_tokens_after_it():
    """Causal: the logits at position t see positions <= t only, so a prefix gives the same logits."""
    torch.manual_seed(0)
    model = build_model(model_config(dropout=0.0)).eval()
    x = torch.tensor([encode("Max(5,3,9)")])
    assert torch.allclose(model(x)[:, :5], model(x[:, :5]), atol=1e-6)


def test_save_and_load_give_the_same_logits(tmp_path):
    torch.manual_seed(1)
    model = build_model(model_config(n_layers=1, d_ff=32)).eval()
    x = operations(5, 0, 0, seed=1).splits["train"][0]
    loaded = load_model(save_model(model, tmp_path / "model"))
    assert loaded.cfg == model.cfg and not loaded.training
    assert torch.equal(logits_for(loaded, x), logits_for(model, x))
    with pytest.raises(BlocklabError, match="config.json is missing"):
        load_model(tmp_path)
    (tmp_path / "model" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(BlocklabError, match="corrupt"):
        load_model(tmp_path / "model")


def test_a_short_training_run_learns_something():
    """60 Adam steps at lr 3e-3 move the answer loss well below chance (ln 20 ~ 3.0)."""
    torch.manual_seed(0)
    task = operations(640, 0, 200, seed=0)
    model = build_model(model_config(d_ff=64))
    result = train_model(task, model, TrainConfig(optimizer="adam", lr=3e-3, steps=60, batch_size=64, eval_every=None))
    assert result.final["test_loss"] < 2.3, result.final
