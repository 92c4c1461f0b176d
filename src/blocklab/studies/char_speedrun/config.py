"""The char-speedrun study's knobs: the sizes every recipe shares, the two recipes, and how runs are evaluated."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import torch

from blocklab.config import Config, PositiveInt, ProperFraction
from blocklab.errors import ConfigError
from blocklab.nn import GPT, GPTConfig
from blocklab.studies.common.char_text import nanogpt_cpu_train, nanogpt_gpt_config

from .recipes import BY_NAME, ModelRecipe, Recipe, changes_made, uncovered, without

VOCAB = 85  # the Shakespeare corpus's characters plus <unk>: the parameter check counts with it


def best_recipe() -> Recipe:
    """blocklab's best recipe, chosen on seed 0 (docs/studies/char-speedrun.md gives the runs): 250 steps of 24
    windows (6,000, a quarter of the baseline's 24,000). RMSNorm, ReLU² and an untied head were tried in it
    and left out: without each, seed 0 ended at an equal or lower validation loss."""
    return Recipe(
        model=ModelRecipe(pos_encoding="rope", qk_norm=True, zero_init_branch_output=True),
        train=nanogpt_cpu_train().replace(optimizer="muon", lr=3e-3, muon_lr=0.02, batch_size=24, steps=250,
                                          schedule="wsd", warmup_steps=30, decay_fraction=0.3),
    )


@dataclass
class SpeedrunConfig(Config):
    data_dir: str = ""  # the dataset cache; "": $BLOCKLAB_DATA, else ~/.cache/blocklab
    n_layers: PositiveInt = 4  # nanoGPT's CPU sizes, shared by every recipe
    n_heads: PositiveInt = 4
    d_model: PositiveInt = 128
    context: PositiveInt = 64
    val_windows: PositiveInt = 480  # x context characters of validation text per evaluation (the char-lm study's)
    evals: PositiveInt = 20  # evaluations per run, evenly spaced over its steps (CPU time excluded)
    baseline: Recipe = field(default_factory=Recipe)  # nanoGPT's CPU recipe, as the char-lm study runs it
    best: Recipe = field(default_factory=best_recipe)
    leave_one_out: bool = True  # also run the best recipe without each of its changes, one at a time
    parameter_tolerance: ProperFraction = 0.05  # the best recipe's parameters within this fraction of the baseline's

    def validate(self) -> None:
        super().validate()
        loose = uncovered(self.best, self.baseline)
        if loose:
            raise ConfigError(f"char-speedrun: best differs from baseline in {', '.join(loose)}, which no change "
                              f"holds, so leaving every change out would not give the baseline back; the changes "
                              f"hold: {', '.join(f for c in BY_NAME.values() for f in c.fields)}")
        budget = parameters(self.gpt_config(self.baseline, VOCAB))
        for name, recipe in self.recipes().items():
            n = parameters(self.gpt_config(recipe, VOCAB))
            if abs(n - budget) > self.parameter_tolerance * budget:
                raise ConfigError(f"char-speedrun: recipe {name!r} has {n:,} parameters, outside the baseline's "
                                  f"{budget:,} +- {self.parameter_tolerance:.0%}; the comparison is at one budget")

    def gpt_config(self, recipe: Recipe, vocab_size: int) -> GPTConfig:
        return nanogpt_gpt_config(vocab_size, self.n_layers, self.n_heads, self.d_model, self.context, 0.0,
                                  **recipe.model.to_dict())

    def recipes(self) -> dict[str, Recipe]:
        """Cell name -> recipe: the baseline, the best, and the best without each of its changes."""
        out = {"baseline": self.baseline, "best": self.best}
        if self.leave_one_out:
            out.update({f"without-{c.name}": without(self.best, self.baseline, c)
                        for c in changes_made(self.best, self.baseline)})
        return out


def parameters(cfg: GPTConfig) -> int:
    """Parameters of a GPT with this config, a tied matrix once."""
    return _parameters(json.dumps(cfg.to_dict(), sort_keys=True))


@functools.lru_cache(maxsize=64)
def _parameters(cfg_json: str) -> int:
    """Built on the CPU (~25 ms; the meta device's normal_ is ten times slower) from a forked RNG, so that the
    global one is left as it was; cached, as every build of the study's config counts every recipe."""
    with torch.random.fork_rng(devices=[]):
        return sum(p.numel() for p in GPT(GPTConfig.from_dict(json.loads(cfg_json))).parameters())
