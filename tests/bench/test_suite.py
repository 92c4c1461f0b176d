"""The attention and generation benchmarks and the `blocklab bench` commands, at tiny sizes.
Timings are printed and stored, never asserted; memory and correctness are."""
from __future__ import annotations

import json
import sys

import pytest
import torch

from blocklab.bench import peers
from blocklab.bench.attention import attention_table, bench_attention
from blocklab.bench.generate import bench_generate, generate_table
from blocklab.bench.timing import Stats, table, time_alternately
from lab.tiny_study import run_cli as run

CPU = torch.device("cpu")


def test_stats_are_median_and_quartiles():
    s = Stats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.q1, s.q3, s.n) == (3.0, 2.0, 4.0, 5)
    assert Stats.of([0.5]).ms() == {"ms": 500.0, "q1_ms": 500.0, "q3_ms": 500.0}


def test_time_alternately_warms_up_then_calls_in_turn():
    calls = []
    stats = time_alternately({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and stats["a"].n == stats["b"].n == 3


def test_table_aligns_columns():
    lines = table(["name", "ms"], [["x", "1.5"], ["longer", "10.25"]]).splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[1].startswith("------")


def test_explicit_attention_memory_grows_quadratically_and_fused_does_not():
    r = bench_attention((64, 256), repeats=1, warmup=0, device=CPU)
    small, large = (row for row in r["rows"])
    explicit_growth = large["explicit"]["peak_bytes"] / small["explicit"]["peak_bytes"]
    fused_growth = large["fused"]["peak_bytes"] / small["fused"]["peak_bytes"]
    assert explicit_growth > 8  # T x4: T^2 x16, with the O(T) inputs' gradients diluting it
    assert fused_growth < 5 and large["fused"]["peak_bytes"] < large["explicit"]["peak_bytes"]
    assert "T grew 4x" in attention_table(r)


def test_generate_reports_both_modes_and_the_same_tokens():
    r = bench_generate(repeats=1, warmup=0, device=CPU, new_tokens=6)
    assert set(r["modes"]) == {"with cache", "without cache"} and r["same_tokens"] is True
    assert all(m["tokens_per_s"] > 0 for m in r["modes"].values())
    assert "same tokens with and without it: yes" in generate_table(r)


def test_bench_group_lists_every_benchmark(capsys):
    code, text, _ = run(capsys, "bench", "--help")
    assert code == 0
    for name in ("gpt", "attention", "generate", "engine", "stacked", "all"):
        assert name in text


def test_bench_gpt_writes_json_with_device_and_skipped_peer(capsys, tmp_path, monkeypatch):
    """Both sizes swapped for tiny ones; transformers hidden, so it must be reported as skipped
    with the command that installs it, and the output must say CUDA was not measured."""
    tiny = peers.GPTSize("tiny", n_layers=1, n_heads=2, d_model=8, context=8, batch=2, vocab=11)
    monkeypatch.setattr(peers, "SIZES", {"nanogpt-cpu": tiny, "gpt-6x384": tiny})
    monkeypatch.setitem(sys.modules, "transformers", None)
    code, text, err = run(capsys, "bench", "gpt", "--device", "cpu", "--repeats", "2", "--curve-steps", "3",
                          "--out", str(tmp_path))
    assert code == 0, err
    data = json.loads((tmp_path / "gpt.json").read_text())
    assert data["command"].startswith("blocklab bench gpt --threads 1 --device cpu")
    env = data["environment"]
    assert env["device"] == "cpu" and env["cuda_measured"] is False and env["threads"] == 1
    assert len(data["results"]["steps"]) == 2 and data["results"]["paper_base_mfu"] is None
    assert data["results"]["loss_curves"]["nanogpt-cpu"]["steps"] == 3
    assert "transformers" in text and "skipped" in text and "pip install" in text
    assert "CUDA was not measured here" in text and "fastest peer (torch.nn)" in text
    floor = data["results"]["steps"][0]["breakdown"]["floor"]
    assert floor["fastest_peer"] == "torch.nn" and f"alone take {floor['ratio']:.2f}x" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has the GPU the test asks for in vain")
def test_bench_rejects_an_unavailable_device(capsys, tmp_path):
    code, _, err = run(capsys, "bench", "attention", "--device", "cuda", "--out", str(tmp_path))
    assert code == 2 and "'cuda' is not available" in err
