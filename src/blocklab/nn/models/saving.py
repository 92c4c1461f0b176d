"""One folder format for every blocklab model: `model.save(folder)`, `GPT.load(folder)`, `load_any(folder)`.

    folder/
      config.json        {"format": "blocklab-model", "format_version": 1, "kind": "GPT",
                          "config": {the GPTConfig's fields}, "head_bias": false, "tokenizer": true}
      model.safetensors  weights, a tied weight once (the tensors of blocklab.train's checkpoints)
      tokenizer.json     when the model was saved with a tokenizer (blocklab.tokenizers' schema)

config.json is written last and removed first, so it is the commit record: a save that is
interrupted leaves a folder without config.json (loading says so), never a config of one
save beside the weights of another. Each file is replaced atomically. model.safetensors holds
exactly what the trainer's checkpoint holds, so saving into a finished run's checkpoint/
folder makes it a model folder without invalidating the checkpoint.

Read as well: folders of format_version 0, a config.json of bare GPTConfig fields (the numpy
engine's checkpoints and the training-dynamics study's model folders); an lm_head.bias in
their weights means a GPT with a biased output layer. Every way a folder can be wrong is one
BlocklabError line naming the file and what is wrong.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ...autograd.gpt import GPT as NumpyGPT
from ...autograd.gpt import check_config
from ...config.check import short_repr
from ...errors import BlocklabError, ConfigError
from ...io import atomic_write_bytes, atomic_write_text, read_bytes, read_json
from ...tokenizers import Tokenizer, read_tokenizer, tokenizer_json

FORMAT, FORMAT_VERSION = "blocklab-model", 1
CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", "tokenizer.json"
ENGINES = ("torch", "numpy")


class SavedModel:
    """Mixed into each model class: save and load in the folder format. Each subclass is a `kind`."""

    kinds: dict[str, type] = {}
    config_class: type
    extra_fields: tuple[str, ...] = ()  # constructor arguments that config.json records beside the config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        SavedModel.kinds[cls.__name__] = cls

    def save(self, folder: str | Path, tokenizer: Tokenizer | None = None) -> Path:
        """Write config.json, model.safetensors and (with a tokenizer) tokenizer.json to `folder`."""
        from ...train.checkpoint import model_tensors  # blocklab.train imports blocklab.nn

        return write_folder(folder, type(self).__name__, self.cfg.to_dict(), self.format_extras(),
                            save_tensors(model_tensors(self)), tokenizer)

    @classmethod
    def load(cls, folder: str | Path, engine: str = "torch"):
        """The model saved in `folder`, in eval mode; a folder of another kind is refused in one line."""
        return load_model(folder, kind=cls.__name__, engine=engine)

    def format_extras(self) -> dict[str, Any]:
        """Constructor arguments beyond the config that config.json records (GPT: head_bias)."""
        return {}


def write_folder(folder: str | Path, kind: str, config: dict[str, Any], extras: dict[str, Any], weights: bytes,
                 tokenizer: Tokenizer | None) -> Path:
    """The folder format from its parts; shared by both engines (weights: safetensors bytes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG).unlink(missing_ok=True)  # uncommitted until the new config.json lands
    atomic_write_bytes(folder / WEIGHTS, weights)
    if tokenizer is not None:
        atomic_write_text(folder / TOKENIZER, tokenizer_json(tokenizer))
    else:
        (folder / TOKENIZER).unlink(missing_ok=True)
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "config": config, **extras,
              "tokenizer": tokenizer is not None}
    atomic_write_text(folder / CONFIG, json.dumps(record, indent=1))
    return folder


@dataclass
class Saved:
    """A model folder read and checked, before any model is built."""

    folder: Path
    version: int
    kind: str
    config: Any  # the kind's config dataclass, validated
    extras: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    has_tokenizer: bool


