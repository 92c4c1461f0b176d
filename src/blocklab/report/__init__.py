"""Results, statistics, figures and the HTML report with its claims ledger.

results.py       the results.json schema (load, validate, save)
scales.py        what a metric can be: its range and unit
stats.py         mean and 95% interval over seeds (bootstrap or Student's t), inside the range
significance.py  p-values of verdicts, Holm's correction, the effect a number of seeds can detect
verdicts.py      measurements of claims and the rules that give their verdicts
claims.py        the claims list and the ledger that joins it with measurements
findings.py      the README's generated block: each study's finding, the ledger's counts, the commits
plots.py         shared matplotlib helpers
tables.py        tables a study adds to its report page
html.py          the static site
"""
