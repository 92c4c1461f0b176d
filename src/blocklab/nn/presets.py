"""Named configs, and the one factory that turns any config into its model."""
from __future__ import annotations

from torch import nn

from ..errors import BlocklabError
from .config import BlockConfig, ClassifierConfig, GPTConfig, Seq2SeqConfig
from .models.classifier import EncoderClassifier
from .models.gpt import GPT
from .models.seq2seq import Seq2SeqTransformer

# The base model of Vaswani et al. (2017), Table 3: post-norm, ReLU, sinusoidal positions,
# embeddings scaled by sqrt(d_model) and shared between source, target and output.
PRESETS: dict[str, BlockConfig] = {
    "paper-base": Seq2SeqConfig(
        vocab_size=37000, d_model=512, n_heads=8, n_encoder_layers=6, n_decoder_layers=6, d_ff=2048,
        dropout=0.1, max_len=5000, norm_position="post", activation="relu", scale_embeddings=True,
        pos_encoding="sinusoidal",
    ),
    # Seed 003's classifier variant: 256 wide, 4 layers.
    "paper-classifier": ClassifierConfig(
        vocab_size=30000, d_model=256, n_heads=8, n_layers=4, d_ff=1024, dropout=0.1, max_len=5000,
        activation="relu", scale_embeddings=True,
    ),
    # nanoGPT's CPU configuration (shakespeare_char on a laptop).
    "nanogpt-cpu": GPTConfig(
        vocab_size=65, d_model=128, n_heads=4, n_layers=4, d_ff=512, max_len=64, dropout=0.0,
        pos_encoding="learned",
    ),
    "tiny-gpt": GPTConfig(vocab_size=32, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=64),
}

MODELS: dict[type, type[nn.Module]] = {
    GPTConfig: GPT,
    Seq2SeqConfig: Seq2SeqTransformer,
    ClassifierConfig: EncoderClassifier,
}


def preset(name: str, **changes) -> BlockConfig:
    if name not in PRESETS:
        raise BlocklabError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name].replace(**changes)


def build_model(cfg: BlockConfig) -> nn.Module:
    return MODELS[type(cfg)](cfg)
