"""The attention viewer on a study page: a model the study saved, run in the page on any input.

A study whose runs save models (Study.viewers) says, per cell, how an input is typed and how the
model answers: a `Viewer`. The report looks for model folders in the run folder
(model_export.find_models), loads the first one of the first cell that has one with blocklab's
loader, and writes its weights and the Viewer beside the page as viewer/<page>.js, a script that
sets a global: a page opened from file:// may run a script beside it but not fetch a JSON file.
assets/transformer.js computes the model's forward pass in plain JavaScript and assets/viewer.js
draws every layer's and head's attention pattern and the greedy answer, with a box per head that
ablates it (its output zeroed before the output projection, as MultiHeadAttention.head_mask does).

Typed text becomes token ids in three steps (`read_input` here, the same in viewer.js):
whitespace is dropped; with `digits`, each run of digits is left-padded with zeros to that many
digits (a longer run is refused); then, from the left, the longest vocabulary entry that matches
is taken. The `suffix` tokens follow, and with `length` the input must be that many tokens.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import BlocklabError, ConfigError
from ..io import atomic_write_text
from .model_export import export_model, find_models, size_text

Effects = Mapping[str, Mapping[str, Sequence[float | None]]]  # label -> attention module path -> a value per head


@dataclass(frozen=True)
class Viewer:
    """How the page runs the model of one cell: its vocabulary, the inputs it offers, how it answers."""

    cell: str  # the cell whose saved model is shown
    vocab: tuple[str, ...]  # token id -> the text that types it
    examples: tuple[str, ...]  # inputs offered in the list, as typed
    answer_tokens: int = 1  # tokens the model writes greedily
    suffix: tuple[str, ...] = ()  # tokens put after the typed ones (a GPT's "=" before its answer)
    bos: str | None = None  # an encoder-decoder's first decoder token; None: a decoder-only model
    digits: int | None = None  # numbers are left-padded with zeros to this many digits
    length: int | None = None  # an input must be exactly this many tokens, before the suffix
    answer_note: str = ""  # how to read the answer
    effects: Mapping[int, Effects] = field(default_factory=dict)  # seed -> what ablating each head does

    def __post_init__(self) -> None:
        bad = next((t for t in self.vocab if not t or any(c.isspace() for c in t)), None)
        if bad is not None or len(set(self.vocab)) != len(self.vocab):
            raise ConfigError(f"Viewer.vocab has {bad!r}: each token must be non-empty text without spaces, "
                              "and no two alike")
        for name, tokens in (("suffix", self.suffix), ("bos", () if self.bos is None else (self.bos,))):
            missing = [t for t in tokens if t not in self.vocab]
            if missing:
                raise ConfigError(f"Viewer.{name} has {missing[0]!r}, which is not in the vocabulary "
                                  f"({', '.join(self.vocab)})")
        for name in ("answer_tokens", "digits", "length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"Viewer.{name}={value!r} is not valid; it must be a whole number >= 1")
        if not self.examples:
            raise ConfigError("Viewer.examples is empty; give at least one input to offer")
        for text in self.examples:
            read_input(text, self)  # an example the page could not read is the study's mistake: say so now

    def hint(self) -> str:
        return self.examples[0]

    def to_dict(self, seed: int) -> dict:
        """What viewer.js reads (JSON), with the effects of ablating each head of `seed`'s model."""
        return {"cell": self.cell, "seed": seed, "vocab": list(self.vocab), "examples": list(self.examples),
                "answer_tokens": self.answer_tokens, "suffix": list(self.suffix), "bos": self.bos,
                "digits": self.digits, "length": self.length, "answer_note": self.answer_note,
                "effects": self.effects.get(seed, {})}


def read_input(text: str, viewer: Viewer) -> list[int]:
    """Typed text -> token ids, as the page reads it (module docstring); a BlocklabError says what is wrong."""
    hint = f"write it like {viewer.hint()}"
    s = "".join(text.split())
    if viewer.digits is not None:
        long = next((m.group() for m in re.finditer(r"[0-9]+", s) if len(m.group()) > viewer.digits), None)
        if long is not None:
            raise BlocklabError(f"{long} has more than {viewer.digits} digits; {hint}")
        s = re.sub(r"[0-9]+", lambda m: m.group().zfill(viewer.digits), s)
    ids, i = [], 0
    by_length = sorted(range(len(viewer.vocab)), key=lambda k: -len(viewer.vocab[k]))
    while i < len(s):
        k = next((k for k in by_length if s.startswith(viewer.vocab[k], i)), None)
        if k is None:
            raise BlocklabError(f"cannot read {text!r}: no token starts with {s[i]!r}; {hint}")
        ids.append(k)
        i += len(viewer.vocab[k])
    if not ids or viewer.length is not None and len(ids) != viewer.length:
        raise BlocklabError(f"{text!r} is {len(ids)} tokens, not {viewer.length or 'at least 1'}; {hint}")
    return ids + [viewer.vocab.index(t) for t in viewer.suffix]


SCRIPTS = ("transformer.js", "viewer.js")  # assets/: the forward pass, then the viewer that runs it
HEADING = "<h2 id=viewer>Attention viewer</h2>"


def viewer_section(page: str, viewers: Sequence[Viewer], run_dir: Path, cells: Sequence[str],
                   out: Path) -> tuple[str, tuple[str, ...]]:
    """The viewer's section of `page` (HTML) and the scripts the page must run; its model is written to
    out/viewer/. ("", ()) if the study has no viewer.

    The model is the lowest seed's of the first of `viewers` whose cell has a saved model in
    `run_dir`; a run without one gets a line that says so instead.
    """
    if not viewers:
        return "", ()
    models = find_models(run_dir, cells, exclude=out)
    chosen = next(((v, seed) for v in viewers for seed in sorted(s for c, s in models if c == v.cell)), None)
    if chosen is None:
        wanted = " or ".join(dict.fromkeys(v.cell for v in viewers))
        return (f"{HEADING}<p class=small>No saved model of cell {escape(wanted)} is in "
                f"{escape(str(run_dir))}, so there is nothing to run here; a run of the study saves one.</p>"), ()
    viewer, seed = chosen
    folder = models[viewer.cell, seed]
    try:
        model = export_model(folder)
    except BlocklabError as err:
        return f"{HEADING}<p class=failed>The saved model could not be read: {escape(str(err))}</p>", ()
    key = page.removesuffix(".html")
    script = f"viewer/{key}.js"
    data = json.dumps({"model": model, "viewer": viewer.to_dict(seed), "folder": str(folder.resolve())},
                      separators=(",", ":"))
    atomic_write_text(out / script, f"(window.BLOCKLAB_MODELS = window.BLOCKLAB_MODELS || {{}})[{json.dumps(key)}] = "
                                    f"{data};\n")
    return (f"{HEADING}<section class=viewer id='viewer-{escape(key)}' "
            f"data-model='{escape(key)}'><p>The model of cell <code>{escape(viewer.cell)}</code>, seed {seed} "
            f"({escape(model['kind'])}, {model['parameters']:,} parameters), run by this page: pick an input or type "
            "one, and every layer's attention is drawn for it, each head on its own (rows: the positions that "
            "attend; columns: the positions attended to; darker is more weight). Tick a head to ablate it (its "
            "output set to zero before the output projection) and see the answer change.</p>"
            f"<p class=small>Weights: <code>{escape(str(folder))}</code>, {size_text(out / script)} as "
            f"<code>{escape(script)}</code>.</p><noscript>The viewer needs JavaScript.</noscript></section>"
            f"<script src='{escape(script)}'></script>"), SCRIPTS
