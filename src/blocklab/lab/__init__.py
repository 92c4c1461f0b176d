"""The lab: the registry studies declare themselves in (registry.py), the runner and its
backends (runner.py, backends.py), the report site with each study's own tables (report.py), and the
README's generated block of findings and ledger counts (readme.py)."""
