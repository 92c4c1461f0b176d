"""Python source as a character corpus, for seed 004's "Copilot" autocomplete demo.

Files: every *.py under a root, by default the standard library of the running interpreter
(sysconfig.get_paths()["stdlib"]), except tests and third-party code: a file named test.py,
test_*.py or *_test.py, or anything under a folder named test, tests, idle_test,
site-packages or dist-packages. Files are read as UTF-8 (the stdlib's source encoding);
one that does not decode is skipped and counted.

Split by file: the SHA-256 of the path relative to the root (POSIX form), read as a number,
modulo 100: below 80 train, below 90 val, else test. A file always lands in the same split,
and no file is in two. Within a split the files are concatenated in the order of that hash
(a fixed shuffle) and the text is cut at the split's character cap.

Encoding: characters, with the CharTokenizer fitted on the training text's characters that
occur at least `min_count` times; rarer or unseen ones encode as <unk> (its "replace" policy).

Line completion, the held-out metric: a line of a test file with 10 to 60 characters of
code is cut in the middle of its code (after the indentation); the prompt is the `context`
characters of the file before the cut, the target is the rest of the line. A completion is
an exact match when the model's next len(target) + 1 characters are the target followed by
the newline that ends the line.

Demos: the seed's five prompts (DEMOS), each judged on the line it completes (demo_checks).
"""
from __future__ import annotations

import hashlib
import os
import sysconfig
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..autograd.tokenizer import CharTokenizer

TEST_FOLDERS = {"test", "tests", "idle_test", "site-packages", "dist-packages"}
SPLIT_PERCENT = {"train": 80, "val": 10, "test": 10}


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def is_test_file(relative: PurePosixPath) -> bool:
    name = relative.name
    return (name == "test.py" or name.startswith("test_") or name.endswith("_test.py")
            or any(part in TEST_FOLDERS for part in relative.parts[:-1]))


def split_of(relative: PurePosixPath) -> tuple[str, int]:
    """(split, hash): the split a file belongs to, and the number that orders files within it."""
    h = int.from_bytes(hashlib.sha256(str(relative).encode()).digest()[:8], "big")
    bucket, edge = h % 100, 0
    for split, percent in SPLIT_PERCENT.items():
        edge += percent
        if bucket < edge:
            return split, h
    raise AssertionError("SPLIT_PERCENT must sum to 100")


@dataclass
class CodeCorpus:
    root: str
    texts: dict[str, str]  # split -> concatenated source, cut at its cap
    files: dict[str, list[str]]  # split -> relative paths, in order (the last may be cut)
    file_texts: dict[str, list[str]] = field(repr=False)  # split -> each file's (kept) text
    skipped: int = 0  # files that did not decode as UTF-8

    def tokenizer(self, min_count: int = 20) -> CharTokenizer:
        counts = Counter(self.texts["train"])
        return CharTokenizer("".join(sorted(c for c, n in counts.items() if n >= min_count)))

    def summary(self) -> dict:
        return {"root": self.root, "skipped": self.skipped,
                **{f"{s}_files": len(f) for s, f in self.files.items()},
                **{f"{s}_chars": len(t) for s, t in self.texts.items()}}


def load_corpus(root: str | Path | None = None, caps: dict[str, int] | None = None) -> CodeCorpus:
    """The split corpus under `root` (the stdlib by default); caps: split -> max characters."""
    root = Path(root) if root is not None else stdlib_root()
    caps = caps or {}
    ordered: dict[str, list[tuple[int, PurePosixPath, Path]]] = {s: [] for s in SPLIT_PERCENT}
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in TEST_FOLDERS]  # skip, not just filter: site-packages is big
        for name in (n for n in names if n.endswith(".py")):
            path = Path(folder) / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if not is_test_file(relative):
                split, h = split_of(relative)
                ordered[split].append((h, relative, path))
    corpus = CodeCorpus(str(root), {}, {}, {})
    for split, entries in ordered.items():
        cap, kept, names, used = caps.get(split), [], [], 0
        for _, relative, path in sorted(entries):
            if cap is not None and used >= cap:
                break
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                corpus.skipped += 1
                continue
            text = text if cap is None else text[: cap - used]
            kept.append(text)
            names.append(str(relative))
            used += len(text)
        corpus.texts[split], corpus.files[split], corpus.file_texts[split] = "".join(kept), names, kept
    return corpus


@dataclass(frozen=True)
class LineCompletion:
    prompt: str  # the `context` characters before the cut
    target: str  # the rest of the line, without its newline


def line_completions(file_texts: list[str], n: int, context: int, seed: int = 0,
                     min_code: int = 10, max_line: int = 60) -> list[LineCompletion]:
    """n held-out lines cut in the middle of their code (see the module docstring), drawn
    without replacement by a generator seeded with `seed`, in corpus order."""
    candidates = []
    for text in file_texts:
        start = 0
        for line in text.splitlines(keepends=True):
            code = line.rstrip("\n").lstrip(" ")
            indent = len(line) - len(line.lstrip(" "))
            cut = start + indent + len(code) // 2
            if line.endswith("\n") and min_code <= len(code) and len(line) - 1 <= max_line and cut >= context:
                candidates.append(LineCompletion(text[cut - context : cut], text[cut : start + len(line) - 1]))
            start += len(line)
    if len(candidates) < n:
        raise ValueError(f"only {len(candidates)} candidate lines for {n} line completions; raise the test cap")
    picked = np.sort(np.random.default_rng(seed).choice(len(candidates), n, replace=False))
    return [candidates[i] for i in picked]


def completion_scores(generated: str, target: str) -> tuple[bool, float]:
    """(exact, prefix): whether `generated` starts with target + newline, and the fraction of
    the target's characters reproduced before the first wrong one."""
    expected = target + "\n"
    same = next((i for i, (a, b) in enumerate(zip(generated, expected)) if a != b), min(len(generated), len(expected)))
    return generated.startswith(expected), min(same, len(target)) / max(len(target), 1)


# The seed's five demo prompts (TinyTorch's Copilot demo), each completed to the end of its line.
DEMOS = ("def subtract(a, b):\n    return a", "for i in range(", "if x > 0:\n    print(",
         "squares = [x**2 for x in ", "def multiply(x, y):\n    return x")


def demo_checks(prompt: str, generated: str) -> dict:
    """How a demo completion fares: `line` (the generated rest of the prompt's line);
    `nonempty` (the seed's test: the line is not blank); `valid` (the line is closed by a
    newline and prompt + line compile, with a `pass` body added after a trailing colon);
    `repetitive` (the last 12 generated characters repeat with a period of 1 to 4)."""
    line, closed = generated.split("\n", 1)[0], "\n" in generated
    source = prompt + line
    if source.rstrip().endswith(":"):
        last = source.rsplit("\n", 1)[-1]
        source += "\n" + " " * (len(last) - len(last.lstrip(" ")) + 4) + "pass"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an odd escape in a string literal is still valid code
            compile(source, "<demo>", "exec")
        compiles = True
    except (SyntaxError, ValueError):
        compiles = False
    tail = generated[-12:]
    repetitive = len(tail) == 12 and any(all(tail[i] == tail[i + p] for i in range(12 - p)) for p in range(1, 5))
    return {"line": line, "nonempty": bool(line.strip()), "valid": bool(line.strip()) and closed and compiles,
            "repetitive": repetitive}
