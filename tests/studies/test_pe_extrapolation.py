"""pe-extrapolation: each encoding past the training length, the probes, and a tiny full run."""
import json

import pytest
import torch

from blocklab.errors import BlocklabError
from blocklab.studies.pe_extrapolation import parts
from blocklab.studies.pe_extrapolation.figures import SEED_FIGURES
from blocklab.studies.pe_extrapolation.study import PEConfig, data_seed
from blocklab.tasks.sortedness import sortedness

from .isolated import HUGE_LR, check_divergence, kept_kinds, run_isolated

N_VALUES, MAX_LEN = 16, 16


def model(encoding, arch="gpt", overflow="clamp", span=0):
    torch.manual_seed(0)
    task = sortedness(8, 0, 0, seed=0, n_values=N_VALUES)
    return parts.build_model(arch, encoding, task, N_VALUES, MAX_LEN, width=32, layers=2, heads=4,
                             overflow=overflow, span=span).eval()


def inputs(length, n=4, seed=1):
    return sortedness(n, 0, 0, seed=seed, lengths=(length,), n_values=N_VALUES).splits["train"][0]


def test_learned_error_policy_raises_past_the_table():
    """The error names the first position past the table and the table's size."""
    with pytest.raises(BlocklabError, match=r"position 31 is past the learned position table \(max_len=16\)"):
        model("learned", overflow="error")(inputs(32))
    assert model("learned", overflow="error")(inputs(16)).shape == (4, 2)


def test_learned_clamp_policy_reuses_the_last_row():
    pe = parts.positional(model("learned"))
    added = pe.embed(torch.zeros(1, 40, 32), torch.arange(40))[0]  # (40, D): the vectors added per position
    assert torch.equal(added[MAX_LEN:], added[MAX_LEN - 1].expand(40 - MAX_LEN, 32))
    assert not torch.equal(added[MAX_LEN - 2], added[MAX_LEN - 1])


@pytest.mark.parametrize("encoding", ["sinusoidal", "alibi", "rope", "none", "learned"])
def test_finite_outputs_at_1000_from_a_model_built_for_16(encoding):
    """Seed 000's longest test: every encoding but learned-with-error runs there (learned clamps)."""
    out = model(encoding)(inputs(1000, n=2))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_sinusoidal_past_the_buffer_continues_the_formula():
    pe = parts.positional(model("sinusoidal"))
    far = pe.embed(torch.zeros(1, 64, 32), torch.arange(64))[0]
    assert torch.allclose(far[:MAX_LEN], pe.table)  # the buffer and the computed rows agree
    assert not torch.allclose(far[MAX_LEN], far[MAX_LEN - 1])  # and later positions stay distinct


def test_randomized_positions_are_sorted_samples_within_the_span():
    wrapped = model("sinusoidal", span=64).gpt.embed.pos
    sample = wrapped._remap(torch.arange(20))
    assert bool((sample[1:] > sample[:-1]).all()) and int(sample.max()) < 64
    assert torch.isfinite(model("rope", span=300)(inputs(256))).all()
    with pytest.raises(BlocklabError, match="exceeds the sampling span"):
        model("alibi", span=64)(inputs(128))


def test_readout_ignores_padding_after_the_last_token():
    """WHAT: a right-padded row gets the same logits as the same row unpadded.
    WHY: the causal mask must hide the padding, or the length would leak through it."""
    m, x = model("rope"), inputs(10)
    padded = torch.cat([x, torch.full((4, 6), N_VALUES)], dim=1)
    assert torch.allclose(m(x), m(padded), atol=1e-6)


def test_no_positions_is_permutation_invariant_only_without_a_mask():
    x = inputs(16, n=16)
    assert parts.permutation_gap(model("none", arch="encoder"), x, seed=0) < 1e-5
    assert parts.permutation_gap(model("none"), x, seed=0) > 1e-4  # the causal mask orders the tokens


def test_structure_score_separates_noise_from_a_smooth_table():
    noise = torch.randn(16, 32, generator=torch.Generator().manual_seed(0))
    smooth = parts.positional(model("sinusoidal")).table  # (16, 32), varies slowly with position
    assert abs(parts.structure_score(noise)) < 0.2
    assert parts.structure_score(smooth) > 0.5


