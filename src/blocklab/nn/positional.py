"""Positional encodings: sinusoidal, learned, Abacus/coupling, ALiBi, RoPE, none (NoPE).

They act in three different places, so each encoding answers three questions and
the ones that do not apply answer "nothing":

    embed(x, pos)       added to the token embeddings     (sinusoidal, learned, abacus, coupling)
    bias(q_pos, k_pos)  added to the attention scores      (ALiBi; T5, KERPLE, FIRE in relative_bias.py)
    rotary(pos)         rotates queries and keys           (RoPE)

`pos` is a 1-D tensor of absolute positions, so a KV cache just passes the offset ones.
Encodings with `per_token = True` also take per-token positions (B, T) in `embed`, supplied
by a task (GPT(tokens, positions=...)); the others would ignore or misuse them, so the
models refuse them there. The factory that picks one from a config is embed.build_positional.
Shapes: B batch, T positions, D model width, H heads, Dh head width.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import BlocklabError


class PositionalEncoding(nn.Module):
    """The 'none' encoding, and the base class: every question answered with nothing.

    As 'none' this is NoPE (Kazemnejad et al., 2023): no parameter, buffer or term depends on
    position, so in a causal decoder the mask is the only source of order, and in an encoder
    the model is permutation-equivariant (tests/nn/test_invariants.py checks both)."""

    per_token = False  # embed accepts positions (B, T), one per token
    adds_bias = False  # bias returns a tensor

    def embed(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return x

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor | None:
        return None

    def rotary(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None


def sinusoid_table(pos: torch.Tensor, dim: int, base: float) -> torch.Tensor:
    """PE[p, 2i] = sin(p / base^(2i/dim)), PE[p, 2i+1] = cos(same).  (...,) -> (..., dim) float32

    Angles are computed in float64: in float32, p * freq is off by ~p * 6e-8 radians,
    which at p = 5000 corrupts the fourth decimal of the table.
    """
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=pos.device) / dim)
    angles = pos.double()[..., None] * inv_freq  # (..., dim/2)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (..., dim/2, 2)
    return table.flatten(-2).float()  # (..., dim), sin and cos interleaved


class Sinusoidal(PositionalEncoding):
    """Fixed encoding of Vaswani et al.; positions past the buffer are computed on the fly."""

    per_token = True

    def __init__(self, d_model: int, max_len: int, base: float) -> None:
        super().__init__()
        self.d_model, self.base = d_model, base
        self.register_buffer("table", sinusoid_table(torch.arange(max_len), d_model, base), persistent=False)

    def embed(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        # Compiled, the table is always computed: a branch on a tensor's value splits the graph.
        if not torch.compiler.is_compiling() and int(pos.max()) < self.table.shape[0]:
            pe = self.table[pos]
        else:
            pe = sinusoid_table(pos, self.d_model, self.base)
        return x + pe.to(x.dtype)  # (B, T, D) + (T, D) or (B, T, D)


class Learned(PositionalEncoding):
    """A trained table of max_len rows. Past the table: an error, or the last row reused ("clamp")."""

    per_token = True

    def __init__(self, d_model: int, max_len: int, overflow: str) -> None:
        super().__init__()
        self.overflow = overflow
        self.table = nn.Embedding(max_len, d_model)

    def embed(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        n = self.table.num_embeddings
        if self.overflow == "clamp":
            pos = pos.clamp(max=n - 1)
        # Compiled, no check (reading a tensor's value splits the graph): the table lookup itself
        # still fails past the end, with torch's message.
        elif not torch.compiler.is_compiling() and int(pos.max()) >= n:
            raise BlocklabError(
                f"position {int(pos.max())} is past the learned position table (max_len={n}); "
                "use a shorter input, a larger max_len, learned_overflow='clamp', "
                "or an encoding that extrapolates ('sinusoidal', 'alibi', 'rope')"
            )
        return x + self.table(pos)  # (B, T, D) + (T, D) or (B, T, D)


class DigitPlaces(Learned):
    """Abacus embeddings (McLeish et al., 2024) and position coupling (Cho et al., 2024).

    Both are a learned table indexed by positions the task supplies, one per token: the
    place of a digit in its number (Abacus: counted from the number's first digit), or
    its significance (coupling: the same index for the units of both operands and of the
    answer). blocklab.tasks.digit_positions computes both; index 0 marks tokens that are
    not digits. While training, each sequence's digit indices are shifted by one random
    offset drawn uniformly from [0, max_offset], so rows past the longest training number
    are trained too (Abacus's k; coupling's random starting id). Non-digits keep row 0.
    The two names share this class: what differs is the indices the task feeds.
    """

    def __init__(self, d_model: int, max_len: int, overflow: str, max_offset: int, name: str) -> None:
        super().__init__(d_model, max_len, overflow)
        self.max_offset, self.kind = max_offset, name

    def embed(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        if pos.dim() != 2:
            raise BlocklabError(
                f"pos_encoding={self.kind!r} needs one position per token from the task: call "
                "model(tokens, positions=...) with positions (B, T) from blocklab.tasks.digit_positions"
            )
        if self.training and self.max_offset > 0:
            offset = torch.randint(0, self.max_offset + 1, (pos.shape[0], 1), device=pos.device)  # (B, 1)
            pos = torch.where(pos > 0, pos + offset, pos)
        return super().embed(x, pos)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Head slopes of Press et al. (2022): 2^(-8h/n) for h = 1..n when n is a power of two.

    Otherwise take the slopes for the largest power of two below n, then every other
    slope of the sequence for twice that, as the paper's reference code does.
    """

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-8 / n)
        return [start ** (h + 1) for h in range(n)]

    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(closest)
    if closest < n_heads:
        slopes += power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes)


class ALiBi(PositionalEncoding):
    """Bias -m_h * |i - j| on the scores. A causal mask leaves j <= i, which is Press et al.'s
    bias exactly; in an encoder the same formula is the symmetric (bidirectional) variant."""

    adds_bias = True

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        distance = (q_pos[:, None] - k_pos[None, :]).abs().float()  # (Tq, Tk)
        return -self.slopes[:, None, None] * distance  # (H, Tq, Tk)


class RoPE(PositionalEncoding):
    """Rotary embeddings (Su et al.): rotate each (x_i, x_{i+Dh/2}) pair by angle p * base^(-2i/Dh).

    The score q_p . k_r then depends on p - r only. This is the half-split layout
    used by GPT-NeoX and Llama, not the interleaved one of the original paper.
    """

    def __init__(self, head_dim: int, base: float) -> None:
        super().__init__()
        self.head_dim, self.base = head_dim, base

    def rotary(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(T,) -> cos, sin (T, Dh) in float64; apply_rotary casts them to the activations' dtype.

        In float32 the angle p * freq carries an error growing with p, so scores would
        depend on absolute positions, not only on their offset."""
        steps = torch.arange(0, self.head_dim, 2, dtype=torch.float64, device=pos.device)
        inv_freq = self.base ** (-steps / self.head_dim)
        angles = pos.double()[:, None] * inv_freq[None, :]  # (T, Dh/2)
        angles = torch.cat([angles, angles], dim=-1)  # (T, Dh)
        return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """(B, H, T, Dh) rotated by per-position (T, Dh) cos/sin."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)
