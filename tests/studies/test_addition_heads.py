"""addition-heads: decoders agree where they must, ablation edits only what it names, and a
tiny run writes its figures, ablation_results.json, the four claims and a model folder per pair."""
import json

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.nn import GPT, Seq2SeqConfig
from blocklab.nn.models.seq2seq import Seq2SeqTransformer
from blocklab.studies.addition_heads import ablation as abl
from blocklab.studies.addition_heads.model import PROMPT_LEN, answer_logits, beam, build, evaluate, greedy, predict
from blocklab.studies.addition_heads.study import AdditionHeads, AdditionHeadsConfig
from blocklab.tasks import addition
from blocklab.tasks.addition import EQUALS, VOCAB

from .isolated import HUGE_LR, check_divergence, check_kept, run_isolated, saves_seen


def model(kind="seq2seq", bias=True):
    torch.manual_seed(0)
    if kind == "seq2seq" and not bias:
        return Seq2SeqTransformer(Seq2SeqConfig(vocab_size=VOCAB, d_model=16, n_heads=4, d_ff=32, max_len=12,
                                                pos_encoding="learned", bias=False)).eval()
    m = build(kind, d_model=16, n_heads=4, layers=2, gpt_layers=2).eval()
    with torch.no_grad():  # an untrained model's logits are nearly flat; spread them so argmaxes are not ties
        for p in m.parameters():
            p.mul_(20 if p.ndim > 1 else 1)
    return m


def batch(n=64, order="reversed", seed=0):
    return addition(n, 0, 0, seed=seed, order=order).splits["train"]


@pytest.mark.parametrize("kind", ["seq2seq", "gpt"])
def test_greedy_equals_beam_of_width_one(kind):
    m, b = model(kind), batch()
    assert torch.equal(greedy(m, b), beam(m, b, 1))


def test_gpt_beam_keeps_the_best_summed_log_probability():
    """WHAT: a wider beam never ends on a lower-scoring answer than greedy.
    WHY: beam search keeps greedy's path among its candidates unless better ones push it out."""
    m, b = model("gpt"), batch(32)
    prompt = b[4][:, :PROMPT_LEN]

    def logp(answer):
        full = torch.cat([prompt, answer], dim=1)
        lp = m(full[:, :-1]).log_softmax(-1)[:, PROMPT_LEN - 1 :]  # (B, 4, V)
        return lp.gather(-1, answer[..., None]).squeeze(-1).sum(-1)

    wide, narrow = (m.beam_search(prompt, 4, beam_size=k)[:, PROMPT_LEN:] for k in (4, 1))
    assert bool((logp(wide) >= logp(narrow) - 1e-5).all())


@pytest.mark.parametrize("kind", ["seq2seq", "gpt"])
def test_greedy_answers_are_the_teacher_forced_argmax_of_themselves(kind):
    """The identity the ablations rely on: greedy's output, fed back teacher-forced, is its own argmax."""
    m, b = model(kind), batch(order="natural")
    g = greedy(m, b)
    src, _, dec_in, carries, seq = b
    fed = (src, g, torch.cat([dec_in[:, :1], g[:, :-1]], 1), carries, torch.cat([seq[:, :PROMPT_LEN], g], 1))
    assert torch.equal(answer_logits(m, fed).argmax(-1), g)


@pytest.mark.parametrize("method", ["zero", "mean"])
def test_ablating_no_head_changes_nothing(method):
    m, b = model(), batch()
    means = abl.head_means(m, b)
    base = answer_logits(m, b)
    with abl.ablated(m, [], method, means):
        assert torch.equal(answer_logits(m, b), base)


def test_mean_ablation_replaces_a_head_by_its_average():
    """WHAT: averaged over one problem, the mean is that problem's own output: nothing changes;
    averaged over other problems, the output changes. WHY: catches a mean over the wrong axis."""
    m, one = model(), batch(1)
    base = answer_logits(m, one)
    with abl.ablated(m, list(abl.heads(m).values()), "mean", abl.head_means(m, one)):
        assert torch.allclose(answer_logits(m, one), base, atol=1e-5)
    with abl.ablated(m, [("encoder.blocks.0.attn", 1)], "mean", abl.head_means(m, batch(64, seed=3))):
        assert not torch.allclose(answer_logits(m, one), base, atol=1e-4)


def test_zero_ablation_of_one_head_equals_zeroing_its_slice_of_hook_z():
    m, b = model(), batch()

    def zero_head_2(z, hook):
        z = z.clone()
        z[:, :, 2] = 0
        return z

    with m.hooks([("encoder.blocks.1.attn.hook_z", zero_head_2)]):
        expected = answer_logits(m, b)
    with abl.ablated(m, [("encoder.blocks.1.attn", 2)]):
        got = answer_logits(m, b)
    assert torch.allclose(got, expected, atol=1e-6) and not torch.allclose(got, answer_logits(m, b), atol=1e-3)
    assert torch.equal(m.encoder.blocks[1].attn.head_mask, torch.ones(4))  # restored


