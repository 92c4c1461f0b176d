"""CLI command groups that live beside cli.py, each registered there with cli.add_command."""
