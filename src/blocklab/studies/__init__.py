"""Studies: each an experiment from the seeds, run by `blocklab run NAME`.

registry.py says how to write one (start there); runner.py runs it into a folder with
results.json, metrics.jsonl and figures/. Every other module here is a study and
registers itself when imported.
"""
