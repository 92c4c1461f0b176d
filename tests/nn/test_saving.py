"""The model folder format: save -> load gives identical logits for every model class and both
engines, and every way a folder can be wrong is one line naming the file and the problem."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from blocklab.autograd.checkpoint import load_checkpoint, save_checkpoint
from blocklab.autograd.gpt import GPT as NumpyGPT
from blocklab.autograd.tokenizer import CharTokenizer
from blocklab.errors import BlocklabError
from blocklab.nn import (
    GPT,
    ClassifierConfig,
    EncoderClassifier,
    GPTConfig,
    Seq2SeqConfig,
    Seq2SeqTransformer,
    load_any,
)
from blocklab.nn.models import saving
from blocklab.nn.models.saving import load_tokenizer
from blocklab.tokenizers import ByteTokenizer, WordTokenizer

TINY = {"vocab_size": 13, "d_model": 16, "n_heads": 4, "d_ff": 32, "max_len": 16}


def _randomised(model):
    """Random values everywhere (zero biases and unit norm gains would hide a swapped tensor)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model.eval()


def _gpt(**changes) -> GPT:
    return _randomised(GPT(GPTConfig(**{**TINY, **changes})))


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(BlocklabError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("changes", [
    {"pos_encoding": "learned", "tie_weights": True},
    {"pos_encoding": "rope", "norm": "rms", "activation": "swiglu", "tie_weights": False, "bias": False},
    {"pos_encoding": "alibi", "n_kv_heads": 2, "norm_position": "post"},
])
def test_gpt_save_load_gives_identical_logits(tmp_path, changes):
    model = _gpt(**changes)
    model.save(tmp_path / "m")
    loaded = GPT.load(tmp_path / "m")
    x = torch.randint(0, 13, (3, 9))
    assert torch.equal(model(x), loaded(x)) and loaded.cfg == model.cfg and not loaded.training
    assert loaded.cfg.tie_weights == (loaded.lm_head.weight is loaded.embed.tok.weight)


def test_head_bias_and_float64_survive(tmp_path):
    model = _randomised(GPT(GPTConfig(**TINY, tie_weights=False), head_bias=True).double())
    model.save(tmp_path / "m")
    loaded = load_any(tmp_path / "m")
    x = torch.randint(0, 13, (2, 5))
    assert loaded.lm_head.weight.dtype == torch.float64 and torch.equal(model(x), loaded(x))


def test_seq2seq_and_classifier_save_load(tmp_path):
    s2s = _randomised(Seq2SeqTransformer(Seq2SeqConfig(**TINY, tgt_vocab_size=9, share_embeddings=False, pad_id=0)))
    clf = _randomised(EncoderClassifier(ClassifierConfig(**TINY, n_classes=3, pooling="cls", pad_id=0)))
    s2s.save(tmp_path / "s2s")
    clf.save(tmp_path / "clf", tokenizer=WordTokenizer(["<pad>", "<unk>", "a", "film"]))
    src, tgt = torch.randint(1, 13, (2, 7)), torch.randint(0, 9, (2, 5))
    assert torch.equal(Seq2SeqTransformer.load(tmp_path / "s2s")(src, tgt), s2s(src, tgt))
    loaded = load_any(tmp_path / "clf")
    assert isinstance(loaded, EncoderClassifier) and torch.equal(loaded(src), clf(src))
    assert load_tokenizer(tmp_path / "clf").words == ["<pad>", "<unk>", "a", "film"]
    assert load_tokenizer(tmp_path / "s2s") is None


def test_numpy_and_torch_engines_read_each_others_folders(tmp_path):
    cfg = GPTConfig(**TINY, pos_encoding="learned")
    ours = NumpyGPT(cfg, seed=3)
    tok = CharTokenizer("abcdefghijkl")
    save_checkpoint(ours, tok, tmp_path / "np")
    idx = np.random.default_rng(0).integers(0, 13, (2, 6))
    again, tok_again = load_checkpoint(tmp_path / "np")
    assert np.array_equal(again(idx).data, ours(idx).data) and tok_again == tok
    theirs = GPT.load(tmp_path / "np")
    np.testing.assert_allclose(theirs(torch.from_numpy(idx)).detach().numpy(), ours(idx).data, atol=1e-5, rtol=0)
    theirs.save(tmp_path / "torch", tokenizer=tok)
    numpy_again = GPT.load(tmp_path / "torch", engine="numpy")
    np.testing.assert_allclose(numpy_again(idx).data, ours(idx).data, atol=1e-5, rtol=0)


def test_version_0_folders_still_load(tmp_path):
    """A config.json of bare GPTConfig fields (training-dynamics' model folders); lm_head.bias means head_bias."""
    from safetensors.torch import save_file

    from blocklab.train.checkpoint import model_tensors

    model = _randomised(GPT(GPTConfig(**TINY, tie_weights=False), head_bias=True))
    (tmp_path / "config.json").write_text(json.dumps(model.cfg.to_dict()))
    save_file(model_tensors(model), tmp_path / "model.safetensors")
    x = torch.randint(0, 13, (2, 5))
    assert torch.equal(GPT.load(tmp_path)(x), model(x))


def test_saving_into_a_finished_trainer_checkpoint_keeps_it_valid(tmp_path):
    """A model saved into fit's run_dir/checkpoint makes it a model folder; resuming still sees a finished run."""
    from blocklab.train import TrainConfig, fit
    from blocklab.train.checkpoint import read_checkpoint

    model = GPT(GPTConfig(**TINY))
    rows = torch.randint(0, 13, (8, 6))

    def loss(m, batch):
        logits = m(batch[0][:, :-1])
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[0][:, 1:].flatten()), {}

    cfg = TrainConfig(steps=3, batch_size=4, eval_every=None, log_every=None)
    fit(model, {"train": (rows,)}, loss, cfg, run_dir=tmp_path)
    assert "training checkpoint" in _error(GPT.load, tmp_path / "checkpoint")
    model.save(tmp_path / "checkpoint", tokenizer=ByteTokenizer())
    assert read_checkpoint(tmp_path / "checkpoint") is not None  # checksums still match
    assert torch.equal(GPT.load(tmp_path / "checkpoint")(rows), model.eval()(rows))
    assert "model folder in checkpoint/" in _error(GPT.load, tmp_path)
    model.save(tmp_path)  # as `blocklab train-lm` does: OUT is the model folder, OUT/checkpoint the trainer's
    (tmp_path / "checkpoint" / "config.json").unlink()
    assert _error(GPT.load, tmp_path / "checkpoint").endswith(f"its model folder is {tmp_path}")


