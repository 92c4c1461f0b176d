"""Pieces several studies share: loss functions, a vector network, evaluation, figure helpers."""
