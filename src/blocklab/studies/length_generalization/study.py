"""Issue 17: positional encodings that generalize in length, as a leaderboard.

Each encoding (config.py) trains a small causal GPT on short inputs of three tasks and is
tested on longer ones; a cell is one (task, encoding), its metrics one seed's accuracy at
every test length and its training cost in CPU seconds (time.process_time around fit).

  sortedness     tasks/sortedness.py: is x_1..x_L non-decreasing? Negatives are near-sorted
                 permutations (half one adjacent swap). Train 8-16, test 8..256.
  first-vs-last  tasks/sequences.py: [Q] x_1..x_L -> x_1 or x_L. Train 8-16, test 8..256 and 1000.
  addition       tasks/long_addition.py: d-digit + d-digit, answer reversed, d = 1..10 in
                 training, exact match of the greedy answer at d = 10, 15, 20, 30, 40.

Models and scoring: models.py; the leaderboard: tables.py; claims: claims.py.
"""
from __future__ import annotations

import time

import torch

from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import GPT
from blocklab.studies.common.training import LastTokenClassifier, classify
from blocklab.tasks import long_addition
from blocklab.tasks.sequences import chance_accuracy, first_vs_last_mixed
from blocklab.tasks.sortedness import sortedness
from blocklab.train.trainer import fit

from . import claims, models, tables
from .config import LengthConfig
from .figures import accuracy_by_length


def data_seed(seed: int, purpose: int, index: int = 0) -> int:
    """Disjoint generator seeds per (seed, purpose 0..9, index < 100000: a test length)."""
    return (seed * 10 + purpose) * 100_000 + index


def test_points(task: str, cfg: LengthConfig) -> list[int]:
    """Test lengths (tokens) or, for addition, operand digits."""
    if task == "addition":
        return list(cfg.addition_test_digits)
    far = [cfg.retrieval_far] if task == "first-vs-last" and cfg.retrieval_far else []
    return [*cfg.test_lengths, *far]


def classification_data(task: str, n: int, seed: int, lengths: tuple[int, ...], n_values: int):
    """(TaskData, pad id): all rows in its "train" split."""
    if task == "sortedness":
        return sortedness(n, 0, 0, seed=seed, lengths=lengths, n_values=n_values), n_values
    return first_vs_last_mixed(n, seed, lengths, n_values), n_values + 2


@register
class LengthGeneralization(Study):
    name = "length-generalization"
    description = "issue 17: a leaderboard of positional encodings past the training length on three tasks"
    claims = ("C002-05", "C002-06", "C000-11")
    claim_figures = {c: ("length_generalization.png",) for c in claims}  # one figure: accuracy by test length
    Config = LengthConfig
    # --quick: one encoding per task, shorter training, 3-digit addition (tested at 3 and 5 digits);
    # under 3 CPU minutes for its 3 seeds
    quick = {"sortedness_encodings": ["none"], "retrieval_encodings": ["none", "alibi"],
             "addition_encodings": ["coupling"], "n_train": 4000, "n_eval": 100, "retrieval_far": 0,
             "train.steps": 400, "train.eval_every": 100,
             "retrieval_train.steps": 300, "retrieval_train.eval_every": 100,
             "addition_train_digits": 3, "addition_test_digits": [3, 5], "addition_offset_max": 2,
             "n_eval_addition": 50, "addition_train.steps": 800, "addition_train.warmup_steps": 40,
             "addition_train.eval_every": 250}
    seeds = 10  # its grid was cut to fit 10 seeds (docs/studies/length-generalization.md)

    def cells(self, cfg: LengthConfig) -> list[Cell]:
        by_task = {"sortedness": cfg.sortedness_encodings, "first-vs-last": cfg.retrieval_encodings,
                   "addition": cfg.addition_encodings}
        return [Cell(f"{task}-{enc}", {"task": task, "encoding": enc}) for task in cfg.tasks for enc in by_task[task]]

    def run_cell(self, cell: Cell, seed: int, ctx) -> dict:
        task, enc, cfg = cell.params["task"], cell.params["encoding"], ctx.cfg
        if task == "addition":
            return self._addition(enc, seed, ctx)
        longest = max(test_points(task, cfg)) + (task == "first-vs-last")  # first-vs-last adds its query token
        train, pad = classification_data(task, cfg.n_train, data_seed(seed, 0), tuple(cfg.train_lengths),
                                         cfg.n_values)
        val, _ = classification_data(task, cfg.n_val, data_seed(seed, 1), tuple(cfg.train_lengths), cfg.n_values)
        gpt = GPT(models.gpt_config(enc, train.vocab_size + train.n_classes, cfg.width, cfg.layers, cfg.heads,
                                    longest, span=longest))
        model = LastTokenClassifier(gpt, pad, train.n_classes)
        data = {"train": train.splits["train"][:2], "val": val.splits["train"][:2]}
        schedule = cfg.train if task == "sortedness" else cfg.retrieval_train
        out = self._fit(model, data, classify, schedule, seed, ctx)
        for length in test_points(task, cfg):
            test, _ = classification_data(task, cfg.n_eval, data_seed(seed, 2, length), (length,), cfg.n_values)
            x, y = test.splits["train"][:2]
            out["acc"][str(length)] = models.class_accuracy(model, x, y)
        out["chance"] = chance_accuracy(task, cfg.n_values)
        return out

    def _addition(self, enc: str, seed: int, ctx) -> dict:
        cfg = ctx.cfg
        model = models.addition_model(enc, cfg)
        train = long_addition.training_rows(cfg.n_train, cfg.addition_train_digits, data_seed(seed, 3))
        val = long_addition.training_rows(cfg.n_val, cfg.addition_train_digits, data_seed(seed, 4))
        out = self._fit(model, {"train": (train,), "val": (val,)}, models.answer_loss, cfg.addition_train, seed, ctx)
        g = torch.Generator().manual_seed(data_seed(seed, 5))
        for d in cfg.addition_test_digits:
            lines = long_addition.sample(cfg.n_eval_addition, d, g)
            pred = models.greedy_answers(model, lines, d)
            out["acc"][str(d)] = 100.0 * long_addition.exact_match(pred, lines[:, 2 * d + 2:]).float().mean().item()
        out["chance"] = 0.0
        return out

    def _fit(self, model, data, loss_fn, train_cfg, seed: int, ctx) -> dict:
        tc = train_cfg.replace(seed=seed, device=ctx.device)
        started = time.process_time()
        result = fit(model, data, loss_fn, tc, run_dir=ctx.work_dir, progress=ctx.progress)
        cost = time.process_time() - started
        model.gpt.save(ctx.model_dir)  # both wrappers add no weights: their GPT is the whole model
        model.cpu()
        return {"train_cpu_s": cost, "steps_run": result.steps_done, "diverged": result.diverged,
                "final_val_acc": 100.0 * result.history[-1]["val_acc"] if result.history else None, "acc": {}}

    def figures(self, results: dict, fig_dir) -> list[str]:
        return [accuracy_by_length(results, fig_dir)]

    def tables(self, results: dict) -> list:
        goals = tables.goals(results)
        return [*([goals] if goals else []), *tables.leaderboards(results)]

    def measure(self, results: dict) -> list:
        return claims.measure(results)
