"""Study 45: plain vs residual deep networks (study.py, figures.py)."""