def read_folder(folder: str | Path) -> Saved:
    """config.json and model.safetensors of `folder`, checked; see the module docstring."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BlocklabError(f"model folder {folder} does not exist")
    record = _read_config(folder)
    path = folder / CONFIG
    if "format" not in record and "kind" not in record:  # version 0: bare GPTConfig fields
        version, kind, config, extras = 0, "GPT", record, {}
    else:
        version, kind, config, extras = _read_record(path, record)
    cls = SavedModel.kinds[kind]
    unknown = [k for k in extras if k not in cls.extra_fields]
    if unknown:
        valid = ", ".join(["format", "format_version", "kind", "config", "tokenizer", *cls.extra_fields])
        raise BlocklabError(f"{path} has a key {unknown[0]!r} that a {kind} does not have; valid keys: {valid}")
    try:
        cfg = cls.config_class.from_dict(config)
    except (ConfigError, TypeError) as err:
        raise BlocklabError(f"{path}: {err}") from None
    tensors = _read_weights(folder / WEIGHTS)
    if version == 0:
        extras = {"head_bias": "lm_head.bias" in tensors}
        has_tokenizer = (folder / TOKENIZER).is_file()
    else:
        has_tokenizer = bool(record.get("tokenizer"))
    return Saved(folder, version, kind, cfg, extras, tensors, has_tokenizer)


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG
    if not path.is_file():
        raise BlocklabError(_missing_config(folder))
    record = read_json(path, "model config", dict)
    if "model_type" in record:
        raise BlocklabError(f"{path} is a Hugging Face config (model_type {record['model_type']!r}), not a blocklab "
                            "model; import a GPT-2 folder with GPT.from_hf(folder)")
    return record


def _missing_config(folder: Path) -> str:
    """Why a folder without config.json is not a model folder, and where one may be."""
    kept = _its_model(folder)
    kept_hint = f"; its model folder is {kept}" if kept else ""
    if (folder / "state.json").is_file():
        return (f"{folder / CONFIG} is missing: {folder} is a training checkpoint (weights and optimizer state, not "
                f"the model's settings); a model folder is written by model.save(folder){kept_hint}")
    nearby = [f"{sub}/" for sub in ("model", "checkpoint") if (folder / sub / CONFIG).is_file()]
    hint = f"; {folder} has a model folder in {' and '.join(nearby)}" if nearby else kept_hint
    return f"{folder / CONFIG} is missing: a model folder holds {CONFIG}, {WEIGHTS} (and {TOKENIZER}){hint}"


def _its_model(folder: Path) -> Path | None:
    """The model folder that goes with a trainer's folder, if there is one: the folder above a checkpoint/ (what
    `blocklab train-lm` writes), or RUN/models/CELL/seedK, where a study keeps the final model of the pair whose
    trainer wrote RUN/work/CELL/seedK[/checkpoint]."""
    pair = folder.parent if folder.name == "checkpoint" else folder
    candidates = [pair] if pair != folder else []
    if pair.parent.parent.name == "work":
        candidates.append(pair.parent.parent.parent / "models" / pair.parent.name / pair.name)
    return next((c for c in candidates if (c / CONFIG).is_file()), None)


def _read_record(path: Path, record: dict[str, Any]) -> tuple[int, str, dict[str, Any], dict[str, Any]]:
    if record.get("format") != FORMAT:
        raise BlocklabError(f"{path} is not a blocklab model config: \"format\" is {record.get('format')!r}, "
                            f"not {FORMAT!r}")
    version = record.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise BlocklabError(f"{path} has format_version {version!r}; this blocklab reads versions 0 to "
                            f"{FORMAT_VERSION} (a newer blocklab wrote it?)")
    kind = record.get("kind")
    if kind not in SavedModel.kinds:
        raise BlocklabError(f"{path} has kind {kind!r}; choose one of: {', '.join(map(repr, SavedModel.kinds))}")
    config = record.get("config")
    if not isinstance(config, dict):
        raise BlocklabError(f"{path} has no \"config\" object of {kind}'s settings")
    if not isinstance(record.get("tokenizer", False), bool):
        raise BlocklabError(f"{path} has \"tokenizer\": {short_repr(record['tokenizer'])}; it must be true or false")
    known = {"format", "format_version", "kind", "config", "tokenizer"}
    return version, kind, config, {k: v for k, v in record.items() if k not in known}


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BlocklabError(f"{path} is missing: a model folder holds {CONFIG}, {WEIGHTS} (and {TOKENIZER})")
    try:
        return load_tensors(read_bytes(path, "model weights"))
    except SafetensorError as err:
        raise BlocklabError(f"{path} is corrupt: not a readable safetensors file ({err})") from None


def check_tensors(expected: dict[str, tuple[int, ...]], found: dict[str, torch.Tensor], path: Path) -> None:
    """The first name or shape that differs between what the config builds and what the file holds, in one line."""
    missing = [n for n in expected if n not in found]
    if missing:
        raise BlocklabError(f"{path} has no tensor {missing[0]!r} that {CONFIG}'s settings need "
                            f"({len(missing)} missing in all)")
    extra = [n for n in found if n not in expected]
    if extra:
        raise BlocklabError(f"{path} has a tensor {extra[0]!r} that {CONFIG}'s settings do not build "
                            f"({len(extra)} unexpected in all)")
    for name, shape in expected.items():
        if tuple(found[name].shape) != tuple(shape):
            raise BlocklabError(f"{path}: tensor {name!r} has shape {tuple(found[name].shape)}, but {CONFIG}'s "
                                f"settings give {tuple(shape)}")


def tensor_shapes(cls: type, config: Any, extras: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the tensors model_tensors would store for this model, built on the meta device so
    that nothing is allocated: a config far too big for its weights is refused before it costs memory.
    A tied weight is one Parameter under two names, so it is counted once, under its first."""
    with torch.device("meta"):
        model = cls(config, **extras)
    seen: set[int] = set()
    shapes = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) not in seen:
            seen.add(id(t))
            shapes[name] = tuple(t.shape)
    return shapes


