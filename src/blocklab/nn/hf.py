"""A blocklab GPT as a Hugging Face GPT-2 folder, and back: `export_hf(model, out)`, `GPT.from_hf(folder)`.

GPT-2 is the blocklab GPT with pos_encoding="learned", norm="layer" before each sublayer and
at the end, activation="gelu" (the exact erf GELU: GPT-2's config says "gelu"; its original
"gelu_new" is the tanh approximation, which blocklab does not have), attention with one K/V
head per query head, and no output bias. Any other setting is refused in one line naming it.
bias=False exports as zero biases, which is the same function.

The folder is what `GPT2LMHeadModel.save_pretrained` writes, built without transformers:

    config.json         model_type "gpt2": n_embd, n_layer, n_head, n_inner, n_positions, ...
    model.safetensors   transformer.wte / wpe / h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
                        mlp.c_fc, mlp.c_proj} / ln_f, and lm_head.weight when untied

GPT-2's Conv1D stores weights (in, out), the transpose of a Linear's (out, in), and c_attn
is q, k and v stacked along its output: [W_q | W_k | W_v].
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..errors import BlocklabError
from ..io import atomic_write_bytes, atomic_write_text, read_bytes, read_json
from .config import GPTConfig
from .models.gpt import GPT
from .models.saving import check_tensors

# GPTConfig field -> (the value GPT-2 has, what GPT-2 does instead) for each field GPT-2 fixes.
GPT2_FIXED: dict[str, tuple[Any, str]] = {
    "pos_encoding": ("learned", "a learned position table (wpe)"),
    "norm": ("layer", "LayerNorm"),
    "norm_position": ("pre", "pre-norm blocks"),
    "activation": ("gelu", "a GELU feed-forward"),
    "mixer": ("attention", "attention"),
    "ffn": (True, "a feed-forward sublayer in every block"),
    "residual": (True, "residual connections"),
    "residual_scale": (1.0, "unscaled residuals"),
    "scale_embeddings": (False, "unscaled token embeddings"),
    "attn_temperature": (1.0, "no attention temperature"),
    "qk_norm": (False, "no norm on queries and keys"),
    "learned_overflow": ("error", "no positions past n_positions"),
}


def gpt2_refusal(model: GPT) -> str | None:
    """Why `model` is not a GPT-2, naming the first field that GPT-2 cannot express; None if it is one."""
    cfg = model.cfg
    for field, (value, gpt2) in GPT2_FIXED.items():
        if getattr(cfg, field) != value:
            return (f"GPTConfig.{field}={getattr(cfg, field)!r} cannot be exported to GPT-2, which has {gpt2} "
                    f"({field}={value!r})")
    if cfg.kv_heads != cfg.n_heads:
        return f"GPTConfig.n_kv_heads={cfg.n_kv_heads!r} cannot be exported to GPT-2, which has one K/V head per head"
    if not cfg.use_final_norm:
        return f"GPTConfig.final_norm={cfg.final_norm!r} cannot be exported to GPT-2, which ends in a LayerNorm (ln_f)"
    if model.lm_head.bias is not None:
        return "head_bias=True cannot be exported to GPT-2, whose lm_head has no bias"
    return None


def _conv1d(linear: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """A Linear's (weight (out, in), bias) as GPT-2's Conv1D (weight (in, out), bias); no bias: zeros."""
    bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
    return linear.weight.detach().t(), bias.detach()


def gpt2_tensors(model: GPT) -> dict[str, torch.Tensor]:
    out = {"transformer.wte.weight": model.embed.tok.weight, "transformer.wpe.weight": model.embed.pos.table.weight,
           "transformer.ln_f.weight": model.norm_f.weight, "transformer.ln_f.bias": model.norm_f.bias}
    for i, block in enumerate(model.blocks):
        h = f"transformer.h.{i}."
        qkv = [_conv1d(p) for p in (block.attn.q_proj, block.attn.k_proj, block.attn.v_proj)]
        out[h + "attn.c_attn.weight"] = torch.cat([w for w, _ in qkv], dim=1)  # (D, 3D)
        out[h + "attn.c_attn.bias"] = torch.cat([b for _, b in qkv])
        for name, linear in (("attn.c_proj", block.attn.out_proj), ("mlp.c_fc", block.mlp.up),
                             ("mlp.c_proj", block.mlp.down)):
            out[h + name + ".weight"], out[h + name + ".bias"] = _conv1d(linear)
        for name, norm in (("ln_1", block.res_attn.norm), ("ln_2", block.res_mlp.norm)):
            out[h + name + ".weight"], out[h + name + ".bias"] = norm.weight, norm.bias
    if not model.cfg.tie_weights:
        out["lm_head.weight"] = model.lm_head.weight
    return {k: v.detach().float().cpu().contiguous() for k, v in out.items()}


def gpt2_config(cfg: GPTConfig) -> dict[str, Any]:
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": cfg.vocab_size,
        "n_positions": cfg.max_len, "n_embd": cfg.d_model, "n_layer": cfg.n_layers, "n_head": cfg.n_heads,
        "n_inner": cfg.d_ff, "activation_function": "gelu", "layer_norm_epsilon": cfg.norm_eps,
        "resid_pdrop": cfg.dropout, "embd_pdrop": cfg.dropout, "attn_pdrop": cfg.attention_dropout,
        "initializer_range": cfg.init_std, "scale_attn_weights": cfg.attn_scale,
        "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False, "add_cross_attention": False,
        "tie_word_embeddings": cfg.tie_weights, "bos_token_id": None, "eos_token_id": None, "use_cache": True,
        "dtype": "float32",
    }


def export_hf(model: GPT, out: str | Path) -> Path:
    """Write `model` to `out` as a GPT2LMHeadModel folder (float32); refuse in one line what GPT-2 cannot express."""
    if not isinstance(model, GPT):
        raise BlocklabError(f"only a GPT exports to GPT-2; this is a {type(model).__name__}")
    why = gpt2_refusal(model)
    if why is not None:
        raise BlocklabError(why)
    out = Path(out)
    atomic_write_bytes(out / "model.safetensors", save_tensors(gpt2_tensors(model), metadata={"format": "pt"}))
    atomic_write_text(out / "config.json", json.dumps(gpt2_config(model.cfg), indent=1))
    return out


# Hugging Face GPT-2 config key -> (the value blocklab needs, why), for keys blocklab's GPT has no setting for.
HF_FIXED: dict[str, tuple[Any, str]] = {
    "scale_attn_by_inverse_layer_idx": (False, "blocklab scales every layer's scores alike"),
    "add_cross_attention": (False, "a GPT has no cross-attention"),
}
HF_ACTIVATIONS = {"gelu": "gelu", "relu": "relu"}


def _hf_config(path: Path) -> GPTConfig:
    hf = read_json(path, "Hugging Face config", dict)
    if hf.get("model_type") != "gpt2":
        found = hf.get("model_type")
        raise BlocklabError(f"{path} has model_type {found!r}; only 'gpt2' (GPT2LMHeadModel) imports into a GPT")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in HF_ACTIVATIONS:
        raise BlocklabError(f"{path}: activation_function={activation!r} cannot be imported; blocklab has "
                            f"{', '.join(map(repr, HF_ACTIVATIONS))} ('gelu_new' is GELU's tanh approximation, "
                            "which differs from the exact GELU by up to ~1e-3)")
    for key, (value, why) in HF_FIXED.items():
        if hf.get(key, value) != value:
            raise BlocklabError(f"{path}: {key}={hf[key]!r} cannot be imported ({why})")
    if hf.get("embd_pdrop", 0.1) != hf.get("resid_pdrop", 0.1):
        raise BlocklabError(f"{path}: embd_pdrop={hf['embd_pdrop']!r} differs from resid_pdrop="
                            f"{hf.get('resid_pdrop', 0.1)!r}; blocklab has one dropout for both")
    try:
        d = hf["n_embd"]
        return GPTConfig(
            vocab_size=hf["vocab_size"], d_model=d, n_heads=hf["n_head"], n_layers=hf["n_layer"],
            d_ff=hf.get("n_inner") or 4 * d, max_len=hf["n_positions"], pos_encoding="learned", norm="layer",
            norm_eps=hf.get("layer_norm_epsilon", 1e-5), activation=HF_ACTIVATIONS[activation],
            attn_scale=hf.get("scale_attn_weights", True), tie_weights=hf.get("tie_word_embeddings", True),
            dropout=hf.get("resid_pdrop", 0.1), attn_dropout=hf.get("attn_pdrop", 0.1),
            init_std=hf.get("initializer_range", 0.02), bias=True,
        )
    except KeyError as err:
        raise BlocklabError(f"{path} has no {err.args[0]!r}, which a GPT-2 config needs") from None
    except BlocklabError as err:
        raise BlocklabError(f"{path}: {err}") from None


def from_hf(folder: str | Path) -> GPT:
    """The GPT in a Hugging Face GPT-2 folder (config.json + model.safetensors), in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BlocklabError(f"Hugging Face model folder {folder} does not exist")
    cfg = _hf_config(folder / "config.json")
    path = folder / "model.safetensors"
    if not path.is_file():
        other = [p.name for p in folder.glob("*.safetensors.index.json")] + [p.name for p in folder.glob("*.bin")]
        found = f" (found {', '.join(other)}: sharded and .bin weights are not read)" if other else ""
        raise BlocklabError(f"{path} is missing{found}")
    try:
        tensors = load_tensors(read_bytes(path, "Hugging Face weights"))
    except SafetensorError as err:
        raise BlocklabError(f"{path} is corrupt: not a readable safetensors file ({err})") from None
    # The original checkpoints name tensors without "transformer." and keep the causal mask buffers.
    tensors = {k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v for k, v in tensors.items()
               if not k.endswith((".attn.bias", ".attn.masked_bias"))}
    if cfg.tie_weights:
        tensors.pop("lm_head.weight", None)  # some writers store the tied head as well
    model = GPT(cfg)
    check_tensors({k: tuple(v.shape) for k, v in gpt2_tensors(model).items()}, tensors, path)
    _load_gpt2(model, tensors)
    return model.eval()