def test_a_pairs_work_folder_points_to_its_kept_model(tmp_path):
    """`blocklab generate RUN/work/CELL/seed0/checkpoint` (a trainer checkpoint) names the model folder to use,
    once there is one."""
    run = tmp_path / "run"
    pair, kept = run / "work" / "full" / "seed0", run / "models" / "full" / "seed0"
    (pair / "checkpoint").mkdir(parents=True)
    (pair / "checkpoint" / "state.json").write_text("{}")
    messages = {}
    for saved in (False, True):
        if saved:
            _gpt().save(kept)
        for folder in (pair / "checkpoint", pair):
            with pytest.raises(BlocklabError, match="config.json is missing") as info:
                load_any(folder)
            messages[saved, folder.name] = str(info.value)
    assert not any("its model folder" in messages[False, name] for name in ("checkpoint", "seed0"))
    assert all(messages[True, name].endswith(f"its model folder is {kept}") for name in ("checkpoint", "seed0"))


def test_an_interrupted_save_leaves_no_config(tmp_path, monkeypatch):
    model = _gpt()
    model.save(tmp_path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(saving, "atomic_write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path)
    assert "config.json is missing" in _error(GPT.load, tmp_path)


def _edit_config(folder, **changes):
    record = json.loads((folder / "config.json").read_text())
    record.update(changes)
    (folder / "config.json").write_text(json.dumps(record))


def test_each_broken_folder_is_one_line(tmp_path):
    folder = tmp_path / "m"
    _gpt().save(folder, tokenizer=CharTokenizer("abc"))
    assert "does not exist" in _error(GPT.load, tmp_path / "nowhere")
    assert "config.json is missing" in _error(GPT.load, tmp_path)
    good = (folder / "config.json").read_text()

    def broken(**changes):
        (folder / "config.json").write_text(good)
        _edit_config(folder, **changes)
        return _error(load_any, folder)

    assert "is a Seq2SeqTransformer checkpoint, not a GPT" in _error(
        GPT.load, _randomised(Seq2SeqTransformer(Seq2SeqConfig(**TINY))).save(tmp_path / "s2s"))
    assert "is an EncoderClassifier checkpoint, not a GPT" in _error(
        GPT.load, EncoderClassifier(ClassifierConfig(**TINY, n_classes=2)).save(tmp_path / "cls"))
    assert "kind 'Decoder'; choose one of: 'EncoderClassifier', 'GPT'" in broken(kind="Decoder")
    assert "format_version 7" in broken(format_version=7)
    assert "GPTConfig.norm='group' is not valid" in broken(config={**json.loads(good)["config"], "norm": "group"})
    assert "key 'pad_id' that a GPT does not have" in broken(pad_id=0)
    message = broken(config={**json.loads(good)["config"], "d_ff": 48})
    assert message.endswith("'blocks.0.mlp.up.weight' has shape (32, 16), but config.json's settings give (48, 16)")
    assert "no tensor 'blocks.2.attn.q_proj.weight'" in broken(config={**json.loads(good)["config"], "n_layers": 3})
    (folder / "config.json").write_text("{not json")
    assert "config.json is corrupt: not JSON" in _error(load_any, folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 16}))
    assert "Hugging Face config (model_type 'gpt2')" in _error(load_any, folder)
    (folder / "config.json").write_text(good)
    (folder / "tokenizer.json").write_text(json.dumps({"kind": "bpe"}))
    assert "tokenizer.json is not a blocklab tokenizer: kind is \"bpe\"; it must be one of: 'char'" in _error(
        load_tokenizer, folder)
    (folder / "tokenizer.json").write_text(json.dumps({"kind": "char", "unk_id": 0, "chars": "abcdefghijklmnop"}))
    assert "17 tokens, more than config.json's vocab_size=13" in _error(load_tokenizer, folder)
    (folder / "model.safetensors").write_bytes(b"truncated")
    assert "model.safetensors is corrupt: not a readable safetensors file" in _error(load_any, folder)
    (folder / "model.safetensors").unlink()
    assert "model.safetensors is missing" in _error(load_any, folder)


def test_the_numpy_engine_refuses_what_it_lacks_in_one_line(tmp_path):
    _gpt(pos_encoding="rope").save(tmp_path / "rope")
    assert "pos_encoding='rope' is not available in the numpy engine" in _error(
        GPT.load, tmp_path / "rope", engine="numpy")
    assert "engine='jax' is not valid" in _error(GPT.load, tmp_path / "rope", engine="jax")


def test_byte_tokenizer_round_trips_any_text():
    tok = ByteTokenizer()
    text = "Wie geht's? ☃ — naïve"
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and len(ids) == len(text.encode()) and tok.decode(ids) == text
    assert tok.decode([0xE2, 0x98]) == "\ufffd"  # half a snowman: replaced, not an exception
