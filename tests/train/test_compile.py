"""TrainConfig.compile: a torch.compile'd run follows the eager one, and a model that cannot be
compiled trains eagerly with a note saying why.

Compiling even the tiny GPT takes minutes on a busy 2-core machine (268 s measured), so the
comparison with the real torch.compile runs only with BLOCKLAB_TEST_COMPILE=1."""
from __future__ import annotations

import os

import pytest
import torch

from blocklab.train import fit

from .helpers import lm_data, lm_loss, quick_cfg, tiny_gpt


def _losses(result) -> list[float]:
    return [r["loss"] for r in result.steps_log]


@pytest.mark.skipif(os.environ.get("BLOCKLAB_TEST_COMPILE") != "1", reason="slow: set BLOCKLAB_TEST_COMPILE=1")
def test_a_compiled_run_gives_the_eager_losses():
    data, cfg = lm_data(), quick_cfg(steps=6, eval_every=3, log_every=1)
    eager = fit(tiny_gpt(), data, lm_loss, cfg)
    compiled = fit(tiny_gpt(), data, lm_loss, quick_cfg(steps=6, eval_every=3, log_every=1, compile=True))
    assert compiled.notes == []  # it did compile
    assert _losses(compiled) == pytest.approx(_losses(eager), rel=1e-5, abs=1e-6)  # 5e-7 apart when measured
    assert compiled.final["val_loss"] == pytest.approx(eager.final["val_loss"], rel=1e-5)


def test_a_model_that_cannot_compile_trains_eagerly_with_a_note(monkeypatch):
    def failing_compile(net):
        def call(*args, **kwargs):
            raise RuntimeError("no C++ compiler found\nlong backend traceback")
        return call

    monkeypatch.setattr(torch, "compile", failing_compile)
    data, cfg = lm_data(), quick_cfg(steps=6, eval_every=3, log_every=1)
    eager = fit(tiny_gpt(), data, lm_loss, cfg)
    with pytest.warns(UserWarning, match="compile=True failed"):
        fell_back = fit(tiny_gpt(), data, lm_loss, quick_cfg(steps=6, eval_every=3, log_every=1, compile=True))
    assert fell_back.notes == ["compile=True failed (RuntimeError: no C++ compiler found); "
                               "training without torch.compile"]
    assert _losses(fell_back) == _losses(eager)  # the same eager steps, from the first one on