def test_position_kernels():
    assert torch.equal(parts.position_kernel(model("none"), 8), torch.ones(8, 8))
    rope = parts.position_kernel(model("rope"), 8)
    assert torch.allclose(rope.diagonal(), torch.ones(8)) and torch.allclose(rope[0, 3], rope[2, 5], atol=1e-6)
    alibi = parts.position_kernel(model("alibi"), 8)
    assert alibi[0, 1] > alibi[0, 5]  # ALiBi scales down far keys


def test_first_vs_last_at_mixed_lengths_answers_the_query():
    x, y, lens = parts.first_vs_last_mixed(90, seed=0, lengths=(3, 5, 7), n_symbols=N_VALUES).splits["train"]
    last = x[torch.arange(90), lens - 1]
    asks_first = x[:, 0] == N_VALUES
    assert torch.equal(y[asks_first], x[asks_first, 1]) and torch.equal(y[~asks_first], last[~asks_first])
    assert sorted(torch.bincount(lens).nonzero().flatten().tolist()) == [4, 6, 8]  # query + L symbols
    assert bool((x[torch.arange(8)[None, :] >= lens[:, None]] == N_VALUES + 2).all())  # PAD after the end


def test_config_checks_names_and_span_and_data_seeds_are_disjoint():
    with pytest.raises(BlocklabError, match=r"PEConfig.encodings=.*values from: 'sinusoidal'"):
        PEConfig(encodings=("sinusoidal", "absolute"))
    with pytest.raises(BlocklabError, match="random_span"):
        PEConfig(randomized=("rope",), random_span=512)  # the 1000-token test would not fit
    seeds = [data_seed(s, p, n) for s in range(5) for p in ("train", "val", "held-out", "test", "probe")
             for n in (0, 8, 256, 1000)]
    assert len(set(seeds)) == len(seeds)


def test_tiny_run_writes_results_figures_and_measurements(tmp_path):
    overrides = {"train.steps": 4, "train.warmup_steps": 0, "train.batch_size": 16, "n_train": 64, "n_val": 32,
                 "n_eval": 8, "n_eval_far": 2, "test_lengths": [8, 32], "far_length": 40,
                 "encodings": ["learned", "rope"], "randomized": ["rope"]}
    folder, results = run_isolated("pe-extrapolation", out=tmp_path, overrides=overrides)
    assert {r["status"] for r in results["runs"]} == {"done"}
    assert set(SEED_FIGURES) <= set(results["figures"])
    assert all((folder / "figures" / f).is_file() for f in SEED_FIGURES)
    # the causal-GPT parts of C002-05/06 and C000-11 belong to length-generalization's leaderboard
    assert {m["claim_id"] for m in results["measurements"]} == {"C002-06", "C002-07"}
    assert {m["part"] for m in results["measurements"] if m["claim_id"] == "C002-06"} == {
        "sortedness, none (encoder, no mask): at chance on the training lengths"}
    kinds = {"gpt": "GPT", "encoder": "EncoderClassifier"}  # randomized positions are not kept: no config has them
    assert kept_kinds(folder) == {(r["cell"], 0): kinds[r["metrics"]["arch"]] for r in results["runs"]
                                  if not r["metrics"]["randomized"]}
    for run in results["runs"]:
        m = run["metrics"]
        assert set(m["acc"]) == {"8", "32", "40"} and all(0 <= a <= 100 for a in m["acc"].values())
        if m["encoding"] == "learned":
            assert m["error_policy"]["8"] == "" and "past the learned position table" in m["error_policy"]["32"]
    summary = json.loads((folder / "extrapolation_results.json").read_text())
    assert set(summary["tasks"]) == {"sortedness", "first-vs-last"}
    assert summary["tasks"]["sortedness"]["sortedness-rope"]["accuracy_by_length"]["32"]["per_seed"]
    assert summary["tasks"]["sortedness"]["sortedness-learned"]["error_policy"]["32"].startswith("BlocklabError")


def test_a_huge_learning_rate_diverges_every_model_and_the_study_still_reports(tmp_path):
    tiny = {"train.steps": 4, "train.warmup_steps": 0, "train.batch_size": 16, "n_train": 64, "n_val": 32,
            "n_eval": 8, "n_eval_far": 2, "test_lengths": [8, 32], "far_length": 40, "encodings": ["learned", "rope"],
            "randomized": ["rope"]}
    check_divergence("pe-extrapolation", tmp_path, {**tiny, "train.lr": HUGE_LR}, diverged=7)
