"""Measurements of the seeds' claims and the rule that turns them into verdicts.

A study measures a claim over seeds and states, before looking, which values would
confirm it: an acceptance region such as "within ±5 points of 39.5" or "at least 80".
The verdict then follows from the 95% confidence interval of the mean over seeds:

- confirmed: the whole interval lies inside the region;
- refuted: the whole interval lies outside it;
- inconclusive: the interval straddles an edge of the region, or there are fewer than
  two finite values (no interval), so more seeds or a sharper experiment are needed;
- ill-posed: the claim cannot be measured as stated; the measurement gives the reason.

A claim measured in parts (C000-08 names ten losses) takes, of its parts' verdicts, the
first of refuted, inconclusive, ill-posed, confirmed: one refuted part refutes the claim.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .stats import Interval, mean_ci

VERDICTS = ("confirmed", "refuted", "inconclusive", "ill-posed")
PRECEDENCE = ("refuted", "inconclusive", "ill-posed", "confirmed")

GENERAL_RULE = (
    "Each measured claim states an acceptance region for its quantity before the run. "
    "Over the seeds, blocklab takes the mean and its 95% confidence interval (Student's t, n-1 degrees "
    "of freedom). Confirmed: the whole interval lies inside the region. Refuted: the whole interval lies "
    "outside it. Inconclusive: the interval straddles an edge of the region, or fewer than two seeds gave "
    "a finite value. Ill-posed: the claim cannot be measured as stated (the reason is given). A claim "
    "measured in parts takes the first of refuted, inconclusive, ill-posed, confirmed among its parts."
)


def _num(x: float, unit: str) -> str:
    text = f"{x:g}"
    return f"{text}{'' if unit in ('', '%') else ' '}{unit}"


@dataclass(frozen=True)
class Rule:
    """An acceptance region [low, high] (None: unbounded on that side)."""

    low: float | None
    high: float | None
    centered: bool = False  # say "within ±tol of target" rather than "between low and high"

    def verdict(self, ci: Interval) -> str:
        if ci.low is None or ci.high is None:
            return "inconclusive"
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if low <= ci.low and ci.high <= high:
            return "confirmed"
        if ci.high < low or ci.low > high:
            return "refuted"
        return "inconclusive"

    def sentence(self, unit: str = "") -> str:
        if self.low is not None and self.high is not None:
            if self.centered:
                region = f"within ±{_num((self.high - self.low) / 2, unit)} of {_num((self.high + self.low) / 2, unit)}"
            else:
                region = f"between {_num(self.low, unit)} and {_num(self.high, unit)}"
        elif self.low is not None:
            region = f"at or above {_num(self.low, unit)}"
        else:
            region = f"at or below {_num(self.high, unit)}"
        return f"confirmed if the 95% CI lies {region}, refuted if it lies wholly outside"


def around(target: float, tol: float) -> Rule:
    """Within ±tol of target: for a claim that names one number ("39.5%")."""
    return Rule(target - tol, target + tol, centered=True)


def between(low: float, high: float) -> Rule:
    """Inside [low, high]: for a claim that names a range ("~80-90%")."""
    return Rule(low, high)


def at_least(x: float) -> Rule:
    """For a claim of a floor ("exceeds 80%")."""
    return Rule(x, None)


def at_most(x: float) -> Rule:
    """For a claim of a ceiling ("< 1% loss")."""
    return Rule(None, x)


@dataclass
class Measurement:
    """One claim (or one part of it) measured over seeds.

    `values` holds one number per seed (NaN where a seed gave none, e.g. it diverged), in
    `unit` ("%", "loss"); `seed_value` is the seed's own figure, as text ("~50% (chance)");
    `rule` is one of `around`, `between`, `at_least`, `at_most`, in the same unit. Use `ill_posed` for a claim that cannot be
    measured. The runner fills `command`.
    """

    claim_id: str
    seed_value: str
    values: list[float]
    unit: str
    rule: Rule | None
    part: str = ""  # which part of a multi-part claim ("bottleneck 2, test loss")
    note: str = ""  # what exactly was measured, or why the claim is ill-posed
    command: str = ""
    interval: Interval = field(init=False)
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        self.values = [float(v) for v in self.values]
        self.interval = mean_ci(self.values)
        self.verdict = "ill-posed" if self.rule is None else self.rule.verdict(self.interval)

    def to_dict(self) -> dict:
        return {
            "claim_id": self.claim_id,
            "part": self.part,
            "seed_value": self.seed_value,
            "values": self.values,
            "unit": self.unit,
            **self.interval.to_dict(),
            "rule": "" if self.rule is None else self.rule.sentence(self.unit),
            "verdict": self.verdict,
            "note": self.note,
            "command": self.command,
        }


def ill_posed(claim_id: str, seed_value: str, reason: str, part: str = "") -> Measurement:
    """A claim that cannot be measured as stated; `reason` says why."""
    return Measurement(claim_id, seed_value, [], "", None, part=part, note=reason)


def combine(verdicts: list[str]) -> str:
    """The verdict of a claim measured in parts (see the module docstring)."""
    return next(v for v in PRECEDENCE if v in verdicts)
