"""A character GPT on Shakespeare and on stdlib Python."""
