"""Synthetic tasks: each documents its encoding and can print its first mistakes."""
from .addition import addition
from .base import TaskData
from .operations import operations
from .seq2seq import SequenceTaskData, reverse
from .sequences import copy_first, first_equals_last, first_vs_last, lookup
from .sortedness import sortedness
from .vectors import signals, spirals

__all__ = ["SequenceTaskData", "TaskData", "addition", "copy_first", "first_equals_last", "first_vs_last", "lookup",
           "operations", "reverse", "signals", "sortedness", "spirals"]
