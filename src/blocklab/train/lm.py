"""`train_lm`: a character-level (or byte-level) GPT on your own text, like nanoGPT's shakespeare_char.

    from blocklab.train.lm import train_lm
    run = train_lm("input.txt", "out/my-lm")              # nanoGPT's CPU size; ~5 CPU minutes
    print(run.sample)
    model, tok = GPT.load("out/my-lm"), load_tokenizer("out/my-lm")

The first 90% of the characters train and the last 10% validate (nanoGPT's cut). The text is
cut into windows of context + 1 tokens at a stride of `context`, so each character is predicted
once per epoch; the trainer draws them in a fresh random order each epoch. The model is the
char-lm study's: learned positions, pre-LayerNorm, GELU, no biases, tied embeddings (so
`export_hf` turns it into a GPT-2).

    out/
      config.json, model.safetensors, tokenizer.json   the model folder, rewritten at every evaluation
      checkpoint/                                       the trainer's checkpoint: a rerun resumes from it
      train_lm.json                                     the text's sha256, level and settings it was trained with
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, ProperFraction
from ..errors import BlocklabError, choice_error
from ..io import atomic_write_text, read_json
from ..nn import GPT, GPTConfig
from ..nn.config import Depth, Width
from ..nn.models.text import continue_text
from ..tokenizers import ByteTokenizer, CharTokenizer, Tokenizer
from .config import TrainConfig
from .metrics import accuracy
from .result import TrainResult
from .trainer import Callback, fit

LEVELS = ("char", "byte")
SETTINGS = "train_lm.json"


@dataclass
class LMPreset(Config):
    """The model and training settings of one train_lm run; every field can be overridden (`--set lr=3e-4`)."""

    n_layers: Depth = 4
    n_heads: Width = 4
    d_model: Width = 128
    context: Width = 64  # tokens the model sees (max_len)
    batch_size: PositiveInt = 12
    max_iters: PositiveInt = 2000
    dropout: ProperFraction = 0.0
    lr: PositiveFloat = 1e-3
    warmup_steps: NonNegativeInt = 100
    weight_decay: NonNegativeFloat = 0.1
    grad_clip: PositiveFloat | None = 1.0  # None: no clipping
    eval_every: PositiveInt = 250  # also when the model folder and the checkpoint are written
    val_windows: PositiveInt = 200  # at most this many validation windows per evaluation, evenly spaced


# nanoGPT's shakespeare_char: its README's CPU run, and its config file's GPU run.
PRESETS: dict[str, LMPreset] = {
    "nanogpt-cpu": LMPreset(),
    "tiny": LMPreset(n_layers=2, d_model=64, context=32, max_iters=300, warmup_steps=30, lr=2e-3, eval_every=100),
    "shakespeare-char": LMPreset(n_layers=6, n_heads=6, d_model=384, context=256, batch_size=64, max_iters=5000,
                                 dropout=0.2, eval_every=250),
}


@dataclass
class LMRun:
    """What train_lm hands back: the model folder, the trained model and tokenizer, the trainer's result, a sample."""

    folder: Path
    model: GPT
    tokenizer: Tokenizer
    result: TrainResult
    sample: str


def preset(name: str, **overrides: Any) -> LMPreset:
    if name not in PRESETS:
        raise choice_error("train_lm", "preset", name, PRESETS)
    return PRESETS[name].replace(**overrides)


def read_text(path: str | Path, level: str) -> tuple[str, str]:
    """(text, sha256 of its bytes); one line for a missing, empty or (at level 'char') non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise BlocklabError(f"text file {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        if level == "char":
            raise BlocklabError(f"{path} is not UTF-8 text ({err}); train on its bytes with level='byte'") from None
        text = data.decode("utf-8", errors="replace")
    if not text:
        raise BlocklabError(f"text file {path} is empty")
    return text, hashlib.sha256(data).hexdigest()


def check_trainable(model_cfg: GPTConfig) -> None:
    """Refuse in one line a model whose weights, gradients and AdamW moments (16 bytes a parameter in float32)
    would not fit in this machine's memory; counted on the meta device, so the check allocates nothing."""
    with torch.device("meta"):
        n = sum(p.numel() for p in GPT(model_cfg).parameters())
    memory = physical_memory()
    if memory is not None and 16 * n > memory:
        raise BlocklabError(f"a GPT of {n:,} parameters needs about {16 * n / 2**30:,.0f} GiB to train (weights, "
                            f"gradients, AdamW state), more than this machine's {memory / 2**30:,.0f} GiB; "
                            "give a smaller d_model, n_layers or context")


def physical_memory() -> int | None:
    """Bytes of RAM, where the OS says (Linux, macOS); None elsewhere."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def text_windows(ids: np.ndarray, context: int, limit: int | None = None) -> torch.Tensor:
    """(N, context + 1) slices of ids at a stride of context (each target once); `limit` evenly spaced ones."""
    starts = np.arange(0, len(ids) - context, context)
    if limit is not None and len(starts) > limit:
        starts = starts[np.linspace(0, len(starts) - 1, limit).astype(int)]
    return torch.from_numpy(np.stack([ids[s : s + context + 1] for s in starts]).astype(np.int64))


def next_token_loss(model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy of every next-token prediction in (B, T + 1) windows, and its accuracy; for fit()."""
    (rows,) = batch
    x, y = rows[:, :-1], rows[:, 1:]  # (B, T) each: every position predicts the token after it
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten()), {"acc": accuracy(logits, y)}


