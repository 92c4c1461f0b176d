"""Source document 002: positional encodings trained short, tested long."""
