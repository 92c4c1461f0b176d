"""The lab: the registry studies declare themselves in (registry.py), the runner and its
backends (runner.py, backends.py), and the report site with each study's own tables (report.py)."""
