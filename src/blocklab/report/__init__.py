"""Results, statistics, figures and the HTML report with its claims ledger.

results.py  the results.json schema (load, validate, save)
stats.py    mean and 95% confidence interval over seeds
verdicts.py measurements of claims and the rule that gives their verdicts
claims.py   the claims list and the ledger that joins it with measurements
plots.py    shared matplotlib helpers
tables.py   tables a study adds to its report page
html.py     the static site
"""
