"""Study training-dynamics (seed 001): the seed's model, its training, saving and loading."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from blocklab.errors import BlocklabError, ConfigError
from blocklab.nn import GPT
from blocklab.nn.models.operations import build_model, logits_for, model_config
from blocklab.studies.training_dynamics.model import answer_loss, train_model
from blocklab.studies.training_dynamics.record import (
    Recorder,
    RecordPlan,
    cluster_cosines,
    cosine_matrix,
    eta_squared,
    op_confusion,
    predict_logits,
    scores,
)
from blocklab.studies.training_dynamics.study import DynamicsConfig, TrainingDynamics, dynamics_cells, train_config
from blocklab.tasks.operations import OPS, TOKEN, encode, operations
from blocklab.train import TrainConfig
from blocklab.train.data import BatchSampler

from ..isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated


def test_the_seed_architecture_and_its_parameter_count():
    """2 blocks x (attention 4*64*64 + 4*64, FFN 64*256 + 256 + 256*64 + 64, two norms 4*64), the token table
    20*64, a final norm 2*64 and W_output 64*20 + b_output 20; sinusoidal positions have no parameters."""
    model = build_model(model_config())
    block = (4 * 64 * 64 + 4 * 64) + (64 * 256 + 256 + 256 * 64 + 64) + 4 * 64
    assert sum(p.numel() for p in model.parameters()) == 2 * block + 20 * 64 + 2 * 64 + 64 * 20 + 20 == 102676
    assert model.lm_head.bias is not None and model.lm_head.weight is not model.embed.tok.weight
    assert sum(p.numel() for p in build_model(model_config(n_layers=1)).parameters()) == 102676 - block


def test_logits_are_the_last_positions_and_the_loss_is_their_cross_entropy():
    torch.manual_seed(0)
    model = build_model(model_config(dropout=0.0)).eval()
    x, y, _ = operations(6, 0, 0, seed=0).splits["train"]
    full = model(x)  # (6, 8, 20)
    assert torch.equal(logits_for(model, x), full[:, -1])
    loss, metrics = answer_loss(model, (x, y))
    assert loss.item() == pytest.approx(F.cross_entropy(full[:, -1], y).item())
    assert metrics["acc"] == (full[:, -1].argmax(-1) == y).float().mean()
    with pytest.raises(BlocklabError, match="longer than the model's max_len=50"):
        logits_for(model, torch.zeros(1, 52, dtype=torch.long))


def test_the_answer_does_not_depend_on_tokens_after_it():
    """Causal: the logits at position t see positions <= t only, so a prefix gives the same logits."""
    torch.manual_seed(0)
    model = build_model(model_config(dropout=0.0)).eval()
    x = torch.tensor([encode("Max(5,3,9)")])
    assert torch.allclose(model(x)[:, :5], model(x[:, :5]), atol=1e-6)


def test_save_and_load_give_the_same_logits(tmp_path):
    torch.manual_seed(1)
    model = build_model(model_config(n_layers=1, d_ff=32)).eval()
    x = operations(5, 0, 0, seed=1).splits["train"][0]
    loaded = GPT.load(model.save(tmp_path / "model"))
    assert loaded.cfg == model.cfg and not loaded.training
    assert torch.equal(logits_for(loaded, x), logits_for(model, x))
    with pytest.raises(BlocklabError, match="config.json is missing"):
        GPT.load(tmp_path)
    (tmp_path / "model" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(BlocklabError, match="corrupt"):
        GPT.load(tmp_path / "model")


def test_a_short_training_run_learns_something():
    """60 Adam steps at lr 3e-3 move the answer loss well below chance (ln 20 ~ 3.0)."""
    torch.manual_seed(0)
    task = operations(640, 0, 200, seed=0)
    model = build_model(model_config(d_ff=64))
    result = train_model(task, model, TrainConfig(optimizer="adam", lr=3e-3, steps=60, batch_size=64, eval_every=None))
    assert result.final["test_loss"] < 2.3, result.final


# ---------------------------------------------------------------------- the recorder
def test_eta_squared_known_values():
    acts = torch.tensor([[1.0, 5.0, 2.0], [1.0, 5.0, 4.0], [3.0, 5.0, 2.0], [3.0, 5.0, 4.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert eta_squared(acts, labels).tolist() == [1.0, 0.0, 0.0]  # all, none (constant), none of the variance


def test_cluster_cosines_and_op_confusion_on_crafted_inputs():
    emb = torch.zeros(20, 3)
    emb[[TOKEN[o] for o in OPS], 0] = 1.0  # ops along x, digits along y: cos 1 within, 0 across
    emb[2:12, 1] = 1.0
    expected = {"cos_op_op": 1, "cos_digit_digit": 1, "cos_op_digit": 0}
    assert cluster_cosines(cosine_matrix(emb)) == pytest.approx(expected)
    x = torch.tensor([encode("Max(5,3,9)"), encode("Max(1,2,0)"), encode("First(4,4,7)"), encode("Min(8,6,8)")])
    y = torch.tensor([11, 4, 6, 8])  # 9, 2, 4, 6
    op = torch.tensor([3, 3, 0, 4])
    pred = torch.tensor([5, 4, 9, 3])  # 3: Second's and Min's answer; right; 7: Last's and Max's; 1: no op's
    table = op_confusion(pred, x, y, op)  # an answer can be several ops' answers: the columns overlap
    assert table[3] == [0, 50, 0, 50, 50, 0] and table[0] == [0, 0, 100, 100, 0, 0] and table[4] == [0] * 5 + [100]


def test_recorder_gradient_and_parameter_change_match_a_manual_step():
    """WHAT: with one update per epoch, epoch 1's grad_abs is the mean |gradient| of the first batch and
    param_change the mean |theta_1 - theta_0|. WHY: these curves are the seed's C001-09 table."""
    torch.manual_seed(0)
    task = operations(64, 16, 16, seed=0)
    model = build_model(model_config(dropout=0.0, d_ff=32))
    twin = copy.deepcopy(model)
    recorder = Recorder(task, RecordPlan(epoch_steps=1, snapshot_epochs=(0, 1)))
    recorder.start(model)
    train_model(task, model, TrainConfig(optimizer="sgd", momentum=0.0, lr=0.1, steps=2, batch_size=16,
                                          eval_every=None), callbacks=[recorder], splits=("train",))
    batch = BatchSampler(task.splits["train"], 16, seed=0).next()
    answer_loss(twin, batch)[0].backward()
    grads = torch.cat([p.grad.flatten() for p in twin.parameters()])
    curves = recorder.curves
    assert curves["epoch"] == [0, 1, 2] and curves["grad_abs"][0] is None
    assert curves["grad_abs"][1]["all"] == pytest.approx(grads.abs().mean().item(), rel=1e-5)
    assert curves["param_change"][1]["all"] == pytest.approx(0.1 * grads.abs().mean().item(), rel=1e-4)
    assert curves["tracked"][0]["embed Max[0]"] == pytest.approx(twin.embed.tok.weight[15, 0].item())
    assert len(curves["b_output"][2]) == 20 and len(curves["val_acc_op"][2]) == 5
    out = recorder.as_dict()
    assert out["snapshots"]["epoch"] == [0, 1] and len(out["embedding_pca"]["coords"]) == 3
    attention = torch.tensor(out["snapshots"]["attention"][1])  # (blocks, probes, heads, T, T)
    assert attention.shape == (2, 4, 4, 8, 8) and torch.allclose(attention.sum(-1), torch.ones(2, 4, 4, 8), atol=2e-3)
    assert sum(map(sum, out["confusion"]["digit"])) == 16 and len(out["ffn_mean"]["op"][0]) == 5


