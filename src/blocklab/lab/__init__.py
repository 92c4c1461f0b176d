"""The lab: the registry studies declare themselves in, the runner and its backends."""
