import hashlib
import json
import os

import pytest
import torch
from safetensors.torch import load_file

from blocklab.errors import BlocklabError
from blocklab.train import TrainConfig, build_optimizer, fit
from blocklab.train.checkpoint import (
    load_model_tensors,
    load_optimizer_tensors,
    read_checkpoint,
    save_checkpoint,
)

from .helpers import assert_same_weights, lm_data, lm_loss, quick_cfg, tiny_gpt, weights

FILES = ["model.safetensors", "optim.safetensors", "state.json"]


def trained(tmp_path):
    """A tiny tied GPT after 3 AdamW steps, with its optimizer, checkpointed into tmp_path/ckpt."""
    model = tiny_gpt()
    opt = build_optimizer(model, TrainConfig(lr=1e-2))
    for _ in range(3):
        opt.zero_grad()
        lm_loss(model, lm_data()["train"])[0].backward()
        opt.step()
    save_checkpoint(tmp_path / "ckpt", model, opt, {"step": 3})
    return model, opt, tmp_path / "ckpt"


def test_tied_weights_and_adam_state_survive_a_round_trip(tmp_path):
    model, opt, folder = trained(tmp_path)
    assert "lm_head.weight" not in load_file(folder / "model.safetensors")  # stored once, as embed.tok.weight

    ckpt = read_checkpoint(folder)
    assert ckpt.state["step"] == 3
    fresh = tiny_gpt(seed=1)
    fresh_opt = build_optimizer(fresh, TrainConfig(lr=1e-2))
    load_model_tensors(fresh, ckpt.model, folder / "model.safetensors")
    load_optimizer_tensors(fresh_opt, ckpt.optim)
    assert_same_weights(weights(fresh), weights(model))
    assert fresh.lm_head.weight is fresh.embed.tok.weight  # still one parameter, not two equal copies
    for p, q in zip(fresh.parameters(), model.parameters()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(fresh_opt.state[p][key], opt.state[q][key])


def test_writes_leave_no_temp_files_even_when_a_rename_fails(tmp_path, monkeypatch):
    model, opt, folder = trained(tmp_path)
    assert sorted(os.listdir(folder)) == FILES
    before = {name: (folder / name).read_bytes() for name in FILES}

    def no_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(folder, model, opt, {"step": 4})
    monkeypatch.undo()
    assert sorted(os.listdir(folder)) == FILES
    assert {name: (folder / name).read_bytes() for name in FILES} == before
    assert read_checkpoint(folder).state["step"] == 3


def test_a_missing_state_file_means_no_checkpoint(tmp_path):
    _, _, folder = trained(tmp_path)
    (folder / "state.json").unlink()
    assert read_checkpoint(folder) is None


@pytest.mark.parametrize("name", FILES)
def test_a_truncated_file_is_reported_by_name(tmp_path, name):
    _, _, folder = trained(tmp_path)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(BlocklabError, match=f"checkpoint file .*{name} is corrupt or truncated"):
        read_checkpoint(folder)


def test_an_unreadable_tensor_file_with_a_matching_checksum_is_reported(tmp_path):
    _, _, folder = trained(tmp_path)
    garbage = b"\x08\x00\x00\x00\x00\x00\x00\x00not json"
    (folder / "optim.safetensors").write_bytes(garbage)
    state = json.loads((folder / "state.json").read_text())
    state["files"]["optim.safetensors"] = hashlib.sha256(garbage).hexdigest()
    (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(BlocklabError, match="optim.safetensors is corrupt"):
        read_checkpoint(folder)


def test_fit_refuses_a_corrupt_checkpoint(tmp_path):
    cfg = quick_cfg(steps=10, checkpoint_every=5)
    fit(tiny_gpt(), lm_data(), lm_loss, cfg, run_dir=tmp_path)
    path = tmp_path / "checkpoint" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BlocklabError, match=str(path)):
        fit(tiny_gpt(), lm_data(), lm_loss, cfg, run_dir=tmp_path)


def test_a_checkpoint_for_another_model_is_refused(tmp_path):
    _, _, folder = trained(tmp_path)
    ckpt = read_checkpoint(folder)
    with pytest.raises(BlocklabError, match="does not fit this model"):
        load_model_tensors(tiny_gpt(d_model=32), ckpt.model, folder / "model.safetensors")
