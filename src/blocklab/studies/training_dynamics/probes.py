"""The generalization probes of the training-dynamics study: the inputs they build, how they
classify test inputs, and what a trained model answers on them.

Every probe builds its inputs with tasks.operations' `encode` and its answers with `apply_op`,
so the probes and the training data cannot disagree about the task. A model is read through
nn.models.operations.logits_for: the logits at the last position, `)`.

- ordering_groups: each test input is "seen" (the same token sequence is in train),
  "reordered" (not seen, but its op and argument multiset are: Max(9,5,3) after Max(5,3,9)),
  or "unseen" (that op never met that multiset in any order).
- edge_cases: every 3-argument input of every op, grouped by how many arguments are equal
  (all-equal, tie, distinct), plus the seed's named examples (Max(0,0,0) and friends).
- middle_zero_shot: `Middle(a,b,c)` for all 1000 argument triples. The Middle token never
  appears in training, so this asks which trained op its answers agree with.
- lengths: 2, 4 and 8 arguments (positions the 3-argument training never used).
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch
import torch.nn.functional as F

from blocklab.nn.models.operations import logits_for
from blocklab.tasks.operations import DIGIT0, OPS, VOCAB, apply_op, args_of, encode
from blocklab.train import evaluating

DIGITS = tuple(range(10))
DIGIT_IDS = DIGIT0 + torch.arange(10)  # token id of each digit
GROUPS = ("seen", "reordered", "unseen")
STRUCTURES = ("all-equal", "tie", "distinct")
# The seed's own examples: its questions 58 (Max(0,0,0) -> '3'), PART 4's ties, PART 9's novel inputs.
EXAMPLES = ("Max(0,0,0)", "Min(0,0,0)", "Max(5,5,3)", "Min(2,7,2)", "Max(9,9,5)", "Min(1,0,3)", "Max(9,5,3)",
            "Max(1,6,3)", "Min(7,2,9)")


def prompt(op: str, args: Sequence[int]) -> str:
    return f"{op}({','.join(map(str, args))})"


def rows(op: str, args: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (N, 2 + 2 n_args) of op(args) for every argument tuple, and the answers' token ids (N,)."""
    x = torch.tensor([encode(prompt(op, a)) for a in args])
    y = DIGIT_IDS[torch.tensor([apply_op(op, a) for a in args])]
    return x, y


def all_arguments(n_args: int = 3) -> list[tuple[int, ...]]:
    return list(itertools.product(DIGITS, repeat=n_args))


def structure(args: torch.Tensor) -> list[str]:
    """Per row: all-equal (one value), distinct (no value twice) or tie (anything between)."""
    return ["all-equal" if len(set(a)) == 1 else "distinct" if len(set(a)) == len(a) else "tie"
            for a in args.tolist()]


def ordering_groups(train_x: torch.Tensor, test_x: torch.Tensor) -> list[str]:
    """For each test row, whether train holds the row itself, only its op with the same argument
    multiset in another order, or neither (see the module docstring)."""
    def bag(row: list[int]) -> tuple:
        return row[0], tuple(sorted(row[2:-1:2]))

    train = train_x.tolist()
    seen, bags = set(map(tuple, train)), set(map(bag, train))
    return ["seen" if tuple(r) in seen else "reordered" if bag(r) in bags else "unseen" for r in test_x.tolist()]


@torch.no_grad()
def logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Answer logits (N, V) for rows x, in eval mode on the model's device (mode restored), on the CPU."""
    device = next(model.parameters()).device
    with evaluating(model):
        return torch.cat([logits_for(model, x[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(x), batch_size)])


def predict(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted token ids (N,), the softmax probability of each prediction (N,))."""
    p, pred = F.softmax(logits(model, x), dim=-1).max(dim=-1)
    return pred, p


def accuracy_by(correct: torch.Tensor, labels: Sequence[str], names: Sequence[str]) -> dict[str, dict]:
    """{name: {"acc": percent or None when no row has that label, "n": rows}}."""
    out = {}
    for name in names:
        mask = torch.tensor([lab == name for lab in labels], dtype=torch.bool)
        n = int(mask.sum())
        out[name] = {"acc": 100.0 * correct[mask].float().mean().item() if n else None, "n": n}
    return out


def edge_cases(model: torch.nn.Module) -> dict:
    """Accuracy per op and argument structure over all 1000 triples, and the named examples."""
    args = all_arguments(3)
    by_op = {}
    for op in OPS:
        x, y = rows(op, args)
        pred, _ = predict(model, x)
        by_op[op] = accuracy_by(pred == y, structure(args_of(x)), STRUCTURES)
    examples = {}
    for text in EXAMPLES:
        op, digits = text[:text.index("(")], [int(c) for c in text if c.isdigit()]
        x, y = rows(op, [digits])
        pred, p = predict(model, x)
        examples[text] = {"answer": VOCAB[int(pred)], "p": float(p), "correct": bool(pred == y)}
    return {"by_op": by_op, "examples": examples}


def middle_zero_shot(model: torch.nn.Module) -> dict:
    """Agreement (%) of Middle(a,b,c)'s answers with each trained op's answer and with the median
    (Middle's meaning in tasks.operations), over all triples and over triples of distinct digits,
    where the five ops' answers can be told apart."""
    args = all_arguments(3)
    x, median = rows("Middle", args)
    pred, p = predict(model, x)
    distinct = torch.tensor([len(set(a)) == 3 for a in args])
    answers = {op: rows(op, args)[1] for op in OPS} | {"median": median}
    agree = {k: 100.0 * (pred == v).float().mean().item() for k, v in answers.items()}
    agree_distinct = {k: 100.0 * (pred[distinct] == v[distinct]).float().mean().item() for k, v in answers.items()}
    in_args = (pred[:, None] == DIGIT_IDS[torch.tensor(args)]).any(dim=1)  # the answer is one of a, b, c
    return {"acc_median": agree["median"], "agree": agree, "agree_distinct": agree_distinct,
            "mimics": max(OPS, key=lambda op: agree_distinct[op]),
            "answer_is_an_argument": 100.0 * in_args.float().mean().item(), "mean_p": p.mean().item(),
            "chance": 10.0, "chance_one_argument": 100.0 / 3}


def lengths(model: torch.nn.Module, n_args_list: Sequence[int], n_per_op: int, seed: int) -> dict:
    """Accuracy per op (and over ops) on random inputs with each number of arguments."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n_args in n_args_list:
        per_op = {}
        for op in OPS:
            args = torch.randint(0, 10, (n_per_op, n_args), generator=g).tolist()
            x, y = rows(op, args)
            pred, _ = predict(model, x)
            per_op[op] = 100.0 * (pred == y).float().mean().item()
        out[str(n_args)] = {"acc": sum(per_op.values()) / len(per_op), "by_op": per_op}
    return out
