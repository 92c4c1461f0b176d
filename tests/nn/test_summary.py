"""Parameter counts: `blocklab info --preset paper-base --vocab 37000` against an independent formula."""
from __future__ import annotations

from blocklab.cli import main
from blocklab.nn import build_model, parameter_summary, preset

from .helpers import TINY, tiny_classifier, tiny_gpt, tiny_seq2seq


def paper_base_formula(vocab: int, d: int, d_ff: int, n_layers: int) -> int:
    """Vaswani et al.'s base model with biases everywhere and one embedding matrix shared by the
    source, the target and the output projection (no final norms: post-norm)."""
    attention = 4 * (d * d + d)  # W_Q, W_K, W_V, W_O and their biases
    feed_forward = (d * d_ff + d_ff) + (d_ff * d + d)
    norm = 2 * d
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = 2 * attention + feed_forward + 3 * norm
    return vocab * d + n_layers * (encoder_layer + decoder_layer)


def test_paper_base_parameter_count(capsys):
    model = build_model(preset("paper-base", vocab_size=37000))
    summary = parameter_summary(model)
    unique = {id(p): p.numel() for p in model.parameters()}
    expected = paper_base_formula(37000, 512, 2048, 6)
    assert expected == 63_082_496  # the paper reports "65M" for its base model
    assert summary["total"] == sum(unique.values()) == expected
    assert sum(n for component, n in summary.items() if component != "total") == summary["total"]
    assert summary["embeddings"] == 37000 * 512 and "output head" not in summary, "tied weights are counted once"

    main(["info", "--preset", "paper-base", "--vocab", "37000"])
    assert f"{expected:,}" in capsys.readouterr().out


def test_untying_the_output_head_adds_one_vocabulary_matrix():
    tied, untied = parameter_summary(tiny_gpt()), parameter_summary(tiny_gpt(tie_weights=False))
    assert untied["output head"] == TINY["vocab_size"] * TINY["d_model"]
    assert untied["total"] - tied["total"] == untied["output head"]


def test_every_parameter_belongs_to_a_named_component():
    models = [tiny_gpt(pos_encoding="learned", tie_weights=False),
              tiny_seq2seq(pos_encoding="learned", share_embeddings=False, tie_weights=False),
              tiny_classifier(pos_encoding="learned", pooling="cls")]
    for model in models:
        summary = parameter_summary(model)
        assert "other" not in summary, f"{type(model).__name__}: {summary}"
        assert {"embeddings", "positions", "attention", "feed-forward", "norms", "output head"} <= set(summary)


def test_the_mean_mixer_is_not_counted_as_attention():
    from blocklab.nn import GPT, GPTConfig, parameter_summary

    counts = parameter_summary(GPT(GPTConfig(mixer="mean", pos_encoding="sinusoidal", n_layers=2, d_model=32)))
    assert "attention" not in counts and counts["mean mixer"] == 2 * (32 * 32 + 32)
