"""The models of the addition-heads study, their loss, their decoders and their evaluation.

Two models read the same problems (tasks/addition.py):
  seq2seq  Seq2SeqTransformer, the seed's architecture: 2 encoder + 2 decoder layers, 4 heads;
           the encoder reads `a + b` (7 tokens), the decoder writes the 4 answer digits after
           EQUALS.
  gpt      a decoder-only GPT reading the whole line `a + b = c` (12 tokens); the loss is on
           the 4 answer digits only, and it answers by continuing `a + b =`.

Why greedy exact match equals teacher-forced sequence exact match. Greedy decoding feeds
back the argmax at each step. If the teacher-forced argmax is right at every answer position,
every prefix greedy builds is the true prefix, so greedy writes the true answer; if greedy
writes the true answer, its prefixes were the true ones and the teacher-forced argmaxes are
those tokens. So on one model and one test set the two agree problem by problem, and greedy
exact match >= 100 - L x (100 - token accuracy) (a union bound over L = 4 digits).
`evaluate` counts the problems where the decoders disagree (float ties only), and the head
ablations use the one teacher-forced pass as the greedy score.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocklab.errors import choice_error
from blocklab.nn import GPTConfig, Seq2SeqConfig
from blocklab.nn.models.gpt import GPT
from blocklab.nn.models.seq2seq import Seq2SeqTransformer
from blocklab.tasks.addition import ANSWER_LEN, EQUALS, SRC_LEN, VOCAB, AdditionTaskData
from blocklab.train import evaluating

MODELS = ("seq2seq", "gpt")
PROMPT_LEN = SRC_LEN + 1  # `a + b =`
SEQ_LEN = PROMPT_LEN + ANSWER_LEN


def build(kind: str, d_model: int, n_heads: int, layers: int, gpt_layers: int, init_std: float = 0.02) -> nn.Module:
    """seq2seq: `layers` encoder and `layers` decoder blocks; gpt: `gpt_layers` blocks. Learned
    positions: every problem has the same length, so nothing needs to extrapolate."""
    common = dict(vocab_size=VOCAB, d_model=d_model, n_heads=n_heads, d_ff=4 * d_model, max_len=SEQ_LEN,
                  pos_encoding="learned", init_std=init_std)
    if kind == "seq2seq":
        return Seq2SeqTransformer(Seq2SeqConfig(**common, n_encoder_layers=layers, n_decoder_layers=layers))
    if kind == "gpt":
        return GPT(GPTConfig(**common, n_layers=gpt_layers))
    raise choice_error("addition-heads", "model", kind, MODELS)


def answer_logits(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Teacher-forced logits for the 4 answer digits, (B, 4, V), from a batch of the task's splits."""
    src, _, dec_in, _, seq = batch
    if isinstance(model, Seq2SeqTransformer):
        return model(src, dec_in)
    return model(seq[:, :-1])[:, PROMPT_LEN - 1 :]  # position 7 (EQUALS) predicts the first digit