@pytest.mark.parametrize("module,out_hook", [("decoder.blocks.0.cross_attn", "decoder.blocks.0.hook_cross_out"),
                                             ("encoder.blocks.1.attn", "encoder.blocks.1.hook_attn_out"),
                                             ("decoder.blocks.1.attn", "decoder.blocks.1.hook_attn_out")])
def test_ablating_every_head_of_a_module_removes_it(module, out_hook):
    """Without biases, the sublayer then adds nothing to the residual stream: as if removed.
    With biases, it adds only its output projection's bias."""
    for bias in (False, True):
        m, b = model(bias=bias), batch()
        extra = m.get_submodule(module).out_proj.bias if bias else None
        with m.hooks([(out_hook, lambda x, hook: torch.zeros_like(x) + (0 if extra is None else extra))]):
            removed = answer_logits(m, b)
        with abl.ablated(m, [(module, h) for h in range(4)]):
            assert torch.allclose(answer_logits(m, b), removed, atol=1e-5)


def test_mean_ablation_refuses_step_by_step_decoding():
    m, b = model(), batch(8)
    with abl.ablated(m, [("decoder.blocks.0.attn", 0)], "mean", abl.head_means(m, b)):
        with pytest.raises(BlocklabError, match="full teacher-forced pass"):
            m.greedy_decode(b[0], EQUALS, 4)
    with pytest.raises(BlocklabError, match="choose one of"):
        with abl.ablated(m, [], "half"):
            pass


def test_seed_names_of_the_24_heads_and_solved_matches_greedy():
    m, b = model(), batch(64)
    names = abl.heads(m)
    assert len(names) == 24 and names["decoder_0_self_head_1"] == ("decoder.blocks.0.attn", 1)
    assert names["encoder_1_self_head_3"] == ("encoder.blocks.1.attn", 3)
    assert names["decoder_1_cross_head_0"] == ("decoder.blocks.1.cross_attn", 0)
    assert torch.equal(abl.solved(m, b), (predict(m, b, greedy) == b[1]).all(1))


def test_greedy_pruning_evaluates_the_jointly_pruned_model():
    torch.manual_seed(0)
    m, b = build("seq2seq", d_model=8, n_heads=2, layers=1, gpt_layers=1).eval(), batch(24)
    steps = abl.greedy_pruning(m, b, b)
    assert [s["removed"] for s in steps] == list(range(7))  # 6 heads: encoder self, decoder self, cross
    assert sorted(s["head"] for s in steps[1:]) == sorted(abl.heads(m))
    with abl.ablated(m, list(abl.heads(m).values())):
        assert steps[-1]["em"] == abl.scores(m, b)["em"]
    assert steps[0]["em"] == abl.scores(m, b)["em"]


def test_alignment_scores_a_perfect_column_reader_one_and_uniform_attention_chance():
    B, H = 2, 4
    cross = torch.zeros(B, H, 4, 7)
    for t, col in enumerate(abl.column_of_answer("natural")):
        for k in abl.input_positions(col):
            cross[:, :, t, k] = 0.5
    cross[:, :, 0, :] = 1 / 7  # the thousands digit has no input column and is not scored
    scores, chance = abl.alignment("decoder_0_cross", cross, "natural")
    assert scores == pytest.approx([1.0] * H) and chance == pytest.approx(2 / 7)
    uniform, chance = abl.alignment("encoder_0_self", torch.full((B, H, 7, 7), 1 / 7), "reversed")
    assert uniform == pytest.approx([chance] * H)
    assert abl.alignment("decoder_0_self", torch.ones(B, H, 4, 4), "natural") is None


def test_config_names_the_bad_value():
    with pytest.raises(BlocklabError, match=r"AdditionHeadsConfig.models=\('rnn',\).*values from: 'seq2seq'"):
        AdditionHeadsConfig(models=("rnn",))
    with pytest.raises(BlocklabError, match="probe"):
        AdditionHeadsConfig(probes=("1000+1",))


