"""Matmul FLOPs of a training step, counted from the config, and model FLOPs utilization.

A multiply-add is 2 FLOPs. Forward, per sequence of T tokens with width D, head width Dh:

    projections   2 T D (H Dh + 2 Hkv Dh + H Dh)     queries, keys and values, output
    attention     2 T S H Dh  twice                  scores q k^T and weights @ v, S keys
    feed-forward  2 T D d_ff  x 2 (x 3 for SwiGLU)
    output head   2 T D V

A training step is 3x the forward (the backward computes a gradient for the input and one
for the weights of every matmul). Causal attention is counted over the full T x T square,
as PaLM's and nanoGPT's MFU do, although a fused kernel may skip the masked half.
Elementwise work (norms, softmax, GELU, the optimizer) is not counted: MFU is matmul FLOPs
per second over the device's peak matmul rate.
"""
from __future__ import annotations

from ..errors import BlocklabError
from ..nn.config import BlockConfig, GPTConfig, Seq2SeqConfig

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, matched against
# torch.cuda.get_device_name in this order (the PCIe H100 before the SXM one).
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("A100", 312e12),
    ("L4", 121e12),
)


def _check(cfg: BlockConfig) -> None:
    if cfg.mixer != "attention":
        raise BlocklabError(f"FLOPs are counted for mixer='attention' only, got mixer={cfg.mixer!r}")


def attention_flops(cfg: BlockConfig, T: int, S: int) -> int:
    """Forward FLOPs of one attention layer: T queries over S keys (self-attention: S = T)."""
    D, Dh = cfg.d_model, cfg.head_dim
    projections = 2 * T * D * cfg.n_heads * Dh * 2 + 2 * S * D * cfg.kv_heads * Dh * 2  # q, out; k, v
    return projections + 2 * 2 * T * S * cfg.n_heads * Dh


def ffn_flops(cfg: BlockConfig, T: int) -> int:
    if not cfg.ffn:
        return 0
    return 2 * T * cfg.d_model * cfg.d_ff * (3 if cfg.activation == "swiglu" else 2)


def gpt_forward_flops(cfg: GPTConfig, batch: int, T: int) -> int:
    _check(cfg)
    per_layer = attention_flops(cfg, T, T) + ffn_flops(cfg, T)
    return batch * (cfg.n_layers * per_layer + 2 * T * cfg.d_model * cfg.vocab_size)


def seq2seq_forward_flops(cfg: Seq2SeqConfig, batch: int, S: int, T: int) -> int:
    """Source length S through the encoder, target length T through the decoder (self and cross)."""
    _check(cfg)
    encoder = cfg.n_encoder_layers * (attention_flops(cfg, S, S) + ffn_flops(cfg, S))
    decoder = cfg.n_decoder_layers * (attention_flops(cfg, T, T) + attention_flops(cfg, T, S) + ffn_flops(cfg, T))
    return batch * (encoder + decoder + 2 * T * cfg.d_model * cfg.target_vocab)


def training_step_flops(forward_flops: int) -> int:
    return 3 * forward_flops


def peak_flops(device_name: str) -> float | None:
    """The bf16 peak of a GPU by name, or None when it is not in PEAK_BF16."""
    return next((peak for key, peak in PEAK_BF16 if key in device_name), None)


def mfu(flops: int, seconds: float, peak: float | None) -> float | None:
    """Achieved matmul FLOP/s as a fraction of the peak (None without a known peak)."""
    return None if peak is None else flops / seconds / peak
