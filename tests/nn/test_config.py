"""Config validation: every bad value or combination raises a ConfigError that names the field,
the bad value and what would be valid, so a user can fix it from the message alone."""
from __future__ import annotations

import pytest

from blocklab.errors import ConfigError
from blocklab.nn import GPT, ClassifierConfig, GPTConfig, Seq2SeqConfig

# name: (what to do, substrings the message must contain: field, bad value, valid choices)
BAD = {
    "d_model not divisible by n_heads": (
        lambda: GPTConfig(d_model=30, n_heads=4), ["d_model=30", "n_heads=4", "[1, 2, 3, 5, 6, 10, 15, 30]"]),
    "unknown key in from_dict": (
        lambda: GPTConfig.from_dict({"d_model": 32, "n_layer": 3}), ["'n_layer'", "valid fields", "n_layers"]),
    "unknown key in replace": (
        lambda: GPTConfig().replace(dropuot=0.1), ["'dropuot'", "valid fields", "dropout"]),
    "negative dropout": (
        lambda: GPTConfig(dropout=-0.1), ["dropout=-0.1", "[0, 1)"]),
    "attention dropout of one": (
        lambda: GPTConfig(attn_dropout=1.0), ["attn_dropout=1.0", "[0, 1)"]),
    "alibi+learned": (
        lambda: GPTConfig(pos_encoding="alibi+learned"), ["pos_encoding='alibi+learned'", "'alibi'", "'sinusoidal'"]),
    "bad norm string": (
        lambda: GPTConfig(norm="bn"), ["norm='bn'", "'layer'", "'batch'", "'rms'", "'none'"]),
    "bad norm_position": (
        lambda: GPTConfig(norm_position="middle"), ["norm_position='middle'", "'pre'", "'post'"]),
    "bad activation": (
        lambda: GPTConfig(activation="swish"), ["activation='swish'", "'relu'", "'gelu'", "'swiglu'"]),
    "bad mixer": (
        lambda: GPTConfig(mixer="conv"), ["mixer='conv'", "'attention'", "'mean'"]),
    "bad pooling": (
        lambda: ClassifierConfig(pooling="max"), ["pooling='max'", "'mean'", "'cls'"]),
    "rope with odd head_dim": (
        lambda: GPTConfig(pos_encoding="rope", d_model=12, n_heads=4), ["pos_encoding='rope'", "head_dim", "= 3",
                                                                         "[1, 2, 3, 6]"]),
    "QK-norm with a mean mixer": (
        lambda: GPTConfig(qk_norm=True, mixer="mean", pos_encoding="learned"), ["qk_norm=True", "mixer='mean'",
                                                                                 "mixer='attention'"]),
    "rope with a mean mixer": (
        lambda: GPTConfig(pos_encoding="rope", mixer="mean"), ["pos_encoding='rope'", "mixer='mean'", "'learned'"]),
    "unknown encoding lists the new ones": (
        lambda: GPTConfig(pos_encoding="nope"), ["pos_encoding='nope'", "'t5'", "'kerple'", "'fire'", "'abacus'",
                                                 "'coupling'", "'none'"]),
    "learned bias with a mean mixer": (
        lambda: GPTConfig(pos_encoding="fire", mixer="mean"), ["pos_encoding='fire'", "mixer='mean'", "'abacus'"]),
    "odd T5 bucket count": (
        lambda: GPTConfig(pos_encoding="t5", t5_buckets=7), ["t5_buckets=7", "even and >= 4"]),
    "T5 max distance inside the exact buckets": (
        lambda: GPTConfig(pos_encoding="t5", t5_buckets=32, t5_max_distance=16), ["t5_max_distance=16", "16"]),
    "zero FIRE width": (
        lambda: GPTConfig(pos_encoding="fire", fire_width=0), ["fire_width=0", "an integer in (0, 2**24]"]),
    "Abacus offset on another encoding": (
        lambda: GPTConfig(pos_encoding="rope", pos_offset_max=10), ["pos_offset_max=10", "pos_encoding='rope'",
                                                                    "'abacus'", "'coupling'"]),
    "negative Abacus offset": (
        lambda: GPTConfig(pos_encoding="abacus", pos_offset_max=-1), ["pos_offset_max=-1", "non-negative"]),
    "randomized NoPE": (
        lambda: GPTConfig(pos_encoding="none", pos_randomize_max=64), ["pos_randomize_max=64", "'none'", "'rope'"]),
    "randomized digit places": (
        lambda: GPTConfig(pos_encoding="abacus", pos_randomize_max=64), ["pos_randomize_max=64", "'abacus'",
                                                                         "'learned'"]),
    "randomized past the learned table": (
        lambda: GPTConfig(pos_encoding="learned", max_len=32, pos_randomize_max=64), ["pos_randomize_max=64",
                                                                                      "max_len=32", "<= 32"]),
    "zero randomization range": (
        lambda: GPTConfig(pos_randomize_max=0), ["pos_randomize_max=0", "an integer in (0, 2**24]"]),
    "digit places in an encoder": (
        lambda: ClassifierConfig(pos_encoding="coupling"), ["ClassifierConfig.pos_encoding='coupling'", "GPT",
                                                            "'rope'"]),
    "digit places in seq2seq": (
        lambda: Seq2SeqConfig(pos_encoding="abacus"), ["Seq2SeqConfig.pos_encoding='abacus'", "positions=",
                                                       "'t5'"]),
    "n_kv_heads not dividing n_heads": (
        lambda: GPTConfig(n_heads=4, n_kv_heads=3), ["n_kv_heads=3", "n_heads=4", "[1, 2, 4]"]),
    "negative norm_eps": (
        lambda: GPTConfig(norm_eps=-1e-5), ["norm_eps=-1e-05", ">= 0"]),
    "zero attention temperature": (
        lambda: GPTConfig(attn_temperature=0.0), ["attn_temperature=0.0", "> 0"]),
    "position base of one": (
        lambda: GPTConfig(pos_base=1.0), ["pos_base=1.0", "> 1"]),
    "zero layers": (
        lambda: GPTConfig(n_layers=0), ["n_layers=0", "an integer in (0, 1024]"]),
    "final norm without a norm": (
        lambda: GPTConfig(norm="none", final_norm=True), ["final_norm=True", "norm='none'"]),
    "wrong type": (
        lambda: GPTConfig(n_heads="4"), ["n_heads='4'", "int"]),
    "shared embeddings with two vocabularies": (
        lambda: Seq2SeqConfig(vocab_size=10, tgt_vocab_size=12), ["share_embeddings=True", "tgt_vocab_size=12",
                                                                  "share_embeddings=False"]),
    "BatchNorm in a causal model": (
        lambda: GPTConfig(norm="batch"), ["GPTConfig.norm='batch'", "leak later tokens", "'layer', 'rms', 'none'"]),
    "mean mixer with a KV cache": (
        lambda: GPT(GPTConfig(mixer="mean", d_model=16, n_heads=2)).new_cache(),
        ["mixer='mean'", "use_cache=False", "mixer='attention'"]),
}