def test_a_budget_that_ends_inside_an_epoch_is_recorded_where_it_ends():
    torch.manual_seed(0)
    task = operations(64, 16, 16, seed=0)
    recorder = Recorder(task, RecordPlan(epoch_steps=4, full=False))
    model = build_model(model_config(d_ff=32))
    recorder.start(model)
    train_model(task, model, TrainConfig(optimizer="adam", steps=6, batch_size=16, eval_every=None),
                callbacks=[recorder], splits=("train",))
    assert recorder.curves["epoch"] == [0, 1, 1.5] and recorder.curves["step"] == [0, 4, 6]
    assert recorder.curves["test_acc"][-1] == pytest.approx(scores(predict_logits(model, task.splits["test"][0]),
                                                                   *task.splits["test"][1:3])["acc"])


def test_time_to_reads_the_first_check_over_the_threshold():
    recorder = Recorder(operations(10, 10, 10, seed=0), RecordPlan(epoch_steps=1))
    recorder.checks = {"step": [0, 5, 10], "cpu_s": [0.0, 2.0, 4.0], "wall_s": [0.0, 3.0, 6.0],
                       "val_acc": [5, 96, 99.5]}
    assert recorder.time_to(95) == {"step": 5, "cpu_s": 2.0, "wall_s": 3.0}
    assert recorder.time_to(99.9) == {"step": None, "cpu_s": None, "wall_s": None}


