"""Source document 002, problem 2: positional encodings and length extrapolation, with models that train.

In the seed every model stayed at chance on "is this sequence sorted?", and the report then
argued from theory that sinusoidal encodings extrapolate "by design". Here every model that
can express the task is trained to >= 99% on lengths 8-16, then tested on 8..256 and 1000,
so the data decide.

Tasks (both train on lengths 8-16, tokens 0..n_values-1):
  sortedness     tasks/sortedness.py: balanced at every length; negatives are near-sorted
                 permutations (half one adjacent swap), so the bag of tokens says nothing.
  first-vs-last  tasks/sequences.py at mixed lengths: [Q] x_1..x_L -> x_1 or x_L; a second
                 task, so that a ranking of encodings is not an artefact of one task.
Model (parts.py): a causal blocklab GPT, 2 layers, width 32, 4 heads, read
out after the last real token; one config per encoding (sinusoidal, learned, none, alibi,
rope). `randomized` adds cells whose positions are a random sorted sample of
0..random_span-1 (Ruoss et al. 2023). The learned table has max_len = the longest training
input; past it two policies are measured on the same weights: clamp (the seed's: reuse the
last row) and error (raise). The causal mask lets even "none" express both tasks (a row is
sorted iff every token is >= the largest token before it, which causal attention finds
without positions), so every GPT cell is held to >= 99% in distribution. Control: an encoder
with no positions and no mask, which sees a bag of tokens and so cannot tell a sorted row
from its permutations; the study measures its logit change under shuffling (permutation_gap).
Figures: figures.py; summary JSON and claims: claims.py.
Training (tuned for the in-distribution goal only): AdamW at 1e-3, cosine over at most 4000
steps, stopped when validation accuracy on lengths 8-16 stops improving; in-distribution
accuracy is then measured on another held-out split.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from blocklab.config import Config, NonEmpty, NonNegativeInt, PositiveInt
from blocklab.errors import BlocklabError, ConfigError
from blocklab.lab.registry import Cell, Study, register
from blocklab.studies.common.training import classify
from blocklab.tasks.sequences import chance_accuracy
from blocklab.tasks.sortedness import sortedness
from blocklab.train import TrainConfig
from blocklab.train.trainer import fit

from . import claims as report
from . import parts
from .captions import CAPTIONS
from .figures import draw_all

ENCODINGS = ("sinusoidal", "learned", "none", "alibi", "rope")
TASKS = ("sortedness", "first-vs-last")
KERNEL_SIZE = 32  # positions shown in the similarity and attention matrices: twice the training range


@dataclass
class PEConfig(Config):
    tasks: NonEmpty[tuple[Literal[TASKS], ...]] = TASKS
    encodings: NonEmpty[tuple[Literal[ENCODINGS], ...]] = ENCODINGS
    randomized: tuple[Literal[ENCODINGS], ...] = ()  # encodings also trained with randomized positions, e.g. ["rope"]
    random_span: PositiveInt = 1024  # positions are sampled from 0..random_span-1; must cover the longest test
    encoder_control: bool = True  # add the encoder with no positions and no mask on sortedness
    n_values: PositiveInt = 8  # integer tokens 0..n_values-1 (first-vs-last: its symbols)
    train_lengths: NonEmpty[tuple[PositiveInt, ...]] = tuple(range(8, 17))
    test_lengths: NonEmpty[tuple[PositiveInt, ...]] = (8, 16, 32, 64, 128, 256)
    far_length: NonNegativeInt = 1000  # one more test length, as seed 000's "works to 1000"; 0 skips it
    d_model: PositiveInt = 32
    n_layers: PositiveInt = 2
    n_heads: PositiveInt = 4
    # Tokens x sqrt(d_model), as in the paper; without it, sinusoids (entries up to 1) drown the
    # token vectors (std 0.02) and sinusoidal runs stalled at 90-94% in distribution on 2 of 3 seeds.
    scale_embeddings: bool = True
    # steps at most: a run stops when val accuracy has not improved for `patience` evaluations; warmup 5% of steps
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=4000, lr=1e-3, batch_size=64, schedule="cosine", warmup_steps=200, grad_clip=1.0, eval_every=200,
        log_every=None, early_stop_metric="val_acc", patience=4))
    n_train: PositiveInt = 20000
    n_val: PositiveInt = 1000  # in-distribution accuracy: lengths 8-16 mixed
    n_eval: PositiveInt = 400  # rows per test length
    n_eval_far: PositiveInt = 100  # rows at far_length

    def validate(self) -> None:
        super().validate()
        longest = max((*self.test_lengths, self.far_length)) + 1  # first-vs-last adds its query token
        if self.randomized and self.random_span < longest:
            raise ConfigError(f"PEConfig.random_span={self.random_span} is not valid; it must cover the longest "
                              f"test input ({longest})")


def data_seed(seed: int, purpose: str, index: int = 0) -> int:
    """Disjoint generator seeds for each use of data (index: a test length, < 100000), so that no
    test row is drawn like a training row."""
    return (1000 * ("train", "val", "held-out", "test", "probe").index(purpose) + seed) * 100_000 + index


@register
class PEExtrapolation(Study):
    name = "pe-extrapolation"
    description = "002: positional encodings trained on lengths 8-16, tested to 1000 (sortedness, first-vs-last)"
    claims = ("C002-06", "C002-07")  # C002-05, C002-06's causal-GPT parts, C000-11: length-generalization
    claim_figures = {"C002-06": ("pe_failure_modes.png", "extrapolation_curves.png"),
                     "C002-07": ("learned_position_embeddings.png",)}
    figure_captions = CAPTIONS
    Config = PEConfig
    # --quick: 200 steps at a higher rate (in-distribution 60-100% rather than >= 99%), about 100 s of CPU
    quick = {"train.steps": 200, "train.warmup_steps": 10, "train.eval_every": 50, "train.lr": 3e-3, "n_train": 4000,
             "n_val": 300, "n_eval": 100, "n_eval_far": 16}

    def cells(self, cfg: PEConfig) -> list[Cell]:
        out = [Cell(f"{t}-{e}", {"task": t, "encoding": e, "arch": "gpt", "randomized": False})
               for t in cfg.tasks for e in cfg.encodings]
        out += [Cell(f"{t}-{e}-randomized", {"task": t, "encoding": e, "arch": "gpt", "randomized": True})
                for t in cfg.tasks for e in cfg.randomized]
        if cfg.encoder_control and "sortedness" in cfg.tasks:
            out.append(Cell("sortedness-encoder-none", {"task": "sortedness", "encoding": "none", "arch": "encoder",
                                                        "randomized": False}))
        return out

    def run_cell(self, cell: Cell, seed: int, ctx) -> dict:
        cfg, p = ctx.cfg, cell.params
        task, enc = p["task"].replace("-", "_"), p["encoding"]
        extra = 0 if task == "sortedness" else 1  # first-vs-last's query token
        pad = parts.pad_id(task, cfg.n_values)
        train = parts.make_task(task, cfg.n_train, data_seed(seed, "train"), cfg.train_lengths, cfg.n_values)
        val = parts.make_task(task, cfg.n_val, data_seed(seed, "val"), cfg.train_lengths, cfg.n_values)
        held_out = parts.make_task(task, cfg.n_val, data_seed(seed, "held-out"), cfg.train_lengths, cfg.n_values)
        max_len = max(cfg.train_lengths) + extra

        def build(overflow: str = "clamp"):
            return parts.build_model(p["arch"], enc, train, pad, max_len, cfg.d_model, cfg.n_layers, cfg.n_heads,
                                     overflow, cfg.random_span if p["randomized"] else 0, cfg.scale_embeddings)

        model = build()
        fixed_table = enc == "learned" and not p["randomized"]  # a randomized table spans random_span rows
        table_init = parts.positional(model).table.weight.detach().clone() if fixed_table else None
        tc = cfg.train.replace(seed=seed, device=ctx.device)
        data = {"train": train.splits["train"], "val": val.splits["train"]}
        result = fit(model, data, classify, tc, run_dir=ctx.work_dir, progress=ctx.progress)
        if not p["randomized"]:  # RandomizedPositions resamples positions in every pass, which no config records
            (model.gpt if p["arch"] == "gpt" else model).save(ctx.model_dir)
        model.cpu()
        in_dist = parts.evaluate_length(model, held_out)  # not val: val chose when to stop
        out = {"task": p["task"], "encoding": enc, "arch": p["arch"], "randomized": p["randomized"],
               "chance": chance_accuracy(task, cfg.n_values), "in_dist_acc": in_dist["acc"],
               "mistakes": in_dist["mistakes"], "diverged": result.diverged,
               "val_curve": [h["val_acc"] * 100 for h in result.history],
               "curve_steps": [h["step"] for h in result.history],
               "train": {k: v for k, v in result.to_dict().items() if k not in ("history", "steps_log")},
               "acc": {}, "mistakes_by_length": {}, "by_kind": {}}
        lengths = [*cfg.test_lengths, *([cfg.far_length] if cfg.far_length else [])]
        for length in lengths:
            n = cfg.n_eval_far if length == cfg.far_length else cfg.n_eval
            scores = parts.evaluate_length(model, parts.make_task(task, n, data_seed(seed, "test", length), (length,),
                                                                  cfg.n_values))
            out["acc"][str(length)], out["mistakes_by_length"][str(length)] = scores["acc"], scores["mistakes"]
            if "by_kind" in scores:
                out["by_kind"][str(length)] = scores["by_kind"]
        if fixed_table:
            out.update(self._learned(model, build("error"), table_init, task, lengths, seed, cfg))
        self._probes(out, model, task, seed, cfg)
        return out

    def _learned(self, model, strict, table_init, task, lengths, seed, cfg) -> dict:
        """The error policy on the same weights, and the table before and after training."""
        strict.load_state_dict(model.state_dict())
        errors = {}
        for length in lengths:
            test = parts.make_task(task, 4, data_seed(seed, "test", length), (length,), cfg.n_values)
            try:
                parts.evaluate_length(strict, test)
                errors[str(length)] = ""
            except BlocklabError as err:  # the finding: the model refuses rather than guesses
                errors[str(length)] = f"BlocklabError: {err}"
        trained = parts.positional(model).table.weight.detach()
        return {"error_policy": errors, "table_init": parts.rounded(table_init, 3),
                "table_trained": parts.rounded(trained, 3), "structure_init": parts.structure_score(table_init),
                "structure_trained": parts.structure_score(trained)}

    def _probes(self, out: dict, model, task: str, seed: int, cfg: PEConfig) -> None:
        """Position kernel and first-layer attention (32 positions), permutation gap (none only)."""
        probe = parts.make_task(task, 64, data_seed(seed, "probe"), (KERNEL_SIZE - (task != "sortedness"),),
                                cfg.n_values)
        x = probe.splits["train"][0]  # (64, 32)
        out["kernel"] = parts.rounded(parts.position_kernel(model, KERNEL_SIZE))
        if out["encoding"] == "none" and task == "sortedness":
            full = sortedness(64, 0, 0, seed=data_seed(seed, "probe", 1), lengths=(max(cfg.train_lengths),),
                              n_values=cfg.n_values)
            out["permutation_gap"] = parts.permutation_gap(model, full.splits["train"][0], seed)
        out["attention"] = parts.rounded(parts.first_layer_attention(model, x))

    def figures(self, results: dict, fig_dir) -> list[str]:
        report.write_extrapolation_json(results, fig_dir.parent / "extrapolation_results.json")
        return draw_all(results, fig_dir)

    def measure(self, results: dict) -> list:
        return report.measure(results)