def _load_gpt2(model: GPT, t: dict[str, torch.Tensor]) -> None:
    """The inverse of gpt2_tensors, copied into `model`'s parameters."""
    D = model.cfg.d_model
    with torch.no_grad():
        model.embed.tok.weight.copy_(t["transformer.wte.weight"])
        model.embed.pos.table.weight.copy_(t["transformer.wpe.weight"])
        model.norm_f.weight.copy_(t["transformer.ln_f.weight"])
        model.norm_f.bias.copy_(t["transformer.ln_f.bias"])
        for i, block in enumerate(model.blocks):
            h = f"transformer.h.{i}."
            weights = t[h + "attn.c_attn.weight"].split(D, dim=1)  # 3 x (D, D)
            biases = t[h + "attn.c_attn.bias"].split(D)
            for linear, w, b in zip((block.attn.q_proj, block.attn.k_proj, block.attn.v_proj), weights, biases):
                linear.weight.copy_(w.t())
                linear.bias.copy_(b)
            for name, linear in (("attn.c_proj", block.attn.out_proj), ("mlp.c_fc", block.mlp.up),
                                 ("mlp.c_proj", block.mlp.down)):
                linear.weight.copy_(t[h + name + ".weight"].t())
                linear.bias.copy_(t[h + name + ".bias"])
            for name, norm in (("ln_1", block.res_attn.norm), ("ln_2", block.res_mlp.norm)):
                norm.weight.copy_(t[h + name + ".weight"])
                norm.bias.copy_(t[h + name + ".bias"])
        if not model.cfg.tie_weights:
            model.lm_head.weight.copy_(t["lm_head.weight"])
