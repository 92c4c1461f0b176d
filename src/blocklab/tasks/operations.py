"""Operations on digits: `Op(a,b,c)` -> one digit (seed 001, training dynamics).

Vocabulary (20 tokens, ids as in the seed: 'Max' = 15, '6' = 8, '(' = 17):

    0 <pad>   1 Middle   2..11 the digits 0..9   12 First  13 Second  14 Last  15 Max  16 Min
    17 (   18 )   19 ,

"Middle" (the median) is reserved: it never appears in the data `operations` draws by default;
it exists so a trained model can be probed zero-shot on an op it never saw.

Encoding. A row of inputs is `Op ( a , b , c )`: 2 + 2 * n_args token ids (8 for three
arguments), no padding, no BOS. The target is the TOKEN ID of the answer digit (2..11), and
the model predicts it over the whole vocabulary of 20 (chance loss ln 20 ~ 3.0, as in the
seed) from its logits at the LAST position, the ')'. Each split is (inputs, targets, op), `op`
the index of the row's operation in `ops`, so per-op metrics need no parsing.

Splits. The ops cycle through the rows (row i has op i % len(ops)) before a shuffle, so every
split holds an equal share per op (exactly, when its size divides by len(ops)). With three
arguments there are only 10^3 * 5 = 5,000 distinct inputs, so a 10k/2k/2k split must repeat
them:

    split="seed"      every row's arguments are drawn uniformly (with replacement) from all
                      10^n_args tuples, independently per split, as in the seed: test inputs
                      mostly also occur in training.
    split="disjoint"  per op, the 10^n_args tuples are shuffled and cut into three pools in
                      proportion to the split sizes; each split draws (with replacement) only
                      from its own pool, so no test input was ever seen in training.

held_out={op: digits}: for each named op, train and val draw only tuples that contain none of
those digits, and test draws only tuples that contain at least one of them (so every such
test input is unseen by construction, in either split mode; under "disjoint" the allowed
tuples are cut between train and val only). Ops not named are unaffected.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from ..errors import BlocklabError
from .base import SPLITS, TaskData, generator, split_sizes
from .digits import is_number

VOCAB = ("<pad>", "Middle", *(str(d) for d in range(10)), "First", "Second", "Last", "Max", "Min", "(", ")", ",")
TOKEN = {tok: i for i, tok in enumerate(VOCAB)}
PAD, DIGIT0, OPEN, CLOSE, COMMA = TOKEN["<pad>"], TOKEN["0"], TOKEN["("], TOKEN[")"], TOKEN[","]
OPS = ("First", "Second", "Last", "Max", "Min")
ALL_OPS = OPS + ("Middle",)
_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)


def apply_op(op: str, args: Sequence[int]) -> int:
    """The answer digit of op(args); Middle is the median and needs an odd number of arguments."""
    args = list(args)
    if not args:
        raise BlocklabError(f"{op}() has no arguments; give at least one digit 0-9")
    if op == "Middle" and len(args) % 2 == 0:
        raise BlocklabError(f"Middle needs an odd number of arguments (the median of {len(args)} is undefined)")
    answers = {"First": lambda a: a[0], "Second": lambda a: a[1], "Last": lambda a: a[-1], "Max": max, "Min": min,
               "Middle": lambda a: sorted(a)[len(a) // 2]}
    if op not in answers:
        raise BlocklabError(f"unknown op {op!r}; valid: {', '.join(ALL_OPS)}")
    if op == "Second" and len(args) < 2:
        raise BlocklabError(f"Second needs at least two arguments; got {args}")
    return answers[op](args)


def answer_digits(op: str, args: torch.Tensor) -> torch.Tensor:
    """apply_op over the rows of (N, n_args) digits -> (N,) answers, as tensor ops."""
    if op == "Middle":
        return args.sort(dim=1).values[:, args.shape[1] // 2]
    return {"First": lambda a: a[:, 0], "Second": lambda a: a[:, 1], "Last": lambda a: a[:, -1],
            "Max": lambda a: a.max(dim=1).values, "Min": lambda a: a.min(dim=1).values}[op](args)


def encode(text: str, n_args: int | None = None) -> list[int]:
    """'Max(5,3,9)' (spaces allowed) -> token ids of `Max ( 5 , 3 , 9 )`; a BlocklabError says what is wrong."""
    form = "write it like Max(5,3,9)"
    if not text or not text.strip():
        raise BlocklabError(f"empty input; {form}")
    if "(" not in text:
        raise BlocklabError(f"missing '(' in {text!r}; {form}")
    if ")" not in text:
        raise BlocklabError(f"missing ')' in {text!r}; {form}")
    match = _EXPR.match(text)
    if not match:
        raise BlocklabError(f"cannot parse {text!r}: expected an op name, then digits in parentheses; {form}")
    op, inner = match.groups()
    if op not in ALL_OPS:
        raise BlocklabError(f"unknown op {op!r} in {text!r}; valid: {', '.join(ALL_OPS)}")
    args = [a.strip() for a in inner.split(",")]
    for a in args:
        if len(a) != 1 or not is_number(a):
            raise BlocklabError(f"argument {a!r} in {text!r} is not valid: arguments are single digits 0-9")
    if n_args is not None and len(args) != n_args:
        raise BlocklabError(f"{text!r} has {len(args)} arguments; this model takes exactly {n_args}")
    digits = [DIGIT0 + int(a) for a in args]
    return [TOKEN[op], OPEN, *itertools.chain.from_iterable((d, COMMA) for d in digits[:-1]), digits[-1], CLOSE]


def render(ids: Sequence[int] | torch.Tensor) -> str:
    """Token ids -> text without spaces, e.g. 'Max(5,3,9)'; pads are dropped."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    return "".join(VOCAB[i] for i in ids if i != PAD)


