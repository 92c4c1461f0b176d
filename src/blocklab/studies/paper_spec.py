"""Seed 003's arithmetic about the paper's model: parameter counts and where they live.

Nothing is trained: the counts come from building the `paper-base` and
`paper-classifier` presets and counting their tensors (tied tensors once), and the
same numbers are derived by hand from the config so that the report shows the
arithmetic. Counts do not depend on the seed; the runner's seeds only repeat them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..nn import build_model, parameter_summary, preset
from ..report import plots
from ..report.results import finished_runs, seed_values
from ..report.verdicts import Measurement, between, ill_posed
from .registry import Cell, Study, register


@dataclass
class PaperSpecConfig:
    base_vocab: int = 37000  # the paper's shared source/target BPE vocabulary (English-German)
    classifier_vocab: int = 30000  # seed 003 does not say; the preset's default, stated in the report


def paper_base_arithmetic(vocab: int, d: int = 512, d_ff: int = 2048, n_enc: int = 6, n_dec: int = 6) -> dict[str, int]:
    """The paper-base count written out: one shared embedding (also the output projection),
    4 d x d projections with biases per attention, 2 FFN matrices with biases, 2 LayerNorm vectors each."""
    attention = 4 * (d * d + d)
    ffn = d * d_ff + d_ff + d_ff * d + d
    norm = 2 * d
    encoder_layer = attention + ffn + 2 * norm
    decoder_layer = 2 * attention + ffn + 3 * norm
    return {
        "embedding (shared, tied to the output)": vocab * d,
        "encoder layer": encoder_layer,
        "decoder layer": decoder_layer,
        "total": vocab * d + n_enc * encoder_layer + n_dec * decoder_layer,
    }


@register
class PaperSpec(Study):
    name = "paper-spec"
    description = "003: parameter counts of the paper's base model and the classifier variant, by component"
    claims = ("C003-01", "C003-06")
    Config = PaperSpecConfig
    quick = {}

    def cells(self, cfg: PaperSpecConfig) -> list[Cell]:
        return [Cell("paper-base", {"preset": "paper-base", "vocab": cfg.base_vocab}),
                Cell("paper-classifier", {"preset": "paper-classifier", "vocab": cfg.classifier_vocab})]

    def run_cell(self, cell: Cell, seed: int, ctx) -> dict:
        cfg = preset(cell.params["preset"], vocab_size=cell.params["vocab"])
        counts = parameter_summary(build_model(cfg))
        total = counts["total"]
        non_embedding = total - counts.get("embeddings", 0) - counts.get("positions", 0)
        out = {
            "millions": total / 1e6,
            "counts": counts,
            "ffn_share": 100 * counts.get("feed-forward", 0) / total,
            "ffn_share_non_embedding": 100 * counts.get("feed-forward", 0) / non_embedding,
            "non_embedding_millions": non_embedding / 1e6,
        }
        if cell.params["preset"] == "paper-base":
            out["arithmetic"] = paper_base_arithmetic(cell.params["vocab"])
        return out

    def figures(self, results: dict, fig_dir) -> list[str]:
        fig, axes = plots.figure(1, 2, width=10)
        for ax, cell in zip(axes, ("paper-base", "paper-classifier")):
            counts = dict(finished_runs(results, cell)[0]["metrics"]["counts"])
            counts.pop("total")
            ax.barh(list(counts), [v / 1e6 for v in counts.values()])
            ax.set_xlabel("parameters (millions)")
            ax.set_title(f"{cell}: {sum(counts.values()) / 1e6:.2f}M")
        return [plots.save(fig, fig_dir, "paper_spec_parameters.png")]

    def measure(self, results: dict) -> list[Measurement]:
        vocab, base_vocab = results["config"]["classifier_vocab"], results["config"]["base_vocab"]
        non_emb = seed_values(results, "paper-classifier", "non_embedding_millions")[0]
        return [
            Measurement("C003-01", "~65M", seed_values(results, "paper-base", "millions"), unit="M",
                        rule=between(60, 70), part=f"paper-base at vocabulary {base_vocab:,}",
                        note="shared source/target/output embedding, as in the paper"),
            ill_posed("C003-01", "~12M",
                      f"the classifier's count depends on its vocabulary, which seed 003 does not give: "
                      f"{non_emb:.2f}M parameters are not embeddings, plus 256 per vocabulary entry "
                      f"({seed_values(results, 'paper-classifier', 'millions')[0]:.2f}M at {vocab:,}); "
                      f"~12M needs a vocabulary of about {(12 - non_emb) * 1e6 / 256:,.0f}",
                      part="classifier variant (256 wide, 4 layers)"),
            Measurement("C003-06", "most parameters in the FFN", seed_values(results, "paper-base", "ffn_share"),
                        unit="%", rule=between(50, 100), part="FFN share of all parameters (paper-base)",
                        note="the FFN is the largest component; its share of non-embedding parameters is "
                             f"{seed_values(results, 'paper-base', 'ffn_share_non_embedding')[0]:.1f}%"),
        ]
