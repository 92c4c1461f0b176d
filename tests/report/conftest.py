import pytest

from blocklab.lab.runner import run_study
from lab.tiny_study import register_tiny, tiny  # noqa: F401  (tiny: the fixture that registers the test study)


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory):
    """A quick run (3 seeds) and a full one (2 seeds) of the test study, with figures, made once."""
    root = tmp_path_factory.mktemp("report") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        register_tiny(mp, draw=True)
        run_study("tiny", seeds=3, quick=True, out=root / "tiny-quick")
        run_study("tiny", seeds=2, out=root / "tiny")
    return root
