"""49 positional encoding: attention sees a set until positions make it a list.

Task: tasks.first_vs_last, [Q] x_1..x_L with Q = FIRST or LAST over 10 symbols -> x_1 or x_L
(chance 10%). Model: EncoderClassifier read out by a CLS token, no causal mask, two layers
(the first lets the CLS token read Q, the second lets it act on it), d_model 32, 4 heads.
Cells:
- task-<pe>: L = 5 with each encoding ('none' is also the seed's all-zero PE), plus
  task-sinusoidal-scaled (token embeddings times sqrt(d_model), claim C003-04).
- extrap-<pe>: trained at L = 100, tested at 200, 500 and 1000. The learned table holds
  exactly the training positions (max_len = L + 2 with CLS and Q): with learned_overflow
  'error' the outcome is the error; with 'clamp' (the same weights) it is an accuracy.
- extrap-base=<b>: sinusoidal with a wrong frequency base, trained at L = 100.
Figures are drawn by figures.py from the metrics stored here; config.py holds the knobs.
"""
from __future__ import annotations

import torch

from blocklab.errors import BlocklabError
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import ClassifierConfig, EncoderClassifier, Sinusoidal
from blocklab.report.results import finished_runs, seed_values
from blocklab.report.verdicts import Measurement, around, at_least, at_most
from blocklab.studies.common.training import classify, predictions
from blocklab.tasks import first_vs_last
from blocklab.train import fit

from .config import EXTRAP_PES, TASK_PES, PositionalConfig
from .figures import draw_all


@torch.no_grad()
def pe_ratio(model: EncoderClassifier, n_symbols: int, T: int) -> float:
    """Mean norm of the added position vectors (positions 0..T-1) over that of the symbols' embeddings."""
    emb = model.embed
    tok = emb.tok.weight[:n_symbols] * emb.scale  # (V, D), as the model adds them
    zeros = torch.zeros(1, T, tok.shape[1], device=tok.device)
    pe = emb.pos.embed(zeros, torch.arange(T, device=tok.device))[0]  # (T, D)
    return float(pe.norm(dim=-1).mean() / tok.norm(dim=-1).mean())


@torch.no_grad()
def cls_attention(model: EncoderClassifier, x: torch.Tensor, n_symbols: int) -> dict:
    """The last layer's CLS-query weights over the keys (CLS, Q, x_1..x_L), per head, averaged over
    the examples of each query kind; and how far the weights on x_1..x_L are from uniform."""
    name = f"blocks.{len(model.blocks) - 1}.attn.hook_pattern"
    _, cache = model.run_with_cache(x, names=[name])
    w = cache[name][:, :, 0]  # (B, H, S): what CLS reads
    first = x[:, 0] == n_symbols
    tokens = w[:, :, 2:].mean(1)  # (B, L): head-averaged weight on x_1..x_L
    tokens = tokens / tokens.sum(-1, keepdim=True)
    tv = 0.5 * (tokens - 1 / tokens.shape[1]).abs().sum(-1)  # (B,) total-variation distance
    return {"first": w[first].mean(0).tolist(), "last": w[~first].mean(0).tolist(),
            "tv_from_uniform": 100 * float(tv.mean())}


@torch.no_grad()
def offset_scores(model: EncoderClassifier, rows=(10, 20, 30), span: int = 8) -> dict:
    """First-layer scores of head 0 on one repeated symbol: score(i, i + d) for several query
    positions i. An encoding of offsets gives one curve for every i; an absolute one does not."""
    x = torch.zeros(1, max(rows) + span + 1, dtype=torch.long, device=next(model.parameters()).device)
    _, cache = model.run_with_cache(x, names=["blocks.0.attn.hook_attn_scores"])
    s = cache["blocks.0.attn.hook_attn_scores"][0, 0]  # (T, T); index = position, CLS at 0
    curves = torch.stack([s[i, i - span: i + span + 1] for i in rows])  # (rows, 2 span + 1)
    spread = (curves.max(0).values - curves.min(0).values).max() / (curves.max() - curves.min()).clamp(min=1e-12)
    return {"rows": list(rows), "offsets": list(range(-span, span + 1)), "scores": curves.tolist(),
            "invariance_error": float(spread)}


def distinguishability(table: torch.Tensor) -> dict:
    """How far apart the encodings of distinct positions are: min distance, max cosine similarity."""
    dist = torch.cdist(table, table).fill_diagonal_(float("inf"))
    unit = table / table.norm(dim=-1, keepdim=True)
    cos = (unit @ unit.T).fill_diagonal_(-1.0)
    return {"min_distance": float(dist.min()), "max_cosine": float(cos.max())}


def query_accuracy(model, task, batch_size: int, n_symbols: int) -> dict:
    """Test accuracy (%), overall and for FIRST and LAST queries, and the predictions; in small batches."""
    x, y = task.splits["test"][:2]
    pred = predictions(model, x, batch_size)
    right = (pred == y).float()
    first = x[:, 0] == n_symbols
    return {"acc": 100 * float(right.mean()), "first": 100 * float(right[first].mean()),
            "last": 100 * float(right[~first].mean()), "pred": pred}


