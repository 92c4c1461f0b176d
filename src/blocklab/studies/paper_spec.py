"""Source document 003's arithmetic about the paper's model: parameter counts and where they live.

Nothing is trained: the counts come from building the `paper-base` and
`paper-classifier` presets and counting their tensors (tied tensors once), and the
same numbers are derived by hand from the config so that the report shows the
arithmetic. Counts do not depend on the seed; the runner's seeds only repeat them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, PositiveInt
from ..errors import BlocklabError
from ..lab.registry import Cell, Study, register
from ..nn import Seq2SeqConfig, build_model, parameter_summary, preset
from ..report import plots
from ..report.gallery import Caption
from ..report.results import finished_runs, seed_values
from ..report.tables import Table
from ..report.verdicts import Measurement, between, ill_posed


@dataclass
class PaperSpecConfig(Config):
    base_vocab: PositiveInt = 37000  # the paper's shared source/target BPE vocabulary (English-German)
    classifier_vocab: PositiveInt = 30000  # seed 003 does not say; the preset's default, stated in the report


# Learned vectors of width d in one norm: LayerNorm a gain and a bias, RMSNorm a gain (an encoder-decoder
# refuses BatchNorm: its decoder is causal).
NORM_VECTORS = {"layer": 2, "rms": 1, "none": 0}


def encoder_decoder_arithmetic(cfg: Seq2SeqConfig) -> list[dict]:
    """The parameter count of an encoder-decoder written out from its config: one row per component,
    {"component", "formula", "each", "times", "total"}, then the sum. Covers attention + FFN blocks
    (the paper's family); ablations that drop a sublayer are refused rather than miscounted."""
    if cfg.mixer != "attention" or not cfg.ffn:
        raise BlocklabError(f"the hand count covers attention + FFN blocks, not mixer={cfg.mixer!r}, ffn={cfg.ffn}")
    d, d_ff, b = cfg.d_model, cfg.d_ff, int(cfg.bias)
    kv = cfg.kv_heads * cfg.head_dim  # width of the K and V projections (d unless grouped-query)
    if kv == d:
        attention = ("4·d² + 4·d" if b else "4·d²", 4 * d * d + 4 * b * d)
    else:
        attention = ("2·d² + 2·d·d_kv" + (" + 2·d + 2·d_kv" if b else ""),
                     2 * d * d + 2 * d * kv + b * (2 * d + 2 * kv))
    if cfg.activation == "swiglu":  # three matrices: up, gate, down
        ffn = ("3·d·d_ff" + (" + 2·d_ff + d" if b else ""), 3 * d * d_ff + b * (2 * d_ff + d))
    else:
        ffn = ("2·d·d_ff" + (" + d_ff + d" if b else ""), 2 * d * d_ff + b * (d_ff + d))
    k = NORM_VECTORS[cfg.norm]
    norm = k * d
    V, Vt = cfg.vocab_size, cfg.target_vocab
    n_enc, n_dec = cfg.n_encoder_layers, cfg.n_decoder_layers
    tied = " (tied to the output)" if cfg.tie_weights else ""
    if cfg.share_embeddings:
        rows = [("token embedding, shared by source and target" + tied, "V·d", V * d, 1)]
    else:
        rows = [("source token embedding", "V·d", V * d, 1), ("target token embedding" + tied, "V_tgt·d", Vt * d, 1)]
    if cfg.pos_encoding == "learned":
        rows.append(("learned positions (source and target tables)", "max_len·d", cfg.max_len * d, 2))
    rows += [
        ("encoder self-attention (W_Q, W_K, W_V, W_O)", *attention, n_enc),
        ("encoder feed-forward", *ffn, n_enc),
        ("encoder norms (2 per layer)", f"{2 * k}·d", 2 * norm, n_enc),
        ("decoder self-attention", *attention, n_dec),
        ("decoder cross-attention", *attention, n_dec),
        ("decoder feed-forward", *ffn, n_dec),
        ("decoder norms (3 per layer)", f"{3 * k}·d", 3 * norm, n_dec),
    ]
    if cfg.use_final_norm:
        rows.append(("final norms (encoder and decoder stacks)", f"{k}·d", norm, 2))
    rows.append(("output projection", "0 (tied)", 0, 1) if cfg.tie_weights
                else ("output projection", "V_tgt·d", Vt * d, 1))
    out = [{"component": c, "formula": f, "each": each, "times": n, "total": each * n} for c, f, each, n in rows]
    return out + [{"component": "total", "formula": "", "each": None, "times": None,
                   "total": sum(r["total"] for r in out)}]


@register
class PaperSpec(Study):
    name = "paper-spec"
    description = "003: parameter counts of the paper's base model and the classifier variant, by component"
    claims = ("C003-01", "C003-06")
    claim_figures = {"C003-01": ("paper_spec_parameters.png",), "C003-06": ("paper_spec_parameters.png",)}
    figure_captions = {"paper_spec_parameters.png": Caption("Parameters (millions) of each component of the "
                                                            "paper's base model and of its classifier variant",
                                                            seeds="none")}
    Config = PaperSpecConfig
    quick = {}
    seeds = 10  # a seed of the full grid is cheap (catalogue.py gives the costs)

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
            out["arithmetic"] = encoder_decoder_arithmetic(cfg)
            out["arithmetic_matches"] = out["arithmetic"][-1]["total"] == total
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

    def tables(self, results: dict) -> list[Table]:
        run = finished_runs(results, "paper-base")[0]["metrics"]
        cfg = preset("paper-base", vocab_size=results["config"]["base_vocab"])
        total = run["counts"]["total"]
        embedding = cfg.vocab_size * cfg.d_model
        rows = [[r["component"], r["formula"], r["each"], r["times"], r["total"]] for r in run["arithmetic"]]
        rows += [["built model: its tensors counted, a tied one once", "", None, None, total],
                 ["Vaswani et al. (2017), Table 3, base model", "", None, None, "65M"]]
        needed_vocab = (65e6 - (total - embedding)) / cfg.d_model
        note = (
            f"d = {cfg.d_model}, d_ff = {cfg.d_ff}, V = {cfg.vocab_size:,}, {cfg.n_encoder_layers} encoder and "
            f"{cfg.n_decoder_layers} decoder layers, {'biases' if cfg.bias else 'no biases'} in the projections, "
            f"{cfg.norm} norms ({cfg.norm_position}-norm), {cfg.pos_encoding} positions. The hand count "
            f"{'equals' if run['arithmetic_matches'] else 'DOES NOT equal'} the built model's. It is "
            f"{100 * (1 - total / 65e6):.1f}% below the paper's 65M. Everything but the embedding is fixed by "
            f"Table 3; the paper gives its byte-pair vocabulary only as 'about 37000 tokens' and its count to two "
            f"digits, and 65M would take about {needed_vocab:,.0f} tokens at d = {cfg.d_model}. A separate "
            f"(untied) output projection would add {embedding / 1e6:.1f}M more ({(total + embedding) / 1e6:.1f}M), "
            f"so the paper's count is that of a tied model, as its section 3.4 says."
        )
        return [Table("paper-base: the parameter count by hand", ["component", "formula", "each", "×", "parameters"],
                      rows, note)]

    def measure(self, results: dict) -> list[Measurement]:
        vocab, base_vocab = results["config"]["classifier_vocab"], results["config"]["base_vocab"]
        non_emb = seed_values(results, "paper-classifier", "non_embedding_millions")[0]
        return [
            Measurement("C003-01", "~65M", seed_values(results, "paper-base", "millions"), unit="M",
                        rule=between(60, 70), part=f"paper-base at vocabulary {base_vocab:,}",
                        note="shared source/target/output embedding, as in the paper"),
            ill_posed("C003-01", "~12M",
                      f"the classifier's count depends on its vocabulary, which source document 003 does not give: "
                      f"{non_emb:.2f}M parameters are not embeddings, plus 256 per vocabulary entry "
                      f"({seed_values(results, 'paper-classifier', 'millions')[0]:.2f}M at {vocab:,}); "
                      f"~12M needs a vocabulary of about {(12 - non_emb) * 1e6 / 256:,.0f}",
                      part="classifier variant (256 wide, 4 layers)"),
            Measurement("C003-06", "most parameters in the FFN", seed_values(results, "paper-base", "ffn_share"),
                        unit="%", rule=between(50, 100), part="FFN share of all parameters (paper-base)",
                        note="the FFN is the largest component; its share of non-embedding parameters is "
                             f"{seed_values(results, 'paper-base', 'ffn_share_non_embedding')[0]:.1f}%"),
        ]
