"""blocklab.nn: every Transformer component, written from scratch on torch tensor ops."""
from .attention import KVCache, MeanMixer, MultiHeadAttention, scaled_dot_product_attention, set_fused
from .blocks import Block, Context, Residual, Stack, add_residual, set_grad_checkpointing
from .config import BlockConfig, ClassifierConfig, GPTConfig, Seq2SeqConfig
from .ffn import FeedForward
from .hooks import HookedModule, HookPoint
from .models.classifier import EncoderClassifier
from .models.gpt import GPT
from .models.saving import load_any
from .models.seq2seq import Seq2SeqTransformer
from .norms import BatchNorm, LayerNorm, RMSNorm
from .positional import ALiBi, DigitPlaces, Learned, RoPE, Sinusoidal, alibi_slopes, apply_rotary
from .presets import PRESETS, build_model, preset
from .relative_bias import Fire, KerpleLog, T5Bias
from .summary import parameter_summary

__all__ = [
    "ALiBi", "BatchNorm", "Block", "BlockConfig", "ClassifierConfig", "Context", "DigitPlaces", "EncoderClassifier",
    "FeedForward", "Fire", "GPT", "GPTConfig", "HookPoint", "HookedModule", "KVCache", "KerpleLog", "LayerNorm",
    "Learned", "MeanMixer", "MultiHeadAttention", "PRESETS", "RMSNorm", "Residual", "RoPE", "Seq2SeqConfig",
    "Seq2SeqTransformer", "Sinusoidal", "Stack", "T5Bias", "add_residual", "alibi_slopes", "apply_rotary",
    "build_model", "load_any", "parameter_summary", "preset", "scaled_dot_product_attention", "set_fused",
    "set_grad_checkpointing",
]
