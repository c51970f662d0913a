"""Precision and recall in production, from officers' decisions (issue 16, point 5).

Officers only see what the model flags, so their decisions on flagged items measure its
precision; its recall needs the exploration sample, a share ``TUTORWATCH_SAMPLE_RATE`` of the
ads below the threshold queued with ``ReviewItem.sample`` set. Figures are given per source and
per month (of the ad's first-seen date, local time), per source over all months, and overall.

Which decisions count: an item's standing status (a reversal replaces the decision it
reverses); items merged into a copy's item and ``duplicate`` dismissals are left out, and so are
their ads from the counts of flagged and unflagged ads.

**Precision** of flags = (confirmed + escalated) ÷ decided flagged items, with a 95% exact
interval (see ``exact_share``). The flagged items of a cell are a finite population: once all
are decided the precision is exact, and the interval narrows to it.

**Recall** (estimated) = F ÷ (F + M), where F = precision × flagged items is the estimated
number of violations among the flagged ads and M = v/n × U the estimated number among the U
unflagged ads, from v violations among the n decided samples (the ratio estimator; with every
sample decided n ≈ rate × U, so M ≈ v ÷ rate: the violations found, scaled by the sampling
rate). The interval: recall is increasing in the precision and decreasing in the violation
share of unflagged ads, so its bounds are recall(precision low, share high) and recall(precision
high, share low), each proportion's interval at 97.5%. Both hold together with probability at
least 95% (Bonferroni), and then the recall lies between the bounds: a 95% interval,
conservative (it is usually wider than it needs to be). When every flagged item and every
unflagged ad is decided (sample rate 1), it is exact. No decided sample, or flagged ads of which
none is decided: not enough data.

Both intervals are exact (see ``exact_share``), not Wilson's (``wilson``, kept for comparison).
The violations among unflagged ads are few, so their share is near 0 and a source's sample holds
only a handful of them; the false flags are few too, so the precision is near 1. There Wilson's
bound on the side of the nearer end (the share's lower, the precision's upper) sits too close to
the observed proportion: its one-sided miss rate is several times the nominal one (Brown, Cai &
DasGupta 2001, Statistical Science 16:101, §4.1.1, who replace it there by the Poisson bound),
and both those bounds make the recall's upper bound. ``benchmarks/recall_estimate.py`` found
every miss of the old recall interval on that side, with 2–6 violations among 17–54 samples,
and the precision interval's misses mid-review all above it; docs/benchmarks.md has the figures
before and after.

U and n are counted in the store, so the estimate needs no sampling rate, only that every
unflagged ad of a cell had the same chance of being sampled; a rate changed within a month
breaks that (the rate each sample was drawn with is not stored yet). Pooled rows (a source's
months, all sources) add the counts of their cells, which assumes the same share sampled and
decided throughout. ``TUTORWATCH_SAMPLE_RATE`` is reported beside the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from review_ui.models import Ad, ReviewItem

S = ReviewItem.Status
CONFIDENCE = 0.95
# Items that stand for no ad of their own: merged into a copy's item, or dismissed as a copy.
EXCLUDED = Q(status=S.MERGED) | Q(status=S.DISMISSED, reason="duplicate")
VIOLATION = Q(status__in=[S.CONFIRMED, S.ESCALATED])
DECIDED = Q(status__in=[S.CONFIRMED, S.ESCALATED, S.DISMISSED])


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low - 1e-12 <= value <= self.high + 1e-12


def wilson(successes: int, n: int, confidence: float = CONFIDENCE,
           population: int | None = None) -> Interval | None:
    """Wilson's score interval for a proportion of ``successes`` in ``n`` (None for n = 0).

    With ``population`` (the size N the n were drawn from without replacement), z² is scaled by
    the finite population correction (N − n) ÷ (N − 1), so the interval narrows to the observed
    proportion when n = N."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}); got {successes}")
    z2 = NormalDist().inv_cdf(1 - (1 - confidence) / 2) ** 2
    if population is not None:
        if population < n:
            raise ValueError(f"population ({population}) is smaller than the sample ({n})")
        z2 *= (population - n) / (population - 1) if population > 1 else 0.0
    p = successes / n
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = math.sqrt(z2 * p * (1 - p) / n + z2 * z2 / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def exact_share(successes: int, n: int, confidence: float = CONFIDENCE,
                population: int | None = None) -> Interval | None:
    """An exact interval for a proportion of ``successes`` in ``n`` (None for n = 0): each end
    misses with probability at most (1 − confidence) ÷ 2 whatever the proportion, which no
    normal-approximation interval promises at small counts.

    With ``population`` N (the n drawn from it without replacement), it inverts the
    hypergeometric test on the population's count of successes K: from the smallest K with
    P(X ≥ successes) > α/2 to the largest with P(X ≤ successes) > α/2, each divided by N. It
    narrows to the observed proportion when n = N, and is a little narrower than the binomial
    one when n is a fair share of N — the finite population correction, exactly. Without it,
    Clopper–Pearson's interval from the beta quantiles."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}); got {successes}")
    tail = (1 - confidence) / 2
    if population is None:
        from scipy.stats import beta  # imported here: the dashboard alone needs it

        low = beta.ppf(tail, successes, n - successes + 1) if successes else 0.0
        high = beta.ppf(1 - tail, successes + 1, n - successes) if successes < n else 1.0
        return Interval(float(low), float(high))
    if population < n:
        raise ValueError(f"population ({population}) is smaller than the sample ({n})")
    from scipy.stats import hypergeom

    def above(k: int) -> float:  # P(X >= successes) with k successes in the population
        return hypergeom.sf(successes - 1, population, k, n)

    def below(k: int) -> float:  # P(X <= successes)
        return hypergeom.cdf(successes, population, k, n)

    least, most = successes, population - (n - successes)  # the counts the sample allows
    low = _first(least, most, lambda k: above(k) > tail)
    high = _first(least, most, lambda k: below(k) <= tail) - 1
    return Interval(low / population, high / population)


def _first(start: int, stop: int, test) -> int:
    """The least k in [start, stop] for which ``test`` holds, ``test`` being false then true
    as k grows; stop + 1 when it never holds (a bisection: populations run to millions)."""
    lo, hi = start, stop + 1
    while lo < hi:
        middle = (lo + hi) // 2
        if test(middle):
            hi = middle
        else:
            lo = middle + 1
    return lo


def _recall(flagged_violations: float, missed: float) -> float | None:
    total = flagged_violations + missed
    return flagged_violations / total if total > 0 else None


@dataclass
class Cell:
    """The counts behind one row, and the figures computed from them."""

    source: str = ""
    month: date | None = None
    flagged: int = 0  # flagged items (not samples)
    decided: int = 0  # of which decided
    violations: int = 0  # of which confirmed or escalated
    unflagged: int = 0  # ads below the threshold
    samples: int = 0  # of which queued as samples
    samples_decided: int = 0
    samples_violations: int = 0
    rate: float = 0.0
    precision: float | None = field(init=False, default=None)
    precision_interval: Interval | None = field(init=False, default=None)
    recall: float | None = field(init=False, default=None)
    recall_interval: Interval | None = field(init=False, default=None)

    @property
    def undecided(self) -> int:
        return self.flagged - self.decided

    @property
    def missed(self) -> float | None:
        """Estimated violations among the unflagged ads."""
        if self.unflagged == 0:
            return 0.0
        if not self.samples_decided:
            return None
        return self.samples_violations / self.samples_decided * self.unflagged

    def add(self, other: Cell) -> None:
        for name in ("flagged", "decided", "violations", "unflagged", "samples",
                     "samples_decided", "samples_violations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def compute(self) -> Cell:
        if self.decided:
            self.precision = self.violations / self.decided
            self.precision_interval = exact_share(self.violations, self.decided, CONFIDENCE,
                                                  self.flagged)
        self.recall = self.recall_interval = None
        if self.flagged and not self.decided:
            return self
        missed = self.missed
        if missed is None:
            return self
        found = self.precision * self.flagged if self.flagged else 0.0
        self.recall = _recall(found, missed)
        if self.recall is None:
            return self  # no violation at all: recall has no meaning
        each = 1 - (1 - CONFIDENCE) / 2  # Bonferroni: both proportions at 97.5%
        precision = (exact_share(self.violations, self.decided, each, self.flagged)
                     if self.flagged else Interval(0.0, 0.0))
        share = (exact_share(self.samples_violations, self.samples_decided, each,
                             self.unflagged) if self.unflagged else Interval(0.0, 0.0))
        low = _recall(precision.low * self.flagged, share.high * self.unflagged)
        high = _recall(precision.high * self.flagged, share.low * self.unflagged)
        self.recall_interval = Interval(0.0 if low is None else low,
                                        1.0 if high is None else high)
        return self


@dataclass
class SourceEstimates:
    source: str
    months: list[Cell]
    total: Cell


@dataclass
class Estimates:
    sources: list[SourceEstimates]
    total: Cell
    rate: float


def _key(source: str, month) -> tuple[str, date | None]:
    if month is not None and hasattr(month, "date"):
        month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
    return source, month


def build(rate: float | None = None, months: int | None = None) -> Estimates:
    """The figures over the whole store (``months``: only the latest that many months)."""
    rate = settings.TUTORWATCH_SAMPLE_RATE if rate is None else rate
    zone = timezone.get_current_timezone()
    cells: dict[tuple[str, date | None], Cell] = {}

    def cell(key: tuple[str, date | None]) -> Cell:
        if key not in cells:
            cells[key] = Cell(source=key[0], month=key[1], rate=rate)
        return cells[key]

    items = (ReviewItem.objects.exclude(EXCLUDED)
             .annotate(month=TruncMonth("ad__first_seen_at", tzinfo=zone))
             .values("ad__source__name", "month", "sample")
             .annotate(n=Count("id"), decided=Count("id", filter=DECIDED),
                       violations=Count("id", filter=VIOLATION)).order_by())
    for entry in items:
        target = cell(_key(entry["ad__source__name"], entry["month"]))
        if entry["sample"]:
            target.samples += entry["n"]
            target.samples_decided += entry["decided"]
            target.samples_violations += entry["violations"]
        else:
            target.flagged += entry["n"]
            target.decided += entry["decided"]
            target.violations += entry["violations"]

    # Unflagged: scored below the threshold and with no flagged item (a copy of a flagged ad
    # is covered by its group's item), or queued as a sample; not a copy dismissed as such.
    unflagged = (Ad.objects.filter(Q(verdict__label=False) | Q(review_item__sample=True))
                 .exclude(review_item__sample=False)
                 .exclude(pk__in=ReviewItem.objects.filter(EXCLUDED).values("ad_id"))
                 .annotate(month=TruncMonth("first_seen_at", tzinfo=zone))
                 .values("source__name", "month").annotate(n=Count("id")).order_by())
    for entry in unflagged:
        cell(_key(entry["source__name"], entry["month"])).unflagged += entry["n"]

    by_source: dict[str, list[Cell]] = {}
    for key in sorted(cells, key=lambda k: (k[0], k[1] or date.min)):
        by_source.setdefault(key[0], []).append(cells[key])
    total = Cell(source="", rate=rate)
    out = []
    for name, rows in by_source.items():
        pooled = Cell(source=name, rate=rate)
        for row in rows:
            pooled.add(row)
            row.compute()
        total.add(pooled)
        shown = rows[-months:] if months else rows
        out.append(SourceEstimates(name, list(reversed(shown)), pooled.compute()))
    return Estimates(out, total.compute(), rate)
