"""Study 46: no norm vs BatchNorm, LayerNorm, RMSNorm (study.py, figures.py)."""
