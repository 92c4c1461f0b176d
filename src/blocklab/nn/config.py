"""Typed, validated configs for the three models.

Every architectural choice is a string or a number on one of these dataclasses, so
every ablation in the seeds is a config value: `pos_encoding="none"`, `mixer="mean"`,
`residual=False`, `norm="batch"`. Configs validate themselves when built and raise a
`ConfigError` that names the field, the bad value and the valid choices.

`BlockConfig` holds what every block shares; `GPTConfig`, `Seq2SeqConfig` and
`ClassifierConfig` add what only that model has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ..config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, ProperFraction, Range
from ..errors import ConfigError

POS_ENCODINGS = ("sinusoidal", "learned", "alibi", "rope", "t5", "kerple", "fire", "abacus", "coupling", "none")
ATTENTION_POSITIONS = ("alibi", "rope", "t5", "kerple", "fire")  # act inside attention: need mixer='attention'
TASK_POSITIONS = ("abacus", "coupling")  # positions supplied by the task: model(tokens, positions=...)
LEARNED_OVERFLOW = ("error", "clamp")
NORMS = ("layer", "batch", "rms", "none")
NORM_POSITIONS = ("pre", "post")
ACTIVATIONS = ("relu", "gelu", "swiglu", "relu_squared")
# Upper bounds far beyond any model here (GPT-3: 96 layers, d_model 12,288; vocabularies of 10^5-10^6),
# so that a typo such as vocab_size=1e12 is refused in one line, not deep in torch's allocator, and
# the product of two sizes (the largest weight) stays far from int64's range.
MAX_WIDTH, MAX_DEPTH = 2**24, 1024
Width = Annotated[int, Range(gt=0, le=MAX_WIDTH)]  # a tensor dimension: tokens, features, heads, positions
Depth = Annotated[int, Range(gt=0, le=MAX_DEPTH)]  # layers of a stack
MIXERS = ("attention", "mean", "none")
POOLINGS = ("mean", "cls")


@dataclass
class BlockConfig(Config):
    """Fields shared by every Transformer block and embedding."""

    vocab_size: Width = 64
    d_model: Width = 64
    n_heads: Width = 4
    n_kv_heads: Width | None = None  # None: one K/V head per query head; 1: multi-query; else grouped-query
    d_ff: Width = 256
    max_len: Width = 512  # size of the learned/sinusoidal position table
    dropout: ProperFraction = 0.0  # on embeddings, sublayer outputs and FFN hidden units
    attn_dropout: ProperFraction | None = None  # on attention weights; None: same as dropout
    bias: bool = True  # biases in every Linear

    # Positions: "sinusoidal" and "learned" add to the embeddings; "alibi" (fixed), "t5" (bucketed,
    # learned), "kerple" (-r1 log(1 + r2 |i-j|)) and "fire" (a learned function of normalized
    # distance) bias the attention scores; "rope" rotates queries and keys; "abacus" and "coupling"
    # add learned rows indexed by the task's digit places; "none" is NoPE: no position at all, so a
    # causal decoder knows order only through its mask. nn/positional.py and nn/relative_bias.py cite
    # the papers.
    pos_encoding: Literal[POS_ENCODINGS] = "sinusoidal"
    pos_base: Annotated[float, Range(gt=1)] = 10000.0  # frequency base of sinusoidal and RoPE encodings
    learned_overflow: Literal[LEARNED_OVERFLOW] = "error"  # learned table past max_len: raise, or reuse the last row
    t5_buckets: Annotated[int, Range(ge=4)] = 32  # T5 bias: distance buckets (half exact, half log-spaced)
    t5_max_distance: Width = 128
    fire_width: Width = 32  # hidden units of FIRE's MLP
    pos_offset_max: NonNegativeInt = 0  # abacus/coupling: training adds one random offset in [0, k] per sequence
    pos_randomize_max: Width | None = None  # training positions: a sorted random subset of range(this)

    # Attention
    attn_scale: bool = True  # divide scores by sqrt(head_dim); False shows softmax saturation
    attn_temperature: PositiveFloat = 1.0  # scores are divided by this as well
    mixer: Literal[MIXERS] = "attention"  # "mean": uniform average over visible positions; "none": no mixing sublayer
    qk_norm: bool = False  # RMSNorm (a learned gain per head dim) on each head's queries and keys, before RoPE

    # Sublayers
    ffn: bool = True  # False removes the feed-forward sublayer
    activation: Literal[ACTIVATIONS] = "gelu"  # "relu_squared": relu(x)^2 (So et al., 2021, Primer)
    norm: Literal[NORMS] = "layer"
    norm_eps: NonNegativeFloat = 1e-5
    norm_position: Literal[NORM_POSITIONS] = "pre"
    final_norm: bool | None = None  # None: a final norm for pre-norm stacks only
    residual: bool = True
    residual_scale: float = 1.0  # y = scale * x + sublayer(x); the seed's 0.01 / 100 failure modes

    # Embeddings and output
    scale_embeddings: bool = False  # multiply token embeddings by sqrt(d_model), as in the paper
    tie_weights: bool = True  # output projection shares the token embedding matrix
    init_std: PositiveFloat = 0.02
    zero_init_branch_output: bool = False  # attention's out_proj and the FFN's down start at zero: blocks start as x

    # ------------------------------------------------------------------ derived
    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def attention_dropout(self) -> float:
        return self.dropout if self.attn_dropout is None else self.attn_dropout

    @property
    def use_final_norm(self) -> bool:
        return self.norm_position == "pre" if self.final_norm is None else self.final_norm

    @property
    def kv_cacheable(self) -> bool:
        """Incremental decoding needs keys and values to cache (attention); causal models have per-token norms."""
        return self.mixer == "attention"

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Each field against its annotation (blocklab.config), then the rules that tie fields together."""
        name = type(self).__name__
        if isinstance(self.pos_encoding, str) and any(sep in self.pos_encoding for sep in "+,"):
            raise ConfigError(
                f"{name}.pos_encoding={self.pos_encoding!r} combines encodings; a model has exactly one "
                f"(ALiBi already encodes position in the scores, so adding learned or sinusoidal "
                f"positions would give it two); choose one of: {', '.join(map(repr, POS_ENCODINGS))}"
            )
        super().validate()
        if self.d_model % self.n_heads:
            divisors = [h for h in range(1, self.d_model + 1) if self.d_model % h == 0]
            raise ConfigError(
                f"{name}.d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                f"valid n_heads for this d_model: {divisors}"
            )
        if self.n_kv_heads is not None:
            if self.n_heads % self.n_kv_heads:
                valid = [k for k in range(1, self.n_heads + 1) if self.n_heads % k == 0]
                raise ConfigError(
                    f"{name}.n_kv_heads={self.n_kv_heads} does not divide n_heads={self.n_heads}; "
                    f"choose one of: {valid}"
                )
        if self.pos_encoding == "sinusoidal" and self.d_model % 2:
            raise ConfigError(f"{name}.d_model={self.d_model} must be even for pos_encoding='sinusoidal'")
        if self.pos_encoding == "rope" and self.head_dim % 2:
            valid = [h for h in range(1, self.d_model + 1) if self.d_model % h == 0 and (self.d_model // h) % 2 == 0]
            raise ConfigError(
                f"{name}.pos_encoding='rope' needs an even head_dim, but d_model/n_heads = "
                f"{self.d_model}/{self.n_heads} = {self.head_dim}; n_heads with an even head_dim for this "
                f"d_model: {valid or 'none (d_model is odd)'}"
            )
        if self.pos_encoding in ATTENTION_POSITIONS and self.mixer != "attention":
            others = [p for p in POS_ENCODINGS if p not in ATTENTION_POSITIONS]
            raise ConfigError(
                f"{name}.pos_encoding={self.pos_encoding!r} acts inside attention, so it needs "
                f"mixer='attention' (got mixer={self.mixer!r}); with other mixers choose one of: "
                f"{', '.join(map(repr, others))}"
            )
        if self.qk_norm and self.mixer != "attention":
            raise ConfigError(f"{name}.qk_norm=True normalises attention's queries and keys, so it needs "
                              f"mixer='attention' (got mixer={self.mixer!r})")
        self._validate_position_options(name)
        if self.norm == "none" and self.final_norm:
            raise ConfigError(f"{name}.final_norm=True needs a norm, but norm='none'")

    def _validate_position_options(self, name: str) -> None:
        if self.t5_buckets % 2:
            raise ConfigError(f"{name}.t5_buckets={self.t5_buckets!r} is not valid; it must be even and >= 4 "
                              "(an encoder splits the buckets between the two directions, each half exact)")
        if self.t5_max_distance <= self.t5_buckets // 2:
            raise ConfigError(f"{name}.t5_max_distance={self.t5_max_distance!r} is not valid; it must exceed "
                              f"t5_buckets // 2 = {self.t5_buckets // 2}, the distances given exact buckets")
        if self.pos_offset_max and self.pos_encoding not in TASK_POSITIONS:
            raise ConfigError(f"{name}.pos_offset_max={self.pos_offset_max!r} is not valid with "
                              f"pos_encoding={self.pos_encoding!r}; it must be 0 unless pos_encoding is one of "
                              f"{', '.join(map(repr, TASK_POSITIONS))}")
        k = self.pos_randomize_max
        if k is not None:
            if self.pos_encoding in TASK_POSITIONS + ("none",):
                valid = [p for p in POS_ENCODINGS if p not in TASK_POSITIONS + ("none",)]
                raise ConfigError(f"{name}.pos_randomize_max={k} randomizes positions, which "
                                  f"pos_encoding={self.pos_encoding!r} does not read from the sequence; "
                                  f"use it with one of: {', '.join(map(repr, valid))}")
            if self.pos_encoding == "learned" and k > self.max_len:
                raise ConfigError(f"{name}.pos_randomize_max={k} draws positions past the learned table "
                                  f"(max_len={self.max_len}); use pos_randomize_max <= {self.max_len}")


@dataclass
class GPTConfig(BlockConfig):
    """Decoder-only language model: causal self-attention blocks."""

    n_layers: Depth = 2

    def validate(self) -> None:
        super().validate()
        _causal_norm(type(self).__name__, self.norm)


@dataclass
class ClassifierConfig(BlockConfig):
    """Encoder stack with a pooled classification head."""

    n_layers: Depth = 2
    n_classes: Width = 2
    pooling: Literal[POOLINGS] = "mean"  # "cls" prepends a learned token and reads it out
    pad_id: NonNegativeInt | None = None  # positions holding this token are ignored as keys and in pooling

    def validate(self) -> None:
        super().validate()
        _no_task_positions(type(self).__name__, self.pos_encoding)


@dataclass
class Seq2SeqConfig(BlockConfig):
    """Encoder-decoder: the paper's Transformer."""

    n_encoder_layers: Depth = 2
    n_decoder_layers: Depth = 2
    tgt_vocab_size: Width | None = None  # None: one vocabulary shared by source and target
    share_embeddings: bool = True  # source and target embeddings are one matrix (needs a shared vocabulary)
    pad_id: NonNegativeInt | None = None

    @property
    def target_vocab(self) -> int:
        return self.vocab_size if self.tgt_vocab_size is None else self.tgt_vocab_size

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        _no_task_positions(name, self.pos_encoding)
        _causal_norm(name, self.norm)
        if self.share_embeddings and self.target_vocab != self.vocab_size:
            raise ConfigError(
                f"{name}.share_embeddings=True needs one vocabulary, but vocab_size={self.vocab_size} "
                f"and tgt_vocab_size={self.tgt_vocab_size}; set share_embeddings=False"
            )


def _no_task_positions(owner: str, pos_encoding: str) -> None:
    if pos_encoding in TASK_POSITIONS:
        valid = [p for p in POS_ENCODINGS if p not in TASK_POSITIONS]
        raise ConfigError(f"{owner}.pos_encoding={pos_encoding!r} reads per-token positions from the task, which "
                          f"only GPT takes (GPT(tokens, positions=...)); choose one of: {', '.join(map(repr, valid))}")


def _causal_norm(owner: str, norm: str) -> None:
    """A causal model's norm must see one token at a time. BatchNorm's training statistics are taken over the batch
    and time, so every position would be normalized with the later ones (tests/nn/test_invariants.py measures it)."""
    if norm == "batch":
        valid = [n for n in NORMS if n != "batch"]
        raise ConfigError(f"{owner}.norm='batch' is not valid for a causal model: in training, batch statistics over "
                          "the sequence leak later tokens into earlier positions; choose one of: "
                          f"{', '.join(map(repr, valid))} (an EncoderClassifier may use 'batch')")
