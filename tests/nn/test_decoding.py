"""Generation: KV cache == full forward, generate with and without cache, greedy and beam decoding.

WHAT: decoding one token at a time through the KV cache gives the logits of one full
forward pass; GPT.generate and Seq2SeqTransformer.greedy_decode give the tokens that
step-by-step argmax over full forward passes gives; beam search with one beam is greedy.
WHY: cache bugs (RoPE or ALiBi at the wrong offset, grouped K/V heads cached repeated,
cross-attention keys recomputed) give plausible text and wrong numbers.
"""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig, KVCache

from .helpers import assert_close, tiny_gpt, tiny_seq2seq

V = 64
# Untied, larger-than-tiny vocabularies and weights keep random models from repeating one
# token forever, which would make any cache look right (see assert_varied).
VARIED = {"vocab_size": V, "init_std": 0.3, "tie_weights": False}
POSITIONS = ("sinusoidal", "learned", "alibi", "rope", "t5", "kerple", "fire", "none")
CACHE_VARIANTS = {
    **{p: {"pos_encoding": p} for p in POSITIONS},
    "t5-gqa-few-buckets": {"pos_encoding": "t5", "n_kv_heads": 2, "t5_buckets": 4, "t5_max_distance": 4},
    "rope-mqa": {"pos_encoding": "rope", "n_kv_heads": 1},
    "rope-gqa": {"pos_encoding": "rope", "n_kv_heads": 2},
    "alibi-gqa": {"pos_encoding": "alibi", "n_kv_heads": 2},
    "rope-qk-norm-gqa": {"pos_encoding": "rope", "qk_norm": True, "n_kv_heads": 2},
    "learned-mqa-post-rms": {"pos_encoding": "learned", "n_kv_heads": 1, "norm": "rms", "norm_position": "post"},
}
DECODE_VARIANTS = {**CACHE_VARIANTS, "mean-mixer": {"mixer": "mean"}}


def cached_equals_full(model) -> None:
    idx = torch.randint(0, V, (2, 9))
    cache = model.new_cache()
    chunks = [idx[:, :3], idx[:, 3:4], idx[:, 4:6], idx[:, 6:7], idx[:, 7:]]  # a prompt, then 1 or 2 at a time
    incremental = torch.cat([model(chunk, cache=cache) for chunk in chunks], dim=1)
    assert cache.length == 9
    assert_close(incremental, model(idx), "logits through the cache")


@pytest.mark.parametrize("changes", CACHE_VARIANTS.values(), ids=CACHE_VARIANTS.keys())
def test_gpt_cached_decoding_equals_full_forward(changes):
    cached_equals_full(tiny_gpt(vocab_size=V, **changes))


def test_fire_cached_decoding_equals_full_forward_past_its_threshold():
    """Past L, FIRE normalizes by the query's own position: a cached step must use its absolute one."""
    model = tiny_gpt(vocab_size=V, pos_encoding="fire")
    with torch.no_grad():
        model.embed.pos.log_threshold.fill_(math.log(2.5))
        torch.nn.init.normal_(model.embed.pos.mlp[0].weight)
        torch.nn.init.normal_(model.embed.pos.mlp[2].weight)
    cached_equals_full(model)


@pytest.mark.parametrize("pe", ["abacus", "coupling"])
def test_gpt_cached_decoding_with_per_token_positions_equals_full_forward(pe):
    model = tiny_gpt(vocab_size=V, pos_encoding=pe, pos_offset_max=4)
    idx = torch.randint(0, V, (2, 9))
    positions = torch.tensor([[1, 2, 3, 0, 1, 2, 0, 1, 2], [1, 0, 1, 2, 3, 4, 0, 2, 1]])
    cache = model.new_cache()
    cuts = [(0, 3), (3, 4), (4, 6), (6, 7), (7, 9)]
    incremental = torch.cat([model(idx[:, a:b], positions=positions[:, a:b], cache=cache) for a, b in cuts], dim=1)
    assert_close(incremental, model(idx, positions=positions), "logits through the cache")


@pytest.mark.parametrize("pe", ["rope", "t5"])
def test_randomized_positions_are_off_when_decoding_through_a_cache(pe):
    """A cache marks decoding: positions continue 0..T-1 even in training mode, as a full evaluation pass."""
    model = tiny_gpt(vocab_size=V, pos_encoding=pe, pos_randomize_max=40)
    idx = torch.randint(0, V, (2, 7))
    expected = model(idx)  # evaluation
    cache = model.new_cache()
    model.train()
    incremental = torch.cat([model(idx[:, :4], cache=cache), model(idx[:, 4:], cache=cache)], dim=1)
    assert_close(incremental, expected, "training-mode logits through the cache")


