from lab.tiny_study import tiny  # noqa: F401  (the fixture that registers the test study)