def args_of(x: torch.Tensor) -> torch.Tensor:
    """(N, 2 + 2 * n_args) inputs -> (N, n_args) argument digits 0-9."""
    return x[:, 2::2] - DIGIT0


@dataclass
class OperationsData(TaskData):
    """TaskData whose mistakes name answers as digits: 'Max(5,3,9): model says 3, truth 9'."""

    def mistakes(self, split: str, pred: torch.Tensor, limit: int = 5) -> list[str]:
        x, y = self.splits[split][:2]
        wrong = (pred != y).nonzero().flatten()[:limit]
        return [f"{render(x[i])}: model says {VOCAB[int(pred[i])]}, truth {VOCAB[int(y[i])]}" for i in wrong.tolist()]


def _check(sizes: Mapping[str, int], split: str, n_args: int, ops: Sequence[str],
           held_out: Mapping[str, Sequence[int]]) -> None:
    if split not in ("seed", "disjoint"):
        raise BlocklabError(f"operations split={split!r} is not valid; choose one of: 'seed', 'disjoint'")
    if not 1 <= n_args <= 6:  # every split enumerates the 10^n_args argument tuples
        raise BlocklabError(f"operations n_args={n_args} is not valid: 1 to 6 arguments")
    if any(n < 0 for n in sizes.values()):
        raise BlocklabError(f"operations split sizes must be >= 0; got {dict(sizes)}")
    if not ops or len(set(ops)) != len(ops):
        raise BlocklabError(f"operations ops={tuple(ops)!r}: give distinct ops from {', '.join(ALL_OPS)}")
    for op in ops:
        if op not in ALL_OPS:
            raise BlocklabError(f"operations ops: unknown op {op!r}; valid: {', '.join(ALL_OPS)}")
        apply_op(op, range(n_args))  # rejects Middle with even n_args, Second with one argument
    for op, digits in held_out.items():
        if op not in ops:
            raise BlocklabError(f"operations held_out: op {op!r} is not among ops {tuple(ops)}")
        if not digits or any(d not in range(10) for d in digits):
            raise BlocklabError(f"operations held_out[{op!r}]={tuple(digits)!r}: give digits 0-9")


