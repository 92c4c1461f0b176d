"""`blocklab bench engine`: the table and the JSON it writes (timings are printed, never asserted)."""
from __future__ import annotations

import json

from lab.tiny_study import run_cli as run


def test_bench_engine_writes_every_contender_of_both_configs(capsys, tmp_path):
    out = tmp_path / "bench" / "engine.json"
    code, text, err = run(capsys, "bench", "engine", "--repeats", "2", "--out", str(out))
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["command"].startswith("blocklab bench engine --repeats 2")
    assert [r["config"] for r in data["results"]] == ["level1", "copilot"]
    for r in data["results"]:
        assert r["threads"] == 1 and r["repeats"] == 2
        for engine in ("numpy", "torch", "torch_fused"):
            for phase in ("forward", "step"):
                assert 0 < r[f"{engine}_{phase}_q1_ms"] <= r[f"{engine}_{phase}_ms"] <= r[f"{engine}_{phase}_q3_ms"]
        assert r["step_ratio_vs_torch"] > 0 and r["forward_ratio_vs_torch_fused"] > 0
    assert [line.split()[0] for line in text.splitlines()[1:5]] == ["level1"] * 2 + ["copilot"] * 2
    assert f"wrote {out}" in text


def test_bench_is_a_group_and_rejects_too_few_repeats(capsys, tmp_path):
    code, text, _ = run(capsys, "bench", "--help")
    assert code == 0 and "engine" in text
    code, _, err = run(capsys, "bench", "engine", "--repeats", "1", "--out", str(tmp_path / "x.json"))
    assert code == 2 and "--repeats" in err and not (tmp_path / "x.json").exists()
