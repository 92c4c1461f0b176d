import pytest
import torch
from torch import nn

from blocklab.errors import BlocklabError
from blocklab.nn import ClassifierConfig, EncoderClassifier
from blocklab.train import Int8Linear, compare_int8, quantize_int8, state_bytes
from blocklab.train.quantize import quantize_rows

from .helpers import lm_data, lm_loss, tiny_gpt


def rounding_bound(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """Largest |int8 output - float output| per element from rounding alone:
    |xW - x̂Ŵ| <= sum_k |x - x̂||W| + |x̂||W - Ŵ| <= (sx / 2) sum_k |W_jk| + (sw_j / 2) sum_k |x̂_ik|."""
    qx, sx = quantize_rows(x)
    _, sw = quantize_rows(linear.weight.detach())  # (N, 1)
    x_hat = qx.float() * sx  # (M, K)
    return sx / 2 * linear.weight.detach().abs().sum(1) + x_hat.abs().sum(1, keepdim=True) * sw[:, 0] / 2


def test_quantize_rows_rounds_to_the_nearest_step_of_a_per_row_scale():
    t = torch.tensor([[1.0, -0.5, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0], [-3.0, 1.0, 2.0, 0.001]])
    q, scale = quantize_rows(t)
    assert q.dtype == torch.int8
    assert scale[:, 0].tolist() == pytest.approx([1 / 127, 1.0, 3 / 127])  # an all-zero row gets scale 1
    assert q.tolist() == [[127, -64, 32, 0], [0, 0, 0, 0], [-127, 42, 85, 0]]  # -63.5 rounds to even: -64
    assert (q.float() * scale - t).abs().max() <= scale.max() / 2


def test_int8_linear_is_within_the_rounding_bound_and_is_integer_arithmetic():
    torch.manual_seed(0)
    linear = nn.Linear(48, 24)
    x = torch.randn(5, 7, 48) * torch.logspace(-2, 1, 7)[:, None]  # rows of very different magnitude
    q = Int8Linear(linear)
    y, y_float = q(x), linear(x)
    assert y.shape == (5, 7, 24)
    bound = rounding_bound(linear, x.reshape(-1, 48)).reshape(5, 7, 24)
    assert ((y - y_float).abs() <= bound + 1e-5).all()
    assert (y - y_float).abs().max() > 0  # it did quantize
    # The same arithmetic written out in float64: integers times both scales, plus the bias.
    qx, sx = quantize_rows(x.reshape(-1, 48))
    exact = (qx.double() @ q.qweight.double().t()) * sx.double() * q.weight_scale.double() + linear.bias.double()
    torch.testing.assert_close(y.reshape(-1, 24).double(), exact, rtol=1e-6, atol=1e-6)


def test_a_quantized_gpt_stays_close_to_the_float_one_and_leaves_the_original_alone():
    model = tiny_gpt(d_model=32, d_ff=64).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_int8(model)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not q.training and not any(p.requires_grad for p in q.parameters())
    kinds = {name: type(m) for name, m in q.named_modules() if name.endswith(("q_proj", "out_proj", "up", "lm_head"))}
    assert set(kinds.values()) == {Int8Linear} and len(kinds) == 2 * 3 + 1
    x = lm_data()["val"][0][:, :-1]
    with torch.no_grad():
        logits, q_logits = model.eval()(x), q(x)
    # int8 keeps ~2 significant digits per value (steps of max/127); a few layers of such noise
    # should leave the logits within a few percent of their spread, and nearly every argmax.
    rel = (q_logits - logits).norm() / logits.norm()
    assert 0 < rel < 0.03
    assert (q_logits.argmax(-1) == logits.argmax(-1)).float().mean() > 0.95


def test_compare_int8_reports_metrics_and_a_smaller_state():
    torch.manual_seed(0)
    model = EncoderClassifier(ClassifierConfig(vocab_size=11, d_model=32, n_heads=2, d_ff=64, n_layers=2,
                                               max_len=16, n_classes=3))
    x = torch.randint(0, 11, (40, 8))
    y = torch.randint(0, 3, (40,))

    def loss_fn(m, batch):
        logits = m(batch[0])
        return nn.functional.cross_entropy(logits, batch[1]), {"acc": (logits.argmax(-1) == batch[1]).float().mean()}

    report = compare_int8(model, (x, y), loss_fn, batch_size=16)
    assert set(report["float"]) == set(report["int8"]) == {"loss", "acc"}
    assert report["change"]["loss"] == pytest.approx(report["int8"]["loss"] - report["float"]["loss"])
    assert abs(report["change"]["loss"]) < 0.05
    linear_params = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    # Each Linear weight goes from 4 bytes to 1 per value, plus one float32 scale per output row.
    rows = sum(m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    assert report["float_bytes"] - report["int8_bytes"] == 3 * linear_params - 4 * rows
    assert report["float_bytes"] == state_bytes(model)


def test_a_tied_output_head_gets_its_own_int8_copy():
    model = tiny_gpt(tie_weights=True)
    q = quantize_int8(model)
    assert isinstance(q.lm_head, Int8Linear)
    torch.testing.assert_close(q.lm_head.dequantized_weight(), model.embed.tok.weight.detach(),
                               atol=model.embed.tok.weight.abs().max().item() / 127, rtol=0)
    assert torch.equal(q.embed.tok.weight, model.embed.tok.weight)


def test_unsupported_models_are_refused_clearly():
    with pytest.raises(BlocklabError, match="found no nn.Linear in Embedding"):
        quantize_int8(nn.Embedding(4, 3))
    model = nn.Linear(3, 2)
    model.register_buffer("where", torch.zeros(1, device="meta"))
    with pytest.raises(BlocklabError, match=r"runs on the CPU.*\['cpu', 'meta'\].*model.cpu\(\)"):
        quantize_int8(model)


def test_the_quantized_copy_evaluates_with_the_trainer_s_evaluate():
    from blocklab.train import evaluate
    model = tiny_gpt()
    scores = evaluate(quantize_int8(model), lm_data()["val"], lm_loss, 8, "cpu")
    assert set(scores) == {"loss", "acc"} and scores["loss"] > 0
