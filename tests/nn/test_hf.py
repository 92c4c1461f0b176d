"""Hugging Face GPT-2 export and import: logits equal to transformers' GPT2LMHeadModel within 1e-5
(float32) both ways, and every setting GPT-2 cannot express refused in one line naming it."""
from __future__ import annotations

import json

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig
from blocklab.nn.hf import export_hf

transformers = pytest.importorskip("transformers")

GPT2_LIKE = {"vocab_size": 37, "d_model": 32, "n_heads": 4, "d_ff": 80, "n_layers": 3, "max_len": 24,
             "pos_encoding": "learned", "norm_eps": 1e-6}


def _random_gpt(**changes) -> GPT:
    model = GPT(GPTConfig(**{**GPT2_LIKE, **changes}))
    with torch.no_grad():
        for p in model.parameters():  # random biases and norm gains: a swapped tensor shows
            p.normal_(std=0.3)
    return model.eval()


def _hf(folder):
    return transformers.GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()


@pytest.mark.parametrize("changes", [{}, {"tie_weights": False}, {"bias": False}, {"attn_scale": False}])
def test_exported_model_gives_blocklab_logits_in_transformers(tmp_path, changes):
    model = _random_gpt(**changes)
    export_hf(model, tmp_path)
    x = torch.randint(0, 37, (3, 24))
    with torch.no_grad():
        torch.testing.assert_close(_hf(tmp_path)(x).logits, model(x), atol=1e-5, rtol=0)


def test_from_hf_gives_transformers_logits(tmp_path):
    hf_cfg = transformers.GPT2Config(vocab_size=29, n_positions=20, n_embd=32, n_layer=2, n_head=4, n_inner=48,
                                     activation_function="gelu", layer_norm_epsilon=1e-5, bos_token_id=0,
                                     eos_token_id=0)
    torch.manual_seed(1)
    theirs = transformers.GPT2LMHeadModel(hf_cfg).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(std=0.3)
    theirs.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path)
    x = torch.randint(0, 29, (2, 20))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x).logits, atol=1e-5, rtol=0)
    assert ours.cfg.d_ff == 48 and ours.cfg.max_len == 20 and ours.cfg.tie_weights


def _refusal(fn, *args) -> str:
    with pytest.raises(BlocklabError) as info:
        fn(*args)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("changes, named", [
    ({"pos_encoding": "rope"}, "GPTConfig.pos_encoding='rope' cannot be exported to GPT-2"),
    ({"pos_encoding": "alibi"}, "GPTConfig.pos_encoding='alibi'"),
    ({"norm": "rms"}, "GPTConfig.norm='rms'"),
    ({"activation": "swiglu"}, "GPTConfig.activation='swiglu'"),
    ({"norm_position": "post"}, "GPTConfig.norm_position='post'"),
    ({"n_kv_heads": 1}, "GPTConfig.n_kv_heads=1"),
    ({"final_norm": False}, "GPTConfig.final_norm=False"),
    ({"scale_embeddings": True}, "GPTConfig.scale_embeddings=True"),
    ({"qk_norm": True}, "GPTConfig.qk_norm=True"),
    ({"activation": "relu_squared"}, "GPTConfig.activation='relu_squared'"),
])
def test_what_gpt2_cannot_express_is_refused(tmp_path, changes, named):
    assert named in _refusal(export_hf, GPT(GPTConfig(**{**GPT2_LIKE, **changes})), tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_import_refuses_what_blocklab_cannot_express(tmp_path):
    export_hf(_random_gpt(), tmp_path)
    good = json.loads((tmp_path / "config.json").read_text())
    for key, value, named in (("activation_function", "gelu_new", "activation_function='gelu_new'"),
                              ("scale_attn_by_inverse_layer_idx", True, "scale_attn_by_inverse_layer_idx=True"),
                              ("model_type", "llama", "model_type 'llama'")):
        (tmp_path / "config.json").write_text(json.dumps({**good, key: value}))
        assert named in _refusal(GPT.from_hf, tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**good, "n_inner": 64}))
    assert "'transformer.h.0.mlp.c_fc.weight' has shape (32, 80), but config.json's settings give (32, 64)" in \
        _refusal(GPT.from_hf, tmp_path)
