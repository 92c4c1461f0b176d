"""Source document 004's Copilot: character-level Python autocomplete (study.py, analysis.py)."""