def extrapolate(model, mcfg: ClassifierConfig, cfg: PositionalConfig, seed: int, in_distribution: dict) -> dict:
    """Accuracy at each test length (the first: the training length's test split); a learned
    table that raises is evaluated again with learned_overflow='clamp' (its last row reused)."""
    out = {"lengths": [cfg.extrap_length, *cfg.extrap_test_lengths], "error": None,
           **{key: [in_distribution[key]] for key in ("acc", "first", "last")}}
    for length in cfg.extrap_test_lengths:
        task = first_vs_last(0, 0, cfg.extrap_n_test, seed=10_000 + seed, length=length, n_symbols=cfg.n_symbols)
        try:
            scores = query_accuracy(model, task, cfg.eval_batch_size, cfg.n_symbols)
        except BlocklabError as err:  # learned positions past max_len: the failure the seed names
            out["error"] = out["error"] or str(err)
            clamped = EncoderClassifier(mcfg.replace(learned_overflow="clamp")).to(next(model.parameters()).device)
            clamped.load_state_dict(model.state_dict())
            scores = query_accuracy(clamped, task, cfg.eval_batch_size, cfg.n_symbols)
        for key in ("acc", "first", "last"):
            out[key].append(scores[key])
    return out


def probes(model: EncoderClassifier, x: torch.Tensor, params: dict, cfg: PositionalConfig) -> dict:
    """What the short-task figures show: CLS attention, scores by offset, ALiBi's bias, a width mismatch."""
    pe = params["pos_encoding"]
    out = {"attention": cls_attention(model, x, cfg.n_symbols)}
    if pe != "learned":  # the probe runs past the learned table
        out["offsets"] = offset_scores(model)
    if pe == "alibi":
        pos = torch.arange(cfg.length + 2, device=x.device)
        out["alibi_bias"] = model.embed.context(pos).bias.tolist()  # (H, T, T)
    if pe == "sinusoidal" and not params.get("scale_embeddings"):
        try:  # the seed's "dimension mismatch": a table of half the width added to the embeddings
            Sinusoidal(cfg.d_model // 2, 8, 10000.0).embed(torch.zeros(1, 8, cfg.d_model), torch.arange(8))
            out["dimension_mismatch"] = "no error"
        except RuntimeError as err:
            out["dimension_mismatch"] = str(err)
    return out


@register
class PositionalEncoding(Study):
    name = "positional-encoding"
    description = "49: first-vs-last with and without positions; sinusoidal, learned, ALiBi, RoPE; length 100 to 1000"
    claims = ("C000-10", "C000-11", "C000-16", "C003-04")
    claim_figures = {"C000-10": ("49_positional_task.png",), "C000-11": ("49_positional_comparison.png",),
                     "C000-16": ("49_pe_failures.png",), "C003-04": ("49_pe_failures.png",)}
    group = "building-blocks"
    Config = PositionalConfig
    quick = {"train.steps": 60, "train.eval_every": 30, "n_train": 1000, "n_val": 100, "n_test": 200,
             "extrap_length": 20, "extrap_test_lengths": (40, 100, 200), "extrap_train.steps": 30,
             "extrap_train.eval_every": 30, "extrap_n_test": 20}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        cells = [Cell(f"task-{pe}", {"kind": "task", "pos_encoding": pe}) for pe in TASK_PES]
        cells.append(Cell("task-sinusoidal-scaled", {"kind": "task", "pos_encoding": "sinusoidal",
                                                     "scale_embeddings": True}))
        cells += [Cell(f"extrap-{pe}", {"kind": "extrap", "pos_encoding": pe}) for pe in EXTRAP_PES]
        cells += [Cell(f"extrap-base={b:g}", {"kind": "base", "pos_encoding": "sinusoidal", "pos_base": b})
                  for b in cfg.bad_bases]
        return cells

    def run_cell(self, cell, seed, ctx):
        cfg, p = ctx.cfg, cell.params
        short = p["kind"] == "task"
        length = cfg.length if short else cfg.extrap_length
        task = first_vs_last(cfg.n_train, cfg.n_val, cfg.n_test, seed=seed, length=length, n_symbols=cfg.n_symbols)
        mcfg = ClassifierConfig(
            vocab_size=task.vocab_size, n_classes=task.n_classes, d_model=cfg.d_model, n_heads=cfg.n_heads,
            d_ff=cfg.d_ff, n_layers=cfg.n_layers, pooling="cls", max_len=length + 2, pos_encoding=p["pos_encoding"],
            pos_base=p.get("pos_base", 10000.0), scale_embeddings=p.get("scale_embeddings", False))
        model = EncoderClassifier(mcfg)
        additive = p["pos_encoding"] in ("sinusoidal", "learned")
        out: dict = {"pe_ratio_init": pe_ratio(model, cfg.n_symbols, length + 2)} if additive else {}
        train = (cfg.train if short else cfg.extrap_train).replace(seed=seed, device=ctx.device)
        result = fit(model, {k: task.splits[k][:2] for k in ("train", "val")}, classify, train,
                     run_dir=ctx.work_dir, progress=ctx.progress)
        model.save(ctx.model_dir)
        test = query_accuracy(model, task, cfg.eval_batch_size, cfg.n_symbols)
        x = task.splits["test"][0]
        out.update(test_acc=test["acc"], test_first=test["first"], test_last=test["last"],
                   mistakes=task.mistakes("test", test["pred"]),
                   curve={"step": [h["step"] for h in result.history],
                          "val_acc": [100 * h["val_acc"] for h in result.history]}, diverged=result.diverged)
        if additive:
            out["pe_ratio_final"] = pe_ratio(model, cfg.n_symbols, length + 2)
        if short:
            out.update(probes(model, x[:500], p, cfg))
        elif p["pos_encoding"] == "sinusoidal":
            out.update(distinguishability(model.embed.pos.table[:100]))  # positions 0..99
            if p["kind"] == "extrap":
                out["table"] = model.embed.pos.table.tolist()  # (max_len, D)
        if p["kind"] == "extrap":
            out["extrapolation"] = extrapolate(model, mcfg, cfg, seed, test)
        return out

    def figures(self, results, fig_dir):
        return draw_all(results, fig_dir)

    def measure(self, results):
        def acc(cell: str) -> list[float]:
            return seed_values(results, cell, "test_acc")

        out = [
            Measurement("C000-10", "39.5%", acc("task-none"), "%", around(39.5, 5), part="without PE",
                        note="first_vs_last, L = 5, 10 symbols"),
            Measurement("C000-10", "uniform attention", seed_values(results, "task-none", "attention.tv_from_uniform"),
                        "%", at_most(5), part="without PE: CLS attention uniform",
                        note="mean total-variation distance (%) of the CLS weights on x_1..x_L from uniform"),
            Measurement("C000-10", "100%", acc("task-sinusoidal"), "%", at_least(99), part="with (sinusoidal) PE"),
        ]
        for pe, verb in (("sinusoidal", "works"), ("alibi", "works"), ("learned", "fails")):
            runs = finished_runs(results, f"extrap-{pe}")
            for i, length in enumerate(runs[0]["metrics"]["extrapolation"]["lengths"] if runs else []):
                claim = "works" if i == 0 else verb
                note = "'works': accuracy >= 90%; 'fails': <= 60% (answering only FIRST right gives 55%)"
                if pe == "learned" and i:
                    note += "; past its table the learned model is evaluated with learned_overflow='clamp'"
                out.append(Measurement("C000-11", claim, [r["metrics"]["extrapolation"]["acc"][i] for r in runs], "%",
                                       at_least(90) if claim == "works" else at_most(60),
                                       part=f"{pe} at length {length}", note=note))
        errors = [100.0 if r["metrics"]["extrapolation"]["error"] else 0.0
                  for r in finished_runs(results, "extrap-learned")]
        out.append(Measurement("C000-16", "learned PE past max_len fails", errors, "%", at_least(100),
                               part="learned PE past max_len (learned_overflow='error')",
                               note="per seed 100 if evaluating past the table raised an error, else 0"))
        for cell in [c["name"] for c in results["cells"] if c["params"]["kind"] == "base"]:
            base = cell.split("=", 1)[1]
            out.append(Measurement("C000-16", "positions indistinguishable", seed_values(results, cell, "max_cosine"),
                                   "", at_least(0.99), part=f"base {base}: max cosine similarity of positions 0..99",
                                   note="indistinguishable: two distinct positions' encodings at cosine >= 0.99; "
                                        "base 10000 gives " + _mean_text(results, "extrap-sinusoidal", "max_cosine")))
            out.append(Measurement("C000-16", "positions indistinguishable", acc(cell), "%", at_most(60),
                                   part=f"base {base}: accuracy at length {results['config']['extrap_length']}",
                                   note="a model that cannot tell positions apart cannot find LAST: <= 60%; base "
                                        "10000 gives " + _mean_text(results, "extrap-sinusoidal", "test_acc")))
        for when in ("init", "final"):
            out.append(Measurement(
                "C003-04", "PE does not dominate", seed_values(results, "task-sinusoidal-scaled", f"pe_ratio_{when}"),
                "ratio", at_most(1), part=f"|PE| / |token embedding| with sqrt(d) scaling, {when}",
                note="sinusoidal, init_std 0.02; without scaling the ratio is "
                     + _mean_text(results, "task-sinusoidal", f"pe_ratio_{when}")))
        return out


def _mean_text(results: dict, cell: str, metric: str) -> str:
    values = [v for v in seed_values(results, cell, metric) if v == v]  # NaN != NaN
    return f"{sum(values) / len(values):.3g}" if values else "n/a"
