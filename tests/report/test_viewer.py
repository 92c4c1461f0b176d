"""The attention viewer's Python side: typed inputs read as the tasks encode them, model folders found in any
layout, weights exported once per tied tensor. (The page itself runs in tests/report/test_browser.py.)"""
from __future__ import annotations

import base64

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPT, GPTConfig, Seq2SeqConfig, Seq2SeqTransformer
from blocklab.report.model_export import export_model, find_models
from blocklab.report.viewer import Viewer, read_input, viewer_section
from blocklab.studies.addition_heads import viewer as addition_viewer
from blocklab.studies.training_dynamics import viewer as dynamics_viewer
from blocklab.tasks.addition import encode as encode_sum
from blocklab.tasks.operations import encode as encode_op


def addition_results(models=("seq2seq", "gpt"), orders=("natural",)) -> dict:
    cells = [{"name": f"{m}-{o}", "params": {"model": m, "order": o}} for m in models for o in orders]
    return {"config": {"claims_order": "natural"}, "cells": cells, "runs": []}


def test_the_viewers_read_every_example_as_the_tasks_encode_it():
    """WHAT: the page's reading of "123+456" is the task's encoder input (seq2seq) or prompt (GPT: the problem
    and '='), and "Max(5,3,9)" is tasks.operations.encode's. WHY: the viewer must feed the model what it was
    trained on, or its patterns mean nothing."""
    seq2seq, gpt = addition_viewer.viewers(addition_results())
    for text in addition_viewer.EXAMPLES:
        a, b = (torch.tensor([int(x)]) for x in text.split("+"))
        src, _, _, _, seq = encode_sum(a, b, "natural")
        assert read_input(text, seq2seq) == src[0].tolist()
        assert read_input(text, gpt) == seq[0, :8].tolist()  # `a + b =`, what the GPT continues
    (td,) = dynamics_viewer.viewers({"cells": [{"name": "headline-seed-r0"}, {"name": "size-500"}]})
    for text in dynamics_viewer.EXAMPLES:
        assert read_input(text, td) == encode_op(text)
    assert read_input(" Max ( 5, 3 ,9 ) ", td) == encode_op("Max(5,3,9)")


def test_typed_inputs_the_page_cannot_read_are_refused_in_words():
    seq2seq = addition_viewer.viewers(addition_results(("seq2seq",)))[0]
    with pytest.raises(BlocklabError, match="1234 has more than 3 digits; write it like 123\\+456"):
        read_input("1234+5", seq2seq)
    with pytest.raises(BlocklabError, match="'12\\+3\\+4' is 11 tokens, not 7"):
        read_input("12+3+4", seq2seq)
    with pytest.raises(BlocklabError, match="cannot read 'x\\+1': no token starts with 'x'"):
        read_input("x+1", seq2seq)


def test_a_viewer_that_could_not_run_is_refused_when_built():
    with pytest.raises(BlocklabError, match="Viewer.bos has '#'"):
        Viewer("c", ("a", "b"), ("ab",), bos="#")
    with pytest.raises(BlocklabError, match="Viewer.vocab has 'a b'"):
        Viewer("c", ("a b",), ("a",))
    with pytest.raises(BlocklabError, match="cannot read 'abc': no token starts with 'c'"):  # an unreadable example
        Viewer("c", ("a", "b"), ("abc",))
    with pytest.raises(BlocklabError, match="Viewer.answer_tokens=0"):
        Viewer("c", ("a",), ("a",), answer_tokens=0)


def test_the_claims_encoder_decoder_comes_first_with_each_heads_effect():
    results = addition_results(("gpt", "seq2seq"), ("reversed", "natural"))
    heads = {"names": ["encoder_0_self_head_0", "encoder_0_self_head_1", "decoder_0_cross_head_0",
                       "decoder_0_cross_head_1"], "baseline": {"em": 90.0},
             "zero": {"encoder_0_self_head_0": {"em": 80.0}, "encoder_0_self_head_1": {"em": 90.0},
                      "decoder_0_cross_head_0": {"em": 10.0}, "decoder_0_cross_head_1": {"em": None}}}
    heads["mean"] = heads["zero"]
    results["runs"] = [{"cell": "seq2seq-natural", "seed": 3, "status": "done", "metrics": {"heads": heads}}]
    viewers = addition_viewer.viewers(results)
    assert viewers[0].cell == "seq2seq-natural" and viewers[0].bos == "=" and not viewers[0].suffix
    zeroed = viewers[0].to_dict(3)["effects"][addition_viewer.EFFECTS["zero"]]
    assert zeroed == {"encoder.blocks.0.attn": [10.0, 0.0], "decoder.blocks.0.cross_attn": [80.0, None]}
    assert viewers[0].to_dict(0)["effects"] == {}  # a seed without ablations


def save(model, folder):
    model.save(folder)
    return folder


def test_model_folders_are_found_by_cell_and_seed_in_any_layout(tmp_path):
    gpt = GPT(GPTConfig(vocab_size=5, d_model=8, n_heads=2, d_ff=8, n_layers=1))
    old = save(gpt, tmp_path / "work" / "cell-a" / "seed1" / "model")
    new = save(gpt, tmp_path / "models" / "cell-b" / "seed0")
    save(gpt, tmp_path / "work" / "cell-a" / "seed1" / "model" / "deeper" / "cell-a" / "seed1")  # farther: not taken
    save(gpt, tmp_path / "models" / "not-a-cell" / "seed0")
    (tmp_path / "work" / "cell-c" / "seed0" / "checkpoint").mkdir(parents=True)  # a trainer checkpoint: no config
    save(gpt, tmp_path / "report" / "cell-a" / "seed2")  # inside the report being written
    found = find_models(tmp_path, ["cell-a", "cell-b", "cell-c"], exclude=tmp_path / "report")
    assert found == {("cell-a", 1): old, ("cell-b", 0): new}


def test_a_tied_weight_is_exported_once_and_read_back_exactly(tmp_path):
    torch.manual_seed(0)
    model = Seq2SeqTransformer(Seq2SeqConfig(vocab_size=6, d_model=8, n_heads=2, d_ff=8, n_encoder_layers=1,
                                             n_decoder_layers=1, pos_encoding="learned", max_len=8))
    exported = export_model(save(model, tmp_path / "m"))
    assert exported["kind"] == "Seq2SeqTransformer" and exported["use_final_norm"] is True
    assert exported["aliases"] == {"tgt_embed.tok.weight": "src_embed.tok.weight", "lm_head.weight":
                                   "src_embed.tok.weight"}
    data = torch.frombuffer(bytearray(base64.b64decode(exported["data"])), dtype=torch.float32)
    assert data.numel() == exported["parameters"] == sum(p.numel() for p in model.parameters())
    for name, t in model.state_dict().items():
        name = exported["aliases"].get(name, name)
        where = exported["tensors"][name]
        assert torch.equal(data[where["offset"]: where["offset"] + t.numel()].view(*where["shape"]), t)


def test_a_run_without_a_saved_model_says_so_and_runs_no_script(tmp_path):
    (td,) = dynamics_viewer.viewers({"cells": [{"name": "baseline-seed"}]})
    html, scripts = viewer_section("study-x.html", [td], tmp_path, ["baseline-seed"], tmp_path / "site")
    assert "No saved model of cell baseline-seed" in html and scripts == ()
    assert viewer_section("study-x.html", [], tmp_path, [], tmp_path / "site") == ("", ())
