"""Measurements of the source documents' claims and the rules that turn them into verdicts.

A study measures a claim over seeds and states, before looking, which values would
confirm it: an acceptance region such as "within ±5 points of 39.5" or "at least 80".
The verdict of a part then follows from the 95% interval of the mean over seeds
(stats.py: a bootstrap by default, which stays inside the metric's range) and Student's t
test against the region's edges (significance.py), which must agree:

- confirmed: the whole interval lies inside the region, and t's p_confirm <= 0.05;
- refuted: the whole interval lies outside it, and t's p_refute <= 0.05;
- inconclusive: otherwise (the interval straddles an edge, the two disagree, or fewer
  than two seeds gave a finite value), so more seeds or a sharper experiment are needed;
- ill-posed: the claim cannot be measured as stated; the measurement gives the reason.

Why both: the bootstrap interval cannot leave what the metric can be, but with 5 or 6 seeds
it is a little narrow: on stored results (tests/report/test_aa.py, 53 metrics, 200 splits
each of 12 seeds into two halves of 6) it alone calls the halves of one configuration
different 7.0% of the time at a nominal 5%, t 4.1%, the two together 3.9%. With
method="t" the interval is t's own and the test adds nothing.

Each part carries its p-value, the smallest effect its seeds could have detected and,
where it is inconclusive, how many seeds would settle it (significance.py).

A claim measured in parts (C000-08 names ten losses) is a conjunction: it holds only if
every part does. Its verdict (`combine`):

- the parts' common verdict when they all agree;
- mixed: some parts confirmed and some refuted (each part's verdict is shown);
- refuted: some parts refuted, none confirmed (the rest inconclusive or ill-posed);
- inconclusive: some parts confirmed, others inconclusive (a conjunction is not yet shown);
- ill-posed: the parts that are not ill-posed are confirmed, or no part could be measured.

Provisional (`claim_verdict`): a verdict from a --quick run, or from fewer seeds than the
claim needs (a measurement's `min_seeds`, 5 unless it says otherwise), is shown as
provisional, with the verdict it would be and the reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .scales import UNBOUNDED, Scale
from .significance import ALPHA, detectable_effect, region_p_values, seeds_to_detect
from .stats import Interval, mean_ci

PART_VERDICTS = ("confirmed", "refuted", "inconclusive", "ill-posed")
VERDICTS = ("confirmed", "refuted", "mixed", "inconclusive", "ill-posed", "provisional")
MIN_SEEDS = 5

GENERAL_RULE = (
    "Each measured claim states an acceptance region for its quantity before the run. Over the seeds, "
    "blocklab takes the mean and its 95% interval: a bootstrap of 10,000 resamples, with percentiles "
    "widened for few seeds, which never leaves the range the metric can take. Confirmed: the whole interval "
    "lies inside the region and Student's t test agrees (p at most 0.05). Refuted: the whole interval lies "
    "outside it and the t test agrees. Inconclusive: the interval straddles an edge of the region, the two "
    "disagree, or fewer than two seeds gave a finite value. Ill-posed: the claim "
    "cannot be measured as stated (the reason is given). A claim measured in parts is mixed when some parts "
    "are confirmed and others refuted, refuted when parts are refuted and none confirmed, and inconclusive "
    "when parts are confirmed and others unsettled. Provisional: the run used --quick, or fewer seeds than the "
    "claim needs (5 unless stated). Each part's verdict also shows whether it holds "
    "after Holm-Bonferroni's correction over every measured part of the ledger (family-wise 5%)."
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

    def verdict(self, ci: Interval, p_values: tuple[float, float] | None = None) -> str:
        """From the interval and, when given, t's (p_confirm, p_refute), which must agree at ALPHA."""
        if ci.low is None or ci.high is None:
            return "inconclusive"
        p_confirm, p_refute = p_values or (0.0, 0.0)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if low <= ci.low and ci.high <= high and p_confirm <= ALPHA:
            return "confirmed"
        if (ci.high < low or ci.low > high) and p_refute <= ALPHA:
            return "refuted"
        return "inconclusive"

    def distance(self, x: float, scale: Scale = UNBOUNDED) -> float:
        """How far x lies from the nearest edge of the region that the scale does not make moot."""
        edges = [e for e in (self.low, self.high) if e is not None and scale.low < e < scale.high]
        return min((abs(x - e) for e in edges), default=math.inf)

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
    `unit` ("%", "loss"); `seed_value` is the source document's own figure, as text ("~50% (chance)");
    `rule` is one of `around`, `between`, `at_least`, `at_most`, in the same unit. Use `ill_posed` for a
    claim that cannot be measured. `scale` is the range the values can take (PERCENT for an accuracy,
    PERCENT.difference() for a gap in points); unbounded unless given, which is safe for the bootstrap
    (its interval stays within the values) but lets a "t" interval spill. `method` is the interval's
    (stats.METHODS). `min_seeds` is how many seeds the claim needs before its verdict stops being
    provisional (1 for a quantity that no seed changes, such as a parameter count). The runner fills `command`.
    """

    claim_id: str
    seed_value: str
    values: list[float]
    unit: str
    rule: Rule | None
    part: str = ""  # which part of a multi-part claim ("bottleneck 2, test loss")
    note: str = ""  # what exactly was measured, or why the claim is ill-posed
    command: str = ""
    scale: Scale | None = None
    method: str = "bootstrap"
    min_seeds: int = MIN_SEEDS
    interval: Interval = field(init=False)
    verdict: str = field(init=False)
    p_value: float | None = field(init=False)  # for the verdict reached (significance.py)
    detectable: float | None = field(init=False)  # smallest distance from the region's edge these seeds detect
    seeds_needed: int | None = field(init=False)  # inconclusive: seeds that would detect the observed distance

    def __post_init__(self) -> None:
        if self.min_seeds < 1:
            raise ValueError(f"{self.claim_id}: min_seeds must be at least 1, got {self.min_seeds}")
        self.values = [math.nan if v is None else float(v) for v in self.values]  # null: a non-finite value
        scale = self.scale or Scale(self.unit)
        self.interval = mean_ci(self.values, scale, self.method)
        p_values = None if self.rule is None else region_p_values(self.values, self.rule.low, self.rule.high, scale)
        self.verdict = "ill-posed" if self.rule is None else self.rule.verdict(self.interval, p_values)
        self.p_value = self.detectable = self.seeds_needed = None
        if p_values is None:
            return
        p_confirm, p_refute = p_values
        self.p_value = {"confirmed": p_confirm, "refuted": p_refute}.get(self.verdict, min(p_confirm, p_refute))
        self.detectable = detectable_effect(self.values)
        if self.verdict == "inconclusive":
            self.seeds_needed = seeds_to_detect(self.values, self.rule.distance(self.interval.mean, scale))

    def to_dict(self) -> dict:
        return {
            "claim_id": self.claim_id,
            "part": self.part,
            "seed_value": self.seed_value,
            "values": self.values,
            "unit": self.unit,
            **self.interval.to_dict(),
            "method": self.interval.method,
            "scale": (self.scale or Scale(self.unit)).to_dict(),
            "rule": "" if self.rule is None else self.rule.sentence(self.unit),
            "region": None if self.rule is None else [self.rule.low, self.rule.high],
            "verdict": self.verdict,
            "p_value": self.p_value,
            "detectable": self.detectable,
            "seeds_needed": self.seeds_needed,
            "min_seeds": self.min_seeds,
            "note": self.note,
            "command": self.command,
        }


def ill_posed(claim_id: str, seed_value: str, reason: str, part: str = "") -> Measurement:
    """A claim that cannot be measured as stated; `reason` says why."""
    return Measurement(claim_id, seed_value, [], "", None, part=part, note=reason)


def combine(verdicts: list[str]) -> str:
    """The verdict of a claim from its parts' (see the module docstring)."""
    kinds = set(verdicts)
    if len(kinds) == 1:
        return verdicts[0]
    if {"confirmed", "refuted"} <= kinds:
        return "mixed"
    if "refuted" in kinds:
        return "refuted"
    return "inconclusive" if "inconclusive" in kinds else "ill-posed"


def provisional_reason(part: dict) -> str:
    """Why a measured part (a Measurement dict with the ledger's "quick" and "seeds" keys) is provisional; "" if not."""
    if part.get("quick"):
        return "from a --quick run"
    seeds, needed = part.get("seeds"), part.get("min_seeds", MIN_SEEDS)
    if seeds is not None and seeds < needed and part.get("verdict") != "ill-posed":
        return f"{seeds} seed{'s' * (seeds != 1)}, the claim needs {needed}"
    return ""


def claim_verdict(parts: list[dict]) -> dict:
    """A claim's verdict from its measured parts: {"verdict", "would_be", "provisional"}.

    "would_be" is combine() of the parts' verdicts; "verdict" is the same unless a part is
    provisional, then "provisional", with the parts' reasons in "provisional".
    """
    would_be = combine([p["verdict"] for p in parts])
    reasons = list(dict.fromkeys(r for r in map(provisional_reason, parts) if r))
    return {"verdict": "provisional" if reasons else would_be, "would_be": would_be, "provisional": "; ".join(reasons)}
