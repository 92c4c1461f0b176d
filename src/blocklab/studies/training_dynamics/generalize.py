"""Issue 4, "Generalization": does the seed-001 model learn the operations or memorize inputs?

The seed (PART 9) argues from two examples that the model generalizes "to unseen orderings and
argument values" (Max(9,5,3) after training on Max(5,3,9); Max(1,6,3) after Max(1,4,7), ...),
asks what a never-trained "Middle" op would answer (question 54), whether 2, 4 or 8 arguments
work after training on 3 (question 56), why Max(0,0,0) could come out as '3' (question 58), and
what training longer does to the train/validation gap (PART 9, question 33). Each cell trains the
study's model (nn.models.operations: the seed's 2-block, 64-wide GPT) on one split and then
runs every probe of training_dynamics_probes on it:

  gen-seed-split          the seed's split: rows drawn i.i.d. from the 5000 inputs, so most test
                          rows are training rows ("seen"); accuracy on seen vs not-seen test rows
  gen-disjoint-split      no input in two splits: test rows are "reordered" (the op met the same
                          argument multiset in another order) or "unseen" (it never met it)
  gen-unseen-combinations the 220 argument multisets are split between train, val and test for all
                          ops at once: every test input is a combination never trained in any order
  gen-held-out-values     each op never meets one digit in training (held_out_digits, in OPS order:
                          First 1, Second 3, Last 5, Max 7, Min 2); test rows all contain it
  gen-length-ENC          the seed split with positions ENC (rope, alibi), for 2/4/8 arguments;
                          gen-seed-split gives the study's own encoding on the same probe
  gen-long-*-split        long_epochs instead of gen_epochs, evaluated every epoch (training loss in
                          eval mode on gen_n_eval training rows, validation loss): the overfitting curve

Every model trains on 3 arguments only (the seed's setup); other lengths are tested, never trained.
Probes on every model: edge cases (all-equal, ties, the seed's Max(0,0,0)), Middle zero-shot, lengths.

Integration (the study `training-dynamics` in study.py owns the registration):
  1. its Config inherits GeneralizationConfig (every field here starts with gen_, long_, held_ or
     test_/length_, so nothing collides); a Config.__post_init__ must call super().__post_init__();
  2. cells() returns its own cells + generalization_cells(cfg);
  3. run_cell dispatches `if is_generalization(cell): return run_generalization_cell(cell, seed, ctx)`;
  4. figures() extends its list with generalization_figures(results, fig_dir); measure() extends its
     list with generalization_measurements(results), and `claims` includes "C001-14";
  5. quick overrides: QUICK (merge into the study's `quick`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
import torch.nn.functional as F

from blocklab.config import Config, NonEmpty, PositiveInt, Range
from blocklab.errors import ConfigError
from blocklab.lab.registry import Cell, CellContext
from blocklab.nn.config import POS_ENCODINGS
from blocklab.nn.models.operations import build_model, model_config
from blocklab.tasks import TaskData
from blocklab.tasks.operations import OPS, operations
from blocklab.train import TrainConfig

from . import probes
from .generalize_analysis import generalization_figures, generalization_measurements
from .model import train_model

__all__ = ["GeneralizationConfig", "QUICK", "generalization_cells", "run_generalization_cell", "is_generalization",
           "generalization_figures", "generalization_measurements", "combinations_task"]

PART = "generalization"
SPLITS = ("seed", "disjoint", "combinations", "held-out")
Digit = Annotated[int, Range(ge=0, le=9)]
Arguments = Annotated[int, Range(ge=1, le=20)]  # arguments of one row of the length probe


@dataclass
class GeneralizationConfig(Config):
    """The generalization cells' knobs, full-fidelity defaults (each cell trains one model)."""

    gen_n_train: PositiveInt = 10000  # the seed's 10,000 training rows
    gen_n_eval: PositiveInt = 2000  # rows in val and in test
    # At batch 128, 8 epochs are 624 updates of AdamW at a constant 3e-3: 98.4% test accuracy on the seed
    # split in a trial, where a cosine decay over the same updates left the model at 68%.
    gen_epochs: PositiveInt = 8
    long_epochs: PositiveInt = 16  # the overfitting check: 2x gen_epochs
    # steps come from the epochs; the long cells evaluate once an epoch for their curves
    gen_train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=128, lr=3e-3, eval_every=None,
                                                                         log_every=None))
    held_out_digits: tuple[Digit, ...] = (1, 3, 5, 7, 2)  # one digit per op, in OPS order
    length_encodings: tuple[Literal[POS_ENCODINGS], ...] = ("rope", "alibi")  # besides the study's own (sinusoidal)
    test_lengths: NonEmpty[tuple[Arguments, ...]] = (2, 3, 4, 8)  # numbers of arguments the length probe tests
    n_length_rows: PositiveInt = 200  # per op and length

    def validate(self) -> None:
        super().validate()
        if len(self.held_out_digits) != len(OPS):
            raise ConfigError(f"{type(self).__name__}.held_out_digits={self.held_out_digits!r} is not valid; give one "
                              f"digit 0-9 per op, in the order {', '.join(OPS)}")