def build_torch(saved: Saved):
    """The blocklab.nn model a checked folder describes, with its weights, in eval mode."""
    from ...train.checkpoint import load_model_tensors  # blocklab.train imports blocklab.nn

    cls = SavedModel.kinds[saved.kind]
    check_tensors(tensor_shapes(cls, saved.config, saved.extras), saved.tensors, saved.folder / WEIGHTS)
    model = cls(saved.config, **saved.extras)
    floats = [t.dtype for t in saved.tensors.values() if t.is_floating_point()]
    model = model.to(floats[0]) if floats else model
    load_model_tensors(model, saved.tensors, saved.folder / WEIGHTS)
    return model.eval()


def build_numpy(saved: Saved, dtype=None):
    """The numpy-engine GPT a checked folder describes (in `dtype`, else the file's float type); a setting
    that engine lacks is refused in one line."""
    path = saved.folder / CONFIG
    if saved.kind != "GPT":
        raise BlocklabError(f"{saved.folder} holds a {saved.kind}; the numpy engine has only a GPT")
    try:
        check_config(saved.config)
    except ConfigError as err:
        raise BlocklabError(f"{path}: {err}") from None
    if saved.extras.get("head_bias"):
        raise BlocklabError(f"{path}: head_bias=True (a bias on the output layer) is not available in the numpy "
                            "engine; load it with engine='torch'")
    # blocklab.nn's GPT stores the same tensors under the same names: its shapes, on the meta device, are
    # checked before numpy allocates what a far too big config.json asks for
    check_tensors(tensor_shapes(SavedModel.kinds["GPT"], saved.config, saved.extras), saved.tensors,
                  saved.folder / WEIGHTS)
    floats = [t.dtype for t in saved.tensors.values() if t.is_floating_point()]
    if dtype is None:
        dtype = np.float64 if floats and floats[0] == torch.float64 else np.float32
    model = NumpyGPT(saved.config, dtype=dtype)
    expected = {n: tuple(p.shape) for n, p in model.named_parameters()}  # a tied weight once, as stored
    check_tensors(expected, saved.tensors, saved.folder / WEIGHTS)
    model.load_state_dict({n: t.numpy() for n, t in saved.tensors.items()})
    return model.eval()


def read_kind(folder: str | Path, kind: str | None = None, engine: str = "torch") -> Saved:
    """read_folder, refusing in one line a folder of another kind than `kind` (None: any) or an unknown engine."""
    if engine not in ENGINES:
        raise BlocklabError(f"engine={engine!r} is not valid; choose one of: {', '.join(map(repr, ENGINES))}")
    saved = read_folder(folder)
    if kind is not None and saved.kind != kind:
        article = "an" if saved.kind[0] in "AEIOU" else "a"
        raise BlocklabError(f"{saved.folder} is {article} {saved.kind} checkpoint, not a {kind}; load it with "
                            f"{saved.kind}.load or load_any")
    return saved


def build(saved: Saved, engine: str = "torch"):
    return build_torch(saved) if engine == "torch" else build_numpy(saved)


def load_model(folder: str | Path, kind: str | None = None, engine: str = "torch"):
    """The model saved in `folder` (any kind, or only `kind`), built by `engine`, in eval mode."""
    return build(read_kind(folder, kind, engine), engine)


def load_any(folder: str | Path, engine: str = "torch"):
    """The model saved in `folder`, as its own class (GPT, Seq2SeqTransformer, EncoderClassifier)."""
    return load_model(folder, engine=engine)


def load_tokenizer(folder: str | Path) -> Tokenizer | None:
    """The tokenizer saved with the model in `folder`, or None if it was saved without one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BlocklabError(f"model folder {folder} does not exist")
    record = _read_config(folder)
    versioned = "format" in record or "kind" in record
    if not (record.get("tokenizer") if versioned else (folder / TOKENIZER).is_file()):
        return None
    tok = read_tokenizer(folder / TOKENIZER)
    vocab = (record.get("config") if versioned else record) or {}
    if isinstance(vocab.get("vocab_size"), int) and tok.vocab_size > vocab["vocab_size"]:
        raise BlocklabError(f"{folder / TOKENIZER} has {tok.vocab_size} tokens, more than {CONFIG}'s "
                            f"vocab_size={vocab['vocab_size']}: they were not saved together")
    return tok
