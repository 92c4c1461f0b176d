"""EncoderClassifier: an encoder stack read out by mean or CLS pooling."""
from __future__ import annotations

import torch
from torch import nn

from ..blocks import Block, Blocks, final_norm
from ..config import ClassifierConfig
from ..embed import Embedder, init_weights
from ..hooks import HookedModule, HookPoint
from .saving import SavedModel


class EncoderClassifier(SavedModel, HookedModule):
    """tokens (B, T) -> class logits (B, n_classes). Padding (pad_id) is ignored by attention and pooling."""

    config_class = ClassifierConfig

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = Embedder(cfg, cfg.vocab_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model)) if cfg.pooling == "cls" else None
        self.blocks = Blocks(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm_f = final_norm(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)
        self.hook_pooled = HookPoint()  # (B, D)
        init_weights(self, cfg.init_std, cfg.zero_init_branch_output)
        if self.cls is not None:
            nn.init.normal_(self.cls, std=cfg.init_std)
        self.setup_hooks()

    def forward(self, idx: torch.Tensor, *, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if key_padding_mask is None and self.cfg.pad_id is not None:
            key_padding_mask = idx == self.cfg.pad_id
        B, T = idx.shape
        extra = 1 if self.cls is not None else 0
        pos = self.embed.positions(0, T + extra, idx.device)
        prefix = None if self.cls is None else self.cls.expand(B, 1, -1)  # CLS takes position 0
        x = self.embed(idx, pos, prefix)  # (B, extra + T, D)
        if self.cls is not None and key_padding_mask is not None:
            key_padding_mask = torch.cat([key_padding_mask.new_zeros(B, 1), key_padding_mask], dim=1)
        ctx = self.embed.context(pos, key_padding_mask=key_padding_mask)
        x = self.norm_f(self.blocks(x, ctx))  # (B, extra + T, D)
        if self.cls is not None:
            pooled = x[:, 0]
        elif key_padding_mask is None:
            pooled = x.mean(dim=1)
        else:
            keep = (~key_padding_mask).to(x.dtype)[..., None]  # (B, T, 1)
            pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(self.hook_pooled(pooled))  # (B, n_classes)
