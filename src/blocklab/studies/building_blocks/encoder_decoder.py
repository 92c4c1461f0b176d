"""48 encoder-decoder: squeezing a signal through a bottleneck, with and without a U-Net skip.

Task: tasks.signals, 32 samples of three sinusoids (integer frequencies 1-5) plus two
spikes of height ±3 and noise 0.05. The model reads the noisy signal and returns the
clean one with its spikes (the target's mean square, `signal_power`, is about 1). The
sinusoids span 10 dimensions (sin and cos of 5 frequencies) and the spikes are sparse, so
a bottleneck much below 10 must drop something.

Model: `AutoEncoder`, an encoder VectorNet (32 -> D, `depth` Residual(FFN) blocks, -> k)
and a decoder VectorNet (k -> D, blocks, -> 32), all blocklab blocks. skip=True adds the
encoder's last hidden state to the decoder's first: the U-Net skip around the bottleneck.
Cells: bottlenecks 2..24; the skip at k = 8; two failure modes, k = 32 (no compression)
and a deep wide encoder feeding a one-block narrow decoder; and a Seq2SeqTransformer on
tasks.reverse for the sequence view (trained by studies.common.reverse.train_reverse, as in study 47).

Spike preservation, which the seed does not define, is the reconstruction MSE at spike
positions only (lower is better: the seed's values fall with the skip, as an error does).
Noise gain is how much input noise the output keeps, sum((pred-y)(x-y)) / sum((x-y)^2):
1 for an identity map, 0 for a perfect denoiser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from blocklab.config import Config, NonEmpty, PositiveInt
from blocklab.lab.registry import Cell, Study, register
from blocklab.nn import BlockConfig, Context, add_residual
from blocklab.report import plots
from blocklab.report.gallery import Caption
from blocklab.report.results import as_floats, finished_runs, per_seed, seed_values
from blocklab.report.verdicts import Measurement, around, between, ill_posed
from blocklab.studies.common.reverse import reverse_training, train_reverse
from blocklab.studies.common.snapshots import Snapshots
from blocklab.studies.common.training import VectorNet, regress
from blocklab.tasks import TaskData, signals
from blocklab.train import TrainConfig, fit

SEED_LOSSES = {2: (0.0124, 0.0129), 4: (0.0055, 0.0064), 8: (0.0016, 0.0020), 16: (0.0015, 0.0017),
               24: (0.0010, 0.0010)}
PROBE_SEED, N_PROBE = 10_000, 3  # the same probe signals for every run seed, so snapshots average over seeds


def _across(results: dict, cells: list[str], key: str) -> list[list[float]]:
    """One curve per seed: the metric across cells (NaN where a seed lacks a cell)."""
    return [[per_seed(results, c, key, numeric=True).get(s, np.nan) for c in cells] for s in results["seeds"]]


def _history(ax, results: dict, cell: str, key: str, label: str) -> None:
    """A loss of the evaluation record against training step, mean and 95% CI over seeds."""
    hist = list(per_seed(results, cell, "history").values())
    plots.line_with_band(ax, [h["step"] for h in hist[0]], [[h[key] for h in s] for s in hist], label=label,
                         scale=plots.LOSS)
    ax.set_xlabel("training step")


class AutoEncoder(nn.Module):
    """signal (B, L) -> code (B, k) -> reconstruction (B, L); skip=True is the U-Net variant."""

    def __init__(self, cfg: BlockConfig, length: int, bottleneck: int, enc_depth: int, dec_depth: int,
                 dec_width: int | None = None, skip: bool = False) -> None:
        super().__init__()
        width = dec_width or cfg.d_model
        self.encoder = VectorNet(cfg, length, bottleneck, enc_depth)
        self.decoder = VectorNet(cfg.replace(d_model=width, d_ff=2 * width), bottleneck, length, dec_depth)
        self.skip = skip
        self.register_buffer("pos", torch.zeros(1, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ctx = Context(pos=self.pos)  # VectorNet's single position
        h = self.encoder.stack(self.encoder.inp(x)[:, None], ctx)  # (B, 1, D)
        g = self.decoder.inp(self.encoder.out(h))  # (B, 1, k) code -> (B, 1, D)
        if self.skip:
            g = add_residual(h, g, 1.0)  # the encoder's hidden bypasses the bottleneck
        return self.decoder.out(self.decoder.stack(g, ctx))[:, 0]  # (B, L)


def error_scores(pred: torch.Tensor, x: torch.Tensor, y: torch.Tensor, spikes: torch.Tensor) -> dict:
    """MSE overall, at spikes and elsewhere, and the noise gain; all tensors (n, L)."""
    err = (pred - y) ** 2
    return {"mse": err.mean().item(), "spike_mse": err[spikes].mean().item(), "smooth_mse": err[~spikes].mean().item(),
            "noise_gain": (((pred - y) * (x - y)).sum() / ((x - y) ** 2).sum()).item()}


def best_linear_mse(task: TaskData, k: int) -> float:
    """Test MSE of the best rank-k linear map from noisy to clean signals (reduced-rank regression
    on the train split): the floor for an encoder-decoder that is linear through k numbers."""
    x, y, _ = task.splits["train"]
    mx, my = x.mean(0), y.mean(0)
    w = torch.linalg.lstsq(x - mx, y - my).solution  # (L, L) least squares
    v = torch.linalg.svd((x - mx) @ w, full_matrices=False).Vh[:k]  # (k, L) top directions of the fit
    xt, yt, _ = task.splits["test"]
    return ((xt - mx) @ w @ v.T @ v + my - yt).pow(2).mean().item()


@torch.no_grad()
def reconstruction_scores(model: nn.Module, task: TaskData) -> dict:
    """error_scores of the train and test splits, in eval mode, and the test targets' mean square."""
    model.eval()
    device = next(model.parameters()).device
    out = {}
    for split in ("train", "test"):
        x, y, spikes = task.splits[split]
        out[split] = error_scores(model(x.to(device)).cpu(), x, y, spikes)
    out["signal_power"] = task.splits["test"][1].pow(2).mean().item()
    return out


