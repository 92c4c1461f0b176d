"""Source document 001: epoch-by-epoch training of a 2-block Transformer."""
