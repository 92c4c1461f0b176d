"""A figure's caption says what it plots and which of the run's seeds it shows: their mean (with 95% bands where
the figure draws them), the lowest seed alone, each seed on its own, or, for a figure that does not depend on the
seed, nothing about seeds."""
from __future__ import annotations

import pytest

from blocklab.errors import ConfigError
from blocklab.report.gallery import BANDS, Caption, caption


@pytest.mark.parametrize("given, seeds, expected", [
    ("Loss per step", [0, 1, 2], f"Loss per step. Mean over 3 seeds; {BANDS}."),  # a plain string: the mean, banded
    (Caption("Accuracy grid.", bands=False), [0, 1], "Accuracy grid. Mean over 2 seeds."),
    (Caption("Heads on one input", seeds="first"), [3, 4, 5], "Heads on one input. Seed 3 of the run's 3 seeds; "
                                                              "no band."),
    (Caption("Every run", seeds="each"), [0], "Every run. Each of the run's 1 seed drawn on its own; no band."),
    (Caption("Every run, and bars over them pooled", seeds="each", bands=True), [0, 1],
     f"Every run, and bars over them pooled. Each of the run's 2 seeds drawn on its own; {BANDS}."),
    (Caption("Pattern (one seed) and bars (all seeds)", seeds="mixed"), [1, 2],
     f"Pattern (one seed) and bars (all seeds). Panels of one seed: seed 1 of the run's 2 seeds; the others: mean "
     f"over 2 seeds; {BANDS}."),
    (Caption("Parameter counts", seeds="none"), [0, 1], "Parameter counts."),
])
def test_caption_says_which_seeds_the_figure_shows(given, seeds, expected):
    assert caption("fig.png", seeds, {"fig.png": given}) == expected


def test_a_glob_key_captions_names_it_matches_and_an_uncaptioned_figure_gets_its_name():
    captions = {"attention_*.png": Caption("Heads", seeds="first")}
    assert caption("attention_1_plus_2.png", [0, 1], captions) == "Heads. Seed 0 of the run's 2 seeds; no band."
    assert caption("47_attention_scaling.png", [0], captions) == f"Attention scaling. Mean over 1 seed; {BANDS}."


@pytest.mark.parametrize("kwargs, words", [
    ({"seeds": "first", "bands": True}, "Caption.bands=True is not valid with seeds='first'"),
    ({"seeds": "none", "bands": True}, "Caption.bands=True is not valid with seeds='none'"),
    ({"seeds": "median"}, "Caption.seeds='median' is not valid"),
])
def test_a_caption_that_cannot_be_true_is_refused(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        Caption("x", **kwargs)