@dataclass
class EncoderDecoderConfig(Config):
    # the autoencoders; eval_every is also when the probe reconstructions are recorded
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1000, lr=2e-3, schedule="cosine",
                                                                     batch_size=64, eval_every=100, log_every=None))
    n_train: PositiveInt = 4000
    n_test: PositiveInt = 1000
    length: PositiveInt = 32
    d_model: PositiveInt = 64
    depth: PositiveInt = 2  # blocks on each side
    bottlenecks: NonEmpty[tuple[PositiveInt, ...]] = (2, 4, 8, 16, 24)
    unet_bottleneck: PositiveInt = 8
    seq2seq_train: TrainConfig = field(default_factory=lambda: reverse_training(steps=300, lr=3e-3))


@register
class EncoderDecoder(Study):
    name = "encoder-decoder"
    description = "48: autoencoder bottleneck sweep, U-Net skip, failure modes and a seq2seq reverse task"
    claims = ("C000-08", "C000-09")
    claim_figures = {"C000-08": ("48_encoder_decoder_bottleneck.png", "48_encoder_decoder_training.png"),
                     "C000-09": ("48_encoder_decoder_unet.png",)}
    group = "building-blocks"
    figure_captions = {
        "48_encoder_decoder_training.png": "Validation MSE of the autoencoder per training step, one line per "
                                           "bottleneck size k",
        "48_encoder_decoder_evolution.png": "Fixed test signals (black) and the reconstruction of the autoencoder "
                                            "with the U-Net comparison's bottleneck at several training steps, one "
                                            "row per signal",
        "48_encoder_decoder_concept.png": Caption("One noisy input and its clean target, the code three bottleneck "
                                                  "sizes make of it (one seed), and the decoded outputs (all seeds)",
                                                  seeds="mixed"),
        "48_encoder_decoder_bottleneck.png": "Reconstruction MSE against bottleneck size k: train, test, test at "
                                             "and off spikes, and the best linear map through k",
        "48_encoder_decoder_unet.png": "At one bottleneck size: test MSE and test MSE at spikes without and with a "
                                       "U-Net skip (dots: seeds), and each one's reconstruction of one probe signal",
        "48_encoder_decoder_seq2seq.png": "A Seq2Seq model reversing 6 tokens: train, validation and test "
                                          "cross-entropy per step, and the cross-attention from each decoder "
                                          "position to each source position, averaged over the test set",
        "48_encoder_failures.png": "Test MSE, test MSE / train MSE and the noise gain (1 = the identity map) of a "
                                   "balanced bottleneck, one too small, no compression, an encoder much larger than "
                                   "its decoder, and a U-Net skip (dots: seeds)"}
    Config = EncoderDecoderConfig
    quick = {"train.steps": 100, "train.eval_every": 50, "n_train": 1000, "n_test": 300,
             "seq2seq_train.steps": 80, "seq2seq_train.eval_every": 8}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

    def cells(self, cfg):
        k = cfg.unet_bottleneck
        return ([Cell(f"bottleneck-{b}", {"bottleneck": b}) for b in cfg.bottlenecks]
                + [Cell(f"unet-{k}", {"bottleneck": k, "skip": True}),
                   Cell(f"bottleneck-{cfg.length}", {"bottleneck": cfg.length}),
                   Cell("enc-over-dec", {"bottleneck": k, "enc_depth": 2 * cfg.depth, "dec_depth": 1, "dec_width": 8}),
                   Cell("seq2seq-reverse", {"seq2seq": True})])

    def run_cell(self, cell, seed, ctx):
        cfg, p = ctx.cfg, cell.params
        if p.get("seq2seq"):
            return train_reverse(ctx, seed, cfg.seq2seq_train)
        task = signals(cfg.n_train, cfg.n_test, cfg.n_test, seed, length=cfg.length)
        probe_x, probe_y, _ = signals(0, 0, N_PROBE, PROBE_SEED, length=cfg.length).splits["test"]
        block = BlockConfig(d_model=cfg.d_model, d_ff=2 * cfg.d_model, mixer="none", pos_encoding="none")
        model = AutoEncoder(block, cfg.length, p["bottleneck"], p.get("enc_depth", cfg.depth),
                            p.get("dec_depth", cfg.depth), p.get("dec_width"), p.get("skip", False))
        snaps = Snapshots(ctx.work_dir / "reconstructions.json", lambda m: m(probe_x.to(m.pos.device)).cpu())
        snaps.record(0, model)
        train = cfg.train.replace(seed=seed, device=ctx.device)
        result = fit(model, task.splits, regress, train, run_dir=ctx.work_dir, callbacks=[snaps], progress=ctx.progress)
        with torch.no_grad():
            code = model.encoder(probe_x.to(model.pos.device)).cpu()  # (N_PROBE, k)
        return {**reconstruction_scores(model, task), "linear_mse": best_linear_mse(task, p["bottleneck"]),
                "snapshots": snaps.as_dict(), "probe_input": probe_x,
                "probe_target": probe_y, "probe_code": code, **result.to_dict()}

    # ------------------------------------------------------------------ figures
    def figures(self, results, fig_dir):
        cfg = results["config"]
        k = cfg["unet_bottleneck"]
        sweep = [b for b in cfg["bottlenecks"] if finished_runs(results, f"bottleneck-{b}")]
        cells = [f"bottleneck-{b}" for b in sweep]

        fig, ax = plots.figure()
        for b, cell in zip(sweep, cells):
            _history(ax, results, cell, "val_loss", f"k = {b}")
        ax.set(yscale="log", ylabel="validation MSE", title="Autoencoder training by bottleneck size k")
        ax.legend()
        names = [plots.save(fig, fig_dir, "48_encoder_decoder_training.png")]
        names += [self._evolution(results, f"bottleneck-{k}", fig_dir), self._concept(results, sweep, fig_dir)]

        fig, ax = plots.figure()
        for key, label in (("train.mse", "train"), ("test.mse", "test"), ("test.spike_mse", "test, at spikes"),
                           ("test.smooth_mse", "test, off spikes"), ("linear_mse", "best linear map through k, test")):
            plots.line_with_band(ax, sweep, _across(results, cells, key), label=label, scale=plots.NONNEGATIVE)
        ax.set(yscale="log", xlabel="bottleneck size k", ylabel="MSE", title="Reconstruction error vs bottleneck")
        ax.legend(fontsize=8)
        names.append(plots.save(fig, fig_dir, "48_encoder_decoder_bottleneck.png"))

        pair = {"no skip": f"bottleneck-{k}", "U-Net skip": f"unet-{k}"}
        fig, axes = plots.figure(1, 3, width=4.6)
        for ax, key, title in ((axes[0], "test.mse", "test MSE"), (axes[1], "test.spike_mse", "test MSE at spikes")):
            plots.bars_with_ci(ax, list(pair), [seed_values(results, c, key) for c in pair.values()],
                               scale=plots.NONNEGATIVE)
            ax.set(yscale="log", ylabel=title, title=f"{title}, k = {k} (dots: seeds)")
        self._probe_lines(axes[2], results, pair, 0)
        names.append(plots.save(fig, fig_dir, "48_encoder_decoder_unet.png"))

        fig, axes = plots.figure(1, 2, width=5.0)
        for key in ("train_loss", "val_loss", "test_loss"):
            _history(axes[0], results, "seq2seq-reverse", key, key.replace("_", " "))
        axes[0].set(yscale="log", ylabel="cross-entropy (nats)", title="Seq2Seq reversing 6 tokens: loss")
        axes[0].legend()
        patterns = list(per_seed(results, "seq2seq-reverse", "patterns").values())
        cross = plots.finite_mean([p["cross"] for p in patterns], axis=0)
        plots.heatmap(axes[1], cross, [f"out {i + 1}" for i in range(len(cross))],
                      [f"in {j + 1}" for j in range(len(cross))], fmt="{:.2f}")
        axes[1].set(title="Cross-attention (mean over test set and seeds)", xlabel="source position",
                    ylabel="decoder position")
        names.append(plots.save(fig, fig_dir, "48_encoder_decoder_seq2seq.png"))

        cases = {f"balanced k={k}": f"bottleneck-{k}", f"too small k={sweep[0]}": cells[0],
                 f"no compression k={cfg['length']}": f"bottleneck-{cfg['length']}",
                 "encoder >> decoder": "enc-over-dec", f"U-Net skip k={k}": f"unet-{k}"}
        metrics = {"test MSE": (lambda c: seed_values(results, c, "test.mse"), plots.NONNEGATIVE),
                   "test MSE / train MSE (memorisation)": (lambda c: [t / r for t, r in zip(
                       seed_values(results, c, "test.mse"), seed_values(results, c, "train.mse"))], plots.NONNEGATIVE),
                   # a projection coefficient: negative when the output moves against the noise
                   "noise gain (1 = identity map)": (lambda c: seed_values(results, c, "test.noise_gain"),
                                                     plots.UNBOUNDED)}
        fig, axes = plots.figure(1, 3, width=4.8)
        for ax, (ylabel, (values, scale)) in zip(axes, metrics.items()):
            plots.bars_with_ci(ax, list(cases), [values(c) for c in cases.values()], scale=scale)
            ax.set(ylabel=ylabel, title=ylabel.split(" (")[0])
        axes[0].set_yscale("log")
        fig.suptitle("Encoder-decoder failure modes (95% CI over seeds, dots are seeds)")
        names.append(plots.save(fig, fig_dir, "48_encoder_failures.png"))
        return names

    def _probe_lines(self, ax, results, cells: dict[str, str], i: int) -> None:
        """Probe signal i: target and each cell's final reconstruction (mean and band over seeds)."""
        target = as_floats(list(per_seed(results, next(iter(cells.values())), "probe_target").values())[0][i])
        ax.plot(target, color="black", linewidth=2.2, alpha=0.5, label="target")
        for label, cell in cells.items():
            snaps = list(per_seed(results, cell, "snapshots").values())
            plots.line_with_band(ax, None, [s["values"][-1][i] for s in snaps], label=label, scale=plots.UNBOUNDED)
        ax.set(xlabel="sample", ylabel="value", title=f"Probe signal {i + 1}, after training")
        ax.legend(fontsize=8)

    def _evolution(self, results, cell, fig_dir) -> str:
        snaps = list(per_seed(results, cell, "snapshots").values())
        target = as_floats(list(per_seed(results, cell, "probe_target").values())[0])  # (signals, samples)
        # A seed that diverged stopped evaluating: its snapshots are a prefix of the others' (the same steps).
        steps = max((s["steps"] for s in snaps), key=len)
        picks = sorted({j for j in (0, 1, len(steps) // 3, len(steps) - 1) if j < len(steps)})
        fig, axes = plots.figure(len(target), len(picks), width=3.2, height=2.2)
        axes = np.asarray(axes).reshape(len(target), len(picks))  # (signals, steps), also when either is 1
        for row, signal in enumerate(target):
            for ax, j in zip(axes[row], picks):
                ax.plot(signal, color="black", alpha=0.5, linewidth=2, label="target")
                curves = [s["values"][j][row] for s in snaps if j < len(s["values"])]
                plots.line_with_band(ax, None, curves, label="reconstruction", scale=plots.UNBOUNDED)
                shown = "" if len(curves) == len(snaps) else f" ({len(curves)} of {len(snaps)} seeds: others diverged)"
                ax.set_title(f"signal {row + 1}, step {steps[j]}{shown}", fontsize=9)
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"Reconstructions of fixed test signals during training ({cell}; mean, 95% CI over seeds)")
        return plots.save(fig, fig_dir, "48_encoder_decoder_evolution.png")

    def _concept(self, results, sweep, fig_dir) -> str:
        shown = sorted({sweep[0], sweep[len(sweep) // 2], sweep[-1]})
        fig, axes = plots.figure(1, 3, width=4.6)
        first = f"bottleneck-{sweep[0]}"
        axes[0].plot(as_floats(list(per_seed(results, first, "probe_input").values())[0][0]), label="noisy input",
                     color="C7")
        axes[0].plot(as_floats(list(per_seed(results, first, "probe_target").values())[0][0]), label="target",
                     color="black")
        axes[0].set(xlabel="sample", ylabel="value", title="Encoder input: 32 numbers")
        axes[0].legend(fontsize=8)
        for j, b in enumerate(shown):
            code = as_floats(list(per_seed(results, f"bottleneck-{b}", "probe_code").values())[0][0])  # NaN: not drawn
            axes[1].bar(np.arange(b) + j / (len(shown) + 1), code, width=1 / (len(shown) + 1), label=f"k = {b}")
        axes[1].set(xlabel="code unit", ylabel="activation", title="The code: all that passes the bottleneck (seed 0)")
        axes[1].legend(fontsize=8)
        self._probe_lines(axes[2], results, {f"k = {b}": f"bottleneck-{b}" for b in shown}, 0)
        axes[2].set_title("Decoder output: what the code kept")
        return plots.save(fig, fig_dir, "48_encoder_decoder_concept.png")

    # ------------------------------------------------------------------ claims
    def measure(self, results):
        scale = "within ±50% of the source document's value confirms; blocklab's clean signals have mean square " \
                "{:.2f}, the source document's scale is unknown, so absolute MSEs compare only if its scale was " \
                "the same (the ratios below compare regardless)"
        power = seed_values(results, f"bottleneck-{results['config']['bottlenecks'][0]}", "signal_power")
        note = scale.format(np.nanmean(power) if power else float("nan"))
        out = []
        for b, (train, test) in SEED_LOSSES.items():
            cell = f"bottleneck-{b}"
            if not finished_runs(results, cell):
                continue
            for split, value in (("train", train), ("test", test)):
                out.append(Measurement("C000-08", f"{value}", seed_values(results, cell, f"{split}.mse"), "MSE",
                                       around(value, value / 2), part=f"bottleneck {b}, {split} MSE", note=note))
        base = per_seed(results, "bottleneck-2", "test.mse", numeric=True)
        for b, (_, test) in SEED_LOSSES.items():
            other = per_seed(results, f"bottleneck-{b}", "test.mse", numeric=True)
            if b == 2 or not other or not base:
                continue
            ratio = test / SEED_LOSSES[2][1]
            out.append(Measurement(
                "C000-08", f"{ratio:.3g}", [other[s] / base[s] for s in sorted(base.keys() & other.keys())], "×",
                between(ratio / 2, ratio * 2), part=f"bottleneck {b}: test MSE / test MSE at bottleneck 2",
                note="scale-free: confirmed within a factor of 2 of the source document's ratio"))
        k = results["config"]["unet_bottleneck"]
        for key, label, (a, b) in (("test.mse", "MSE", (6.75, 6.56)),
                                   ("test.spike_mse", "spike preservation", (5.03, 4.89))):
            plain = per_seed(results, f"bottleneck-{k}", key, numeric=True)
            unet = per_seed(results, f"unet-{k}", key, numeric=True)
            change = 100 * (b - a) / a
            out.append(Measurement(
                "C000-09", f"{a} -> {b} ({change:+.1f}%)",
                [100 * (unet[s] - plain[s]) / plain[s] for s in sorted(plain.keys() & unet.keys())], "%",
                around(change, abs(change)), part=f"{label}: change with the skip, bottleneck {k}",
                note="spike preservation = test MSE at spike positions; the rule asks for the source "
                     "document's small gain (between 0 and twice its relative change)"))
        out.append(ill_posed("C000-09", "MSE 6.75 / 6.56, spike 5.03 / 4.89",
                             "the absolute values have no stated units or signal scale (an MSE of 6.75 cannot come "
                             "from signals like the source document's bottleneck table, whose losses are near 0.01)",
                             part="absolute values"))
        return out
