"""Source document 004: studies on the numpy engine."""
