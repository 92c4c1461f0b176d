"""`blocklab demo`, `blocklab generate` and `blocklab predict`: train a tiny model, or use a saved one."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import BlocklabError
from ._options import MAX_NEW_TOKENS, SEED, InPath, finite


@click.command()
@click.option("--seconds", default=8.0, show_default=True, type=finite(0, 3600, min_open=True),
              help="Training time budget (at least one step is taken).")
@click.option("--seed", default=0, show_default=True, type=SEED)
def demo(seconds: float, seed: int) -> None:
    """Train a tiny GPT on a repeating pattern for a few seconds and print its loss falling.

    \b
    Example:
      blocklab demo --seconds 3
    """
    from ..demo import run_demo

    run_demo(seconds=seconds, seed=seed, echo=click.echo)


@click.command()
@click.argument("checkpoint", type=InPath())
@click.argument("prompt")
@click.option("--engine", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True,
              help="numpy: blocklab.autograd's GPT; torch: the same weights in blocklab.nn's GPT.")
@click.option("--max-new-tokens", default=80, show_default=True, type=click.IntRange(1, MAX_NEW_TOKENS))
@click.option("--temperature", default=1.0, show_default=True, type=finite(min=0.0),
              help="GPT.generate's default; 0 is greedy decoding.")
@click.option("--top-k", type=click.IntRange(min=1), help="Sample among the k most likely tokens.")
@click.option("--top-p", type=finite(0.0, 1.0, min_open=True),
              help="Sample among the most likely tokens holding this much probability.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seeds the sampler.")
@click.option("--strict", is_flag=True, help="Refuse a prompt with characters outside the vocabulary "
              "(default: they become <unk>, with a note).")
def generate(checkpoint: str, prompt: str, engine: str, max_new_tokens: int, temperature: float, top_k: int | None,
             top_p: float | None, seed: int, strict: bool) -> None:
    """Continue PROMPT with the GPT saved in CHECKPOINT and print prompt and continuation.

    CHECKPOINT is a model folder saved with its tokenizer (config.json, model.safetensors,
    tokenizer.json): what `blocklab train-lm` writes, or a GPT a study keeps in RUN/models/CELL/seedK
    (char-lm, train-features, tinytorch-copilot; the copilot's earlier steps in RUN/work/copilot/seed0/stepN).

    \b
    Example (after `blocklab train-lm input.txt out/my-lm`):
      blocklab generate out/my-lm "ROMEO:" --temperature 0.8 --engine torch
    """
    from ..nn.models.text import continue_text, load_text_model

    model, tok = load_text_model(checkpoint, engine)
    c = continue_text(model, tok, prompt, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                      seed=seed, strict=strict)
    if c.unknown:
        click.echo(f"note: {', '.join(map(repr, c.unknown))} not in the vocabulary; encoded as <unk> "
                   "(--strict refuses instead)", err=True)
    click.echo(prompt + c.text)


@click.command()
@click.argument("checkpoint", type=InPath())
@click.argument("prompt")
@click.option("--top", "top", default=1, show_default=True, type=click.IntRange(1, 20),
              help="Also list the K most likely tokens with their probabilities.")
def predict(checkpoint: str, prompt: str, top: int) -> None:
    """Print the answer of the model saved in CHECKPOINT to PROMPT, and its probability.

    CHECKPOINT is a model folder (config.json + model.safetensors) that the training-dynamics
    study saves for each cell and seed, RUN/models/CELL/seedK: RUN/models/baseline-seed/seed0,
    RUN/models/gen-seed-split/seed0 and so on, where RUN is the study's run folder
    (runs/training-dynamics by default). PROMPT is an op and digits, e.g.
    "Max(5,3,9)": ops First, Second, Last, Max, Min (and Middle, which no model was trained on),
    arguments single digits 0-9. The probability is the softmax of the model's logits at the last
    position over its whole 20-token vocabulary.

    \b
    Example (after `blocklab run training-dynamics`):
      blocklab predict runs/training-dynamics/models/baseline-seed/seed0 "Max(5,3,9)" --top 3
    """
    import torch

    from ..nn.models.operations import logits_for
    from ..nn.models.saving import load_model
    from ..tasks.operations import VOCAB, encode, render

    if not Path(checkpoint).exists():
        raise BlocklabError(f"checkpoint {checkpoint!r} does not exist; give a saved model folder, "
                            "e.g. runs/training-dynamics/models/baseline-seed/seed0")
    ids = encode(prompt)  # a malformed prompt raises a BlocklabError naming the problem
    model = load_model(checkpoint, kind="GPT")
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
