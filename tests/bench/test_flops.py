"""FLOPs of a training step: a hand count, and torch's own FLOP counter on the explicit path."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from blocklab.bench import flops
from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig, Seq2SeqConfig, Seq2SeqTransformer
from blocklab.nn.attention import set_fused


def test_gpt_forward_flops_match_a_hand_count():
    """1 layer, D 4, 2 heads, d_ff 8, vocab 5, T 3, batch 2, counted by hand:
    projections q, k, v, out: 4 x (2*3*4*4) = 384; scores and weights @ v: 2 x (2*3*3*4) = 144;
    FFN: 2 x (2*3*4*8) = 384; head: 2*3*4*5 = 120. Per sequence 1032, batch 2: 2064; step x3: 6192."""
    cfg = GPTConfig(vocab_size=5, d_model=4, n_heads=2, n_layers=1, d_ff=8, max_len=3)
    assert flops.gpt_forward_flops(cfg, batch=2, T=3) == 2064
    assert flops.training_step_flops(flops.gpt_forward_flops(cfg, batch=2, T=3)) == 6192


def counted_step_flops(model: torch.nn.Module, inputs: tuple, vocab: int) -> int:
    """torch's FlopCounterMode over one forward and backward (random upstream gradient)."""
    with FlopCounterMode(display=False) as counter:
        logits = model(*inputs)
        logits.backward(torch.randn_like(logits))
    return counter.get_total_flops()


@pytest.mark.parametrize("changes", [{}, {"n_kv_heads": 1, "activation": "swiglu"}])
def test_gpt_step_flops_equal_torchs_flop_counter(changes):
    """On the explicit path every matmul is a visible mm/bmm, so torch's counter must agree exactly
    (grouped-query heads and SwiGLU included)."""
    cfg = GPTConfig(vocab_size=11, d_model=16, n_heads=4, n_layers=2, d_ff=24, max_len=8, **changes)
    model = set_fused(GPT(cfg), False)
    idx = torch.randint(0, 11, (3, 7))
    expected = flops.training_step_flops(flops.gpt_forward_flops(cfg, batch=3, T=7))
    assert counted_step_flops(model, (idx,), 11) == expected


def test_seq2seq_step_flops_equal_torchs_flop_counter():
    """Encoder self-attention over S, decoder self-attention over T and cross-attention T x S."""
    cfg = Seq2SeqConfig(vocab_size=11, d_model=16, n_heads=4, n_encoder_layers=2, n_decoder_layers=1, d_ff=24,
                        max_len=16)
    model = set_fused(Seq2SeqTransformer(cfg), False)
    src, tgt = torch.randint(0, 11, (2, 9)), torch.randint(0, 11, (2, 5))
    expected = flops.training_step_flops(flops.seq2seq_forward_flops(cfg, batch=2, S=9, T=5))
    assert counted_step_flops(model, (src, tgt), 11) == expected


def test_mfu_and_peaks():
    assert flops.mfu(10**12, 0.5, 4e12) == pytest.approx(0.5)
    assert flops.mfu(10**12, 0.5, None) is None
    assert flops.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert flops.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert flops.peak_flops("Some Future GPU") is None


def test_flops_refuse_a_model_without_attention():
    with pytest.raises(BlocklabError, match="mixer='mean'"):
        flops.gpt_forward_flops(GPTConfig(mixer="mean"), batch=1, T=4)
