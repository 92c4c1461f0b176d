"""Choosing the next token: greedy, top-k, top-p (nucleus), and the errors for bad settings."""
from __future__ import annotations

import math

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn.models.sampling import sample_next

from .helpers import tiny_gpt


def draws(logits: torch.Tensor, n: int = 2000, **kwargs) -> set[int]:
    """The set of tokens sample_next picks for one row of logits in n seeded draws."""
    generator = torch.Generator().manual_seed(0)
    batch = logits.expand(n, -1)
    return set(sample_next(batch, generator=generator, **kwargs).flatten().tolist())


def test_temperature_zero_and_top_k_one_are_greedy():
    logits = torch.randn(50, 20)
    generator = torch.Generator().manual_seed(0)
    greedy = logits.argmax(-1, keepdim=True)
    assert torch.equal(sample_next(logits, temperature=0.0), greedy)
    for temperature in (0.5, 1.0, 5.0):
        assert torch.equal(sample_next(logits, temperature, top_k=1, generator=generator), greedy)


def test_top_k_samples_only_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, -1.0, 2.0, 0.5, 2.5]])
    assert draws(logits, top_k=3) == {1, 3, 5}
    assert draws(logits) == set(range(6)), "without top_k every token can be drawn"


@pytest.mark.parametrize("top_p, kept", [(0.45, {0}), (0.7, {0, 1}), (0.8, {0, 1, 2}), (1.0, {0, 1, 2, 3})])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
    """Probabilities 0.5, 0.25, 0.15, 0.1: the nucleus for p is the shortest prefix whose mass is >= p."""
    logits = torch.tensor([[math.log(0.15), math.log(0.5), math.log(0.1), math.log(0.25)]])
    order = [1, 3, 0, 2]  # token ids by falling probability
    assert draws(logits, top_p=top_p) == {order[i] for i in kept}


@pytest.mark.parametrize("bad", [{"temperature": -0.5}, {"top_k": 0}, {"top_k": -3}, {"top_p": 0.0},
                                 {"top_p": 1.5}, {"top_p": -0.1}])
def test_bad_sampling_settings_raise(bad):
    (name, value), = bad.items()
    with pytest.raises(BlocklabError, match=f"{name}={value!r}"):
        sample_next(torch.randn(2, 5), **bad)
    with pytest.raises(BlocklabError, match=name):
        tiny_gpt().generate(torch.zeros(1, 2, dtype=torch.long), 1, **bad)