def test_tiny_run_writes_figures_ablation_json_claims_and_its_models(tmp_path):
    overrides = {"train.steps": 2, "train.warmup_steps": 2, "train.eval_every": 2, "train.batch_size": 16,
                 "n_train": 64, "n_val": 16, "n_test": 32, "d_model": 8, "n_heads": 2, "layers": 1,
                 "beam_sizes": [1, 2], "exhaustive": False, "models": ["seq2seq", "gpt"], "gpt_layers": 1}
    with saves_seen() as seen:
        folder, results = run_isolated("addition-heads", out=tmp_path, overrides=overrides)
    assert {r["status"] for r in results["runs"]} == {"done"}
    # the report's attention viewer reads these with load_any
    check_kept(folder, results, seen, {"seq2seq-natural": Seq2SeqTransformer, "gpt-natural": GPT})
    assert {"head_importance.png", "pruning_curve.png", "decoding_comparison.png", "error_cascade.png",
            "attention_999_plus_1.png", "attention_123_plus_456.png"} <= set(results["figures"])
    assert {m["claim_id"] for m in results["measurements"]} == {"C002-01", "C002-02", "C002-03", "C002-04"}
    summary = json.loads((folder / "ablation_results.json").read_text())
    heads = summary["heads"]["seq2seq-natural"]["per_head"]
    assert len(heads) == 6 and {"zero_drop", "mean_drop"} <= set(heads["decoder_0_self_head_1"])
    verdicts = {m["part"]: m["verdict"] for m in results["measurements"]}
    assert verdicts["encoder_1_self_head_3"] == "ill-posed"  # one encoder layer here
    tables = {t.title: t for t in AdditionHeads().tables(results)}
    assert len(tables["Heads ablated one at a time: greedy exact match lost (points)"].rows) == 6
    for run in results["runs"]:
        t = run["metrics"]["test"]
        assert t["greedy_tf_disagree"] == 0 and t["greedy_em"] == t["tf_em"]
        assert t["beam_em"]["1"] == t["greedy_em"]
        assert sum(v["n"] for v in t["by_carries"].values()) == 32


def test_gpt_evaluation_reports_every_decoding():
    task = addition(0, 0, 16, seed=0, order="natural")
    t = evaluate(model("gpt"), task, "test", (1, 2))
    assert t["greedy_tf_disagree"] == 0 and t["beam_em"]["1"] == t["greedy_em"] == t["tf_em"]
    assert len(t["tf_acc_by_position"]) == 4 and t["bound_from_token_acc"] <= t["greedy_em"] + 1e-9


def _metrics(steps_to_99, cpu, greedy=100.0, resumed=False, mistakes=(), heads=None):
    """A run's metrics as run_cell stores them, with only what the tables read."""
    cascade = {**{f"first_wrong_{p}": 0.0 for p in range(4)}, "later_greedy": 0.0, "later_tf": 0.0}
    if greedy < 100:  # every failure starts at the second digit; half go wrong again, a tenth teacher-forced
        failed = 100 - greedy
        cascade |= {"first_wrong_1": failed, "later_greedy": failed / 2, "later_tf": failed / 10}
    # the under-trained checkpoint (step 200) fails 20%, all at the first digit; half go wrong again
    late = {"val_later_greedy": 0.1, "val_later_tf": 0.02, **{f"val_first_wrong_{p}": 0.2 * (p == 0) for p in range(4)}}
    history = [{"step": 100, "val_acc": 0.5, "val_greedy_em": 0.0, **late},
               {"step": 200, "val_acc": 0.95, "val_greedy_em": 0.8, **late},
               {"step": 300, "val_acc": 1.0, "val_greedy_em": 1.0, **late}]
    test = {"tf_token_acc": 100 - (100 - greedy) / 4, "tf_em": greedy, "greedy_em": greedy, "greedy_tf_disagree": 0,
            "beam_em": {"1": greedy, "4": greedy}, "cascade": cascade, "mistakes": list(mistakes),
            "by_carries": {str(k): {"n": 10 * (k + 1), "greedy_em": greedy} for k in range(4)}}
    out = {"params": 1000, "train_cpu_seconds": cpu, "steps_to_99": steps_to_99, "steps_done": 1000,
           "resumed": resumed, "history": history, "test": test, "mistakes": list(mistakes)}
    return out | ({"heads": heads} if heads else {})


def _heads(zero, mean, pruned):
    names = ["encoder_0_self_head_0", "encoder_0_self_head_1", "decoder_0_self_head_0"]
    return {"names": names, "baseline": {"em": 100.0},
            "zero": {n: {"em": v} for n, v in zip(names, zero)}, "mean": {n: {"em": v} for n, v in zip(names, mean)},
            "pruning": [{"removed": k, "em": v} for k, v in enumerate(pruned)]}


