"""The numpy GPT against blocklab.nn's GPT: same weights, same logits, same gradients;
and what a GPT must do on its own: be causal, refuse what it cannot build, learn."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from blocklab.autograd import GPT
from blocklab.autograd.bench import BENCH_CONFIGS
from blocklab.autograd.convert import from_torch, to_torch
from blocklab.errors import ConfigError
from blocklab.nn import GPT as TorchGPT
from blocklab.nn import GPTConfig

TOGGLES = [
    dict(pos_encoding="learned", tie_weights=False),
    dict(pos_encoding="sinusoidal", tie_weights=True, bias=False),
    dict(pos_encoding="learned", norm_position="post", activation="relu"),
    dict(pos_encoding="none", scale_embeddings=True, attn_temperature=2.0),
    dict(pos_encoding="sinusoidal", residual_scale=0.5, ffn=False),
]


def _cfg(**changes) -> GPTConfig:
    base = dict(vocab_size=13, d_model=16, n_heads=2, n_layers=2, d_ff=24, max_len=8, dropout=0.0, init_std=0.2)
    return GPTConfig(**{**base, **changes})


@pytest.mark.parametrize("toggles", TOGGLES, ids=lambda t: ",".join(f"{k}={v}" for k, v in t.items()))
def test_weights_round_trip_with_equal_logits(rng, toggles):
    """WHAT: nn -> numpy and numpy -> nn conversions give logits equal to 1e-5 in float32."""
    cfg = _cfg(**toggles)
    idx = rng.integers(0, cfg.vocab_size, (3, cfg.max_len))
    torch.manual_seed(0)
    theirs = TorchGPT(cfg).eval()
    ours = from_torch(theirs)
    np.testing.assert_allclose(ours(idx).data, theirs(torch.from_numpy(idx)).detach().numpy(), atol=1e-5, rtol=0)
    back = to_torch(GPT(cfg, seed=3)).eval()
    np.testing.assert_allclose(GPT(cfg, seed=3)(idx).data, back(torch.from_numpy(idx)).detach().numpy(),
                               atol=1e-5, rtol=0)
    for name, value in back.state_dict().items():  # and the weights come back exactly
        np.testing.assert_array_equal(from_torch(back).state_dict()[name], value.numpy(), err_msg=name)


@pytest.mark.parametrize("toggles", TOGGLES[:3], ids=["learned", "sinusoidal-tied", "post-relu"])
def test_gradients_equal_torch_in_float64(rng, toggles):
    """Every parameter's gradient of the same loss equals blocklab.nn's under torch autograd."""
    cfg = _cfg(**toggles)
    ours = GPT(cfg, seed=2, dtype=np.float64)
    theirs = to_torch(ours)
    idx, targets = rng.integers(0, cfg.vocab_size, (2, 8)), rng.integers(0, cfg.vocab_size, (2, 8))
    targets[0, :3] = -100
    ours.loss(idx, targets).backward()
    logits = theirs(torch.from_numpy(idx))
    torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size),
                                      torch.from_numpy(targets).reshape(-1)).backward()
    grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], atol=1e-12, rtol=1e-9, err_msg=name)


def test_causal_no_leakage_from_the_future(rng):
    model = GPT(_cfg(), seed=0)
    idx = rng.integers(0, 13, (1, 8))
    changed = idx.copy()
    changed[0, 5:] = (changed[0, 5:] + 1) % 13
    a, b = model(idx).data, model(changed).data
    np.testing.assert_array_equal(a[0, :5], b[0, :5])
    assert not np.allclose(a[0, 5:], b[0, 5:])


@pytest.mark.parametrize("field,value", [("pos_encoding", "rope"), ("norm", "rms"), ("activation", "swiglu"),
                                         ("mixer", "mean"), ("n_kv_heads", 1), ("qk_norm", True),
                                         ("zero_init_branch_output", True)])
def test_unsupported_config_is_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=rf"GPTConfig\.{field}=.*numpy engine.*choose one of"):
        GPT(_cfg(**{field: value}))


def test_seed_004_parameter_counts():
    assert GPT(BENCH_CONFIGS["level1"][0]).num_parameters() == 4_624
    assert GPT(BENCH_CONFIGS["copilot"][0]).num_parameters() == 33_472


def test_float32_model_has_float32_gradients(rng):
    model = GPT(_cfg(dropout=0.1), seed=0)
    model.loss(rng.integers(0, 13, (2, 8)), rng.integers(0, 13, (2, 8))).backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_state_dict_round_trip_and_mismatch_errors():
    a, b = GPT(_cfg(), seed=0), GPT(_cfg(), seed=1)
    b.load_state_dict(a.state_dict())
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[name], value)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "norm_f.weight"})
    with pytest.raises(ValueError, match="shape"):
        GPT(_cfg(d_ff=32)).load_state_dict(a.state_dict())


def test_weight_files_move_between_engines(tmp_path, rng):
    """numpy -> safetensors -> blocklab.nn (through blocklab.train's checkpoint loader) and back."""
    from safetensors.torch import load_file as load_torch_file
    from safetensors.torch import save_file as save_torch_file

    from blocklab.autograd.convert import load_weights, save_weights
    from blocklab.train.checkpoint import load_model_tensors, model_tensors

    cfg = _cfg(tie_weights=True)
    ours = GPT(cfg, seed=5)
    save_weights(ours, tmp_path / "np.safetensors")
    theirs = TorchGPT(cfg).eval()
    load_model_tensors(theirs, load_torch_file(tmp_path / "np.safetensors"), tmp_path)
    idx = rng.integers(0, cfg.vocab_size, (2, 8))
    np.testing.assert_allclose(ours(idx).data, theirs(torch.from_numpy(idx)).detach().numpy(), atol=1e-5, rtol=0)
    torch.nn.init.normal_(theirs.embed.tok.weight)  # change the torch model, then bring it back
    save_torch_file(model_tensors(theirs), tmp_path / "torch.safetensors")
    load_weights(ours, tmp_path / "torch.safetensors")
    np.testing.assert_allclose(ours(idx).data, theirs(torch.from_numpy(idx)).detach().numpy(), atol=1e-5, rtol=0)


def test_learned_positions_past_the_table_raise():
    from blocklab.errors import BlocklabError

    with pytest.raises(BlocklabError, match="max_len=8"):
        GPT(_cfg(pos_encoding="learned"))(np.zeros((1, 9), dtype=int))


def test_tiny_gpt_overfits_one_batch(rng):
    from blocklab.autograd.optim import AdamW

    model = GPT(_cfg(init_std=0.02), seed=0)
    idx, targets = rng.integers(0, 13, (4, 8)), rng.integers(0, 13, (4, 8))
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(150):
        opt.zero_grad()
        loss = model.loss(idx, targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, f"loss after 150 steps on one batch: {loss.item():.3f}"


def test_bench_engine_runs_and_reports_every_contender():
    """Smoke test only: speed is printed by the benchmark, never asserted."""
    from blocklab.autograd.bench import bench_engine

    result = bench_engine("level1", repeats=1, warmup=1)
    for engine in ("numpy", "torch", "torch_fused"):
        assert result[f"{engine}_forward_ms"] > 0 and result[f"{engine}_step_ms"] > 0
    assert result["parameters"] == 4_624 and "step_ratio_vs_torch" in result
    with pytest.raises(ValueError, match="level1, copilot"):
        bench_engine("gpt2")


def test_dropout_is_random_in_training_and_off_in_eval(rng):
    cfg = _cfg(dropout=0.2)
    model = GPT(cfg, seed=0)
    idx = rng.integers(0, cfg.vocab_size, (2, 8))
    assert not np.allclose(model(idx).data, model(idx).data)
    model.eval()
    np.testing.assert_array_equal(model(idx).data, model(idx).data)
    np.testing.assert_allclose(model(idx).data, to_torch(model).eval()(torch.from_numpy(idx)).detach().numpy(),
                               atol=1e-5, rtol=0)