@pytest.mark.parametrize("make, expected", BAD.values(), ids=BAD.keys())
def test_bad_config_raises_a_config_error_naming_field_value_and_choices(make, expected):
    with pytest.raises(ConfigError) as error:
        make()
    message = str(error.value)
    missing = [s for s in expected if s not in message]
    assert not missing, f"message {message!r} lacks {missing}"


def test_from_dict_and_to_dict_round_trip():
    cfg = Seq2SeqConfig(d_model=32, n_heads=2, pos_encoding="rope", norm="rms", pad_id=0)
    assert Seq2SeqConfig.from_dict(cfg.to_dict()) == cfg


def test_replace_validates_the_new_values():
    cfg = GPTConfig(d_model=32, n_heads=4)
    assert cfg.replace(n_heads=8).head_dim == 4
    assert cfg.n_heads == 4, "replace returns a copy"
    with pytest.raises(ConfigError, match="n_heads=5"):
        cfg.replace(n_heads=5)


def test_derived_fields():
    cfg = GPTConfig(d_model=32, n_heads=4, dropout=0.2, norm_position="post")
    assert (cfg.head_dim, cfg.kv_heads, cfg.attention_dropout, cfg.use_final_norm) == (8, 4, 0.2, False)
    assert GPTConfig(norm_position="pre").use_final_norm
    assert GPTConfig(norm_position="post", final_norm=True).use_final_norm
    assert GPTConfig().kv_cacheable and not GPTConfig(mixer="mean").kv_cacheable
