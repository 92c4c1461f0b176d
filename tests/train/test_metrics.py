import copy
import math

import pytest
import torch

from blocklab.train import accuracy, fit, param_group

from .helpers import lm_data, lm_loss, quick_cfg, tiny_gpt

GROUPS = ["embed", "blocks.0.attn", "blocks.0.res_attn", "blocks.0.mlp", "blocks.0.res_mlp", "blocks.1.attn",
          "blocks.1.res_attn", "blocks.1.mlp", "blocks.1.res_mlp", "norm_f", "lm_head"]


@pytest.mark.parametrize("name, group", [
    ("embed.tok.weight", "embed"),
    ("blocks.0.attn.q_proj.weight", "blocks.0.attn"),
    ("blocks.11.mlp.down.bias", "blocks.11.mlp"),
    ("encoder.blocks.1.cross_attn.k_proj.weight", "encoder.blocks.1.cross_attn"),
    ("lm_head.weight", "lm_head"),
    ("layers.3.weight", "layers.3"),
    ("0.weight", "0"),
    ("cls", "cls"),
])
def test_param_group(name, group):
    assert param_group(name) == group


def one_logged_step(**cfg):
    """A one-update run over the whole training set as one batch, and the model before it."""
    model = tiny_gpt(tie_weights=False)
    before = copy.deepcopy(model)
    data = lm_data()
    result = fit(model, data, lm_loss, quick_cfg(steps=1, log_every=1, batch_size=80, **cfg))
    return before, model, data, result.steps_log[0]


def group_norm(tensors: dict[str, torch.Tensor], group: str) -> float:
    return math.sqrt(sum(t.double().square().sum().item() for n, t in tensors.items() if n.startswith(group + ".")))


def test_per_layer_grad_norms_match_a_manual_backward():
    before, _, data, record = one_logged_step(optimizer="sgd")
    loss, _ = lm_loss(before, data["train"])
    loss.backward()
    grads = {n: p.grad for n, p in before.named_parameters()}
    got = {k.split("/", 1)[1]: v for k, v in record.items() if k.startswith("grad_norm/")}
    assert sorted(got) == sorted(GROUPS)
    for group in GROUPS:
        assert got[group] == pytest.approx(group_norm(grads, group), rel=1e-5), group
    assert record["grad_norm"] == pytest.approx(math.sqrt(sum(v * v for v in got.values())), rel=1e-6)


def test_update_ratio_matches_the_weight_change():
    before, after, _, record = one_logged_step(optimizer="adamw", lr=1e-2)
    w0, w1 = dict(before.named_parameters()), dict(after.named_parameters())
    deltas = {n: w1[n].detach() - w0[n].detach() for n in w0}
    for group in GROUPS:
        expected = group_norm(deltas, group) / group_norm(w0, group)
        assert record[f"update_ratio/{group}"] == pytest.approx(expected, rel=1e-5), group
    # Adam's first step moves every weight by about lr, so the ratio is far from 0 for the embedding.
    assert record["update_ratio/embed"] > 0.1


def test_accuracy_with_and_without_ignored_targets():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]])  # (1, 3, 2): argmax 0, 1, 0
    targets = torch.tensor([[0, 0, 1]])
    assert accuracy(logits, targets).item() == pytest.approx(1 / 3)
    assert accuracy(logits, torch.tensor([[0, 0, -100]]), ignore_index=-100).item() == pytest.approx(1 / 2)