# ---------------------------------------------------------------------- the study
def test_the_seed_recipe_and_the_sweep_budgets():
    cfg = DynamicsConfig()
    cells = {c.name: c.params for c in dynamics_cells(cfg)}
    base, _ = train_config(cfg, cells["baseline-seed"], 10000, 0, "cpu")
    expected = ("adam", 1e-3, 32, "constant", 15600)
    assert (base.optimizer, base.lr, base.batch_size, base.schedule, base.steps) == expected
    assert train_config(cfg, cells["size-50000"], 50000, 0, "cpu")[0].steps == 3120  # same updates as 10 epochs of 10k
    assert train_config(cfg, cells["size-1000"], 1000, 0, "cpu")[0].steps == 3120
    assert train_config(cfg, cells["batch-1"], 10000, 0, "cpu")[0].steps == 10000  # capped at batch1_updates
    assert train_config(cfg, cells["batch-1000"], 10000, 0, "cpu")[0].steps == 100  # same examples
    step, _ = train_config(cfg, cells["schedule-step"], 10000, 0, "cpu")
    assert step.step_size == 1040 and step.warmup_steps == 0
    assert train_config(cfg, cells["schedule-warmup"], 10000, 0, "cpu")[0].warmup_steps == 312
    assert cells["ablate-no-attention"]["model"] == {"mixer": "mean"}
    assert sum(name.startswith("headline-") for name in cells) == 4
    with pytest.raises(ConfigError, match=r"DynamicsConfig.optimizers=\('adamw',\) is not valid"):
        DynamicsConfig(optimizers=("adamw",))


TINY = {"n_train": 64, "n_val": 40, "n_test": 40, "epochs": 2, "snapshot_epochs": [0, 1, 2], "headline_epochs": 1,
        "sweep_epochs": 1, "sizes": [32], "size_disjoint": [32], "batch_sizes": [1, 64], "batch1_updates": 8,
        "lrs": [0.1], "optimizers": ["sgd"], "schedules": ["step"], "ablations": ["no-residual", "no-attention"],
        "gen_n_train": 128, "gen_n_eval": 40, "gen_epochs": 1, "long_epochs": 2, "length_encodings": ["rope"],
        "test_lengths": [2], "n_length_rows": 5}


def test_the_study_runs_draws_every_figure_and_measures_every_claim(tmp_path):
    folder, results = run_isolated("training-dynamics", out=tmp_path, overrides=TINY)
    assert {r["status"] for r in results["runs"]} == {"done"}, [r["message"] for r in results["runs"]]
    figures = set(results["figures"])
    assert {"td_loss_accuracy.png", "td_per_op.png", "td_confusion.png", "td_attention_epoch1.png",
            "td_embeddings.png", "td_ffn_specialization.png", "td_gradients.png", "td_parameters.png",
            "td_sweep_optimizer.png", "td_sweep_lr.png", "td_sweep_schedule.png", "td_sweep_batch.png",
            "td_sweep_size.png", "td_ablations.png", "td_headline.png", "td_splits.png"} <= figures
    assert {m["claim_id"] for m in results["measurements"]} == set(TrainingDynamics.claims)
    assert any(r["cell"].startswith("gen-") for r in results["runs"]) and "C001-14" in TrainingDynamics.claims
    base = next(r for r in results["runs"] if r["cell"] == "baseline-seed")["metrics"]
    assert base["n_params"] == 102676 and len(base["record"]["curves"]["epoch"]) == 3
    assert base["mistakes"] and ": model says " in base["mistakes"][0]
    assert GPT.load(folder / "models" / "baseline-seed" / "seed0").cfg.n_layers == 2
    assert kept_kinds(folder) == {(r["cell"], 0): "GPT" for r in results["runs"]}  # every cell keeps its model


def test_a_huge_learning_rate_diverges_every_cell_and_the_study_still_reports(tmp_path):
    """Divergence shows on the second update, so batch-64 (one epoch of 64 rows: one update) finishes. The
    generalization cells are left out: at this size each makes one update too. The all-null copy is not checked:
    it would erase the recorder's epoch axis (0.5 where a run stopped mid-epoch), which a diverged run keeps."""
    huge = {"train.lr": HUGE_LR, "headline_lr": HUGE_LR, "lrs": [HUGE_LR], "parts": ["baseline", "headline", "sweeps"]}
    check_divergence("training-dynamics", tmp_path, {**TINY, **huge}, diverged=12, all_null=False)
