"""Studies: each an experiment from the source documents, run by `blocklab run NAME`.

blocklab.lab.registry says how to write one (start there); blocklab.lab.runner runs it into a
folder with results.json, metrics.jsonl and figures/. A study is one module, or one package
with fixed role names (config.py, study.py, model.py, figures.py, tables.py, claims.py);
common/ holds what several studies share. catalogue.py lists every study, in the order
`blocklab list` and `blocklab run all` use: the order of the source documents.
"""