def test_tables_from_a_synthetic_results_dict():
    """WHAT: known values in each table; runs that never reached 99% or resumed are counted, not
    averaged as zero; cells without finished runs are left out. WHY: the report page's numbers."""
    s2s = [_metrics(200, 50.0, mistakes=["12 + 34: model says 47, truth 46"],
                    heads=_heads([100, 99.5, 50], [100, 98, 100], [100, 99.5, 98.9, 99.2])),
           _metrics(400, 100.0, greedy=90.0, heads=_heads([100, 100, 40], [99, 100, 30], [100, 99, 98, 97])),
           _metrics(None, 80.0, heads=_heads([100, 97, 98.5], [100, 100, 100], [100, 100, 99, 90]))]
    gpt = [_metrics(500, 60.0), _metrics(300, 70.0, resumed=True)]
    runs = [{"cell": "seq2seq-natural", "seed": s, "status": "done", "metrics": m} for s, m in enumerate(s2s)]
    runs += [{"cell": "gpt-natural", "seed": s, "status": "done", "metrics": m} for s, m in enumerate(gpt)]
    runs += [{"cell": "seq2seq-reversed", "seed": 0, "status": "failed", "metrics": {}}]
    cells = [{"name": n} for n in ("seq2seq-natural", "seq2seq-reversed", "gpt-natural", "gpt-reversed")]
    results = {"cells": cells, "runs": runs, "config": {"n_test": 100, "n_val": 50, "eval_every": 100}}
    tables = {t.title.split(":")[0]: t for t in AdditionHeads().tables(results)}

    decodings = tables["Decodings per cell"]
    assert decodings.headers == ["quantity", "seq2seq-natural", "gpt-natural"]
    rows = {r[0]: r[1:] for r in decodings.rows}
    assert rows["seeds finished"] == [3, 2]
    assert rows["steps to 99% greedy exact match (validation)"][0].endswith("(n=2; 1 never reached 99%)")
    # CPU to 99% = CPU x steps_to_99 / steps_done: 50 x 0.2 = 10 and 100 x 0.4 = 40, mean 25
    cpu = rows["CPU seconds to 99%"]
    assert cpu[0].startswith("25 [") and cpu[0].endswith("(n=2; 1 never reached 99%)")
    assert cpu[1] == "30 (n=1; 1 resumed, CPU time partial)"  # 60 x 0.5
    # 50, 100, 80: mean 76.67; with three seeds the bootstrap interval (report/stats.py) spans the values
    assert rows["training CPU seconds"] == ["76.67 [50, 100]", "60 (n=1; 1 resumed, CPU time partial)"]
    assert rows["greedy exact match (%)"][0].startswith("96.67 [")  # (100 + 90 + 100) / 3
    assert rows["beam 4 exact match (%)"][1] == "100 [100, 100]"

    carries = tables["Greedy exact match (%) by number of carries"]
    assert [r[:2] for r in carries.rows] == [[0, "10"], [1, "20"], [2, "30"], [3, "40"]]

    cascade = {(r[0], r[1].split(",")[0]): r for r in tables["The error cascade"].rows}
    final = cascade[("seq2seq-natural", "final model")]
    assert final[10:] == ["50", "10"]  # only seed 1 failed: half of its failures wrong again, a tenth teacher-forced
    early = cascade[("seq2seq-natural", "under-trained")]
    assert early[1] == "under-trained, validation (steps 200, 200, 200)" and early[5] == "80 [80, 80]"  # 100 - 4 x 5
    # 0.1 and 0.02 of all problems, of the 0.2 failed
    assert early[6] == "20 [20, 20]" and early[10:] == ["50 [50, 50]", "10 [10, 10]"]
    assert cascade[("gpt-natural", "final model")][10:] == ["no failed problems"] * 2

    alone = {r[1]: r for r in tables["Heads ablated one at a time"].rows}
    expected = [pytest.approx(111.5 / 3), "50, 60, 1.5", pytest.approx(70 / 3), "0, 70, 0"]
    assert alone["decoder_0_self_head_0"][2:] == expected
    (can_go,) = tables["Heads that can go"].rows  # gpt-natural has no heads
    assert can_go[0] == "seq2seq-natural" and can_go[3].endswith("(2, 2, 1)") and can_go[4].endswith("(2, 2, 3)")
    assert can_go[5].endswith("(3, 1, 2)")  # the most heads removed together with >= 99 left, not the first fall

    mistakes = tables["First mistakes of greedy decoding"].rows
    assert mistakes == [["seq2seq-natural", 0, "12 + 34: model says 47, truth 46"],
                        ["gpt-natural", 0, "no mistakes on the held-out set"]]
    assert AdditionHeads().tables({**results, "runs": runs[-1:]}) == []


def test_a_huge_learning_rate_diverges_every_model_and_the_study_still_reports(tmp_path):
    """The all-null copy is not checked: the head-ablation summary still reads every seed's per-head drops."""
    tiny = {"train.steps": 4, "train.warmup_steps": 0, "train.eval_every": 2, "train.batch_size": 16, "n_train": 64,
            "n_val": 16, "n_test": 32, "d_model": 8, "n_heads": 2, "layers": 1, "beam_sizes": [1, 2],
            "exhaustive": False}
    check_divergence("addition-heads", tmp_path, {**tiny, "train.lr": HUGE_LR}, diverged=1, all_null=False)
