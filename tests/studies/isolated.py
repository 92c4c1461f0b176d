"""Run one registered study at a tiny size with no other study module imported, so that a
study's tests do not depend on the state of the others."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch

from blocklab.cli import main
from blocklab.lab import registry, runner
from blocklab.nn import Seq2SeqTransformer
from blocklab.nn.models import saving
from blocklab.nn.models.saving import load_any
from blocklab.report import results as res
from blocklab.report.gallery import matching
from blocklab.train.checkpoint import model_tensors, read_checkpoint

HUGE_LR = 1e6  # no trainer survives an update this large: the step after the first diverges


def run_isolated(name: str, out: Path, seeds: int = 1, overrides: dict[str, Any] | None = None) -> tuple[Path, dict]:
    """(run folder, loaded results.json) of `blocklab run NAME --quick` with these --set overrides."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        folder = runner.run_study(name, seeds=seeds, quick=True, out=out, overrides=overrides or {})
    results = res.load(folder / "results.json")
    check_claim_figures(name, results)
    return folder, results


def check_claim_figures(name: str, results: dict) -> None:
    """Each claim the run measured (a part with values) has a figure of its card (Study.claim_figures) drawn."""
    measured = {m["claim_id"] for m in results["measurements"] if m["values"]}
    patterns = registry.STUDIES[name].claim_figures
    bare = sorted(c for c in measured if not matching(patterns.get(c, ()), results["figures"]))
    assert not bare, f"{name}: claims measured with none of their figures drawn: {bare}; drawn: {results['figures']}"


def run_cli_isolated(*args: str) -> int:
    """`blocklab ARGS` in this process, with only the studies imported so far registered; its exit code."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (registry, runner):
            mp.setattr(module, "load_all", lambda: None)
        mp.setenv("BLOCKLAB_NO_PROGRESS", "1")
        try:
            main(list(args))
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else 1
    return 0


def check_divergence(name: str, out: Path, overrides: dict[str, Any], diverged: int, seeds: int = 1,
                     all_null: bool = True) -> dict:
    """`blocklab run NAME --quick --seeds SEEDS --set ...` where the overrides give every trainer HUGE_LR: exit 0,
    a complete results.json in which `diverged` pairs are recorded as diverged and the others as done, figures and
    measurements; then, with `all_null`, check_survives_divergence on the same results with every float null (a
    study whose own tests already do that passes False). Returns the results."""
    sets = [arg for key, value in overrides.items() for arg in ("--set", f"{key}={json.dumps(value)}")]
    code = run_cli_isolated("run", name, "--quick", "--jobs", "1", "--seeds", str(seeds), "--out", str(out), *sets)
    results = res.load(out / "results.json")
    statuses = [r["status"] for r in results["runs"]]
    assert code == 0 and results["complete"] and "error" not in results, [r["message"] for r in results["runs"]]
    assert statuses.count("diverged") == diverged and statuses.count("done") == len(statuses) - diverged, statuses
    assert all(r["metrics"].get("diverged") for r in results["runs"] if r["status"] == "diverged")
    assert results["figures"] and {m["claim_id"] for m in results["measurements"]} == set(registry.STUDIES[name].claims)
    if all_null:
        check_survives_divergence(name, results, out / "poisoned")
    return results


def kept_kinds(folder: Path) -> dict[tuple[str, int], str]:
    """{(cell, seed): the class name of the model load_any reads from folder/models/CELL/seedK}, for every
    model the run kept (docs/models.md, "Models a study keeps")."""
    return {(p.parent.name, int(p.name.removeprefix("seed"))): type(load_any(p)).__name__
            for p in (folder / "models").glob("*/seed*")}


def probe_logits(model) -> torch.Tensor:
    """The model's eval-mode logits on fixed random tokens; the mode it was in is given back."""
    x = torch.randint(0, model.cfg.vocab_size, (3, min(model.cfg.max_len, 7)),
                      generator=torch.Generator().manual_seed(0))  # (B, T)
    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    with torch.no_grad():
        args = (x, x.flip(1)) if isinstance(model, Seq2SeqTransformer) else (x,)  # (src, tgt) or (idx,)
        out = model(*(a.to(device) for a in args)).cpu()
    model.train(was_training)
    return out


@contextlib.contextmanager
def saves_seen() -> Iterator[dict[Path, torch.Tensor]]:
    """While open, {folder: probe_logits of the model as model.save wrote it there} for every save."""
    seen: dict[Path, torch.Tensor] = {}
    save = saving.SavedModel.save

    def spy(self, folder, tokenizer=None):
        path = save(self, folder, tokenizer)
        seen[path.resolve()] = probe_logits(self)
        return path

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(saving.SavedModel, "save", spy)
        yield seen


def check_kept(folder: Path, results: dict, seen: dict[Path, torch.Tensor], kinds: dict[str, type],
               stacked: bool = False) -> None:
    """Each pair's model is in models/CELL/seedK, of the cell's kind (kinds[cell]), with the logits it had when it
    was saved (`seen`, from saves_seen) and the weights of the trainer's final checkpoint: the trained model.
    Seeds trained together (`stacked`) write no checkpoint: there is none to compare, and none must be there."""
    assert {r["status"] for r in results["runs"]} == {"done"}
    for run in results["runs"]:
        kept = (folder / "models" / run["cell"] / f"seed{run['seed']}").resolve()
        model = load_any(kept)
        assert type(model) is kinds[run["cell"]] and not model.training
        assert torch.equal(probe_logits(model), seen[kept]), f"{kept} does not give the saved model's logits"
        final = read_checkpoint(folder / "work" / run["cell"] / f"seed{run['seed']}" / "checkpoint")
        if stacked:
            assert final is None, "a stacked pair wrote a checkpoint: it trained alone"
            continue
        assert final.state["step"] == results["config"]["train"]["steps"]
        ours = model_tensors(model)
        assert ours.keys() == final.model.keys() and all(torch.equal(ours[k], final.model[k]) for k in ours)


def diverged_copy(results: dict) -> dict:
    """`results` as if every training pair had diverged: each run "diverged" with diverged=true, and every float in
    its metrics null (as a NaN is stored), while counts and steps (ints) stay. Figures, tables and measurements of
    a study must read it without raising."""
    def poison(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: True if k == "diverged" else poison(v) for k, v in value.items()}
        if isinstance(value, list):
            return [poison(v) for v in value]
        return None if isinstance(value, float) else value

    copy = {**results, "runs": [{**r, "status": "diverged", "metrics": poison(r["metrics"])} for r in results["runs"]]}
    copy["aggregates"] = res.aggregate(copy)
    return copy


def check_survives_divergence(name: str, results: dict, fig_dir: Path) -> None:
    """The study's figures, measurements and tables all come out of diverged_copy(results)."""
    study = registry.STUDIES[name]()
    poisoned = diverged_copy(results)
    names = runner.draw_figures(study, poisoned, fig_dir)
    assert names and all((fig_dir / "figures" / n).is_file() for n in names)
    assert study.measure(poisoned) is not None and study.tables(poisoned) is not None
