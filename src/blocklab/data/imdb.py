"""A loader for the IMDB movie-review corpus in its `aclImdb` folder format (Maas et al., 2011).

blocklab cannot download it here (no internet beyond the package registries); users who
have it point `read_imdb` at the folder they unpacked:

    aclImdb/train/pos/<id>_<rating>.txt   one review per file, rating 7-10
    aclImdb/train/neg/<id>_<rating>.txt   rating 1-4
    aclImdb/test/pos/..., aclImdb/test/neg/...
    (train/unsup/, the unlabelled reviews, and the .feat/.vocab files are not read)

Each review is read as UTF-8, its "<br />" line breaks become spaces. Labels: 0 neg, 1 pos.
Reviews come in a fixed order: negatives then positives, each by numeric id.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import BlocklabError
from ..io import read_text
from .labelled import LabelledTexts

LABELS = ("neg", "pos")
SPLITS = ("train", "test")
_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def read_imdb(root: str | Path, splits: tuple[str, ...] = SPLITS) -> dict[str, LabelledTexts]:
    """{split: LabelledTexts} from an aclImdb folder; a missing folder or a stray file name is an error."""
    root = Path(root)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise BlocklabError(f"IMDB splits {unknown} are not valid; choose from: {', '.join(SPLITS)}")
    out = {}
    for split in splits:
        texts, labels = [], []
        for label, name in enumerate(LABELS):
            folder = root / split / name
            if not folder.is_dir():
                raise BlocklabError(f"{folder} is not a folder; an aclImdb folder holds train/ and test/, each with "
                                    f"{' and '.join(LABELS)}/ of <id>_<rating>.txt files")
            files = []
            for path in folder.iterdir():
                match = _NAME.match(path.name)
                if match is None:
                    raise BlocklabError(f"{path} is not named <id>_<rating>.txt as aclImdb reviews are")
                files.append((int(match.group(1)), path))
            for _, path in sorted(files):
                texts.append(_BREAK.sub(" ", read_text(path, "IMDB review")).strip())
                labels.append(label)
        out[split] = LabelledTexts(texts, labels, LABELS)
    return out