# --quick: seconds per cell; numbers from it only show the pipeline runs.
QUICK = {"gen_n_train": 1280, "gen_n_eval": 200, "gen_epochs": 2, "long_epochs": 4, "length_encodings": ["rope"],
         "test_lengths": [2, 8], "n_length_rows": 20}


def is_generalization(cell: Cell) -> bool:
    return cell.params.get("part") == PART


def generalization_cells(cfg: GeneralizationConfig) -> list[Cell]:
    def cell(name: str, split: str, encoding: str | None = None, long: bool = False) -> Cell:
        return Cell(name, {"part": PART, "split": split, "pos_encoding": encoding,
                           "epochs": cfg.long_epochs if long else cfg.gen_epochs, "curve": long})

    return [cell("gen-seed-split", "seed"), cell("gen-disjoint-split", "disjoint"),
            cell("gen-unseen-combinations", "combinations"), cell("gen-held-out-values", "held-out"),
            *[cell(f"gen-length-{e}", "seed", e) for e in cfg.length_encodings],
            cell("gen-long-seed-split", "seed", long=True), cell("gen-long-disjoint-split", "disjoint", long=True)]


def run_generalization_cell(cell: Cell, seed: int, ctx: CellContext) -> dict:
    cfg, p = ctx.cfg, cell.params
    task = build_task(p["split"], cfg, seed)
    model = build_model(model_config(**({"pos_encoding": p["pos_encoding"]} if p["pos_encoding"] else {})))
    steps_per_epoch = max(1, cfg.gen_n_train // cfg.gen_train.batch_size)  # the sampler drops a short last batch
    train_cfg = cfg.gen_train.replace(steps=p["epochs"] * steps_per_epoch, seed=seed, device=ctx.device,
                                      eval_every=steps_per_epoch if p["curve"] else cfg.gen_train.eval_every)
    (train_x, train_y), (val_x, val_y), n = task.splits["train"][:2], task.splits["val"][:2], cfg.gen_n_eval
    callbacks = [SplitLoss(train=(train_x[:n], train_y[:n]), val=(val_x, val_y))] if p["curve"] else []
    result = train_model(task, model, train_cfg, ctx, callbacks=callbacks)
    model.cpu()
    model.save(ctx.model_dir)  # for `blocklab predict`, e.g. on Max(0,0,0)
    test_x, test_y, test_op = task.splits["test"][:3]
    pred, _ = probes.predict(model, test_x)
    correct = pred == test_y
    out = {"split": p["split"], "pos_encoding": model.cfg.pos_encoding, "epochs": p["epochs"],
           "steps": train_cfg.steps, "diverged": result.diverged,
           "val_acc": 100.0 * (probes.predict(model, val_x)[0] == val_y).float().mean().item(),
           "test_acc": 100.0 * correct.float().mean().item(),
           "test_by_op": {op: 100.0 * correct[test_op == k].float().mean().item() for k, op in enumerate(OPS)},
           "mistakes": task.mistakes("test", pred, 5)}
    if p["split"] == "held-out":
        out["held_out"] = held_out_scores(test_x, test_y, test_op, pred, cfg.held_out_digits)
    else:
        out["orderings"] = probes.accuracy_by(correct, probes.ordering_groups(train_x, test_x), probes.GROUPS)
    out["edge"] = probes.edge_cases(model)
    out["middle"] = probes.middle_zero_shot(model)
    out["lengths"] = probes.lengths(model, cfg.test_lengths, cfg.n_length_rows, seed)
    if p["curve"]:
        out["curve"] = {key: [h.get(key) for h in result.history]
                        for key in ("step", "train_eval_loss", "train_eval_acc", "val_eval_loss", "val_eval_acc")}
        out["curve"]["epoch"] = [s / steps_per_epoch for s in out["curve"].pop("step")]
    return out


def build_task(split: str, cfg: GeneralizationConfig, seed: int) -> TaskData:
    sizes = {"n_train": cfg.gen_n_train, "n_val": cfg.gen_n_eval, "n_test": cfg.gen_n_eval, "seed": seed}
    if split in ("seed", "disjoint"):
        return operations(split=split, **sizes)
    if split == "held-out":
        return operations(held_out={op: [d] for op, d in zip(OPS, cfg.held_out_digits)}, **sizes)
    if split == "combinations":
        return combinations_task(**sizes)
    raise ConfigError(f"generalization cell split={split!r} is not valid; choose one of: {', '.join(SPLITS)}")


def combinations_task(n_train: int, n_val: int, n_test: int, seed: int) -> TaskData:
    """The operations task with the 220 argument multisets of 3 digits, not the inputs, split
    between train, val and test (in proportion to their sizes, the same cut for every op): no op
    meets a test multiset in any order during training. Rows are drawn i.i.d. within each split's
    pool, an equal share per op, so repeats within a split happen as in the seed's split."""
    base = operations(n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)  # vocabulary, render, mistakes
    g = torch.Generator().manual_seed(seed)
    bags = sorted({tuple(sorted(a)) for a in probes.all_arguments(3)})
    order = torch.randperm(len(bags), generator=g).tolist()
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    cut_train = round(len(bags) * n_train / sum(sizes.values()))
    cut_val = cut_train + max(1, round(len(bags) * n_val / sum(sizes.values())))
    pools = {"train": order[:cut_train], "val": order[cut_train:cut_val], "test": order[cut_val:]}
    universe = {op: probes.rows(op, probes.all_arguments(3)) for op in OPS}  # op -> (x (1000, 8), y (1000,))
    bag_of_row = [bags.index(tuple(sorted(a))) for a in probes.all_arguments(3)]
    splits = {}
    for name, n in sizes.items():
        members = set(pools[name])
        rows_in_pool = torch.tensor([i for i, b in enumerate(bag_of_row) if b in members])
        xs, ys, ks = [], [], []
        for k, op in enumerate(OPS):
            share = n // len(OPS) + (k < n % len(OPS))
            pick = rows_in_pool[torch.randint(0, len(rows_in_pool), (share,), generator=g)]
            xs.append(universe[op][0][pick])
            ys.append(universe[op][1][pick])
            ks.append(torch.full((share,), k))
        splits[name] = (torch.cat(xs), torch.cat(ys), torch.cat(ks))
    return dataclasses.replace(base, name="operations_unseen_combinations", splits=splits,
                               encoding=base.encoding + " Split by argument multiset: the 220 multisets of three "
                               "digits are cut between train, val and test, the same cut for every op.")


def held_out_scores(x: torch.Tensor, y: torch.Tensor, op_index: torch.Tensor, pred: torch.Tensor,
                    digits: tuple[int, ...]) -> dict:
    """Per op: accuracy on its test rows (all contain its held-out digit) and on those whose answer is it."""
    out = {}
    for k, (op, digit) in enumerate(zip(OPS, digits)):
        mine = op_index == k
        answer_is_digit = mine & (y == probes.DIGIT_IDS[digit])
        out[op] = {"digit": digit, "acc": 100.0 * (pred[mine] == y[mine]).float().mean().item(),
                   "acc_answer_is_digit": 100.0 * (pred[answer_is_digit] == y[answer_is_digit]).float().mean().item()
                   if answer_is_digit.any() else None, "n_answer_is_digit": int(answer_is_digit.sum())}
    return out


class SplitLoss:
    """On every evaluation, adds eval-mode loss and accuracy (%) on fixed rows of each named split
    to the evaluation record, as `<name>_eval_loss` and `<name>_eval_acc`. The trainer's own
    train_loss averages over steps with dropout on, so it is not comparable with a validation
    loss; these are. The record is the run's history, so a resumed run keeps them."""

    def __init__(self, **splits: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.splits = splits

    def __call__(self, event: str, state) -> None:
        if event != "eval":
            return
        for name, (x, y) in self.splits.items():
            logits = probes.logits(state.model, x)  # (N, V)
            state.record[f"{name}_eval_loss"] = F.cross_entropy(logits, y).item()
            state.record[f"{name}_eval_acc"] = 100.0 * (logits.argmax(-1) == y).float().mean().item()