def greedy(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Greedy answers (B, 4), with the model's KV cache."""
    src, seq = batch[0], batch[4]
    if isinstance(model, Seq2SeqTransformer):
        return model.greedy_decode(src, EQUALS, ANSWER_LEN)
    return model.generate(seq[:, :PROMPT_LEN], ANSWER_LEN, temperature=0.0)[:, PROMPT_LEN:]


@torch.no_grad()
def beam(model: nn.Module, batch: tuple[torch.Tensor, ...], beam_size: int) -> torch.Tensor:
    src, seq = batch[0], batch[4]
    if isinstance(model, Seq2SeqTransformer):
        return model.beam_search(src, EQUALS, ANSWER_LEN, beam_size=beam_size)
    return model.beam_search(seq[:, :PROMPT_LEN], ANSWER_LEN, beam_size=beam_size)[:, PROMPT_LEN:]


def cascade(tf_pred: torch.Tensor, greedy_pred: torch.Tensor, tgt: torch.Tensor) -> dict[str, float]:
    """How greedy errors follow a first wrong digit, as fractions of all problems (so they average
    over batches): first_wrong_t (greedy's first wrong digit is at answer position t),
    later_greedy (greedy is wrong again after its first wrong digit), later_tf (teacher forcing,
    given the true prefix, is wrong after that same position)."""
    wrong = greedy_pred != tgt  # (B, 4)
    has = wrong.any(dim=1)
    first = torch.where(has, wrong.float().argmax(dim=1), torch.full_like(has, ANSWER_LEN, dtype=torch.long))
    after = torch.arange(ANSWER_LEN)[None, :] > first[:, None]  # (B, 4) positions after the first mistake
    out = {f"first_wrong_{t}": (first == t).float().mean().item() for t in range(ANSWER_LEN)}
    out["later_greedy"] = (wrong & after).any(dim=1).float().mean().item()
    out["later_tf"] = ((tf_pred != tgt) & after).any(dim=1).float().mean().item()
    return out


def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
    """Cross-entropy on the answer digits; for fit(). In eval mode (the trainer's evaluations)
    it also decodes greedily, so the history holds greedy exact match and the cascade."""
    tgt = batch[1]
    logits = answer_logits(model, batch)  # (B, 4, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
    pred = logits.argmax(-1)
    metrics = {"acc": (pred == tgt).float().mean().item(), "tf_em": (pred == tgt).all(1).float().mean().item()}
    if not model.training:
        g = greedy(model, batch)
        metrics["greedy_em"] = (g == tgt).all(1).float().mean().item()
        metrics.update(cascade(pred, g, tgt))
    return loss, metrics


@torch.no_grad()
def predict(model: nn.Module, split: tuple[torch.Tensor, ...], fn, batch_size: int = 1000) -> torch.Tensor:
    """fn(model, batch) over a split in batches, in eval mode, concatenated."""
    with evaluating(model):
        return torch.cat([fn(model, tuple(t[i : i + batch_size] for t in split))
                          for i in range(0, len(split[0]), batch_size)])


def percent(mask: torch.Tensor) -> float:
    return 100.0 * mask.float().mean().item() if mask.numel() else float("nan")


def evaluate(model: nn.Module, task: AdditionTaskData, split: str, beam_sizes: tuple[int, ...]) -> dict:
    """Every decoding side by side on one split: teacher-forced token accuracy and exact match,
    greedy and beam exact match, by answer position, by number of carries, the cascade after
    a first wrong digit, and the first mistakes."""
    data = task.splits[split]
    tgt, carries = data[1], data[3]
    tf = predict(model, data, lambda m, b: answer_logits(m, b).argmax(-1))  # (n, 4)
    g = predict(model, data, greedy)
    em = (g == tgt).all(1)
    out = {"tf_token_acc": percent(tf == tgt), "tf_em": percent((tf == tgt).all(1)), "greedy_em": percent(em),
           "greedy_digit_acc": percent(g == tgt),
           "greedy_tf_disagree": int(((g == tgt).all(1) != (tf == tgt).all(1)).sum()),
           "bound_from_token_acc": 100.0 - ANSWER_LEN * (100.0 - percent(tf == tgt)),
           "tf_acc_by_position": [percent(tf[:, t] == tgt[:, t]) for t in range(ANSWER_LEN)],
           "greedy_acc_by_position": [percent(g[:, t] == tgt[:, t]) for t in range(ANSWER_LEN)],
           "by_carries": {str(c): {"n": int((carries == c).sum()), "greedy_em": percent(em[carries == c])}
                          for c in range(4)},
           "cascade": {k: 100.0 * v for k, v in cascade(tf, g, tgt).items()},
           "mistakes": task.mistakes(split, g), "beam_em": {}}
    for k in beam_sizes:
        out["beam_em"][str(k)] = percent((predict(model, data, lambda m, b: beam(m, b, k)) == tgt).all(1))
    return out
