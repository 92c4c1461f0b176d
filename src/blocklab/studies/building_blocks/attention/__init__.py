"""Study 47: attention learns to focus (study.py, figures.py)."""
