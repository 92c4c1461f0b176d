"""`blocklab predict`: ask a trained training-dynamics model one question, e.g. Max(5,3,9)."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import BlocklabError


@click.command()
@click.argument("checkpoint", type=click.Path())
@click.argument("prompt")
@click.option("--top", "top", default=1, show_default=True, type=click.IntRange(1, 20),
              help="Also list the K most likely tokens with their probabilities.")
def predict(checkpoint: str, prompt: str, top: int) -> None:
    """Print the answer of the model saved in CHECKPOINT to PROMPT, and its probability.

    CHECKPOINT is a model folder (config.json + model.safetensors) that the training-dynamics
    study saves for each seed of its baseline-seed cell, RUN/work/baseline-seed/seed0/model, and
    of each generalization cell, RUN/work/gen-seed-split/seed0/model and so on, where RUN is the
    study's run folder (runs/training-dynamics by default). PROMPT is an op and digits, e.g.
    "Max(5,3,9)": ops First, Second, Last, Max, Min (and Middle, which no model was trained on),
    arguments single digits 0-9. The probability is the softmax of the model's logits at the last
    position over its whole 20-token vocabulary.

    Example: blocklab predict runs/training-dynamics/work/baseline-seed/seed0/model "Max(5,3,9)" --top 3
    """
    import torch

    from ..nn.models.operations import logits_for
    from ..train.saved_model import load_model
    from ..tasks.operations import VOCAB, encode, render

    if not Path(checkpoint).exists():
        raise BlocklabError(f"checkpoint {checkpoint!r} does not exist; give a saved model folder, "
                            "e.g. runs/training-dynamics/work/baseline-seed/seed0/model")
    ids = encode(prompt)  # a malformed prompt raises a BlocklabError naming the problem
    model = load_model(checkpoint)
    if model.cfg.vocab_size != len(VOCAB):
        raise BlocklabError(f"{checkpoint} holds a model over {model.cfg.vocab_size} tokens, not the operations "
                            f"task's {len(VOCAB)}: it is not a training-dynamics model")
    with torch.no_grad():
        probs = torch.softmax(logits_for(model, torch.tensor([ids])).double(), dim=-1)[0]  # (V,)
    p, tokens = probs.topk(top)
    click.echo(f"{render(ids)} = {VOCAB[int(tokens[0])]}  (probability {float(p[0]):.4f})")
    if top > 1:
        click.echo(f"top {top}: " + ", ".join(f"{VOCAB[int(t)]} {float(q):.4f}" for t, q in zip(tokens, p)))
    if VOCAB[ids[0]] == "Middle":
        click.echo("note: no model is trained on Middle; this answer is zero-shot", err=True)
