"""What the training-dynamics study records while a model trains: a fit() callback.

An epoch is `epoch_steps = n_train // batch_size` updates: the trainer's sampler drops the
tail that cannot fill a batch, so 10,000 / 32 gives 312 steps, the seed's count. At every
epoch end (once before training, epoch 0, and at the last step if a budget ends inside an
epoch, as a fractional epoch) the recorder stores, as columns over epochs:

    train_loss, train_acc   the mean over the epoch's batches (train mode, dropout on: the
                            running figures a training log shows, as in the seed's table)
    val_*, test_*           loss, accuracy and accuracy per op, in eval mode
    grad_abs[group]         mean |gradient| per parameter group (train.metrics.param_group:
                            embed, blocks.i.attn, blocks.i.mlp, their norms, lm_head), averaged
                            over the epoch's steps, and over all parameters ("all")
    param_change[group]     mean |theta_e - theta_(e-1)| over the group's parameters
    tracked                 single parameters the seed follows ('Max' embedding dim 0, ...) and
                            the 20 rows of b_output
    cos_*                   mean cosine similarity of token embeddings: op-op, digit-digit, op-digit
    cpu_s, wall_s           training time so far, the recorder's own time excluded

At the `snapshot_epochs` it also stores attention maps of every head for fixed probe inputs,
each FFN neuron's eta^2 at the answer position on the test split (the share of its variance
the op, or the answer digit, explains), and the 20 x 20 embedding cosine matrix. At the end:
the mean FFN activation per neuron by op and by answer digit, the token embeddings of every
epoch projected on the final epoch's first two principal components, confusion counts
(answer digit x predicted token; op x "which op's answer was given"), the first test mistakes.
`checks_per_epoch` extra validation accuracies per epoch time the run to 95% and 99%.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from blocklab.nn.models.operations import logits_for
from blocklab.tasks.base import TaskData
from blocklab.tasks.operations import DIGIT0, OPS, TOKEN, apply_op, args_of, encode
from blocklab.train import evaluating
from blocklab.train.metrics import param_group
from blocklab.train.result import TrainState

PROBES = ("Max(5,3,9)", "Min(7,1,9)", "First(5,3,9)", "Last(5,3,9)")
# The seed's single parameters: 'Max' (id 15) and '6' (id 8) embeddings, dim 0; Block 1's query
# weight of head 2 (rows 16-31 of q_proj), row 0 col 0; W_output for '9' (id 11), dim 0.
TRACKED = {"embed Max[0]": ("embed.tok.weight", (TOKEN["Max"], 0)), "embed 6[0]": ("embed.tok.weight", (TOKEN["6"], 0)),
           "block1 head2 W_q[0,0]": ("blocks.0.attn.q_proj.weight", (16, 0)),
           "W_output 9[0]": ("lm_head.weight", (TOKEN["9"], 0))}
OP_IDS = [TOKEN[o] for o in OPS]
DIGIT_IDS = list(range(DIGIT0, DIGIT0 + 10))


@dataclass
class RecordPlan:
    epoch_steps: int
    full: bool = True  # gradients, parameters, embeddings, snapshots; False: losses and accuracies only
    snapshot_epochs: tuple[int, ...] = (0, 1, 10, 30, 50)
    checks_per_epoch: int = 1  # validation accuracies per epoch for the time-to-95/99% figures


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """(N, V) answer logits in eval mode; the model's mode is restored."""
    with evaluating(model):
        return torch.cat([logits_for(model, x[i:i + batch]) for i in range(0, len(x), batch)])


def scores(logits: torch.Tensor, y: torch.Tensor, op: torch.Tensor) -> dict:
    """Loss, accuracy (%) and accuracy per op (%) of answer logits."""
    hit = (logits.argmax(-1) == y).float()
    return {"loss": F.cross_entropy(logits, y).item(), "acc": 100 * hit.mean().item(),
            "acc_op": [100 * hit[op == k].mean().item() if (op == k).any() else None for k in range(len(OPS))]}