def _splits(text: str, tok: Tokenizer, p: LMPreset, path: Path) -> dict[str, tuple[torch.Tensor]]:
    cut = round(len(text) * 0.9)
    train_ids, val_ids = tok.encode(text[:cut]), tok.encode(text[cut:])
    if len(val_ids) <= p.context:
        raise BlocklabError(f"{path} is too short: its last 10% ({len(val_ids)} tokens) must hold one window of "
                            f"context + 1 = {p.context + 1} tokens; give a longer text or a smaller context")
    return {"train": (text_windows(train_ids, p.context),), "val": (text_windows(val_ids, p.context, p.val_windows),)}


def _check_resumable(out: Path, record: dict[str, Any], resume: bool) -> None:
    """Start over when asked; refuse to resume a run of another text or other settings."""
    stored = out / SETTINGS
    if not resume:
        shutil.rmtree(out / "checkpoint", ignore_errors=True)
    elif (out / "checkpoint").is_dir() and stored.is_file():
        before = read_json(stored, "train-lm settings", dict, fix="use another folder, or start over with --no-resume")
        changed = [k for k in record if k != "text" and before.get(k) != record[k]]
        if changed:
            raise BlocklabError(f"{out} holds a run with another {changed[0]} ({before.get(changed[0])!r}, now "
                                f"{record[changed[0]]!r}); use another folder, or resume=False to start over")
    atomic_write_text(stored, json.dumps(record, indent=1))


class _Bar:
    """A tqdm bar showing the latest train and validation loss."""

    def __init__(self, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(unit="it", disable=not enabled, dynamic_ncols=True)
        self.val = ""

    def progress(self, step: int, total: int, info: dict[str, Any]) -> None:
        if self.bar.total != total:  # a resumed run starts past 0
            self.bar.reset(total)
            self.bar.initial = self.bar.n = step - 1
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix_str(f"loss {info['loss']:.3f}{self.val}", refresh=False)

    def on_eval(self, event: str, state) -> None:
        if event == "eval":
            self.val = f" | train {state.record['train_loss']:.3f} val {state.record['val_loss']:.3f}"


def train_lm(
    text_path: str | Path,
    out: str | Path,
    *,
    preset_name: str = "nanogpt-cpu",
    level: str = "char",
    max_iters: int | None = None,
    resume: bool = True,
    seed: int = 0,
    device: str = "auto",
    overrides: Mapping[str, Any] | None = None,
    sample_tokens: int = 300,
    show_progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> LMRun:
    """Train a GPT on the text in `text_path`, writing its model folder and checkpoints to `out`; see the module."""
    if level not in LEVELS:
        raise choice_error("train_lm", "level", level, LEVELS)
    p = preset(preset_name, **dict(overrides or {}), **({} if max_iters is None else {"max_iters": max_iters}))
    text_path, out = Path(text_path), Path(out)
    text, digest = read_text(text_path, level)
    tok: Tokenizer = CharTokenizer.fit(text[: round(len(text) * 0.9)]) if level == "char" else ByteTokenizer()
    data = _splits(text, tok, p, text_path)
    # Every setting is checked (and the model's size against this machine's memory) before OUT is touched.
    model_cfg = GPTConfig(vocab_size=tok.vocab_size, d_model=p.d_model, n_heads=p.n_heads, n_layers=p.n_layers,
                          d_ff=4 * p.d_model, max_len=p.context, dropout=p.dropout, pos_encoding="learned",
                          bias=False, tie_weights=True)
    check_trainable(model_cfg)
    cfg = TrainConfig(lr=p.lr, betas=(0.9, 0.99), weight_decay=p.weight_decay, schedule="cosine",
                      warmup_steps=min(p.warmup_steps, p.max_iters), steps=p.max_iters, batch_size=p.batch_size,
                      grad_clip=p.grad_clip, eval_every=p.eval_every, checkpoint_every=p.eval_every, log_every=None,
                      seed=seed, device=device)
    out.mkdir(parents=True, exist_ok=True)
    _check_resumable(out, {"text": str(text_path), "text_sha256": digest, "level": level, "seed": seed,
                           **dataclasses.asdict(p)}, resume)
    torch.manual_seed(seed)
    model = GPT(model_cfg)

    def save_model(event: str, state) -> None:
        if event == "eval":
            state.model.save(out, tokenizer=tok)  # a sampleable model while the run goes on

    bar = _Bar(show_progress)
    try:
        result = fit(model, data, next_token_loss, cfg, run_dir=out, callbacks=[bar.on_eval, save_model, *callbacks],
                     progress=bar.progress)
    finally:
        bar.bar.close()
    model.save(out, tokenizer=tok)
    sample = continue_text(model.eval(), tok, "\n", sample_tokens, seed=seed).text
    return LMRun(out, model, tok, result, sample)