def test_gpt_refuses_key_padding_together_with_a_cache():
    model = tiny_gpt()
    with pytest.raises(BlocklabError, match="key_padding_mask"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=model.new_cache(),
              key_padding_mask=torch.zeros(1, 3, dtype=torch.bool))


def assert_varied(tokens: torch.Tensor) -> None:
    """A model that repeats one token would match a broken cache too; make sure this one does not."""
    assert max(len(row.unique()) for row in tokens) >= 3, f"degenerate generation {tokens.tolist()}"


def greedy_by_full_forward(model, idx: torch.Tensor, n: int) -> torch.Tensor:
    for _ in range(n):
        idx = torch.cat([idx, model(idx)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx


@pytest.mark.parametrize("changes", CACHE_VARIANTS.values(), ids=CACHE_VARIANTS.keys())
def test_gpt_generate_is_the_same_with_and_without_cache(changes):
    model = tiny_gpt(**VARIED, **changes)
    prompt = torch.randint(0, V, (6, 4))
    expected = greedy_by_full_forward(model, prompt, 12)
    assert_varied(expected[:, 4:])
    assert torch.equal(model.generate(prompt, 12, temperature=0.0, use_cache=True), expected)
    assert torch.equal(model.generate(prompt, 12, temperature=0.0, use_cache=False), expected)


def test_gpt_generate_without_cache_crops_learned_positions_to_max_len():
    model = tiny_gpt(**VARIED, pos_encoding="learned", max_len=8)
    prompt = torch.randint(0, V, (1, 6))
    out = model.generate(prompt, 5, temperature=0.0, use_cache=False)
    assert out.shape == (1, 11)
    assert torch.equal(out[:, -1:], model(out[:, -9:-1])[:, -1].argmax(-1, keepdim=True))
    assert torch.equal(model.generate(prompt, 5, temperature=0.0), out), "by default, crop rather than fail"
    assert torch.equal(model.generate(prompt, 3, temperature=0.0), out[:, :9]), "up to max_len, the cache"


def seq2seq_greedy_by_full_decode(model, src: torch.Tensor, bos: int, n: int) -> torch.Tensor:
    """Argmax of a full decode of the whole prefix at every step (no cache)."""
    memory = model.encode(src)
    padding = model._padding(src, None)
    out = torch.full((src.shape[0], 1), bos)
    for _ in range(n):
        no_tgt_padding = torch.zeros_like(out, dtype=torch.bool)  # generated tokens are never padding
        logits = model.decode(out, memory, memory_key_padding_mask=padding, tgt_key_padding_mask=no_tgt_padding)
        out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return out[:, 1:]


def padded_source() -> torch.Tensor:
    src = torch.randint(2, V, (6, 6))
    src[1, 4:] = 0  # pad_id 0
    return src


@pytest.mark.parametrize("changes", DECODE_VARIANTS.values(), ids=DECODE_VARIANTS.keys())
def test_seq2seq_greedy_decode_equals_stepwise_argmax_of_full_decode(changes):
    model = tiny_seq2seq(**VARIED, pad_id=0, **changes)
    src = padded_source()
    expected = seq2seq_greedy_by_full_decode(model, src, bos=1, n=10)
    assert_varied(expected)
    assert torch.equal(model.greedy_decode(src, bos_id=1, max_len=10), expected)


def test_seq2seq_cached_decode_equals_full_decode():
    model = tiny_seq2seq(vocab_size=V, pos_encoding="rope", n_kv_heads=2, pad_id=0)
    src, tgt = padded_source(), torch.randint(2, V, (6, 7))
    memory = model.encode(src)
    padding = src == 0
    cache = KVCache()
    steps = [model.decode(tgt[:, i:i + 1], memory, memory_key_padding_mask=padding, cache=cache) for i in range(7)]
    assert_close(torch.cat(steps, dim=1), model.decode(tgt, memory, memory_key_padding_mask=padding), "logits")


def test_greedy_decode_holds_each_row_at_eos():
    model = tiny_seq2seq(**VARIED, pad_id=0)
    src = padded_source()
    free = model.greedy_decode(src, bos_id=1, max_len=10)
    # An EOS that one row would run past (a different token follows it) while another row never
    # emits it, so decoding goes on to max_len and the finished row must be held.
    eos = next(t for t in free.unique().tolist()
               if ((free[:, :-1] == t) & (free[:, 1:] != t)).any() and not (free == t).any(dim=1).all())
    out = model.greedy_decode(src, bos_id=1, max_len=10, eos_id=eos)
    assert out.shape == free.shape
    for r in range(len(out)):
        hits = (free[r] == eos).nonzero().flatten().tolist()
        stop = hits[0] + 1 if hits else out.shape[1]
        assert torch.equal(out[r, :stop], free[r, :stop]), f"row {r} before its EOS"
        assert (out[r, stop:] == eos).all(), f"row {r} after its EOS"


@pytest.mark.parametrize("with_eos", [False, True])
def test_beam_search_with_one_beam_is_greedy(with_eos):
    model = tiny_seq2seq(**VARIED, pad_id=0)
    src = padded_source()
    eos = None
    if with_eos:
        eos = int(model.greedy_decode(src, bos_id=1, max_len=3)[0, 2])  # row 0 stops at step 3, others may not
    greedy = model.greedy_decode(src, bos_id=1, max_len=10, eos_id=eos)
    beam = model.beam_search(src, bos_id=1, max_len=10, beam_size=1, eos_id=eos)
    assert torch.equal(beam, greedy)


def test_beam_as_wide_as_the_vocabulary_finds_the_best_two_token_output():
    """With beam_size = V, step one keeps every first token, so after two steps beam search must
    return the best of all V^2 outputs, found here by exhaustive search."""
    vocab = 13
    model = tiny_seq2seq(vocab_size=vocab, init_std=0.3, tie_weights=False, pos_encoding="none")
    n = 8
    src = torch.randint(0, vocab, (n, 6))
    memory = model.encode(src)
    bos = torch.full((n, 1), 1)
    first = model.decode(bos, memory)[:, -1].log_softmax(-1)  # (n, V)
    prefixes = torch.cat([bos.repeat_interleave(vocab, 0), torch.arange(vocab).repeat(n)[:, None]], dim=1)
    second = model.decode(prefixes, memory.repeat_interleave(vocab, 0))[:, -1].log_softmax(-1).view(n, vocab, vocab)
    total = (first[:, :, None] + second).view(n, -1)  # (n, V*V): score of (t, u) at t*V + u
    best = total.argmax(-1)
    expected = torch.stack([best // vocab, best % vocab], dim=1)
    greedy = model.greedy_decode(src, bos_id=1, max_len=2)
    assert (expected != greedy).any(), "some row must need the beam, or greedy would pass this test"
    assert torch.equal(model.beam_search(src, bos_id=1, max_len=2, beam_size=vocab), expected)


@pytest.mark.parametrize("mixer", ["attention", "mean"])  # with and without the KV cache
def test_generated_tokens_equal_to_pad_id_are_not_masked(mixer):
    """BOS = pad_id = 0: a decoder must still attend to what it generated. The same weights with
    no pad_id must decode identically, since the source holds no padding."""
    padded = tiny_seq2seq(mixer=mixer, pad_id=0, init_std=0.5)  # large weights: outputs depend on every key
    plain = tiny_seq2seq(mixer=mixer, init_std=0.5)
    plain.load_state_dict(padded.state_dict())
    src = torch.randint(1, padded.cfg.vocab_size, (3, 6))
    for decode in (lambda m: m.greedy_decode(src, bos_id=0, max_len=6),
                   lambda m: m.beam_search(src, bos_id=0, max_len=6, beam_size=2)):
        assert torch.equal(decode(padded), decode(plain))


@pytest.mark.parametrize("pos", ["sinusoidal", "learned"])  # learned: the beams outgrow max_len and are cropped
def test_gpt_beam_search_with_one_beam_is_greedy_generation(pos):
    model = GPT(GPTConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=8, init_std=0.3,
                          pos_encoding=pos)).eval()
    prompt = torch.randint(0, 11, (5, 3))
    greedy = model.generate(prompt, 9, temperature=0.0, use_cache=False)
    assert torch.equal(model.beam_search(prompt, 9, beam_size=1), greedy)


def test_gpt_beam_as_wide_as_the_vocabulary_finds_the_best_two_token_continuation():
    vocab = 13
    model = GPT(GPTConfig(vocab_size=vocab, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=8, init_std=0.3,
                          tie_weights=False)).eval()
    n = 8
    prompt = torch.randint(0, vocab, (n, 3))
    with torch.no_grad():
        first = model(prompt)[:, -1].log_softmax(-1)  # (n, V)
        prefixes = torch.cat([prompt.repeat_interleave(vocab, 0), torch.arange(vocab).repeat(n)[:, None]], dim=1)
        second = model(prefixes)[:, -1].log_softmax(-1).view(n, vocab, vocab)
    best = (first[:, :, None] + second).view(n, -1).argmax(-1)  # score of (t, u) at t*V + u
    expected = torch.cat([prompt, torch.stack([best // vocab, best % vocab], dim=1)], dim=1)
    greedy = model.generate(prompt, 2, temperature=0.0)
    assert (expected != greedy).any(), "some row must need the beam, or greedy would pass this test"
    assert torch.equal(model.beam_search(prompt, 2, beam_size=vocab), expected)
