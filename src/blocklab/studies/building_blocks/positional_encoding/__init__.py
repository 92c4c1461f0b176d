"""Study 49: positional encodings (study.py, figures.py)."""