def _pools(n_args: int, sizes: Mapping[str, int], split: str, held: Sequence[int] | None,
           g: torch.Generator) -> dict[str, torch.Tensor]:
    """For one op: split -> (P, n_args) the argument tuples that split may draw from."""
    tuples = torch.cartesian_prod(*[torch.arange(10)] * n_args).reshape(-1, n_args)  # (10^n, n_args)
    if held is None:
        fixed, shared = {}, tuples
    else:
        has_held = torch.isin(tuples, torch.tensor(list(held))).any(dim=1)
        fixed, shared = {"test": tuples[has_held]}, tuples[~has_held]
    names = [s for s in SPLITS if s not in fixed]
    if split == "seed":
        return {**fixed, **{s: shared for s in names}}
    shared = shared[torch.randperm(len(shared), generator=g)]
    wanted = [s for s in names if sizes[s] > 0]
    total = sum(sizes[s] for s in wanted)
    if len(shared) < len(wanted):
        raise BlocklabError(f"operations split='disjoint': {len(shared)} distinct inputs per op cannot "
                            f"fill {len(wanted)} disjoint pools")
    # Pool sizes proportional to the split sizes, each at least one tuple; the last takes the rest.
    counts = [max(1, round(len(shared) * sizes[s] / total)) for s in wanted[:-1]]
    counts.append(len(shared) - sum(counts))
    pools = dict(zip(wanted, torch.split(shared, counts)))
    return {**fixed, **{s: pools.get(s, shared[:0]) for s in names}}


def operations(n_train: int = 10000, n_val: int = 2000, n_test: int = 2000, seed: int = 0, split: str = "seed",
               n_args: int = 3, ops: Sequence[str] = OPS,
               held_out: Mapping[str, Sequence[int]] | None = None) -> OperationsData:
    """Splits of (inputs (N, 2 + 2 * n_args), answer token ids (N,), op index (N,)); see the module docstring."""
    held_out = dict(held_out or {})
    sizes = split_sizes(n_train, n_val, n_test)
    _check(sizes, split, n_args, ops, held_out)
    g = generator(seed)
    pools = [_pools(n_args, sizes, split, held_out.get(op), g) for op in ops]

    def sample(name: str, n: int) -> tuple[torch.Tensor, ...]:
        op_idx = torch.arange(n) % len(ops)
        args = torch.empty(n, n_args, dtype=torch.long)
        for k, op in enumerate(ops):
            rows, pool = op_idx == k, pools[k][name]
            if rows.any() and len(pool) == 0:
                raise BlocklabError(f"operations: no inputs left for op {op!r} in the {name} split "
                                    f"(held_out={held_out}, split={split!r})")
            if rows.any():
                args[rows] = pool[torch.randint(0, len(pool), (int(rows.sum()),), generator=g)]
        op_tok = torch.tensor([TOKEN[op] for op in ops])[op_idx]
        x = torch.full((n, 2 + 2 * n_args), COMMA)
        x[:, 0], x[:, 1], x[:, -1], x[:, 2::2] = op_tok, OPEN, CLOSE, args + DIGIT0
        y = torch.empty(n, dtype=torch.long)
        for k, op in enumerate(ops):
            y[op_idx == k] = answer_digits(op, args[op_idx == k]) + DIGIT0
        shuffle = torch.randperm(n, generator=g)
        return x[shuffle], y[shuffle], op_idx[shuffle]

    splits = {s: sample(s, sizes[s]) for s in SPLITS if sizes[s] > 0}
    vocab = " ".join(f"{i}={t}" for i, t in enumerate(VOCAB))
    encoding = (f"`Op ( a , b , ... )`: {2 + 2 * n_args} token ids, ops {', '.join(ops)} with an equal share per "
                f"split, arguments digits 0-9 -> the answer digit's token id (digit + {DIGIT0}), predicted over all "
                f"{len(VOCAB)} tokens from the logits at the last position (the ')'). Vocabulary: {vocab}. "
                f"split={split!r} ('seed': the source document's split, whose test inputs may repeat training inputs; "
                f"'disjoint': no input in two splits){f'; held out of train/val: {held_out}' if held_out else ''}")
    return OperationsData("operations", splits, len(VOCAB), len(VOCAB), encoding, render=render)
