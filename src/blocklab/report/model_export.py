"""A run's saved models, found in its folder and exported for the page's JavaScript (report/viewer.py).

A model folder is any folder holding config.json and model.safetensors (blocklab.nn.models.saving);
a study keeps one per (cell, seed) somewhere below its run folder, in a path that names the cell
and then the seed: `work/<cell>/seed<k>/model`, `models/<cell>/seed<k>`. Only that pair of folder
names is read here, so where a study puts its folders is its own business.

The export is what assets/transformer.js reads: the model's kind and config, and its tensors by
their state-dict names (a tied weight once, its other names as aliases), as float32 in one
base64 string: 4/3 bytes of text per byte of weights.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..nn.models.saving import CONFIG, WEIGHTS, load_any

_SEED = re.compile(r"^seed(\d+)$")


def find_models(run_dir: Path, cells: Sequence[str], exclude: Path | None = None) -> dict[tuple[str, int], Path]:
    """{(cell, seed): model folder} below `run_dir` for the given cells; of two folders for one pair, the one
    nearer run_dir (then the first by name). Folders below `exclude` (the report being written) are skipped."""
    found: dict[tuple[str, int], Path] = {}
    skip = exclude.resolve() if exclude is not None else None
    configs = sorted(run_dir.rglob(CONFIG), key=lambda p: (len(p.parts), str(p)))
    for config in configs:
        folder = config.parent
        if not (folder / WEIGHTS).is_file() or skip is not None and skip in folder.resolve().parents:
            continue
        parts = folder.relative_to(run_dir).parts
        for i in range(1, len(parts)):
            match = _SEED.match(parts[i])
            if match and parts[i - 1] in cells:
                found.setdefault((parts[i - 1], int(match.group(1))), folder)
                break
    return found


def export_model(folder: Path) -> dict:
    """The model saved in `folder` as transformer.js reads it (module docstring); BlocklabError if unreadable."""
    model = load_any(folder)
    tensors, aliases, chunks, offset = {}, {}, [], 0
    first: dict[tuple, str] = {}
    for name, t in model.state_dict().items():
        if not t.is_floating_point():
            continue
        key = (t.data_ptr(), tuple(t.shape), t.stride())
        if key in first:  # a tied weight: stored once
            aliases[name] = first[key]
            continue
        first[key] = name
        values = t.detach().float().cpu().numpy().astype("<f4").ravel()
        tensors[name] = {"offset": offset, "shape": list(t.shape)}
        chunks.append(values)
        offset += values.size
    data = np.concatenate(chunks) if chunks else np.zeros(0, dtype="<f4")
    cfg = model.cfg
    return {"kind": type(model).__name__, "config": cfg.to_dict(), "use_final_norm": cfg.use_final_norm,
            "parameters": int(data.size), "tensors": tensors, "aliases": aliases,
            "data": base64.b64encode(data.tobytes()).decode("ascii")}


def size_text(path: Path) -> str:
    """A file's size in words: "548 KB"."""
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"