def eta_squared(acts: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N, F) activations, (N,) labels -> (F,) share of each unit's variance explained by the label
    (between-group over total sum of squares; 0 for a unit that never varies)."""
    mean = acts.mean(0)
    total = (acts - mean).square().sum(0)
    between = sum((labels == g).sum() * (acts[labels == g].mean(0) - mean).square() for g in labels.unique())
    return torch.where(total > 0, between / total.clamp(min=1e-12), torch.zeros_like(total))


def cosine_matrix(emb: torch.Tensor) -> torch.Tensor:
    unit = F.normalize(emb, dim=1)
    return unit @ unit.T  # (V, V)


def cluster_cosines(cos: torch.Tensor) -> dict[str, float]:
    """Mean cosine within ops, within digits, and between them (off-diagonal pairs only)."""
    def mean_pairs(a: list[int], b: list[int]) -> float:
        block = cos[a][:, b]
        if a == b:
            return ((block.sum() - block.diagonal().sum()) / (len(a) * (len(a) - 1))).item()
        return block.mean().item()
    return {"cos_op_op": mean_pairs(OP_IDS, OP_IDS), "cos_digit_digit": mean_pairs(DIGIT_IDS, DIGIT_IDS),
            "cos_op_digit": mean_pairs(OP_IDS, DIGIT_IDS)}


def op_confusion(pred: torch.Tensor, x: torch.Tensor, y: torch.Tensor, op: torch.Tensor) -> list[list[float]]:
    """Rows: true op. Columns: % of its rows whose answer is right (diagonal), or wrong but equal to
    another op's answer on the same arguments, and a last column: wrong and no op's answer."""
    args = args_of(x).tolist()
    answers = torch.tensor([[apply_op(o, a) + DIGIT0 for o in OPS] for a in args])  # (N, ops)
    table = []
    for k in range(len(OPS)):
        rows = op == k
        wrong = rows & (pred != y)
        as_op = [100 * (rows & (pred == y) if j == k else wrong & (pred == answers[:, j])).sum().item()
                 / max(1, rows.sum().item()) for j in range(len(OPS))]
        other = wrong & ~(pred[:, None] == answers).any(dim=1)
        table.append(as_op + [100 * other.sum().item() / max(1, rows.sum().item())])
    return table


class Recorder:
    """fit() callback: `recorder.start(model)` before fit, pass it in callbacks, read `as_dict()`."""

    def __init__(self, task: TaskData, plan: RecordPlan) -> None:
        self.task, self.plan = task, plan
        self.curves: dict[str, list] = {}
        self.checks: dict[str, list] = {"step": [], "cpu_s": [], "wall_s": [], "val_acc": []}
        self.snapshots: dict[str, list] = {"epoch": [], "attention": [], "ffn_eta_op": [], "ffn_eta_digit": [],
                                           "cosine": []}
        self.embeddings: list[torch.Tensor] = []
        self.cpu = self.wall = 0.0
        self._sums: dict[str, float] = {}
        self._count = 0
        probes = [encode(p) for p in PROBES]
        self.probes = torch.tensor(probes)  # (P, 8)

    # ------------------------------------------------------------------ the callback
    def start(self, model: torch.nn.Module) -> None:
        self._names = [n for n, p in model.named_parameters() if p.requires_grad]
        self._groups = [param_group(n) for n in self._names]
        self._group = dict(zip(self._names, self._groups))
        self._epoch_record(model, epoch=0, step=0)
        self._clock()

    def _clock(self) -> None:
        self._exit = (time.process_time(), time.perf_counter())

    def __call__(self, event: str, state: TrainState) -> None:
        self.cpu += time.process_time() - self._exit[0]
        self.wall += time.perf_counter() - self._exit[1]
        if event == "step":
            self._accumulate(state)
            check_every = max(1, self.plan.epoch_steps // self.plan.checks_per_epoch)
            if state.step % self.plan.epoch_steps == 0:
                self._epoch_record(state.model, state.step // self.plan.epoch_steps, state.step)
            elif state.step % check_every == 0:
                self._check(state.model, state.step)
        if event == "end":
            if self.curves["step"][-1] != state.step:  # a budget that ends inside an epoch: record where it ends
                self._epoch_record(state.model, round(state.step / self.plan.epoch_steps, 4), state.step)
            self._finish(state.model)
        self._clock()

    def _accumulate(self, state: TrainState) -> None:
        for key in ("loss", "acc"):
            self._sums[key] = self._sums.get(key, 0.0) + float(state.record[key])
        self._count += 1
        if self.plan.full:
            for name, p in state.model.named_parameters():
                if p.grad is not None:
                    key = f"grad:{self._group[name]}"
                    self._sums[key] = self._sums.get(key, 0.0) + p.grad.abs().sum().item()

    def _check(self, model: torch.nn.Module, step: int) -> float:
        x, y, op = self.task.splits["val"]
        acc = scores(predict_logits(model, x), y, op)["acc"]
        for key, value in (("step", step), ("cpu_s", self.cpu), ("wall_s", self.wall), ("val_acc", acc)):
            self.checks[key].append(value)
        return acc

    def _add(self, **values) -> None:
        for key, value in values.items():
            self.curves.setdefault(key, []).append(value)

    # ------------------------------------------------------------------ one epoch
    def _epoch_record(self, model: torch.nn.Module, epoch: int, step: int) -> None:
        self._add(epoch=epoch, step=step, cpu_s=self.cpu, wall_s=self.wall)
        self._check(model, step)
        if self._count:
            self._add(train_loss=self._sums["loss"] / self._count, train_acc=100 * self._sums["acc"] / self._count)
        else:  # epoch 0: the untrained model on a slice of the training set, in eval mode
            x, y, op = (t[:2000] for t in self.task.splits["train"])
            s = scores(predict_logits(model, x), y, op)
            self._add(train_loss=s["loss"], train_acc=s["acc"])
        for split in ("val", "test"):
            s = scores(predict_logits(model, self.task.splits[split][0]), *self.task.splits[split][1:3])
            self._add(**{f"{split}_loss": s["loss"], f"{split}_acc": s["acc"], f"{split}_acc_op": s["acc_op"]})
        if self.plan.full:
            self._dynamics(model, epoch)
        self._sums, self._count = {}, 0

    def _dynamics(self, model: torch.nn.Module, epoch: int) -> None:
        params = dict(model.named_parameters())
        numel: dict[str, int] = {}
        for name, group in zip(self._names, self._groups):
            numel[group] = numel.get(group, 0) + params[name].numel()
        grads = change = None  # epoch 0 has neither; None keeps the columns aligned with "epoch"
        if self._count:
            grads = {g: self._sums.get(f"grad:{g}", 0.0) / n / self._count for g, n in numel.items()}
            grads["all"] = sum(self._sums.get(f"grad:{g}", 0.0) for g in numel) / sum(numel.values()) / self._count
        flat = {name: params[name].detach().clone() for name in self._names}
        if epoch > 0:
            change = {g: 0.0 for g in numel}
            for name, group in zip(self._names, self._groups):
                change[group] += (flat[name] - self._last[name]).abs().sum().item()
            change = {**{g: c / numel[g] for g, c in change.items()}, "all": sum(change.values()) / sum(numel.values())}
        self._add(grad_abs=grads, param_change=change)
        self._last = flat
        tracked = {k: params[name][idx].item() for k, (name, idx) in TRACKED.items()}
        self._add(tracked=tracked, b_output=params["lm_head.bias"].tolist())
        emb = params["embed.tok.weight"].detach() * model.embed.scale  # (V, D): what the blocks receive
        self.embeddings.append(emb.clone())
        cos = cosine_matrix(emb)
        self._add(**cluster_cosines(cos))
        if epoch in self.plan.snapshot_epochs:
            self._snapshot(model, epoch, cos)

    @torch.no_grad()
    def _snapshot(self, model: torch.nn.Module, epoch: int, cos: torch.Tensor) -> None:
        patterns = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)
                    if model.cfg.mixer == "attention"]
        cache = _cached(model, self.probes, patterns)
        _, y, op = self.task.splits["test"]
        last = self._ffn_last(model)
        self.snapshots["epoch"].append(epoch)
        self.snapshots["attention"].append([_rounded(cache[p], 3) for p in patterns])  # blocks x (P, H, T, T)
        self.snapshots["ffn_eta_op"].append([_rounded(eta_squared(a, op), 3) for a in last])
        self.snapshots["ffn_eta_digit"].append([_rounded(eta_squared(a, y), 3) for a in last])
        self.snapshots["cosine"].append(_rounded(cos, 3))

    def _ffn_last(self, model: torch.nn.Module) -> list[torch.Tensor]:
        """blocks x (N, d_ff): FFN hidden activations at the answer position on the test split."""
        hidden = [f"blocks.{i}.mlp.hook_post" for i in range(model.cfg.n_layers) if model.cfg.ffn]
        cache = _cached(model, self.task.splits["test"][0], hidden)
        return [cache[h][:, -1] for h in hidden]

    # ------------------------------------------------------------------ the end
    def _finish(self, model: torch.nn.Module) -> None:
        x, y, op = self.task.splits["test"]
        pred = predict_logits(model, x).argmax(-1)
        digit_conf = torch.zeros(10, self.task.vocab_size, dtype=torch.long)  # answer digit x predicted token
        digit_conf.index_put_((y - DIGIT0, pred), torch.ones_like(y), accumulate=True)
        self.end = {"confusion": {"digit": digit_conf.tolist(), "op": op_confusion(pred, x, y, op)},
                    "mistakes": self.task.mistakes("test", pred)}
        if self.plan.full:
            final = self.embeddings[-1]
            center = final.mean(0)
            _, s, v = torch.linalg.svd(final - center, full_matrices=False)
            basis = v[:2].T  # (D, 2): the final epoch's first two principal axes
            self.end["embedding_pca"] = {"coords": [_rounded((e - center) @ basis) for e in self.embeddings],
                                         "explained": (s[:2] ** 2 / (s ** 2).sum()).tolist()}
            _, y, op = self.task.splits["test"]
            last = self._ffn_last(model)
            self.end["ffn_mean"] = {  # blocks x groups x d_ff, the final model
                "op": [[_rounded(a[op == k].mean(0), 3) for k in range(len(OPS))] for a in last],
                "digit": [[_rounded(a[y == DIGIT0 + d].mean(0), 3) if (y == DIGIT0 + d).any() else None
                           for d in range(10)] for a in last]}
            self.end["snapshots"] = self.snapshots

    def time_to(self, threshold: float) -> dict[str, float | None]:
        """Training time (CPU and wall seconds) and step at the first check with val accuracy >= threshold."""
        for step, cpu, wall, acc in zip(*(self.checks[k] for k in ("step", "cpu_s", "wall_s", "val_acc"))):
            if acc >= threshold:
                return {"step": step, "cpu_s": cpu, "wall_s": wall}
        return {"step": None, "cpu_s": None, "wall_s": None}

    def as_dict(self) -> dict:
        return {"curves": self.curves, "checks": self.checks, **getattr(self, "end", {})}


@torch.no_grad()
def _cached(model: torch.nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """Activations at hook points `names` for inputs x, in eval mode (mode restored)."""
    with evaluating(model):
        _, cache = model.run_with_cache(x, names=names)
    return cache


def _rounded(t: torch.Tensor, digits: int = 4) -> list:
    """A tensor as nested lists of floats with `digits` decimals, to keep results.json small."""
    return (t * 10 ** digits).round().div(10 ** digits).tolist()
